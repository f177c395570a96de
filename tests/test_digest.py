"""The weekly digest: who gets it, when (local morning, quiet hours), what it lists, in
each recipient's locale; never twice for a week, also with two processes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from bot.app import scheduled_jobs
from bot.clock import FakeClock
from bot.db.engine import Database
from bot.db.models import Delivery, Official, Question, QuestionStatus
from bot.runtime import Deps
from bot.services import digest
from handlers.digest import digest_notice
from tests.factories import make_city, make_official, make_topic
from tests.harness.updates import Harness

MONDAY_0900_UTC = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def plain(text: str | None) -> str:
    return (text or "").replace("\u202f", " ").replace("\xa0", " ")


async def ask(
    db: Database,
    asker: Official,
    topic_id: int,
    text: str | None,
    *,
    created_at: datetime,
    status: str = QuestionStatus.OPEN,
    answered: bool = False,
    content_type: str = "text",
) -> int:
    async with db.transaction() as s:
        q = Question(
            asker_id=asker.id,
            topic_id=topic_id,
            city_id=asker.city_id,
            text=text,
            content_type=content_type,
            status=status,
            created_at=created_at,
            first_answer_at=created_at + timedelta(hours=2) if answered else None,
        )
        s.add(q)
        await s.flush()
        return q.id


async def opt_in(db: Database, official: Official, **fields: Any) -> None:
    async with db.transaction() as s:
        row = await s.get(Official, official.id)
        assert row is not None
        row.digest_opt_in = True
        for key, value in fields.items():
            setattr(row, key, value)


async def rows(db: Database) -> dict[int, Delivery]:
    async with db.transaction() as s:
        return {
            d.recipient_id: d
            for d in await s.scalars(select(Delivery).order_by(Delivery.id))
            if d.recipient_id is not None
        }


async def exchange(db: Database) -> dict[str, Any]:
    nouakchott = await make_city(db, "Tevragh Zeina", "MR", "Africa/Nouakchott", ["ar", "fr"])
    madrid = await make_city(db, "Madrid", "ES", "Europe/Madrid", ["es", "en"])
    kasserine = await make_city(db, "Kasserine", "TN", "Africa/Tunis")
    flood = await make_topic(
        db,
        "flood-early-warning",
        names={
            "en": "Flood early warning",
            "fr": "Alerte précoce aux crues",
            "es": "Alerta temprana",
        },
    )
    heat = await make_topic(db, "heatwaves", names={"en": "Heatwaves"})
    fr = await make_official(db, nouakchott, name="Mohamed", locale="fr", topics=[flood])
    en = await make_official(db, madrid, name="Lucía", locale="en", topics=[flood, heat])
    es = await make_official(db, madrid, name="Pablo", locale="es", topics=[flood])
    asker = await make_official(db, kasserine, name="Sami", topics=[flood])
    lazy = await make_official(db, kasserine, name="Not opted in", topics=[flood])
    for official in (fr, en, es):
        await opt_in(db, official)
    asked = datetime(2026, 2, 27, 10, 0, tzinfo=UTC)
    q_open = await ask(
        db, asker, flood.id, "How do you warn <villages> by SMS & radio?", created_at=asked
    )
    await ask(
        db,
        asker,
        flood.id,
        "Already answered",
        created_at=asked,
        answered=True,
        status=QuestionStatus.ANSWERED,
    )
    await ask(
        db, asker, flood.id, "Resolved long ago", created_at=asked, status=QuestionStatus.RESOLVED
    )
    await ask(db, asker, heat.id, "Cooling centres?", created_at=asked + timedelta(hours=1))
    await ask(db, fr, flood.id, None, content_type="photo", created_at=asked + timedelta(days=1))
    return {"fr": fr, "en": en, "es": es, "asker": asker, "lazy": lazy, "q_open": q_open}


async def test_digest_lists_unanswered_questions_in_each_locale(
    db: Database, deps: Deps, clock: FakeClock
) -> None:
    x = await exchange(db)
    clock.set(MONDAY_0900_UTC)
    report = await digest.run_digests(deps, clock.now(), digest_notice)
    assert sorted(report.sent) == sorted([x["fr"].id, x["en"].id, x["es"].id])
    out = await rows(db)
    assert set(out) == {x["fr"].id, x["en"].id, x["es"].id}

    fr = plain(out[x["fr"].id].text)
    assert "Alerte précoce aux crues" in fr and "Kasserine" in fr
    assert "27 févr. 2026, 10:00" in fr  # Nouakchott time, French dates
    assert "How do you warn &lt;villages&gt; by SMS &amp; radio?" in fr
    assert "[photo]" not in fr  # their own question is not listed
    assert "Already answered" not in fr and "Resolved" not in fr and "Cooling" not in fr

    en = plain(out[x["en"].id].text)
    assert "Flood early warning" in en and "Heatwaves" in en
    assert "Feb 27, 2026, 11:00 AM" in en  # Madrid time
    assert "3 questions in your topics are still waiting for an answer" in en
    assert "[photo]" in en and "Tevragh Zeina" in en
    assert en.index("[photo]") < en.index("Cooling")  # newest first

    es = plain(out[x["es"].id].text)
    assert "Alerta temprana" in es and "27 feb 2026, 11:00" in es

    row = out[x["fr"].id]
    assert (row.source, row.method, row.chat_id) == ("digest", "text", x["fr"].chat_id)
    assert row.dedupe_key == f"d:{x['fr'].id}:20260302T0800Z"
    assert row.next_attempt_at == clock.now()


async def test_digest_waits_for_the_local_morning_and_comes_once_a_week(
    db: Database, deps: Deps, clock: FakeClock
) -> None:
    x = await exchange(db)
    clock.set(datetime(2026, 3, 2, 7, 30, tzinfo=UTC))  # 08:30 in Madrid, 07:30 in Nouakchott
    await digest.run_digests(deps, clock.now(), digest_notice)
    assert set(await rows(db)) == {x["en"].id, x["es"].id}
    clock.set(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    await digest.run_digests(deps, clock.now(), digest_notice)
    await digest.run_digests(deps, clock.now(), digest_notice)
    clock.advance(days=3)
    await digest.run_digests(deps, clock.now(), digest_notice)
    assert len(await rows(db)) == 3
    async with db.transaction() as s:
        total = len((await s.scalars(select(Delivery))).all())
    assert total == 3

    clock.set(datetime(2026, 3, 9, 8, 0, tzinfo=UTC))
    await digest.run_digests(deps, clock.now(), digest_notice)
    async with db.transaction() as s:
        keys = sorted(d.dedupe_key for d in await s.scalars(select(Delivery)))
    assert len(keys) == 6 and f"d:{x['fr'].id}:20260309T0800Z" in keys


async def test_digest_missed_by_more_than_the_catch_up_waits_a_week(
    db: Database, deps: Deps, clock: FakeClock
) -> None:
    x = await exchange(db)
    clock.set(datetime(2026, 3, 4, 12, 0, tzinfo=UTC))  # Wednesday: Monday's digest is stale
    report = await digest.run_digests(deps, clock.now(), digest_notice)
    assert sorted(report.missed) == sorted([x["fr"].id, x["en"].id, x["es"].id])
    assert await rows(db) == {}
    clock.set(datetime(2026, 3, 9, 8, 0, tzinfo=UTC))
    await digest.run_digests(deps, clock.now(), digest_notice)
    assert set(await rows(db)) == {x["fr"].id, x["en"].id, x["es"].id}


async def test_nothing_open_means_no_message(db: Database, deps: Deps, clock: FakeClock) -> None:
    city = await make_city(db, "Gabès")
    quiet_topic = await make_topic(db, "drought")
    official = await make_official(db, city, topics=[quiet_topic])
    await opt_in(db, official)
    clock.set(MONDAY_0900_UTC)
    report = await digest.run_digests(deps, clock.now(), digest_notice)
    assert report.empty == [official.id] and await rows(db) == {}


async def test_digest_waits_for_the_end_of_quiet_hours(
    db: Database, deps: Deps, clock: FakeClock
) -> None:
    x = await exchange(db)
    await opt_in(db, x["fr"], quiet_start=6 * 60, quiet_end=9 * 60 + 30)
    clock.set(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    await digest.run_digests(deps, clock.now(), digest_notice)
    out = await rows(db)
    assert out[x["fr"].id].next_attempt_at == datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    assert out[x["en"].id].next_attempt_at == clock.now()


async def test_digest_job_uses_the_application_clock(harness: Harness, clock: FakeClock) -> None:
    x = await exchange(harness.deps.db)
    clock.set(MONDAY_0900_UTC)
    jobs = {job.name: job for job in scheduled_jobs(harness.app)}
    await jobs["digest"].run()
    assert set(await rows(harness.deps.db)) == {x["fr"].id, x["en"].id, x["es"].id}


async def test_two_processes_send_each_digest_once(
    db_url: str, settings: Any, clock: FakeClock
) -> None:
    first, second = Database(db_url), Database(db_url)
    try:
        city = await make_city(first, "Gabès")
        topic = await make_topic(first, "flood")
        asker = await make_official(first, city, topics=[topic])
        readers = [await make_official(first, city, topics=[topic]) for _ in range(30)]
        for reader in readers:
            await opt_in(first, reader)
        await ask(first, asker, topic.id, "Sirens?", created_at=datetime(2026, 2, 27, tzinfo=UTC))
        clock.set(MONDAY_0900_UTC)

        async def drain(database: Database) -> list[int]:
            deps = Deps(settings=settings, db=database, clock=clock)
            sent: list[int] = []
            while True:
                report = await digest.run_digests(deps, clock.now(), digest_notice, limit=4)
                sent += report.sent
                if not report.sent:
                    return sent
                await asyncio.sleep(0)

        a, b = await asyncio.gather(drain(first), drain(second))
        assert sorted(a + b) == sorted(r.id for r in readers)
        assert not set(a) & set(b)
    finally:
        await first.dispose()
        await second.dispose()


def test_last_slot_is_the_latest_local_morning_across_dst() -> None:
    tz = "Europe/Rome"
    # Monday 30 March, after the change to summer time: 08:00 CEST is 06:00 UTC.
    assert digest.last_slot(datetime(2026, 3, 30, 6, 0, tzinfo=UTC), tz, 0, 8) == datetime(
        2026, 3, 30, 6, 0, tzinfo=UTC
    )
    # A minute earlier the latest slot is the Monday before, at 08:00 CET (07:00 UTC).
    assert digest.last_slot(datetime(2026, 3, 30, 5, 59, tzinfo=UTC), tz, 0, 8) == datetime(
        2026, 3, 23, 7, 0, tzinfo=UTC
    )
