"""Benchmark `pycls-like complexity`: specs/s for 500 YAML files in one call, and the wall time
of a single query including interpreter start. Both run the real console command.

Usage: python tools/bench_complexity.py [--files 500] [--repeats 5]
"""

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from pycls_like.presets import PRESETS
from pycls_like.specs import spec_to_dict


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


def timed(cmd: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    exe = [sys.executable, "-m", "pycls_like.cli", "complexity"]
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_specs(Path(tmp), args.files)
        batch = min(timed([*exe, "--json", *paths])[0] for _ in range(args.repeats))
        _, out = timed([*exe, "--json", *paths])
        assert len(out.splitlines()) == args.files and all(
            json.loads(x)["flops"] > 0 for x in out.splitlines()
        )
        single = min(timed([*exe, "RegNetX-200MF"])[0] for _ in range(args.repeats))
        startup = min(timed([sys.executable, "-c", "pass"])[0] for _ in range(args.repeats))
    print(f"{'measure':<48} {'value':>10}")
    print(f"{f'{args.files} YAML specs in one call (wall, s)':<48} {batch:>10.3f}")
    print(f"{'specs/s, including interpreter start':<48} {args.files / batch:>10.0f}")
    print(f"{'single query wall incl. interpreter start (s)':<48} {single:>10.3f}")
    print(f"{'bare interpreter start (s)':<48} {startup:>10.3f}")


if __name__ == "__main__":
    main()
