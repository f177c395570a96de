"""Who an announcement reaches: one target filter, one query (broadcasts and reminders).

A target is stored as JSON: ``{"countries": ["TN"], "cities": [3], "topics": [5],
"languages": ["fr"], "roles": ["organiser"]}``. An empty or missing list does not filter; a
person must match every list that is given, and any one value within a list. Only active
officials are ever targeted: unreachable ones (they blocked the bot) are left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Select, String, cast, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import City, Official, OfficialStatus, OfficialTopic, Role
from bot.i18n import SUPPORTED_LOCALES
from bot.services import InvalidInput

DIMENSIONS = ("countries", "cities", "topics", "languages", "roles")
ROLES = tuple(r.value for r in Role)


def normalize(target: Mapping[str, Any] | None) -> dict[str, list[Any]]:
    """A clean target: known keys only, sorted unique values of the right type; empty lists dropped.

    Raises InvalidInput for a value of the wrong shape (a forged or corrupted filter).
    """
    out: dict[str, list[Any]] = {}
    for key, values in (target or {}).items():
        if key not in DIMENSIONS:
            raise InvalidInput(key=key)
        if not isinstance(values, list):
            raise InvalidInput(key=key)
        clean: set[Any] = set()
        for value in values:
            if key in ("cities", "topics"):
                if not isinstance(value, int) or isinstance(value, bool):
                    raise InvalidInput(key=key)
            elif key == "countries":
                if not (isinstance(value, str) and len(value) == 2 and value.isalpha()):
                    raise InvalidInput(key=key)
                value = value.upper()
            elif key == "languages":
                if value not in SUPPORTED_LOCALES:
                    raise InvalidInput(key=key)
            elif value not in ROLES:
                raise InvalidInput(key=key)
            clean.add(value)
        if clean:
            out[key] = sorted(clean)
    return out


def recipients_query(
    target: Mapping[str, Any] | None, admin_ids: Iterable[int] = ()
) -> Select[tuple[Official]]:
    """Active officials matching `target`, ordered by id. Narrow the columns with
    ``.with_only_columns(...)``; `admin_ids` are the admins by configuration (role "admin")."""
    t = normalize(target)
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


async def count_recipients(
    session: AsyncSession, target: Mapping[str, Any] | None, admin_ids: Iterable[int] = ()
) -> int:
    inner = recipients_query(target, admin_ids).with_only_columns(Official.id).order_by(None)
    return int(await session.scalar(select(func.count()).select_from(inner.subquery())) or 0)


async def resolve_recipients(
    session: AsyncSession, target: Mapping[str, Any] | None, admin_ids: Iterable[int] = ()
) -> list[Official]:
    """The officials themselves (reminders render a text per recipient)."""
    return list((await session.scalars(recipients_query(target, admin_ids))).all())
