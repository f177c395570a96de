"""The library searched by meaning (SEMANTIC_SEARCH=true, the `semantic` extra): an entry's
question, or its organiser's title, becomes a vector in the transaction that shares or
retitles it; /search and "Asked before?" then also find entries whose words differ but
whose meaning is close, in any of the five languages, with translation off.

Each process that searches holds every vector in memory (bot/semantic_matrix.py). Before a
search it loads the rows written since its last look (usually none: one indexed query), and
it confirms the rows it is about to offer in one statement, so an entry withdrawn, removed,
erased or retitled through another process is never offered by its old meaning. The job
below gives a vector to entries that have none (shared before semantic search was turned on,
or retitled by a process where it was off) and, each run (SEMANTIC_JOB_SECONDS), compares the
whole set of row ids with what it holds: it drops rows gone and loads a row another process
committed out of id order (PostgreSQL).

With SEMANTIC_SEARCH off (the default) every function here returns at once and nothing is
imported: numpy and the model load only when it is on.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import library, library_vectors
from bot.db.engine import Database
from bot.runtime import Deps

if TYPE_CHECKING:
    from bot.semantic_matrix import VectorMatrix

log = logging.getLogger(__name__)

# Cosines (bench/bench_semantic.py, the relevance set). /search: a few words against a
# question score lower than two questions do; the set's relevant entries score 0.47 at the
# median, and 0.25 keeps 92% of them (recall@3 across languages 0.84 with it, 0.85 with
# none), while words on another subject (a town hall's opening hours) score under 0.2.
# "Asked before?": the same question in another language scores 0.58 or more in 95 cases of
# 100, and a different question on the same topic about 0.45.
SEARCH_THRESHOLD = 0.25
OFFER_THRESHOLD = 0.5
BATCH = 2000  # entries given a vector per run of the job (about 3 s of one core)
CHUNK = 50  # texts per call to the model: a share waiting for it waits for at most one chunk


@dataclass
class _Held:
    """Per database, in this process: the vectors loaded so far."""

    matrix: VectorMatrix
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


_held: WeakKeyDictionary[Database, _Held] = WeakKeyDictionary()


def _of(db: Database) -> _Held:
    held = _held.get(db)
    if held is None:
        from bot.semantic_matrix import VectorMatrix

        held = _held[db] = _Held(VectorMatrix())
    return held


async def write(deps: Deps, session: AsyncSession, entry_id: int, words: str) -> None:
    """The entry's vector from its question or title (same transaction as the entry). With
    semantic search off in this process, any old vector goes: the job of a process where it
    is on makes the new one, and nothing finds the entry by its old words meanwhile."""
    if deps.encoder is None or not words.strip():
        await library_vectors.remove(session, entry_id)
        return
    vector = (await deps.encoder.vectors([words]))[0]
    await library_vectors.write(session, entry_id, vector.tobytes())


async def nearest(
    deps: Deps, session: AsyncSession, text: str, limit: int, threshold: float
) -> list[tuple[int, float]]:
    """Up to `limit` entries whose meaning is close to the text, closest first: (entry id,
    cosine). None when semantic search is off."""
    if deps.encoder is None or not text.strip():
        return []
    query = (await deps.encoder.vectors([text]))[0]
    held = _of(deps.db)
    async with held.lock:
        held.matrix.add(await library_vectors.newer_than(session, held.matrix.last_id))
        found = held.matrix.nearest(query, 2 * limit + 5, threshold)
        alive = await library_vectors.existing(session, [f.row_id for f in found])
        held.matrix.drop([f.row_id for f in found if f.row_id not in alive])
    return [(f.entry_id, f.score) for f in found if f.row_id in alive][:limit]


async def _sync(deps: Deps) -> int:
    """Every row in the database held, and no other: how many are held."""
    held = _of(deps.db)
    async with held.lock, deps.db.read() as session:
        there = await library_vectors.all_ids(session)
        mine = held.matrix.row_ids()
        held.matrix.drop(mine - there)
        held.matrix.add(await library_vectors.rows(session, there - mine))
        return len(held.matrix)


async def embed_pending(deps: Deps, batch: int = BATCH) -> int:
    """Entries without a vector get one (the model runs outside any transaction, CHUNK texts
    at a time). How many."""
    if deps.encoder is None:
        return 0
    async with deps.db.read() as session:
        todo = [t for t in await library_vectors.unembedded(session, batch) if t.text.strip()]
    written = 0
    for start in range(0, len(todo), CHUNK):
        chunk = todo[start : start + CHUNK]
        vectors = await deps.encoder.vectors([t.text for t in chunk])
        async with deps.db.transaction() as session:
            for item, vector in zip(chunk, vectors, strict=True):
                # Gone meanwhile, or given a vector of newer words (a new title): left be.
                if await library.entry_locked(session, item.entry_id) is None:
                    continue
                if await library_vectors.has_vector(session, item.entry_id):
                    continue
                await library_vectors.write(session, item.entry_id, vector.tobytes())
                written += 1
    if todo:
        log.info("library entries embedded count=%s", written)
    return written


async def job(deps: Deps) -> None:
    """The scheduler's entry point (every SEMANTIC_JOB_SECONDS)."""
    if deps.encoder is None:
        return
    await embed_pending(deps)
    if deps.db in _held:  # this process searches (a worker without updates holds nothing)
        await _sync(deps)


async def warm_up(deps: Deps, searches: bool) -> None:
    """At start: the model's weights (about a second) and, in a process that takes updates,
    the vectors (1.5 s and 2 KB an entry at 100,000), before the first search waits for them."""
    if deps.encoder is None:
        return
    await deps.encoder.vectors(["warm up"])
    held = await _sync(deps) if searches else 0
    log.info("semantic search on vectors=%s", held)
