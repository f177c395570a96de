"""Broadcasts: compose (message, audience, time), confirm into the outbox, follow, cancel.

The draft lives in `dialog_state` (steps ``bc.*``). Confirming writes the broadcast and one
delivery row per recipient in one transaction; the sender in bot/delivery.py sends them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import outbox, repo
from bot.db.models import (
    Broadcast,
    BroadcastStatus,
    City,
    Delivery,
    DeliveryStatus,
    DialogState,
    Official,
    OfficialStatus,
    Role,
    Topic,
)
from bot.i18n import SUPPORTED_LOCALES
from bot.runtime import Deps
from bot.services import InvalidInput, NotFound, ServiceError, targeting
from bot.services.identity import require_role

STEP_MESSAGE = "bc.message"
STEP_TARGET = "bc.target"
STEP_WHEN = "bc.when"
STEP_CONFIRM_WHEN = "bc.when.ok"
COMPOSE_STEPS = (STEP_TARGET, STEP_WHEN, STEP_CONFIRM_WHEN)
MAX_AHEAD = timedelta(days=366)
MIN_AHEAD = timedelta(minutes=1)
TIME_FORMATS = ("%Y-%m-%d %H:%M", "%d/%m/%Y %H:%M", "%d.%m.%Y %H:%M", "%Y-%m-%dT%H:%M")
LIVE = (BroadcastStatus.SCHEDULED, BroadcastStatus.SENDING)


@dataclass(frozen=True)
class Draft:
    source_chat_id: int
    source_message_id: int
    target: dict[str, list[Any]]
    count: int
    timezone: str
    when: datetime | None = None


@dataclass(frozen=True)
class Option:
    """One value the audience can be narrowed to; `names` are per-locale labels (topics)."""

    value: str | int
    name: str
    names: dict[str, str] = field(default_factory=dict)
    detail: str = ""


@dataclass(frozen=True)
class Counts:
    total: int = 0
    sent: int = 0
    failed: int = 0
    unreachable: int = 0
    cancelled: int = 0
    pending: int = 0


@dataclass(frozen=True)
class Summary:
    id: int
    status: str
    author: str | None
    created_at: datetime
    scheduled_at: datetime | None
    finished_at: datetime | None
    counts: Counts


@dataclass(frozen=True)
class Listing:
    broadcasts: list[Summary]
    timezone: str


@dataclass(frozen=True)
class Created:
    id: int
    total: int
    scheduled_at: datetime | None
    timezone: str


@dataclass(frozen=True)
class Progress:
    """What the organiser's progress message should say now."""

    id: int
    chat_id: int
    message_id: int | None
    locale: str
    status: str
    counts: Counts
    final: bool


# ---- composing ------------------------------------------------------------------------------


async def _timezone(session: AsyncSession, official: Official | None) -> str:
    city = await repo.city_by_id(session, official.city_id if official else None)
    return city.timezone if city else "UTC"


async def _draft_state(session: AsyncSession, tg_user_id: int, *steps: str) -> DialogState:
    """The person's open draft, locked, if it is at one of `steps`; else the button is stale."""
    state = await session.scalar(
        select(DialogState).where(DialogState.tg_user_id == tg_user_id).with_for_update()
    )
    if state is None or state.step not in steps:
        raise ServiceError("stale")
    return state


async def _draft(
    session: AsyncSession, deps: Deps, official: Official | None, data: dict[str, Any]
) -> Draft:
    target = targeting.normalize(data.get("target"))
    when = datetime.fromisoformat(data["when"]) if data.get("when") else None
    return Draft(
        source_chat_id=int(data["chat"]),
        source_message_id=int(data["msg"]),
        target=target,
        count=await targeting.count_recipients(session, target, deps.settings.admin_ids),
        timezone=await _timezone(session, official),
        when=when,
    )


async def begin(deps: Deps, tg_user_id: int) -> None:
    """Start a new broadcast: the next message the organiser sends is the one to broadcast."""
    async with deps.db.transaction() as session:
        await require_role(session, deps.settings, tg_user_id, Role.ORGANISER)
        await repo.put_dialog(session, tg_user_id, STEP_MESSAGE, {}, deps.clock.now())


async def set_message(deps: Deps, tg_user_id: int, chat_id: int, message_id: int) -> Draft:
    """The organiser's own message (copied as it is to every recipient); audience: everyone."""
    async with deps.db.transaction() as session:
        official = await require_role(session, deps.settings, tg_user_id, Role.ORGANISER)
        await _draft_state(session, tg_user_id, STEP_MESSAGE)
        data = {"chat": chat_id, "msg": message_id, "target": {}}
        await repo.put_dialog(session, tg_user_id, STEP_TARGET, data, deps.clock.now())
        return await _draft(session, deps, official, data)


async def get_draft(deps: Deps, tg_user_id: int) -> Draft:
    async with deps.db.transaction() as session:
        official = await require_role(session, deps.settings, tg_user_id, Role.ORGANISER)
        state = await _draft_state(session, tg_user_id, *COMPOSE_STEPS)
        return await _draft(session, deps, official, dict(state.data))


async def _update_target(deps: Deps, tg_user_id: int, change: Any) -> Draft:
    async with deps.db.transaction() as session:
        official = await require_role(session, deps.settings, tg_user_id, Role.ORGANISER)
        state = await _draft_state(session, tg_user_id, *COMPOSE_STEPS)
        data = dict(state.data)
        data["target"] = targeting.normalize(change(targeting.normalize(data.get("target"))))
        data.pop("when", None)
        await repo.put_dialog(session, tg_user_id, STEP_TARGET, data, deps.clock.now())
        return await _draft(session, deps, official, data)


async def set_everyone(deps: Deps, tg_user_id: int) -> Draft:
    return await _update_target(deps, tg_user_id, lambda _t: {})


async def toggle(deps: Deps, tg_user_id: int, dimension: str, value: str | int) -> Draft:
    """Add or remove one value of the audience (a country, city, topic, language or role)."""
    if dimension not in targeting.DIMENSIONS:
        raise InvalidInput(key=dimension)
    async with deps.db.transaction() as session:
        await require_role(session, deps.settings, tg_user_id, Role.ORGANISER)
        await _draft_state(session, tg_user_id, *COMPOSE_STEPS)
        if dimension in ("cities", "topics"):
            model = City if dimension == "cities" else Topic
            if not isinstance(value, int) or await session.get(model, value) is None:
                raise NotFound(key=dimension)

    def change(target: dict[str, list[Any]]) -> dict[str, list[Any]]:
        values = set(target.get(dimension, []))
        values.symmetric_difference_update({value})
        return {**target, dimension: sorted(values)}

    return await _update_target(deps, tg_user_id, change)


async def options(deps: Deps, dimension: str) -> list[Option]:
    """The values one dimension of the audience can take, in display order."""
    async with deps.db.transaction() as session:
        if dimension == "countries":
            codes = await session.scalars(select(City.country).distinct().order_by(City.country))
            return [Option(c, c) for c in codes.all()]
        if dimension == "cities":
            return [Option(c.id, c.name, detail=c.country) for c in await repo.all_cities(session)]
        if dimension == "topics":
            return [
                Option(t.id, t.slug, {k: str(v) for k, v in (t.names or {}).items()})
                for t in await repo.all_topics(session)
            ]
        if dimension == "languages":
            return [Option(code, code) for code in SUPPORTED_LOCALES]
        if dimension == "roles":
            return [Option(r, r) for r in targeting.ROLES]
    raise InvalidInput(key=dimension)


async def ask_time(deps: Deps, tg_user_id: int) -> Draft:
    """The organiser wants to schedule: the next text is a date and time in their timezone."""
    async with deps.db.transaction() as session:
        official = await require_role(session, deps.settings, tg_user_id, Role.ORGANISER)
        state = await _draft_state(session, tg_user_id, *COMPOSE_STEPS)
        data = dict(state.data)
        draft = await _draft(session, deps, official, data)
        if draft.count == 0:
            raise ServiceError("no_recipients")
        await repo.put_dialog(session, tg_user_id, STEP_WHEN, data, deps.clock.now())
        return draft


def parse_local_time(text: str, timezone: str) -> datetime | None:
    """'2026-03-02 14:30' (and a few usual spellings) in `timezone`, as UTC; None if unreadable."""
    cleaned = re.sub(r"\s+", " ", text.strip())
    for fmt in TIME_FORMATS:
        try:
            naive = datetime.strptime(cleaned, fmt)
        except ValueError:
            continue
        zone = ZoneInfo(timezone)
        local = naive.replace(tzinfo=zone)
        # A time skipped by a DST change does not survive the round trip: refuse it.
        if local.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != naive:
            return None
        return local.astimezone(UTC)
    return None


async def set_time(deps: Deps, tg_user_id: int, text: str) -> Draft:
    """Read the date and time typed by the organiser; ask to confirm it."""
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        official = await require_role(session, deps.settings, tg_user_id, Role.ORGANISER)
        state = await _draft_state(session, tg_user_id, STEP_WHEN, STEP_CONFIRM_WHEN)
        data = dict(state.data)
        tz = await _timezone(session, official)
        when = parse_local_time(text[:100], tz) if text else None
        if when is None:
            raise ServiceError("bad_time", timezone=tz)
        if when < now + MIN_AHEAD:
            raise ServiceError("time_past", timezone=tz)
        if when > now + MAX_AHEAD:
            raise ServiceError("time_far", timezone=tz)
        data["when"] = when.isoformat()
        await repo.put_dialog(session, tg_user_id, STEP_CONFIRM_WHEN, data, now)
        return await _draft(session, deps, official, data)


async def cancel_draft(deps: Deps, tg_user_id: int) -> None:
    async with deps.db.transaction() as session:
        await _draft_state(session, tg_user_id, STEP_MESSAGE, *COMPOSE_STEPS)
        await repo.clear_dialog(session, tg_user_id)


async def confirm(deps: Deps, tg_user_id: int, *, scheduled: bool) -> Created:
    """Write the broadcast and one outbox row per recipient, in one transaction."""
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        official = await require_role(session, deps.settings, tg_user_id, Role.ORGANISER)
        state = await _draft_state(
            session, tg_user_id, STEP_CONFIRM_WHEN if scheduled else STEP_TARGET
        )
        data = dict(state.data)
        target = targeting.normalize(data.get("target"))
        when = datetime.fromisoformat(data["when"]) if scheduled else None
        if when is not None and when < now:
            raise ServiceError("time_past", timezone=await _timezone(session, official))
        recipients = (
            await session.execute(
                targeting.recipients_query(target, deps.settings.admin_ids).with_only_columns(
                    Official.id, Official.chat_id
                )
            )
        ).all()
        if not recipients:
            raise ServiceError("no_recipients")
        broadcast = Broadcast(
            author_id=official.id if official else None,
            source_chat_id=int(data["chat"]),
            source_message_id=int(data["msg"]),
            target=target,
            scheduled_at=when,
            status=BroadcastStatus.SCHEDULED if when else BroadcastStatus.SENDING,
            total=len(recipients),
            progress_chat_id=tg_user_id,
            created_at=now,
            started_at=None if when else now,
        )
        session.add(broadcast)
        await session.flush()
        await outbox.enqueue(
            session,
            (
                outbox.delivery_row(
                    dedupe_key=f"b:{broadcast.id}:{official_id}",
                    source="broadcast",
                    chat_id=chat_id,
                    now=now,
                    recipient_id=official_id,
                    from_chat_id=broadcast.source_chat_id,
                    message_id=broadcast.source_message_id,
                    not_before=when,
                    broadcast_id=broadcast.id,
                )
                for official_id, chat_id in recipients
            ),
        )
        await repo.clear_dialog(session, tg_user_id)
        await repo.audit(
            session,
            now,
            "broadcast.scheduled" if when else "broadcast.sent",
            actor=official,
            actor_tg_id=tg_user_id,
            target_type="broadcast",
            target_id=broadcast.id,
            total=len(recipients),
            target=target,
            scheduled_at=when.isoformat() if when else None,
        )
        return Created(broadcast.id, len(recipients), when, await _timezone(session, official))


# ---- following and cancelling ------------------------------------------------------------------


async def _counts(session: AsyncSession, ids: list[int]) -> dict[int, Counts]:
    if not ids:
        return {}
    rows = await session.execute(
        select(Delivery.broadcast_id, Delivery.status, func.count())
        .where(Delivery.broadcast_id.in_(ids))
        .group_by(Delivery.broadcast_id, Delivery.status)
    )
    raw: dict[int, dict[str, int]] = {i: {} for i in ids}
    for bid, status, n in rows:
        raw[bid][status] = int(n)
    return {
        bid: Counts(
            total=sum(by.values()),
            sent=by.get(DeliveryStatus.SENT, 0),
            failed=by.get(DeliveryStatus.FAILED, 0),
            unreachable=by.get(DeliveryStatus.UNREACHABLE, 0),
            cancelled=by.get(DeliveryStatus.CANCELLED, 0),
            pending=by.get(DeliveryStatus.PENDING, 0),
        )
        for bid, by in raw.items()
    }


def _store_counts(broadcast: Broadcast, counts: Counts) -> None:
    broadcast.sent, broadcast.failed = counts.sent, counts.failed
    broadcast.unreachable = counts.unreachable


async def recent(deps: Deps, tg_user_id: int, limit: int = 10) -> Listing:
    """Scheduled and running broadcasts first, then the most recent ones, with live counts."""
    async with deps.db.transaction() as session:
        official = await require_role(session, deps.settings, tg_user_id, Role.ORGANISER)
        live = (
            await session.scalars(
                select(Broadcast)
                .where(Broadcast.status.in_(LIVE))
                .order_by(Broadcast.id.desc())
                .limit(limit)
            )
        ).all()
        done = (
            await session.scalars(
                select(Broadcast)
                .where(Broadcast.status.not_in(LIVE))
                .order_by(Broadcast.id.desc())
                .limit(max(0, limit - len(live)))
            )
        ).all()
        chosen = [*live, *done]
        counts = await _counts(session, [b.id for b in chosen])
        author_ids = {b.author_id for b in chosen if b.author_id}
        names = (
            dict(
                (
                    await session.execute(
                        select(Official.id, Official.name).where(Official.id.in_(author_ids))
                    )
                ).all()
            )
            if author_ids
            else {}
        )
        return Listing(
            [
                Summary(
                    b.id,
                    b.status,
                    names.get(b.author_id),
                    b.created_at,
                    b.scheduled_at,
                    b.finished_at,
                    counts[b.id],
                )
                for b in chosen
            ],
            await _timezone(session, official),
        )


async def cancel(deps: Deps, tg_user_id: int, broadcast_id: int) -> Summary:
    """Stop a scheduled or running broadcast: what is not sent yet stays unsent."""
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        official = await require_role(session, deps.settings, tg_user_id, Role.ORGANISER)
        broadcast = await session.scalar(
            select(Broadcast).where(Broadcast.id == broadcast_id).with_for_update()
        )
        if broadcast is None:
            raise NotFound()
        if broadcast.status not in LIVE:
            raise ServiceError("not_cancellable", id=broadcast.id)
        await session.execute(
            update(Delivery)
            .where(Delivery.broadcast_id == broadcast.id, Delivery.status == DeliveryStatus.PENDING)
            .values(status=DeliveryStatus.CANCELLED, claimed_until=None, claimed_by=None)
            .execution_options(synchronize_session=False)
        )
        broadcast.status = BroadcastStatus.CANCELLED
        broadcast.finished_at = now
        counts = (await _counts(session, [broadcast.id]))[broadcast.id]
        _store_counts(broadcast, counts)
        await repo.audit(
            session,
            now,
            "broadcast.cancelled",
            actor=official,
            actor_tg_id=tg_user_id,
            target_type="broadcast",
            target_id=broadcast.id,
            sent=counts.sent,
            not_sent=counts.cancelled,
        )
        return Summary(
            broadcast.id,
            broadcast.status,
            official.name if official else None,
            broadcast.created_at,
            broadcast.scheduled_at,
            now,
            counts,
        )


async def get_summary(deps: Deps, tg_user_id: int, broadcast_id: int) -> Summary:
    async with deps.db.transaction() as session:
        await require_role(session, deps.settings, tg_user_id, Role.ORGANISER)
        b = await session.get(Broadcast, broadcast_id)
        if b is None:
            raise NotFound()
        counts = (await _counts(session, [b.id]))[b.id]
        return Summary(b.id, b.status, None, b.created_at, b.scheduled_at, b.finished_at, counts)


async def progress_due(
    deps: Deps, report: Callable[[Progress], str] | None = None
) -> list[Progress]:
    """Broadcasts whose progress message is due, and those that just finished (once each).

    Starts scheduled broadcasts whose time has come. Each item is claimed with a
    compare-and-set on the broadcast row, so two workers never report the same tick twice.
    A finished broadcast's delivery report, rendered by `report`, goes into the outbox in the
    same transaction as its claim: a failed send or a crash right after cannot lose it.
    """
    now = deps.clock.now()
    interval = timedelta(seconds=deps.settings.broadcast_progress_seconds)
    due: list[Progress] = []
    async with deps.db.transaction() as session:
        await session.execute(
            update(Broadcast)
            .where(Broadcast.status == BroadcastStatus.SCHEDULED, Broadcast.scheduled_at <= now)
            .values(status=BroadcastStatus.SENDING, started_at=now)
            .execution_options(synchronize_session=False)
        )
        sending = (
            await session.execute(
                select(
                    Broadcast.id,
                    Broadcast.progress_at,
                    Broadcast.progress_chat_id,
                    Broadcast.progress_message_id,
                    Official.locale,
                    Official.status,
                )
                .outerjoin(Official, Official.id == Broadcast.author_id)
                .where(Broadcast.status == BroadcastStatus.SENDING)
                .order_by(Broadcast.id)
            )
        ).all()
        counts = await _counts(session, [row.id for row in sending])
        for bid, progress_at, chat_id, message_id, locale, author_status in sending:
            c = counts[bid]
            final = c.pending == 0
            if not final and progress_at is not None and progress_at > now - interval:
                continue
            claim = update(Broadcast).where(
                Broadcast.id == bid, Broadcast.status == BroadcastStatus.SENDING
            )
            if final:
                claim = claim.values(status=BroadcastStatus.DONE, finished_at=now, progress_at=now)
            else:
                claim = claim.where(
                    Broadcast.progress_at.is_(None)
                    if progress_at is None
                    else Broadcast.progress_at == progress_at
                ).values(progress_at=now)
            claim = claim.values(sent=c.sent, failed=c.failed, unreachable=c.unreachable)
            result = await session.execute(claim.execution_options(synchronize_session=False))
            if result.rowcount != 1:  # type: ignore[attr-defined]
                continue
            if chat_id is None or author_status in (OfficialStatus.ERASED, OfficialStatus.REMOVED):
                continue
            progress = Progress(
                bid,
                int(chat_id),
                message_id,
                locale or deps.settings.default_locale,
                BroadcastStatus.DONE if final else BroadcastStatus.SENDING,
                c,
                final,
            )
            if final and report is not None:
                await outbox.enqueue(
                    session,
                    [
                        outbox.delivery_row(
                            dedupe_key=f"br:{bid}",
                            source="notice",
                            chat_id=int(chat_id),
                            now=now,
                            text=report(progress),
                        )
                    ],
                )
            due.append(progress)
    return due


async def set_progress_message(deps: Deps, broadcast_id: int, message_id: int) -> None:
    async with deps.db.transaction() as session:
        await session.execute(
            update(Broadcast)
            .where(Broadcast.id == broadcast_id)
            .values(progress_message_id=message_id)
            .execution_options(synchronize_session=False)
        )
