"""Erasing a person: their open questions withdrawn, and every id, chat id and text of theirs
taken out of the exchange log, the outbox, broadcasts, reminders and the audit log. The rows
themselves stay (who asked whom, from which city, on what, when) so counts still add up.
SQL only; never commit."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Text, cast, delete, false, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import outbox, translations
from bot.db.models import (
    Absence,
    AuditLog,
    Broadcast,
    BroadcastStatus,
    City,
    Delivery,
    DeliveryStatus,
    ExchangeMessage,
    Official,
    OfficialStatus,
    Question,
    QuestionStatus,
    Reminder,
    ReminderStatus,
    Routing,
    RoutingStatus,
)

# What stands where a value naming the person was (audit details, a routing's reason).
ERASED = "(erased)"
ERASED_ERROR = "its author, or the person it names, erased their data"


@dataclass(frozen=True)
class Traces:
    """How the person can be found: their row, their Telegram ids, and words of theirs
    (name, the start of each text they wrote) as stored and as rendered in HTML."""

    official_id: int
    tg_ids: tuple[int, ...]
    words: tuple[str, ...]


class Received(NamedTuple):
    """A withdrawn question as one official received it, with that official's timezone."""

    routing_id: int
    question: Question
    recipient: Official
    timezone: str | None


async def texts_of(session: AsyncSession, official_id: int) -> list[str]:
    """Every text this official wrote: questions, answers, follow-ups."""
    asked = await session.scalars(
        select(Question.text).where(Question.asker_id == official_id, Question.text.is_not(None))
    )
    sent = await session.scalars(
        select(ExchangeMessage.text).where(
            ExchangeMessage.from_official_id == official_id, ExchangeMessage.text.is_not(None)
        )
    )
    return [t for t in [*asked.all(), *sent.all()] if t]


async def withdraw_questions(
    session: AsyncSession, asker_id: int, open_statuses: Collection[str], waiting: Collection[str]
) -> list[Question]:
    """The asker's questions not yet closed become withdrawn; nobody waits for them any more."""
    found = list(
        (
            await session.scalars(
                select(Question).where(
                    Question.asker_id == asker_id, Question.status.in_(list(open_statuses))
                )
            )
        ).all()
    )
    for q in found:
        q.status = QuestionStatus.WITHDRAWN
    if found:
        await session.execute(
            update(Routing)
            .where(
                Routing.question_id.in_([q.id for q in found]), Routing.status.in_(list(waiting))
            )
            .values(status=RoutingStatus.CLOSED)
            .execution_options(synchronize_session=False)
        )
    await session.flush()
    return found


async def received(session: AsyncSession, questions: Sequence[Question]) -> list[Received]:
    """Who got these questions (delivered, whatever they did since) and is still active."""
    if not questions:
        return []
    by_id = {q.id: q for q in questions}
    rows = await session.execute(
        select(Routing.id, Routing.question_id, Official, City.timezone)
        .join(Official, Official.id == Routing.recipient_id)
        .outerjoin(City, City.id == Official.city_id)
        .where(
            Routing.question_id.in_(sorted(by_id)),
            Routing.delivered_at.is_not(None),
            Official.status == OfficialStatus.ACTIVE,
        )
        .order_by(Routing.id)
    )
    return [Received(rid, by_id[qid], official, tz) for rid, qid, official, tz in rows]


def _quoting(column: Any, words: Sequence[str]) -> ColumnElement[bool]:
    """The column's text holds one of the words (LIKE, with % and _ in them taken literally)."""
    if not words:
        return false()
    return or_(*[column.contains(w, autoescape=True) for w in words])


async def remove_traces(session: AsyncSession, t: Traces) -> None:
    """Take the person's ids and texts out of every table; the anonymous rows stay."""
    oid, ids = t.official_id, list(t.tg_ids)
    await session.execute(
        update(Question)
        .where(Question.asker_id == oid)
        .values(text=None, source_chat_id=None, source_message_id=None, album_message_ids=None)
        .execution_options(synchronize_session=False)
    )
    em = ExchangeMessage
    await session.execute(
        update(em)
        .where(or_(em.from_official_id == oid, em.original_chat_id.in_(ids)))
        .values(text=None, original_chat_id=None, original_message_id=None, translation=None)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(em)
        .where(or_(em.to_official_id == oid, em.delivered_chat_id.in_(ids)))
        .values(delivered_chat_id=None, delivered_message_id=None)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(Routing)
        .where(Routing.recipient_id == oid)
        .values(delivered_message_id=None)
        .execution_options(synchronize_session=False)
    )
    for tg_id in ids:  # "routed by hand by admin <id>"
        await session.execute(
            update(Routing)
            .where(Routing.reason.contains(str(tg_id)))
            .values(reason=func.replace(Routing.reason, str(tg_id), ERASED))
            .execution_options(synchronize_session=False)
        )
    await translations.erase_author(session, oid)
    await _broadcasts_and_reminders(session, oid)
    await _absences(session, oid)
    await _outbox(session, t)
    await _audit(session, t)


async def _absences(session: AsyncSession, oid: int) -> None:
    """Their absences go; where they stood in for someone or set an absence, they are gone."""
    await session.execute(
        delete(Absence)
        .where(Absence.official_id == oid)
        .execution_options(synchronize_session=False)
    )
    for column in (Absence.deputy_id, Absence.set_by_id):
        await session.execute(
            update(Absence)
            .where(column == oid)
            .values({column.key: None})
            .execution_options(synchronize_session=False)
        )


async def _broadcasts_and_reminders(session: AsyncSession, oid: int) -> None:
    """What they announced was copied from their chat or written by them: nothing more of it
    is sent, and the chat it came from is forgotten."""
    await session.execute(
        update(Broadcast)
        .where(
            Broadcast.author_id == oid,
            Broadcast.status.in_(
                [BroadcastStatus.DRAFT, BroadcastStatus.SCHEDULED, BroadcastStatus.SENDING]
            ),
        )
        .values(status=BroadcastStatus.CANCELLED)
        .execution_options(synchronize_session=False)
    )
    # source_chat_id cannot be empty: as official.chat_id, a value no chat has.
    await session.execute(
        update(Broadcast)
        .where(Broadcast.author_id == oid)
        .values(source_chat_id=-oid, text=None, progress_chat_id=None, progress_message_id=None)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(Reminder)
        .where(
            Reminder.author_id == oid,
            Reminder.status.in_([ReminderStatus.ACTIVE, ReminderStatus.PAUSED]),
        )
        .values(status=ReminderStatus.DELETED, next_run_at=None)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(Reminder)
        .where(Reminder.author_id == oid)
        .values(text=None, source_chat_id=None, source_message_id=None)
        .execution_options(synchronize_session=False)
    )


async def _outbox(session: AsyncSession, t: Traces) -> None:
    """Rows to them, copies from their chat, their broadcasts and reminders, and rows quoting
    them (a nudge or digest naming them or their question): not sent, and emptied."""
    d, oid, ids = Delivery, t.official_id, list(t.tg_ids)
    to_them = or_(d.recipient_id == oid, d.chat_id.in_(ids))
    broadcasts = (
        await session.scalars(select(Broadcast.id).where(Broadcast.author_id == oid))
    ).all()
    theirs = or_(
        d.from_chat_id.in_(ids),
        d.broadcast_id.in_(broadcasts),
        # a broadcast's translation sent apart (too long to go in its place): keyed b:<id>:…
        *[d.dedupe_key.startswith(f"b:{bid}:", autoescape=True) for bid in broadcasts],
        d.reminder_id.in_(select(Reminder.id).where(Reminder.author_id == oid)),
    )
    quoting = _quoting(d.text, t.words)
    for rows, why in ((to_them, outbox.GONE_ERROR), (or_(theirs, quoting), ERASED_ERROR)):
        await session.execute(
            update(d)
            .where(d.status == DeliveryStatus.PENDING, rows)
            .values(
                status=DeliveryStatus.CANCELLED, last_error=why, claimed_until=None, claimed_by=None
            )
            .execution_options(synchronize_session=False)
        )
    await session.execute(
        update(d)
        .where(quoting)
        .values(text=None, reply_markup=None)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(d)
        .where(theirs)
        .values(from_chat_id=None, message_id=None, text=None)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(d)
        .where(to_them)
        .values(chat_id=-oid, text=None, reply_markup=None, sent_message_id=None)
        .execution_options(synchronize_session=False)
    )


async def _audit(session: AsyncSession, t: Traces) -> None:
    """Entries keep what happened, not who: their Telegram id goes (entries written before
    they registered included), and so does any detail naming them."""
    ids = list(t.tg_ids)
    await session.execute(
        update(AuditLog)
        .where(or_(AuditLog.actor_id == t.official_id, AuditLog.actor_tg_id.in_(ids)))
        .values(actor_tg_id=None)
        .execution_options(synchronize_session=False)
    )
    words = [str(i) for i in ids] + list(t.words)
    # Details are JSON text: look for the words as stored there too (non-ASCII escaped).
    stored = sorted({*words, *(_json_escaped(w) for w in words)})
    rows = await session.scalars(
        select(AuditLog).where(_quoting(cast(AuditLog.details, Text), stored))
    )
    for row in rows:
        row.details = _redacted(dict(row.details or {}), set(ids), words)
    await session.flush()


def _json_escaped(word: str) -> str:
    return json.dumps(word)[1:-1]


def _redacted(value: Any, numbers: set[int], words: Sequence[str]) -> Any:
    if isinstance(value, dict):
        return {k: _redacted(v, numbers, words) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(v, numbers, words) for v in value]
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in numbers:
        return ERASED
    if isinstance(value, str) and any(w in value for w in words):
        return ERASED
    return value
