"""What each number of the report means: the tests by name, their caveats, and the definitions
(best-of-n, good ranges), written once for the HTML report's "Methods" section."""

from pycls_like.analysis.summary import Analysis
from pycls_like.analysis.trends import GOOD_RANGE_MIN_N


def method_notes(a: Analysis) -> list[tuple[str, str]]:
    """(name, explanation) of every test and definition the report uses, caveats included."""
    out = (
        []
        if not a.ks
        else [
            (
                "Raw KS test",
                "two-sample Kolmogorov-Smirnov test of the error EDFs, scipy.stats.ks_2samp (exact "
                "p-value for small samples). Caveat: it compares the whole distributions, so spaces "
                "that differ in complexity differ in error for that reason alone; read it beside the "
                "normalized test.",
            ),
            (
                f"Complexity-normalized KS test ({a.metric})",
                f"models are weighted so that both populations have the same distribution over bins "
                f"of log10 {a.metric} (On Network Design Spaces, sec. 3.2); D is the largest gap "
                "between the weighted EDFs. Its p-value here is approximate: the Kolmogorov "
                "distribution at Kish's effective sample sizes, which is conservative (about 1% "
                "rejections at a nominal 5% in tools/calibrate_permutation.py). Bins without models "
                "of every population are dropped; p moves with the bin count.",
            ),
        ]
    )
    if a.ks_permutation:
        n_perm = a.ks_permutation[0][2].method
        out.append(
            (
                "Permutation test (normalized KS)",
                f"{n_perm}: the space labels are shuffled within each complexity bin and D "
                "recomputed; p = (1 + #{D* >= D}) / (1 + permutations). Exact up to Monte Carlo "
                "error (s.e. sqrt(p(1-p)/permutations)) when, within a bin, errors do not depend on "
                "the space; if the spaces' complexities differ inside a bin and error depends on "
                "complexity, that difference counts as a space effect.",
            )
        )
    out += [
        (
            "Bootstrap bands",
            "pointwise 2.5-97.5 percentiles of the EDF over resamples of the models with "
            "replacement (weights kept for normalized EDFs); not simultaneous bands.",
        ),
        (
            "Best of n",
            "the expected minimum error of n models drawn at random WITH replacement from the "
            "population's empirical error distribution, E[min] = sum_k e_k (S_k^n - S_(k+1)^n) "
            "with S_k the share of models with error >= e_k; the band spans its 5th-95th "
            "percentiles. At n = population size it is above the best model's error, since "
            "draws with replacement repeat models.",
        ),
        (
            "Good ranges",
            f"2.5-97.5 percentiles of the best model's parameter value over 10^4 bootstrap "
            f"samples of 25% of the models (Designing Network Design Spaces, sec. 3.1); shown "
            f"only for populations of at least {GOOD_RANGE_MIN_N} runs. One bootstrap is shared "
            "by all parameters of a population.",
        ),
        (
            "Binned medians",
            "median error per bin of the x axis, about 10 models per bin (3 to 10 bins); no line "
            "below 30 models.",
        ),
        (
            "Quantized-linear fit (e_fit)",
            "mean |log(w_j / w_fit_j)| of a model's per-block widths against the best RegNet "
            "width rule over w0 (multiples of 8 up to the largest width), wa >= 0, wm in "
            "[1.1, 10]; a RegNet's widths are taken before the group-width adjustment.",
        ),
    ]
    return out
