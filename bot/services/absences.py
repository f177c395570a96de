"""/away: an official away from a first to a last day (their city's dates), with an optional
deputy among colleagues of the same city; an organiser may set it for someone who cannot.

While away, questions for them go to the deputy or, without one, to the city's other officials
on the topic (bot/services/routing.py); their nudges and digests pause (bot/db/followups.py,
bot/db/digests.py); an asker who writes into a thread with them is told (`away_notice`). The
dialog keeps the choices made so far: `target` (whose absence), `first` and `last` (ISO dates).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import absences, audit_log, catalogue, dialogs, officials
from bot.db.models import Absence, Official, OfficialStatus, Role
from bot.runtime import Deps
from bot.services.errors import ErrorCode, InvalidInput, NotAllowed, NotFound
from bot.services.exchange import lookups
from bot.services.identity import require_role

STEP_WHO = "away.who"
STEP_FROM = "away.from"
STEP_UNTIL = "away.until"
STEP_DEPUTY = "away.deputy"
MAX_DAYS = 366
_FULL = ("%Y-%m-%d", "%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y")
_SHORT = re.compile(r"^\s*(\d{1,2})[./](\d{1,2})\s*$")


@dataclass(frozen=True)
class Colleague:
    official_id: int
    name: str


@dataclass(frozen=True)
class AwayView:
    """An absence as its official (or the organiser who set it) reads it."""

    name: str
    first_day: date
    last_day: date
    deputy: str | None
    for_self: bool
    under_way: bool


@dataclass(frozen=True)
class AwayPrompt:
    """Where the /away dialog stands: whose absence, what is chosen, what to choose next."""

    step: str
    name: str
    for_self: bool
    today: date
    first_day: date | None = None
    last_day: date | None = None
    colleagues: tuple[Colleague, ...] = ()
    current: AwayView | None = None
    can_set_for_others: bool = False
    official_id: int = 0  # whose absence


@dataclass(frozen=True)
class AwayNotice:
    """Told to an asker who writes to someone away."""

    name: str
    last_day: date
    deputy: str | None


def parse_day(typed: str, today: date) -> date:
    """'2026-04-20', '20/04/2026', '20.04.2026', or '20/04' (the next such day)."""
    cleaned = (typed or "").strip()
    for fmt in _FULL:
        try:
            return datetime.strptime(cleaned, fmt).date()
        except ValueError:
            continue
    match = _SHORT.match(cleaned)
    if match:
        day, month = int(match.group(1)), int(match.group(2))
        for year in (today.year, today.year + 1):
            try:
                found = date(year, month, day)
            except ValueError:
                break
            if found >= today:
                return found
    raise InvalidInput(ErrorCode.AWAY_DATE)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def _local_day(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()


async def _timezone(session: AsyncSession, official: Official) -> ZoneInfo:
    city = await catalogue.city_by_id(session, official.city_id)
    return ZoneInfo(city.timezone if city else "UTC")


async def _view(
    session: AsyncSession, absence: Absence, official: Official, me_id: int, now: datetime
) -> AwayView:
    zone = await _timezone(session, official)
    deputy = (
        await officials.official_by_id(session, absence.deputy_id) if absence.deputy_id else None
    )
    return AwayView(
        official.name or "",
        _local_day(absence.starts_at, zone),
        _local_day(absence.ends_at, zone) - timedelta(days=1),
        deputy.name if deputy else None,
        official.id == me_id,
        absence.starts_at <= now,
    )


async def _target(
    session: AsyncSession, deps: Deps, tg_user_id: int
) -> tuple[Official, Official, dict[str, Any]]:
    """The person acting, whose absence the dialog is about, and the dialog's data."""
    me = await lookups.registered(session, tg_user_id)
    state = await dialogs.get_dialog(session, tg_user_id)
    if state is None or not state.step.startswith("away."):
        raise NotAllowed(ErrorCode.STALE)
    data = dict(state.data or {})
    target = await officials.official_by_id(session, int(data.get("target", me.id)))
    if target is None or target.status != OfficialStatus.ACTIVE:
        raise NotFound(ErrorCode.OFFICIAL)
    if target.id != me.id:
        await require_role(session, deps.settings, tg_user_id, Role.ORGANISER)
    return me, target, data


async def _prompt_from(
    session: AsyncSession, deps: Deps, me: Official, target: Official, tg_user_id: int
) -> AwayPrompt:
    now = deps.clock.now()
    zone = await _timezone(session, target)
    found = await absences.current_or_next(session, target.id, now)
    current = await _view(session, found, target, me.id, now) if found else None
    await dialogs.put_dialog(session, tg_user_id, STEP_FROM, {"target": target.id}, now)
    try:
        await require_role(session, deps.settings, tg_user_id, Role.ORGANISER)
        organiser = True
    except NotAllowed:
        organiser = False
    return AwayPrompt(
        STEP_FROM,
        target.name or "",
        target.id == me.id,
        _local_day(now, zone),
        current=current,
        can_set_for_others=organiser and target.id == me.id,
        official_id=target.id,
    )


async def start(deps: Deps, tg_user_id: int) -> AwayPrompt:
    """/away: their absence under way or planned, and the first day to choose."""
    async with deps.db.transaction() as session:
        me = await lookups.registered(session, tg_user_id)
        if me.city_id is None:
            raise NotAllowed(ErrorCode.NOT_REGISTERED)
        return await _prompt_from(session, deps, me, me, tg_user_id)


async def people(
    deps: Deps, tg_user_id: int, city_id: int | None
) -> tuple[list[Colleague], list[tuple[int, str]]]:
    """An organiser sets it for someone: the cities, then that city's active officials."""
    async with deps.db.transaction() as session:
        await require_role(session, deps.settings, tg_user_id, Role.ORGANISER)
        await dialogs.put_dialog(session, tg_user_id, STEP_WHO, {}, deps.clock.now())
        if city_id is None:
            return [], [(c.id, c.name) for c in await catalogue.all_cities(session)]
        found = await officials.in_city(session, city_id, [OfficialStatus.ACTIVE])
        return [Colleague(o.id, o.name or "") for o in found], []


async def for_someone(deps: Deps, tg_user_id: int, official_id: int) -> AwayPrompt:
    async with deps.db.transaction() as session:
        me = await lookups.registered(session, tg_user_id)
        await require_role(session, deps.settings, tg_user_id, Role.ORGANISER)
        target = await officials.official_by_id(session, official_id)
        if target is None or target.status != OfficialStatus.ACTIVE:
            raise NotFound(ErrorCode.OFFICIAL)
        return await _prompt_from(session, deps, me, target, tg_user_id)


async def set_first_day(
    deps: Deps, tg_user_id: int, typed: str | None, day: date | None = None
) -> AwayPrompt:
    async with deps.db.transaction() as session:
        me, target, data = await _target(session, deps, tg_user_id)
        now = deps.clock.now()
        today = _local_day(now, await _timezone(session, target))
        first = day or parse_day(typed or "", today)
        if first < today:
            raise InvalidInput(ErrorCode.AWAY_PAST)
        data |= {"first": first.isoformat()}
        await dialogs.put_dialog(session, tg_user_id, STEP_UNTIL, data, now)
        return AwayPrompt(STEP_UNTIL, target.name or "", target.id == me.id, today, first)


async def set_last_day(
    deps: Deps, tg_user_id: int, typed: str | None, day: date | None = None
) -> AwayPrompt:
    async with deps.db.transaction() as session:
        me, target, data = await _target(session, deps, tg_user_id)
        if "first" not in data:
            raise NotAllowed(ErrorCode.STALE)
        now = deps.clock.now()
        first = date.fromisoformat(data["first"])
        last = day or parse_day(typed or "", first)
        if last < first:
            raise InvalidInput(ErrorCode.AWAY_ORDER)
        if (last - first).days >= MAX_DAYS:
            raise InvalidInput(ErrorCode.AWAY_TOO_LONG, days=MAX_DAYS)
        data |= {"last": last.isoformat()}
        await dialogs.put_dialog(session, tg_user_id, STEP_DEPUTY, data, now)
        found = await absences.colleagues(session, target, now)
        return AwayPrompt(
            STEP_DEPUTY,
            target.name or "",
            target.id == me.id,
            _local_day(now, await _timezone(session, target)),
            first,
            last,
            tuple(Colleague(o.id, o.name or "") for o in found),
        )


async def set_deputy(deps: Deps, tg_user_id: int, deputy_id: int | None) -> AwayView:
    """The last choice: the absence is written (replacing any other from its first day on)."""
    async with deps.db.transaction() as session:
        me, target, data = await _target(session, deps, tg_user_id)
        if "first" not in data or "last" not in data:
            raise NotAllowed(ErrorCode.STALE)
        now = deps.clock.now()
        if deputy_id is not None:
            allowed = {o.id for o in await absences.colleagues(session, target, now)}
            if deputy_id not in allowed:
                raise InvalidInput(ErrorCode.AWAY_DEPUTY)
        zone = await _timezone(session, target)
        starts = _midnight(date.fromisoformat(data["first"]), zone)
        ends = _midnight(date.fromisoformat(data["last"]) + timedelta(days=1), zone)
        await absences.replace_from(session, target.id, starts, now)
        absence = absences.add(
            session,
            official_id=target.id,
            deputy_id=deputy_id,
            set_by_id=me.id,
            starts_at=starts,
            ends_at=ends,
            created_at=now,
        )
        await session.flush()
        await dialogs.clear_dialog(session, tg_user_id)
        await audit_log.record(
            session,
            now,
            "absence.set",
            actor=me,
            target_type="official",
            target_id=target.id,
            deputy_id=deputy_id,
        )
        return await _view(session, absence, target, me.id, now)


async def come_back(deps: Deps, tg_user_id: int, official_id: int | None = None) -> AwayView | None:
    """'I'm back' (or an organiser for them): the absence under way or planned ends now."""
    async with deps.db.transaction() as session:
        me = await lookups.registered(session, tg_user_id)
        target = me
        if official_id is not None and official_id != me.id:
            await require_role(session, deps.settings, tg_user_id, Role.ORGANISER)
            found_target = await officials.official_by_id(session, official_id)
            if found_target is None:
                raise NotFound(ErrorCode.OFFICIAL)
            target = found_target
        now = deps.clock.now()
        absence = await absences.current_or_next(session, target.id, now)
        if absence is None:
            return None
        absence.ended_at = now
        if absence.starts_at > now:  # never began: nothing to sum up
            absence.summary_sent_at = now
        await dialogs.clear_dialog(session, tg_user_id)
        await audit_log.record(
            session, now, "absence.end", actor=me, target_type="official", target_id=target.id
        )
        return await _view(session, absence, target, me.id, now)


async def mine(deps: Deps, tg_user_id: int) -> AwayView | None:
    """This person's absence under way or planned (for /privacy), if any."""
    async with deps.db.read() as session:
        me = await officials.official_by_tg(session, tg_user_id)
        if me is None:
            return None
        now = deps.clock.now()
        found = await absences.current_or_next(session, me.id, now)
        return await _view(session, found, me, me.id, now) if found else None


async def cancel(deps: Deps, tg_user_id: int) -> None:
    async with deps.db.transaction() as session:
        state = await dialogs.get_dialog(session, tg_user_id)
        if state is not None and state.step.startswith("away."):
            await dialogs.clear_dialog(session, tg_user_id)


async def away_notice(deps: Deps, official_id: int) -> AwayNotice | None:
    """If this official is away now: until when, and who has their questions meanwhile."""
    async with deps.db.read() as session:
        now = deps.clock.now()
        absence = (await absences.away_now(session, [official_id], now)).get(official_id)
        if absence is None:
            return None
        official = await officials.official_by_id(session, official_id)
        assert official is not None
        view = await _view(session, absence, official, official_id, now)
        return AwayNotice(view.name, view.last_day, view.deputy)
