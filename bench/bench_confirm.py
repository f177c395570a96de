"""Pressing "Send now" on a broadcast to 10,000 officials: how long until the organiser hears back.

    .venv/bin/python -m bench.bench_confirm [--officials 10000] [--rounds 3]
        [--database-url postgresql+asyncpg://...]   (SQLite file always; PostgreSQL if given)

Times the service call the button runs (`broadcast_compose.confirm`: the broadcast, its outbox
rows, the audit entry, in one transaction) against the way it was written before issue 17, in
the same run on the same data: the recipients read into Python, one dict built per row, and
the rows inserted as multi-row VALUES in chunks of 500 (`before` below, kept here as the
baseline). Rounds alternate before/after; the outbox is emptied between rounds. Prints the
best and the median of each, and the ratio after/before.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path

from sqlalchemy import delete, func, select

from bench.bench_broadcast import ORGANISER_TG, TOKEN, reset_pg, seed
from bot.clock import SystemClock
from bot.config import Settings
from bot.db import audience, audit_log, dialogs, outbox
from bot.db import broadcasts as stored
from bot.db.models import Broadcast, BroadcastStatus, Delivery, Official, Role
from bot.runtime import Deps
from bot.services import broadcast_compose, targeting
from bot.services.identity import require_role

TARGET_SECONDS = 0.5


async def before(deps: Deps, tg_user_id: int) -> int:
    """The confirmation as it was written before issue 17 (main at 61dab0d), for comparison."""
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        official = await require_role(session, deps.settings, tg_user_id, Role.ORGANISER)
        state = await stored.dialog_for_update(session, tg_user_id)
        assert state is not None
        data = dict(state.data)
        target = targeting.normalize(data.get("target"))
        query = audience.recipients_query(target, deps.settings.admin_ids).with_only_columns(
            Official.id, Official.chat_id
        )
        recipients = [(oid, chat) for oid, chat in await session.execute(query)]
        broadcast = await stored.add(
            session,
            author_id=official.id if official else None,
            source_chat_id=int(data["chat"]),
            source_message_id=int(data["msg"]),
            target=target,
            scheduled_at=None,
            status=BroadcastStatus.SENDING,
            total=len(recipients),
            progress_chat_id=tg_user_id,
            created_at=now,
            started_at=now,
        )
        await outbox.enqueue(
            session,
            (
                outbox.delivery_row(
                    dedupe_key=f"b:{broadcast.id}:{official_id}",
                    source="broadcast",
                    chat_id=chat_id,
                    now=now,
                    recipient_id=official_id,
                    from_chat_id=broadcast.source_chat_id,
                    message_id=broadcast.source_message_id,
                    broadcast_id=broadcast.id,
                )
                for official_id, chat_id in recipients
            ),
        )
        await dialogs.clear_dialog(session, tg_user_id)
        await audit_log.record(
            session,
            now,
            "broadcast.sent",
            actor=official,
            target_type="broadcast",
            target_id=broadcast.id,
            total=len(recipients),
            target=target,
            scheduled_at=None,
        )
        return len(recipients)


async def after(deps: Deps, tg_user_id: int) -> int:
    return (await broadcast_compose.confirm(deps, tg_user_id, scheduled=False)).total


async def one_round(deps: Deps, how: str) -> tuple[float, int]:
    await broadcast_compose.begin(deps, ORGANISER_TG)
    await broadcast_compose.set_message(deps, ORGANISER_TG, ORGANISER_TG, 1)
    began = time.perf_counter()
    total = await (before if how == "before" else after)(deps, ORGANISER_TG)
    seconds = time.perf_counter() - began
    async with deps.db.transaction() as s:
        rows = int(await s.scalar(select(func.count()).select_from(Delivery)) or 0)
        await s.execute(delete(Delivery))
        await s.execute(delete(Broadcast))
    assert rows == total, (how, rows, total)
    return seconds, total


async def bench(url: str, officials: int, rounds: int) -> None:
    from bot.db.engine import Database
    from bot.db.migrate import upgrade

    if url.startswith("postgresql"):
        await reset_pg(url)
    settings = Settings(_env_file=None, telegram_bot_token=TOKEN, database_url=url)  # type: ignore[call-arg]
    db = Database(url)
    deps = Deps(settings=settings, db=db, clock=SystemClock())
    times: dict[str, list[float]] = {"before": [], "after": []}
    try:
        await upgrade(db)
        await seed(db, officials)
        await one_round(deps, "after")  # warm up: caches, compiled statements
        for _ in range(rounds):
            for how in ("before", "after"):
                seconds, total = await one_round(deps, how)
                times[how].append(seconds)
    finally:
        await db.dispose()
    backend = url.split("+", 1)[0]
    b, a = min(times["before"]), min(times["after"])
    print(
        f"# {backend}: {total} delivery rows; before: "
        + ", ".join(f"{t:.3f}" for t in times["before"])
        + " s; after: "
        + ", ".join(f"{t:.3f}" for t in times["after"])
        + f" s (median before {statistics.median(times['before']):.3f}, "
        f"after {statistics.median(times['after']):.3f})"
    )
    print(
        f"bench_confirm_{backend}: {a:.3f} s to confirm (before {b:.3f} s), "
        f"ratio {a / b:.3f}x before, {a / TARGET_SECONDS:.2f}x the {TARGET_SECONDS} s target"
    )


async def run(args: argparse.Namespace) -> None:
    print(f"# {datetime.now():%Y-%m-%d %H:%M} officials: {args.officials}, rounds: {args.rounds}")
    with tempfile.TemporaryDirectory() as tmp:
        await bench(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}", args.officials, args.rounds)
    if args.database_url:
        await bench(args.database_url, args.officials, args.rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--officials", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", default=None)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
