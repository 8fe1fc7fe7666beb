"""The sweep table's fixed columns: what `sweep collect` writes and `analysis` reads.

Every other column of a table is a sampled parameter (flattened: `d`, `ws_1`, `optim.lr`, ...).
"""

COMPLEXITY_COLUMNS = ("flops", "params", "acts")
ERROR_COLUMNS = ("top1_err", "top5_err", "best_top1_err", "best_top5_err")
RUN_COLUMNS = (*ERROR_COLUMNS, "near_chance", "epochs", "train_time_s", "images_per_s")
# block_widths: per-block widths (a RegNet's before the group-width adjustment); e_fit: their
# quantized-linear misfit (analysis.qlinear), stored at collect time.
TABLE_COLUMNS = ("id", "status", *COMPLEXITY_COLUMNS, *RUN_COLUMNS, "block_widths", "e_fit")


def near_chance(top1_err: float, num_classes: int) -> bool:
    """Within 2 points of guessing: the run learned (almost) nothing, so its error ranks nothing
    (a recipe or data problem to see at once, not a finding about the architecture)."""
    return bool(top1_err >= 100.0 * (1 - 1 / num_classes) - 2.0)
