"""Following broadcasts: the list with live counts, cancelling, and the progress job that
starts scheduled broadcasts and reports each one's progress to its organiser.

Handlers take `BroadcastStatus` and `Role` from here: they never import bot.db.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import audit_log, outbox, outbox_cancel
from bot.db import broadcasts as stored
from bot.db.models import Broadcast, BroadcastStatus, DeliveryStatus, OfficialStatus, Role
from bot.runtime import Deps
from bot.services.errors import ErrorCode, NotFound, ServiceError
from bot.services.identity import require_role
from bot.services.local_time import organiser_timezone

LIVE = stored.LIVE


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
class Progress:
    """What the organiser's progress message should say now."""

    id: int
    chat_id: int
    message_id: int | None
    locale: str
    status: str
    counts: Counts
    final: bool


async def _counts(session: AsyncSession, ids: list[int]) -> dict[int, Counts]:
    raw = await stored.delivery_counts(session, ids)
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
        live = await stored.latest(session, live=True, limit=limit)
        done = await stored.latest(session, live=False, limit=max(0, limit - len(live)))
        chosen = [*live, *done]
        counts = await _counts(session, [b.id for b in chosen])
        author_ids = {b.author_id for b in chosen if b.author_id}
        names = await stored.author_names(session, author_ids)
        return Listing(
            [
                Summary(
                    b.id,
                    b.status,
                    names.get(b.author_id or 0),
                    b.created_at,
                    b.scheduled_at,
                    b.finished_at,
                    counts[b.id],
                )
                for b in chosen
            ],
            await organiser_timezone(session, official),
        )


async def cancel(deps: Deps, tg_user_id: int, broadcast_id: int) -> Summary:
    """Stop a scheduled or running broadcast: what is not sent yet stays unsent."""
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        official = await require_role(session, deps.settings, tg_user_id, Role.ORGANISER)
        broadcast = await stored.for_update(session, broadcast_id)
        if broadcast is None:
            raise NotFound(ErrorCode.NOT_FOUND)
        if broadcast.status not in LIVE:
            raise ServiceError(ErrorCode.NOT_CANCELLABLE, id=broadcast.id)
        await outbox_cancel.cancel_broadcast(session, broadcast.id)
        broadcast.status = BroadcastStatus.CANCELLED
        broadcast.finished_at = now
        counts = (await _counts(session, [broadcast.id]))[broadcast.id]
        _store_counts(broadcast, counts)
        await audit_log.record(
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
        b = await stored.get(session, broadcast_id)
        if b is None:
            raise NotFound(ErrorCode.NOT_FOUND)
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
        await stored.start_due(session, now)
        sending = await stored.sending(session)
        counts = await _counts(session, [row.id for row in sending])
        for bid, progress_at, chat_id, message_id, locale, author_status in sending:
            c = counts[bid]
            final = c.pending == 0
            if not final and progress_at is not None and progress_at > now - interval:
                continue
            claimed = await stored.claim_progress(
                session,
                bid,
                progress_at,
                final=final,
                now=now,
                sent=c.sent,
                failed=c.failed,
                unreachable=c.unreachable,
            )
            if not claimed:
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
        await stored.set_progress_message(session, broadcast_id, message_id)
