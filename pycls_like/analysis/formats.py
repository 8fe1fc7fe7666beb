"""Readers of sweep tables from elsewhere, each turned into the sweep-table columns (README:
"Tables from elsewhere"): plain CSV / JSON / JSONL / parquet tables, pycls's collected sweep JSON
(`pycls/sweep`: records with `cfg`, `complexity`, `test_epoch`) and the released NDS model data
(On Network Design Spaces: records with `net`, `flops`, `params`, `min_test_top1`).

Conventions of the sources, converted here once:
- pycls: complexity in absolute units; the error is the minimum of `test_epoch.min_top1_err`
  (`ema_top1_err` from `test_ema_epoch` when present); a run is complete when its last epoch
  index reaches `epoch_max`.
- NDS: `flops` and `params` are given in millions (nni's NDS tables document the same unit) and
  multiplied by 1e6; `min_test_top1` is the top-1 ERROR in % (NDS names errors "top1").
"""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from pycls_like.errors import ConfigError
from pycls_like.regnet import regnet_block_widths


def read_table(path: Path) -> pd.DataFrame:
    """The sweep table in `path`, whatever its format (by suffix, then by the records' keys)."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(path, dtype={"id": str})  # ids like "0007" stay strings
        if suffix == ".parquet":
            return _read_parquet(path)
        if suffix == ".jsonl":
            return pd.read_json(path, lines=True, dtype=False)
        if suffix == ".json":
            return _read_json(path)
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise ConfigError(
            f"unreadable table: {str(err).splitlines()[0]}", source=str(path)
        ) from None
    raise ConfigError("tables must be .csv, .json, .jsonl or .parquet", source=str(path))


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise ConfigError(
            "reading parquet needs pyarrow (pip install pyarrow)", source=str(path)
        ) from None
    table = pd.read_parquet(path)
    if "id" in table:
        table["id"] = table["id"].astype(str)
    return table


def _read_json(path: Path) -> pd.DataFrame:
    data = json.loads(path.read_text())
    # NDS files of some spaces split the records by population: {"top": [...], "mid": [...]}.
    if (
        isinstance(data, dict)
        and data
        and all(isinstance(v, list) and all(isinstance(r, dict) for r in v) for v in data.values())
    ):
        records = [r for v in data.values() for r in v]
        if records and _kind(records) != "table":
            data = records
    if isinstance(data, list) and data and all(isinstance(r, dict) for r in data):
        return _READERS[_kind(data)](data, str(path))
    return pd.read_json(path, dtype=False)  # any other layout pandas understands


def _kind(records: list[dict]) -> str:
    first = records[0]
    if "cfg" in first and ("complexity" in first or "test_epoch" in first):
        return "pycls"
    if "net" in first and ("min_test_top1" in first or "test_ep_top1" in first):
        return "nds"
    return "table"


def from_pycls_sweep(records: list[dict], source: str) -> pd.DataFrame:
    """pycls's collected sweep (`sweep_collect`): one row per record."""
    rows = []
    for i, r in enumerate(records):
        cfg = r.get("cfg") or {}
        test = r.get("test_epoch") or {}
        errors = _floats(test.get("min_top1_err") or test.get("top1_err"))
        ema = _floats((r.get("test_ema_epoch") or {}).get("min_top1_err"))
        done = _done(test)
        row: dict[str, Any] = {
            "id": _run_name(r.get("log_file"), i),
            "status": "complete" if done and errors else "running",
            **_pycls_params(cfg),
            **{k: (r.get("complexity") or {}).get(k) for k in ("flops", "params", "acts")},
            "top1_err": min(errors) if errors else None,
        }
        if ema:
            row["ema_top1_err"] = min(ema)
        widths = _pycls_widths(cfg)
        row["block_widths"] = json.dumps(widths) if widths else ""
        rows.append(row)
    return pd.DataFrame(rows)


def from_nds(records: list[dict], source: str) -> pd.DataFrame:
    """NDS model data: one row per model; `net` and `optim` entries become parameters."""
    rows = []
    for i, r in enumerate(records):
        net, optim = r.get("net") or {}, r.get("optim") or {}
        curve = _floats(r.get("test_ep_top1"))
        error = r.get("min_test_top1", min(curve) if curve else None)
        row: dict[str, Any] = {
            "id": str(r.get("job_id", i)),
            "status": "complete" if error is not None else "failed",
            **_flat(net),
            **{f"optim.{k}": v for k, v in _flat(optim).items()},
            "flops": None if r.get("flops") is None else float(r["flops"]) * 1e6,
            "params": None if r.get("params") is None else float(r["params"]) * 1e6,
            "top1_err": error,
        }
        widths = _stage_widths(net.get("ds"), net.get("ws"))
        row["block_widths"] = json.dumps(widths) if widths else ""
        rows.append(row)
    return pd.DataFrame(rows)


_READERS: dict[str, Callable[[list[dict], str], pd.DataFrame]] = {
    "pycls": from_pycls_sweep,
    "nds": from_nds,
    "table": lambda records, source: pd.DataFrame(records),
}


def _floats(values: Any) -> list[float]:
    if isinstance(values, int | float):
        return [float(values)]
    return [float(v) for v in values or [] if isinstance(v, int | float)]


def _done(test: dict) -> bool:
    ind, top = _floats(test.get("epoch_ind")), _floats(test.get("epoch_max"))
    return not ind or not top or ind[-1] >= top[-1]


def _run_name(log_file: Any, index: int) -> str:
    parts = [p for p in str(log_file or "").split("/") if p]
    return parts[-2] if len(parts) >= 2 else f"{index:04d}"


_PYCLS_KEYS = {  # cfg section -> (key, column)
    "REGNET": [
        ("DEPTH", "d"),
        ("W0", "w0"),
        ("WA", "wa"),
        ("WM", "wm"),
        ("GROUP_W", "g"),
        ("BOT_MUL", "b"),
    ],
    "ANYNET": [("DEPTHS", "ds"), ("WIDTHS", "ws"), ("GROUP_WS", "gs"), ("BOT_MULS", "bs")],
    "OPTIM": [("BASE_LR", "optim.lr"), ("WEIGHT_DECAY", "optim.wd"), ("MAX_EPOCH", "epochs")],
}


def _pycls_params(cfg: dict) -> dict[str, Any]:
    out: dict[str, Any] = {}
    model = str((cfg.get("MODEL") or {}).get("TYPE", "")).upper()
    for section, keys in _PYCLS_KEYS.items():
        if section in ("REGNET", "ANYNET") and model != section:
            continue
        for key, column in keys:
            value = (cfg.get(section) or {}).get(key)
            out.update(_flat({column: value}) if value is not None else {})
    return out


def _pycls_widths(cfg: dict) -> list[int] | None:
    model = str((cfg.get("MODEL") or {}).get("TYPE", "")).upper()
    if model == "REGNET":
        r = cfg.get("REGNET") or {}
        try:  # widths before the group-width adjustment, as `sweep collect` stores them
            return regnet_block_widths(
                int(r["DEPTH"]), int(r["W0"]), float(r["WA"]), float(r["WM"])
            )
        except (KeyError, TypeError, ValueError, ZeroDivisionError):
            return None
    if model == "ANYNET":
        a = cfg.get("ANYNET") or {}
        return _stage_widths(a.get("DEPTHS"), a.get("WIDTHS"))
    return None


def _stage_widths(ds: Any, ws: Any) -> list[int] | None:
    """Per-block widths from per-stage depths and widths (None unless both are integer lists)."""
    if not (isinstance(ds, list) and isinstance(ws, list) and len(ds) == len(ws) and ds):
        return None
    try:
        return [int(w) for d, w in zip(ds, ws, strict=True) for _ in range(int(d))] or None
    except (TypeError, ValueError):
        return None


def _flat(d: dict, prefix: str = "") -> dict[str, Any]:
    """Scalars as they are; lists as name_1, name_2, ... (1-based, like the sampler's ws_1);
    nested dicts as a.b."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flat(v, f"{name}."))
        elif isinstance(v, list | tuple):
            if all(isinstance(x, int | float | str | bool) for x in v):
                out.update({f"{name}_{i + 1}": x for i, x in enumerate(v)})
        else:
            out[name] = v
    return out
