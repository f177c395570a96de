"""Export 1,000,000 seeded exchange messages to each format; print seconds and peak memory.

    .venv/bin/python bench/bench_export.py                       # SQLite file in bench/out/
    .venv/bin/python bench/bench_export.py --db postgresql+asyncpg://postgres@127.0.0.1/bench
    .venv/bin/python bench/bench_export.py --rows 200000 --formats csv,xlsx --before DIR

Each export runs in a fresh process, so its peak resident memory (ru_maxrss) is the whole
process's: interpreter, libraries and the export together. The export goes the way the bot
sends it (parts under the upload limit, zipped past the compression threshold).
Targets: CSV under 30 s and under 200 MB for 1,000,000 rows (issue 5); CSV within 1.5x of a
SQLAlchemy Core stream of the same rows into the csv module, run beside it (`core_csv`, always
run with csv); XLSX at least 3x faster than before issue 17: `--before DIR` runs each format
again with the code of another checkout (e.g. an exported copy of an older commit, whose
bench/bench_export.py has the same `--one`), in the same run, and prints the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select, text  # noqa: E402

from bot.config import Settings  # noqa: E402
from bot.db.engine import Database  # noqa: E402
from bot.db.migrate import upgrade  # noqa: E402
from bot.db.models import (  # noqa: E402
    City,
    ExchangeKind,
    ExchangeMessage,
    Official,
    OfficialStatus,
    Question,
    Topic,
)

OUT = ROOT / "bench" / "out"
TARGETS = {"csv": (30.0, 200.0)}
WORDS_AR = "كيف تستعدون للفيضانات في المدينة خطة الإنذار المبكر شكرا جزيلا على المساعدة".split()
WORDS_FR = (
    "nous avons mis en place un système d'alerte précoce pour les inondations à Gabès".split()
)
START = datetime(2025, 1, 1, tzinfo=UTC)
CHUNK = 20_000


def sentence(rnd: random.Random) -> str:
    words = WORDS_AR if rnd.random() < 0.4 else WORDS_FR
    return " ".join(rnd.choice(words) for _ in range(rnd.randint(8, 60)))


async def seed(url: str, rows: int) -> None:
    db = Database(url)
    try:
        await upgrade(db)
        async with db.transaction() as s:
            if (await s.scalar(select(func.count()).select_from(ExchangeMessage))) == rows:
                print(f"seed: reusing {rows} rows", file=sys.stderr)
                return
        if db.is_postgres:
            async with db.engine.begin() as conn:
                await conn.execute(
                    text(
                        "TRUNCATE exchange_message, routing, question, official_topic, official, "
                        "invite, topic, city RESTART IDENTITY CASCADE"
                    )
                )
        else:
            async with db.transaction() as s:
                for table in (
                    "exchange_message",
                    "routing",
                    "question",
                    "official_topic",
                    "official",
                    "invite",
                    "topic",
                    "city",
                ):
                    await s.execute(text(f"DELETE FROM {table}"))
        rnd = random.Random(42)
        zones = [
            "Africa/Tunis",
            "Europe/Rome",
            "Europe/Paris",
            "Africa/Nouakchott",
            "Europe/Madrid",
        ]
        began = time.perf_counter()
        async with db.transaction() as s:
            await s.execute(
                insert(City),
                [
                    {
                        "id": i,
                        "name": f"City {i} ‎مدينة",
                        "country": ["TN", "IT", "FR", "MR", "ES"][i % 5],
                        "timezone": zones[i % 5],
                        "languages": ["fr"],
                        "created_at": START,
                    }
                    for i in range(1, 501)
                ],
            )
            await s.execute(
                insert(Topic),
                [
                    {
                        "id": i,
                        "slug": f"topic-{i}",
                        "group": f"group-{i % 6}",
                        "names": {"en": f"Topic {i}"},
                        "group_names": {"en": f"Group {i % 6}"},
                        "position": i,
                    }
                    for i in range(1, 31)
                ],
            )
            await s.execute(
                insert(Official),
                [
                    {
                        "id": i,
                        "tg_user_id": 10_000 + i,
                        "chat_id": 10_000 + i,
                        "name": None if i % 97 == 0 else f"Official {i} سامي",
                        "position": "Civil protection",
                        "city_id": 1 + i % 500,
                        "locale": "fr",
                        "languages": ["fr"],
                        "role": "official",
                        "status": OfficialStatus.ERASED if i % 97 == 0 else OfficialStatus.ACTIVE,
                        "created_at": START,
                        "updated_at": START,
                    }
                    for i in range(1, 3001)
                ],
            )
        questions: list[dict[str, object]] = []
        messages: list[dict[str, object]] = []
        qid = mid = 0
        when = START

        async def flush(final: bool = False) -> None:
            nonlocal questions, messages
            if len(messages) < CHUNK and not final:
                return
            async with db.transaction() as s:
                if questions:
                    await s.execute(insert(Question), questions)
                if messages:
                    await s.execute(insert(ExchangeMessage), messages)
            questions, messages = [], []

        while mid < rows:
            qid += 1
            when += timedelta(seconds=rnd.randint(20, 60))
            asker = rnd.randint(1, 3000)
            asker_city = 1 + asker % 500
            questions.append(
                {
                    "id": qid,
                    "asker_id": asker,
                    "topic_id": rnd.randint(1, 30),
                    "city_id": asker_city,
                    "text": sentence(rnd),
                    "status": "answered",
                    "created_at": when,
                }
            )
            thread = [(ExchangeKind.QUESTION, asker, None)]
            peers = [rnd.randint(1, 3000) for _ in range(3)]
            thread += [(ExchangeKind.ROUTING, asker, p) for p in peers]
            thread += [(ExchangeKind.ANSWER, p, asker) for p in peers[: rnd.randint(0, 2)]]
            thread += [(ExchangeKind.FOLLOW_UP, asker, peers[0])] * rnd.randint(0, 2)
            thread.append((ExchangeKind.RESOLVED, asker, None))
            at = when
            for kind, sender, to in thread:
                if mid >= rows:
                    break
                mid += 1
                at += timedelta(seconds=rnd.randint(1, 3600))
                messages.append(
                    {
                        "id": mid,
                        "question_id": qid,
                        "kind": kind,
                        "created_at": at,
                        "from_official_id": sender,
                        "from_city_id": 1 + sender % 500,
                        "to_official_id": to,
                        "to_city_id": 1 + to % 500 if to else None,
                        "text": None if kind == ExchangeKind.ROUTING else sentence(rnd),
                    }
                )
            await flush()
        await flush(final=True)
        if db.is_postgres:
            async with db.engine.begin() as conn:
                await conn.execute(text("ANALYZE"))
        print(f"seed: {rows} rows in {time.perf_counter() - began:.1f} s", file=sys.stderr)
    finally:
        await db.dispose()


async def core_csv(url: str) -> dict[str, float]:
    """The baseline: the same rows (the export's query: the message, its question, what it
    went out as and an answer's rating) streamed by SQLAlchemy Core into the csv module,
    nothing else (no names, cities, local times; no parts, no zip)."""
    import csv

    from bot.db.exchange_stats import ExportFilter, export_query

    query = export_query(ExportFilter(), None)  # no filter: every exported message
    db = Database(url)
    rows = 0
    try:
        with tempfile.TemporaryDirectory(prefix="bench-export-", dir=OUT) as tmp:
            path = Path(tmp) / "core.csv"
            began = time.perf_counter()
            async with db.engine.connect() as conn:
                result = await conn.stream(query.execution_options(yield_per=5000))
                with path.open("w", newline="", encoding="utf-8") as out:
                    writer = csv.writer(out)
                    async for part in result.partitions():
                        writer.writerows(part)
                        rows += len(part)
            seconds = time.perf_counter() - began
            size = path.stat().st_size
    finally:
        await db.dispose()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "rows": rows,
        "seconds": seconds,
        "peak_mb": peak,
        "base_mb": 0.0,
        "files": 1,
        "bytes": size,
    }


async def export_once(url: str, fmt: str) -> dict[str, float]:
    if fmt == "core_csv":
        return await core_csv(url)
    from bot.clock import SystemClock
    from bot.exporters import write_export
    from bot.runtime import Deps
    from bot.services import reports

    settings = Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]
    deps = Deps(settings=settings, db=Database(url), clock=SystemClock())
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    try:
        with tempfile.TemporaryDirectory(prefix="bench-export-", dir=OUT) as tmp:
            began = time.perf_counter()
            result = await write_export(
                reports.export_rows(deps, reports.ExportFilter()),
                fmt,
                Path(tmp),
                "exchanges",
                reports.COLUMNS,
                part_limit=settings.export_upload_limit_bytes,
                compress_at=settings.export_compress_bytes,
                datetime_columns=reports.DATETIME_COLUMNS,
                text_columns=reports.TEXT_COLUMNS,
            )
            seconds = time.perf_counter() - began
            size = sum(f.path.stat().st_size for f in result.files)
    finally:
        await deps.db.dispose()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "rows": result.rows,
        "seconds": seconds,
        "peak_mb": peak,
        "base_mb": base_rss,
        "files": len(result.files),
        "bytes": size,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--db", default=f"sqlite+aiosqlite:///{OUT / 'bench_export.db'}")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--formats", default="csv,jsonl,xlsx")
    parser.add_argument("--before", help="another checkout to run each format with, too")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    if args.one:
        print(json.dumps(asyncio.run(export_once(args.db, args.one))))
        return
    asyncio.run(seed(args.db, args.rows))
    backend = "postgresql" if args.db.startswith("postgresql") else "sqlite"
    formats = args.formats.split(",")
    if "csv" in formats and "core_csv" not in formats:
        formats.insert(formats.index("csv") + 1, "core_csv")
    runs: list[tuple[str, str, Path]] = []
    for fmt in formats:
        runs.append((fmt, "", Path(__file__)))
        if args.before and fmt != "core_csv":
            runs.append((fmt, "_before", Path(args.before) / "bench" / "bench_export.py"))
    seconds: dict[str, float] = {}
    for fmt, tag, script in runs:
        done = subprocess.run(
            [sys.executable, str(script), "--db", args.db, "--one", fmt],
            check=True,
            capture_output=True,
            text=True,
        )
        r = json.loads(done.stdout.strip().splitlines()[-1])
        seconds[fmt + tag] = r["seconds"]
        rate = r["rows"] / r["seconds"]
        print(
            f"# {fmt}{tag} {backend}: {r['rows']} rows, {r['files']} file(s), "
            f"{r['bytes'] / 1e6:.1f} MB on disk, {rate:,.0f} rows/s, "
            f"process rss before export {r['base_mb']:.0f} MB"
        )
        secs_target, mem_target = TARGETS.get(fmt, (None, 200.0))
        ratio = f", {r['seconds'] / secs_target:.2f}x" if secs_target else ""
        print(f"export_{fmt}{tag}_{backend}_seconds: {r['seconds']:.1f} s{ratio}")
        print(
            f"export_{fmt}{tag}_{backend}_peak_rss: {r['peak_mb']:.0f} MB, "
            f"{r['peak_mb'] / mem_target:.2f}x"
        )
    if "csv" in seconds and "core_csv" in seconds:
        print(
            f"export_csv_vs_core_{backend}: {seconds['csv']:.1f} s vs {seconds['core_csv']:.1f} s"
            f", ratio {seconds['csv'] / seconds['core_csv']:.2f}x (target 1.5x)"
        )
    for fmt in formats:
        if fmt + "_before" in seconds:
            print(
                f"export_{fmt}_vs_before_{backend}: {seconds[fmt]:.1f} s vs "
                f"{seconds[fmt + '_before']:.1f} s, ratio "
                f"{seconds[fmt + '_before'] / seconds[fmt]:.2f}x faster"
                + (" (target 3x)" if fmt == "xlsx" else "")
            )


if __name__ == "__main__":
    main()
