"""Bookkeeping tables (re-exported by bot.db.models): the running outbox senders, the audit
log and each person's place in a multi-step flow."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, utcnow


class SenderProcess(Base):
    """A running outbox sender: where it runs, so a restarted process on the same host can
    tell that the one before it is dead and take back its claims at once."""

    __tablename__ = "sender_process"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # delivery.claimed_by
    host: Mapped[str] = mapped_column(String(255), index=True)  # host name and pid namespace
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column()
    heartbeat_at: Mapped[datetime] = mapped_column()


class AuditLog(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("official.id", ondelete="SET NULL"))
    actor_tg_id: Mapped[int | None] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(String(64), index=True)
    target_type: Mapped[str | None] = mapped_column(String(32))
    target_id: Mapped[int | None] = mapped_column(BigInteger)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class DialogState(Base):
    """Where each person is in a multi-step flow; survives restarts."""

    __tablename__ = "dialog_state"

    tg_user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    step: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
