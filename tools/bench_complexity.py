"""Benchmark `pycls-like complexity`: specs/s for 500 YAML files in one call, and the wall time
of a single query including interpreter start. Both run the real console command.

It also checks that bad files lose no good answer: the same call with `--bad` of the files
broken (malformed YAML, an unknown key, an impossible value) must print one answer per good
file, one stderr line per bad one, and exit with code 2.

Usage: python tools/bench_complexity.py [--files 500] [--bad 3] [--repeats 5] [--api-only --rounds 5]
"""

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

import yaml

from pycls_like.complexity import complexity
from pycls_like.plan import make_plan
from pycls_like.presets import PRESETS
from pycls_like.specs import spec_from_dict, spec_to_dict

sys.path.insert(0, str(Path(__file__).parent))
import pycls_counter  # noqa: E402  (the transcribed peer baseline)


def write_specs(folder: Path, n: int, seed: int = 0) -> list[str]:
    """n YAML files: random RegNets (native format) plus every preset, at mixed resolutions."""
    rng = random.Random(seed)
    paths = []
    for i in range(n):
        if i < len(PRESETS):
            data = spec_to_dict(list(PRESETS.values())[i])
        else:
            data = {
                "family": "regnet",
                "d": rng.randint(12, 28),
                "w0": 8 * rng.randint(1, 32),
                "wa": round(rng.uniform(8, 256), 1),
                "wm": round(rng.uniform(2, 3), 3),
                "g": rng.choice([1, 2, 4, 8, 16, 32]),
                "resolution": rng.choice([160, 192, 224, 256]),
            }
        path = folder / f"spec_{i:04d}.yaml"
        path.write_text(yaml.safe_dump(data))
        paths.append(str(path))
    return paths


# Three ways a file goes wrong, cycled over the broken files.
BAD_FILES = (
    "family: regnet\nd: [13\n",  # malformed YAML
    "family: regnet\nd: 13\nw0: 24\nwa: 36.4\nwm: 2.5\ng: 8\ndepht: 3\n",  # unknown key
    "family: regnet\nd: 13\nw0: 24\nwa: 36.4\nwm: 0.9\ng: 8\n",  # wm must be > 1
)


def break_files(paths: list[str], n_bad: int) -> list[str]:
    """Overwrite n_bad files spread over the list; returns the broken paths."""
    step = max(1, len(paths) // max(n_bad, 1))
    broken = [paths[(i * step + step // 2) % len(paths)] for i in range(n_bad)]
    for i, path in enumerate(broken):
        Path(path).write_text(BAD_FILES[i % len(BAD_FILES)])
    return broken


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def random_configs(n: int, seed: int = 0) -> dict[str, list[dict]]:
    """n distinct spec dicts per family: RegNet (pycls sweep ranges, X and Y), AnyNet, ViT."""
    rng = random.Random(seed)
    out: dict[str, list[dict]] = {"regnet": [], "anynet": [], "vit": []}
    for _ in range(n):
        out["regnet"].append(
            {"family": "regnet", "d": rng.randint(12, 28), "w0": 8 * rng.randint(1, 32),
             "wa": round(rng.uniform(8, 256), 3), "wm": round(rng.uniform(2, 3), 4),
             "g": rng.choice([1, 2, 4, 8, 16, 32]), "se_ratio": rng.choice([0.0, 0.25])}
        )  # fmt: skip
        g = rng.choice([8, 16, 32])
        out["anynet"].append(
            {"family": "anynet", "ds": [rng.randint(1, 8) for _ in range(4)],
             "ws": [g * rng.randint(1, 16) for _ in range(4)], "ss": [2, 2, 2, 2],
             "bs": [1.0] * 4, "gs": [g] * 4, "se_ratio": rng.choice([0.0, 0.25])}
        )  # fmt: skip
        heads = rng.randint(2, 8)
        out["vit"].append(
            {"family": "vit", "depth": rng.randint(6, 16), "heads": heads,
             "hidden_d": heads * rng.choice([32, 48, 64]), "mlp_d": 64 * rng.randint(4, 32)}
        )  # fmt: skip
    return out


def _best(fn, items: list, repeats: int, before=None) -> float:  # noqa: ANN001
    """Seconds for `fn` over `items`: the sum over chunks of 25 of each chunk's best of `repeats`
    (short chunks keep a busy machine's spikes out of the figure)."""
    total = 0.0
    for i in range(0, len(items), 25):
        chunk, best = items[i : i + 25], float("inf")
        for _ in range(repeats):
            if before is not None:
                before()
            start = time.perf_counter()
            for item in chunk:
                fn(item)
            best = min(best, time.perf_counter() - start)
        total += best
    return total


def per_config(n: int, repeats: int, rounds: int = 1) -> None:
    """Microseconds per new config: spec_from_dict, complexity(spec), pycls's counter; with
    `rounds` > 1 the whole measurement is repeated and each figure is shown as min / median."""
    print(
        f"{'family':<8} {'dict->spec us':>14} {'complexity us':>14} {'pycls us':>12} {'speed-up':>11}"
    )
    for family, dicts in random_configs(n).items():
        specs = [spec_from_dict(d) for d in dicts]
        ours = [complexity(s).as_dict() for s in specs]
        peer = [pycls_counter.complexity(s) for s in specs]
        assert ours == [{k: p[k] for k in ("flops", "params", "acts")} for p in peer], (
            "the two counters disagree"
        )
        rows = []
        for _ in range(rounds):
            parse = _best(spec_from_dict, dicts, repeats)
            # new configs: complexity() expands each spec afresh; the plan cache (used by the
            # builder and the CLI) is emptied anyway
            best = _best(complexity, specs, repeats, before=make_plan.cache_clear)
            base = _best(pycls_counter.complexity, specs, repeats)
            us = [1e6 * t / len(dicts) for t in (parse, best, base)]
            rows.append([*us, us[2] / us[1]])
        cells = []
        for k, unit in zip(range(4), ("", "", "", "x"), strict=True):
            col = [r[k] for r in rows]
            text = (
                f"{min(col):.1f}{unit}"
                if rounds == 1
                else f"{min(col):.1f}/{median(col):.1f}{unit}"
            )
            cells.append(text)
        widths = (14, 14, 12, 11)
        print(f"{family:<8} " + " ".join(f"{c:>{w}}" for c, w in zip(cells, widths, strict=True)))
    if rounds > 1:
        print(f"(min/median over {rounds} rounds; speed-up: of each round's pair)")


def timed(cmd: list[str], ok: tuple[int, ...] = (0,)) -> tuple[float, str, str]:
    """Wall seconds, stdout, stderr; the process's CPU seconds go to CPU_SECONDS[cmd[-1]]."""
    start, cpu = time.perf_counter(), _child_cpu()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    CPU_SECONDS.setdefault(len(cmd), []).append(_child_cpu() - cpu)
    if proc.returncode not in ok:
        raise SystemExit(f"{' '.join(cmd[:4])} ...: exit {proc.returncode}\n{proc.stderr}")
    return wall, proc.stdout, proc.stderr


# CPU seconds of each timed command, by argument count: on a shared machine the CPU time of
# the command (interpreter start included) is what it costs; the wall time depends on the load.
CPU_SECONDS: dict[int, list[float]] = {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=500)
    parser.add_argument("--bad", type=int, default=3, help="files broken for the error check")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--configs", type=int, default=300, help="new configs per family")
    parser.add_argument("--api-only", action="store_true", help="only the per-config API timing")
    parser.add_argument("--rounds", type=int, default=1, help="repeat the per-config timing")
    args = parser.parse_args()
    per_config(args.configs, args.repeats, args.rounds)
    if args.api_only:
        return
    exe = [sys.executable, "-m", "pycls_like.cli", "complexity"]
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_specs(Path(tmp), args.files)
        batch = min(timed([*exe, "--json", *paths])[0] for _ in range(args.repeats))
        batch_cpu = min(CPU_SECONDS[len(exe) + 1 + len(paths)])
        _, out, _ = timed([*exe, "--json", *paths])
        assert len(out.splitlines()) == args.files and all(
            json.loads(x)["flops"] > 0 for x in out.splitlines()
        )
        broken = break_files(paths, args.bad)
        code = 2 if broken else 0
        mixed, out, err = timed([*exe, "--json", *paths], ok=(code,))
        mixed = min([mixed] + [timed([*exe, "--json", *paths], ok=(code,))[0] for _ in range(2)])
        answered = [json.loads(x)["spec"] for x in out.splitlines()]
        errors = err.splitlines()
        assert answered == [p for p in paths if p not in broken], "answers lost or out of order"
        assert len(errors) == len(broken) and all(
            b in e for b, e in zip(broken, errors, strict=True)
        )
        single = min(timed([*exe, "RegNetX-200MF"])[0] for _ in range(args.repeats))
        single_cpu = min(CPU_SECONDS[len(exe) + 1])
        startup = min(timed([sys.executable, "-c", "pass"])[0] for _ in range(args.repeats))
    good = args.files - len(broken)
    print(f"{'measure':<48} {'value':>10}")
    print(f"{f'{args.files} YAML specs in one call (wall, s)':<48} {batch:>10.3f}")
    print(f"{'specs/s, including interpreter start':<48} {args.files / batch:>10.0f}")
    print(f"{'specs/s by CPU time, incl. interpreter start':<48} {args.files / batch_cpu:>10.0f}")
    print(f"{f'{good} good + {len(broken)} bad files: answers':<48} {len(answered):>10}")
    print(f"{f'{good} good + {len(broken)} bad files: error lines':<48} {len(errors):>10}")
    print(f"{f'{good} good + {len(broken)} bad files: exit code':<48} {code:>10}")
    print(f"{f'{good} good + {len(broken)} bad files: specs/s':<48} {args.files / mixed:>10.0f}")
    print(f"{'single query wall incl. interpreter start (s)':<48} {single:>10.3f}")
    print(f"{'single query CPU incl. interpreter start (s)':<48} {single_cpu:>10.3f}")
    print(f"{'bare interpreter start (s)':<48} {startup:>10.3f}")
    for line in errors:
        print(f"  {line}")


if __name__ == "__main__":
    main()
