"""Rows for tests, written straight to the database (the same models the bot uses)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime

from bot.db.engine import Database
from bot.db.models import City, Official, OfficialStatus, OfficialTopic, Role, Topic

_tg_ids = itertools.count(100001)
CREATED = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def next_tg_id() -> int:
    return next(_tg_ids)


async def make_city(
    db: Database,
    name: str,
    country: str = "TN",
    timezone: str = "Africa/Tunis",
    languages: Sequence[str] = ("ar", "fr", "en"),
    names: dict[str, str] | None = None,
) -> City:
    async with db.transaction() as s:
        city = City(
            name=name,
            country=country,
            timezone=timezone,
            languages=list(languages),
            names=dict(names or {}),
            created_at=CREATED,
        )
        s.add(city)
        await s.flush()
        return city


async def make_topic(
    db: Database,
    slug: str,
    group: str = "drr",
    names: dict[str, str] | None = None,
    position: int = 0,
) -> Topic:
    names = names or {"en": slug.replace("-", " ").capitalize()}
    async with db.transaction() as s:
        topic = Topic(
            slug=slug,
            group=group,
            names=names,
            group_names={"en": group.upper()},
            position=position,
        )
        s.add(topic)
        await s.flush()
        return topic


async def make_official(
    db: Database,
    city: City | None,
    *,
    tg_id: int | None = None,
    name: str = "Official",
    position: str = "Civil protection officer",
    topics: Sequence[Topic] = (),
    role: Role = Role.OFFICIAL,
    status: OfficialStatus = OfficialStatus.ACTIVE,
    locale: str = "en",
    languages: Sequence[str] = ("en",),
    created_at: datetime = CREATED,
) -> Official:
    tg_id = tg_id or next_tg_id()
    async with db.transaction() as s:
        official = Official(
            tg_user_id=tg_id,
            chat_id=tg_id,
            name=name,
            position=position,
            city_id=city.id if city else None,
            locale=locale,
            languages=list(languages),
            role=role,
            status=status,
            privacy_accepted_at=created_at,
            created_at=created_at,
            updated_at=created_at,
        )
        s.add(official)
        await s.flush()
        s.add_all(OfficialTopic(official_id=official.id, topic_id=t.id) for t in topics)
        return official
