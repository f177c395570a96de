"""The library's plain data: an entry as a search result (card) and as read whole."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.services.catalogue import TopicInfo
from bot.services.exchange.types import Person

STEP_TITLE = "lib.title"
TITLE_MAX = 200
PAGE = 5


@dataclass(frozen=True)
class Card:
    """An entry as a result: its question (or title), the best answer's words, city, date."""

    entry_id: int
    title: str
    answer: str | None
    city_name: str
    created_at: datetime
    pinned: bool
    matched: int = 0  # of the query's stems (searches only)
    of: int = 0
    city_names: dict[str, str] = field(default_factory=dict)  # the city's name per language


@dataclass(frozen=True)
class Part:
    kind: str  # question | answer | follow_up
    name: str | None  # None: the author erased their data (an official of <city>)
    city_name: str
    text: str | None  # None: withdrawn by its author
    created_at: datetime
    name_latin: str | None = None  # how readers abroad write the name
    city_names: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class EntryView:
    entry_id: int
    title: str
    topic: TopicInfo
    city_name: str
    created_at: datetime
    pinned: bool
    parts: list[Part]
    mine: bool  # the reader's words are in it: they may withdraw them
    organiser: bool  # the reader may pin, retitle, remove
    city_names: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Shared:
    entry_id: int
    # Officials whose words are in the entry besides the asker: told, and may withdraw them.
    others: list[Person]
    topic: TopicInfo
    title: str
