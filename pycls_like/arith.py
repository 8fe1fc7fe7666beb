"""Integer arithmetic that reads the same on Python numbers and on numpy arrays.

Each architectural rule (a block's layers, the compatibility rule, the group check) is written once
with these helpers: the scalar counter calls it with ints (fast, numpy never imported), the
sampler's vectorized scorer with arrays of thousands of candidates. numpy's `round` and Python's
both round half to even, and `astype` truncates toward zero like `int`, so both paths agree exactly.
Numbers take a fast path (the scalar counter calls these a few dozen times per new config).
"""

import math
from collections.abc import Callable
from typing import Any

_NUM = frozenset((int, float, bool))


def iround(x: Any) -> Any:
    """round() to an integer (half to even) for a number or an array (or a recorded `Sym`)."""
    return round(x) if type(x) in _NUM or not hasattr(x, "shape") else x.round().astype("int64")


def itrunc(x: Any) -> Any:
    """int() (toward zero) for a number or an array."""
    return int(x) if type(x) in _NUM or not hasattr(x, "astype") else x.astype("int64")


def where(cond: Any, a: Any, b: Any) -> Any:
    """`a if cond else b`, elementwise for arrays (and recorded for symbolic values)."""
    if type(cond) in _NUM and type(a) in _NUM and type(b) in _NUM:
        return a if cond else b
    if hasattr(cond, "sym_where"):
        return cond.sym_where(a, b)
    import numpy as np

    return np.where(cond, a, b)


def _elementwise(scalar: Callable[[Any, Any], Any], name: str) -> Callable[[Any, Any], Any]:
    """`scalar(a, b)` on numbers, `numpy.<name>` on arrays, recorded on symbolic values."""

    def apply(a: Any, b: Any) -> Any:
        if type(a) in _NUM and type(b) in _NUM:
            return scalar(a, b)
        if hasattr(a, "sym_call") or hasattr(b, "sym_call"):
            return (a if hasattr(a, "sym_call") else b).sym_call(f"_{name}", a, b)
        import numpy as np

        return getattr(np, name)(a, b)

    apply.__name__ = name
    return apply


maximum = _elementwise(max, "maximum")
minimum = _elementwise(min, "minimum")
lcm = _elementwise(math.lcm, "lcm")


def log(x: Any) -> Any:
    if type(x) in _NUM:
        return math.log(x)
    import numpy as np

    return np.log(x)
