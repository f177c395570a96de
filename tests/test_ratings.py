"""Answers rated by the asker teach routing: a "not useful" answer moves the next question to
another city, a "useful" one shows in the reason stored for the organisers, the library shows
the answer rated useful first, and statistics and exports give the ratings per city. SQLite
and PostgreSQL."""

from __future__ import annotations

import re
from typing import Any, NamedTuple

import pytest
from sqlalchemy import select

from bot.db.models import AnswerRating, Question, Role, Routing
from bot.services import reports, routing
from handlers.exchange_buttons import RateAnswer, RouteCities
from tests.factories import make_city, make_official, make_topic, next_tg_id
from tests.harness.updates import Harness, TgUser


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"route_top_k": 1}  # one city per question: the ranking decides which


def plain(text: str) -> str:
    return re.sub(r"<[^>]+>", "", text).replace("\u2068", "").replace("\u2069", "")


async def person(h: Harness, city: Any, name: str, topics: Any, **kw: Any) -> TgUser:
    tg_id = next_tg_id()
    await make_official(h.deps.db, city, tg_id=tg_id, name=name, topics=topics, **kw)
    return TgUser(tg_id, name.split()[0])


async def ask(h: Harness, user: TgUser, text: str) -> Question:
    await h.command(user, "/ask")
    await h.press(user, "Flood risk")
    await h.send(user, text)
    await h.press(user, "Send")
    async with h.deps.db.read() as s:
        return (await s.scalars(select(Question).order_by(Question.id.desc()))).first()


class Network(NamedTuple):
    """Gabès asks; Nice (Claire) and Potenza (Marco) cover flood risk; an organiser in Gabès."""

    gabes: Any
    nice: Any
    potenza: Any
    flood: Any
    amina: TgUser
    claire: TgUser
    marco: TgUser
    org: TgUser


async def network(h: Harness) -> Network:
    db = h.deps.db
    gabes = await make_city(db, "Gabès", languages=["ar", "en"])
    nice = await make_city(db, "Nice", "FR", "Europe/Paris", ["fr", "en"])
    potenza = await make_city(db, "Potenza", "IT", "Europe/Rome", ["it", "en"])
    flood = await make_topic(db, "flood-risk", names={"en": "Flood risk"})
    return Network(
        gabes,
        nice,
        potenza,
        flood,
        await person(h, gabes, "Amina Ben Salah", [flood]),
        await person(h, nice, "Claire Martin", [flood]),
        await person(h, potenza, "Marco Rossi", [flood]),
        await person(h, gabes, "Org Aniser", [], role=Role.ORGANISER),
    )


async def routed(h: Harness, question: Question) -> list[Routing]:
    async with h.deps.db.read() as s:
        return list(
            (await s.scalars(select(Routing).where(Routing.question_id == question.id))).all()
        )


async def test_ratings_change_the_next_routing_its_reason_stats_and_exports(
    harness: Harness,
) -> None:
    h = harness
    db = h.deps.db
    gabes, nice, potenza, flood, amina, claire, marco, org = await network(h)

    async def best() -> list[routing.Ranked]:
        async with db.read() as s:
            found = await routing.gather_candidates(s, flood.id, {gabes.id}, h.deps.clock.now())
        return [routing.score_of(c, {"en"}) for c in found]

    # Equal cities: Nice first (by name). Claire answers, two days later.
    q1 = await ask(h, amina, "How do you keep flood sirens working during power cuts?")
    assert [r.city_id for r in await routed(h, q1)] == [nice.id]
    h.deps.clock.advance(hours=48)
    await h.press(claire, "Answer")
    await h.send(claire, "Batteries, tested monthly.")
    ranked = await best()
    assert max(ranked, key=lambda r: r.score).name == "Nice"

    # Rated not useful: Potenza now ranks first, and Nice's reason says why.
    await h.press(amina, "Not useful")
    assert h.tg.last_alert() == "Thank you: rated not useful."
    ranked = await best()
    assert max(ranked, key=lambda r: r.score).name == "Potenza"
    (nice_now,) = [r for r in ranked if r.name == "Nice"]
    assert "0 of 1 rated answers on this topic useful" in nice_now.reason
    q2 = await ask(h, amina, "Which river gauges do you trust in flash floods?")
    assert [r.city_id for r in await routed(h, q2)] == [potenza.id]

    # Marco's answer is rated useful (a second press replaces the first).
    h.deps.clock.advance(hours=1)
    await h.press(marco, "Answer")
    await h.send(marco, "Radar gauges on every bridge, read every five minutes.")
    await h.press(amina, "Not useful")
    await h.press(amina, "Useful")
    assert h.tg.last_alert() == "Thank you: rated useful."
    async with db.read() as s:
        rows = (await s.scalars(select(AnswerRating).order_by(AnswerRating.city_id))).all()
        assert sorted((r.city_id, r.useful) for r in rows) == [(nice.id, False), (potenza.id, True)]
    q3 = await ask(h, amina, "Who sends the evacuation order in your city?")
    (row,) = await routed(h, q3)
    assert row.city_id == potenza.id
    assert row.reason == (
        "covers topic: 1 official; shares language: en; answered 1/1 on this topic, avg first "
        "answer 1.0 h; 1 of 1 rated answers on this topic useful; open load 0"
    )

    # Only the asker rates, and only answers.
    await h.callback(claire, RateAnswer("useful", row.id).encode())
    assert h.tg.last_alert() == "That no longer exists."
    (claires,) = [r for r in await routed(h, q1)]
    await h.callback(marco, RateAnswer("useful", claires.id).encode())
    assert h.tg.last_alert() == "Only the person who asked this question can do that."

    # Statistics and exports, per city.
    h.deps.clock.advance(minutes=1)
    stats = await reports.stats(h.deps, None, None)
    assert stats.ratings == [("Potenza", 1, 1), ("Nice", 1, 0)]
    await h.command(org, "/stats")
    await h.press(org, "Everything")
    shown = "\n".join(plain(t) for t in h.texts(org))
    assert "Answers rated useful, by city: Potenza (1/1) and Nice (0/1)" in shown
    ratings = {}
    async for part in reports.export_rows(h.deps, reports.ExportFilter()):
        for r in part:
            if r[6] == "answer":
                ratings[r[11]] = r[reports.COLUMNS.index("rating")]
    assert ratings == {"Nice": "not useful", "Potenza": "useful"}


async def test_the_organiser_routing_by_hand_sees_the_record_and_a_rating_changes_it(
    harness: Harness,
) -> None:
    h = harness
    gabes, nice, potenza, flood, amina, claire, _marco, org = await network(h)

    async def record_shown(question: Question) -> str:
        await h.callback(org, RouteCities(question.id, 0).encode())
        return plain(h.last_text(org))

    # Nice answers in six hours; the answer is rated useful: the next question goes there too,
    # and the organiser who routes it by hand sees why.
    q1 = await ask(h, amina, "How do you keep flood sirens working during power cuts?")
    h.deps.clock.advance(hours=6)
    await h.press(claire, "Answer")
    await h.send(claire, "Batteries, tested monthly.")
    await h.press(amina, "Useful")
    q2 = await ask(h, amina, "Which river gauges do you trust in flash floods?")
    assert [r.city_id for r in await routed(h, q2)] == [nice.id]
    shown = await record_shown(q2)
    assert "Their record on this topic (what automatic routing weighs):" in shown
    assert (
        "Nice: answered 1 of 2 similar questions, 1 of 1 rated useful; median first answer 6 hours"
        in (shown)
    )
    assert "Potenza:" not in shown  # no history on the topic

    # Rated not useful after all: the next question goes to Potenza, and the record says so.
    await h.press(amina, "Not useful")
    q3 = await ask(h, amina, "Who sends the evacuation order in your city?")
    assert [r.city_id for r in await routed(h, q3)] == [potenza.id]
    shown = await record_shown(q3)
    assert (
        "Nice: answered 1 of 2 similar questions, 0 of 1 rated useful; median first answer 6 hours"
        in (shown)
    )
    assert "Potenza: answered 0 of 1 similar question" in shown
    assert q1.id < q2.id < q3.id
