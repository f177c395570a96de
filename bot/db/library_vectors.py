"""The library's meaning vectors (semantic search): writing an entry's, reading those newer
than a process already holds, and which entries still lack one.

SQL only: callers own the transaction.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import NamedTuple

from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.library_models import LibraryEntry, LibraryVector
from bot.db.models import Question


class VectorRow(NamedTuple):
    id: int
    entry_id: int
    vector: bytes


class Unembedded(NamedTuple):
    """An entry without a vector, and the words its vector is made of."""

    entry_id: int
    text: str


async def write(session: AsyncSession, entry_id: int, vector: bytes) -> None:
    """The entry's vector, replacing its old one under a new row id."""
    await remove(session, entry_id)
    await session.execute(insert(LibraryVector).values(entry_id=entry_id, vector=vector))


async def has_vector(session: AsyncSession, entry_id: int) -> bool:
    found = await session.scalar(select(LibraryVector.id).where(LibraryVector.entry_id == entry_id))
    return found is not None


async def newer_than(session: AsyncSession, last_id: int) -> list[VectorRow]:
    """The rows written after row `last_id`, oldest first."""
    rows = await session.execute(
        select(LibraryVector.id, LibraryVector.entry_id, LibraryVector.vector)
        .where(LibraryVector.id > last_id)
        .order_by(LibraryVector.id)
    )
    return [VectorRow(*r) for r in rows.all()]


async def all_ids(session: AsyncSession) -> set[int]:
    return set((await session.scalars(select(LibraryVector.id))).all())


async def rows(session: AsyncSession, ids: Collection[int]) -> list[VectorRow]:
    """These rows, read 5,000 ids at a time (a statement takes at most 32,767 parameters)."""
    wanted, found = sorted(ids), []
    for start in range(0, len(wanted), 5000):
        result = await session.execute(
            select(LibraryVector.id, LibraryVector.entry_id, LibraryVector.vector).where(
                LibraryVector.id.in_(bindparam("ids", expanding=True))
            ),
            {"ids": wanted[start : start + 5000]},
        )
        found += [VectorRow(*r) for r in result.all()]
    return found


async def remove(session: AsyncSession, entry_id: int) -> None:
    """The entry's vector gone (its words changed while semantic search was off here)."""
    await session.execute(delete(LibraryVector).where(LibraryVector.entry_id == entry_id))


async def existing(session: AsyncSession, ids: Collection[int]) -> set[int]:
    """Of these row ids, those still in the table (not replaced, nor gone with their entry)."""
    if not ids:
        return set()
    found = await session.scalars(
        select(LibraryVector.id).where(LibraryVector.id.in_(bindparam("ids", expanding=True))),
        {"ids": list(ids)},
    )
    return set(found.all())


async def unembedded(session: AsyncSession, limit: int) -> list[Unembedded]:
    """Entries without a vector, newest first, with their title or else their question."""
    missing = ~select(LibraryVector.id).where(LibraryVector.entry_id == LibraryEntry.id).exists()
    found = await session.execute(
        select(LibraryEntry.id, LibraryEntry.title, Question.text)
        .join(Question, Question.id == LibraryEntry.question_id)
        .where(missing)
        .order_by(LibraryEntry.id.desc())
        .limit(limit)
    )
    return [Unembedded(e, title or question or "") for e, title, question in found.all()]
