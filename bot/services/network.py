"""Managing the network from Telegram: cities and their officials, removals, the audit log."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.db import audit_log, catalogue, dialogs, officials
from bot.db.models import OfficialStatus, Role
from bot.runtime import Deps
from bot.services.erasure import RenderWithdrawn, tell_recipients, withdraw_open_questions
from bot.services.errors import ErrorCode, NotFound, ServiceError
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
    names: dict[str, str] = field(default_factory=dict)  # the city's name per language


@dataclass(frozen=True)
class OfficialRow:
    id: int
    name: str | None
    position: str | None
    role: Role
    status: str
    city_id: int | None = None
    name_latin: str | None = None


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
        counts = await officials.count_by_city(session, REGISTERED)
        return [
            CityRow(c.id, c.name, c.country, c.timezone, counts.get(c.id, 0), dict(c.names))
            for c in await catalogue.all_cities(session)
        ]


async def city_officials(deps: Deps, actor_tg_id: int, city_id: int) -> CityOfficials:
    async with deps.db.transaction() as session:
        await require_role(session, deps.settings, actor_tg_id, Role.ORGANISER)
        city = await catalogue.city_by_id(session, city_id)
        if city is None:
            raise NotFound(ErrorCode.CITY)
        listed = [
            OfficialRow(
                o.id,
                o.name,
                o.position,
                effective_role(deps.settings, o, o.tg_user_id),
                o.status,
                o.city_id,
                o.name_latin,
            )
            for o in await officials.in_city(session, city_id, LISTED)
        ]
        return CityOfficials(
            CityRow(
                city.id,
                city.name,
                city.country,
                city.timezone,
                sum(1 for o in listed if o.status in REGISTERED),
                dict(city.names),
            ),
            listed,
        )


async def official(deps: Deps, actor_tg_id: int, official_id: int) -> OfficialRow:
    async with deps.db.transaction() as session:
        await require_role(session, deps.settings, actor_tg_id, Role.ORGANISER)
        found = await officials.official_by_id(session, official_id)
        if found is None or found.status not in LISTED:
            raise NotFound(ErrorCode.NOT_FOUND, what="official")
        return OfficialRow(
            found.id,
            found.name,
            found.position,
            effective_role(deps.settings, found, found.tg_user_id),
            found.status,
            found.city_id,
            found.name_latin,
        )


async def city(deps: Deps, actor_tg_id: int, city_id: int) -> CityRow:
    async with deps.db.transaction() as session:
        await require_role(session, deps.settings, actor_tg_id, Role.ORGANISER)
        found = await catalogue.city_by_id(session, city_id)
        if found is None:
            raise NotFound(ErrorCode.CITY)
        return CityRow(found.id, found.name, found.country, found.timezone, 0, dict(found.names))


async def remove_official(
    deps: Deps, actor_tg_id: int, official_id: int, render: RenderWithdrawn
) -> Removed:
    """Organisers remove officials; removing an organiser takes an admin. Routing skips them
    from now on, because it only picks active officials; their open questions are withdrawn,
    as when a person erases their data, and whoever received one is told (`render`)."""
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        actor = await require_role(session, deps.settings, actor_tg_id, Role.ORGANISER)
        target = await officials.official_by_id(session, official_id, for_update=True)
        if target is None or target.status in (OfficialStatus.ERASED, OfficialStatus.REGISTERING):
            raise NotFound(ErrorCode.NOT_FOUND, what="official")
        if target.status == OfficialStatus.REMOVED:
            raise ServiceError(ErrorCode.ALREADY_REMOVED, name=target.name)
        if target.tg_user_id == actor_tg_id:
            raise ServiceError(ErrorCode.REMOVE_SELF)
        if target.tg_user_id in deps.settings.admin_ids:
            raise ServiceError(ErrorCode.CONFIGURED_ADMIN)
        if target.role != Role.OFFICIAL:
            await require_role(session, deps.settings, actor_tg_id, Role.ADMIN)
        previous = target.status
        target.status = OfficialStatus.REMOVED
        target.role = Role.OFFICIAL
        await dialogs.clear_dialog(session, target.tg_user_id)
        withdrawn, told = await withdraw_open_questions(session, target)
        await tell_recipients(session, now, told, target.city_id, render)
        await audit_log.record(
            session,
            now,
            "official.removed",
            actor=actor,
            actor_tg_id=actor_tg_id,
            target_type="official",
            target_id=target.id,
            city_id=target.city_id,
            previous=previous,
            withdrawn=withdrawn,
        )
        return Removed(target.id, target.name, target.chat_id, target.locale, target.city_id)


async def audit_page(
    deps: Deps, actor_tg_id: int, page: int, size: int = AUDIT_PAGE_SIZE
) -> AuditPage:
    """The audit log, newest first, one page at a time."""
    async with deps.db.transaction() as session:
        await require_role(session, deps.settings, actor_tg_id, Role.ORGANISER)
        total = await audit_log.count(session)
        pages = max(1, (total + size - 1) // size)
        page = min(max(page, 0), pages - 1)
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
            for a, actor_name, target_name in await audit_log.named_page(session, page * size, size)
        ]
        return AuditPage(items, page, pages, total)


async def actor_timezone(deps: Deps, tg_user_id: int) -> str:
    """The timezone of the person's city, for showing times; UTC when they have none."""
    async with deps.db.transaction() as session:
        me = await officials.official_by_tg(session, tg_user_id)
        city = await catalogue.city_by_id(session, me.city_id if me else None)
        return city.timezone if city else "UTC"
