"""Managing the network from Telegram: cities and their officials, removals, the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from bot.db import repo
from bot.db.models import AuditLog, City, Official, OfficialStatus, Role
from bot.runtime import Deps
from bot.services import NotFound, ServiceError
from bot.services.identity import REGISTERED, effective_role, require_role

AUDIT_PAGE_SIZE = 10
LISTED = (*REGISTERED, OfficialStatus.PENDING)


@dataclass(frozen=True)
class CityRow:
    id: int
    name: str
    country: str
    timezone: str
    officials: int


@dataclass(frozen=True)
class OfficialRow:
    id: int
    name: str | None
    position: str | None
    role: Role
    status: str
    city_id: int | None = None


@dataclass(frozen=True)
class CityOfficials:
    city: CityRow
    officials: list[OfficialRow]


@dataclass(frozen=True)
class Removed:
    official_id: int
    name: str | None
    chat_id: int
    locale: str
    city_id: int | None


@dataclass(frozen=True)
class AuditItem:
    id: int
    created_at: datetime
    action: str
    actor_name: str | None
    actor_tg_id: int | None
    target_type: str | None
    target_id: int | None
    target_name: str | None
    details: dict[str, Any]


@dataclass(frozen=True)
class AuditPage:
    items: list[AuditItem]
    page: int
    pages: int
    total: int


async def cities(deps: Deps, actor_tg_id: int) -> list[CityRow]:
    """Every city with how many officials are registered there (active or unreachable)."""
    async with deps.db.transaction() as session:
        await require_role(session, deps.settings, actor_tg_id, Role.ORGANISER)
        counts = dict(
            (
                await session.execute(
                    select(Official.city_id, func.count())
                    .where(Official.status.in_(REGISTERED))
                    .group_by(Official.city_id)
                )
            ).all()
        )
        return [
            CityRow(c.id, c.name, c.country, c.timezone, int(counts.get(c.id, 0)))
            for c in await repo.all_cities(session)
        ]


async def city_officials(deps: Deps, actor_tg_id: int, city_id: int) -> CityOfficials:
    async with deps.db.transaction() as session:
        await require_role(session, deps.settings, actor_tg_id, Role.ORGANISER)
        city = await session.get(City, city_id)
        if city is None:
            raise NotFound(what="city")
        rows = await session.scalars(
            select(Official)
            .where(Official.city_id == city_id, Official.status.in_(LISTED))
            .order_by(Official.name, Official.id)
        )
        officials = [
            OfficialRow(
                o.id,
                o.name,
                o.position,
                effective_role(deps.settings, o, o.tg_user_id),
                o.status,
                o.city_id,
            )
            for o in rows
        ]
        return CityOfficials(
            CityRow(
                city.id,
                city.name,
                city.country,
                city.timezone,
                sum(1 for o in officials if o.status in REGISTERED),
            ),
            officials,
        )


async def official(deps: Deps, actor_tg_id: int, official_id: int) -> OfficialRow:
    async with deps.db.transaction() as session:
        await require_role(session, deps.settings, actor_tg_id, Role.ORGANISER)
        found = await session.get(Official, official_id)
        if found is None or found.status not in LISTED:
            raise NotFound(what="official")
        return OfficialRow(
            found.id,
            found.name,
            found.position,
            effective_role(deps.settings, found, found.tg_user_id),
            found.status,
            found.city_id,
        )


async def city(deps: Deps, actor_tg_id: int, city_id: int) -> CityRow:
    async with deps.db.transaction() as session:
        await require_role(session, deps.settings, actor_tg_id, Role.ORGANISER)
        found = await session.get(City, city_id)
        if found is None:
            raise NotFound(what="city")
        return CityRow(found.id, found.name, found.country, found.timezone, 0)


async def remove_official(deps: Deps, actor_tg_id: int, official_id: int) -> Removed:
    """Organisers remove officials; removing an organiser takes an admin. Routing skips them
    from now on, because it only picks active officials."""
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        actor = await require_role(session, deps.settings, actor_tg_id, Role.ORGANISER)
        target = await session.get(Official, official_id, with_for_update=True)
        if target is None or target.status in (OfficialStatus.ERASED, OfficialStatus.REGISTERING):
            raise NotFound(what="official")
        if target.status == OfficialStatus.REMOVED:
            raise ServiceError("already_removed", name=target.name)
        if target.tg_user_id == actor_tg_id:
            raise ServiceError("remove_self")
        if target.tg_user_id in deps.settings.admin_ids:
            raise ServiceError("configured_admin")
        if target.role != Role.OFFICIAL:
            await require_role(session, deps.settings, actor_tg_id, Role.ADMIN)
        previous = target.status
        target.status = OfficialStatus.REMOVED
        target.role = Role.OFFICIAL
        await repo.clear_dialog(session, target.tg_user_id)
        await repo.audit(
            session,
            now,
            "official.removed",
            actor=actor,
            actor_tg_id=actor_tg_id,
            target_type="official",
            target_id=target.id,
            city_id=target.city_id,
            previous=previous,
        )
        return Removed(target.id, target.name, target.chat_id, target.locale, target.city_id)


async def audit_page(
    deps: Deps, actor_tg_id: int, page: int, size: int = AUDIT_PAGE_SIZE
) -> AuditPage:
    """The audit log, newest first, one page at a time."""
    async with deps.db.transaction() as session:
        await require_role(session, deps.settings, actor_tg_id, Role.ORGANISER)
        total = int(await session.scalar(select(func.count()).select_from(AuditLog)) or 0)
        pages = max(1, (total + size - 1) // size)
        page = min(max(page, 0), pages - 1)
        actor = aliased(Official)
        target = aliased(Official)
        rows = await session.execute(
            select(AuditLog, actor.name, target.name)
            .outerjoin(actor, actor.id == AuditLog.actor_id)
            .outerjoin(
                target, (AuditLog.target_type == "official") & (target.id == AuditLog.target_id)
            )
            .order_by(AuditLog.id.desc())
            .offset(page * size)
            .limit(size)
        )
        items = [
            AuditItem(
                a.id,
                a.created_at,
                a.action,
                actor_name,
                a.actor_tg_id,
                a.target_type,
                a.target_id,
                target_name,
                dict(a.details or {}),
            )
            for a, actor_name, target_name in rows
        ]
        return AuditPage(items, page, pages, total)


async def actor_timezone(deps: Deps, tg_user_id: int) -> str:
    """The timezone of the person's city, for showing times; UTC when they have none."""
    async with deps.db.transaction() as session:
        me = await repo.official_by_tg(session, tg_user_id)
        city = await repo.city_by_id(session, me.city_id if me else None)
        return city.timezone if city else "UTC"
