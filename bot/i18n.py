"""Translations: catalogs loaded once from locales/, the locale carried in a ContextVar.

Catalogs are compiled in memory from the `.po` files at start, so no manual compile step
exists and a `.po` that does not parse stops the bot at start.
"""

from __future__ import annotations

import gettext as _gettext
import io
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale, negotiate_locale
from babel.core import get_global, parse_locale
from babel.dates import format_date as _babel_format_date
from babel.dates import format_datetime as _babel_format_datetime
from babel.dates import format_timedelta as _babel_format_timedelta
from babel.lists import format_list as _babel_format_list
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from bot import PACKAGE_DIR

SUPPORTED_LOCALES: tuple[str, ...] = ("en", "fr", "ar", "it", "es")


@cache
def own_name(code: str) -> str:
    """A language in its own words, as it starts a button ("Français", "Italiano"), from CLDR.
    Read when first shown: each locale's CLDR data is megabytes the start does not need."""
    name = str(Locale.parse(code).get_display_name(code))
    return name[:1].upper() + name[1:]


DOMAIN = "messages"

_catalogs: dict[str, _gettext.NullTranslations] = {}
_default_locale = "en"
_current: ContextVar[str | None] = ContextVar("locale", default=None)


class CatalogError(Exception):
    """A catalog is missing or cannot be read."""


def load_catalogs(locales_dir: Path | None = None, default_locale: str = "en") -> None:
    """Compile every supported locale's `.po` in memory; English is the source language."""
    global _default_locale
    locales_dir = locales_dir or PACKAGE_DIR / "locales"
    loaded: dict[str, _gettext.NullTranslations] = {"en": _gettext.NullTranslations()}
    for loc in SUPPORTED_LOCALES:
        if loc == "en":
            continue
        po_path = locales_dir / loc / "LC_MESSAGES" / f"{DOMAIN}.po"
        if not po_path.exists():
            raise CatalogError(f"missing translation catalog {po_path}")
        try:
            with po_path.open("rb") as fh:
                catalog = read_po(fh, locale=loc, abort_invalid=True)
        except Exception as exc:
            raise CatalogError(f"cannot read {po_path}: {exc}") from exc
        buf = io.BytesIO()
        write_mo(buf, catalog, use_fuzzy=False)
        buf.seek(0)
        loaded[loc] = _gettext.GNUTranslations(buf)
    _catalogs.clear()
    _catalogs.update(loaded)
    _default_locale = default_locale


def _ensure_loaded() -> None:
    if not _catalogs:
        load_catalogs()


def default_locale() -> str:
    return _default_locale


def current_locale() -> str:
    return _current.get() or _default_locale


def set_locale(locale: str | None) -> None:
    """Set the locale for the rest of this task (one update, one job)."""
    _current.set(locale if locale in SUPPORTED_LOCALES else None)


@contextmanager
def use_locale(locale: str | None) -> Iterator[str]:
    """Render in another person's locale for a block (e.g. a message sent to a recipient)."""
    token = _current.set(locale if locale in SUPPORTED_LOCALES else None)
    try:
        yield current_locale()
    finally:
        _current.reset(token)


def gettext(message: str) -> str:
    _ensure_loaded()
    return _catalogs[current_locale()].gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    _ensure_loaded()
    return _catalogs[current_locale()].ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark a string for extraction; it is translated later, where it is shown."""
    return message


_ = gettext


def negotiate(language_code: str | None) -> str:
    """Pick a supported locale from Telegram's `language_code` (e.g. 'fr-FR', 'ar')."""
    if not language_code:
        return _default_locale
    found = negotiate_locale([language_code.replace("_", "-")], list(SUPPORTED_LOCALES), sep="-")
    if found:
        return found
    base = language_code.split("-")[0].split("_")[0].lower()
    return base if base in SUPPORTED_LOCALES else _default_locale


def babel_locale(locale: str | None = None) -> Locale:
    return Locale.parse(locale or current_locale())


def format_datetime(when: datetime, timezone: str | None = "UTC", fmt: str = "medium") -> str:
    """A date and time in the current locale and the given IANA timezone."""
    tz = ZoneInfo(timezone or "UTC")
    return _babel_format_datetime(when, format=fmt, tzinfo=tz, locale=babel_locale())


def format_date(when: datetime, timezone: str | None = "UTC") -> str:
    """A date alone ("5 Dec 2026") in the current locale and the given IANA timezone."""
    local = when.astimezone(ZoneInfo(timezone or "UTC"))
    return _babel_format_date(local.date(), format="medium", locale=babel_locale())


def format_duration(delta: timedelta) -> str:
    """How long, as a person says it in the current locale: '45 minutes', '1 hour', '6 days'
    (CLDR units and plural forms; rounded to the largest whole unit, at least a minute)."""
    return _babel_format_timedelta(delta, granularity="minute", threshold=1, locale=babel_locale())


def format_list(items: list[str]) -> str:
    """'Gabès, Potenza and Nice' in the current locale."""
    return _babel_format_list(items, locale=babel_locale())


def country_name(code: str) -> str:
    """A country's name in the current locale, from its ISO code (CLDR): "Tunisie", "تونس"."""
    return str(babel_locale().territories.get(code, code))


def language_name(code: str) -> str:
    """A language's name in the current locale as it stands mid-sentence, from CLDR: "en
    français", "in italiano", "in Italian", "بالفرنسية" takes "الفرنسية"."""
    return str(babel_locale().languages.get(code, code))


def written_in_latin(text: str) -> bool:
    """Whether every letter of the text is a Latin letter ("Aïssata Bâ" is, "عائشة" is not)."""
    return all(unicodedata.name(ch, "").startswith("LATIN") for ch in text if ch.isalpha())


def is_rtl(locale: str) -> bool:
    """Whether the language is written right to left (Arabic)."""
    return bool(Locale.parse(locale).text_direction == "rtl")


def reads_latin(locale: str) -> bool:
    """Whether the language is written in Latin letters (CLDR's likely script for it)."""
    likely = get_global("likely_subtags").get(locale, locale)
    return parse_locale(likely)[2] == "Latn"
