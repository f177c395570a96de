"""Routing table: given cities, officials and history, exactly these cities, in this order."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.db import routing_stats
from bot.db.models import (
    City,
    ExchangeKind,
    ExchangeMessage,
    Official,
    OfficialStatus,
    Question,
    QuestionStatus,
    Routing,
    RoutingStatus,
)
from bot.runtime import Deps
from bot.services.exchange import closing
from bot.services.routing import Candidate, _in_contention, gather_candidates, rank, route_round
from tests.factories import make_city, make_official, make_topic


@dataclass
class CitySpec:
    languages: tuple[str, ...] = ("en",)
    officials: int = 1  # active officials covering the topic
    inactive: tuple[OfficialStatus, ...] = ()  # covering officials who must never be chosen
    other_topic: int = 0  # active officials covering another topic only
    asked: int = 0  # past questions on the topic routed here
    answered: int = 0
    hours: float = 2.0  # time to answer for the answered ones
    open_load: int = 0  # questions on another topic waiting here


@dataclass
class Case:
    cities: dict[str, CitySpec]
    expected: list[str]
    asker_city: str = "Home"
    asker_languages: tuple[str, ...] = ("en",)
    top_k: int = 3
    home: CitySpec = field(default_factory=lambda: CitySpec(officials=5))


CASES = {
    "more covering officials rank higher": Case(
        {"A": CitySpec(officials=1), "B": CitySpec(officials=3), "C": CitySpec(officials=2)},
        ["B", "C", "A"],
    ),
    "coverage saturates at three officials, then the name decides": Case(
        {"Big": CitySpec(officials=6), "Also": CitySpec(officials=3)}, ["Also", "Big"]
    ),
    "a shared language beats two more officials": Case(
        {"Many": CitySpec(officials=3, languages=("it",)), "Speaks": CitySpec(languages=("fr",))},
        ["Speaks", "Many"],
        asker_languages=("fr",),
    ),
    "ties are broken by name": Case(
        {"Zeta": CitySpec(), "Alpha": CitySpec(), "Mid": CitySpec(), "Beta": CitySpec()},
        ["Alpha", "Beta", "Mid"],
    ),
    "top k cuts the list": Case(
        {"Zeta": CitySpec(), "Alpha": CitySpec(), "Mid": CitySpec()}, ["Alpha", "Mid"], top_k=2
    ),
    "a city that answers ranks above a new one, above one that never answers": Case(
        {
            "Silent": CitySpec(asked=5, answered=0),
            "Helpful": CitySpec(asked=5, answered=5),
            "New": CitySpec(),
        },
        ["Helpful", "New", "Silent"],
    ),
    "the faster city wins at equal answer rates": Case(
        {
            "Slow": CitySpec(asked=2, answered=2, hours=48),
            "Fast": CitySpec(asked=2, answered=2, hours=1),
        },
        ["Fast", "Slow"],
    ),
    "open load pushes a city down": Case(
        {
            "Busy": CitySpec(open_load=10),
            "Calm": CitySpec(open_load=0),
            "Bit": CitySpec(open_load=2),
        },
        ["Calm", "Bit", "Busy"],
    ),
    "own city, inactive officials and other topics are never chosen": Case(
        {
            "Peer": CitySpec(),
            "Dormant": CitySpec(
                officials=0,
                inactive=(
                    OfficialStatus.PENDING,
                    OfficialStatus.REMOVED,
                    OfficialStatus.UNREACHABLE,
                    OfficialStatus.ERASED,
                ),
            ),
            "Elsewhere": CitySpec(officials=0, other_topic=3),
        },
        ["Peer"],
    ),
    "nobody covers the topic": Case({"Elsewhere": CitySpec(officials=0, other_topic=2)}, []),
}


async def build(deps: Deps, case: Case) -> Question:
    db = deps.db
    topic = await make_topic(db, "flood-risk")
    other = await make_topic(db, "heatwaves")
    now = deps.clock.now()
    cities = {}
    for name, spec in {case.asker_city: case.home, **case.cities}.items():
        cities[name] = await make_city(db, name, languages=list(spec.languages))
    archive = await make_city(db, "Archive")
    historian = await make_official(db, archive, topics=[other])
    for name, spec in {case.asker_city: case.home, **case.cities}.items():
        city = cities[name]
        covering = [await make_official(db, city, topics=[topic]) for _ in range(spec.officials)]
        for status in spec.inactive:
            await make_official(db, city, topics=[topic], status=status)
        for _ in range(spec.other_topic):
            await make_official(db, city, topics=[other])
        target = covering[0] if covering else None
        async with db.transaction() as s:
            for i in range(spec.asked if target else 0):
                q = Question(
                    asker_id=historian.id,
                    topic_id=topic.id,
                    city_id=archive.id,
                    text="old",
                    status=QuestionStatus.RESOLVED,
                    created_at=now - timedelta(days=30),
                )
                s.add(q)
                await s.flush()
                delivered = now - timedelta(days=30)
                answered = i < spec.answered
                s.add(
                    Routing(
                        question_id=q.id,
                        recipient_id=target.id,
                        city_id=city.id,
                        topic_id=topic.id,
                        # Resolved: the ones still waiting were closed then.
                        status=RoutingStatus.ANSWERED if answered else RoutingStatus.CLOSED,
                        delivered_at=delivered,
                        answered_at=delivered + timedelta(hours=spec.hours) if answered else None,
                        created_at=delivered,
                    )
                )
            for _ in range(spec.open_load if target else 0):
                q = Question(
                    asker_id=historian.id,
                    topic_id=other.id,
                    city_id=archive.id,
                    text="busy",
                    status=QuestionStatus.OPEN,
                    created_at=now - timedelta(hours=3),
                )
                s.add(q)
                await s.flush()
                s.add(
                    Routing(
                        question_id=q.id,
                        recipient_id=target.id,
                        city_id=city.id,
                        topic_id=other.id,
                        status=RoutingStatus.DELIVERED,
                        delivered_at=now - timedelta(hours=3),
                        created_at=now - timedelta(hours=3),
                    )
                )
    async with db.transaction() as s:
        await routing_stats.rebuild(s)  # the history above was written as rows, not by routing
    asker = await make_official(
        db, cities[case.asker_city], topics=[topic], languages=case.asker_languages
    )
    async with db.transaction() as s:
        question = Question(
            asker_id=asker.id,
            topic_id=topic.id,
            city_id=cities[case.asker_city].id,
            text="new question",
            status=QuestionStatus.OPEN,
            created_at=now,
        )
        s.add(question)
        await s.flush()
        return question


@pytest.mark.parametrize("name", list(CASES))
async def test_routing_table(deps: Deps, name: str) -> None:
    case = CASES[name]
    deps.settings.route_top_k = case.top_k
    question = await build(deps, case)
    async with deps.db.transaction() as s:
        q = await s.get(Question, question.id)
        decisions = await route_round(s, deps, q, 1)
    assert [d.city_name for d in decisions] == case.expected
    for d in decisions:
        assert len(d.recipients) == max(case.cities[d.city_name].officials, 0)
    async with deps.db.transaction() as s:
        rows = (await s.scalars(select(Routing).where(Routing.question_id == question.id))).all()
        logged = (
            await s.scalars(
                select(ExchangeMessage).where(
                    ExchangeMessage.question_id == question.id,
                    ExchangeMessage.kind == ExchangeKind.ROUTING,
                )
            )
        ).all()
    assert len(rows) == len(logged) == sum(len(d.recipients) for d in decisions)
    assert all(r.reason and r.status == RoutingStatus.PENDING and r.round == 1 for r in rows)


async def test_reason_reads_well_and_later_rounds_reach_new_cities(deps: Deps) -> None:
    case = Case(
        {
            "Nice": CitySpec(languages=("fr",), asked=5, answered=4, hours=2, open_load=1),
            "Potenza": CitySpec(languages=("it",), officials=2),
        },
        ["Nice"],
        asker_languages=("fr", "en"),
        top_k=1,
    )
    deps.settings.route_top_k = 1
    question = await build(deps, case)
    async with deps.db.transaction() as s:
        q = await s.get(Question, question.id)
        (first,) = await route_round(s, deps, q, 1)
        assert first.reason == (
            "covers topic: 1 official; shares language: fr; answered 4/5 on "
            "this topic, avg first answer 2.0 h; open load 1"
        )
        (second,) = await route_round(s, deps, q, 2)
        assert second.city_name == "Potenza" and second.round == 2
        assert second.reason.startswith(
            "covers topic: 2 officials; no shared language; no history on this topic"
        )
        assert await route_round(s, deps, q, 3) == []


async def test_resolving_a_question_lifts_the_load_it_put_on_its_cities(deps: Deps) -> None:
    """Waiting routings of a resolved question are closed: their cities' load drops at once."""
    case = Case({"Busy": CitySpec(open_load=3), "Calm": CitySpec()}, ["Calm", "Busy"], top_k=2)
    question = await build(deps, case)
    now = deps.clock.now()

    async def loads() -> dict[str, int]:
        async with deps.db.transaction() as s:
            found = await gather_candidates(s, question.topic_id, [question.city_id], now)
            return {c.name: c.open_load for c in found}

    async def order() -> list[str]:
        async with deps.db.transaction() as s:
            found = await gather_candidates(s, question.topic_id, [question.city_id], now)
            return [r.name for r in rank(found, {"en"}, 2)]

    assert await loads() == {"Busy": 3, "Calm": 0}
    assert await order() == ["Calm", "Busy"]
    async with deps.db.transaction() as s:
        busy = (
            await s.execute(
                select(Question.id, Official.tg_user_id)
                .join(Official, Official.id == Question.asker_id)
                .where(Question.text == "busy")
            )
        ).all()
    for question_id, tg_user_id in busy[:2]:
        await closing.resolve(deps, tg_user_id, question_id)
    assert await loads() == {"Busy": 1, "Calm": 0}
    await closing.resolve(deps, busy[2][1], busy[2][0])
    assert await loads() == {"Busy": 0, "Calm": 0}
    assert await order() == ["Busy", "Calm"]  # level again: the name decides
    async with deps.db.transaction() as s:
        statuses = (
            await s.scalars(
                select(Routing.status)
                .join(City, City.id == Routing.city_id)
                .where(City.name == "Busy", Routing.question_id.in_([q for q, _t in busy]))
            )
        ).all()
    assert statuses == [RoutingStatus.CLOSED] * 3


PURE = [
    # (candidates, asker languages, k, expected ids)
    ([Candidate(1, "B", ("fr",), 1), Candidate(2, "A", ("fr",), 1)], {"fr"}, 3, [2, 1]),
    ([Candidate(1, "Same", ("en",), 1), Candidate(2, "Same", ("en",), 1)], {"en"}, 3, [1, 2]),
    ([Candidate(1, "A", (), 0), Candidate(2, "B", (), 1)], set(), 3, [2]),
    (
        [
            Candidate(1, "A", (), 1, asked=3, answered=3, avg_answer_hours=24.0),
            Candidate(2, "B", (), 1, asked=3, answered=3, avg_answer_hours=1.0),
        ],
        set(),
        1,
        [2],
    ),
]


@pytest.mark.parametrize(("candidates", "langs", "k", "expected"), PURE)
def test_rank_pure(candidates, langs, k, expected) -> None:
    assert [r.city_id for r in rank(candidates, langs, k)] == expected


def test_cities_out_of_contention_never_change_the_ranking() -> None:
    """Open load is read only for cities that can still win; the ranking must not notice."""
    rnd = random.Random(5)
    for _ in range(300):
        candidates = [
            Candidate(
                i,
                f"City {rnd.randint(0, 9)}",
                tuple(rnd.sample(["en", "fr", "it"], rnd.randint(0, 2))),
                rnd.randint(0, 4),
                asked=(asked := rnd.randint(0, 6)),
                answered=rnd.randint(0, asked),
                avg_answer_hours=rnd.choice([None, 0.5, 3.0, 30.0]),
                open_load=rnd.randint(0, 12),
            )
            for i in range(rnd.randint(1, 25))
        ]
        langs, k = set(rnd.sample(["en", "fr", "it"], rnd.randint(0, 2))), rnd.randint(1, 4)
        # As gather_candidates does: contention is judged before any load is read.
        unloaded = [c._replace(open_load=0) for c in candidates if c.covering > 0]
        kept = {c.city_id for c in _in_contention(unloaded, langs, k)}
        assert rank([c for c in candidates if c.city_id in kept], langs, k) == rank(
            candidates, langs, k
        )
