"""Sweep tables: read a sweep directory or a table file, validate it, select analysable rows.

DESIGN.md: analysis reads only the table (one row per run), so it works on partial sweeps and on
tables imported from elsewhere. Complete and diverged runs are analysed (a diverged run is a result:
error 100%); pending, running and failed rows are counted and reported, never analysed.
"""

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from pycls_like.analysis.formats import read_table
from pycls_like.errors import ConfigError
from pycls_like.fileio import read_text
from pycls_like.results import ERROR_COLUMNS, TABLE_COLUMNS
from pycls_like.rundir import FINISHED, METRICS_FILE, jsonl_records

USED_STATUSES = FINISHED


class CurveWarning(UserWarning):
    """A run's metrics.jsonl is damaged: its training curve is left out of the report."""


DIVERGED_ERROR = 100.0


@dataclass(frozen=True)
class Population:
    """One sweep's table, its display name and where its per-run curves live (if anywhere)."""

    name: str
    table: pd.DataFrame  # every row as read (all statuses)
    source: str
    runs_dir: Path | None

    def rows(self, error: str = "top1_err") -> pd.DataFrame:
        """Complete and diverged rows; diverged errors set to 100 (a result, not missing data)."""
        require_columns(self, ["status", error])
        used = self.table[self.table["status"].isin(USED_STATUSES)].copy()
        used[error] = _numeric(used[error], error, self.source)
        for col in {error, *ERROR_COLUMNS} & set(used.columns):
            if col != error:
                used[col] = pd.to_numeric(used[col], errors="coerce")
            used.loc[used["status"] == "diverged", col] = DIVERGED_ERROR
        missing = used["status"].eq("complete") & used[error].isna()
        if missing.any():
            ids = ", ".join(used.loc[missing, "id"].head(3))
            raise ConfigError(
                f"complete runs without {error}: {ids}", key=error, source=self.source
            )
        return used

    def status_counts(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in self.table["status"].value_counts().items()}

    def curves(self, run_id: str) -> pd.DataFrame | None:
        """Per-epoch metrics of one run (runs/<id>/metrics.jsonl), or None when absent."""
        if self.runs_dir is None:
            return None
        path = self.runs_dir / str(run_id) / METRICS_FILE
        if not path.exists():
            return None
        # A damaged curve is skipped with a warning: it is an illustration, not the report's data.
        records, bad = jsonl_records(path)
        records = [r for r in records if isinstance(r.get("epoch"), int | float)]
        if bad or not path.is_file():
            warnings.warn(f"{path}: skipped {bad or 'all'} damaged line(s)", CurveWarning, 2)
        if not records:
            return None
        frame = pd.DataFrame(records)
        for column in frame.columns:
            if column in ("epoch", "train_loss", *ERROR_COLUMNS) or column.endswith("_err"):
                frame[column] = pd.to_numeric(frame[column], errors="coerce")
        return frame


def load_population(
    source: "str | Path | pd.DataFrame | Population", name: str | None = None
) -> Population:
    """A sweep directory (results.csv, sweep.yaml name, runs/), a CSV/JSON/JSONL table, a frame,
    or a population already loaded (returned as it is, so callers never read a table twice)."""
    if isinstance(source, Population):
        return source
    if isinstance(source, pd.DataFrame):
        pop = Population(name or "table", source.copy(), name or "table", None)
    else:
        path = Path(source)
        if path.is_dir():
            table_path, sweep_dir = path / "results.csv", path
            if not (table_path.exists() or (path / "runs").is_dir()):
                raise ConfigError(
                    "no results.csv here: not a collected sweep directory", source=str(path)
                )
            table_path = _current_table(path)
        elif path.is_file():
            table_path = path
            sweep_dir = path.parent if path.name == "results.csv" else None
            if sweep_dir is not None:
                table_path = _current_table(sweep_dir)
        else:
            raise ConfigError("no such sweep directory or table file", source=str(path))
        table = _read_table(table_path)
        display = name or (_sweep_name(sweep_dir) if sweep_dir else path.stem)
        runs = (sweep_dir or path.parent) / "runs"
        pop = Population(display, table, str(table_path), runs if runs.is_dir() else None)
    # Optional columns of tables from elsewhere: ids default to the row number, status to complete.
    if "id" not in pop.table:
        pop.table.insert(0, "id", [f"{i:04d}" for i in range(len(pop.table))])
    if "status" not in pop.table:
        pop.table.insert(1, "status", "complete")
    pop.table["id"] = pop.table["id"].astype(str)
    pop.table["status"] = pop.table["status"].astype(str).str.strip().str.lower()
    return pop


def require_columns(pop: Population, columns: list[str]) -> None:
    """ConfigError naming the table and every missing column at once."""
    missing = [c for c in dict.fromkeys(columns) if c not in pop.table.columns]
    if missing:
        have = ", ".join(map(str, pop.table.columns[:12]))
        more = ", ..." if len(pop.table.columns) > 12 else ""
        names = ", ".join(repr(c) for c in missing)
        raise ConfigError(
            f"missing column{'s' if len(missing) > 1 else ''} {names} (columns: {have}{more})",
            source=pop.source,
        )


def parameter_columns(table: pd.DataFrame) -> list[str]:
    """Sampled parameters: every column `collect` does not write itself, varying in the table."""
    return [
        c for c in table.columns if c not in TABLE_COLUMNS and table[c].nunique(dropna=True) > 1
    ]


def as_numeric(values: pd.Series) -> pd.Series | None:
    """The values as numbers, or None for a categorical parameter (optimizer, block type, bools)."""
    if pd.api.types.is_bool_dtype(values) or values.map(lambda v: isinstance(v, bool)).any():
        return None
    numbers = pd.to_numeric(values, errors="coerce")
    return numbers if numbers.notna().sum() == values.notna().sum() else None


def parse_block_widths(
    value: object, run_id: str = "?", source: str | None = None
) -> list[int] | None:
    """Parse a `block_widths` cell (JSON list of integers); None when empty (e.g. a ViT)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    try:
        widths = json.loads(value) if isinstance(value, str) and value.strip() else value
    except ValueError:
        widths = None
    if isinstance(widths, str) and not widths.strip():
        return None
    if not isinstance(widths, list) or not all(_is_integral(w) for w in widths):
        raise ConfigError(
            f"block_widths of run {run_id} is not a JSON list of integers: {str(value)[:60]!r}",
            key="block_widths",
            source=source,
        )
    return [int(w) for w in widths] or None


def _is_integral(w: object) -> bool:
    return (
        isinstance(w, int | float) and not isinstance(w, bool) and float(w).is_integer() and w > 0
    )


def _numeric(values: pd.Series, column: str, source: str) -> pd.Series:
    try:
        return pd.to_numeric(values)
    except (ValueError, TypeError):
        raise ConfigError(f"column {column!r} must be numeric", key=column, source=source) from None


def _current_table(sweep_dir: Path) -> Path:
    """A sweep's results.csv, rebuilt from its run dirs if truncated or stale (`sweep.collect`)."""
    from pycls_like.sweep.collect import current_table

    return current_table(sweep_dir)


def _read_table(path: Path) -> pd.DataFrame:
    return read_table(path)  # every external format lives in analysis.formats


def _sweep_name(sweep_dir: Path) -> str:
    config = sweep_dir / "sweep.yaml"
    if config.is_file():
        try:
            data = yaml.safe_load(read_text(config))
        except yaml.YAMLError as err:
            raise ConfigError(
                f"invalid YAML: {str(err).splitlines()[0]}", source=str(config)
            ) from None
        if isinstance(data, dict) and data.get("name"):
            return str(data["name"])
    return sweep_dir.resolve().name
