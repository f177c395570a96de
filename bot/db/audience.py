"""Who an announcement reaches: the recipients of a target filter, and where they are.

Targets come in clean (bot.services.targeting.normalize): known keys, values of the right type.
An empty or missing list does not filter; a person must match every list that is given, and
any one value within a list. Only active officials are ever targeted. A broadcast's outbox
rows are written from `recipients_query` in one statement (bot/db/broadcast_deliveries.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from sqlalchemy import Select, String, cast, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import City, Official, OfficialStatus, OfficialTopic, Role, Topic


class Recipient(NamedTuple):
    official_id: int
    chat_id: int
    # Their language when others' words reach them machine-translated, else None.
    reads: str | None = None


def recipients_query(target: Mapping[str, Any], admin_ids: Iterable[int] = ()) -> Select[Any]:
    """Active officials matching the clean `target`, ordered by id. Narrow the columns with
    ``.with_only_columns(...)``; `admin_ids` are the admins by configuration (role "admin")."""
    t = target
    query = select(Official).where(Official.status == OfficialStatus.ACTIVE)
    if t.get("countries"):
        query = query.where(
            Official.city_id.in_(select(City.id).where(City.country.in_(t["countries"])))
        )
    if t.get("cities"):
        query = query.where(Official.city_id.in_(t["cities"]))
    if t.get("topics"):
        query = query.where(
            exists().where(
                OfficialTopic.official_id == Official.id, OfficialTopic.topic_id.in_(t["topics"])
            )
        )
    if t.get("languages"):
        # The JSON list is matched as text on both SQLite and PostgreSQL; codes are validated
        # two-letter values, so '"fr"' cannot match anything but the code fr.
        as_text = cast(Official.languages, String)
        query = query.where(
            or_(
                Official.locale.in_(t["languages"]),
                *[as_text.like(f'%"{code}"%') for code in t["languages"]],
            )
        )
    if t.get("roles"):
        roles = list(t["roles"])
        conditions = [Official.role.in_(roles)]
        admins = sorted(set(admin_ids))
        if Role.ADMIN.value in roles and admins:
            conditions.append(Official.tg_user_id.in_(admins))
        query = query.where(or_(*conditions))
    return query.order_by(Official.id)


async def count(
    session: AsyncSession, target: Mapping[str, Any], admin_ids: Iterable[int] = ()
) -> int:
    inner = recipients_query(target, admin_ids).with_only_columns(Official.id).order_by(None)
    return int(await session.scalar(select(func.count()).select_from(inner.subquery())) or 0)


async def officials(
    session: AsyncSession, target: Mapping[str, Any], admin_ids: Iterable[int] = ()
) -> list[Official]:
    """The officials themselves (reminders render a text per recipient)."""
    return list((await session.scalars(recipients_query(target, admin_ids))).all())


async def chats(
    session: AsyncSession, target: Mapping[str, Any], admin_ids: Iterable[int] = ()
) -> list[Recipient]:
    """Each recipient's official id and chat (a broadcast copies one message to all), and the
    language they read a translation in."""
    query = recipients_query(target, admin_ids).with_only_columns(
        Official.id, Official.chat_id, Official.locale, Official.machine_translation
    )
    return [
        Recipient(oid, chat_id, locale if translated else None)
        for oid, chat_id, locale, translated in await session.execute(query)
    ]


async def reader_languages(
    session: AsyncSession, target: Mapping[str, Any], admin_ids: Iterable[int] = ()
) -> set[str]:
    """The languages the recipients who take machine translation read."""
    inner = (
        recipients_query(target, admin_ids)
        .with_only_columns(Official.locale)
        .where(Official.machine_translation.is_(True))
        .order_by(None)
        .distinct()
    )
    return set((await session.scalars(inner)).all())


async def countries(session: AsyncSession) -> list[str]:
    """The country codes of the cities in the network, sorted."""
    return list(await session.scalars(select(City.country).distinct().order_by(City.country)))


async def exists_in(session: AsyncSession, dimension: str, value: int) -> bool:
    """Whether a city ("cities") or topic ("topics") with this id exists."""
    model = City if dimension == "cities" else Topic
    return await session.get(model, value) is not None


async def timezones(session: AsyncSession, city_ids: Iterable[int]) -> dict[int, str]:
    """The timezone of each of these cities (recipients' messages are in their local time)."""
    ids = set(city_ids)
    if not ids:
        return {}
    return {c.id: c.timezone for c in await session.scalars(select(City).where(City.id.in_(ids)))}
