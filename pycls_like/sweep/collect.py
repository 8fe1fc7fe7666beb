"""Collect: one table row per run (sampled parameters, complexity, errors, timing) for analysis.

Works on partial sweeps (pending and running runs get a row with empty errors) and never crashes
on a damaged run directory: a corrupt result.json makes that run `failed` with a warning.
"""

import json
import warnings
from pathlib import Path
from typing import Any

from pycls_like.analysis.qlinear import e_fit_column, widths_before_adjustment
from pycls_like.fileio import write_atomic
from pycls_like.results import COMPLEXITY_COLUMNS, RUN_COLUMNS, TABLE_COLUMNS
from pycls_like.sweep.rundir import (
    CONFIG_FILE,
    SAMPLE_FILE,
    read_json,
    read_result,
    run_dirs,
    status_of,
)

try:  # the C loader when PyYAML has it: config.yaml is read once per run
    from yaml import CSafeLoader as _YAML_LOADER
except ImportError:
    from yaml import SafeLoader as _YAML_LOADER


class CollectWarning(UserWarning):
    """A run directory that could not be read completely; its row says `failed`."""


def run_row(run_dir: Path) -> tuple[dict[str, Any], list[str]]:
    """The table row of one run, and the problems met reading it."""
    problems = []
    sample, problem = read_json(run_dir / SAMPLE_FILE)
    if problem:
        problems.append(problem)
    sample = sample or {}
    result, problem = read_result(run_dir)
    if problem:
        problems.append(problem)
    row: dict[str, Any] = {"id": run_dir.name, "status": status_of(run_dir, result, problem)}
    row.update(sample.get("params", {}))
    complexity = sample.get("complexity", {})
    for key in COMPLEXITY_COLUMNS:
        # The engine measures the model it built; the sample's analytic count covers pending runs.
        row[key] = (result or {}).get(key, complexity.get(key))
    for key in RUN_COLUMNS:
        row[key] = (result or {}).get(key)
    # A RegNet's widths before the group-width adjustment: the ones its (w0, wa, wm) generate.
    widths = sample.get("block_widths", [])
    if widths:
        widths = widths_before_adjustment(_model_section(run_dir)) or widths
    row["block_widths"] = json.dumps(widths)
    return row, problems


def _model_section(run_dir: Path) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.load((run_dir / CONFIG_FILE).read_text(), Loader=_YAML_LOADER)
    except (OSError, yaml.YAMLError):
        return {}
    model = data.get("model") if isinstance(data, dict) else None
    return model if isinstance(model, dict) else {}


def collect_rows(sweep_dir: Path) -> list[dict[str, Any]]:
    """Rows for every run in id order; damaged runs are reported with a CollectWarning."""
    rows = []
    for run_dir in run_dirs(sweep_dir):
        row, problems = run_row(run_dir)
        for problem in problems:
            warnings.warn(f"run {run_dir.name}: {problem}", CollectWarning, stacklevel=2)
        rows.append(row)
    return rows


def columns(rows: list[dict[str, Any]]) -> list[str]:
    """id, status, sampled parameters (first-seen order), complexity, results, block_widths."""
    sampled: dict[str, None] = {}
    for row in rows:
        sampled.update({k: None for k in row if k not in TABLE_COLUMNS})
    return ["id", "status", *sampled, *COMPLEXITY_COLUMNS, *RUN_COLUMNS, "block_widths", "e_fit"]


def collect(sweep_dir: str | Path, write: bool = True) -> Any:
    """The sweep table as a pandas DataFrame; also written to results.csv (+ .parquet with pyarrow)."""
    import pandas as pd

    sweep_dir = Path(sweep_dir)
    rows = collect_rows(sweep_dir)
    table = pd.DataFrame(rows, columns=columns(rows))
    table["id"] = table["id"].astype(str)  # "0007" must not become 7 in readers that sniff types
    table["e_fit"] = e_fit_column(table["block_widths"])  # analysis need not refit
    for col in (
        *COMPLEXITY_COLUMNS,
        "epochs",
    ):  # counts stay integers next to the empty cells of pending runs
        table[col] = table[col].astype("Int64")
    if write:
        write_atomic(sweep_dir / "results.csv", table.to_csv(index=False))
        _write_parquet(table, sweep_dir / "results.parquet")
    return table


def _write_parquet(table: Any, path: Path) -> None:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return
    tmp = path.with_name(f".{path.name}.tmp")
    table.to_parquet(tmp, index=False)
    tmp.replace(path)
