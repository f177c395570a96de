"""The library's tables: answered exchanges the asker chose to share, the words in each (one
row per message, so a person can withdraw theirs), and the search index (one row per entry and
language; the database's own full-text structures are built on it by the migrations), and
the meaning vectors of semantic search."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Boolean, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base


def _now() -> datetime:
    return datetime.now(UTC)


class LibraryEntry(Base):
    """A resolved question the asker let into the library."""

    __tablename__ = "library_entry"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    question_id: Mapped[int] = mapped_column(
        ForeignKey("question.id", ondelete="CASCADE"), unique=True
    )
    topic_id: Mapped[int] = mapped_column(ForeignKey("topic.id"), index=True)
    city_id: Mapped[int | None] = mapped_column(ForeignKey("city.id"))  # the asker's city
    language: Mapped[str] = mapped_column(String(8))  # the question's language
    title: Mapped[str | None] = mapped_column(Text)  # an organiser's; else the question's words
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=_now, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=_now)


class LibraryPart(Base):
    """One message of an entry: the question, an answer or a follow-up, and whose words."""

    __tablename__ = "library_part"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[int] = mapped_column(
        ForeignKey("library_entry.id", ondelete="CASCADE"), index=True
    )
    official_id: Mapped[int | None] = mapped_column(ForeignKey("official.id"), index=True)
    city_id: Mapped[int | None] = mapped_column(ForeignKey("city.id"))
    kind: Mapped[str] = mapped_column(String(16))  # question | answer | follow_up
    routing_id: Mapped[int | None] = mapped_column(Integer)  # the answer's thread
    text: Mapped[str | None] = mapped_column(Text)  # None: withdrawn by its author
    created_at: Mapped[datetime] = mapped_column()


class LibraryText(Base):
    """What search reads: an entry's words in one language, folded (lower case, no accents or
    Arabic vowel marks). The entry's own language always; others when translations exist."""

    __tablename__ = "library_text"
    __table_args__ = (UniqueConstraint("entry_id", "language"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[int] = mapped_column(
        ForeignKey("library_entry.id", ondelete="CASCADE"), index=True
    )
    language: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)


class LibraryVector(Base):
    """What semantic search reads (SEMANTIC_SEARCH): the meaning of an entry's question (or
    its organiser's title) as 512 float32 numbers. A new row, with a new id, each time it is
    written, so a process keeping vectors in memory loads only rows newer than those it has."""

    __tablename__ = "library_vector"
    # Row ids never come back after a delete (SQLite would reuse the highest otherwise).
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[int] = mapped_column(
        ForeignKey("library_entry.id", ondelete="CASCADE"), unique=True
    )
    vector: Mapped[bytes] = mapped_column(LargeBinary)


class LibraryUse(Base):
    """A question its asker closed with an entry before sending it ("This answers it")."""

    __tablename__ = "library_use"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_id: Mapped[int] = mapped_column(
        ForeignKey("library_entry.id", ondelete="CASCADE"), index=True
    )
    question_id: Mapped[int] = mapped_column(
        ForeignKey("question.id", ondelete="CASCADE"), unique=True
    )
    created_at: Mapped[datetime] = mapped_column(index=True)
