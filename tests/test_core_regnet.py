"""RegNet's width rule: the run search (`stagecount.regnet_runs`) equals the rule read block by block."""

import random

from pycls_like.regnet import (
    regnet_block_exponents,
    regnet_block_widths,
    regnet_stages,
    regnet_t,
    regnet_width,
    stages_from_block_widths,
)


def per_block(d: int, w0: float, wa: float, wm: float) -> tuple[list[int], list[int]]:
    """The definition (CONVENTIONS.md): s_j = round(t_j) and w_j for every block j."""
    exps = [round(regnet_t(w0, wa, wm, j)) for j in range(d)]
    return exps, [regnet_width(w0, wm, s) for s in exps]


def cases(n: int) -> list[tuple[int, float, float, float]]:
    rng = random.Random(7)
    out = [(13, 24, 36.44, 2.49), (1, 8, 0.0, 2.0), (30, 8, 0.0, 2.5), (20, 16, 1e-12, 2.0)]
    for _ in range(n):
        d, w0 = rng.randint(1, 40), 8 * rng.randint(1, 40)
        wa, wm = rng.choice([rng.uniform(0, 300), rng.uniform(0, 2)]), rng.uniform(1.0001, 4)
        out.append((d, w0, round(wa, rng.choice([0, 2, 6])), wm))
        # exact ties: u_j = w0 * wm**(s + 1/2) for some block j (wm a square, wa a divisor)
        r, s = rng.choice([2, 3]), rng.randint(0, 3)
        j = rng.randint(1, 20)
        out.append((j + rng.randint(0, 5), w0, w0 * (r ** (2 * s + 1) - 1) / j, float(r * r)))
    return out


def test_run_search_equals_block_by_block():
    for d, w0, wa, wm in cases(1500):
        exps, widths = per_block(d, w0, wa, wm)
        assert regnet_block_exponents(d, w0, wa, wm) == exps, (d, w0, wa, wm)
        assert regnet_block_widths(d, w0, wa, wm) == widths, (d, w0, wa, wm)
        assert regnet_stages(d, w0, wa, wm) == stages_from_block_widths(widths), (d, w0, wa, wm)


def test_inputs_outside_the_rule_take_the_block_loop():
    """wm <= 1 or wa < 0: exponents need not grow; the answer is still the block-by-block one."""
    for d, w0, wa, wm in ((10, 16, 5.0, 0.5), (10, 16, -1.0, 2.0), (6, 8, 3.0, 0.9)):
        exps, widths = per_block(d, w0, wa, wm)
        assert regnet_block_exponents(d, w0, wa, wm) == exps
        assert regnet_block_widths(d, w0, wa, wm) == widths
