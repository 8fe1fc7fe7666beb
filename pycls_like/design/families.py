"""Model families a design space can sample: their parameters, spec builders and batch scoring.

- `anynet`: any AnyNetSpec field; the per-stage lists `ds ws ss bs gs` take one draw per stage
  (or one shared draw). Scored vectorized (`batch.py`).
- `regnet`: any RegNetSpec field (d, w0, wa, wm, g, b, se_ratio, ...). Scored vectorized.
- `vit`: any ViTSpec field except the derived conv-stem lists, plus three pseudo-parameters:
  `head_d` (per-head width, then hidden_d = heads * head_d, so heads always divide hidden_d;
  `head_w` is its deprecated name, as `d` is hidden_d's), `mlp_ratio` (mlp_d = round(mlp_ratio *
  hidden_d)) and `depth_p` (the depth of a flop-matched ViTP/ViTC pair: depth = depth_p with a
  patchify stem, depth_p - 1 with a conv stem, which replaces one block as in Early Convolutions
  Help Transformers See Better). A conv stem is the ViTC rule: log2(patch_size) conv3x3 stride-2
  layers whose widths double up to hidden_d (ViTC-1GF: 24, 48, 96, 192 for hidden_d = 192).
  Scored one by one.
"""

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from pycls_like.design.batch import (
    StageArrays,
    adjust_compatibility,
    cnn_complexity_batch,
    regnet_stages,
)
from pycls_like.design.constraints import Constraints
from pycls_like.errors import ConfigError, warn_renamed
from pycls_like.layers import get_block
from pycls_like.plan import adjust_anynet, regnet_to_anynet
from pycls_like.regnet import regnet_t
from pycls_like.specs import AnyNetSpec, ModelSpec, RegNetSpec, ViTSpec

STAGE_VARS = ("stage_ds", "stage_ws", "stage_ss", "stage_bs", "stage_gs", "num_stages")


_SCORE_COLUMNS = (
    "stem_type",
    "block_type",
    "stem_w",
    "se_ratio",
    "head_w",
    "resolution",
    "num_classes",
)


def _kind(annotation: Any) -> str:
    """'int', 'float', 'str', 'bool', or 'tuple[int]' / 'tuple[float]' for a spec field type."""
    text = str(annotation)
    if text.startswith("tuple"):
        return "tuple[int]" if "int" in text else "tuple[float]"
    return annotation.__name__


_CONVERT: dict[str, Callable[[Any], Any]] = {
    "int": int,
    "float": float,
    "str": str,
    "bool": bool,
    "tuple[int]": lambda v: tuple(int(x) for x in v),
    "tuple[float]": lambda v: tuple(float(x) for x in v),
}


class Family:
    """How one spec class is sampled; subclasses add batch scoring and derived fields."""

    name: str
    spec_cls: type
    cnn = True
    vectorized = True
    derived: tuple[str, ...] = ()  # spec fields computed from others, not sampleable
    pseudo: dict[str, str] = {}  # extra sampleable names -> kind
    exclusive: tuple[tuple[str, str], ...] = ()  # a field and the pseudo-parameter that sets it
    always_compatible = False  # the compatibility rule applies whatever the block (RegNet)
    aliases: dict[str, str] = {}  # deprecated parameter name -> its name now

    def canonical_params(self, raw: dict[str, Any], source: str | None) -> dict[str, Any]:
        """Space parameters with deprecated names renamed (a note on stderr), order kept."""
        out = {}
        for key, value in raw.items():
            new = self.aliases.get(key)
            if new is not None:
                warn_renamed(f"params.{key}", new, source)
            out[new or key] = value
        return out

    def __init__(self) -> None:
        fields = dataclasses.fields(self.spec_cls)
        self.kinds = {f.name: _kind(f.type) for f in fields if f.name not in self.derived}
        self.kinds.update(self.pseudo)
        self.defaults = {f.name: f.default for f in fields if f.default is not dataclasses.MISSING}
        self.stage_fields = tuple(k for k, v in self.kinds.items() if v.startswith("tuple"))

    def kind(self, name: str) -> str | None:
        return self.kinds.get(name)

    def column(
        self, cols: dict[str, np.ndarray], name: str, idx: np.ndarray | None = None
    ) -> np.ndarray:
        """A parameter's values for candidates `idx` (all when None), or the spec default repeated."""
        if name in cols:
            return cols[name] if idx is None else cols[name][idx]
        n = len(next(iter(cols.values()))) if idx is None else len(idx)
        default = self.defaults[name]
        return np.full(n, default, dtype=object if isinstance(default, str) else None)

    def kwargs(self, values: dict[str, Any]) -> dict[str, Any]:
        """Spec constructor arguments from one candidate's values (per-stage values are lists)."""
        return {k: _CONVERT[self.kinds[k]](v) for k, v in values.items() if k not in self.pseudo}

    def build(self, values: dict[str, Any]) -> ModelSpec:
        return self.spec_cls(**self.kwargs(values))

    def stage_vars(self, spec: ModelSpec) -> dict[str, Any]:
        """`stage_*` predicate names: the stages as built (RegNet expanded, widths adjusted)."""
        any_spec = adjust_anynet(regnet_to_anynet(spec) if isinstance(spec, RegNetSpec) else spec)
        return {
            "stage_ds": list(any_spec.ds),
            "stage_ws": list(any_spec.ws),
            "stage_ss": list(any_spec.ss),
            "stage_bs": list(any_spec.bs),
            "stage_gs": list(any_spec.gs),
            "num_stages": len(any_spec.ds),
        }

    def stage_arrays(
        self, cols: dict[str, np.ndarray], n: int, all_rows: bool
    ) -> tuple[StageArrays, np.ndarray, np.ndarray | None]:
        """Unadjusted stages, number of stages, and (RegNet) the full-stage test per candidate."""
        raise NotImplementedError

    def score(
        self,
        cols: dict[str, np.ndarray],
        idx: np.ndarray,
        st: StageArrays,
        flops_only: bool = False,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Exact complexity of candidates `idx`, each (stem_type, block_type) group on its own."""
        c = {k: self.column(cols, k, idx) for k in _SCORE_COLUMNS}
        st = st.rows(idx)
        used = np.flatnonzero((st.ds > 0).any(axis=0))  # RegNet tables have spare columns
        st = st.columns(used[-1] + 1 if len(used) else 0)
        out = [np.zeros(len(idx), dtype=np.int64) for _ in range(3)]
        stems, blocks = c["stem_type"], c["block_type"]
        if len(idx) and (stems == stems[0]).all() and (blocks == blocks[0]).all():
            kinds = {(stems[0], blocks[0])}  # the usual case: one stem and block type
        else:
            kinds = set(zip(stems.tolist(), blocks.tolist(), strict=True))
        for stem, block in kinds:
            rows = (
                np.flatnonzero((stems == stem) & (blocks == block))
                if len(kinds) > 1
                else np.arange(len(idx))
            )
            sub = st.rows(rows)
            if self.always_compatible or get_block(block, "params.block_type").bottleneck:
                sub.ws, sub.gs = adjust_compatibility(sub.ws, sub.bs, sub.gs)
            try:
                part = cnn_complexity_batch(
                    stem,
                    block,
                    c["stem_w"][rows],
                    sub,
                    c["se_ratio"][rows],
                    c["head_w"][rows],
                    c["resolution"][rows],
                    c["num_classes"][rows],
                    flops_only=flops_only,
                )
            except ConfigError as err:  # b such as 1.5 (see plan._check_groups)
                bad = "bs" if self.name == "anynet" else "b"
                raise ConfigError(
                    f"a sampled model is invalid: {err.message}", key=f"params.{bad}"
                ) from None
            for acc, values in zip(out, part, strict=True):
                acc[rows] = values
        return out[0], out[1], out[2]

    def accept(
        self, cols: dict[str, np.ndarray], n: int, cons: Constraints
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Indices and exact (flops, params, acts) of the candidates inside every band.

        Cheapest tests first: stage counts, then a flops-only pass for the flops band, then the
        full count on the few survivors.
        """
        rows = self.prefilter(cols, cons)
        if rows is not None:
            cols, n = {k: v[rows] for k, v in cols.items()}, len(rows)
        st, num_stages, full = self.stage_arrays(cols, n, all_rows=not cons.full_stages)
        ok = np.ones(n, dtype=bool)
        if cons.stages is not None:
            ok &= cons.stages.mask(num_stages)
        if cons.full_stages:
            ok &= full
        idx = np.flatnonzero(ok)
        band = cons.band("flops")
        if band is not None:
            idx = idx[band.mask(self.score(cols, idx, st, flops_only=True)[0])]
        flops, params, acts = self.score(cols, idx, st)
        keep = np.ones(len(idx), dtype=bool)
        for name, b in cons.bands:
            keep &= b.mask({"flops": flops, "params": params, "acts": acts}[name])
        idx = idx[keep] if rows is None else rows[idx[keep]]
        return idx, flops[keep], params[keep], acts[keep]

    def prefilter(self, cols: dict[str, np.ndarray], cons: Constraints) -> np.ndarray | None:
        """Candidates that can still pass, by a cheap exact argument; None keeps all."""
        return None


class AnyNetFamily(Family):
    name = "anynet"
    spec_cls = AnyNetSpec

    def stage_arrays(
        self, cols: dict[str, np.ndarray], n: int, all_rows: bool
    ) -> tuple[StageArrays, np.ndarray, np.ndarray | None]:
        def stage(name: str, dtype: type) -> np.ndarray:  # (n, stages); (n, 0) if absent
            return cols[name].astype(dtype) if name in cols else np.zeros((n, 0), dtype=dtype)

        st = StageArrays(
            stage("ds", np.int64),
            stage("ws", np.int64),
            stage("ss", np.int64),
            stage("bs", np.float64),
            stage("gs", np.int64),
        )
        return st, (st.ds > 0).sum(axis=1), None


class RegNetFamily(Family):
    name = "regnet"
    spec_cls = RegNetSpec
    always_compatible = True  # pycls adjusts RegNet widths before it looks at the block type

    def stage_arrays(
        self, cols: dict[str, np.ndarray], n: int, all_rows: bool
    ) -> tuple[StageArrays, np.ndarray, np.ndarray | None]:
        def col(name: str, dtype: type) -> np.ndarray:
            return self.column(cols, name).astype(dtype)

        ds, ws, num_stages, full = regnet_stages(
            col("d", np.int64),
            col("w0", np.int64),
            col("wa", np.float64),
            col("wm", np.float64),
            all_rows=all_rows,
        )

        def every_stage(name: str, dtype: type) -> np.ndarray:
            return col(name, dtype)[:, None]  # one column: the same value in every stage

        st = StageArrays(
            ds,
            ws,
            every_stage("stride", np.int64),
            every_stage("b", np.float64),
            every_stage("g", np.int64),
        )
        return st, num_stages, full

    def prefilter(self, cols: dict[str, np.ndarray], cons: Constraints) -> np.ndarray | None:
        """With full stages required, num_stages == max(s_j) + 1 == round(t_{d-1}) + 1.

        One log per candidate then rules out most of a stage band before any per-stage work
        (rows within noise of a rounding tie are kept for the exact path).
        """
        if not cons.full_stages or cons.stages is None:
            return None
        d, w0 = self.column(cols, "d"), self.column(cols, "w0").astype(np.float64)
        t = regnet_t(w0, self.column(cols, "wa"), self.column(cols, "wm"), d - 1, log=np.log)
        ok = cons.stages.mask(np.round(t) + 1) | (np.abs(t - np.floor(t) - 0.5) < 1e-9)
        return np.flatnonzero(ok)


class ViTFamily(Family):
    name = "vit"
    spec_cls = ViTSpec
    cnn = False
    vectorized = False
    derived = ("stem_ws", "stem_ss")
    pseudo = {"head_d": "int", "mlp_ratio": "float", "depth_p": "int"}
    exclusive = (("hidden_d", "head_d"), ("mlp_d", "mlp_ratio"), ("depth", "depth_p"))
    # head_w is the CNN head conv's width (head_d is per attention head); d is a depth elsewhere
    aliases = {"head_w": "head_d", "d": "hidden_d"}

    def kwargs(self, values: dict[str, Any]) -> dict[str, Any]:
        kw = super().kwargs(values)
        if "head_d" in values:
            kw["hidden_d"] = kw["heads"] * int(values["head_d"])
        if "mlp_ratio" in values:
            kw["mlp_d"] = round(float(values["mlp_ratio"]) * kw["hidden_d"])
        # Flop-matched pairs (Xiao et al. 2021): the conv stem replaces one transformer block.
        if "depth_p" in values:
            conv = kw.get("stem_type", self.defaults["stem_type"]) == "conv"
            kw["depth"] = int(values["depth_p"]) - conv
        if kw.get("stem_type") == "conv":
            patch = kw.get("patch_size", self.defaults["patch_size"])
            n = round(math.log2(patch)) if patch > 1 else 0
            if n < 1 or 2**n != patch:
                raise ConfigError(
                    f"a conv stem needs a power-of-two patch_size, got {patch}", key="patch_size"
                )
            kw["stem_ws"] = tuple(max(1, kw["hidden_d"] // 2 ** (n - 1 - i)) for i in range(n))
            kw["stem_ss"] = (2,) * n
        return kw


FAMILIES: dict[str, Family] = {f.name: f for f in (AnyNetFamily(), RegNetFamily(), ViTFamily())}


def get_family(name: Any, key: str = "family") -> Family:
    if name not in FAMILIES:
        raise ConfigError(f"can sample {', '.join(FAMILIES)}, got {name!r}", key=key)
    return FAMILIES[name]
