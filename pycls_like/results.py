"""The sweep table's fixed columns: what `sweep collect` writes and `analysis` reads.

Every other column of a table is a sampled parameter (flattened: `d`, `ws_1`, `optim.lr`, ...).
"""

COMPLEXITY_COLUMNS = ("flops", "params", "acts")
ERROR_COLUMNS = ("top1_err", "top5_err", "best_top1_err", "best_top5_err")
RUN_COLUMNS = (*ERROR_COLUMNS, "near_chance", "epochs", "train_time_s", "images_per_s")
# Measured speed and memory (`pycls-like profile`, a run's profile.json): the setting they were
# measured under (never fitted across settings), then the median time and quartiles of one
# forward pass (inference) and one training step, in ms (wall clock; `*_cpu_ms`: the process's CPU
# time, which waiting for a core on a shared machine does not inflate), and peak memory, in MiB.
PROFILE_SETTING_COLUMNS = (
    "profile_device", "profile_device_name", "profile_dtype", "profile_batch_size", "profile_threads",
)  # fmt: skip
PROFILE_COLUMNS = (
    *PROFILE_SETTING_COLUMNS,
    "fwd_ms", "fwd_ms_q1", "fwd_ms_q3", "train_ms", "train_ms_q1", "train_ms_q3",
    "fwd_cpu_ms", "fwd_cpu_ms_q1", "fwd_cpu_ms_q3", "train_cpu_ms", "train_cpu_ms_q1",
    "train_cpu_ms_q3", "fwd_mem_mb", "train_mem_mb",
)  # fmt: skip
TIMED_FIGURES = ("fwd_ms", "train_ms", "fwd_cpu_ms", "train_cpu_ms")  # median, q1, q3 each
# block_widths: per-block widths (a RegNet's before the group-width adjustment); e_fit: their
# quantized-linear misfit (analysis.qlinear), stored at collect time.
TABLE_COLUMNS = (
    "id", "status", *COMPLEXITY_COLUMNS, *RUN_COLUMNS, *PROFILE_COLUMNS, "block_widths", "e_fit",
)  # fmt: skip


def profile_row(record: dict) -> dict:
    """A profile.json record as the table's PROFILE_COLUMNS (times as median and quartiles)."""
    row = {f"profile_{key}": record.get(key) for key in ("device", "device_name", "dtype")}
    row |= {
        "profile_batch_size": record.get("batch_size"),
        "profile_threads": record.get("threads"),
    }
    for key in TIMED_FIGURES:  # CPU time exists in CPU profiles only: absent, the cells are empty
        stats = record.get(key) or {}
        row |= {
            key: stats.get("median"),
            f"{key}_q1": stats.get("q1"),
            f"{key}_q3": stats.get("q3"),
        }
    row |= {key: record.get(key) for key in ("fwd_mem_mb", "train_mem_mb")}
    return row


def near_chance(top1_err: float, num_classes: int) -> bool:
    """Within 2 points of guessing: the run learned (almost) nothing, so its error ranks nothing
    (a recipe or data problem to see at once, not a finding about the architecture)."""
    return bool(top1_err >= 100.0 * (1 - 1 / num_classes) - 2.0)
