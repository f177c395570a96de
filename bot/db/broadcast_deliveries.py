"""A broadcast's outbox rows, written by the database from its audience query in one statement.

``INSERT INTO delivery (...) SELECT ... FROM official WHERE <audience>``: the recipients never
travel to Python and back, so confirming a broadcast to 10,000 officials takes one statement
whatever the audience size (bench/bench_confirm.py). Each row is what
``bot.db.outbox.delivery_row`` would build for a copy of the organiser's message, with the
dedupe key ``b:<broadcast>:<official>``. SQL only: never commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, Select, String, cast, insert, literal
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.audience import recipients_query
from bot.db.models import Delivery, DeliveryStatus, Official
from bot.db.outbox import DELIVERY

SOURCE = "broadcast"


async def write(
    session: AsyncSession,
    *,
    broadcast_id: int,
    from_chat_id: int,
    message_id: int,
    target: Mapping[str, Any],
    admin_ids: Iterable[int],
    now: datetime,
    not_before: datetime | None = None,
) -> int:
    """One pending copy of the message per recipient of the clean `target`; returns how many.

    The broadcast is new, so no key can be there already: a plain INSERT, no conflict clause.
    """
    due = max(now, not_before) if not_before else now
    columns = {
        "dedupe_key": literal(f"b:{broadcast_id}:", String) + cast(Official.id, String),
        "source": literal(SOURCE, String),
        "chat_id": Official.chat_id,
        "recipient_id": Official.id,
        "method": literal("copy", String),
        "from_chat_id": literal(from_chat_id, Delivery.from_chat_id.type),
        "message_id": literal(message_id, Delivery.message_id.type),
        "status": literal(DeliveryStatus.PENDING.value, String),
        "attempts": literal(0, Integer),
        "next_attempt_at": literal(due, Delivery.next_attempt_at.type),
        "broadcast_id": literal(broadcast_id, Integer),
        "created_at": literal(now, Delivery.created_at.type),
    }
    audience: Select[*tuple[Any, ...]] = recipients_query(target, admin_ids).with_only_columns(
        *(value.label(name) for name, value in columns.items())
    )
    result = await session.execute(insert(DELIVERY).from_select(list(columns), audience))
    return int(result.rowcount)  # type: ignore[attr-defined]  # a CursorResult
