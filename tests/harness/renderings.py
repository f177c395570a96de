"""What the bot rendered, message by message: the catalogue entry, the locale and the values put
into its placeholders, and how Telegram lays out each line (the Unicode bidi algorithm's rules
P2-P3: a paragraph takes the direction of its first strong character, isolates skipped).

`recording()` wraps the loaded catalogues so that each translated message remembers its msgid
and records the values it is formatted with; nothing else of the bot changes.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import bot.i18n

FSI, LRI, RLI, PDI = "\u2068", "\u2066", "\u2067", "\u2069"
ISOLATED = re.compile("\u2068[^\u2066\u2067\u2068\u2069]*\u2069")
TAG = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class Rendering:
    locale: str
    msgid: str
    values: dict[str, Any]


class _Message(str):
    """A translated message that records what it is formatted with."""

    msgid: str
    locale: str
    log: list[Rendering]

    def format(self, *args: Any, **kwargs: Any) -> str:
        self.log.append(Rendering(self.locale, self.msgid, dict(kwargs)))
        return str.format(self, *args, **kwargs)


class _Recording:
    def __init__(self, inner: Any, locale: str, log: list[Rendering]) -> None:
        self.inner, self.locale, self.log = inner, locale, log

    def _wrap(self, msgid: str, text: str) -> str:
        message = _Message(text)
        message.msgid, message.locale, message.log = msgid, self.locale, self.log
        return message

    def gettext(self, message: str) -> str:
        return self._wrap(message, self.inner.gettext(message))

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self._wrap(singular, self.inner.ngettext(singular, plural, n))


@contextmanager
def recording(*locales: str) -> Iterator[list[Rendering]]:
    """Every message rendered in these locales while the block runs, in order."""
    bot.i18n.load_catalogs()
    catalogs = bot.i18n._catalogs
    saved = dict(catalogs)
    log: list[Rendering] = []
    for locale in locales:
        catalogs[locale] = _Recording(saved[locale], locale, log)  # type: ignore[assignment]
    try:
        yield log
    finally:
        catalogs.update(saved)


def plain_lines(text: str) -> list[str]:
    """The lines of a Telegram HTML text as shown: tags dropped, entities read."""
    return html.unescape(TAG.sub("", text)).split("\n")


def direction(line: str) -> str | None:
    """'rtl' or 'ltr' as Telegram lays out the line (first strong character outside any
    isolate), None when it has no strong character."""
    depth = 0
    for ch in line:
        if ch in (FSI, LRI, RLI):
            depth += 1
        elif ch == PDI:
            depth = max(0, depth - 1)
        elif depth == 0:
            kind = unicodedata.bidirectional(ch)
            if kind == "L":
                return "ltr"
            if kind in ("R", "AL"):
                return "rtl"
    return None


def outside_isolates(text: str) -> str:
    """What is left of a text once its isolated parts are taken out."""
    return ISOLATED.sub("", text)
