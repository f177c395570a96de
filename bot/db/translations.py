"""Machine translations, stored once per text and target language: the table and its SQL."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint, delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, dialect_name, upsert


def _now() -> datetime:
    return datetime.now(UTC)


class Translation(Base):
    """A translation of one text (by its SHA-256) into one language, and whose words it is."""

    __tablename__ = "translation"
    __table_args__ = (UniqueConstraint("text_hash", "target_lang"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    text_hash: Mapped[str] = mapped_column(String(64))
    source_lang: Mapped[str] = mapped_column(String(8))
    target_lang: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)
    # The writer: their translations go with the rest of their words when they are erased.
    author_id: Mapped[int | None] = mapped_column(ForeignKey("official.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=_now)


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


async def stored(session: AsyncSession, digest: str, targets: Iterable[str]) -> dict[str, str]:
    """The stored translations of the text into these languages, by language."""
    rows = await session.execute(
        select(Translation.target_lang, Translation.text).where(
            Translation.text_hash == digest, Translation.target_lang.in_(list(targets))
        )
    )
    return {row.target_lang: row.text for row in rows}


async def add(
    session: AsyncSession,
    digest: str,
    source: str,
    texts: dict[str, str],
    author_id: int | None,
    now: datetime,
) -> None:
    """Store translations; one stored meanwhile by another process stays."""
    if not texts:
        return
    dialect = dialect_name(session)
    rows = [
        {
            "text_hash": digest,
            "source_lang": source,
            "target_lang": target,
            "text": text,
            "author_id": author_id,
            "created_at": now,
        }
        for target, text in texts.items()
    ]
    stmt = upsert(dialect, Translation).values(rows)
    await session.execute(stmt.on_conflict_do_nothing(index_elements=["text_hash", "target_lang"]))


async def erase_author(session: AsyncSession, official_id: int) -> None:
    """Every translation of this person's words."""
    await session.execute(delete(Translation).where(Translation.author_id == official_id))


async def stored_of(
    session: AsyncSession, digests: Iterable[str]
) -> dict[str, tuple[str, dict[str, str]]]:
    """For each text (by its hash) with stored translations: its language and its
    translations by language."""
    rows = await session.execute(
        select(
            Translation.text_hash,
            Translation.source_lang,
            Translation.target_lang,
            Translation.text,
        ).where(Translation.text_hash.in_(list(digests)))
    )
    found: dict[str, tuple[str, dict[str, str]]] = {}
    for digest, source, target, text in rows:
        found.setdefault(digest, (source, {}))[1][target] = text
    return found
