"""The library's search index (`library_text`) and the queries on it. SQLite: the FTS5 tables
the migration keeps in step with library_text by triggers (words with accents folded, and
trigrams for Arabic words under attached prefixes). PostgreSQL: the generated tsvector in the
entry's language configuration, and pg_trgm. Both then rank the candidates alike, by how many
of the query's stems each holds (search_terms.matched), then by the engine's own rank.

SQL only: callers own the transaction.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.library_models import LibraryEntry, LibraryText
from bot.db.search_terms import fold, is_arabic, matched, terms, words

CANDIDATES = 60
LANGUAGE_CONFIGS = ("english", "french", "italian", "spanish", "arabic")

# SQLite: one posting-list scan per term (a word by its stem as a prefix, or, for Arabic, the
# stem anywhere in a word through the trigrams), rows counted by how many terms they hold.
# Cheaper than ranking every row that holds any term with bm25, which costs tens of ms once
# common words match tens of thousands of entries; and the count is the ranking used anyway.
_WORD_ROWS = "SELECT rowid AS r FROM library_fts WHERE library_fts MATCH :t{i}"
_TRIGRAM_ROWS = "SELECT rowid AS r FROM library_trigram WHERE library_trigram MATCH :t{i}"
_COUNTED = (
    "SELECT t.entry_id, t.text, t.language FROM (SELECT r, count(*) AS c FROM ({rows}) GROUP BY r "
    "ORDER BY c DESC, r DESC LIMIT :n) AS best JOIN library_text t ON t.id = best.r "
    "ORDER BY best.c DESC, best.r DESC"
)
_QUERY = " || ".join(f"websearch_to_tsquery('{c}', :words)" for c in LANGUAGE_CONFIGS)
_TSV = text(
    f"SELECT t.entry_id, t.text, t.language FROM library_text t, (SELECT {_QUERY}) AS q(query) "  # noqa: S608
    "WHERE t.tsv @@ q.query ORDER BY ts_rank(t.tsv, q.query) DESC LIMIT :n"
)
_INSERT = insert(LibraryText)


@dataclass(frozen=True)
class Hit:
    entry_id: int
    matched: int  # of the query's stems, how many the entry holds
    of: int  # the query's stems


async def write(session: AsyncSession, entry_id: int, texts: Mapping[str, str]) -> None:
    """The entry's words per language, replacing what was indexed (same transaction)."""
    await session.execute(delete(LibraryText).where(LibraryText.entry_id == entry_id))
    rows = [
        {"entry_id": entry_id, "language": lang, "text": fold(body)}
        for lang, body in texts.items()
        if body.strip()
    ]
    if rows:
        await session.execute(_INSERT, rows)


async def search(session: AsyncSession, query: str, limit: int) -> list[Hit]:
    """The entries that best match the words, best first."""
    wanted = terms(query)
    if not wanted:
        return []
    arabic = [t for t in wanted if is_arabic(t)]
    if session.get_bind().dialect.name == "sqlite":
        found = await _counted(session, [t for t in wanted if t not in arabic], arabic)
        if not found:  # a word mistyped or cut differently: its stem anywhere in a word
            found = await _counted(session, [], wanted)
    else:
        # PostgreSQL's Arabic stemmer takes attached prefixes off by itself; trigrams are the
        # fallback for what the stemmers miss (a mistyped word, a form they cut differently).
        joined = " or ".join(words(query))
        found = list((await session.execute(_TSV, {"words": joined, "n": CANDIDATES})).all())
        if not found:
            like = or_(*[LibraryText.text.contains(t, autoescape=True) for t in wanted])
            found += (
                await session.execute(
                    select(LibraryText.entry_id, LibraryText.text, LibraryText.language)
                    .where(like)
                    .limit(CANDIDATES)
                )
            ).all()
    pinned, language = await _entries(session, list({row[0] for row in found}))
    # entry -> (stems matched, pinned, in its own words rather than a translation, order)
    best: dict[int, tuple[int, bool, bool, int]] = {}
    for order, (entry_id, body, lang) in enumerate(found):
        score = (matched(wanted, body), entry_id in pinned, lang == language.get(entry_id), -order)
        if entry_id not in best or score > best[entry_id]:
            best[entry_id] = score
    ranked = sorted(best, key=lambda e: best[e], reverse=True)
    return [Hit(e, best[e][0], len(wanted)) for e in ranked[:limit] if best[e][0] > 0]


async def _counted(session: AsyncSession, words: list[str], substrings: list[str]) -> list[Any]:
    """SQLite: the rows holding the most terms (then the newest), with their text."""
    parts: list[str] = []
    params: dict[str, str] = {}
    for t in words:
        parts.append(_WORD_ROWS.format(i=len(parts)))
        params[f"t{len(params)}"] = f'"{t}"*'
    for t in substrings:
        parts.append(_TRIGRAM_ROWS.format(i=len(parts)))
        params[f"t{len(params)}"] = f'"{t}"'
    if not parts:
        return []
    query = text(_COUNTED.format(rows=" UNION ALL ".join(parts)))
    return list((await session.execute(query, {**params, "n": CANDIDATES})).all())


async def _entries(session: AsyncSession, entry_ids: list[int]) -> tuple[set[int], dict[int, str]]:
    """Of these entries, the pinned ones, and each one's own language."""
    if not entry_ids:
        return set(), {}
    rows = await session.execute(
        select(LibraryEntry.id, LibraryEntry.pinned, LibraryEntry.language).where(
            LibraryEntry.id.in_(bindparam("ids", expanding=True))
        ),
        {"ids": entry_ids},
    )
    found = rows.all()
    return {e for e, pinned, _lang in found if pinned}, {e: lang for e, _p, lang in found}


async def not_in_every_language(
    session: AsyncSession,
    languages: int,
    limit: int,
    skip: Collection[int] = (),
    since: datetime | None = None,
) -> list[int]:
    """Entries indexed in fewer than `languages` languages, newest first (not those in
    `skip`; only those written since `since` when given)."""
    indexed = (
        select(func.count())
        .where(LibraryText.entry_id == LibraryEntry.id)
        .correlate(LibraryEntry)
        .scalar_subquery()
    )
    stmt = select(LibraryEntry.id).where(indexed < languages)
    if since is not None:
        stmt = stmt.where(LibraryEntry.updated_at >= since)
    rows = await session.scalars(stmt.order_by(LibraryEntry.id.desc()).limit(limit + len(skip)))
    return [e for e in rows.all() if e not in skip][:limit]
