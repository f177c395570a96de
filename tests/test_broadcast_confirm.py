"""Pressing "Send now" (or confirming a schedule) writes the whole outbox of a broadcast in the
database with one INSERT ... SELECT from the audience query, whatever the audience size."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, func, insert, select, update

from bot.db.models import Broadcast, Delivery, DeliveryStatus, Official, OfficialStatus, Role
from tests.factories import CREATED, make_city, make_official, next_tg_id
from tests.harness.updates import Harness, TgUser

CROWD = 1_201  # more than two of the 500-row chunks the rows were once inserted in


async def crowd(h: Harness, city_id: int, n: int, status: str = OfficialStatus.ACTIVE) -> None:
    rows = []
    for _ in range(n):
        tg = next_tg_id()
        rows.append(
            {
                "tg_user_id": tg,
                "chat_id": tg,
                "name": f"Official {tg}",
                "city_id": city_id,
                "locale": "fr",
                "locale_chosen": False,
                "languages": ["fr"],
                "role": Role.OFFICIAL,
                "status": status,
                "digest_opt_in": False,
                "created_at": CREATED,
                "updated_at": CREATED,
            }
        )
    async with h.deps.db.transaction() as s:
        await s.execute(insert(Official), rows)


@contextmanager
def delivery_inserts(h: Harness) -> Iterator[list[str]]:
    """The INSERT statements into the outbox that reach the database meanwhile."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO DELIVERY"):
            seen.append(statement)

    engine = h.deps.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def organiser_with_crowds(h: Harness) -> tuple[TgUser, int, int]:
    gabes = await make_city(h.deps.db, "Gabès")
    potenza = await make_city(h.deps.db, "Potenza", "IT", "Europe/Rome", ["it"])
    org_tg = next_tg_id()
    await make_official(h.deps.db, gabes, tg_id=org_tg, role=Role.ORGANISER, locale="en")
    await crowd(h, gabes.id, CROWD)
    await crowd(h, gabes.id, 7, OfficialStatus.UNREACHABLE)
    await crowd(h, potenza.id, 40)
    return TgUser(org_tg, "Leila"), gabes.id, potenza.id


async def test_send_now_writes_every_outbox_row_in_one_statement(harness: Harness) -> None:
    h = harness
    org, gabes_id, _potenza_id = await organiser_with_crowds(h)
    await h.command(org, "/broadcast")
    source = await h.send(org, "Evacuation drill on Friday")
    await h.press(org, "Countries")
    await h.press(org, "Tunisia")
    await h.press(org, "Back")
    await h.press(org, "Preview")
    with delivery_inserts(h) as statements:
        await h.press(org, "Send now")

    assert "Broadcast #1 is on its way to 1202 officials" in h.last_text(org)
    assert len(statements) == 1 and "SELECT" in statements[0].upper(), statements
    async with h.deps.db.transaction() as s:
        broadcast = await s.get(Broadcast, 1)
        assert broadcast is not None and broadcast.total == CROWD + 1
        tunisians = dict(
            (
                await s.execute(
                    select(Official.id, Official.chat_id).where(
                        Official.city_id == gabes_id, Official.status == OfficialStatus.ACTIVE
                    )
                )
            ).all()
        )
        rows = (await s.scalars(select(Delivery).order_by(Delivery.id))).all()
    assert {r.recipient_id: r.chat_id for r in rows} == tunisians
    assert [r.recipient_id for r in rows] == sorted(tunisians)  # sent in the officials' order
    now = h.deps.clock.now()
    for r in rows:
        assert r.dedupe_key == f"b:1:{r.recipient_id}"
        assert (r.source, r.method, r.status, r.attempts) == (
            "broadcast",
            "copy",
            DeliveryStatus.PENDING,
            0,
        )
        assert (r.from_chat_id, r.message_id, r.broadcast_id) == (org.id, source["message_id"], 1)
        assert (r.next_attempt_at, r.created_at) == (now, now)
        assert r.text is None and r.reply_markup is None and r.claimed_by is None


async def test_a_scheduled_broadcast_waits_in_the_outbox_until_its_time(harness: Harness) -> None:
    h = harness
    org, _gabes_id, _potenza_id = await organiser_with_crowds(h)
    h.deps.clock.set(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    await h.command(org, "/broadcast")
    await h.send(org, "Workshop tomorrow")
    await h.press(org, "Preview")
    await h.press(org, "Schedule")
    await h.send(org, "2026-03-03 10:00")  # Tunis is UTC+1
    with delivery_inserts(h) as statements:
        await h.press(org, "Confirm")

    assert "Scheduled: broadcast #1 goes to 1242 officials" in h.last_text(org)
    assert len(statements) == 1
    async with h.deps.db.transaction() as s:
        due = (
            await s.execute(
                select(Delivery.next_attempt_at, func.count()).group_by(Delivery.next_attempt_at)
            )
        ).all()
    assert due == [(datetime(2026, 3, 3, 9, 0, tzinfo=UTC), CROWD + 41)]


async def test_an_audience_that_emptied_since_the_preview_writes_nothing(
    harness: Harness,
) -> None:
    h = harness
    org, _gabes_id, potenza_id = await organiser_with_crowds(h)
    await h.command(org, "/broadcast")
    await h.send(org, "Meeting in Potenza")
    await h.press(org, "Cities")
    await h.press(org, "Potenza")
    await h.press(org, "Back")
    await h.press(org, "Preview")
    assert "40 officials will receive it." in h.last_text(org)
    async with h.deps.db.transaction() as s:  # they all blocked the bot meanwhile
        await s.execute(
            update(Official)
            .where(Official.city_id == potenza_id)
            .values(status=OfficialStatus.UNREACHABLE)
        )
    await h.press(org, "Send now")

    assert h.tg.alerts()[-1] == "Nobody matches this audience. Change it and try again."
    async with h.deps.db.transaction() as s:
        assert await s.scalar(select(func.count()).select_from(Broadcast)) == 0
        assert await s.scalar(select(func.count()).select_from(Delivery)) == 0
