"""Who a target reaches. A target is JSON: {"countries": [ISO], "cities": [ids], "topics": [ids],
"languages": [codes], "roles": [roles]}; each non-empty key narrows the audience (any of its
values matches), and an empty target is every active official."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import City, Official, OfficialStatus, OfficialTopic

TARGET_KEYS = ("countries", "cities", "topics", "languages", "roles")


async def resolve_recipients(session: AsyncSession, target: dict[str, Any]) -> list[Official]:
    """Active officials the target reaches, by id."""
    query = select(Official).where(Official.status == OfficialStatus.ACTIVE).order_by(Official.id)
    if target.get("countries"):
        query = query.where(Official.city_id.in_(
            select(City.id).where(City.country.in_([str(c).upper() for c in target["countries"]]))))
    if target.get("cities"):
        query = query.where(Official.city_id.in_([int(c) for c in target["cities"]]))
    if target.get("topics"):
        query = query.where(Official.id.in_(
            select(OfficialTopic.official_id).where(
                OfficialTopic.topic_id.in_([int(t) for t in target["topics"]]))))
    if target.get("roles"):
        query = query.where(Official.role.in_([str(r) for r in target["roles"]]))
    officials = list((await session.scalars(query)).all())
    languages = set(target.get("languages") or ())
    if languages:
        # JSON containment differs between SQLite and PostgreSQL; the list is short.
        officials = [o for o in officials if languages & set(o.languages or ())]
    return officials
