"""What people typed, placed inside the bot's sentences so that it cannot turn them around.

Telegram lays each line out in the direction of its first strong character (its clients apply
the bidi algorithm per paragraph: telegramdesktop/tdesktop issues 3845 and 25004). A name in
Arabic letters at the start of an Italian line would make the whole line right-to-left, and a Latin
position inside an Arabic sentence would swap with its neighbours. So every piece of user text
(names, positions, city names, quoted words) goes into the sentence isolated, between FSI
(U+2068) and PDI (U+2069): the Unicode bidi algorithm then treats it as one neutral block and
skips it when it looks for a line's direction. Names are shown in the form the reader can read:
the Latin form an official gave for readers abroad, or the city's name in the reader's language.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from typing import Protocol

from bot.i18n import current_locale, format_list, is_rtl, reads_latin

FSI, PDI = "\u2068", "\u2069"
RLM = "\u200f"
# Bidi embeddings, overrides and isolates: one left in a person's text could end the isolate it
# is put in, and turn the rest of the sentence around.
BIDI_CONTROLS = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))


def isolate(text: str) -> str:
    """User text, escaped for Telegram HTML and isolated from the sentence around it."""
    return FSI + html.escape(text.translate(BIDI_CONTROLS)) + PDI


def isolate_plain(text: str) -> str:
    """User text isolated inside a plain text: a button's label (no HTML there)."""
    return FSI + text.translate(BIDI_CONTROLS) + PDI


def isolate_all(texts: Iterable[str]) -> str:
    """Several user texts as one list, each isolated, joined the reader's way (CLDR's pattern,
    "و" in Arabic)."""
    return format_list([isolate(t) for t in texts])


def shown_name(name: str, latin: str | None) -> str:
    """A person's name as the reader can read it: the Latin form they gave for readers whose
    language is written in Latin letters, the name as written for everyone else."""
    return latin if latin and reads_latin(current_locale()) else name


def shown_city(name: str, names: Mapping[str, str] | None) -> str:
    """A city's name in the reader's language where the seed file gives one."""
    return (names or {}).get(current_locale()) or name


def name_of(name: str, latin: str | None) -> str:
    """shown_name, isolated."""
    return isolate(shown_name(name, latin))


def city_of(name: str, names: Mapping[str, str] | None) -> str:
    """shown_city, isolated."""
    return isolate(shown_city(name, names))


class Named(Protocol):
    """A person as the exchange shows them (bot.services.exchange.types.Person)."""

    @property
    def name(self) -> str: ...
    @property
    def name_latin(self) -> str | None: ...
    @property
    def city_name(self) -> str: ...
    @property
    def city_names(self) -> Mapping[str, str]: ...


class CityNamed(Protocol):
    """A city as a sentence names it (bot.services.catalogue.CityName)."""

    @property
    def name(self) -> str: ...
    @property
    def names(self) -> dict[str, str]: ...


def cities_of(cities: Iterable[CityNamed]) -> str:
    """Cities as one list in the reader's language, each isolated."""
    return isolate_all(shown_city(c.name, c.names) for c in cities)


def person_name(p: Named) -> str:
    """The person's name as this reader can read it, isolated."""
    return name_of(p.name, p.name_latin)


def person_city(p: Named) -> str:
    """The person's city in this reader's language, isolated."""
    return city_of(p.city_name, p.city_names)


def line(text: str) -> str:
    """A line of the bot's own text that starts with something written left to right (a
    command): in a right-to-left language an RLM before it keeps the line right-to-left."""
    return RLM + text if is_rtl(current_locale()) else text
