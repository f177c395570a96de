"""Erasing a person: their traces in the exchange, the audit log and the outbox. SQL only."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import outbox
from bot.db.models import (
    AuditLog,
    Delivery,
    DeliveryStatus,
    ExchangeMessage,
    Question,
)


async def anonymise_traces(session: AsyncSession, official_id: int) -> None:
    """The exchange log keeps anonymous rows: no text, no Telegram id, no chat id."""
    await session.execute(
        update(ExchangeMessage)
        .where(ExchangeMessage.from_official_id == official_id)
        .values(text=None)
    )
    await session.execute(
        update(Question).where(Question.asker_id == official_id).values(text=None)
    )
    await session.execute(
        update(AuditLog).where(AuditLog.actor_id == official_id).values(actor_tg_id=None)
    )
    # Nothing more is sent to them, and the outbox keeps no chat id of theirs either.
    await session.execute(
        update(Delivery)
        .where(Delivery.recipient_id == official_id, Delivery.status == DeliveryStatus.PENDING)
        .values(status=DeliveryStatus.CANCELLED, last_error=outbox.GONE_ERROR)
    )
    await session.execute(
        update(Delivery).where(Delivery.recipient_id == official_id).values(chat_id=-official_id)
    )
