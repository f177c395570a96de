"""The library's entries and their words: adding an exchange, reading it, the entries of a
topic, withdrawing a person's words, and the rows an erased person leaves.

SQL only: callers own the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.library_models import LibraryEntry, LibraryPart, LibraryUse
from bot.db.models import City, ExchangeKind, ExchangeMessage, Official, Question, Routing

PART_KINDS = (ExchangeKind.ANSWER, ExchangeKind.FOLLOW_UP)


@dataclass(frozen=True)
class PartRow:
    """A message of an entry, with its author and city as a reader sees them."""

    part: LibraryPart
    name: str | None  # None: the author erased their data
    city_name: str | None
    name_latin: str | None = None
    city_names: dict[str, str] | None = None


async def entry(session: AsyncSession, entry_id: int) -> LibraryEntry | None:
    return await session.get(LibraryEntry, entry_id)


async def entry_locked(session: AsyncSession, entry_id: int) -> LibraryEntry | None:
    """The entry, its row locked until the transaction ends (PostgreSQL): two processes
    indexing it at once take turns."""
    return await session.get(LibraryEntry, entry_id, with_for_update=True)


async def entry_of_question(session: AsyncSession, question_id: int) -> LibraryEntry | None:
    return (
        await session.scalars(select(LibraryEntry).where(LibraryEntry.question_id == question_id))
    ).first()


async def add(session: AsyncSession, question: Question, language: str, now: datetime) -> int:
    """The entry for a resolved question, with its question and every answer and follow-up
    that has words (text or caption), in order. Its id."""
    row = LibraryEntry(
        question_id=question.id,
        topic_id=question.topic_id,
        city_id=question.city_id,
        language=language,
        pinned=False,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await session.flush()
    session.add(
        LibraryPart(
            entry_id=row.id,
            official_id=question.asker_id,
            city_id=question.city_id,
            kind=ExchangeKind.QUESTION,
            text=question.text,
            created_at=question.created_at,
        )
    )
    messages = await session.execute(
        select(ExchangeMessage, Routing.id)
        .outerjoin(
            Routing,
            (Routing.question_id == ExchangeMessage.question_id)
            & (Routing.recipient_id == ExchangeMessage.from_official_id),
        )
        .where(
            ExchangeMessage.question_id == question.id,
            ExchangeMessage.kind.in_(PART_KINDS),
            ExchangeMessage.text.is_not(None),
            ExchangeMessage.from_official_id.is_not(None),
        )
        .order_by(ExchangeMessage.created_at, ExchangeMessage.id)
    )
    session.add_all(
        LibraryPart(
            entry_id=row.id,
            official_id=m.from_official_id,
            city_id=m.from_city_id,
            kind=m.kind,
            routing_id=routing_id,
            text=m.text,
            created_at=m.created_at,
        )
        for m, routing_id in messages
    )
    await session.flush()
    return row.id


async def parts(session: AsyncSession, entry_id: int) -> list[PartRow]:
    """The entry's messages in order, each with its author's name and city."""
    rows = await session.execute(
        select(
            LibraryPart,
            Official.name,
            Official.erased_at,
            City.name,
            Official.name_latin,
            City.names,
        )
        .outerjoin(Official, Official.id == LibraryPart.official_id)
        .outerjoin(City, City.id == LibraryPart.city_id)
        .where(LibraryPart.entry_id == entry_id)
        .order_by(LibraryPart.created_at, LibraryPart.id)
    )
    return [
        PartRow(part, None if erased is not None else name, city, latin, city_names)
        for part, name, erased, city, latin, city_names in rows
    ]


async def parts_of_entries(
    session: AsyncSession, entry_ids: Sequence[int]
) -> dict[int, list[LibraryPart]]:
    """The messages of several entries, in order, by entry."""
    found: dict[int, list[LibraryPart]] = {e: [] for e in entry_ids}
    if not entry_ids:
        return found
    rows = await session.scalars(
        select(LibraryPart)
        .where(LibraryPart.entry_id.in_(bindparam("ids", expanding=True)))
        .order_by(LibraryPart.created_at, LibraryPart.id),
        {"ids": list(entry_ids)},
    )
    for p in rows:
        found[p.entry_id].append(p)
    return found


async def entries(session: AsyncSession, entry_ids: Sequence[int]) -> dict[int, LibraryEntry]:
    if not entry_ids:
        return {}
    rows = await session.scalars(
        select(LibraryEntry).where(LibraryEntry.id.in_(bindparam("ids", expanding=True))),
        {"ids": list(entry_ids)},
    )
    return {e.id: e for e in rows}


async def of_topic(session: AsyncSession, topic_id: int, offset: int, limit: int) -> list[int]:
    """A topic's entries, pinned first, then newest first."""
    rows = await session.scalars(
        select(LibraryEntry.id)
        .where(LibraryEntry.topic_id == topic_id)
        .order_by(LibraryEntry.pinned.desc(), LibraryEntry.created_at.desc(), LibraryEntry.id)
        .offset(offset)
        .limit(limit)
    )
    return list(rows.all())


async def topic_counts(session: AsyncSession) -> dict[int, int]:
    """How many entries each topic has (topics without any left out)."""
    rows = await session.execute(
        select(LibraryEntry.topic_id, func.count()).group_by(LibraryEntry.topic_id)
    )
    return {topic_id: int(n) for topic_id, n in rows.all()}


async def withdraw(session: AsyncSession, entry_id: int, official_id: int) -> int:
    """The person's words taken out of the entry (the messages stay, marked withdrawn)."""
    result = await session.execute(
        update(LibraryPart)
        .where(
            LibraryPart.entry_id == entry_id,
            LibraryPart.official_id == official_id,
            LibraryPart.text.is_not(None),
        )
        .values(text=None)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def remove(session: AsyncSession, entry_id: int) -> None:
    await session.execute(delete(LibraryEntry).where(LibraryEntry.id == entry_id))


async def entries_with_words_of(session: AsyncSession, official_id: int) -> list[int]:
    rows = await session.scalars(
        select(LibraryPart.entry_id)
        .where(LibraryPart.official_id == official_id, LibraryPart.text.is_not(None))
        .distinct()
    )
    return sorted(rows.all())


async def entries_asked_by(session: AsyncSession, official_id: int) -> list[int]:
    rows = await session.scalars(
        select(LibraryEntry.id)
        .join(Question, Question.id == LibraryEntry.question_id)
        .where(Question.asker_id == official_id)
    )
    return sorted(rows.all())


async def anonymise(session: AsyncSession, official_id: int) -> None:
    """An erased person: their words go, and their messages name only their city."""
    await session.execute(
        update(LibraryPart)
        .where(LibraryPart.official_id == official_id)
        .values(text=None, official_id=None)
        .execution_options(synchronize_session=False)
    )


def add_use(session: AsyncSession, entry_id: int, question_id: int, now: datetime) -> None:
    session.add(LibraryUse(entry_id=entry_id, question_id=question_id, created_at=now))


async def questions_answered_from(
    session: AsyncSession, since: datetime | None, until: datetime
) -> set[int]:
    """The questions asked in the period that their askers closed with an entry, unsent."""
    stmt = (
        select(LibraryUse.question_id)
        .join(Question, Question.id == LibraryUse.question_id)
        .where(Question.created_at < until)
    )
    if since is not None:
        stmt = stmt.where(Question.created_at >= since)
    return set((await session.scalars(stmt)).all())
