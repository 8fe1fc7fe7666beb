"""Analysis of sweep tables: statistics of populations of models, never of single runs.

Modules (one concept each; none imports torch or the engine):
  table     read a sweep directory or a CSV/JSON table; complete + diverged rows are analysed
  edf       EDFs, complexity-normalized and restricted EDFs, KS tests, bootstrap bands, best-of-n
            (On Network Design Spaces for Visual Recognition, sec. 3)
  trends    binned medians, bootstrap good ranges, Spearman correlations
            (Designing Network Design Spaces, sec. 3.1-3.2)
  qlinear   quantized-linear (RegNet) fits of per-block widths (Designing Network Design Spaces, sec. 3.3)
  summary   every number of a comparison, as one `analyze` call
  plots     figures (take numbers, return matplotlib Figures)
  report    the self-contained HTML page and its JSON summary
  commands  `pycls-like analyze` and `pycls-like fit-regnet` (stdlib-only import)
This file imports nothing, so `pycls_like.analysis.commands` loads instantly.
"""
