"""The HTML report: self-contained, SVG figures with unique ids, numbers agreeing with scipy, partial
sweeps and single populations handled, and (when chromium exists) a real headless render."""

import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest
from scipy import stats

from pycls_like.analysis.report import write_report
from pycls_like.analysis.table import load_population
from pycls_like.errors import ConfigError
from tests.test_analysis_sweeps import make_sweep

CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
)


@pytest.fixture(scope="module")
def two_sweeps(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweeps")
    a = make_sweep(root / "x", "RegNetX", n=70, seed=0)
    b = make_sweep(root / "y", "RegNetY", n=60, seed=1, shift=-1.5)
    out = root / "out" / "report.html"
    summary = write_report([a, b], out, n_boot=200)
    return a, b, out, summary


def _svgs(page: str) -> list[str]:
    return re.findall(r"<svg.*?</svg>", page, flags=re.S)


def test_report_is_self_contained_with_svg_figures(two_sweeps):
    _, _, out, _ = two_sweeps
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>")
    for forbidden in ("<script", "<link", "<img", "<iframe", "@import", "http://", "https://"):
        # The only URLs allowed are the SVG/XLink namespace declarations inside the figures.
        found = re.sub(r'xmlns(:xlink)?="http://www\.w3\.org/[^"]*"', "", page)
        assert forbidden not in found, forbidden
    svgs = _svgs(page)
    assert len(svgs) == 7  # raw + normalized EDFs, best-of-n, complexity, parameters, e_fit, curves
    for svg in svgs:
        ET.fromstring(svg)  # each inline figure is well-formed XML
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), "figure ids must be unique across the page"
    refs = set(re.findall(r'(?:href="#|url\(#)([^")]+)', page))
    assert refs <= set(ids), "every internal reference resolves"
    for heading in (
        "Summary",
        "Error distributions",
        "Kolmogorov-Smirnov",
        "Random search",
        "each parameter",
        "Quantized-linear fits",
        "Training curves",
    ):
        assert heading in page, heading
    assert "1 failed, 2 pending rows ignored" in page


def test_report_numbers_match_scipy_and_json(two_sweeps):
    a, b, out, summary = two_sweeps
    on_disk = json.loads((out.parent / "report.json").read_text())
    assert on_disk == summary
    rows = [load_population(p).rows() for p in (a, b)]
    ks = summary["ks"][0]
    ref = stats.ks_2samp(rows[0]["top1_err"], rows[1]["top1_err"])
    assert (ks["statistic"], ks["pvalue"]) == (ref.statistic, ref.pvalue)
    assert (
        ks["method"] == "scipy.ks_2samp"
        and summary["ks_normalized"][0]["method"] == "weighted-kolmogorov"
    )
    x = summary["populations"][0]
    assert x["name"] == "RegNetX" and x["counts"] == {
        "complete": 65,
        "diverged": 2,
        "pending": 2,
        "failed": 1,
    }
    assert x["n"] == 67 and x["min_error"] == rows[0]["top1_err"].min()
    best = rows[0].loc[rows[0]["top1_err"].idxmin()]
    assert x["best"]["id"] == best["id"] and x["best"]["flops"] == best["flops"]
    assert {"d", "w0", "wa", "wm", "lr"} <= set(x["good_ranges"]) and "optimizer" in x[
        "best_shares"
    ]
    assert 0 < x["qlinear"]["exact_fraction"] < 1  # a third of the fixture's models are off-rule
    assert len(x["training_curves"]) == 3
    page = out.read_text()
    assert f"{ref.statistic:.3g}" in page and f"{ref.pvalue:.3g}" in page


def test_single_population_from_a_frame(tmp_path):
    table = pd.read_csv(make_sweep(tmp_path / "s", n=40) / "results.csv", dtype={"id": str})
    table = table.drop(columns=["block_widths"])
    summary = write_report(
        {"only": table}, tmp_path / "r.html", tmp_path / "numbers.json", n_boot=100
    )
    page = (tmp_path / "r.html").read_text()
    assert summary["ks"] == [] and "Kolmogorov-Smirnov" not in page
    assert (
        "single population" in page
        and "no quantized-linear fits" in page
        and "no training curves" in page
    )
    assert len(_svgs(page)) == 4  # raw EDF, best-of-n, complexity, parameters
    assert (tmp_path / "numbers.json").is_file()
    # Provenance at the top (before the first section): the sources and the analysis settings.
    top = page.split("<h2>")[0]
    assert "sources: only:" in top and "100 bootstrap resamples, seed 0" in top
    assert summary["provenance"]["sources"].startswith("only:")


def test_empty_population_and_missing_metric(tmp_path):
    path = make_sweep(tmp_path / "s", n=10, diverged=0, pending=10, failed=0)
    with pytest.raises(ConfigError, match="empty population"):
        write_report([path], tmp_path / "r.html")
    table = load_population(make_sweep(tmp_path / "t", n=10)).table.drop(columns=["flops"])
    with pytest.raises(ConfigError, match="missing column 'flops'"):
        write_report([table], tmp_path / "r.html")


@pytest.mark.slow  # starts a browser: left to the default run
@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed")
def test_report_renders_in_headless_chromium(two_sweeps, tmp_path):
    _, _, out, _ = two_sweeps
    png = tmp_path / "shot.png"
    cmd = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
        f"--screenshot={png}", "--window-size=1400,4000", out.resolve().as_uri(),
    ]  # fmt: skip
    subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    assert png.is_file() and png.stat().st_size > 50_000  # a blank page compresses to a few KB


@pytest.mark.slow  # seconds: kept out of the fast tier, run by default
def test_report_text_is_searchable_and_dense_layers_rasterized(tmp_path):
    """Axes and text stay SVG text (searchable, small); scatter layers above 300 points become
    images; the Methods section names each test and defines best-of-n; the permutation option."""
    a = make_sweep(tmp_path / "a", "space_a", n=400, seed=1, curves=0)
    b = make_sweep(tmp_path / "b", "space_b", n=400, seed=2, shift=1.0, curves=0)
    summary = write_report([a, b], tmp_path / "r.html", n_boot=100, permutations=99)
    page = (tmp_path / "r.html").read_text()
    assert "<text" in page and ">top-1 error (%)</text>" in page
    assert "<image" in page  # rasterized scatter layers
    assert "flops (MF, multiply-adds)" in page  # complexity in MF/GF, not raw multiply-adds
    for name in ("Raw KS test", "Permutation test", "Best of n", "WITH replacement"):
        assert name in page, name
    (perm,) = summary["ks_permutation"]
    assert perm["method"].startswith("permutation (99") and 0 < perm["pvalue"] <= 1
    assert len(page) < 5e6
