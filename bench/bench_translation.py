"""What machine translation adds to a relayed message: the whole relay path (a Telegram reply
from an Italian official relayed to an Arabic one: lookup, translation, send, log), timed per
message with translation off and on in the same run, against the fake LibreTranslate server
answering in 50 ms, every text new (nothing stored yet) and then every text already stored.

    .venv/bin/python -m bench.bench_translation [--relays 200] [--delay 0.05]
        [--database-url postgresql+asyncpg://...]   (default: a fresh SQLite file)

The broadcast side (every language translated before sending starts, then the sender at the
limit): `python -m bench.bench_broadcast --translate`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bot.app import build_application
from bot.clock import SystemClock
from bot.config import Settings
from bot.db.engine import Database
from bot.db.migrate import upgrade
from bot.i18n import load_catalogs
from bot.runtime import Deps
from bot.translation.detect import warm_up
from bot.translation.libretranslate import LibreTranslate
from tests.factories import make_city, make_official, make_topic
from tests.harness.fake_translator import FakeTranslator
from tests.harness.telegram import RecordingRequest
from tests.harness.updates import Harness, TgUser, tr

TOKEN = "123456789:BENCH-token-abcdefghijklmnopqrstuvwxyz0123"
ASKER = TgUser(7_000_001, "Mariem", "ar")
ANSWERER = TgUser(7_000_002, "Marco", "it")
QUESTION = "كيف تحافظون على عمل صفارات الإنذار أثناء انقطاع الكهرباء؟"


def pct(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


async def relays(h: Harness, question_mid: int, texts: list[str]) -> list[float]:
    """Each text as a Telegram reply to the question; the time until it is relayed and logged."""
    took = []
    for words in texts:
        t = time.perf_counter()
        await h.send(ANSWERER, words, reply_to=question_mid)
        took.append(time.perf_counter() - t)
    return took


async def run(args: argparse.Namespace) -> None:
    load_catalogs()
    await warm_up()
    tmp = tempfile.TemporaryDirectory()
    url = args.database_url or f"sqlite+aiosqlite:///{Path(tmp.name) / 'bench.db'}"
    db = Database(url)
    if url.startswith("postgresql"):
        async with db.engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    await upgrade(db)
    settings = Settings(
        _env_file=None,
        telegram_bot_token=TOKEN,
        database_url=url,  # type: ignore[call-arg]
        send_transport="default",
        translation_timeout_seconds=5.0,
    )
    deps = Deps(settings=settings, db=db, clock=SystemClock())
    tg = RecordingRequest()
    app: Any = build_application(deps, request=tg, get_updates_request=tg, background=False)
    await app.initialize()
    h = Harness(app, tg)
    flood = await make_topic(db, "flood-risk", names={"en": "Flood risk", "ar": "خطر الفيضانات"})
    for user, city, country in ((ASKER, "Rosso", "MR"), (ANSWERER, "Potenza", "IT")):
        locale = user.language_code or "en"
        place = await make_city(db, city, country, "UTC", [locale])
        await make_official(db, place, tg_id=user.id, topics=[flood], locale=locale)
    async with FakeTranslator(delay=args.delay) as fake:
        try:
            await h.command(ASKER, "/ask")
            await h.press(ASKER, "خطر الفيضانات")
            await h.send(ASKER, QUESTION)
            await h.press(ASKER, tr("ar", "Send"))
            question_mid = h.tg.last(ANSWERER.id).message_id

            def words(tag: str, i: int) -> list[str]:
                return [f"Risposta {tag} numero {i}: teniamo una batteria in ogni sirena."]

            n = args.relays
            off = await relays(h, question_mid, sum((words("a", i) for i in range(n)), []))
            deps.translator = LibreTranslate(fake.url)
            new = await relays(h, question_mid, sum((words("b", i) for i in range(n)), []))
            stored = await relays(h, question_mid, sum((words("b", i) for i in range(n)), []))
            assert len(fake.translations()) == n, "each new text translated once"
            await deps.translator.close()
        finally:
            await app.shutdown()
            await db.dispose()
            tmp.cleanup()

    def ms(values: list[float]) -> str:
        return (
            f"mean {statistics.mean(values) * 1000:.1f} ms, p50 {pct(values, 0.5) * 1000:.1f} ms, "
            f"p95 {pct(values, 0.95) * 1000:.1f} ms"
        )

    backend = url.split("+", 1)[0]
    print(
        f"database: {backend}, relays: {n} each, "
        f"fake translator answering in {args.delay * 1000:.0f} ms"
    )
    print(f"translation off:                {ms(off)}")
    print(f"translation on, new texts:      {ms(new)}")
    print(f"translation on, texts stored:   {ms(stored)}")
    added = statistics.median(new) - statistics.median(off)
    cached = statistics.median(stored) - statistics.median(off)
    print(
        f"bench_translation_relay: {added * 1000:.1f} ms added per relayed message "
        f"(p50; the translator's own {args.delay * 1000:.0f} ms included), "
        f"ratio {statistics.median(new) / statistics.median(off):.2f}x; "
        f"stored: {cached * 1000:.1f} ms added"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--relays", type=int, default=200)
    parser.add_argument("--delay", type=float, default=0.05, help="the translator's answer time")
    parser.add_argument("--database-url", default=None)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
