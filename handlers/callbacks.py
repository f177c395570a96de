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

A family whose buttons carry different values is split into kinds, one dataclass each, named
by an action word after the prefix. The family is a plain subclass naming the prefix; each kind
subclasses it naming its `action`:

    class TopicButton(CallbackData, prefix="topics"):
        pass

    @dataclass(frozen=True)
    class TopicToggle(TopicButton, action="toggle"):
        topic_id: int
        page: int

    @dataclass(frozen=True)
    class TopicsDone(TopicButton, action="done"):
        pass

`TopicToggle(7, 0).encode()` is `topics:toggle:7:0`; `TopicButton.decode(data)` returns the
kind the action word names (a handler `match`es on it), and `TopicButton.pattern()` matches
every kind of the family.
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
    # The kind's action word; "" on a family itself. (Not `action`: a family may have a field
    # of that name, as `QuestionAction` above.)
    action_word: ClassVar[str] = ""
    # A family's kinds by action word (empty for a family that is a dataclass itself).
    kinds: ClassVar[dict[str, type[CallbackData]]]
    _parsers: ClassVar[tuple[tuple[str, Any], ...]]

    def __init_subclass__(
        cls, *, prefix: str | None = None, action: str | None = None, **kwargs: Any
    ) -> None:
        super().__init_subclass__(**kwargs)
        if (prefix is None) == (action is None):
            raise TypeError(f"{cls.__name__}: a family names its prefix, a kind its action")
        if prefix is not None:
            _check_word(prefix)
            cls.prefix, cls.action_word, cls.kinds = prefix, "", {}
            return
        assert action is not None
        _check_word(action)
        if cls.action_word or action in cls.kinds:
            raise TypeError(f"{cls.__name__}: {cls.prefix}:{action} is already a kind")
        cls.action_word = action
        cls.kinds[action] = cls

    @classmethod
    def _fields(cls) -> tuple[tuple[str, Any], ...]:
        """(name, type) of each field, resolved once (the module uses postponed annotations)."""
        if "_parsers" not in cls.__dict__:
            hints = typing.get_type_hints(cls)
            cls._parsers = tuple((f.name, hints[f.name]) for f in dataclasses.fields(cls))  # type: ignore[arg-type]
        return cls._parsers

    @classmethod
    def _head(cls) -> list[str]:
        return [cls.prefix, cls.action_word] if cls.action_word else [cls.prefix]

    @classmethod
    def pattern(cls) -> str:
        """The regular expression a CallbackQueryHandler for this family (or kind) matches."""
        return f"^{re.escape(SEPARATOR.join(cls._head()))}(?:{SEPARATOR}|$)"

    def encode(self) -> str:
        """The callback data for a button; ValueError if it would not fit Telegram's 64 bytes."""
        parts = self._head()
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
        """The button's value from callback data (on a family: of the kind its action word
        names); BadCallback for anything else."""
        if not data or len(data.encode()) > MAX_CALLBACK_BYTES:
            raise BadCallback(data)
        parts = data.split(SEPARATOR)
        if parts[0] != cls.prefix:
            raise BadCallback(data)
        kind: type[CallbackData] = cls
        if cls.kinds and not cls.action_word:
            found = cls.kinds.get(parts[1]) if len(parts) > 1 else None
            if found is None:
                raise BadCallback(data)
            kind = found
        head = kind._head()
        fields = kind._fields()
        if parts[: len(head)] != head or len(parts) != len(head) + len(fields):
            raise BadCallback(data)
        raw_values = parts[len(head) :]
        values = [_parse(t, raw, data) for (_name, t), raw in zip(fields, raw_values, strict=True)]
        return typing.cast(Self, kind(*values))


def _check_word(word: str) -> None:
    if not word or SEPARATOR in word:
        raise ValueError(f"bad callback prefix or action {word!r}")


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
