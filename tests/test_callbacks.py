"""Callback data codecs: every button family round-trips within Telegram's 64 bytes at its
largest values and refuses anything it did not make; every family reaches its handler.

Families are found by walking `CallbackData` subclasses after importing every handlers module,
so a new family is covered without touching this file (a new `str` field must say below the
longest value it carries).
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
import re
import typing
from typing import Any, Literal, get_args, get_origin

import pytest
from telegram.ext import CallbackQueryHandler

import handlers
from bot.i18n import SUPPORTED_LOCALES
from bot.services import reminder_draft, reports, targeting
from bot.services.enums import Role
from bot.services.reminder_audience import AUDIENCE_KINDS
from handlers.admin_buttons import ExportFileFormat, InviteRole, ReportPeriod
from handlers.callbacks import MAX_CALLBACK_BYTES, BadCallback, CallbackData
from handlers.exports import FORMAT_LABELS
from handlers.outreach_buttons import Dimension, ReminderAudience, ReminderWhen
from handlers.people_buttons import ProfileEdit

for _module in pkgutil.iter_modules(handlers.__path__):
    importlib.import_module(f"handlers.{_module.name}")

LARGEST_ID = 2**62 - 1
LONGEST_ID_TEXT = str(LARGEST_ID)

# The longest value each str field carries (ids travel as text in some of them).
LONGEST_STR: dict[tuple[str, str], str] = {
    ("LanguageSet", "code"): max(SUPPORTED_LOCALES, key=len),
    ("WorkLanguageToggle", "code"): max(SUPPORTED_LOCALES, key=len),
    ("ExportToggle", "key"): LONGEST_ID_TEXT,  # a city or topic id, or a country code
    # a country code (2 letters), a language code, a role
    ("BroadcastToggleCode", "code"): max([*SUPPORTED_LOCALES, *Role], key=len),
    ("ReminderToggle", "value"): LONGEST_ID_TEXT,  # a city or topic id, or a country code
}


def _all_subclasses(cls: type[CallbackData]) -> list[type[CallbackData]]:
    found: list[type[CallbackData]] = []
    for sub in cls.__subclasses__():
        found += [sub, *_all_subclasses(sub)]
    return found


ALL = _all_subclasses(CallbackData)
# A button's data is made by a dataclass: a kind of a family, or a family without kinds.
BUTTONS = [c for c in ALL if "__dataclass_fields__" in c.__dict__]
FAMILIES: list[type[CallbackData]] = [c for c in ALL if "prefix" in c.__dict__]


def family_of(cls: type[CallbackData]) -> type[CallbackData]:
    return next(c for c in cls.__mro__ if "prefix" in c.__dict__)


def fields_of(cls: type[CallbackData]) -> list[tuple[str, Any]]:
    hints = typing.get_type_hints(cls)
    return [(f.name, hints[f.name]) for f in dataclasses.fields(cls)]  # type: ignore[arg-type]


def largest(cls: type[CallbackData]) -> CallbackData:
    values: list[Any] = []
    for name, kind in fields_of(cls):
        if kind is int:
            values.append(LARGEST_ID)
        elif get_origin(kind) is Literal:
            values.append(max(get_args(kind), key=lambda word: len(word.encode())))
        else:
            assert (cls.__name__, name) in LONGEST_STR, (
                f"{cls.__name__}.{name}: add the longest value it carries to LONGEST_STR"
            )
            values.append(LONGEST_STR[cls.__name__, name])
    return cls(*values)


def ids(classes: list[type[CallbackData]]) -> list[str]:
    return [c.__name__ for c in classes]


def test_families_are_found() -> None:
    assert len(FAMILIES) >= 20 and len(BUTTONS) >= 60
    assert {f.prefix for f in FAMILIES} >= {"topics", "export", "broadcast", "question"}


def test_every_prefix_is_unique_and_no_pattern_claims_another_family() -> None:
    prefixes = [f.prefix for f in FAMILIES]
    assert len(prefixes) == len(set(prefixes))
    for button in BUTTONS:
        data = largest(button).encode()
        matching = [f.prefix for f in FAMILIES if re.match(f.pattern(), data)]
        assert matching == [family_of(button).prefix], data


@pytest.mark.parametrize("button", BUTTONS, ids=ids(BUTTONS))
def test_round_trip_at_the_largest_values_within_64_bytes(button: type[CallbackData]) -> None:
    value = largest(button)
    data = value.encode()
    assert len(data.encode()) <= MAX_CALLBACK_BYTES, data
    assert button.decode(data) == value
    family = family_of(button)
    assert family.decode(data) == value  # the family finds the kind by its action word
    assert re.match(button.pattern(), data) and re.match(family.pattern(), data)
    # and the smallest values too (no fields empty, zero ids and pages)
    smallest = [
        0 if kind is int else get_args(kind)[0] if get_origin(kind) is Literal else "x"
        for _name, kind in fields_of(button)
    ]
    assert button.decode(button(*smallest).encode()) == button(*smallest)


@pytest.mark.parametrize("button", BUTTONS, ids=ids(BUTTONS))
def test_decoding_refuses_what_the_bot_did_not_make(button: type[CallbackData]) -> None:
    family = family_of(button)
    data = largest(button).encode()
    parts = data.split(":")
    head = 2 if button.action_word else 1
    forged: list[str | None] = [
        None,
        "",
        "zzz",
        "x" + data,  # another prefix
        data + ":1",  # a part too many
        ":".join(parts[:-1]),  # a part too few
        data + "x" * MAX_CALLBACK_BYTES,  # over 64 bytes
    ]
    if button.action_word:
        forged.append(":".join([parts[0], "nope", *parts[2:]]))  # an unknown action word
    for i, (_name, kind) in enumerate(fields_of(button), start=head):

        def with_part(raw: str, i: int = i) -> str:
            return ":".join([*parts[:i], raw, *parts[i + 1 :]])

        forged.append(with_part(""))
        if kind is int:
            forged += [with_part(raw) for raw in ("abc", "1.5", " 1", "01", "+1", "0x1")]
            forged += [with_part(str(2**62)), with_part(str(-(2**62)))]  # out of range
        elif get_origin(kind) is Literal:
            forged.append(with_part("nope"))  # a word not in the Literal
    for bad in forged:
        with pytest.raises(BadCallback):
            button.decode(bad)
        with pytest.raises(BadCallback):
            family.decode(bad)


def test_encoding_refuses_what_would_not_decode() -> None:
    from handlers.outreach_buttons import ReminderToggle

    with pytest.raises(ValueError, match="may not contain"):
        ReminderToggle("a:b", 0).encode()
    with pytest.raises(ValueError, match="too long"):
        ReminderToggle("x" * 60, 0).encode()


def test_action_words_agree_with_what_the_services_accept() -> None:
    assert set(get_args(ReportPeriod)) == {*reports.PERIOD_DAYS, "all"}
    assert set(get_args(ExportFileFormat)) == set(FORMAT_LABELS)
    assert set(get_args(Dimension)) == set(targeting.DIMENSIONS)
    assert set(get_args(InviteRole)) == {Role.OFFICIAL.value, Role.ORGANISER.value}
    hints = typing.get_type_hints
    assert set(get_args(hints(ReminderAudience)["kind"])) == {"all", *AUDIENCE_KINDS}
    assert set(get_args(hints(ReminderWhen)["kind"])) == set(reminder_draft.WHEN_KINDS)
    assert set(get_args(hints(ProfileEdit)["part"])) == {
        "name",
        "latin",
        "position",
        "topics",
        "languages",
    }


class _RecordingApp:
    """Just enough of telegram.ext.Application for handlers.register to fill in."""

    def __init__(self) -> None:
        self.handlers: list[Any] = []

    def add_handler(self, handler: Any, group: int = 0) -> None:
        self.handlers.append(handler)

    def add_handlers(self, new: list[Any], group: int = 0) -> None:
        self.handlers += new

    def add_error_handler(self, callback: Any) -> None:
        pass


def test_every_family_is_registered_with_its_pattern() -> None:
    app = _RecordingApp()
    handlers.register(app)  # type: ignore[arg-type]
    patterns = [
        h.pattern.pattern
        for h in app.handlers
        if isinstance(h, CallbackQueryHandler) and isinstance(h.pattern, re.Pattern)
    ]
    for family in FAMILIES:
        assert patterns.count(family.pattern()) == 1, family.prefix
