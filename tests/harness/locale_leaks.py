"""Text the bot shows that was never translated or never filled in.

`raw_placeholders` finds a `{name}` or `%(name)s` the catalogues use left in a text. `Leaks`
finds English from the catalogue (a msgid) in a text meant for a person reading another
language, where that language has a translation: only stretches of at least three words
between placeholders are looked for, and not those the language's own catalogue also contains
(a brand name, a command), so neither short labels nor user text make a false alarm.
"""

from __future__ import annotations

import html
import re
from functools import cache

from babel.messages.pofile import read_po

from bot.i18n import SUPPORTED_LOCALES
from tests import PROJECT_ROOT

PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}|%\([A-Za-z_][A-Za-z0-9_]*\)[sdif]")
_SPLIT = re.compile(r"\{[^{}]*\}|%\([^)]*\)[sdif]|<[^>]*>|\n")
MIN_WORDS = 3
MIN_CHARS = 15


def _catalogue(locale: str) -> list[tuple[list[str], list[str]]]:
    """(English forms, translated forms) of each translated entry."""
    path = PROJECT_ROOT / "locales" / locale / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=locale)
    out = []
    for message in catalog:
        if not message.id or message.fuzzy:
            continue
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string)
        strings = [s for s in strings if s]
        if strings:
            out.append((ids, strings))
    return out


def _chunks(msgid: str) -> list[str]:
    """The stretches of a msgid long enough to be recognised in any text."""
    return [
        part.strip()
        for part in _SPLIT.split(msgid)
        if len(part.split()) >= MIN_WORDS and len(part.strip()) >= MIN_CHARS
    ]


@cache
def placeholders_in_catalogue() -> frozenset[str]:
    found: set[str] = set()
    for locale in SUPPORTED_LOCALES:
        if locale == "en":
            continue
        for ids, strings in _catalogue(locale):
            for text in ids + strings:
                found.update(PLACEHOLDER.findall(text))
    return frozenset(found)


def raw_placeholders(text: str, typed: str) -> list[str]:
    """Placeholders of the catalogue left in `text` (ignoring any a person typed)."""
    return [
        p for p in PLACEHOLDER.findall(text) if p in placeholders_in_catalogue() and p not in typed
    ]


@cache
def english_chunks(locale: str) -> tuple[str, ...]:
    """English stretches that must not appear in a text in `locale` (as the bot writes them:
    HTML-escaped where a msgid has `&`, `<` or `>` outside a tag)."""
    entries = _catalogue(locale)
    own = "\n".join(s for _ids, strings in entries for s in strings)
    chunks = set()
    for ids, _strings in entries:
        for msgid in ids:
            chunks.update(c for c in _chunks(msgid) if c not in own)
    return tuple(sorted(chunks | {html.escape(c, quote=False) for c in chunks}))


def english_in(text: str, locales: set[str]) -> list[str]:
    """English catalogue text in `text`, when none of `locales` (the reader's) is English."""
    if "en" in locales or not locales:
        return []
    found = None
    for locale in locales:
        here = {c for c in english_chunks(locale) if c in text}
        found = here if found is None else found & here
    return sorted(found or ())
