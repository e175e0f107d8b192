"""Typed reading of a command's spec params into its frozen config dataclass.

Every command builds its config with a `ParamReader` before it does any work, so a missing or
wrongly typed value is bad input — a PermanentError naming the field (`params.steps: expected int,
got str`) — not a ValueError / KeyError deep in the run that the runner would retry.

Rules, the same for every command:
  - an absent param takes the default; a required one (no default) is an error naming it;
  - null means "the default" for a param that has one (JSON writers drop or null unset values);
  - int accepts integral numbers (3 or 3.0, not 3.5, not true); float accepts any number but a
    bool; bool only true / false; str only strings.
A reader also reads nested objects of the spec (e.g. params.priorPreservation) with `nested`.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, TypeVar

from .protocol import PermanentError, Spec

T = TypeVar("T")
REQUIRED: Any = object()


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "bool", int: "int", float: "float", str: "str", list: "list", dict: "object"}.get(
        type(value), type(value).__name__)


class ParamReader:
    def __init__(self, values: Mapping[str, Any], prefix: str = "params") -> None:
        if not isinstance(values, Mapping):
            raise PermanentError(f"{prefix}: expected an object, got {type_name(values)}")
        self.values = values
        self.prefix = prefix

    @staticmethod
    def of(spec: Spec) -> "ParamReader":
        return ParamReader(spec.params)

    def field(self, name: str) -> str:
        return f"{self.prefix}.{name}"

    def fail(self, name: str, problem: str) -> PermanentError:
        return PermanentError(f"{self.field(name)}: {problem}")

    def has(self, name: str) -> bool:
        return self.values.get(name) is not None

    def raw(self, name: str, default: Any = REQUIRED) -> Any:
        """The value as given (null kept), or the default when absent: for params whose null
        means something other than the default."""
        if name in self.values:
            return self.values[name]
        if default is REQUIRED:
            raise self.fail(name, "required")
        return default

    def _typed(self, name: str, default: Any, expected: str, accept: Callable[[Any], bool], convert: Callable[[Any], T]) -> T:
        value = self.values.get(name)
        if value is None:
            if default is REQUIRED:
                raise self.fail(name, f"required ({expected})")
            return default
        if not accept(value):
            raise self.fail(name, f"expected {expected}, got {type_name(value)} {value!r}")
        return convert(value)

    def int(self, name: str, default: Any = REQUIRED) -> Any:
        return self._typed(name, default, "int",
                           lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and int(v) == v, int)

    def float(self, name: str, default: Any = REQUIRED) -> Any:
        return self._typed(name, default, "float", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool), float)

    def bool(self, name: str, default: Any = REQUIRED) -> Any:
        return self._typed(name, default, "bool", lambda v: isinstance(v, bool), bool)

    def str(self, name: str, default: Any = REQUIRED) -> Any:
        return self._typed(name, default, "str", lambda v: isinstance(v, str), str)

    def choice(self, name: str, options: tuple[str, ...] | list[str], default: Any = REQUIRED) -> Any:
        value = self.str(name, default)
        if value is not None and value not in options:
            raise self.fail(name, f"{value!r} is not one of {'|'.join(options)}")
        return value

    def strings(self, name: str, default: Any = REQUIRED) -> Any:
        """A list of strings (returned as a tuple: configs are frozen)."""
        return self._typed(name, default, "list of str",
                           lambda v: isinstance(v, list) and all(isinstance(s, str) for s in v), tuple)

    def object(self, name: str, default: Any = REQUIRED) -> Any:
        return self._typed(name, default, "object", lambda v: isinstance(v, dict), dict)

    def nested(self, name: str, value: Mapping[str, Any]) -> "ParamReader":
        return ParamReader(value, self.field(name))

    def at_least(self, name: str, value: Any, minimum: Any) -> Any:
        if value is not None and value < minimum:
            raise self.fail(name, f"must be >= {minimum}, got {value}")
        return value
