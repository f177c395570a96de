"""Broadcast to 10,000 officials through a fake Bot API with a strict limit; print the figures.

    .venv/bin/python -m bench.bench_broadcast [--officials 10000] [--limit 1000]
        [--database-url postgresql+asyncpg://...]   (default: a fresh SQLite file)
        [--shared]   (PostgreSQL: the send limit shared by replicas through the database)
    .venv/bin/python -m bench.bench_broadcast --faults [--officials 80] [--limit 30]

Goes the whole way a real broadcast goes: the organiser's draft is confirmed by the service
(one transaction writes the broadcast and its delivery rows), then the outbox sender claims,
sends with copyMessage over HTTP (its aiohttp transport) and records. Prints the achieved
rate as a fraction of the limit, 429s received, lost and duplicated messages, and peak memory.

`--translate` (issue 14): the officials read five languages (a fifth each), the organiser
writes in French and every official takes machine translation: the draft is translated into
the four other languages (the fake LibreTranslate server answering in 50 ms) before the
broadcast is written, then four fifths of the rows go out as the translation with the original
below (sendMessage) and a fifth as the copy. Prints the translation time and the rate.

`--faults` (issue 13): the first send to one recipient in ten fails, half of them with a 502
at once and half with no answer for 6 s (the connection then drops). The sender passes again
and again, as the scheduler runs it, until every row is done; the figure is the rate of
delivered messages while the first pass went on (until every recipient had been tried once),
as a fraction of the limit: slow failures must not hold the other sends back.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import resource
import socket
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from sqlalchemy import func, insert, select, text
from telegram import Bot

from bench.fake_bot_api import HANG_SECONDS, serve
from bot.clock import SystemClock
from bot.config import Settings
from bot.db.engine import Database
from bot.db.migrate import upgrade
from bot.db.models import City, Delivery, DeliveryStatus, Official, OfficialStatus, Role
from bot.i18n import load_catalogs
from bot.runtime import Deps
from bot.services import broadcast_compose
from bot.services.broadcast_translation import BroadcastWords, translate_draft
from bot.telegram_io.sender import Sender
from bot.telegram_io.shared_pace import SharedPace
from bot.telegram_io.transport import AiohttpRequest
from bot.translation.libretranslate import LibreTranslate
from handlers.translation_render import broadcast_words
from tests.harness.fake_translator import FakeTranslator

TOKEN = "123456789:BENCH-token-abcdefghijklmnopqrstuvwxyz0123"
ORGANISER_TG = 5_000_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


LANGUAGES = ("fr", "ar", "it", "es", "en")
DRAFT = "Exercice régional d'évacuation vendredi à dix heures : rendez-vous devant la mairie."


async def seed(db: Database, officials: int, translate: bool = False) -> None:
    now = datetime.now(UTC)
    async with db.transaction() as s:
        city = City(
            name="Gabès",
            country="TN",
            timezone="Africa/Tunis",
            languages=["ar", "fr"],
            created_at=now,
        )
        s.add(city)
        await s.flush()
        s.add(
            Official(
                tg_user_id=ORGANISER_TG,
                chat_id=ORGANISER_TG,
                name="Organiser",
                city_id=city.id,
                locale="fr",
                role=Role.ORGANISER,
                status=OfficialStatus.ACTIVE,
                created_at=now,
                updated_at=now,
            )
        )
        rows = [
            {
                "tg_user_id": 10_000_000 + i,
                "chat_id": 10_000_000 + i,
                "name": f"Official {i}",
                "city_id": city.id,
                "locale": LANGUAGES[i % len(LANGUAGES)] if translate else "fr",
                "locale_chosen": False,
                "languages": ["fr"],
                "role": Role.OFFICIAL,
                "status": OfficialStatus.ACTIVE,
                "digest_opt_in": False,
                "created_at": now,
                "updated_at": now,
            }
            for i in range(officials)
        ]
        for start in range(0, len(rows), 1000):
            await s.execute(insert(Official), rows[start : start + 1000])


async def reset_pg(url: str) -> None:
    db = Database(url)
    try:
        async with db.engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    finally:
        await db.dispose()


def faulty(officials: int) -> tuple[list[int], list[int]]:
    """(chats whose first send answers 502, chats whose first send hangs): 5% each."""
    chats = [10_000_000 + i for i in range(officials)]
    return chats[0::20], chats[10::20]


async def pending_rows(db: Database) -> int:
    async with db.transaction() as s:
        return int(
            await s.scalar(
                select(func.count())
                .select_from(Delivery)
                .where(Delivery.status == DeliveryStatus.PENDING)
            )
            or 0
        )


def fault_figures(sends: list[tuple[int, float, bool]], limit: int, officials: int) -> None:
    """The first pass (until every recipient was tried once) and the whole broadcast."""
    interval = 1.0 / limit  # n sends at exactly the limit span n-1 intervals: count one more
    first_try: dict[int, float] = {}
    for chat, at, _ok in sends:
        first_try.setdefault(chat, at)
    start, end = min(first_try.values()), max(first_try.values())
    span = end - start + interval
    delivered = [at for _chat, at, ok in sends if ok]
    early = sum(1 for at in delivered if at <= end)
    whole = max(delivered) - start + interval
    print(
        f"first pass: {len(first_try)} recipients tried in {span:.2f} s, "
        f"{len(first_try) / span:.1f} tries/s, {early / span:.1f} delivered/s; "
        f"whole broadcast: {len(delivered)} delivered in {whole:.2f} s "
        f"({len(delivered) / whole:.1f} msg/s), {len(sends)} sends"
    )
    rate = early / span
    print(
        f"bench_broadcast_faults: {rate:.1f} msg/s delivered in the first pass, "
        f"ratio {rate / limit:.3f}x (10% of first sends failing, half after {HANG_SECONDS:.0f} s)"
    )


async def translated(deps: Deps) -> dict[str, BroadcastWords]:
    """The draft translated as the handler does it before confirming, through the fake
    LibreTranslate server (in this process, answering in 50 ms)."""
    load_catalogs()
    async with FakeTranslator(delay=0.05) as fake:
        deps.translator = LibreTranslate(fake.url)
        try:
            words = broadcast_words(await translate_draft(deps, ORGANISER_TG))
        finally:
            await deps.translator.close()
            deps.translator = None
    assert len(fake.translations()) == len(LANGUAGES) - 1, "once per language"
    return words


async def run(args: argparse.Namespace, translate: bool = False) -> float:
    port = free_port()
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    failing, hanging = faulty(args.officials) if args.faults else ([], [])
    server = ctx.Process(
        target=serve, args=(port, args.limit, ready, failing, hanging), daemon=True
    )
    server.start()
    ready.wait(30)
    base = f"http://127.0.0.1:{port}"
    tmp = tempfile.TemporaryDirectory()
    url = args.database_url or f"sqlite+aiosqlite:///{Path(tmp.name) / 'bench.db'}"
    if url.startswith("postgresql"):
        await reset_pg(url)
    settings = Settings(
        _env_file=None,
        telegram_bot_token=TOKEN,
        database_url=url,  # type: ignore[call-arg]
        telegram_api_base_url=base,
        send_rate_per_second=float(args.limit),
        send_rate_per_chat_per_second=1.0,
        **({"send_concurrency": args.concurrency} if args.concurrency else {}),
    )
    db = Database(url)
    deps = Deps(settings=settings, db=db, clock=SystemClock())
    try:
        await upgrade(db)
        await seed(db, args.officials, args.translate)

        t0 = time.perf_counter()
        await broadcast_compose.begin(deps, ORGANISER_TG)
        await broadcast_compose.set_message(deps, ORGANISER_TG, ORGANISER_TG, 1, DRAFT)
        words = await translated(deps) if translate else {}
        translate_seconds = time.perf_counter() - t0
        created = await broadcast_compose.confirm(deps, ORGANISER_TG, scheduled=False, words=words)
        confirm_seconds = time.perf_counter() - t0 - translate_seconds

        bot = Bot(
            TOKEN,
            base_url=settings.api_base,
            request=AiohttpRequest(connections=max(8, settings.send_max_in_flight)),
        )
        await bot.initialize()
        sender = Sender(deps, bot)
        if args.shared:  # as a replica on PostgreSQL runs it (issue 17)
            sender.use_shared(
                SharedPace(deps, sender.pacer, sender.timer, settings.send_window_margin_seconds)
            )
        t1 = time.perf_counter()
        stats = await sender.run_once()
        while args.faults and await pending_rows(db):  # retries, as the scheduler's next runs
            await asyncio.sleep(settings.send_poll_seconds)
            more = await sender.run_once()
            stats.sent += more.sent
            stats.rate_limited += more.rate_limited
        send_seconds = time.perf_counter() - t1
        await bot.shutdown()

        async with aiohttp.ClientSession() as http, http.get(f"{base}/stats") as resp:
            server_stats = json.loads(await resp.text())
        async with db.transaction() as s:
            recorded = await s.scalar(
                select(func.count())
                .select_from(Delivery)
                .where(Delivery.status == DeliveryStatus.SENT)
            )
    finally:
        await db.dispose()
        server.terminate()
        tmp.cleanup()

    received = {int(k): v for k, v in server_stats["received"].items()}
    expected = {10_000_000 + i for i in range(args.officials)}
    lost = len(expected - received.keys())
    duplicated = sum(n - 1 for n in received.values() if n > 1)
    rate = created.total / send_seconds
    server_rate = (
        (sum(received.values()) - 1) / server_stats["span"] if server_stats["span"] else 0.0
    )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    backend = url.split("+", 1)[0]
    print(
        f"database: {backend}, officials: {args.officials}, limit: {args.limit} msg/s, "
        f"concurrency: {settings.send_concurrency}"
    )
    if translate:
        print(
            f"translation into {len(words)} languages before the broadcast is written "
            f"(fake translator answering in 50 ms): {translate_seconds:.2f} s"
        )
    print(
        f"confirm (broadcast + {created.total} delivery rows in one transaction): "
        f"{confirm_seconds:.2f} s"
    )
    print(
        f"sent: {stats.sent} in {send_seconds:.2f} s; recorded as sent: {recorded}; "
        f"server-side rate first→last: {server_rate:.0f} msg/s"
    )
    print(
        f"429s received: {server_stats['rate_limited']} (sender saw {stats.rate_limited}), "
        f"lost: {lost}, duplicated: {duplicated}, peak memory: {peak_mb:.0f} MB"
    )
    if args.faults:
        fault_figures(server_stats["sends"], args.limit, args.officials)
    elif translate:
        print(
            f"bench_broadcast_translated: {rate:.0f} msg/s, ratio {rate / args.limit:.3f}x "
            f"(translated into {len(words)} languages)"
        )
    elif args.translate:
        print(f"bench_broadcast_untranslated: {rate:.0f} msg/s, ratio {rate / args.limit:.3f}x")
    else:
        print(f"bench_broadcast: {rate:.0f} msg/s, ratio {rate / args.limit:.3f}x")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--faults", action="store_true", help="10%% of first sends fail")
    parser.add_argument("--officials", type=int, default=None, help="10,000; 80 with --faults")
    parser.add_argument("--limit", type=int, default=None, help="1,000; 30 with --faults")
    parser.add_argument("--translate", action="store_true", help="five languages, translated")
    parser.add_argument("--concurrency", type=int, default=None, help="SEND_CONCURRENCY")
    parser.add_argument("--database-url", default=None)
    parser.add_argument(
        "--shared", action="store_true", help="PostgreSQL: slots from the database (replicas)"
    )
    args = parser.parse_args()
    args.officials = args.officials or (80 if args.faults else 10_000)
    args.limit = args.limit or (30 if args.faults else 1_000)
    if not args.translate:
        asyncio.run(run(args))
        return
    # The same five-language audience, first as it was before translation, then translated.
    before = asyncio.run(run(args))
    after = asyncio.run(run(args, translate=True))
    print(f"bench_broadcast_translation_cost: ratio {after / before:.3f}x the untranslated rate")


if __name__ == "__main__":
    main()
