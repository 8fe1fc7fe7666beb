"""The run directory, owned here: its file names, the statuses a result can have, and every
reader and writer of its JSON files. The engine writes it, the sweep schedules by it, analysis
reads it; all three import these names.

    config.yaml    run config (sweep setup)          result.json    engine, atomic; its status
    sample.json    sampled parameters, model, its    metrics.jsonl  one line per epoch (engine)
                   complexity (read by the engine)
    claim.json     who is training it (sweep)        checkpoint.pt  last epoch (engine)
    attempts.jsonl a line as each training attempt   error.txt      traceback of a failure
                   starts and one as it ends (none if killed); one attempt per token
    profile.json   measured speed and memory (`pycls-like profile`, atomic; independent of training)

A run directory is the unit of resume: its state is derived from these files only. Torch-free.
Every reader here tolerates any bytes: a damaged file is a `problem` (a one-line reason), never an
exception, and `repair` moves damaged files the tool writes aside (`NAME.corrupt-<n>`, kept) so
that the next attempt starts clean instead of failing on them for good.
"""

import json
import math
from pathlib import Path
from typing import Any

from pycls_like.errors import ConfigError
from pycls_like.fileio import move_aside, read_bytes, read_text, write_atomic

CONFIG_FILE = "config.yaml"
SAMPLE_FILE = "sample.json"
RESULT_FILE = "result.json"
METRICS_FILE = "metrics.jsonl"
CHECKPOINT_FILE = "checkpoint.pt"
ERROR_FILE = "error.txt"
ATTEMPTS_FILE = "attempts.jsonl"
CLAIM_FILE = "claim.json"
PROFILE_FILE = "profile.json"

COMPLETE, DIVERGED, FAILED = "complete", "diverged", "failed"
FINISHED = (COMPLETE, DIVERGED)  # a result (diverged: error 100%), never trained again
RESULT_STATUSES = (*FINISHED, FAILED)
# Not a result: a run dir whose config.yaml or result.json is damaged or missing (the reason is
# reported; `sweep launch` rebuilds the config and retrains, resuming from the checkpoint).
CORRUPT = "corrupt"


def run_id(index: int) -> str:
    """Zero-padded sample index: sorts as text up to 10,000 runs, stays stable as n grows."""
    return f"{index:04d}"


def run_dirs(sweep_dir: Path) -> list[Path]:
    """Run directories in id order, with or without their config (see `config_problem`): a run
    whose config.yaml was deleted is reported and rebuilt, never silently dropped."""
    runs = sweep_dir / "runs"
    try:
        found = [p for p in runs.iterdir() if p.name.isdigit() and p.is_dir()]
    except OSError:  # no runs yet, or `runs` is not a directory (setup reports that)
        return []
    return sorted(found, key=lambda p: int(p.name))


def config_problem(run_dir: Path) -> str | None:
    """Why the run's config.yaml cannot be used (cheap: no parsing), or None."""
    path = run_dir / CONFIG_FILE
    if path.is_file():
        return None
    if path.exists() or path.is_symlink():
        return f"{CONFIG_FILE} is not a file"
    return f"{CONFIG_FILE} missing (`sweep launch` or `sweep setup` rebuilds it)"


def json_safe(value: Any) -> Any:
    """NaN and inf are not JSON: they become null (a diverged loss)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    return value


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Atomically: a reader sees the old file or the new one, never half of one."""
    write_atomic(path, json.dumps(json_safe(data), indent=1) + "\n")


def read_json(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """(data, None), or (None, None) if absent, or (None, problem) if unreadable or corrupt."""
    try:
        text = read_text(path, missing_ok=True)
    except ConfigError as err:
        return None, f"corrupt {err}"
    if text is None:
        return None, None
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as err:
        return None, f"corrupt {path} ({str(err)[:80]})"
    if not isinstance(data, dict):
        return None, f"corrupt {path} (not a JSON object)"
    return data, None


def read_result(run_dir: Path) -> tuple[dict[str, Any] | None, str | None]:
    """The engine's result.json; a corrupt one is reported, not raised."""
    result, problem = read_json(run_dir / RESULT_FILE)
    if result is not None and result.get("status") not in RESULT_STATUSES:
        status = str(result.get("status"))[:40]
        return None, f"corrupt {run_dir / RESULT_FILE} (status {status!r})"
    if result is not None and result["status"] == COMPLETE:
        bad = [k for k in ("top1_err", "top5_err") if not _is_number(result.get(k))]
        if bad:
            return None, f"corrupt {run_dir / RESULT_FILE} ({bad[0]} is not a number)"
    return result, problem


def recorded_complexity(run_dir: Path, model: dict[str, Any]) -> dict[str, int] | None:
    """flops/params/acts that sweep setup recorded in sample.json for `model` (a spec as
    `spec_to_dict` writes it): the sampler's figures, carried instead of recomputed. None when
    there is no usable record for this very model (no sweep, a damaged file, an edited config)."""
    sample, _ = read_json(run_dir / SAMPLE_FILE)
    if sample is None or sample.get("model") != json.loads(json.dumps(model)):
        return None
    figures = sample.get("complexity")
    keys = ("flops", "params", "acts")
    if not isinstance(figures, dict) or not all(_is_count(figures.get(k)) for k in keys):
        return None
    return {k: figures[k] for k in keys}


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def finished_result(run_dir: Path) -> dict[str, Any] | None:
    """The result if the run finished (complete or diverged), else None."""
    result, _ = read_result(run_dir)
    return result if result is not None and result["status"] in FINISHED else None


def append_metrics(run_dir: Path, row: dict[str, Any]) -> None:
    with open(run_dir / METRICS_FILE, "a") as f:
        f.write(json.dumps(json_safe(row)) + "\n")


def rewrite_metrics(run_dir: Path, rows: list[dict[str, Any]]) -> None:
    write_atomic(run_dir / METRICS_FILE, "".join(json.dumps(json_safe(r)) + "\n" for r in rows))


def _lines(path: Path) -> list[str]:
    """The file's lines, undecodable bytes replaced; [] if it is missing or unusable."""
    try:
        data = read_bytes(path, missing_ok=True)
    except ConfigError:
        return []
    return data.decode("utf-8", errors="replace").splitlines() if data else []


def jsonl_records(path: Path) -> tuple[list[dict[str, Any]], int]:
    """(the JSON-object lines of a JSONL file, how many non-empty lines were not one)."""
    records, bad = [], 0
    for line in _lines(path):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            record = None  # a line cut by SIGKILL, or damaged
        if isinstance(record, dict):
            records.append(record)
        else:
            bad += 1
    return records, bad


def last_error_line(run_dir: Path) -> str:
    """Last non-empty line of error.txt (the exception), for one-line summaries."""
    lines = [line for line in _lines(run_dir / ERROR_FILE) if line.strip()]
    return lines[-1].strip()[:300] if lines else ""


def attempts(run_dir: Path, launch: str | None = None) -> int:
    """Attempts recorded for the run (in one launch if given): distinct claim tokens, so an
    attempt recorded both by its worker and by whoever found it dead counts once."""
    records, _ = jsonl_records(run_dir / ATTEMPTS_FILE)
    seen: set[str] = set()
    count = 0
    for record in records:
        if launch is not None and record.get("launch") != launch:
            continue
        token = record.get("token")
        if isinstance(token, str):
            if token in seen:
                continue
            seen.add(token)
        count += 1
    return count


def attempts_in_launch(run_dir: Path, launch: str) -> int:
    """How many times this launch already started the run (a crashed process counts too)."""
    return attempts(run_dir, launch)


def record_attempt(run_dir: Path, entry: dict[str, Any]) -> None:
    """Append one attempt line (a JSONL append: a crash can cut only this line); a directory in
    the file's place is moved aside first."""
    path = run_dir / ATTEMPTS_FILE
    if not path.is_file() and (path.exists() or path.is_symlink()):
        move_aside(path)
    with open(path, "a") as f:
        f.write(json.dumps(entry) + "\n")


def attempt_recorded(run_dir: Path, token: str) -> bool:
    records, _ = jsonl_records(run_dir / ATTEMPTS_FILE)
    return any(record.get("token") == token for record in records)


# Files the tool writes into a run dir and reads back on the next attempt. A damaged one is moved
# aside so the attempt can write a fresh one (config.yaml and sample.json come from setup).
_REWRITTEN = (RESULT_FILE, METRICS_FILE, ERROR_FILE, ATTEMPTS_FILE)


def repair(run_dir: Path) -> list[str]:
    """Move aside what would make the next attempt fail on the files rather than the run: a
    directory (or other non-file) in place of a file the engine writes, and a corrupt
    result.json. Returns one line per file moved."""
    moved = []
    for name in _REWRITTEN:
        path = run_dir / name
        broken = (path.exists() or path.is_symlink()) and not path.is_file()
        if name == RESULT_FILE and not broken:
            broken = read_result(run_dir)[1] is not None
        if broken:
            moved.append(f"moved damaged {name} aside to {move_aside(path).name}")
    return moved
