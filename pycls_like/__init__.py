"""pycls_like: explore network design spaces (RegNet / model-scaling style).

Data flow: design space --sample--> ModelSpec --complexity--> {flops, params, acts};
RunConfig = spec + data + optim --train--> run dir --collect--> sweep table --analysis--> report.

Glossary (names follow the papers): d depth, w width, s stride, b bottleneck multiplier,
g group width; per-stage lists are plurals (ds, ws, ss, bs, gs). RegNet: d, w0 (initial width),
wa (slope), wm (multiplier). flops are multiply-adds. acts = output elements of convs, linears,
attention matmuls and max-pools. This module imports nothing heavy: `import pycls_like` is instant.
"""

__version__ = "0.1.0"
