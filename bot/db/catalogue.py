"""The catalogue: cities, topics and their groups. SQL only: add, flush, select; never commit."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import City, Topic


class CityName(NamedTuple):
    """A city as a sentence names it: its name, and its name per language where it differs."""

    name: str
    names: dict[str, str]


async def city_by_id(session: AsyncSession, city_id: int | None) -> City | None:
    if city_id is None:
        return None
    return await session.get(City, city_id)


async def city_by_name(session: AsyncSession, name: str) -> City | None:
    """Exact name first, then case-insensitive and whatever the Unicode form (an "è" typed as
    e and a combining accent; SQLite's lower() is ASCII-only, so compare here)."""
    city = await session.scalar(select(City).where(City.name == name))
    if city is not None:
        return city
    wanted = _folded(name)
    for candidate in await session.scalars(select(City)):
        if _folded(candidate.name) == wanted:
            return candidate
    return None


def _folded(name: str) -> str:
    return unicodedata.normalize("NFC", name.strip()).casefold()


async def all_cities(session: AsyncSession) -> Sequence[City]:
    return (await session.scalars(select(City).order_by(City.country, City.name))).all()


_CITIES_BY_IDS = select(City).where(City.id.in_(bindparam("ids", expanding=True)))


async def cities_by_ids(session: AsyncSession, city_ids: Iterable[int]) -> dict[int, City]:
    ids = sorted(set(city_ids))
    if not ids:
        return {}
    return {c.id: c for c in await session.scalars(_CITIES_BY_IDS, {"ids": ids})}


async def cities_by_name(session: AsyncSession) -> dict[str, City]:
    return {c.name: c for c in await session.scalars(select(City))}


def add_city(
    session: AsyncSession,
    *,
    name: str,
    country: str,
    timezone: str,
    languages: list[str],
    names: dict[str, str],
    now: datetime,
    calendar: dict[str, Any] | None = None,
) -> City:
    city = City(
        name=name,
        country=country,
        timezone=timezone,
        languages=languages,
        calendar=calendar,
        names=names,
        created_at=now,
    )
    session.add(city)
    return city


async def count_cities(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(City)) or 0)


async def topic_by_id(session: AsyncSession, topic_id: int) -> Topic | None:
    return await session.get(Topic, topic_id)


async def all_topics(session: AsyncSession) -> Sequence[Topic]:
    return (await session.scalars(select(Topic).order_by(Topic.position, Topic.slug))).all()


async def topics_by_ids(session: AsyncSession, topic_ids: Iterable[int]) -> Sequence[Topic]:
    """The given topics in catalogue order."""
    ids = list(topic_ids)
    if not ids:
        return []
    return (
        await session.scalars(
            select(Topic).where(Topic.id.in_(ids)).order_by(Topic.position, Topic.slug)
        )
    ).all()


async def topics_by_slug(session: AsyncSession) -> dict[str, Topic]:
    return {t.slug: t for t in await session.scalars(select(Topic))}


def add_topic(
    session: AsyncSession,
    *,
    slug: str,
    group: str,
    names: dict[str, str],
    group_names: dict[str, str],
    position: int,
) -> Topic:
    topic = Topic(slug=slug, group=group, names=names, group_names=group_names, position=position)
    session.add(topic)
    return topic


async def count_topics(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Topic)) or 0)
