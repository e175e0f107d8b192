"""Typed spec params: a wrong type is bad input (PermanentError naming the param), not a crash."""
from __future__ import annotations

from typing import Any

from ..protocol import PermanentError, Spec


def int_param(spec: Spec, name: str, default: Any = ...) -> Any:
    value = spec.param(name, default)
    if value is None and default is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
        raise PermanentError(f"param {name} must be an integer, got {value!r}")
    return int(value)


def float_param(spec: Spec, name: str, default: Any = ...) -> float:
    value = spec.param(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PermanentError(f"param {name} must be a number, got {value!r}")
    return float(value)


def bool_param(spec: Spec, name: str, default: Any = ...) -> bool:
    value = spec.param(name, default)
    if not isinstance(value, bool):
        raise PermanentError(f"param {name} must be true or false, got {value!r}")
    return value


def str_param(spec: Spec, name: str, default: Any = ...) -> str:
    value = spec.param(name, default)
    if value is None and default is not ...:
        value = default
    if not isinstance(value, str):
        raise PermanentError(f"param {name} must be a string, got {value!r}")
    return value
