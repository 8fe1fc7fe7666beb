"""YAML values -> dataclass field types, refusing lossy conversions (3.5 for an int field).

Specs and run configs share this so that every config file is read by the same rules.
"""

import types
import typing
from typing import Any

from pycls_like.errors import ConfigError
from pycls_like.limits import check_number


def yaml_number(value: Any, key: str) -> int | float:
    """A YAML number, ints kept; text such as "1e-4" too (YAML 1.1 reads it as a string)."""
    if isinstance(value, str):
        try:
            return check_number(float(value), key)
        except ValueError as err:
            if isinstance(err, ConfigError):
                raise
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"must be a number, got {value!r}", key=key)
    return check_number(value, key)


def coerce(value: Any, kind: Any, key: str) -> Any:
    """Convert `value` to the annotated type `kind`. Strings like "5e-4" pass as floats (YAML 1.1
    reads exponents without a dot as strings)."""
    if isinstance(kind, types.UnionType):  # `int | None`
        if value is None:
            return None
        kind = next(k for k in typing.get_args(kind) if k is not type(None))
    if typing.get_origin(kind) is tuple:
        inner = typing.get_args(kind)
        if len(inner) == 2 and inner[1] is Ellipsis:  # tuple[int, ...]
            if not isinstance(value, list | tuple):
                raise ConfigError(f"must be a list, got {value!r}", key=key)
            return tuple(coerce(v, inner[0], key) for v in value)
        if not isinstance(value, list | tuple) or len(value) != len(inner):
            raise ConfigError(f"must be a list of {len(inner)} numbers, got {value!r}", key=key)
        return tuple(coerce(v, k, key) for v, k in zip(value, inner, strict=True))
    if kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"must be true or false, got {value!r}", key=key)
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"must be an integer, got {value!r}", key=key)
        if value != int(check_number(value, key)):
            raise ConfigError(f"must be an integer, got {value!r}", key=key)
        return check_number(int(value), key)
    if kind is float:
        return float(yaml_number(value, key))
    if not isinstance(value, str):
        raise ConfigError(f"must be a string, got {value!r}", key=key)
    return value
