"""Benchmark of the exchange path: routing a question and relaying an answer.

Seeds 500 cities, 10,000 officials, 40 topics, 100,000 questions (300,000 routing rows) and
1,000,000 exchange messages, on SQLite and (when reachable) PostgreSQL, then prints:

- the p50/p99 time of `route_round` (gather candidates, rank, write routing rows);
- the p50/p99 time of relaying an answer in the services (thread lookup by the replied
  message among 1,000,000 log rows, plus writing the log row), without Telegram;
- updates/s of the relay path through the in-process harness (a Telegram reply to a
  delivered question: identity, lookup, copy to the asker, log, confirmation), next to a
  bare python-telegram-bot echo bot driven the same way in the same run, and the ratio.
  Both are fed alike: the same replies, each from a different person, built with the
  harness (Update.de_json) and handed to the application's update processor (our
  PerUserUpdateProcessor, CONCURRENT_UPDATES at once) as polling would, answered by the
  same in-process RecordingRequest; the clock runs from the first update to the last done.
  Both are warmed up, start-up objects are frozen out of the collector (as bot/app.py does
  after start), then both are fed alternately in rounds (different replies each round, a
  second of quiet before each); the figures printed are the medians over the rounds.

Run by hand (not in CI); it never asserts a time:
    .venv/bin/python -m bench.bench_exchange [--pg-url postgresql+asyncpg://...] [--small]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, text
from telegram import Update
from telegram.ext import ApplicationBuilder, MessageHandler, filters

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.app import build_application, freeze_startup_objects  # noqa: E402
from bot.clock import FakeClock  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.db import routing_stats  # noqa: E402
from bot.db.engine import Database  # noqa: E402
from bot.db.migrate import upgrade  # noqa: E402
from bot.db.models import (  # noqa: E402
    City,
    ExchangeKind,
    ExchangeMessage,
    Official,
    OfficialStatus,
    OfficialTopic,
    Question,
    QuestionStatus,
    Routing,
    RoutingStatus,
    Topic,
)
from bot.i18n import load_catalogs  # noqa: E402
from bot.runtime import Deps  # noqa: E402
from bot.services.exchange import answering, types  # noqa: E402
from bot.services.routing import gather_candidates, route_round  # noqa: E402
from bot.telegram_io.update_order import PerUserUpdateProcessor  # noqa: E402
from tests.harness.telegram import RecordingRequest  # noqa: E402
from tests.harness.updates import Harness, TgUser  # noqa: E402

TOKEN = "123456789:BENCH-token-abcdefghijklmnopqrstuvwxyz012"
LANGS = ("ar", "fr", "en", "it", "es")
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
TG_BASE = 5_000_000
QUIET_S = 1.0  # between timed rounds


class Scale:
    def __init__(self, small: bool) -> None:
        self.cities = 50 if small else 500
        self.officials = 1_000 if small else 10_000
        self.topics = 40
        self.messages = 100_000 if small else 1_000_000
        self.per_question = 10  # 1 question + 3 routings + 6 answers and follow-ups
        self.questions = self.messages // self.per_question


def say(msg: str) -> None:
    print(msg, flush=True)


async def _insert(conn: Any, table: Any, rows: list[dict[str, Any]], chunk: int = 20_000) -> None:
    for i in range(0, len(rows), chunk):
        await conn.execute(insert(table), rows[i : i + chunk])


async def seed(db: Database, scale: Scale) -> None:
    rnd = random.Random(42)
    t0 = time.perf_counter()
    async with db.engine.begin() as conn:
        await _insert(
            conn,
            City.__table__,
            [
                {
                    "id": i,
                    "name": f"City {i:04d}",
                    "country": rnd.choice(["TN", "IT", "FR", "MR", "ES"]),
                    "timezone": "UTC",
                    "languages": rnd.sample(LANGS, rnd.randint(1, 2)),
                    "created_at": NOW,
                }
                for i in range(1, scale.cities + 1)
            ],
        )
        await _insert(
            conn,
            Topic.__table__,
            [
                {
                    "id": i,
                    "slug": f"topic-{i:02d}",
                    "group": f"group-{i % 5}",
                    "names": {"en": f"Topic {i}"},
                    "group_names": {"en": f"Group {i % 5}"},
                    "position": i,
                }
                for i in range(1, scale.topics + 1)
            ],
        )
        officials, links = [], []
        covering: dict[int, list[tuple[int, int]]] = {t: [] for t in range(1, scale.topics + 1)}
        city_of: dict[int, int] = {}
        for i in range(1, scale.officials + 1):
            status = OfficialStatus.ACTIVE
            if i % 50 == 0:
                status = OfficialStatus.UNREACHABLE
            elif i % 97 == 0:
                status = OfficialStatus.PENDING
            city = (i - 1) % scale.cities + 1
            city_of[i] = city
            officials.append(
                {
                    "id": i,
                    "tg_user_id": TG_BASE + i,
                    "chat_id": TG_BASE + i,
                    "name": f"Official {i}",
                    "position": "Civil protection",
                    "city_id": city,
                    "locale": "en",
                    "locale_chosen": False,
                    "languages": rnd.sample(LANGS, rnd.randint(1, 3)),
                    "role": "official",
                    "status": status,
                    "digest_opt_in": False,
                    "created_at": NOW,
                    "updated_at": NOW,
                }
            )
            for t in rnd.sample(range(1, scale.topics + 1), 3):
                links.append({"official_id": i, "topic_id": t})
                if status == OfficialStatus.ACTIVE:
                    covering[t].append((i, city))
        await _insert(conn, Official.__table__, officials)
        await _insert(conn, OfficialTopic.__table__, links)
    say(
        f"seed: {scale.cities} cities, {scale.officials} officials, {len(links)} topic links "
        f"({time.perf_counter() - t0:.1f} s)"
    )

    message_no = 0
    routing_id = 0
    exchange_id = 0
    batch_q = 5_000
    for start in range(1, scale.questions + 1, batch_q):
        questions, routings, log = [], [], []
        for qid in range(start, min(start + batch_q, scale.questions + 1)):
            asker = rnd.randint(1, scale.officials)
            topic = rnd.randint(1, scale.topics)
            created = NOW - timedelta(days=rnd.uniform(0, 730))
            is_open = rnd.random() < 0.02
            status = QuestionStatus.OPEN if is_open else QuestionStatus.RESOLVED
            questions.append(
                {
                    "id": qid,
                    "asker_id": asker,
                    "topic_id": topic,
                    "city_id": city_of[asker],
                    "text": "How do you keep sirens working during power cuts?",
                    "content_type": "text",
                    "source_chat_id": TG_BASE + asker,
                    "source_message_id": qid,
                    "status": status,
                    "round": 1,
                    "created_at": created,
                }
            )
            exchange_id += 1
            log.append(
                _log(
                    exchange_id,
                    qid,
                    asker,
                    None,
                    city_of[asker],
                    None,
                    ExchangeKind.QUESTION,
                    created,
                    None,
                    None,
                )
            )
            pool = [
                p
                for p in rnd.sample(covering[topic], min(12, len(covering[topic])))
                if p[1] != city_of[asker]
            ]
            chosen: list[tuple[int, int]] = []
            for person, city in pool:
                if all(c != city for _p, c in chosen):
                    chosen.append((person, city))
                if len(chosen) == 3:
                    break
            answerer = None
            for person, city in chosen:
                routing_id += 1
                delivered = created + timedelta(minutes=1)
                answered = None
                r_status = RoutingStatus.DELIVERED
                roll = rnd.random()
                if roll < 0.6 and not is_open:
                    answered = delivered + timedelta(hours=rnd.expovariate(1 / 6))
                    r_status = RoutingStatus.ANSWERED
                    answerer = answerer or person
                elif roll < 0.7:
                    r_status = RoutingStatus.DECLINED
                elif not is_open:
                    r_status = RoutingStatus.CLOSED  # resolved before this one answered
                routings.append(
                    {
                        "id": routing_id,
                        "question_id": qid,
                        "recipient_id": person,
                        "city_id": city,
                        "topic_id": topic,
                        "score": 1.0,
                        "reason": "seeded",
                        "round": 1,
                        "status": r_status,
                        "delivered_at": delivered,
                        "answered_at": answered,
                        "created_at": delivered,
                        "delivered_message_id": None,
                    }
                )
                message_no += 1
                exchange_id += 1
                log.append(
                    _log(
                        exchange_id,
                        qid,
                        asker,
                        person,
                        city_of[asker],
                        city,
                        ExchangeKind.ROUTING,
                        delivered,
                        TG_BASE + person,
                        message_no,
                    )
                )
            if answerer is None and chosen:
                answerer = chosen[0][0]
            pair = (answerer, asker)
            for k in range(scale.per_question - 1 - len(chosen)):
                frm, to = pair if k % 2 == 0 else pair[::-1]
                if frm is None:
                    break
                message_no += 1
                exchange_id += 1
                log.append(
                    _log(
                        exchange_id,
                        qid,
                        frm,
                        to,
                        city_of[frm],
                        city_of[to],
                        ExchangeKind.ANSWER if k == 0 else ExchangeKind.FOLLOW_UP,
                        created + timedelta(hours=k + 1),
                        TG_BASE + to,
                        message_no,
                    )
                )
        async with db.engine.begin() as conn:
            await _insert(conn, Question.__table__, questions)
            await _insert(conn, Routing.__table__, routings)
            await _insert(conn, ExchangeMessage.__table__, log)
        if (start - 1) % (batch_q * 4) == 0:
            say(f"seed: {exchange_id:,} exchange messages ({time.perf_counter() - t0:.0f} s)")
    async with db.transaction() as s:
        await routing_stats.rebuild(s)  # as migration 0107's backfill does for existing rows
    if db.is_postgres:
        async with db.engine.begin() as conn:
            for table in ("city", "topic", "official", "question", "routing", "exchange_message"):
                await conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"
                    )
                )
        # As autovacuum would have by then: statistics, and a visibility map for index-only scans.
        async with db.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE"))
    else:
        async with db.engine.begin() as conn:
            await conn.execute(text("ANALYZE"))
    say(
        f"seed: done, {exchange_id:,} exchange messages, {routing_id:,} routing rows "
        f"({time.perf_counter() - t0:.0f} s)"
    )


def _log(
    eid: int,
    qid: int,
    frm: int | None,
    to: int | None,
    from_city: int | None,
    to_city: int | None,
    kind: str,
    when: datetime,
    chat: int | None,
    mid: int | None,
) -> dict[str, Any]:
    return {
        "id": eid,
        "question_id": qid,
        "from_official_id": frm,
        "to_official_id": to,
        "from_city_id": from_city,
        "to_city_id": to_city,
        "kind": kind,
        "text": None,
        "content_type": "text",
        "original_chat_id": None,
        "original_message_id": None,
        "delivered_chat_id": chat,
        "delivered_message_id": mid,
        "created_at": when,
    }


def pct(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def bench_routing(deps: Deps, scale: Scale, samples: int) -> tuple[list[float], list[float]]:
    """Times of route_round (query, ranking and writes) and of its candidate query alone."""
    rnd = random.Random(7)
    async with deps.db.transaction() as s:
        askers = (
            await s.scalars(select(Official.id).where(Official.status == OfficialStatus.ACTIVE))
        ).all()
    times, query_times = [], []
    for _ in range(samples):
        asker = rnd.choice(askers)
        async with deps.db.transaction() as s:
            official = await s.get(Official, asker)
            assert official is not None
            q = Question(
                asker_id=asker,
                topic_id=rnd.randint(1, scale.topics),
                city_id=official.city_id,
                text="bench",
                content_type="text",
                status=QuestionStatus.OPEN,
                round=1,
                created_at=deps.clock.now(),
            )
            s.add(q)
            await s.flush()
            t = time.perf_counter()
            # As route_round calls it: the load is read for the cities still in contention.
            await gather_candidates(
                s,
                q.topic_id,
                [official.city_id or 0],
                deps.clock.now(),
                set(official.languages or []) | {official.locale},
                deps.settings.route_top_k,
            )
            query_times.append(time.perf_counter() - t)
            t = time.perf_counter()
            await route_round(s, deps, q, 1)
            times.append(time.perf_counter() - t)
    return times, query_times


async def relay_targets(db: Database, count: int) -> list[tuple[int, int]]:
    """(recipient chat, delivered message id) of questions delivered to active officials."""
    async with db.transaction() as s:
        rows = (
            await s.execute(
                select(ExchangeMessage.delivered_chat_id, ExchangeMessage.delivered_message_id)
                .join(Question, Question.id == ExchangeMessage.question_id)
                .join(Official, Official.id == ExchangeMessage.to_official_id)
                .where(
                    ExchangeMessage.kind == ExchangeKind.ROUTING,
                    Question.status == QuestionStatus.OPEN,
                    ExchangeMessage.delivered_message_id.is_not(None),
                    Official.status == OfficialStatus.ACTIVE,
                    Question.asker_id.in_(
                        select(Official.id).where(Official.status == OfficialStatus.ACTIVE)
                    ),
                )
                .limit(count)
            )
        ).all()
    return [(int(c), int(m)) for c, m in rows]


async def bench_relay_service(deps: Deps, targets: list[tuple[int, int]]) -> list[float]:
    times = []
    for chat, mid in targets:
        t = time.perf_counter()
        content = types.Content("text", "We keep batteries in every siren.", chat, 10**9 + mid)
        outgoing = await answering.prepare_relay(deps, chat, content, replied=(chat, mid))
        await answering.record_relay(deps, chat, types.Sent(outgoing, 10**9 + mid))
        times.append(time.perf_counter() - t)
    return times


async def drive(
    app: Any,
    tg: RecordingRequest,
    targets: list[tuple[int, int]],
) -> float:
    """Feed one reply per target (each from its own person) as polling would: every update goes
    through the application's update processor, so different people are handled concurrently."""
    h = Harness(app, tg)
    processor = app.update_processor
    t = time.perf_counter()
    tasks = []
    for chat, mid in targets:
        update = h.update(
            {
                "message": h.message_dict(
                    TgUser(chat), "We keep batteries in every siren.", reply_to=mid
                )
            }
        )
        tasks.append(
            asyncio.create_task(processor.process_update(update, app.process_update(update)))
        )
        await asyncio.sleep(0)  # let it start, as updates arriving one by one would
    await asyncio.gather(*tasks)
    return len(targets) / (time.perf_counter() - t)


async def bench_throughput(
    deps: Deps, warmup: list[tuple[int, int]], rounds: list[list[tuple[int, int]]]
) -> list[tuple[float, float]]:
    """(relay, echo) updates/s per round. Both applications are warmed up first (connections
    opened, statements prepared), then fed alternately, round after round, so a passing
    disturbance of the machine weighs on one round of each, not on one side."""
    tg = RecordingRequest()
    app = build_application(deps, request=tg, get_updates_request=tg, background=False)
    echo_tg = RecordingRequest()
    echo = (
        ApplicationBuilder()
        .token(TOKEN)
        .request(echo_tg)
        .get_updates_request(echo_tg)
        .concurrent_updates(PerUserUpdateProcessor(deps.settings.concurrent_updates))
        .build()
    )

    async def echo_back(update: Update, _context: Any) -> None:
        assert update.effective_chat is not None and update.effective_message is not None
        await update.effective_chat.send_message(update.effective_message.text or "")

    echo.add_handler(MessageHandler(filters.TEXT, echo_back))
    await app.initialize()
    await echo.initialize()
    try:
        await drive(app, tg, warmup)
        await drive(echo, echo_tg, warmup)
        freeze_startup_objects()  # as the bot's start-up does (bot/app.py), for both alike
        rates = []
        for targets in rounds:
            # Each round starts on a quiet machine: work the previous round left to the
            # database server (WAL writes, autovacuum after the relays' inserts) is not charged
            # to the next round, which would favour the relay path whose writes cause it.
            await asyncio.sleep(QUIET_S)
            before = len(tg.of("sendMessage"))
            relay_rate = await drive(app, tg, targets)
            relayed = (
                len(tg.of("sendMessage")) - before
            ) // 2  # each: the copy and the confirmation
            if relayed < len(targets) * 0.9:
                say(
                    f"warning: only {relayed} of {len(targets)} replies were relayed\n"
                    + tg.transcript()[-2000:]
                )
            await asyncio.sleep(QUIET_S)
            rates.append((relay_rate, await drive(echo, echo_tg, targets)))
        return rates
    finally:
        await app.shutdown()
        await echo.shutdown()


async def run(label: str, url: str, scale: Scale, samples: int, relays: int, rounds: int) -> None:
    say(f"== {label} ==")
    db = Database(url)
    if db.is_postgres:
        async with db.engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    await upgrade(db)
    await seed(db, scale)
    settings = Settings(
        _env_file=None,
        telegram_bot_token=TOKEN,
        database_url=url,  # type: ignore[call-arg]
        ask_rate_limit_per_hour=10**6,
    )
    deps = Deps(settings=settings, db=db, clock=FakeClock(NOW))

    routing, query = await bench_routing(deps, scale, samples)
    say(
        f"{label} routing: p50 {pct(routing, 50) * 1000:.2f} ms, "
        f"p99 {pct(routing, 99) * 1000:.2f} ms "
        f"over {len(routing)} questions (target p99 < 20 ms)"
    )
    say(
        f"{label} routing_query: p50 {pct(query, 50) * 1000:.2f} ms, "
        f"p99 {pct(query, 99) * 1000:.2f} ms "
        f"(the candidate query alone)"
    )

    warmup = relays // 5
    targets = await relay_targets(db, samples + warmup + relays * rounds)
    service = await bench_relay_service(deps, targets[:samples])
    say(
        f"{label} relay service: p50 {pct(service, 50) * 1000:.2f} ms, "
        f"p99 {pct(service, 99) * 1000:.2f} ms over {len(service)} answers"
    )

    rest = targets[samples + warmup :]
    relays = min(relays, len(rest) // rounds)  # --small has fewer open questions
    rates = await bench_throughput(
        deps,
        targets[samples : samples + warmup],
        [rest[i * relays : (i + 1) * relays] for i in range(rounds)],
    )
    for i, (relay_rate, echo_rate) in enumerate(rates, 1):
        say(
            f"{label} round {i}: relay {relay_rate:.0f} updates/s, echo {echo_rate:.0f} updates/s, "
            f"ratio {relay_rate / echo_rate:.2f}"
        )
    relay_rate = statistics.median(r for r, _e in rates)
    echo_rate = statistics.median(e for _r, e in rates)
    ratio = statistics.median(r / e for r, e in rates)
    say(
        f"{label} relay_throughput: {relay_rate:.0f} updates/s, "
        f"bare echo bot {echo_rate:.0f} updates/s "
        f"(medians of {len(rates)} rounds of {relays}), "
        f"ratio {ratio:.2f} x (median; target >= 0.15)"
    )
    await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite-path", default=None, help="file to seed (default: a temp file)")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("BENCH_POSTGRES_URL"),
        help="PostgreSQL URL to DROP and seed (default: $BENCH_POSTGRES_URL)",
    )
    parser.add_argument(
        "--small", action="store_true", help="a tenth of the data, for a quick look"
    )
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--relays", type=int, default=500, help="replies per round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    load_catalogs()
    scale = Scale(args.small)

    tmp = tempfile.TemporaryDirectory()
    path = Path(args.sqlite_path or Path(tmp.name) / "bench.db")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)

    async def all_runs() -> None:
        await run(
            "sqlite", f"sqlite+aiosqlite:///{path}", scale, args.samples, args.relays, args.rounds
        )
        if args.pg_url:
            if await _reachable(args.pg_url):
                await run("postgresql", args.pg_url, scale, args.samples, args.relays, args.rounds)
            else:
                say("postgresql: not reachable, skipped")

    try:
        asyncio.run(all_runs())
    finally:
        tmp.cleanup()


async def _reachable(url: str) -> bool:
    db = Database(url)
    try:
        async with db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
    finally:
        await db.dispose()


if __name__ == "__main__":
    main()
