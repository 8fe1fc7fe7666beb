"""A small, safe expression language for `constraints.where` predicates.

A predicate is one Python-syntax expression over the names of a sampled model, e.g.
`w0 <= wa`, `stage_ws[-1] <= 1024`, `max(stage_ds) <= 2 * min(stage_ds)`, `stem_type == "conv"`.
Allowed: numbers, strings, names (checked against the family's names when the space loads),
`and or not`, comparisons (chains and `in` included), `+ - * / // %`, indexing and slicing a
name, list/tuple literals, and the functions in FUNCTIONS. Nothing else parses: no attributes,
no other calls, no `**`, so a space file cannot run code or hang the sampler.

Names: the spec's fields (`d`, `ws`, `resolution`, ...), the flat sampled parameters (`ws_0`),
vit's `head_d`/`mlp_ratio`, `flops`/`params`/`acts`, and for CNN families the stages as built
(`stage_ds stage_ws stage_ss stage_bs stage_gs num_stages`: RegNet expanded, widths adjusted).
"""

import ast
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pycls_like.errors import ConfigError

FUNCTIONS: dict[str, Callable[..., Any]] = {
    "min": min,
    "max": max,
    "sum": sum,
    "len": len,
    "abs": abs,
    "all": all,
    "any": any,
    "round": round,
}

_NODES = (
    ast.Expression,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.UnaryOp,
    ast.Not,
    ast.USub,
    ast.UAdd,
    ast.BinOp,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.FloorDiv,
    ast.Mod,
    ast.Compare,
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.In,
    ast.NotIn,
    ast.Name,
    ast.Load,
    ast.Constant,
    ast.Subscript,
    ast.Slice,
    ast.List,
    ast.Tuple,
    ast.Call,
)


@dataclass(frozen=True)
class Predicate:
    """A checked, compiled predicate; `names` are the variables it reads."""

    text: str
    names: frozenset[str]
    code: Any
    key: str = "where"

    def __call__(self, namespace: dict[str, Any]) -> bool:
        try:
            return bool(eval(self.code, {"__builtins__": {}, **FUNCTIONS}, namespace))
        except Exception as err:  # a type error, index error, division by zero... on one sample
            msg = f"predicate {self.text!r} failed ({type(err).__name__}: {err}) on {namespace}"
            raise ConfigError(msg, key=self.key) from None


def _check_node(node: ast.AST, known: set[str], key: str) -> None:
    if not isinstance(node, _NODES):
        raise ConfigError(f"`{type(node).__name__}` is not allowed in a predicate", key=key)
    if isinstance(node, ast.Call):
        ok = isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS and not node.keywords
        if not ok:
            raise ConfigError(f"only {', '.join(FUNCTIONS)} may be called", key=key)
    if isinstance(node, ast.Subscript) and not isinstance(node.value, ast.Name):
        raise ConfigError("only a name can be indexed", key=key)
    if isinstance(node, ast.Constant) and not isinstance(node.value, int | float | str):
        raise ConfigError(f"constant {node.value!r} is not allowed", key=key)
    if isinstance(node, ast.Name) and node.id not in known and node.id not in FUNCTIONS:
        raise ConfigError(f"unknown name {node.id!r} (known: {', '.join(sorted(known))})", key=key)


def compile_predicate(text: Any, known: set[str], key: str) -> Predicate:
    """Parse and check `text` against the allowed syntax and the `known` names."""
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"a predicate must be a non-empty string, got {text!r}", key=key)
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as err:
        raise ConfigError(f"cannot parse predicate {text!r}: {err.msg}", key=key) from None
    for node in ast.walk(tree):
        _check_node(node, known, key)
    names = frozenset(
        n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id not in FUNCTIONS
    )
    return Predicate(text.strip(), names, compile(tree, "<predicate>", "eval"), key)
