"""Benchmark of the library's semantic search (SEMANTIC_SEARCH, the `semantic` extra): relevance
across languages with translation off, and speed over 100,000 entries, on SQLite and PostgreSQL.

The relevance set (`bench/data/library_relevance.json`, 60 entries and 30 queries in five
languages) is loaded and given its vectors by the job the bot runs
(library_semantic.embed_pending). Then, through /search as the service runs it, with no
translation at all:
- recall@3 of the 30 queries in their own language and of the 120 queries asked in the four
  other languages (`library_relevance_translations.json`; target at least 0.8), beside the
  same with semantic search off (full text alone, the baseline of the same run);
- with 100,000 entries (made-up text as in bench_library.py, embedded by the same model in
  batches): recall again, /search p50/p99 with semantic search (target under 50 ms) beside
  full text alone and beside 1,000 entries, the p99 "Asked before?" adds to asking (target
  under 100 ms), the time a new process's start takes to load every vector (warm_up), and
  the memory the vectors take in it.

Run by hand (not in CI); it never asserts a time:
    .venv/bin/python bench/bench_semantic.py [--pg-url postgresql+asyncpg://...] [--entries N]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import insert, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import library_languages  # noqa: E402
from bench.bench_library import (  # noqa: E402
    NOW,
    SET,
    TG_ID,
    Loader,
    pct,
    say,
    synthetic,
    timings,
)
from bot.clock import FakeClock  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.db.engine import Database  # noqa: E402
from bot.db.migrate import upgrade  # noqa: E402
from bot.db.models import LibraryVector  # noqa: E402
from bot.embedding import Encoder  # noqa: E402
from bot.runtime import Deps  # noqa: E402
from bot.services import library_search, library_semantic  # noqa: E402

CHUNK = 5_000


async def recall(
    deps: Deps, queries: list[tuple[str, str, list[str]]], ids: dict[str, int]
) -> float:
    """Recall@3 of /search as a person reads it (the first three results)."""
    scores = []
    for _lang, query, relevant in queries:
        found = {c.entry_id for c in (await library_search.search(deps, TG_ID, query))[:3]}
        wanted = {ids[r] for r in relevant}
        scores.append(len(wanted & found) / len(wanted))
    return sum(scores) / len(scores)


def embed_noise(encoder: Encoder, noise: list[tuple[str, str, str, str]]) -> np.ndarray:
    t0 = time.perf_counter()
    parts = [
        encoder.encode([q for _k, _l, q, _a in noise[i : i + 256]])
        for i in range(0, len(noise), 256)
    ]
    vectors = np.concatenate(parts) if parts else np.zeros((0, 512), dtype=np.float32)
    took = time.perf_counter() - t0
    say(
        f"# {len(noise)} made-up questions embedded in {took:.0f} s "
        f"({1000 * took / max(1, len(noise)):.2f} ms each)"
    )
    return vectors


async def store_vectors(db: Database, first_entry: int, vectors: np.ndarray) -> None:
    for start in range(0, len(vectors), CHUNK):
        rows = [
            {"entry_id": first_entry + start + i, "vector": v.tobytes()}
            for i, v in enumerate(vectors[start : start + CHUNK])
        ]
        async with db.engine.begin() as conn:
            await conn.execute(insert(LibraryVector), rows)


async def run(
    url: str, label: str, total: int, reset_pg: bool, encoder: Encoder, noise_vectors: np.ndarray
) -> None:
    rel = json.loads(SET.read_text(encoding="utf-8"))
    tr = library_languages.load()
    db = Database(url)
    try:
        if reset_pg:
            async with db.engine.begin() as conn:
                await conn.execute(text("DROP SCHEMA public CASCADE"))
                await conn.execute(text("CREATE SCHEMA public"))
        await upgrade(db)
        settings = Settings(_env_file=None, database_url=url, telegram_bot_token=None)  # type: ignore[call-arg]
        deps = Deps(settings=settings, db=db, clock=FakeClock(NOW), encoder=encoder)
        loader = Loader(db)
        await loader.base()
        await loader.add(
            [(e["id"], e["language"], e["question"], e["answer"]) for e in rel["entries"]]
        )
        embedded = await library_semantic.embed_pending(deps)
        say(f"# {label}: {embedded} set entries given a vector by the job")
        same = [(q["language"], q["query"], q["relevant"]) for q in rel["queries"]]
        cross = library_languages.cross_queries(rel, tr)
        await figures(deps, label, "set", same, cross, loader.ids)

        queries = [q["query"] for q in rel["queries"]]
        questions = [e["question"] for e in rel["entries"]][:30]
        noise = synthetic(rel, total - len(rel["entries"]), False)
        small = 1_000 - len(rel["entries"])
        first = loader.next_id
        await loader.add(noise[:small])
        await store_vectors(db, first, noise_vectors[:small])
        base = await timings(deps, queries)
        await loader.add(noise[small:])
        await store_vectors(db, first + small, noise_vectors[small : len(noise)])
        if label == "postgresql":
            async with db.engine.begin() as conn:
                await conn.execute(text("ANALYZE"))
        count = len(rel["entries"]) + len(noise)
        del noise  # the bench's own 100,000 texts: the bot holds none of them
        gc.collect()
        gc.freeze()  # as the bot does once started (bot.app.freeze_startup_objects)

        # A new process: its start loads every vector (as bot.app's post_init does).
        fresh_db = Database(url)
        fresh = Deps(settings=settings, db=fresh_db, clock=deps.clock, encoder=encoder)
        t0 = time.perf_counter()
        await library_semantic.warm_up(fresh, searches=True)
        load_s = time.perf_counter() - t0
        held = library_semantic._of(fresh_db).matrix  # noqa: SLF001 - the benchmark reads its size
        say(
            f"semantic_start_{label}_{count}: {load_s:.2f} s to load {len(held)} vectors "
            f"({held.nbytes / 2**20:.0f} MiB in memory; peak RSS of this process "
            f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB)"
        )
        await fresh_db.dispose()

        await figures(deps, label, str(count), same, cross, loader.ids)
        big = await timings(deps, queries)
        asked = await timings(deps, questions, similar=True)
        deps.encoder = None
        text_only = await timings(deps, queries)
        asked_text_only = await timings(deps, questions, similar=True)
        deps.encoder = encoder
        say(f"semantic_search_p50_{label}_1000: {pct(base, 0.5):.1f} ms")
        say(f"semantic_search_p99_{label}_1000: {pct(base, 0.99):.1f} ms")
        say(f"semantic_search_p50_{label}_{count}: {pct(big, 0.5):.1f} ms")
        say(
            f"semantic_search_p99_{label}_{count}: {pct(big, 0.99):.1f} ms, target 50 ms; "
            f"{pct(big, 0.99) / pct(base, 0.99):.2f}x the 1,000-entry run, "
            f"{pct(big, 0.99) / pct(text_only, 0.99):.2f}x full text alone "
            f"({pct(text_only, 0.99):.1f} ms)"
        )
        say(
            f"semantic_asked_before_p99_{label}_{count}: {pct(asked, 0.99):.1f} ms, target "
            f"100 ms; full text alone {pct(asked_text_only, 0.99):.1f} ms"
        )
    finally:
        await db.dispose()


async def figures(
    deps: Deps,
    label: str,
    size: str,
    same: list[tuple[str, str, list[str]]],
    cross: list[tuple[str, str, list[str]]],
    ids: dict[str, int],
) -> None:
    encoder = deps.encoder
    deps.encoder = None
    text_same, text_cross = await recall(deps, same, ids), await recall(deps, cross, ids)
    deps.encoder = encoder
    sem_same, sem_cross = await recall(deps, same, ids), await recall(deps, cross, ids)
    say(
        f"semantic_recall_at_3_same_language_{label}_{size}: {sem_same:.3f} "
        f"(full text alone {text_same:.3f}), target 0.9"
    )
    say(
        f"semantic_recall_at_3_across_languages_{label}_{size}: {sem_cross:.3f} over "
        f"{len(cross)} queries, translation off (full text alone {text_cross:.3f}), target 0.8, "
        f"ratio {sem_cross / 0.8:.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg-url", help="PostgreSQL database to use (its schema is reset)")
    parser.add_argument("--entries", type=int, default=100_000)
    args = parser.parse_args()
    if args.entries < 1_000:
        parser.error("--entries must be at least 1000")
    encoder = Encoder()
    rel: dict[str, Any] = json.loads(SET.read_text(encoding="utf-8"))
    noise_vectors = embed_noise(encoder, synthetic(rel, args.entries - len(rel["entries"]), False))

    async def all_runs() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite+aiosqlite:///{tmp}/semantic.db"
            await run(url, "sqlite", args.entries, False, encoder, noise_vectors)
        if args.pg_url:
            await run(args.pg_url, "postgresql", args.entries, True, encoder, noise_vectors)

    asyncio.run(all_runs())


if __name__ == "__main__":
    main()
