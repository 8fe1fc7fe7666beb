"""Upper bounds on every number a user can set, in one place (README: "Limits").

Each bound is far beyond anything pycls builds or trains (its largest RegNet has depth 27 and
widths under 8,000 at 224 px), and low enough that a typo (an extra zero, `.inf`, `.nan`) is a
one-line error naming the key and the bound instead of hours of work or gigabytes of memory.
Keys are the last component of a config key (`model.d` -> `d`) or a CLI option's name (`--boot`
-> `boot`); lists (`ws: [...]`) are bounded element by element. A bounded number is also never
negative (each is a size, count, rate or seed). Torch-free and numpy-free.
"""

import math
from typing import Any

from pycls_like.errors import ConfigError

_DEPTH = 10_000
_WIDTH = 100_000
_KERNEL = 1_024
_COUNT = 1_000_000
_RATIO = 1_000

BOUNDS: dict[str, int] = {
    # model specs (all families)
    **dict.fromkeys(("d", "depth", "ds"), _DEPTH),
    **dict.fromkeys(
        ("w0", "ws", "stem_w", "stem_ws", "head_w", "hidden_d", "mlp_d", "width_per_group"), _WIDTH
    ),
    **dict.fromkeys(("g", "gs", "num_groups", "heads"), _WIDTH),
    **dict.fromkeys(("patch_size", "stem_k", "ks", "stride", "ss", "stem_s", "stem_ss"), _KERNEL),
    "wa": 100_000,
    **dict.fromkeys(("wm", "b", "bs", "exp_rs", "se_ratio"), _RATIO),
    "resolution": 16_384,
    "image_size": 16_384,
    "num_classes": _COUNT,
    # training
    "epochs": 100_000,
    "warmup_epochs": 100_000,
    **dict.fromkeys(("batch_size", "test_batch_size", "ref_batch_size"), _COUNT),
    **dict.fromkeys(("n_train", "n_test"), 100_000_000),
    "lr": 10**18,  # tests force divergence with 1e12
    "wd": 1_000,
    "threads": 4_096,
    "seed": 2**63 - 1,
    # sweeps and launchers
    "n": _COUNT,
    **dict.fromkeys(("workers", "threads_per_worker", "gpus_per_run", "gpus"), 4_096),
    "runs_per_gpu": 1_024,
    "max_concurrent": _COUNT,
    "retries": 1_000,
    "time": 525_600,  # slurm minutes: one year
    "mem_gb": 100_000,
    # sampling and analysis
    "start": 100_000_000,
    "max_candidates": 1_000_000_000,
    "stratify": 10_000,
    "bins": 10_000,
    "boot": 100_000,
    "permutations": 100_000,
    "factor": 1_000_000,
    # profiling
    **dict.fromkeys(("warmup", "repeats"), 100_000),
}
INT_BOUND = 2**63 - 1  # any other integer: what numpy and torch can hold
MAX_TEXT_BYTES = 64 * 2**20  # a YAML/JSON file read whole (specs, configs, run files)


def check_number(value: Any, key: str, bound_of: str | None = None) -> Any:
    """`value` unchanged if it is not a number, or a finite number within the bound of
    `bound_of` (default: the key's last component)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    name = (bound_of or key).rsplit(".", 1)[-1].lstrip("-").replace("-", "_")
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"must be a finite number, got {value!r}", key=key)
    if name in BOUNDS and value < 0:  # every bounded number is a size, count, rate or seed
        raise ConfigError(f"must be >= 0, got {value:g}", key=key)
    bound = BOUNDS.get(name, INT_BOUND if isinstance(value, int) else None)
    if bound is not None and abs(value) > bound:
        shown = f"{value:,}" if abs(value) < 1e15 else f"{float(value):.3g}"
        raise ConfigError(f"must be at most {bound:,} in size, got {shown}", key=key)
    return value


def check_tree(data: Any, prefix: str = "") -> None:
    """Check every number in a loaded mapping (nested mappings and lists), keys named in full."""
    if isinstance(data, dict):
        for key, value in data.items():
            check_tree(value, f"{prefix}{key}" if not prefix else f"{prefix}.{key}")
    elif isinstance(data, list | tuple):
        for item in data:
            check_tree(item, prefix)
    else:
        check_number(data, prefix or "value")


def limits_table() -> str:
    """The bounds as README lines (`python -c 'from pycls_like.limits import *; ...'`)."""
    return "\n".join(f"- `{k}`: {v:,}" for k, v in BOUNDS.items())
