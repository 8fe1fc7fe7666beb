"""The sweep table's fixed columns: what `sweep collect` writes and `analysis` reads.

Every other column of a table is a sampled parameter (flattened: `d`, `ws_1`, `optim.lr`, ...).
"""

COMPLEXITY_COLUMNS = ("flops", "params", "acts")
ERROR_COLUMNS = ("top1_err", "top5_err", "best_top1_err", "best_top5_err")
RUN_COLUMNS = (*ERROR_COLUMNS, "epochs", "train_time_s", "images_per_s")
TABLE_COLUMNS = ("id", "status", *COMPLEXITY_COLUMNS, *RUN_COLUMNS, "block_widths")
