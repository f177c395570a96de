"""Callback data as types: one small dataclass per button family, encoded within 64 bytes.

A button family is a frozen dataclass that subclasses `CallbackData` and names its `prefix`.
Its fields, in order, become the parts of the data after the prefix: `int`, `str`, or a
`Literal[...]` of strings (the action words a family accepts). So

    @dataclass(frozen=True)
    class QuestionAction(CallbackData, prefix="question"):
        action: Literal["answer", "decline"]
        routing_id: int

encodes as `question:decline:42` and decodes back to `QuestionAction("decline", 42)`.
`decode` refuses anything this bot did not make (another prefix, a wrong number of parts, an
action word not in the `Literal`, a number out of range) with `BadCallback`, which the
handlers' guard turns into "This button is no longer active.": forged or stale buttons never
reach a service with a value of the wrong type. `pattern()` is the regular expression the
family's `CallbackQueryHandler` is registered with.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from typing import Any, ClassVar, Literal, Self, get_args, get_origin

MAX_CALLBACK_BYTES = 64
SEPARATOR = ":"
# Ids and pages are database integers; anything wider is forged.
INT_BOUND = 2**62


class BadCallback(ValueError):
    """Callback data that this bot did not make (forged, truncated or from an old version)."""


class CallbackData:
    """Base of the button families; see the module docstring."""

    prefix: ClassVar[str]
    _parsers: ClassVar[tuple[tuple[str, Any], ...]]

    def __init_subclass__(cls, *, prefix: str, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if SEPARATOR in prefix or not prefix:
            raise ValueError(f"bad callback prefix {prefix!r}")
        cls.prefix = prefix

    @classmethod
    def _fields(cls) -> tuple[tuple[str, Any], ...]:
        """(name, type) of each field, resolved once (the module uses postponed annotations)."""
        if "_parsers" not in cls.__dict__:
            hints = typing.get_type_hints(cls)
            cls._parsers = tuple((f.name, hints[f.name]) for f in dataclasses.fields(cls))  # type: ignore[arg-type]
        return cls._parsers

    @classmethod
    def pattern(cls) -> str:
        """The regular expression a CallbackQueryHandler for this family matches."""
        return f"^{re.escape(cls.prefix)}{SEPARATOR}"

    def encode(self) -> str:
        """The callback data for a button; ValueError if it would not fit Telegram's 64 bytes."""
        parts = [self.prefix]
        for name, kind in self._fields():
            value = getattr(self, name)
            text = str(value)
            if kind is str or get_origin(kind) is Literal:
                if SEPARATOR in text:
                    raise ValueError(f"{name} may not contain {SEPARATOR!r}: {text!r}")
            parts.append(text)
        data = SEPARATOR.join(parts)
        if len(data.encode()) > MAX_CALLBACK_BYTES:
            raise ValueError(f"callback data too long: {data!r}")
        return data

    @classmethod
    def decode(cls, data: str | None) -> Self:
        """The button family's value from callback data; BadCallback for anything else."""
        if not data or len(data.encode()) > MAX_CALLBACK_BYTES:
            raise BadCallback(data)
        parts = data.split(SEPARATOR)
        fields = cls._fields()
        if parts[0] != cls.prefix or len(parts) != len(fields) + 1:
            raise BadCallback(data)
        values = [
            _parse(kind, raw, data) for (_name, kind), raw in zip(fields, parts[1:], strict=True)
        ]
        return cls(*values)


def _parse(kind: Any, raw: str, data: str) -> Any:
    if kind is int:
        try:
            number = int(raw)
        except ValueError:
            raise BadCallback(data) from None
        if not -INT_BOUND < number < INT_BOUND or raw != str(number):
            raise BadCallback(data)
        return number
    if get_origin(kind) is Literal:
        if raw not in get_args(kind):
            raise BadCallback(data)
        return raw
    if kind is str:
        if not raw:
            raise BadCallback(data)
        return raw
    raise TypeError(f"callback field type {kind!r} is not supported")
