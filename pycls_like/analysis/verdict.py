"""Which of two design spaces is better, how sure we are, and how many models would settle it.

Two tests are available (`TESTS`), both two-sided, both valid whatever the error distribution:

- `mean-permutation` (default): permutation test of the difference in mean error, exact up to
  Monte Carlo error (10,000 random relabelings). The mean error of a random model is what a
  design space costs its user, and it weighs how badly the failing models fail: short trainings
  split a space into models that learn and models that barely do, and a rank test sees only
  the order. Measured with `tools/verdict_power.py` (resampling 16 models per space from a
  5-15 MF vanilla-vs-ResNet trial where a third of the plain models stalled) it rejected in 58%
  of draws, the rank test in 38%, KS in 27%, normalized KS in 21%; on the default demo's
  tuning-seed populations (seed 10) every test had power >= 0.90 at 6 models per space (the
  rank test 0.97, this one 0.94) and 1.00 at 12.
- `mann-whitney`: the Mann-Whitney U (Wilcoxon rank-sum) test: the order of errors only.

Both populations of a comparison are drawn in the same complexity band, so their errors are
compared at matched complexity. "A is better" is said only when p < alpha.

`models_needed` is a resampling power estimate (post hoc: the observed populations stand in for
the truth): for growing n, draw n models with replacement from each population and count how
often the test rejects in the observed direction; the first n reaching 80% power is reported.

The complexity-normalized KS test of NDS (sec. 3.2) bins log-complexity; its p-value moves with
the bin count, so `bins_for(n)` fixes the count from the population size and `ks_by_bins`
reports p across every sensible count, for the report to show how much the choice matters.
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from pycls_like.analysis import edf as E

ALPHA = 0.05
POWER = 0.8
POWER_DRAWS = 200
PERMUTATIONS = 10_000
PERMUTATION_MAX_MODELS = 2_000
POWER_GRID = (5, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60, 80, 100, 150, 200)
MIN_MODELS_PER_BIN = 5


def bins_for(n: int) -> int:
    """Complexity bins for normalized EDFs: about 5 models per bin in the smaller population,
    between 2 and 10 bins (NDS used 10 bins for populations of hundreds)."""
    return int(min(10, max(2, n // MIN_MODELS_PER_BIN)))


def _mean_difference(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(x, axis=axis) - np.mean(y, axis=axis)


def mean_permutation_test(
    a: np.ndarray, b: np.ndarray, rng: np.random.Generator
) -> tuple[float, float]:
    """(p, mean(a) - mean(b)): two-sided permutation test of the difference in means; above
    PERMUTATION_MAX_MODELS models in all, Welch's t-test, its large-sample equivalent (10,000
    relabelings of 20,000 errors would cost the report a minute)."""
    if a.size + b.size > PERMUTATION_MAX_MODELS:
        res = stats.ttest_ind(a, b, equal_var=False)
        return float(res.pvalue), float(np.mean(a) - np.mean(b))
    res = stats.permutation_test(
        (a, b), _mean_difference, n_resamples=PERMUTATIONS, vectorized=True, rng=rng
    )
    return float(res.pvalue), float(res.statistic)


def _mean_difference_many(
    xa: np.ndarray, xb: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Batched power draws of the mean-difference test: the pooled two-sample t-test, the
    permutation test's large-sample equivalent (10,000 relabelings per draw would cost minutes)."""
    res = stats.ttest_ind(xa, xb, axis=1)
    return np.nan_to_num(res.pvalue, nan=1.0), _mean_difference(xa, xb)


def _rank_test(a: np.ndarray, b: np.ndarray, rng: np.random.Generator) -> tuple[float, float]:
    """(p, U/(n_a n_b) - 1/2): > 0 when A's errors rank higher (A worse)."""
    res = stats.mannwhitneyu(a, b, alternative="two-sided")
    return float(res.pvalue), float(res.statistic) / (a.size * b.size) - 0.5


def _rank_test_many(
    xa: np.ndarray, xb: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    res = stats.mannwhitneyu(xa, xb, axis=1, method="asymptotic")
    return res.pvalue, res.statistic - xa.shape[1] * xb.shape[1] / 2


@dataclass(frozen=True)
class Test:
    """A two-sided two-sample test: its description, the test, and a batched form for power.
    Each returns (p, signed effect): the effect is > 0 when the first sample's errors are worse."""

    description: str
    test: Callable[[np.ndarray, np.ndarray, np.random.Generator], tuple[float, float]]
    many: Callable[[np.ndarray, np.ndarray, np.random.Generator], tuple[np.ndarray, np.ndarray]]
    large: tuple[int, str] | None = None  # (models, description) where `test` switches form

    def describe(self, models: int) -> str:
        """The description of the test as run on `models` models in all (the report names the
        test that produced its p-value first)."""
        if self.large is not None and models > self.large[0]:
            return self.large[1]
        return self.description


TESTS = {
    "mean-permutation": Test(
        f"two-sided permutation test of the difference in mean top-1 error ({PERMUTATIONS:,} "
        f"relabelings; Welch's t-test above {PERMUTATION_MAX_MODELS:,} models; both spaces in the "
        "same flop band)",
        mean_permutation_test,
        _mean_difference_many,
        (
            PERMUTATION_MAX_MODELS,
            "two-sided Welch's t-test of the difference in mean top-1 error (used above "
            f"{PERMUTATION_MAX_MODELS:,} models as the permutation test's large-sample equivalent; "
            "both spaces in the same flop band)",
        ),
    ),
    "mann-whitney": Test(
        "two-sided Mann-Whitney U on top-1 error (rank-sum; both spaces in the same flop band)",
        _rank_test,
        _rank_test_many,
    ),
}
DEFAULT_TEST = "mean-permutation"


@dataclass(frozen=True)
class Verdict:
    """The answer to "which space is better, and how sure are we?" (report.json["verdict"])."""

    better: str | None
    worse: str | None
    p_value: float | None
    significant: bool
    test: str
    n: dict[str, int]
    alpha: float
    effect: float | None  # the test's signed effect; > 0: the first space's errors are worse
    models_needed: int | None  # per space for 80% power; None if > the largest n tried
    power_method: str
    sentence: str
    medians: dict[str, float] = field(default_factory=dict)
    means: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _p_text(p: float) -> str:
    return f"{p:.2g}" if p >= 1e-4 else f"{p:.1e}"


def models_needed(
    a: np.ndarray,
    b: np.ndarray,
    rng: np.random.Generator,
    alpha: float = ALPHA,
    test: str = DEFAULT_TEST,
) -> int | None:
    """Smallest n per space (on POWER_GRID) whose resampled test rejects in the observed
    direction with probability >= POWER; None when the largest n does not (or no difference)."""
    _, effect = TESTS[test].test(a, b, rng)
    direction = np.sign(effect)
    if direction == 0:
        return None

    def enough(n: int) -> bool:
        xa = rng.choice(a, size=(POWER_DRAWS, n), replace=True)
        xb = rng.choice(b, size=(POWER_DRAWS, n), replace=True)
        pvalues, effects = TESTS[test].many(xa, xb, rng)
        return float(np.mean((pvalues < alpha) & (np.sign(effects) == direction))) >= POWER

    # Power grows with n: bisect the grid for the first n with enough power.
    lo, hi = 0, len(POWER_GRID) - 1
    if not enough(POWER_GRID[hi]):
        return None
    while lo < hi:
        mid = (lo + hi) // 2
        if enough(POWER_GRID[mid]):
            hi = mid
        else:
            lo = mid + 1
    return POWER_GRID[lo]


def verdict(
    errors: dict[str, Sequence[float] | np.ndarray],
    *,
    alpha: float = ALPHA,
    seed: int = 0,
    power: bool = True,
    test: str = DEFAULT_TEST,
) -> Verdict:
    """Compare exactly two populations of errors (lower is better); `power=False` skips the
    resampling estimate of the models needed (simulations of the test itself)."""
    if len(errors) != 2:
        raise ValueError(f"a verdict compares two populations, got {len(errors)}")
    if test not in TESTS:
        raise ValueError(f"unknown test {test!r} (known: {', '.join(TESTS)})")
    (name_a, ea), (name_b, eb) = ((k, np.asarray(v, dtype=float)) for k, v in errors.items())
    n = {name_a: int(ea.size), name_b: int(eb.size)}
    description = TESTS[test].describe(sum(n.values()))
    method = (
        f"resampling: {POWER_DRAWS} draws of n models with replacement from each observed "
        f"population per n in {POWER_GRID[0]}..{POWER_GRID[-1]} (bisected); first n with power >= "
        f"{POWER:.0%} (the mean test's draws use its large-sample form, the t-test)"
    )
    if min(n.values()) < 2:
        sentence = "no verdict: each space needs at least 2 finished models"
        return Verdict(None, None, None, False, description, n, alpha, None, None, method, sentence)
    medians = {name_a: float(np.median(ea)), name_b: float(np.median(eb))}
    means = {name_a: float(np.mean(ea)), name_b: float(np.mean(eb))}
    rng = np.random.default_rng(seed)
    p, effect = TESTS[test].test(ea, eb, rng)
    needed = models_needed(ea, eb, rng, test=test) if power else None
    better = worse = None
    if effect != 0:
        better, worse = (name_b, name_a) if effect > 0 else (name_a, name_b)
    significant = bool(p < alpha and better is not None)
    per_space = min(n.values())
    if not power:
        need_text = "models needed not estimated"
    elif needed is None:
        need_text = (
            f"more than {POWER_GRID[-1]} models per space would be needed for {POWER:.0%} power"
        )
    elif needed <= per_space:
        need_text = f"{needed} models per space already give {POWER:.0%} power"
    else:
        need_text = f"about {needed} models per space would be needed for {POWER:.0%} power"
    if significant:
        sentence = (
            f"{better} is better than {worse} (p = {_p_text(p)}, {n[better]} vs {n[worse]} models; "
            f"mean error {means[better]:.1f}% vs {means[worse]:.1f}%, median "
            f"{medians[better]:.1f}% vs {medians[worse]:.1f}%)"
        )
    else:
        sentence = (
            f"no significant difference at this population size (p = {_p_text(p)}, "
            f"{n[name_a]} vs {n[name_b]} models); {need_text}"
        )
    return Verdict(
        better if significant else None,
        worse if significant else None,
        p,
        significant,
        description,
        n,
        alpha,
        effect,
        needed,
        method,
        sentence,
        medians,
        means,
    )


def ks_by_bins(
    errors: Sequence[np.ndarray], metrics: Sequence[np.ndarray], max_bins: int = 10
) -> dict[int, float | None]:
    """Complexity-normalized KS p-value for every bin count from 2 to max_bins (None: undefined)."""
    out: dict[int, float | None] = {}
    for bins in range(2, max_bins + 1):
        try:
            weights = E.normalization_weights(metrics, bins=bins)
        except ValueError:
            out[bins] = None
            continue
        curves = [E.edf(e, w) for e, w in zip(errors, weights, strict=True)]
        p = E.ks_test(curves[0], curves[1]).pvalue
        out[bins] = None if math.isnan(p) else float(p)
    return out


def provenance_lines(provenance: dict[str, Any]) -> list[str]:
    """`key: value` lines in a stable order (dataset, resolution, epochs, flop band, seed, ...)."""
    return [f"{k}: {v}" for k, v in provenance.items() if v is not None]


@dataclass(frozen=True)
class Judgement:
    """What the report adds on top of the statistics: verdict, provenance, bin sensitivity."""

    verdict: Verdict | None
    provenance: dict[str, Any]
    bins: int
    ks_by_bins: dict[int, float | None]
    near_chance: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.to_json() if self.verdict else None,
            "provenance": self.provenance,
            "bins": self.bins,
            "ks_normalized_by_bins": {str(k): v for k, v in self.ks_by_bins.items()},
            "near_chance": self.near_chance,
        }


def judge(
    errors: dict[str, np.ndarray],
    metrics: dict[str, np.ndarray],
    near: dict[str, int],
    provenance: dict[str, Any] | None,
    bins: int,
    seed: int = 0,
) -> Judgement:
    """The verdict for exactly two populations (None otherwise) and the KS p across bin counts."""
    two = len(errors) == 2
    result = verdict(errors, seed=seed) if two else None
    n_min = min((len(e) for e in errors.values()), default=0)
    by_bins = (
        ks_by_bins(list(errors.values()), list(metrics.values()), max(2, min(10, n_min // 2)))
        if two and n_min >= 2
        else {}
    )
    return Judgement(result, dict(provenance or {}), bins, by_bins, near)


def judgement_html(j: Judgement, escape: Any) -> str:
    """The report's opening block: the verdict sentence, then where the numbers come from."""
    parts = []
    if j.verdict is not None:
        v = j.verdict
        parts.append(f"<p class=verdict><b>{escape(v.sentence)}</b></p>")
        parts.append(
            f"<p class=note>Test: {escape(v.test)}, alpha {v.alpha}. Models needed: "
            f"{escape(v.power_method)} (post hoc: the observed populations stand in for the truth).</p>"
        )
    flagged = {k: c for k, c in j.near_chance.items() if c}
    if flagged:
        text = "; ".join(f"{k}: {c} run(s)" for k, c in flagged.items())
        parts.append(
            f"<p class=warn>Near chance (within 2 points of guessing; the recipe or data did not "
            f"let them learn): {escape(text)}.</p>"
        )
    if j.provenance:
        items = "".join(f"<li>{escape(line)}</li>" for line in provenance_lines(j.provenance))
        parts.append(f"<ul class=provenance>{items}</ul>")
    if j.ks_by_bins:
        cells = "".join(
            f"<td>{'n/a' if p is None else f'{p:.3g}'}</td>" for p in j.ks_by_bins.values()
        )
        head = "".join(f"<th>{b}</th>" for b in j.ks_by_bins)
        parts.append(
            f"<p class=note>Complexity-normalized KS p-value by number of log-flop bins (the "
            f"report uses {j.bins}: about {MIN_MODELS_PER_BIN} models per bin in the smaller "
            f"population):</p><table><tr><th>bins</th>{head}</tr><tr><th>p</th>{cells}</tr></table>"
        )
    return "\n".join(parts)
