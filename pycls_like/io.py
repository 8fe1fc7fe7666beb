"""Reading specs from what users type: preset names, native YAML, pycls YAML, run configs.

Every failure is a ConfigError naming the file and key, so the CLI can print one line.
"""

import re
from pathlib import Path
from typing import Any

import yaml

from pycls_like.errors import ConfigError
from pycls_like.fileio import read_text
from pycls_like.presets import get_preset
from pycls_like.pycls_cfg import is_pycls_config, spec_from_pycls
from pycls_like.specs import ModelSpec, spec_from_dict, spec_to_dict

# libyaml's C loader is ~10x faster than the pure-Python one; fall back when it is absent.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


MAX_FLOW_DEPTH = 1_000  # libyaml's C parser overflows its stack on ~50,000 nested `[`


def check_nesting(text: str, source: str | None = None) -> None:
    """Refuse flow collections nested deeper than MAX_FLOW_DEPTH (a crash, not an error, in
    libyaml); cheap: the brackets are only walked when there are that many."""
    if text.count("[") + text.count("{") <= MAX_FLOW_DEPTH:
        return
    depth = 0
    for match in re.finditer(r"[\[\]{}]", text):
        depth += 1 if match.group() in "[{" else -1
        if depth > MAX_FLOW_DEPTH:
            raise ConfigError(f"malformed YAML: nested deeper than {MAX_FLOW_DEPTH}", source=source)


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Load a YAML mapping; any unusable file (see `fileio.read_text`), syntax errors and
    non-mappings are ConfigErrors naming the file."""
    path = Path(path)
    text = read_text(path)
    check_nesting(text, str(path))
    try:
        data = yaml.load(text, Loader=_Loader)
    except RecursionError:
        raise ConfigError("malformed YAML: nested too deeply", source=str(path)) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(err, "problem", None) or "invalid syntax"
        raise ConfigError(f"malformed YAML{where}: {problem}", source=str(path)) from None
    if not isinstance(data, dict):
        raise ConfigError("expected a YAML mapping at top level", source=str(path))
    return data


def parse_override(item: str) -> tuple[list[str], Any]:
    """`a.b=3` -> (['a', 'b'], 3); the value is parsed as YAML (numbers, lists, booleans)."""
    key, sep, text = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
    try:
        check_nesting(text)
        value = yaml.load(text, Loader=_Loader)
    except (yaml.YAMLError, RecursionError, ConfigError):
        shown = text if len(text) <= 60 else f"{text[:57]}..."
        raise ConfigError(f"cannot parse value {shown!r}", key=key) from None
    path = key.strip().split(".")
    if not all(part.strip() for part in path):
        raise ConfigError(f"--set key has an empty part: {key!r}")
    return path, value


# A pycls config key as pycls users type it after the config file: `REGNET.DEPTH`, `TRAIN.IM_SIZE`.
_PYCLS_KEY = re.compile(r"[A-Z][A-Z0-9_]*(\.[A-Z0-9_]+)+")


def split_trailing_overrides(args: list[str]) -> tuple[list[str], list[str]]:
    """pycls-style trailing `KEY VALUE` pairs -> (the arguments before them, ['KEY=VALUE', ...]).

    pycls takes overrides as pairs after the config (`r50.yaml REGNET.DEPTH 20`); the first
    upper-case dotted key that is not a file starts them, and the rest must pair up.
    """
    start = next(
        (i for i, a in enumerate(args) if _PYCLS_KEY.fullmatch(a) and not Path(a).exists()),
        len(args),
    )
    pairs = args[start:]
    if len(pairs) % 2:
        raise ConfigError(f"overrides come as KEY VALUE pairs; {pairs[-1]!r} has no value")
    return args[:start], [f"{k}={v}" for k, v in zip(pairs[::2], pairs[1::2], strict=True)]


def override_keys(overrides: list[str] | tuple[str, ...]) -> set[str]:
    """The dotted keys that `--set KEY=VALUE` overrides set (`{'TRAIN.DATASET', 'optim.lr'}`)."""
    return {".".join(parse_override(item)[0]) for item in overrides}


def apply_overrides(data: dict[str, Any], overrides: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Return a copy of `data` with `--set KEY=VALUE` overrides applied (dotted keys nest)."""
    out = dict(data)
    for item in overrides:
        path, value = parse_override(item)
        node = out
        for part in path[:-1]:
            child = node.get(part)
            child = dict(child) if isinstance(child, dict) else {}
            node[part] = child
            node = child
        node[path[-1]] = value
    return out


def spec_from_data(data: dict[str, Any], source: str | None = None) -> ModelSpec:
    """A spec from a loaded mapping: native (`family`), preset-based, pycls, or a run config."""
    try:
        if "model" in data and "family" not in data:
            model = data["model"]
            if isinstance(model, str):
                return spec_from_preset_or_path(model)
            if not isinstance(model, dict):
                raise ConfigError("must be a preset name or a spec mapping", key="model")
            return spec_from_data(model, source)
        if "preset" in data:
            base = spec_to_dict(get_preset(str(data["preset"])))
            return spec_from_dict({**base, **{k: v for k, v in data.items() if k != "preset"}})
        if is_pycls_config(data):
            return spec_from_pycls(data, source)
        if "family" not in data:
            msg = "not a model spec: expected a `family` key, a `preset` key, a `model` section or pycls MODEL.TYPE"
            raise ConfigError(msg)
        return spec_from_dict(data)
    except ConfigError as err:
        raise err.located(source=source) from None


def spec_from_preset_or_path(arg: str) -> ModelSpec:
    path = Path(arg)
    if path.suffix.lower() in (".yaml", ".yml", ".json") or path.exists():
        return spec_from_data(read_yaml(path), str(path))
    return get_preset(arg)


def load_spec(arg: str, overrides: list[str] | tuple[str, ...] = ()) -> ModelSpec:
    """A preset name or a YAML/JSON path (native, pycls or run config), with `--set` overrides."""
    if not overrides:
        return spec_from_preset_or_path(arg)
    path = Path(arg)
    if path.suffix.lower() in (".yaml", ".yml", ".json") or path.exists():
        return spec_from_data(apply_overrides(read_yaml(path), overrides), str(path))
    return spec_from_data(apply_overrides(spec_to_dict(get_preset(arg)), overrides), arg)
