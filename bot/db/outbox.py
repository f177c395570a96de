"""Writing to the outbox (the `delivery` table). The sender in bot/delivery.py drains it.

Rows are idempotent by `dedupe_key` (e.g. ``b:<broadcast>:<official>``,
``r:<reminder>:<run iso>:<official>``, ``n:<routing>``): adding the same key twice keeps one.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Delivery, DeliveryStatus


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
) -> dict[str, Any]:
    """One outbox row: either `text` (method text) or a copy of `from_chat_id`/`message_id`."""
    if (text is None) == (message_id is None):
        raise ValueError("a delivery is either a text or a copy of a message")
    return {
        "dedupe_key": dedupe_key,
        "source": source,
        "chat_id": chat_id,
        "recipient_id": recipient_id,
        "method": "text" if text is not None else "copy",
        "text": text,
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
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    for start in range(0, len(batch), chunk):
        stmt = insert(Delivery).values(batch[start : start + chunk])
        await session.execute(stmt.on_conflict_do_nothing(index_elements=["dedupe_key"]))
