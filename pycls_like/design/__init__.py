"""Design spaces and the population sampler (torch-free; numpy is imported on first use).

`load_space("regnetx").sample(n, seed)` returns `Sample`s (`.spec`, `.params`, `.complexity`,
`.optim`). Modules: samplers (per-parameter laws), space (YAML schema), families (spec builders),
batch (vectorized complexity), constraints + expr (bands, predicates, stratification),
population (chunked rejection sampling), optim (optimizer settings), registry (shipped files),
commands (`pycls-like sample` / `spaces`).
"""

from typing import Any

_LAZY = {
    "load_space": "pycls_like.design.space",
    "DesignSpace": "pycls_like.design.space",
    "Sample": "pycls_like.design.population",
    "list_spaces": "pycls_like.design.registry",
}


def __getattr__(name: str) -> Any:
    """Import on first use, so `pycls_like.design.commands` starts without numpy."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_LAZY[name]), name)


__all__ = list(_LAZY)
