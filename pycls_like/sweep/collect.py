"""Collect: one table row per run (sampled parameters, complexity, errors, timing) for analysis.

Works on partial sweeps (pending and running runs get a row with empty errors) and never crashes
on a damaged run directory: a corrupt result.json makes that run `failed` with a warning.
"""

import hashlib
import json
import warnings
from pathlib import Path
from typing import Any

from pycls_like.analysis.qlinear import e_fit_column, widths_before_adjustment
from pycls_like.errors import ConfigError
from pycls_like.fileio import move_aside, read_text, write_owned
from pycls_like.limits import check_tree
from pycls_like.results import (
    COMPLEXITY_COLUMNS,
    PROFILE_COLUMNS,
    RUN_COLUMNS,
    TABLE_COLUMNS,
    profile_row,
)
from pycls_like.sweep.rundir import (
    CONFIG_FILE,
    PROFILE_FILE,
    RESULT_FILE,
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
    """A run directory that could not be read completely (its row says `corrupt` when its result
    is damaged), or a sweep table rebuilt because it no longer matched the run dirs."""


def _mapping(record: dict[str, Any], key: str) -> dict[str, Any]:
    value = record.get(key)
    return value if isinstance(value, dict) else {}


def run_row(run_dir: Path) -> tuple[dict[str, Any], list[str]]:
    """The table row of one run, and the problems met reading it (any bytes in any file)."""
    problems = []
    sample, problem = read_json(run_dir / SAMPLE_FILE)
    if sample is None and problem is None:
        problem = f"{run_dir / SAMPLE_FILE} missing (`sweep setup` rebuilds it)"
    if problem:
        problems.append(problem)
    sample = sample or {}
    result, problem = read_result(run_dir)
    if problem:
        problems.append(problem)
    row: dict[str, Any] = {"id": run_dir.name, "status": status_of(run_dir, result, problem)}
    params = _mapping(sample, "params")
    row.update({k: v for k, v in params.items() if k not in row and not isinstance(v, dict)})
    complexity = _mapping(sample, "complexity")
    for key in COMPLEXITY_COLUMNS:
        # The engine measures the model it built; the sample's analytic count covers pending runs.
        row[key] = (result or {}).get(key, complexity.get(key))
    for key in RUN_COLUMNS:
        row[key] = (result or {}).get(key)
    profile, problem = read_json(run_dir / PROFILE_FILE)  # measured speed (`pycls-like profile`)
    if problem:
        problems.append(problem)
    if profile is not None:
        try:
            row.update(profile_row(profile))
        except (AttributeError, TypeError):
            problems.append(f"corrupt {run_dir / PROFILE_FILE} (unexpected layout)")
    # A RegNet's widths before the group-width adjustment: the ones its (w0, wa, wm) generate.
    widths = sample.get("block_widths", [])
    if not (isinstance(widths, list) and all(type(w) is int and w > 0 for w in widths)):
        problems.append(f"corrupt {run_dir / SAMPLE_FILE} (block_widths)")
        widths = []
    if widths:
        widths = widths_before_adjustment(_model_section(run_dir)) or widths
    row["block_widths"] = json.dumps(widths)
    return row, problems


def _model_section(run_dir: Path) -> dict[str, Any]:
    """The run config's model section, {} if the config is unusable or its numbers out of bounds."""
    import yaml

    try:
        data = yaml.load(read_text(run_dir / CONFIG_FILE), Loader=_YAML_LOADER)
        model = data.get("model") if isinstance(data, dict) else None
        check_tree(model)
    except (ConfigError, yaml.YAMLError, RecursionError):
        return {}
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
    """id, status, sampled parameters (first-seen order), complexity, results, the profile
    columns if any run was profiled, block_widths."""
    sampled: dict[str, None] = {}
    for row in rows:
        sampled.update({k: None for k in row if k not in TABLE_COLUMNS})
    profiled = PROFILE_COLUMNS if any("fwd_ms" in row for row in rows) else ()
    return [
        "id", "status", *sampled, *COMPLEXITY_COLUMNS, *RUN_COLUMNS, *profiled, "block_widths", "e_fit",
    ]  # fmt: skip


TABLE_FILE = "results.csv"
# What the table covers: its row count, its bytes' sha256, and a fingerprint of the run files it
# was made from. A truncated table (a cut value, half the rows) or a stale one (runs finished
# since) no longer matches and is rebuilt from the run dirs before analysis.
TABLE_META_FILE = "results.meta.json"
_ROW_FILES = (RESULT_FILE, SAMPLE_FILE, PROFILE_FILE, CONFIG_FILE)


def runs_fingerprint(sweep_dir: Path) -> tuple[int, str]:
    """(run count, hash of the name, size and mtime of every file a row is made from): a few
    stats per run, cheap enough to check before every analysis of a 10,000-run sweep."""
    digest = hashlib.sha256()
    runs = run_dirs(sweep_dir)
    for run_dir in runs:
        digest.update(run_dir.name.encode())
        for name in _ROW_FILES:
            try:
                st = (run_dir / name).stat()
                digest.update(f"{name}:{st.st_size}:{st.st_mtime_ns};".encode())
            except OSError:
                digest.update(f"{name}:-;".encode())
    return len(runs), digest.hexdigest()


def _write_table(sweep_dir: Path, table: Any, fingerprint: tuple[int, str]) -> None:
    text = table.to_csv(index=False)
    write_owned(sweep_dir / TABLE_FILE, text)
    meta = {
        "rows": len(table),
        "runs": fingerprint[0],
        "sha256": hashlib.sha256(text.encode()).hexdigest(),
        "runs_fingerprint": fingerprint[1],
    }
    write_owned(sweep_dir / TABLE_META_FILE, json.dumps(meta) + "\n")


def table_problem(sweep_dir: Path) -> str | None:
    """Why results.csv does not describe the sweep's run dirs (None: it does, or there is no meta
    file to tell: a table written by hand or an older version is taken as it is). With no run
    dirs to compare (a table copied alone), only its bytes are checked."""
    meta_path = sweep_dir / TABLE_META_FILE
    if not (meta_path.exists() or meta_path.is_symlink()):
        return None
    meta, problem = read_json(meta_path)
    if meta is None:
        return problem
    try:
        with open(sweep_dir / TABLE_FILE, "rb") as f:  # streamed: tables of 10^6 runs too
            digest = hashlib.file_digest(f, "sha256").hexdigest()
    except FileNotFoundError:
        return f"{TABLE_FILE} missing"
    except OSError as err:
        return f"{TABLE_FILE}: cannot read ({err.strerror})"
    if digest != meta.get("sha256"):
        return f"{TABLE_FILE} does not match its checksum (truncated or edited)"
    if (sweep_dir / "runs").is_dir():
        runs, fingerprint = runs_fingerprint(sweep_dir)
        if runs != meta.get("runs"):
            return f"{TABLE_FILE} covers {meta.get('runs')} runs, the sweep has {runs}"
        if fingerprint != meta.get("runs_fingerprint"):
            return f"{TABLE_FILE} is older than the run dirs (runs changed since collect)"
    return None


def current_table(sweep_dir: Path) -> Path:
    """results.csv, rebuilt from the run dirs (with a warning saying why) unless it is current;
    a damaged table with no run dirs to rebuild it from is a one-line error."""
    table = sweep_dir / TABLE_FILE
    problem = table_problem(sweep_dir)
    if problem is None and (table.is_file() or not (sweep_dir / "runs").is_dir()):
        return table
    problem = problem or f"{TABLE_FILE} missing"
    if not (sweep_dir / "runs").is_dir():
        raise ConfigError(f"{problem}; no run dirs to rebuild it from", source=str(sweep_dir))
    warnings.warn(f"{sweep_dir}: {problem}; rebuilding it from the run dirs", CollectWarning, 2)
    collect(sweep_dir)
    return table


def collect(sweep_dir: str | Path, write: bool = True) -> Any:
    """The sweep table as a pandas DataFrame; also written to results.csv (+ .parquet with pyarrow)."""
    import pandas as pd

    sweep_dir = Path(sweep_dir)
    fingerprint = runs_fingerprint(sweep_dir)  # before reading: a run ending meanwhile is seen
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
        _write_table(sweep_dir, table, fingerprint)
        _write_parquet(table, sweep_dir / "results.parquet")
    return table


def _write_parquet(table: Any, path: Path) -> None:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return
    tmp = path.with_name(f".{path.name}.tmp")
    table.to_parquet(tmp, index=False)
    if not path.is_file() and path.exists():
        move_aside(path)
    tmp.replace(path)
