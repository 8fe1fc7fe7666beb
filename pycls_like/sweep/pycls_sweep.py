"""pycls sweep configs (NAME, SETUP.SAMPLERS, SETUP.BASE_CFG, ...) mapped onto native sweeps.

Supported, with pycls semantics (pycls `sweep/samplers.py`, `sweep/random.py`):
  - float_sampler / int_sampler with RAND_TYPE uniform, log_uniform, power2_uniform,
    power2_or_log_uniform; RANGE [lo, hi]; QUANTIZE (int_sampler: integer, default 1)
  - value_sampler with VALUES
  - regnet_sampler on key REGNET: DEPTH, W0, WA, WM, GROUP_W, BOT_MUL ranges (pycls defaults for
    omitted ones); quantization as pycls: d 1, w0 8 (log), wa 0.1 (log), wm 0.001 (log),
    group width 8 (power2_or_log_uniform), bottleneck powers of two
  - sampled keys: any scalar model key of the base MODEL.TYPE (REGNET.DEPTH, REGNET.W0, ...,
    ANYNET.STEM_W, TRAIN.IM_SIZE), OPTIM.BASE_LR, OPTIM.WEIGHT_DECAY, OPTIM.MAX_EPOCH,
    OPTIM.WARMUP_EPOCHS
  - CONSTRAINTS: CX.FLOPS / CX.PARAMS / CX.ACTS bands, REGNET.NUM_STAGES
  - SETUP.NUM_CONFIGS (or NUM_CONFIGS), SETUP.SEED, SETUP.NUM_SAMPLES (the rejection budget),
    NAME, ROOT_DIR, DESC; LAUNCH.MODE / PARTITION / NUM_GPUS / PARALLEL_JOBS / TIME_LIMIT /
    MAX_RETRY / MEM_PER_GPU / CPUS_PER_GPU / GPU_TYPE / COMMENT
Refused with a ConfigError: list_sampler, RAND_TYPE normal / log_normal, samplers on list-valued
keys (ANYNET.DEPTHS, ...), other constraint keys. ANALYZE sections are ignored (analysis is run
by `pycls-like analyze`).
"""

import copy
from typing import Any

from pycls_like.errors import ConfigError
from pycls_like.pycls_cfg import PYCLS_COMMON_KEYS, PYCLS_SPEC_KEYS, pycls_merge

TOP_KEYS = ("NAME", "ROOT_DIR", "DESC", "NUM_CONFIGS", "SETUP", "LAUNCH", "ANALYZE")
SETUP_KEYS = ("NUM_CONFIGS", "NUM_SAMPLES", "SEED", "SAMPLERS", "BASE_CFG", "CONSTRAINTS")
RAND_TYPES = {
    "uniform": "uniform",
    "log_uniform": "log_uniform",
    "power2_uniform": "power2",
    "power2_or_log_uniform": "power2_or_log_uniform",
}
OPTIM_KEYS = {
    "OPTIM.BASE_LR": "lr",
    "OPTIM.WEIGHT_DECAY": "wd",
    "OPTIM.MAX_EPOCH": "epochs",
    "OPTIM.WARMUP_EPOCHS": "warmup_epochs",
}
# regnet_sampler: pycls key -> (spec field, default range, law, quantization, integer field).
# Ranges default to pycls sweep/config.py REGNET_SAMPLER; laws and q follow pycls samplers.py.
REGNET_SAMPLER = {
    "DEPTH": ("d", [12, 28], "uniform", 1, True),
    "W0": ("w0", [8, 256], "log_uniform", 8, True),
    "WA": ("wa", [8.0, 256.0], "log_uniform", 0.1, False),
    "WM": ("wm", [2.0, 3.0], "log_uniform", 0.001, False),
    "GROUP_W": ("g", [1, 128], "power2_or_log_uniform", 8, True),
    "BOT_MUL": ("b", [1.0, 1.0], "power2_uniform", None, False),
}
LAUNCH_KEYS = (
    "MODE",
    "PARTITION",
    "NUM_GPUS",
    "PARALLEL_JOBS",
    "TIME_LIMIT",
    "MAX_RETRY",
    "MEM_PER_GPU",
    "CPUS_PER_GPU",
    "GPU_TYPE",
    "COMMENT",
    "ASSERT_ON_MISSING",
)


def is_pycls_sweep(data: dict[str, Any]) -> bool:
    """pycls sweep files have a SETUP section (and upper-case keys, but for native overrides)."""
    return "SETUP" in data


def _section(data: Any, keys: tuple[str, ...], prefix: str) -> dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError("must be a section (mapping)", key=prefix.rstrip("."))
    for key in data:
        if key not in keys:
            raise ConfigError(
                f"unknown pycls sweep key (known: {', '.join(keys)})", key=f"{prefix}{key}"
            )
    return data


def _range(value: Any, key: str) -> list[float]:
    ok = isinstance(value, list) and len(value) == 2
    if not ok or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
        raise ConfigError(f"RANGE must be [lo, hi], got {value!r}", key=key)
    return list(value)


def _law(rand_type: str, rng: list[float], q: Any, key: str, integer: bool) -> Any:
    """A native sampler mapping (or a constant when lo == hi) for one pycls RAND_TYPE."""
    if rand_type not in RAND_TYPES:
        supported = ", ".join(RAND_TYPES)
        raise ConfigError(
            f"RAND_TYPE {rand_type!r} is not supported (supported: {supported})",
            key=f"{key}.RAND_TYPE",
        )
    if rng[0] == rng[1]:
        return int(rng[0]) if integer else rng[0]
    kind = RAND_TYPES[rand_type]
    if kind == "power2":
        if rng[0] < 1:
            raise ConfigError("power2_uniform below 1 is not supported", key=f"{key}.RANGE")
        return {"type": "power2", "range": [int(v) if float(v).is_integer() else v for v in rng]}
    if integer and kind == "uniform":
        return {"type": "int", "range": [int(v) for v in rng], "q": int(q or 1)}
    out: dict[str, Any] = {"type": kind, "range": [int(v) for v in rng] if integer else rng}
    if q is not None:
        out["q"] = int(q) if integer else q
    return out


def _sampler(spec: Any, key: str) -> Any:
    """One pycls float/int/value sampler as a native sampler mapping."""
    if not isinstance(spec, dict) or "TYPE" not in spec:
        raise ConfigError(
            "a pycls sampler needs TYPE (float_sampler, int_sampler, value_sampler)", key=key
        )
    kind = spec["TYPE"]
    if kind == "value_sampler":
        _section(spec, ("TYPE", "VALUES"), f"{key}.")
        values = spec.get("VALUES")
        if not isinstance(values, list) or not values:
            raise ConfigError("VALUES must be a non-empty list", key=f"{key}.VALUES")
        return {"type": "choice", "values": values}
    if kind not in ("float_sampler", "int_sampler"):
        msg = f"sampler TYPE {kind!r} is not supported (float_sampler, int_sampler, value_sampler, regnet_sampler)"
        raise ConfigError(msg, key=f"{key}.TYPE")
    _section(spec, ("TYPE", "RAND_TYPE", "RANGE", "QUANTIZE"), f"{key}.")
    integer = kind == "int_sampler"
    q = spec.get("QUANTIZE", 1 if integer else None)
    if integer and (not isinstance(q, int) or isinstance(q, bool)):
        raise ConfigError(
            f"int_sampler QUANTIZE must be an integer, got {q!r}", key=f"{key}.QUANTIZE"
        )
    return _law(
        spec.get("RAND_TYPE", "uniform"), _range(spec.get("RANGE"), f"{key}.RANGE"), q, key, integer
    )


def _regnet_sampler(spec: dict[str, Any], key: str) -> dict[str, Any]:
    _section(spec, ("TYPE", *REGNET_SAMPLER), f"{key}.")
    params = {}
    for name, (field, default, rand_type, q, integer) in REGNET_SAMPLER.items():
        rng = _range(spec.get(name, default), f"{key}.{name}")
        params[field] = _law(rand_type, rng, q, f"{key}.{name}", integer)
    return params


def _model_keys(model_type: str) -> dict[str, str]:
    """pycls key -> native spec field for the base model type."""
    return {p: f for f, p in {**PYCLS_SPEC_KEYS[model_type], **PYCLS_COMMON_KEYS}.items()}


def _space(setup: dict[str, Any], source: str | None) -> dict[str, Any]:
    """Native design-space mapping: base model constants, then samplers over them."""
    from pycls_like.pycls_cfg import spec_from_pycls
    from pycls_like.specs import spec_to_dict

    base = copy.deepcopy(setup.get("BASE_CFG") or {})
    (base.get("TRAIN") or {}).pop("DATA_PATH", None)  # the engine's key, not a model key
    model_type = pycls_merge(base, source)["MODEL"]["TYPE"]
    if model_type not in ("regnet", "anynet"):
        msg = f"pycls sweeps sample regnet or anynet models, got {model_type!r}"
        raise ConfigError(msg, key="SETUP.BASE_CFG.MODEL.TYPE")
    params = {k: v for k, v in spec_to_dict(spec_from_pycls(base, source)).items() if k != "family"}
    keys = _model_keys(model_type)
    optim: dict[str, Any] = {}
    samplers = setup.get("SAMPLERS") or {}
    if not isinstance(samplers, dict):
        raise ConfigError("must be a section (mapping)", key="SETUP.SAMPLERS")
    for name, spec in samplers.items():
        key = f"SETUP.SAMPLERS.{name}"
        if name == "REGNET" and isinstance(spec, dict) and spec.get("TYPE") == "regnet_sampler":
            if model_type != "regnet":
                raise ConfigError("regnet_sampler needs MODEL.TYPE regnet in BASE_CFG", key=key)
            params.update(_regnet_sampler(spec, key))
        elif name in OPTIM_KEYS:
            optim[OPTIM_KEYS[name]] = _sampler(spec, key)
        elif name in keys and not isinstance(params[keys[name]], list):
            params[keys[name]] = _sampler(spec, key)
        else:
            why = (
                "a list-valued key (list_sampler is not supported)"
                if name in keys
                else "not a sampled key"
            )
            raise ConfigError(
                f"{why}; see pycls_like/sweep/pycls_sweep.py for what is supported", key=key
            )
    space: dict[str, Any] = {"family": model_type, "params": params}
    if model_type == "anynet":
        space["stages"] = len(params["ds"])
    if optim:
        space["optim"] = optim
    if setup.get("NUM_SAMPLES") is not None:
        space["max_candidates"] = setup["NUM_SAMPLES"]
    return space


def _constraints(data: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for section, values in _section(data, ("CX", "REGNET"), "SETUP.CONSTRAINTS.").items():
        allowed = ("FLOPS", "PARAMS", "ACTS") if section == "CX" else ("NUM_STAGES",)
        for key, band in _section(values, allowed, f"SETUP.CONSTRAINTS.{section}.").items():
            out["stages" if key == "NUM_STAGES" else key.lower()] = band
    return out


def _launcher(launch: dict[str, Any]) -> dict[str, Any]:
    gpus = launch.get("NUM_GPUS")
    out: dict[str, Any] = {}
    if "MODE" in launch:
        out["type"] = launch["MODE"]
    simple = {"PARALLEL_JOBS": "max_concurrent", "MAX_RETRY": "retries"}
    out.update({native: launch[k] for k, native in simple.items() if k in launch})
    slurm = {
        n: launch[k] for k, n in (("PARTITION", "partition"), ("TIME_LIMIT", "time")) if k in launch
    }
    if gpus is not None:
        out["gpus_per_run"] = gpus
    per_gpu = max(gpus or 1, 1)
    if "CPUS_PER_GPU" in launch:
        out["threads_per_worker"] = launch["CPUS_PER_GPU"] * per_gpu
    if "MEM_PER_GPU" in launch:
        slurm["mem_gb"] = launch["MEM_PER_GPU"] * per_gpu
    extra = {"constraint": launch.get("GPU_TYPE"), "comment": launch.get("COMMENT")}
    if any(extra.values()):
        slurm["sbatch"] = {k: v for k, v in extra.items() if v}
    if slurm:
        out["slurm"] = slurm
    return out


def _base(base_cfg: dict[str, Any], source: str | None) -> dict[str, Any]:
    """BASE_CFG as a native run config without its model (the model comes from the space)."""
    from pycls_like.engine.pycls_run import pycls_to_native

    native = pycls_to_native(base_cfg, source)
    native.pop("model")
    return native


def sweep_from_pycls(data: dict[str, Any], source: str | None = None) -> dict[str, Any]:
    """A native sweep mapping from a pycls sweep config (validated again as a native sweep)."""
    try:
        _section(data, TOP_KEYS, "")
        setup = _section(data.get("SETUP"), SETUP_KEYS, "SETUP.")
        n = setup.get("NUM_CONFIGS", data.get("NUM_CONFIGS"))
        if n is None:
            raise ConfigError("missing: the number of models to sample", key="SETUP.NUM_CONFIGS")
        if not data.get("NAME"):
            raise ConfigError("missing: the sweep name", key="NAME")
        native: dict[str, Any] = {
            "name": data["NAME"],
            "space": _space(setup, source),
            "n": n,
            "seed": setup.get("SEED", 0),
            "constraints": _constraints(setup.get("CONSTRAINTS")),
            "base": _base(setup.get("BASE_CFG") or {}, source),
        }
        if data.get("ROOT_DIR"):
            native["out"] = data["ROOT_DIR"]
        launcher = _launcher(_section(data.get("LAUNCH"), LAUNCH_KEYS, "LAUNCH."))
        if launcher:
            native["launcher"] = launcher
        return native
    except ConfigError as err:
        raise err.located(source=source) from None
