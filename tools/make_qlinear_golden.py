"""Rebuild tests/golden_qlinear.json: an exhaustive reference search of the quantized-linear fit.

The reference is deliberately simple and shares no code with `pycls_like.analysis.qlinear_search`:
every w0 (multiple of 8 up to the largest width), a log grid of REF_GRID values of wm in
[1.1, 10], and for each (w0, wm) every interval of a between consecutive exponent steps, each
evaluated directly with the RegNet width rule. The test requires the fit to be never worse.

Usage: python tools/make_qlinear_golden.py [--n-per-kind 100] [--seed 123]   (about 8 minutes)
"""

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

from pycls_like.regnet import regnet_block_widths

REF_GRID = 1024  # 4x finer than the fit's grid
WM_RANGE = (1.1, 10.0)
OUT = Path(__file__).resolve().parent.parent / "tests" / "golden_qlinear.json"


def random_sequences(
    kind: str, n: int, rng: np.random.Generator, d_max: int = 16
) -> list[list[int]]:
    """Width sequences of three kinds: sorted AnyNet stages, unsorted blocks, noisy RegNets."""
    out = []
    for _ in range(n):
        if kind == "sorted":  # 4 AnyNet stages, widths multiple of 8 up to 512, sorted
            ws = np.sort(8 * rng.integers(1, 65, 4))
            ds = rng.integers(1, max(2, d_max // 4) + 1, 4)
            out.append([int(w) for w, dd in zip(ws, ds, strict=True) for _ in range(dd)])
        elif kind == "unsorted":  # arbitrary integers in [8, 512], in any order
            out.append([int(w) for w in rng.integers(8, 513, rng.integers(3, d_max + 1))])
        elif kind == "noisy_regnet":  # a RegNet's widths times U[0.85, 1.15] per block
            d = int(rng.integers(4, d_max + 1))
            w0, wa = 8 * int(rng.integers(2, 13)), float(rng.uniform(8, 64))
            wm = float(math.exp(rng.uniform(math.log(1.5), math.log(3.0))))
            ws = regnet_block_widths(d, w0, wa, wm)
            out.append([max(8, int(round(w * rng.uniform(0.85, 1.15)))) for w in ws])
        else:
            raise ValueError(kind)
    return out


def reference_fit(widths: list[int]) -> tuple[float, int, float, float]:
    """(e_fit, w0, wa, wm): the best over the whole grid; a at every interval's midpoint."""
    w = np.asarray(widths, dtype=float)
    d, lw = len(w), np.log(w)
    j = np.arange(d)
    best = (math.inf, 8, 0.0, 2.0)
    for L in np.linspace(math.log(WM_RANGE[0]), math.log(WM_RANGE[1]), REF_GRID):
        for w0 in range(8, max(8, int(w.max() // 8) * 8) + 1, 8):
            # a up to where block 1 has passed twice the largest width: beyond, cost only grows.
            s_cap = max(1, math.ceil(math.log(2 * w.max() / w0) / L) + 1)
            a_max = math.expm1((s_cap + 0.5) * L)
            s_all = math.ceil(math.log1p(max(d - 1, 1) * a_max) / L) + 1
            s = np.arange(s_all)
            ev = (np.expm1((s + 0.5) * L)[None, :] / np.maximum(j[1:], 1)[:, None]).ravel()
            ev = np.unique(ev[ev <= a_max])
            pts = np.concatenate([[0.0], ev, [a_max * 1.5]])
            mids = np.concatenate([[ev[0] / 2 if ev.size else 0.0], (pts[1:-1] + pts[2:]) / 2])
            expo = np.rint(np.log1p(mids[:, None] * j[None, :]) / L)
            wf = np.maximum(np.rint(w0 * np.exp(expo * L) / 8), 1) * 8
            cost = np.abs(lw - np.log(wf)).mean(1)
            k = int(np.argmin(cost))
            if cost[k] < best[0] - 1e-12:
                best = (float(cost[k]), w0, float(mids[k] * w0), float(math.exp(L)))
    # Recompute with the reference width rule so both sides use one definition of e_fit.
    e, w0, wa, wm = best
    wf = regnet_block_widths(d, w0, wa, wm)
    return float(np.mean(np.abs(np.log(w / np.asarray(wf))))), w0, wa, wm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-per-kind", type=int, default=100)
    parser.add_argument("--seed", type=int, default=123)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    cases = []
    start = time.perf_counter()
    for kind in ("sorted", "unsorted", "noisy_regnet"):
        for widths in random_sequences(kind, args.n_per_kind, rng):
            e, w0, wa, wm = reference_fit(widths)
            cases.append({"kind": kind, "widths": widths, "e_fit": e, "w0": w0, "wa": wa, "wm": wm})
            print(
                f"{kind:13s} d={len(widths):2d} e_fit={e:.5f}  ({time.perf_counter() - start:.0f} s)"
            )
    meta = {"ref_grid": REF_GRID, "wm_range": list(WM_RANGE), "seed": args.seed}
    args.out.write_text(json.dumps({"reference": meta, "cases": cases}, indent=1) + "\n")
    print(f"wrote {len(cases)} cases to {args.out}")


if __name__ == "__main__":
    main()
