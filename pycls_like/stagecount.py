"""Straight-line counting code for one stage of a block kind, generated from `layers.py`.

`complexity.Tally` walking a block's layer list costs a method call per layer; the counter needs a
whole stage (first block, then one later block times depth - 1) for every new config. So the
layer list of each kind is run once through the very same `Tally` on symbolic values (`Sym`),
which records each arithmetic step; the recording becomes a Python function of the stage's
numbers (compiled once per kind and variant, then cached). Nothing is written twice: the layers
come from `layers.py`, the counting rules from `Tally`. Works on ints and numpy arrays alike.
The width rules of `regnet.py` (RegNet widths, compatibility, group check) are recorded the same
way for the planner (`regnet_runs`, `stage_rule`).
"""

import math
import re
from collections import Counter
from collections.abc import Callable
from functools import cache
from typing import Any

from pycls_like import arith
from pycls_like.layers import BLOCKS, STEMS, block_layers, head_layers

StageFn = Callable[..., tuple[Any, Any, Any, Any]]
_ARGS = ("h", "w_in", "w_out", "stride", "b", "g", "se_r", "kernel", "d")


class Tape(list):
    """The recorded lines, and which temporary holds which expression."""

    def __init__(self) -> None:
        super().__init__()
        self.memo: dict[str, str] = {}
        self.start = 0

    def restart(self) -> None:
        """A new section: earlier lines are kept (names stay unique) but not reused."""
        self.memo.clear()
        self.start = len(self)

    def section(self) -> list[str]:
        return self[self.start :]


class Sym:
    """A symbolic value: each operation appends `tN = a op b` to the tape and returns `tN`."""

    __slots__ = ("name", "tape")

    def __init__(self, name: str, tape: Tape):
        self.name, self.tape = name, tape

    def _emit(self, expr: str) -> "Sym":
        """A new temporary for `expr`, or the one already holding it (common subexpressions)."""
        memo = self.tape.memo
        if expr not in memo:
            memo[expr] = f"t{len(self.tape)}"
            self.tape.append(f"{memo[expr]} = {expr}")
        return Sym(memo[expr], self.tape)

    def _op(self, other: Any, op: str, flip: bool = False) -> Any:
        if isinstance(other, Sym):
            if other.name == self.name and op in ("!=", "=="):
                return op == "=="
        elif op == "*" and other == 1 or op in ("+", "|") and other == 0:
            return self  # constant folding keeps the tape short (False == 0, True == 1)
        elif op == "*" and other == 0:
            return 0
        elif not flip and (op == "//" and other == 1 or op == "-" and other == 0):
            return self
        a, b = self.name, _name(other)
        return self._emit(f"{b} {op} {a}" if flip else f"{a} {op} {b}")

    def __add__(self, o: Any) -> Any:
        return self._op(o, "+")

    def __radd__(self, o: Any) -> Any:
        return self._op(o, "+", True)

    def __sub__(self, o: Any) -> Any:
        return self._op(o, "-")

    def __rsub__(self, o: Any) -> Any:
        return self._op(o, "-", True)

    def __mul__(self, o: Any) -> Any:
        return self._op(o, "*")

    def __rmul__(self, o: Any) -> Any:
        return self._op(o, "*", True)

    def __floordiv__(self, o: Any) -> Any:
        return self._op(o, "//")

    def __rfloordiv__(self, o: Any) -> Any:
        return self._op(o, "//", True)

    def __truediv__(self, o: Any) -> Any:
        return self._op(o, "/")

    def __rtruediv__(self, o: Any) -> Any:
        return self._op(o, "/", True)

    def __mod__(self, o: Any) -> Any:
        return self._op(o, "%")

    def __or__(self, o: Any) -> Any:
        return self._op(o, "|")

    def __ror__(self, o: Any) -> Any:
        return self._op(o, "|", True)

    def __and__(self, o: Any) -> Any:
        return self._op(o, "&")

    def __rand__(self, o: Any) -> Any:
        return self._op(o, "&", True)

    def __ne__(self, o: Any) -> Any:  # type: ignore[override]
        return self._op(o, "!=")

    def __eq__(self, o: Any) -> Any:  # type: ignore[override]
        return self._op(o, "==")

    def __gt__(self, o: Any) -> Any:
        return self._op(o, ">")

    def __lt__(self, o: Any) -> Any:
        return self._op(o, "<")

    __hash__ = None  # type: ignore[assignment]

    def __pow__(self, o: Any) -> Any:
        return self._op(o, "**")

    def __rpow__(self, o: Any) -> Any:
        return self._op(o, "**", True)

    def __round__(self) -> "Sym":
        return self._emit(f"_iround({self.name})")

    def astype(self, dtype: str) -> "Sym":
        """`arith.itrunc`."""
        return self._emit(f"_itrunc({self.name})")

    def sym_call(self, fn: str, *args: Any) -> "Sym":
        """An `arith` helper applied to symbolic values: `_fn(args)` in the generated code."""
        return self._emit(f"{fn}({', '.join(_name(v) for v in args)})")

    def sym_where(self, a: Any, b: Any) -> "Sym":
        """`arith.where` with this as the condition."""
        names = [v.name if isinstance(v, Sym) else repr(v) for v in (a, b)]
        return self._emit(f"_where({self.name}, {names[0]}, {names[1]})")


def _name(v: Any) -> str:
    return v.name if isinstance(v, Sym) else repr(v)


# The generated code's helpers: `arith`'s (numbers or arrays), or the builtins they reduce to for
# numbers, which the scalar counter uses.
_ARRAY_ENV = {
    "_iround": arith.iround,
    "_itrunc": arith.itrunc,
    "_where": arith.where,
    "_maximum": arith.maximum,
    "_minimum": arith.minimum,
    "_lcm": arith.lcm,
    "_scalar": lambda v: not hasattr(v, "shape"),
}
_SCALAR_ENV = {
    "_iround": round,
    "_itrunc": int,
    "_where": lambda c, a, b: a if c else b,
    "_maximum": max,
    "_minimum": min,
    "_lcm": math.lcm,
    "_log": math.log,
    "_ceil": math.ceil,
    "_tuple": tuple.__new__,
    "_scalar": lambda v: True,
}


_TEMP = re.compile(r"\bt\d+\b")
_ASSIGN = re.compile(r"^( *)(t\d+) = (.*)$")


def _simplify(lines: list[str]) -> list[str]:
    """Drop temporaries nothing reads and write those read once into their one reader.

    Works on each run of consecutive `tN = ...` lines at one indentation (a section): a
    temporary read by any other line is kept as it is, so nothing moves across an `if` or into a
    loop. Fewer stores and loads make the generated counters about 10% faster."""
    matches = [_ASSIGN.match(x) for x in lines]
    out: list[str] = []
    i = 0
    while i < len(lines):
        if matches[i] is None:
            out.append(lines[i])
            i += 1
            continue
        j, indent = i, matches[i].group(1)
        while j < len(lines) and matches[j] is not None and matches[j].group(1) == indent:
            j += 1
        outside = Counter(_TEMP.findall("\n".join(lines[:i] + lines[j:])))
        section = [(m.group(2), m.group(3)) for m in matches[i:j]]
        out += [f"{indent}{x}" for x in _simplify_section(section, outside)]
        i = j
    return out


def _simplify_section(section: list[tuple[str, str]], outside: Counter) -> list[str]:
    """`name = expr` lines of one section, given the reads of each temporary outside it."""
    uses, live = Counter(outside), []
    for name, expr in reversed(section):  # a chain of unread temporaries goes at once
        if uses[name]:
            live.append((name, expr))
            uses.update(_TEMP.findall(expr))
    inline: dict[str, str] = {}

    def substitute(m: re.Match) -> str:
        return f"({inline[m[0]]})" if m[0] in inline else m[0]

    out = []
    for name, expr in reversed(live):
        expr = _TEMP.sub(substitute, expr)
        if uses[name] == 1 and not outside[name]:
            inline[name] = expr
        else:
            out.append(f"{name} = {expr}")
    return out


def _compile(title: str, args: tuple[str, ...], lines: list[str], scalar: bool) -> Callable:
    lines = _simplify(lines)
    src = f"def counter({', '.join(args)}):\n" + "".join(f"    {x}\n" for x in lines)
    env = dict(_SCALAR_ENV if scalar else _ARRAY_ENV)
    exec(compile(src, f"<{title}>", "exec"), env)  # our own generated code
    fn = env["counter"]
    fn.source = src  # for reading and tests
    return fn


def _names(t: Any) -> list[str]:
    return [_name(v) for v in (t.flops, t.params, t.acts, t.h)]


@cache
def stage_counter(block: str, stride_1x1: bool, se: bool, scalar: bool = True) -> StageFn:
    """f(h, w_in, w_out, stride, b, g, se_r, kernel, d) -> (flops, params, acts, h_out) of a stage.

    `scalar`: for Python numbers only (faster); otherwise numbers or numpy arrays."""
    from pycls_like.complexity import Tally

    kind = BLOCKS[block]
    tape = Tape()
    s = {n: Sym(n, tape) for n in _ARGS}
    extra = (s["b"], s["g"], s["se_r"] if se and kind.se else 0.0, s["kernel"], stride_1x1)
    first = Tally(s["h"])
    block_layers(first, kind, kind.args(s["w_in"], s["w_out"], s["stride"], *extra))
    n_first = len(tape)
    rest = Tally(first.h)
    block_layers(rest, kind, kind.args(s["w_out"], s["w_out"], 1, *extra))
    f1, p1, a1, h1 = _names(first)
    f2, p2, a2, h2 = _names(rest)
    lines = [
        *tape[:n_first],
        f"if {'' if scalar else '_scalar(d) and '}d == 1: return {f1}, {p1}, {a1}, {h1}",
        *tape[n_first:],
        f"return {f1} + (d - 1) * {f2}, {p1} + (d - 1) * {p2}, {a1} + (d - 1) * {a2}, {h2}",
    ]
    return _compile(f"stage {block}", _ARGS, lines, scalar)


def _traced(title: str, args: tuple[str, ...], run: Callable[[Any, dict], None]) -> Callable:
    """Record `run(tally, symbols)` on a Tally starting at size `h` into a counter function."""
    from pycls_like.complexity import Tally

    tape = Tape()
    s = {n: Sym(n, tape) for n in args}
    t = Tally(s["h"])
    run(t, s)
    return _compile(title, args, [*tape, f"return {', '.join(_names(t))}"], True)


@cache
def stem_counter(stem: str) -> Callable[[Any, Any], tuple[Any, Any, Any, Any]]:
    """f(h, w_out) -> (flops, params, acts, h_out) of a CNN stem on 3 input channels."""
    return _traced(f"stem {stem}", ("h", "w_out"), lambda t, s: STEMS[stem](t, 3, s["w_out"]))


@cache
def head_counter() -> Callable[[Any, Any, Any, Any], tuple[Any, Any, Any, Any]]:
    """f(h, w_in, head_w, num_classes) -> (flops, params, acts, 1) of the CNN head."""
    args = ("h", "w_in", "head_w", "num_classes")
    return _traced("head", args, lambda t, s: head_layers(t, *(s[n] for n in args[1:])))


@cache
def stage_rule(bottleneck: bool) -> Callable[..., tuple[tuple[Any, ...], int]]:
    """f(StagePlan, block, w_in, ds, ws, ss, bs, gs, se_r) -> (stages, first bad stage or -1).

    Per stage: `regnet.compatible_width`, then (blocks with a bottleneck) `regnet.bad_groups`,
    recorded once as a loop body that makes the `stage` tuples (`plan.StagePlan`) directly: one
    pass, no intermediate lists. Blocks without a bottleneck keep only the adjusted width."""
    from pycls_like.plan import StagePlan
    from pycls_like.regnet import bad_groups, compatible_width

    tape = Tape()
    w, b, g = (Sym(n, tape) for n in ("w", "b", "g"))
    w2, g2 = compatible_width(w, b, g)
    bad = bad_groups(w2, b, g2)
    default = {k: repr(v) for k, v in StagePlan._field_defaults.items()}
    if bottleneck:
        fields, check = f"b, {_name(g2)}, se_r", [f"    if first_bad < 0 and {_name(bad)}:"]
        check.append("        first_bad = i")
    else:
        fields, check = f"{default['b']}, {default['g']}, {default['se_ratio']}", []
    fields += f", {default['kernel']}, {default['stride_1x1']}"
    lines = [
        "stages, first_bad = [], -1",
        "for i, (d, w, s, b, g) in enumerate(zip(ds, ws, ss, bs, gs, strict=True)):",
        *(f"    {line}" for line in tape),
        *check,
        f"    stages.append(_tuple(stage, (block, d, w_in, {_name(w2)}, s, {fields})))",
        f"    w_in = {_name(w2)}",
        "return tuple(stages), first_bad",
    ]
    args = ("stage", "block", "w_in", "ds", "ws", "ss", "bs", "gs", "se_r")
    return _compile(f"stages bottleneck={bottleneck}", args, lines, True)


def _expression(tape: Tape, value: Any) -> str:
    """The recorded value as one expression (every temporary written into its reader)."""
    name = _name(value)
    lines = _simplify([*tape, f"return {name}"])
    assert len(lines) == 2 and lines[0].startswith(f"{name} = "), lines  # no shared subexpression
    return lines[0].removeprefix(f"{name} = ")


@cache
def regnet_runs() -> Callable[[Any, Any, Any, int, int], tuple[list[int], ...]]:
    """f(w0, wa, wm, d, q) -> (exponents, blocks per exponent, width per exponent) of a RegNet:
    s_j = round(`regnet.regnet_t`) for j < d, widths `regnet.regnet_width`, both recorded once.

    With wm > 1, wa >= 0, w0 > 0 the s_j never decrease, so each run's end is guessed from the
    inverse of t_j and settled by t_j itself (about two evaluations per run, not one per block);
    any other input takes the plain loop over blocks."""
    from pycls_like.regnet import regnet_t, regnet_width

    tape = Tape()
    w0, wa, i, log_wm = (Sym(n, tape) for n in ("w0", "wa", "i", "log_wm"))
    log = lambda x: x.sym_call("_log", x)  # noqa: E731
    t = _expression(tape, regnet_t(w0, wa, None, i, log=log, log_wm=log_wm))  # t_i
    tape = Tape()
    w0, wm, s, q = (Sym(n, tape) for n in ("w0", "wm", "s", "q"))
    width = _expression(tape, regnet_width(w0, wm, s, q))
    lines = [
        "log_wm = _log(wm)",
        "exps, counts, widths = [], [], []",
        "if not (wm > 1 and wa >= 0 and w0 > 0):",
        "    for i in range(d):",
        f"        s = round({t})",
        "        if exps and exps[-1] == s:",
        "            counts[-1] += 1",
        "        else:",
        "            exps.append(s)",
        "            counts.append(1)",
        f"            widths.append({width})",
        "    return exps, counts, widths",
        "k = i = 0  # k: the block where the run of exponent s starts",
        f"s = round({t})",
        "while True:",
        "    e = d",
        "    if wa > 0:  # the run of s ends where t_j reaches s + 1/2: a guess, settled below",
        "        x = w0 * (wm ** (s + 0.5) - 1) / wa",
        "        if x < d:",
        "            e = max(k + 1, _ceil(x))",
        "    while e > k + 1:",
        "        i = e - 1",
        f"        if round({t}) <= s:",
        "            break",
        "        e = i",
        "    following = s",
        "    while e < d:",
        "        i = e",
        f"        following = round({t})",
        "        if following > s:",
        "            break",
        "        e += 1",
        "    exps.append(s)",
        "    counts.append(e - k)",
        f"    widths.append({width})",
        "    if e >= d:",
        "        return exps, counts, widths",
        "    k, s = e, following",
    ]
    return _compile("regnet runs", ("w0", "wa", "wm", "d", "q"), lines, True)


@cache
def network_counter(stem: str, block: str, stride_1x1: bool, se: bool) -> Callable:
    """f(h, stem_w, stages, head_w, num_classes) -> (flops, params, acts) of a whole CNN whose
    stages (`plan.StagePlan`s) are all of one kind (None if they are not): the stem, stage and
    head recordings above, inlined into one loop (a call per stage costs as much as its
    arithmetic)."""
    from pycls_like.complexity import Tally

    kind = BLOCKS[block]
    tape = Tape()
    s = {n: Sym(n, tape) for n in (*_ARGS, "stem_w", "head_w", "num_classes")}
    stem_t = Tally(s["h"])
    STEMS[stem](stem_t, 3, s["stem_w"])
    stem_lines, (f0, p0, a0, h0) = tape.section(), _names(stem_t)
    tape.restart()
    extra = (s["b"], s["g"], s["se_r"] if se and kind.se else 0.0, s["kernel"], stride_1x1)
    first = Tally(s["h"])
    block_layers(first, kind, kind.args(s["w_in"], s["w_out"], s["stride"], *extra))
    first_lines = tape.section()
    rest = Tally(first.h)
    block_layers(rest, kind, kind.args(s["w_out"], s["w_out"], 1, *extra))
    rest_lines = tape[tape.start + len(first_lines) :]
    f1, p1, a1, h1 = _names(first)
    f2, p2, a2, h2 = _names(rest)
    tape.restart()
    head_t = Tally(s["h"])
    head_layers(head_t, s["w_out"], s["head_w"], s["num_classes"])
    hf, hp, ha, _ = _names(head_t)
    lines = [
        *stem_lines,
        f"flops, params, acts, h, w_out = {f0}, {p0}, {a0}, {h0}, stem_w",
        "for kind, d, w_in, w_out, stride, b, g, se_r, kernel, s1x1 in stages:",
        f"    if kind != {block!r} or s1x1 != {stride_1x1!r} or (se_r > 0) != {se!r}:",
        "        return None  # stages of more than one kind: counted stage by stage",
        *(f"    {x}" for x in first_lines),
        "    if d == 1:",
        f"        flops, params, acts, h = flops + {f1}, params + {p1}, acts + {a1}, {h1}",
        "        continue",
        *(f"    {x}" for x in rest_lines),
        f"    flops += {f1} + (d - 1) * {f2}",
        f"    params += {p1} + (d - 1) * {p2}",
        f"    acts += {a1} + (d - 1) * {a2}",
        f"    h = {h2}",
        *tape.section(),
        f"return flops + {hf}, params + {hp}, acts + {ha}",
    ]
    args = ("h", "stem_w", "stages", "head_w", "num_classes")
    return _compile(f"network {stem} {block}", args, lines, True)
