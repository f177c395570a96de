"""Benchmark of the library's search: relevance and speed, on SQLite and PostgreSQL.

Loads the relevance set shipped in `bench/data/library_relevance.json` (60 answered exchanges
in English, French, Arabic, Italian and Spanish, and 30 queries with the entries a person would
want in the first three results) through the real indexing path, and prints:

- recall@3 of full-text search, same language, on the set alone (target at least 0.9), and
  again once 100,000 other entries share the index;
- the p50/p99 time of /search as the service runs it (read transaction, search, the result
  cards), over the 30 queries repeated, with 1,000 entries (the baseline of the same run) and
  with 100,000 entries (target p99 under 50 ms), and the ratio between them;
- the p50/p99 time the "Asked before?" step adds to asking (`similar` on a question's text).

The 100,000 other entries are made-up text, language by language: words drawn by Zipf's law
from the set's own words and 20,000 others (as words are spread in text), or, with --dense,
every word drawn evenly from the set's own vocabulary, so each query word is in about a tenth
of the entries of its language: the worst case.
Across languages: the set's entries are then translated through the library's translation
path, with the set's human translations (`bench/data/library_relevance_translations.json`) as
the translator's dictionary, and the 30 queries are asked in the four other languages
(120 queries; target recall@3 at least 0.8). That measures search given good translations,
not a machine translator. The figures after it (same-language recall, timings) are with the
set indexed in every language.

Run by hand (not in CI); it never asserts a time:
    .venv/bin/python bench/bench_library.py [--pg-url postgresql+asyncpg://...] [--entries N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import library_languages  # noqa: E402
from bot.clock import FakeClock  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.db import library_search as index  # noqa: E402
from bot.db.engine import Database  # noqa: E402
from bot.db.migrate import upgrade  # noqa: E402
from bot.db.models import (  # noqa: E402
    City,
    LibraryEntry,
    LibraryPart,
    LibraryText,
    Official,
    OfficialStatus,
    Question,
    QuestionStatus,
    Topic,
)
from bot.db.search_terms import fold  # noqa: E402
from bot.runtime import Deps  # noqa: E402
from bot.services import library_search  # noqa: E402

SET = ROOT / "bench" / "data" / "library_relevance.json"
NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
TG_ID = 7_000_001
ROUNDS = 10  # the 30 queries, each timed this many times
CHUNK = 5_000


def say(msg: str) -> None:
    print(msg, flush=True)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Loader:
    """Writes entries straight to the tables, as the services' indexing does (folded text
    per entry and language), in bulk."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.next_id = 1
        self.ids: dict[str, int] = {}

    async def base(self) -> None:
        async with self.db.engine.begin() as conn:
            await conn.execute(
                insert(City),
                [
                    {
                        "id": 1,
                        "name": "Gabès",
                        "country": "TN",
                        "timezone": "Africa/Tunis",
                        "languages": ["ar", "fr"],
                        "created_at": NOW,
                    }
                ],
            )
            await conn.execute(
                insert(Topic),
                [
                    {
                        "id": 1,
                        "slug": "flood-risk",
                        "group": "drr",
                        "names": {"en": "Flood risk"},
                        "group_names": {"en": "DRR"},
                        "position": 0,
                    }
                ],
            )
            await conn.execute(
                insert(Official),
                [
                    {
                        "id": 1,
                        "tg_user_id": TG_ID,
                        "chat_id": TG_ID,
                        "name": "Bench",
                        "position": "x",
                        "city_id": 1,
                        "locale": "en",
                        "locale_chosen": True,
                        "languages": ["en"],
                        "role": "official",
                        "status": OfficialStatus.ACTIVE,
                        "digest_opt_in": False,
                        "privacy_accepted_at": NOW,
                        "created_at": NOW,
                        "updated_at": NOW,
                    }
                ],
            )

    async def add(self, entries: list[tuple[str, str, str, str]]) -> None:
        """(key, language, question, answer) each; keys name the relevance set's entries."""
        for start in range(0, len(entries), CHUNK):
            part = entries[start : start + CHUNK]
            first = self.next_id
            self.next_id += len(part)
            when = [NOW - timedelta(minutes=first + i) for i in range(len(part))]
            qs, es, ps, ts = [], [], [], []
            for i, (key, lang, question, answer) in enumerate(part):
                n = first + i
                if key:
                    self.ids[key] = n
                qs.append(
                    {
                        "id": n,
                        "asker_id": 1,
                        "topic_id": 1,
                        "city_id": 1,
                        "text": question,
                        "content_type": "text",
                        "status": QuestionStatus.RESOLVED,
                        "round": 1,
                        "created_at": when[i],
                        "resolved_at": when[i],
                    }
                )
                es.append(
                    {
                        "id": n,
                        "question_id": n,
                        "topic_id": 1,
                        "city_id": 1,
                        "language": lang,
                        "pinned": False,
                        "created_at": when[i],
                        "updated_at": when[i],
                    }
                )
                ps.append(
                    {
                        "entry_id": n,
                        "official_id": 1,
                        "city_id": 1,
                        "kind": "question",
                        "text": question,
                        "created_at": when[i],
                    }
                )
                ps.append(
                    {
                        "entry_id": n,
                        "official_id": 1,
                        "city_id": 1,
                        "kind": "answer",
                        "text": answer,
                        "created_at": when[i],
                    }
                )
                ts.append({"entry_id": n, "language": lang, "text": fold(f"{question}\n{answer}")})
            async with self.db.engine.begin() as conn:
                for table, rows in (
                    (Question, qs),
                    (LibraryEntry, es),
                    (LibraryPart, ps),
                    (LibraryText, ts),
                ):
                    await conn.execute(insert(table), rows)


ALPHABETS = {
    "ar": "ابتثجحخدذرزسشصضطظعغفقكلمنهوي",
    "en": "abcdefghiklmnoprstuvwy",
    "es": "abcdefghijlmnopqrstuvyzáéíóñ",
    "fr": "abcdefghijlmnopqrstuvéèàç",
    "it": "abcdefghilmnopqrstuvzàèò",
}
OTHER_WORDS = 20_000  # per language, beside the set's own
ZIPF = 1.07


def synthetic(
    rel: dict[str, Any], n: int, dense: bool, seed: int = 5
) -> list[tuple[str, str, str, str]]:
    """Entries of made-up text, language by language. Dense: every word drawn evenly from the
    set's own vocabulary (each query word is then in about a tenth of the entries of its
    language: the worst case). Otherwise, as text is: words drawn by Zipf's law from the set's
    words and 20,000 others, the set's words at random ranks among them."""
    rnd = random.Random(seed)
    vocab: dict[str, list[str]] = {}
    for e in rel["entries"]:
        words = f"{e['question']} {e['answer']}".replace("?", " ").replace("؟", " ").split()
        vocab.setdefault(e["language"], []).extend(w.strip(",.;:'’") for w in words)
    weights: dict[str, list[float] | None] = {}
    for lang, words in vocab.items():
        if dense:
            weights[lang] = None
            continue
        letters = ALPHABETS[lang]
        others = {
            "".join(rnd.choice(letters) for _ in range(rnd.randint(4, 10)))
            for _ in range(OTHER_WORDS)
        }
        ranked = sorted(set(words)) + sorted(others - set(words))
        rnd.shuffle(ranked)
        vocab[lang] = ranked
        total, cum = 0.0, []
        for rank in range(1, len(ranked) + 1):
            total += 1 / rank**ZIPF
            cum.append(total)
        weights[lang] = cum
    langs = sorted(vocab)
    out = []
    for i in range(n):
        lang = langs[i % len(langs)]
        pool, cum = vocab[lang], weights[lang]

        def draw(k: int, pool: list[str] = pool, cum: list[float] | None = cum) -> str:
            return " ".join(rnd.choices(pool, cum_weights=cum, k=k))

        out.append(("", lang, draw(rnd.randint(8, 14)) + "?", draw(rnd.randint(14, 26)) + "."))
    return out


async def recall_at_3(db: Database, rel: dict[str, Any], ids: dict[str, int]) -> float:
    scores = []
    async with db.read() as session:
        for q in rel["queries"]:
            hits = [h.entry_id for h in await index.search(session, q["query"], 3)]
            wanted = {ids[r] for r in q["relevant"]}
            scores.append(len(wanted & set(hits)) / len(wanted))
    return sum(scores) / len(scores)


async def say_cross(
    db: Database, cross: list[tuple[str, str, list[str]]], ids: dict[str, int], label: str
) -> None:
    recall, per = await library_languages.recall_at_3(db, cross, ids)
    by_language = ", ".join(f"{lang} {r:.3f}" for lang, r in per.items())
    say(
        f"library_recall_at_3_across_languages_{label}: {recall:.3f} over {len(cross)} queries "
        f"(by the query's language: {by_language}), target 0.8, ratio {recall / 0.8:.2f}x"
    )


async def timings(deps: Deps, texts: list[str], similar: bool = False) -> list[float]:
    out = []
    for _round in range(ROUNDS):
        for t in texts:
            t0 = time.perf_counter()
            if similar:
                await library_search.similar(deps, t)
            else:
                await library_search.search(deps, TG_ID, t)
            out.append((time.perf_counter() - t0) * 1000)
    return out


async def run(url: str, label: str, total: int, reset_pg: bool, dense: bool) -> None:
    rel = json.loads(SET.read_text(encoding="utf-8"))
    db = Database(url)
    try:
        if reset_pg:
            async with db.engine.begin() as conn:
                await conn.execute(text("DROP SCHEMA public CASCADE"))
                await conn.execute(text("CREATE SCHEMA public"))
        await upgrade(db)
        settings = Settings(_env_file=None, database_url=url, telegram_bot_token=None)  # type: ignore[call-arg]
        deps = Deps(settings=settings, db=db, clock=FakeClock(NOW))
        loader = Loader(db)
        await loader.base()
        await loader.add(
            [(e["id"], e["language"], e["question"], e["answer"]) for e in rel["entries"]]
        )
        recall = await recall_at_3(db, rel, loader.ids)
        say(f"library_recall_at_3_{label}_set: {recall:.3f}, target 0.9, ratio {recall / 0.9:.2f}x")
        # Translation on: the set's entries go through the library's translation path with
        # the human translations as the translator's dictionary.
        tr = library_languages.load()
        translator = library_languages.DictionaryTranslator(rel, tr)
        deps.translator = translator
        indexed = await library_languages.translate_set(deps, loader.ids)
        whole = sum(1 for n in indexed.values() if n == len(library_languages.LANGUAGES))
        say(
            f"# {label}: {whole} of {len(indexed)} set entries indexed in all five languages "
            f"({translator.calls} translations asked)"
        )
        cross = library_languages.cross_queries(rel, tr)
        await say_cross(db, cross, loader.ids, f"{label}_set")
        recall = await recall_at_3(db, rel, loader.ids)
        say(
            f"library_recall_at_3_{label}_set_translated: {recall:.3f} (same language, the set "
            f"in every language), target 0.9, ratio {recall / 0.9:.2f}x"
        )
        queries = [q["query"] for q in rel["queries"]]
        questions = [e["question"] for e in rel["entries"]][:30]
        noise = synthetic(rel, total - len(rel["entries"]), dense)
        label += "_dense" if dense else ""
        await loader.add(noise[: 1_000 - len(rel["entries"])])
        base = await timings(deps, queries)
        t0 = time.perf_counter()
        await loader.add(noise[1_000 - len(rel["entries"]) :])
        async with db.read() as s:
            count = await s.scalar(select(func.count()).select_from(LibraryEntry))
        say(f"# {label}: {count} entries loaded in {time.perf_counter() - t0:.0f} s")
        if label.startswith("postgresql"):
            async with db.engine.begin() as conn:
                await conn.execute(text("ANALYZE"))
        big = await timings(deps, queries)
        asked = await timings(deps, questions, similar=True)
        recall_big = await recall_at_3(db, rel, loader.ids)
        p99_base, p99 = pct(base, 0.99), pct(big, 0.99)
        say(
            f"library_recall_at_3_{label}_{count}: {recall_big:.3f}, target 0.9, "
            f"ratio {recall_big / 0.9:.2f}x"
        )
        await say_cross(db, cross, loader.ids, f"{label}_{count}")
        say(f"library_search_p50_{label}_1000: {pct(base, 0.5):.1f} ms")
        say(f"library_search_p99_{label}_1000: {p99_base:.1f} ms (baseline)")
        say(f"library_search_p50_{label}_{count}: {pct(big, 0.5):.1f} ms")
        say(
            f"library_search_p99_{label}_{count}: {p99:.1f} ms, ratio {p99 / p99_base:.2f}x "
            f"the 1,000-entry baseline; target 50 ms"
        )
        say(f"library_asked_before_p50_{label}_{count}: {pct(asked, 0.5):.1f} ms")
        say(
            f"library_asked_before_p99_{label}_{count}: {pct(asked, 0.99):.1f} ms, "
            f"target 100 ms, mean {statistics.mean(asked):.1f} ms"
        )
    finally:
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg-url", help="PostgreSQL database to use (its schema is reset)")
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument(
        "--dense", action="store_true", help="the worst case: every word from the set's own"
    )
    args = parser.parse_args()

    async def all_runs() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite+aiosqlite:///{tmp}/library.db"
            await run(url, "sqlite", args.entries, False, args.dense)
        if args.pg_url and not args.sqlite_only:
            await run(args.pg_url, "postgresql", args.entries, True, args.dense)

    asyncio.run(all_runs())


if __name__ == "__main__":
    main()
