"""The audience of a reminder: the countries, cities or topics it can be narrowed to, and what
a stored target names (the picker in the draft and the list both show it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import audience, catalogue

AUDIENCE_KINDS = ("countries", "cities", "topics")


@dataclass(frozen=True)
class Option:
    """A choice in the audience picker: a country code, city or topic."""

    value: str
    name: str
    names: dict[str, str] = field(default_factory=dict)  # topic names per locale
    selected: bool = False


async def options(session: AsyncSession, kind: str, selected: list[Any]) -> list[Option]:
    chosen = {str(s) for s in selected}
    if kind == "countries":
        return [Option(c, c, selected=c in chosen) for c in await audience.countries(session)]
    if kind == "cities":
        return [
            Option(str(c.id), c.name, dict(c.names or {}), selected=str(c.id) in chosen)
            for c in await catalogue.all_cities(session)
        ]
    return [
        Option(str(t.id), t.slug, dict(t.names or {}), str(t.id) in chosen)
        for t in await catalogue.all_topics(session)
    ]


async def named(session: AsyncSession, target: dict[str, Any]) -> tuple[str, list[Option]]:
    """The target's kind ('all', 'countries', 'cities' or 'topics') and what it names."""
    for kind in AUDIENCE_KINDS:
        if target.get(kind):
            return kind, [o for o in await options(session, kind, target[kind]) if o.selected]
    return "all", []
