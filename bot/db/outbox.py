"""Writing to the outbox (the `delivery` table). The sender in bot/telegram_io/sender.py drains it.

Rows are idempotent by `dedupe_key` (e.g. ``b:<broadcast>:<official>``,
``r:<reminder>:<run iso>:<official>``, ``n:<routing>``): adding the same key twice keeps one.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, case, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import send_pace
from bot.db.base import dialect_name, upsert
from bot.db.models import (
    AuditLog,
    Delivery,
    DeliveryStatus,
    Official,
    OfficialStatus,
)

# The table itself: the bulk updates below are Core statements, with no ORM bookkeeping.
DELIVERY = cast(Table, Delivery.__table__)


def delivery_row(
    *,
    dedupe_key: str,
    source: str,
    chat_id: int,
    now: datetime,
    recipient_id: int | None = None,
    text: str | None = None,
    from_chat_id: int | None = None,
    message_id: int | None = None,
    reply_markup: dict[str, Any] | None = None,
    not_before: datetime | None = None,
    broadcast_id: int | None = None,
    reminder_id: int | None = None,
    caption: str | None = None,
) -> dict[str, Any]:
    """One outbox row: `text` (method text), or a copy of `from_chat_id`/`message_id` with
    `caption` (a machine translation and the original) instead of its own if given."""
    if (text is None) == (message_id is None) or (caption is not None and text is not None):
        raise ValueError("a delivery is either a text or a copy of a message")
    return {
        "dedupe_key": dedupe_key,
        "source": source,
        "chat_id": chat_id,
        "recipient_id": recipient_id,
        "method": "text" if text is not None else "copy",
        "text": text if text is not None else caption,
        "from_chat_id": from_chat_id,
        "message_id": message_id,
        "reply_markup": reply_markup,
        "status": DeliveryStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": max(now, not_before) if not_before else now,
        "broadcast_id": broadcast_id,
        "reminder_id": reminder_id,
        "created_at": now,
    }


async def enqueue(session: AsyncSession, rows: Iterable[dict[str, Any]], chunk: int = 500) -> None:
    """Insert outbox rows, skipping any whose dedupe_key is already there."""
    batch = list(rows)
    if not batch:
        return
    dialect = dialect_name(session)
    for start in range(0, len(batch), chunk):
        stmt = upsert(dialect, Delivery).values(batch[start : start + chunk])
        await session.execute(stmt.on_conflict_do_nothing(index_elements=["dedupe_key"]))


# ---- the sender's side: claim due rows, record what happened ---------------------------
CLAIM_COLUMNS = (
    Delivery.id,
    Delivery.chat_id,
    Delivery.method,
    Delivery.from_chat_id,
    Delivery.message_id,
    Delivery.text,
    Delivery.reply_markup,
    Delivery.attempts,
    Delivery.broadcast_id,
    Delivery.recipient_id,
    Delivery.source,
)


# Recipients who left after their rows were written (removed, erased, rejected): not sent.
GONE = (OfficialStatus.REMOVED, OfficialStatus.ERASED, OfficialStatus.REJECTED)
GONE_ERROR = "recipient no longer registered"


async def claim(
    session: AsyncSession,
    worker: str,
    now: datetime,
    until: datetime,
    limit: int,
    exclude: Iterable[int] = (),
    chat_gap: timedelta | None = None,
) -> list[dict[str, Any]]:
    """Lease up to `limit` due pending rows to `worker` until `until`, oldest first; each row
    comes with the claim's new `claim_token`. `exclude`: rows the worker holds already.

    On PostgreSQL `SKIP LOCKED` lets several workers claim side by side; a live worker renews
    its lease (`renew`), and the rows of a worker that died are due again once it runs out.
    Rows whose recipient has left since they were written (a broadcast confirmed before an
    official was removed) are cancelled here, not sent. `chat_gap` (replicas on PostgreSQL):
    one chat's rows are held by one sender at a time and wait `chat_gap` after a send.
    """
    table = DELIVERY
    if chat_gap is not None:
        await send_pace.one_claim_at_a_time(session)
    token = secrets.token_hex(8)
    skip = sorted(exclude)
    query = (
        select(*CLAIM_COLUMNS, Official.status.label("recipient_status"))
        .outerjoin(Official, Official.id == Delivery.recipient_id)
        .where(
            Delivery.status == DeliveryStatus.PENDING,
            Delivery.next_attempt_at <= now,
            or_(Delivery.claimed_until.is_(None), Delivery.claimed_until < now),
            *([Delivery.id.not_in(skip)] if skip else []),
            *([send_pace.chat_free(worker, now, chat_gap)] if chat_gap is not None else []),
        )
        .order_by(Delivery.next_attempt_at, Delivery.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=Delivery)
    )
    rows: list[dict[str, Any]] = []
    gone: list[dict[str, Any]] = []
    for r in await session.execute(query):
        row = dict(r._mapping, claim_token=token)
        (gone if row.pop("recipient_status") in GONE else rows).append(row)
    if gone:
        await session.execute(
            update(table)
            .where(table.c.id.in_([r["id"] for r in gone]))
            .values(status=DeliveryStatus.CANCELLED, last_error=GONE_ERROR)
        )
    ids = [r["id"] for r in rows]
    for start in range(0, len(ids), 1000):
        await session.execute(
            update(table)
            .where(table.c.id.in_(ids[start : start + 1000]))
            .values(claimed_until=until, claimed_by=worker, claim_token=token)
        )
    return rows


async def renew(
    session: AsyncSession, worker: str, ids: Iterable[int], until: datetime
) -> set[int]:
    """Extend `worker`'s lease on these rows to `until`; returns the rows it still holds."""
    table = DELIVERY
    kept: set[int] = set()
    batch = sorted(ids)
    for start in range(0, len(batch), 1000):
        kept.update(
            (
                await session.scalars(
                    update(table)
                    .where(
                        table.c.id.in_(batch[start : start + 1000]),
                        table.c.claimed_by == worker,
                        table.c.status == DeliveryStatus.PENDING,
                    )
                    .values(claimed_until=until)
                    .returning(table.c.id)
                )
            ).all()
        )
    return kept


async def still_held(session: AsyncSession, worker: str, tokens: Mapping[int, str]) -> set[int]:
    """Of these rows (id -> claim token), those `worker` still holds under that claim (locked
    until the transaction ends)."""
    table = DELIVERY
    held: set[int] = set()
    ids = sorted(tokens)
    for start in range(0, len(ids), 1000):
        rows = await session.execute(
            select(table.c.id, table.c.claim_token)
            .where(table.c.id.in_(ids[start : start + 1000]), table.c.claimed_by == worker)
            .with_for_update()
        )
        held.update(i for i, token in rows if token == tokens[i])
    return held


async def free_claims(session: AsyncSession, workers: list[str], not_before: datetime) -> int:
    """The pending rows claimed by these (dead) workers may be claimed again, from
    `not_before` on: a worker may have sent a row just before it died, and its chat must not
    get the copy sooner than Telegram's per-chat interval after that."""
    if not workers:
        return 0
    table = DELIVERY
    later = case((table.c.next_attempt_at > not_before, table.c.next_attempt_at), else_=not_before)
    result = await session.execute(
        update(table)
        .where(table.c.claimed_by.in_(workers), table.c.status == DeliveryStatus.PENDING)
        .values(claimed_until=None, claimed_by=None, claim_token=None, next_attempt_at=later)
    )
    return int(getattr(result, "rowcount", 0) or 0)


# Outcomes are written only by the claim they belong to (issue 13): a worker whose lease ran
# out while Telegram was slow to answer does not write over the row's new claim.
FENCE = (
    DELIVERY.c.id == bindparam("b_id"),
    DELIVERY.c.claimed_by == bindparam("b_worker"),
    DELIVERY.c.claim_token == bindparam("b_token"),
)
RELEASED = {"claimed_until": None, "claimed_by": None, "claim_token": None}


async def record_sent(
    session: AsyncSession,
    claim: tuple[str, Mapping[int, str]],
    results: list[tuple[int, int | None, int]],
    now: datetime,
) -> None:
    """(row id, Telegram message id, attempts) for rows Telegram accepted; `claim` is the
    worker and each row's claim token."""
    if not results:
        return
    table = DELIVERY
    worker, tokens = claim
    stmt = (
        update(table)
        .where(*FENCE)
        .values(
            status=DeliveryStatus.SENT,
            sent_message_id=bindparam("b_mid"),
            attempts=bindparam("b_attempts"),
            sent_at=now,
            last_error=None,
            **RELEASED,
        )
    )
    await session.execute(
        stmt,
        [
            {"b_id": i, "b_worker": worker, "b_token": tokens[i], "b_mid": m, "b_attempts": a}
            for i, m, a in results
        ],
    )


async def record_final(
    session: AsyncSession,
    claim: tuple[str, Mapping[int, str]],
    status: DeliveryStatus,
    results: list[tuple[int, str, int]],
) -> None:
    """(row id, error, attempts) for rows that end here: failed or unreachable."""
    if not results:
        return
    table = DELIVERY
    worker, tokens = claim
    stmt = (
        update(table)
        .where(*FENCE)
        .values(
            status=status,
            last_error=bindparam("b_err"),
            attempts=bindparam("b_attempts"),
            **RELEASED,
        )
    )
    await session.execute(
        stmt,
        [
            {"b_id": i, "b_worker": worker, "b_token": tokens[i], "b_err": e[:500], "b_attempts": a}
            for i, e, a in results
        ],
    )


async def record_retry(
    session: AsyncSession,
    claim: tuple[str, Mapping[int, str]],
    results: list[tuple[int, str, int, datetime]],
) -> None:
    """(row id, error, attempts, next attempt) for rows to try again; a cancelled row stays so."""
    if not results:
        return
    table = DELIVERY
    worker, tokens = claim
    stmt = (
        update(table)
        .where(*FENCE, table.c.status == DeliveryStatus.PENDING)
        .values(
            last_error=bindparam("b_err"),
            attempts=bindparam("b_attempts"),
            next_attempt_at=bindparam("b_next"),
            **RELEASED,
        )
    )
    await session.execute(
        stmt,
        [
            {
                "b_id": i,
                "b_worker": worker,
                "b_token": tokens[i],
                "b_err": e[:500],
                "b_attempts": a,
                "b_next": n,
            }
            for i, e, a, n in results
        ],
    )


async def release(session: AsyncSession, ids: list[int], worker: str) -> None:
    """Give back claimed rows that were not tried, so any worker may take them at once."""
    table = DELIVERY
    for start in range(0, len(ids), 1000):
        await session.execute(
            update(table)
            .where(table.c.id.in_(ids[start : start + 1000]), table.c.claimed_by == worker)
            .values(**RELEASED)
        )


async def mark_unreachable(
    session: AsyncSession, official_ids: list[int], now: datetime
) -> list[int]:
    """Active officials whose chat answered 403 become unreachable; returns those changed."""
    if not official_ids:
        return []
    changed = list(
        (
            await session.scalars(
                update(Official)
                .where(
                    Official.id.in_(sorted(set(official_ids))),
                    Official.status == OfficialStatus.ACTIVE,
                )
                .values(status=OfficialStatus.UNREACHABLE, updated_at=now)
                .returning(Official.id)
                .execution_options(synchronize_session=False)
            )
        ).all()
    )
    for official_id in changed:
        session.add(
            AuditLog(
                actor_id=None,
                action="official.unreachable",
                target_type="official",
                target_id=official_id,
                details={"by": "delivery"},
                created_at=now,
            )
        )
    await session.flush()
    return changed
