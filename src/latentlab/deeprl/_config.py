"""JSON round-trip for the algorithms' config dataclasses."""

from __future__ import annotations

import dataclasses
import json
import typing
from typing import Any, TypeVar

__all__ = ["ConfigMixin"]

C = TypeVar("C", bound="ConfigMixin")


class ConfigMixin:
    """``to_dict``/``to_json``/``from_dict``/``from_json``/``replace`` for a frozen config dataclass."""

    def to_dict(self) -> dict[str, Any]:
        return json.loads(self.to_json())

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: type[C], data: dict[str, Any]) -> C:
        fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise ValueError(f"{cls.__name__} has no fields {unknown}; fields: {sorted(fields)}")
        hints = typing.get_type_hints(cls)
        values = {}
        for key, value in data.items():
            hint = str(hints.get(key, ""))
            values[key] = tuple(value) if isinstance(value, list) and "tuple" in hint else value
        return cls(**values)

    @classmethod
    def from_json(cls: type[C], text: str) -> C:
        return cls.from_dict(json.loads(text))

    def replace(self: C, **changes: Any) -> C:
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]


def check_range(name: str, value: float, low: float | None = None, high: float | None = None,
                low_open: bool = False) -> None:
    """Raise ValueError naming ``name`` unless ``value`` lies in the range."""
    ok = True
    if low is not None:
        ok = ok and (value > low if low_open else value >= low)
    if high is not None:
        ok = ok and value <= high
    if not ok:
        left = "(" if low_open else "["
        raise ValueError(f"{name} must be in {left}{low if low is not None else '-inf'}, "
                         f"{high if high is not None else 'inf'}], got {value}")
