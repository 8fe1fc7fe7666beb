"""One self-contained HTML page comparing design spaces (figures as inline SVG, CSS inline, no
scripts or links), plus a JSON file with the numbers. See `summary.analyze` for the statistics.
"""

import html
import io
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib
import pandas as pd
from matplotlib.figure import Figure

from pycls_like import __version__
from pycls_like.analysis import plots
from pycls_like.analysis.methods import method_notes
from pycls_like.analysis.runtime import (
    FIGURES,
    has_profile,
    r2_differences,
    runtime_fits,
    timing_noise,
)
from pycls_like.analysis.summary import Analysis, analyze
from pycls_like.analysis.table import Population, load_population
from pycls_like.analysis.trends import GOOD_RANGE_MIN_N
from pycls_like.analysis.verdict import Judgement, bins_for, judge, judgement_html

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1300px; color: #222; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 2em; }
table { border-collapse: collapse; margin: .8em 0; font-size: .9em; }
th, td { border: 1px solid #ccc; padding: .3em .6em; text-align: right; }
th { background: #f3f3f3; } td.l, th.l { text-align: left; }
figure { margin: 1em 0; } figure svg { max-width: 100%; height: auto; }
.row { display: flex; flex-wrap: wrap; gap: 1.5em; } .row figure { flex: 1 1 560px; }
figcaption, .note { color: #555; font-size: .9em; }
dl.methods dd { margin: 0 0 .6em 1.5em; color: #333; font-size: .92em; }
.verdict { font-size: 1.25em; } .warn { color: #a00; } .provenance { color: #444; }
"""


def write_report(
    sweep_dirs_or_tables: Sequence["str | Path | pd.DataFrame | Population"]
    | Mapping[str, "str | Path | pd.DataFrame | Population"],
    out_html: str | Path,
    out_json: str | Path | None = None,
    *,
    error: str = "top1_err",
    metric: str = "flops",
    bins: int | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    provenance: dict | None = None,
    permutations: int = 0,
) -> dict:
    """Analyze populations (sweep dirs, table files or DataFrames; a mapping names them) and write
    the HTML report and its JSON summary (default: report.json beside the HTML). Returns the JSON."""
    items = (
        list(sweep_dirs_or_tables.items())
        if isinstance(sweep_dirs_or_tables, Mapping)
        else [(None, s) for s in sweep_dirs_or_tables]
    )
    pops = [load_population(src, name) for name, src in items]
    # Complexity bins follow the population size unless given (verdict.bins_for).
    bins = bins or bins_for(min(len(p.rows(error)) for p in pops))
    result = analyze(
        pops,
        error=error,
        metric=metric,
        bins=bins,
        n_boot=n_boot,
        seed=seed,
        permutations=permutations,
    )
    # Where the numbers come from, at the top of the page; a caller's entries (the demo's) add on.
    provenance = {
        "sources": "; ".join(f"{p.name}: {p.source}" for p in pops),
        "analysis": f"pycls_like {__version__}, {n_boot} bootstrap resamples, seed {seed}",
        **(provenance or {}),
    }
    judgement = judge(
        {p.name: p.rows[error].to_numpy(float) for p in result.populations},
        {p.name: p.rows[metric].to_numpy(float) for p in result.populations},
        {p.name: _near_chance_count(p.rows) for p in result.populations},
        provenance,
        bins,
        seed,
    )
    out_html = Path(out_html)
    out_json = Path(out_json) if out_json else out_html.with_name("report.json")
    out_html.parent.mkdir(parents=True, exist_ok=True)
    out_json.parent.mkdir(parents=True, exist_ok=True)
    summary = {**judgement.to_json(), **result.to_json()}
    out_html.write_text(render_html(result, judgement), encoding="utf-8")
    out_json.write_text(json.dumps(summary, indent=1, allow_nan=False), encoding="utf-8")
    return summary


def _near_chance_count(rows: pd.DataFrame) -> int:
    """Runs flagged near chance by the trainer (tables from elsewhere may lack the column)."""
    if "near_chance" not in rows:
        return 0
    return int(rows["near_chance"].astype(str).str.lower().isin(("true", "1", "1.0")).sum())


def render_html(a: Analysis, judgement: Judgement | None = None) -> str:
    """The report page as one string; it opens with the verdict and the provenance."""
    names = [p.name for p in a.populations]
    tables = {p.name: p.rows for p in a.populations}
    err, fig = a.error, _Figures()
    parts = [
        f"<h1>Design space analysis: {_e(', '.join(names))}</h1>",
        judgement_html(judgement, _e) if judgement else "",
        f"<p class=note>error: <b>{_e(plots.label(err))}</b> ({_e(err)}); complexity metric: "
        f"<b>{_e(a.metric)}</b>. Diverged runs count as 100% error.</p>",
    ]
    if a.notes:
        parts.append("<ul class=note>" + "".join(f"<li>{_e(n)}</li>" for n in a.notes) + "</ul>")
    parts += ["<h2>Summary</h2>", _summary_table(a), "<h2>Error distributions (EDFs)</h2>"]
    edfs = [
        fig(
            plots.plot_edfs(
                {p.name: p.edf for p in a.populations},
                {p.name: p.band for p in a.populations},
                err,
                "raw EDFs",
            ),
            "F(e): fraction of models with error below e; shaded: 95% bootstrap band.",
        )
    ]
    if a.ks:
        edfs.append(
            fig(
                plots.plot_edfs(
                    {p.name: p.edf_normalized for p in a.populations},
                    {p.name: p.band_normalized for p in a.populations},
                    err,
                    f"{a.metric}-normalized EDFs",
                ),
                f"Models weighted so that every population has the same distribution of log10 "
                f"{a.metric} (On Network Design Spaces, sec. 3.2); n_eff: Kish effective size.",
            )
        )
    parts.append(_row(edfs))
    if a.ks:
        parts += ["<h3>Kolmogorov-Smirnov tests</h3>", _ks_table(a)]
    parts += [
        "<h2>Random search efficiency and complexity</h2>",
        _row(
            [
                fig(
                    plots.plot_best_of_n({p.name: p.best_of_n for p in a.populations}, err),
                    "Expected minimum error of n models drawn at random WITH replacement from each "
                    "population (see Methods: at n = population size it exceeds the best model's "
                    "error); band: 5th-95th percentiles of that minimum.",
                ),
                fig(
                    plots.plot_error_vs_metric(tables, a.metric, err),
                    "Lines: median error per complexity bin, about 10 models per bin (none below "
                    "30 models).",
                ),
            ]
        ),
    ]
    if a.params:
        ranges = {p.name: p.good_ranges for p in a.populations}
        parts += [
            "<h2>Error vs each parameter</h2>",
            fig(
                plots.plot_error_vs_params(tables, a.params, err, ranges),
                "Shaded: 2.5-97.5 percentiles of the best model's value over 10^4 bootstrap samples "
                "of 25% of the models (Designing Network Design Spaces, sec. 3.1), its edges dashed "
                "or dotted per population; solid line: median. "
                f"Shown only for populations of at least {GOOD_RANGE_MIN_N} runs.",
            ),
            _ranges_table(a),
        ]
    if a.has_fits:
        parts += [
            "<h2>Quantized-linear fits</h2>",
            _row(
                [
                    fig(
                        plots.plot_error_vs_efit(tables, err),
                        "e_fit = mean |log(w_j / w_fit_j)| of each model's per-block widths against the "
                        "best RegNet width rule (Designing Network Design Spaces, sec. 3.3).",
                    )
                ]
            ),
            _fit_table(a),
        ]
    curves = {(p.name, run): frame for p in a.populations for run, frame in p.curves.items()}
    if curves:
        parts += [
            "<h2>Training curves of the best runs</h2>",
            fig(
                plots.plot_training_curves(curves, names, err),
                "Each run in its population's colour; line styles tell runs apart.",
            ),
        ]
    if any(has_profile(t) for t in tables.values()):
        parts += ["<h2>What predicts runtime</h2>", _runtime_panel(tables)]
    parts += ["<h2>Methods: tests, caveats and definitions</h2>", _methods(a)]
    body = "\n".join(parts)
    return (
        f"<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
        f"<title>{_e(' vs '.join(names))}: analysis</title><style>{_CSS}</style></head>"
        f"<body>\n{body}\n</body></html>\n"
    )


def _methods(a: Analysis) -> str:
    items = "".join(f"<dt><b>{_e(k)}</b></dt><dd>{_e(v)}</dd>" for k, v in method_notes(a))
    return f"<dl class=methods>{items}</dl>"


def _row(figures: list[str]) -> str:
    """Figures side by side (wrapping on narrow windows)."""
    return f"<div class=row>{''.join(figures)}</div>"


class _Figures:
    """Renders figures to inline SVG with ids made unique across the page."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, figure: Figure, caption: str) -> str:
        self.count += 1
        buf = io.StringIO()
        # No <metadata> block: it holds a date (unreproducible pages) and external namespace URLs.
        # Text as <text> (searchable, small), set for this call only; rasterized layers at 120 dpi.
        with matplotlib.rc_context({"svg.fonttype": "none"}):
            figure.savefig(
                buf,
                format="svg",
                dpi=120,
                metadata=dict.fromkeys(("Creator", "Date", "Format", "Type")),
            )
        svg = buf.getvalue()
        svg = svg[svg.index("<svg") :]  # drop the XML prolog and DOCTYPE: not valid inside HTML
        prefix = f"f{self.count}-"
        svg = re.sub(r'\bid="([^"]+)"', rf'id="{prefix}\1"', svg)
        svg = re.sub(r"url\(#([^)]+)\)", rf"url(#{prefix}\1)", svg)
        svg = re.sub(r'href="#([^"]+)"', rf'href="#{prefix}\1"', svg)
        cap = f"<figcaption>{_e(caption)}</figcaption>" if caption else ""
        return f"<figure>{svg}{cap}</figure>"


def _e(text: object) -> str:
    return html.escape(str(text))


def _fmt(value: object) -> str:
    """Numbers for tables: ints as is, large counts in M/G (flops, params), 3 significant digits."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return _e(value)
    v = float(value)
    if v != v:
        return "-"
    if abs(v) >= 1e9:
        return f"{v / 1e9:.3g} G"
    if abs(v) >= 1e6:
        return f"{v / 1e6:.3g} M"
    return (
        str(int(v)) if isinstance(value, int) or (v.is_integer() and abs(v) >= 1000) else f"{v:.3g}"
    )


def _table(header: list[str], rows: list[list[object]], left: int = 1) -> str:
    def cells(tag: str, values: list) -> str:
        return "".join(
            f"<{tag}{' class=l' if i < left else ''}>{v}</{tag}>" for i, v in enumerate(values)
        )

    head = f"<tr>{cells('th', [_e(h) for h in header])}</tr>"
    body = "".join(f"<tr>{cells('td', [_fmt(v) for v in r])}</tr>" for r in rows)
    return f"<table>{head}{body}</table>"


def _summary_table(a: Analysis) -> str:
    rows = []
    for p in a.populations:
        best = p.best(a.error)
        ignored = sum(v for k, v in p.counts.items() if k not in ("complete", "diverged"))
        rows.append(
            [
                p.name,
                len(p.rows),
                p.counts.get("complete", 0),
                p.counts.get("diverged", 0),
                ignored,
                float(p.rows[a.error].min()),
                float(p.rows[a.error].median()),
                str(best["id"]),
                float(best.get("flops", float("nan"))),
                float(best.get("params", float("nan"))) / 1e6,
            ]
        )
    header = [
        "population",
        "n analysed",
        "complete",
        "diverged",
        "ignored (pending/running/failed)",
        f"min {a.error}",
        f"median {a.error}",
        "best model",
        "best: flops",
        "best: params (M)",
    ]
    return _table(header, rows)


def _ks_table(a: Analysis) -> str:
    rows = [[x, y, "raw", r.statistic, r.pvalue, f"{r.n_a:.0f} / {r.n_b:.0f}"] for x, y, r in a.ks]
    rows += [
        [
            x,
            y,
            f"{a.metric}-normalized",
            r.statistic,
            r.pvalue,
            f"{r.n_a:.0f} / {r.n_b:.0f} (effective)",
        ]
        for x, y, r in [*a.ks_normalized, *a.ks_permutation]
    ]
    tests = ["scipy.stats.ks_2samp"] * len(a.ks) + [
        "weighted KS, Kolmogorov approximation (conservative)"
    ] * len(a.ks_normalized)
    tests += [f"weighted KS, {r.method}" for _, _, r in a.ks_permutation]
    rows = [[*r[:3], t, *r[3:]] for r, t in zip(rows, tests, strict=True)]
    note = (
        "<p class=note>Each test and its caveats: see Methods below."
        + (
            ""
            if a.ks_permutation
            else " The normalized p-value is approximate; `analyze --permutations 1000` adds an"
            " exact permutation p-value."
        )
        + "</p>"
    )
    header = ["population A", "population B", "EDFs", "test", "KS statistic D", "p-value", "n"]
    return _table(header, rows, 4) + note


def _ranges_table(a: Analysis) -> str:
    """Good ranges (where estimated), best-model shares and Spearman rho per parameter."""
    rows = []
    for p in a.populations:
        rho = (
            {}
            if p.spearman is None
            else dict(zip(p.spearman["param"], p.spearman["rho"], strict=True))
        )
        for param in a.params:
            r = p.good_ranges.get(param)
            if r is not None:
                rows.append([p.name, param, r.lo, r.mid, r.hi, rho.get(param, float("nan"))])
            elif param in p.best_shares:
                top = ", ".join(f"{k} {v:.0%}" for k, v in list(p.best_shares[param].items())[:4])
                rows.append([p.name, param, f"best model's value: {top}", "", "", float("nan")])
            elif param in rho:
                rows.append([p.name, param, "-", "-", "-", rho[param]])
    if not rows:
        return ""
    header = [
        "population",
        "parameter",
        "good range: 2.5%",
        "median",
        "97.5%",
        "Spearman rho (vs error)",
    ]
    return _table(header, rows, 3)


def _fit_table(a: Analysis) -> str:
    rows = []
    for p in a.populations:
        if "e_fit" not in p.rows:
            continue
        fitted = p.rows.dropna(subset=["e_fit"])
        if fitted.empty:
            continue
        best, f = fitted.loc[fitted[a.error].idxmin()], p.best_fit
        rows.append(
            [
                p.name,
                len(fitted),
                f"{(fitted['e_fit'] == 0).mean():.0%}",
                float(fitted["e_fit"].median()),
                str(best["id"]),
                f"d={f.d} w0={f.w0} wa={f.wa:.2f} wm={f.wm:.3f} e_fit={f.e_fit:.3g}"
                if f is not None
                else "-",
            ]
        )
    header = [
        "population",
        "models fitted",
        "fraction exact (e_fit = 0)",
        "median e_fit",
        "best model",
        "its fit",
    ]
    return _table(header, rows)


def _runtime_panel(tables: dict[str, pd.DataFrame]) -> str:
    """Measured time and memory against flops, params and acts (analysis.runtime), per
    population and measurement setting, with the repeat spread of the timings."""
    parts = [
        "<p class=note>Each measured figure y fit as log y = log c + e log x over the profiled "
        "models (`pycls-like profile`); R^2 and exponent e with 95% bootstrap intervals. Fast and "
        "Accurate Model Scaling (sec. 3) finds acts, not flops, predict GPU runtime. Settings "
        "(device, dtype, batch, threads) are never pooled.</p>"
    ]
    for name, table in tables.items():
        if not has_profile(table):
            continue
        fits = runtime_fits(table)
        if fits.empty:
            continue
        diffs = r2_differences(table).set_index(["setting", "figure"])
        noise = timing_noise(table).set_index(["setting", "figure"])
        rows = []
        for (setting, figure), group in fits.groupby(["setting", "figure"], sort=False):
            cells: list[object] = [name, setting, FIGURES[figure], int(group["n"].max())]
            for r in group.itertuples():
                cells.append(f"{r.r2:.2f} [{r.r2_lo:.2f}, {r.r2_hi:.2f}]; e {r.exponent:.2f}")
            d = diffs.loc[(setting, figure)] if (setting, figure) in diffs.index else None
            cells.append("-" if d is None else f"{d.difference:+.2f} [{d.lo:+.2f}, {d.hi:+.2f}]")
            spread = noise.loc[(setting, figure)] if (setting, figure) in noise.index else None
            cells.append("-" if spread is None else f"{100 * spread.median_rel_iqr:.1f}%")
            rows.append(cells)
        header = ["population", "setting", "figure", "n", "flops", "params", "acts"]
        header += ["R^2(acts) - R^2(flops)", "timing IQR/median"]
        parts.append(_table(header, rows, left=3))
    return "\n".join(parts)
