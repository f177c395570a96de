"""Choosing the peer cities that receive a question, and writing the routing rows.

The ranking is a pure function over plain data (`rank`), fed by one aggregate query
(`gather_candidates`); a second query picks the covering officials of the chosen cities.

Score of a candidate city (higher is better), each part documented in the row's reason:

    coverage        1.0 x min(covering officials, 3) / 3     more people who can answer
    language        1.0 if the asker shares a language with the city
    responsiveness  1.0 x (answered + 1) / (asked + 2)       on this topic; 0.5 with no history
    speed           0.5 x 1 / (1 + avg hours to answer / 24) on this topic; 0.25 with no history
    load           -0.5 x min(open questions waiting, 10) / 10   routed in the last 14 days

Ties are broken by city name, then id, so the same data always gives the same order.
"""

from __future__ import annotations

import functools
import heapq
import json
import logging
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import (
    BigInteger,
    Float,
    Integer,
    Select,
    String,
    Text,
    and_,
    bindparam,
    cast,
    func,
    insert,
    literal,
    null,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import fast, routing_stats
from bot.db.models import (
    City,
    CityTopicStats,
    ExchangeKind,
    ExchangeMessage,
    Official,
    OfficialStatus,
    OfficialTopic,
    Question,
    QuestionStatus,
    Routing,
    RoutingStatus,
    UTCDateTime,
    routing_waiting,
)
from bot.runtime import Deps

log = logging.getLogger(__name__)

COVERAGE_CAP = 3
LOAD_CAP = 10
LOAD_WINDOW = timedelta(days=14)  # older unanswered routings were escalated or expired
W_COVERAGE = 1.0
W_LANGUAGE = 1.0
W_RESPONSIVENESS = 1.0
W_SPEED = 0.5
W_LOAD = 0.5

OPEN_QUESTION = (QuestionStatus.OPEN, QuestionStatus.ANSWERED)
WAITING = (RoutingStatus.PENDING, RoutingStatus.DELIVERED)


class Candidate(NamedTuple):
    """What the ranking knows about one peer city for one question (a tuple: hundreds are
    built per question, and a frozen dataclass cost more to build than the query to read)."""

    city_id: int
    name: str
    languages: tuple[str, ...]
    covering: int  # active officials covering the topic
    asked: int = 0  # questions on this topic routed to the city
    answered: int = 0  # of those, answered by someone in the city
    avg_answer_hours: float | None = None
    open_load: int = 0  # routed questions still waiting for the city's officials


@dataclass(frozen=True)
class Ranked:
    city_id: int
    name: str
    score: float
    reason: str


@dataclass(frozen=True)
class Recipient:
    official_id: int
    chat_id: int
    locale: str
    routing_id: int


@dataclass(frozen=True)
class RoutingDecision:
    """One chosen city and the routing rows written for its officials."""

    city_id: int
    city_name: str
    score: float
    reason: str
    round: int
    recipients: tuple[Recipient, ...]


def _score(c: Candidate, shared: bool) -> float:
    coverage = min(c.covering, COVERAGE_CAP) / COVERAGE_CAP
    responsiveness = (c.answered + 1) / (c.asked + 2)
    speed = 0.5 if c.avg_answer_hours is None else 1 / (1 + c.avg_answer_hours / 24)
    load = min(c.open_load, LOAD_CAP) / LOAD_CAP
    score = (
        W_COVERAGE * coverage
        + W_LANGUAGE * (1.0 if shared else 0.0)
        + W_RESPONSIVENESS * responsiveness
        + W_SPEED * speed
        - W_LOAD * load
    )
    # Rounded so that float noise never decides a tie that the name should decide.
    return round(score, 6)


def _reason(c: Candidate, shared: Sequence[str]) -> str:
    parts = [f"covers topic: {c.covering} official{'s' if c.covering != 1 else ''}"]
    parts.append(f"shares language: {','.join(shared)}" if shared else "no shared language")
    if c.asked:
        history = f"answered {c.answered}/{c.asked} on this topic"
        if c.avg_answer_hours is not None:
            history += f", avg first answer {c.avg_answer_hours:.1f} h"
        parts.append(history)
    else:
        parts.append("no history on this topic")
    parts.append(f"open load {c.open_load}")
    return "; ".join(parts)


def _shared(c: Candidate, asker_languages: Collection[str]) -> list[str]:
    return [lang for lang in c.languages if lang in asker_languages]


class _Shares(dict[tuple[str, ...], bool]):
    """Whether a city's languages include one of the asker's, worked out once per distinct
    set of languages (a few among hundreds of cities)."""

    def __init__(self, asker_languages: Collection[str]) -> None:
        super().__init__()
        self.asker_languages = asker_languages

    def __missing__(self, languages: tuple[str, ...]) -> bool:
        shares = self[languages] = any(lang in self.asker_languages for lang in languages)
        return shares


def score_of(c: Candidate, asker_languages: Collection[str]) -> Ranked:
    shared = _shared(c, asker_languages)
    return Ranked(c.city_id, c.name, _score(c, bool(shared)), _reason(c, shared))


def rank(
    candidates: Iterable[Candidate], asker_languages: Collection[str], top_k: int
) -> list[Ranked]:
    """The best `top_k` cities, best first; ties by city name, then id.

    Every candidate is scored; the reason (string work) is written for the chosen ones only.
    """
    shares = _Shares(asker_languages)
    scored = [
        (-_score(c, shares[c.languages]), c.name, c.city_id, c)
        for c in candidates
        if c.covering > 0
    ]
    best = heapq.nsmallest(top_k, scored, key=lambda t: t[:3])
    return [score_of(c, asker_languages) for *_key, c in best]


def _candidates_statement(dialect_name: str) -> Select[Any]:
    """Coverage and history per candidate city; parameters: the topic, the excluded cities and
    the question (the cities it was already routed to are excluded too)."""
    topic_id = bindparam("topic_id", type_=Integer)
    routed = select(Routing.city_id).where(
        Routing.question_id == bindparam("question_id", type_=Integer)
    )
    coverage = (
        select(Official.city_id.label("city_id"), func.count().label("covering"))
        .join(OfficialTopic, OfficialTopic.official_id == Official.id)
        .where(
            OfficialTopic.topic_id == topic_id,
            Official.status == OfficialStatus.ACTIVE,
            Official.city_id.is_not(None),
            fast.ids_in(Official.city_id, "excluded", dialect_name, negate=True),
            Official.city_id.not_in(routed),
        )
        .group_by(Official.city_id)
        .subquery("coverage")
    )
    # History on the topic: one row per city, kept with the routing rows (bot/db/routing_stats).
    history = CityTopicStats
    return (
        # Languages as text: a few distinct values among hundreds of cities, decoded once each.
        select(
            City.id,
            City.name,
            cast(City.languages, Text),
            coverage.c.covering,
            history.asked,
            history.answered,
            history.answer_seconds,
            history.answer_count,
        )
        .join(coverage, coverage.c.city_id == City.id)
        .outerjoin(history, and_(history.city_id == City.id, history.topic_id == topic_id))
    )


def _load_statement(dialect_name: str) -> Select[Any]:
    """Open load: what the cities' officials were sent recently and have not answered yet.
    Waiting rows belong to open questions (resolving closes them), so the partial index of
    waiting rows by (city, created_at) answers it alone: other cities' and older rows are
    never read."""
    return (
        select(Routing.city_id, func.count())
        .where(
            routing_waiting(),
            fast.ids_in(Routing.city_id, "cities", dialect_name),
            Routing.created_at >= bindparam("since", type_=UTCDateTime()),
        )
        .group_by(Routing.city_id)
    )


def _recipients_statement(dialect_name: str) -> Select[Any]:
    """The active officials of the chosen cities who cover the topic, but the asker."""
    return (
        select(Official.id, Official.city_id, Official.chat_id, Official.locale)
        .join(OfficialTopic, OfficialTopic.official_id == Official.id)
        .where(
            OfficialTopic.topic_id == bindparam("topic_id", type_=Integer),
            Official.status == OfficialStatus.ACTIVE,
            fast.ids_in(Official.city_id, "cities", dialect_name),
            Official.id != bindparam("asker_id", type_=Integer),
        )
        .order_by(Official.city_id, Official.id)
    )


class _Official(NamedTuple):
    """What routing rows need of a recipient (an Official row, or these columns of one)."""

    id: int
    city_id: int | None
    chat_id: int
    locale: str


# The officials a round reaches: (recipient, city, score, reason), one row each.
_TARGETS = fast.Rows("targets", recipient_id=Integer, city_id=Integer, score=Float, reason=Text)


def _insert_routing_statement(dialect_name: str) -> Any:
    t = _TARGETS.table(dialect_name)
    return (
        insert(Routing.__table__)
        .from_select(
            [
                "question_id",
                "recipient_id",
                "city_id",
                "topic_id",
                "score",
                "reason",
                "round",
                "status",
                "created_at",
            ],
            select(
                bindparam("question_id", type_=Integer),
                t.c.recipient_id,
                t.c.city_id,
                bindparam("topic_id", type_=Integer),
                t.c.score,
                t.c.reason,
                bindparam("round", type_=Integer),
                literal(RoutingStatus.PENDING.value, String(16)),
                bindparam("now", type_=UTCDateTime()),
            ),
        )
        .returning(Routing.recipient_id, Routing.id)
    )


def _log_routing_statement(dialect_name: str) -> Any:
    """The exchange log's row for each official a round reaches (the question as sent)."""
    t = _TARGETS.table(dialect_name)
    return insert(ExchangeMessage.__table__).from_select(
        [
            "question_id",
            "from_official_id",
            "to_official_id",
            "from_city_id",
            "to_city_id",
            "kind",
            "text",
            "content_type",
            "original_chat_id",
            "original_message_id",
            "created_at",
        ],
        select(
            bindparam("question_id", type_=Integer),
            bindparam("asker_id", type_=Integer),
            t.c.recipient_id,
            bindparam("asker_city_id", type_=Integer),
            t.c.city_id,
            literal(ExchangeKind.ROUTING.value, String(16)),
            null(),
            bindparam("content_type", type_=String(16)),
            bindparam("chat_id", type_=BigInteger),
            bindparam("message_id", type_=BigInteger),
            bindparam("now", type_=UTCDateTime()),
        ),
    )


_INSERT_ROUTING = fast.Statement(_insert_routing_statement)
_LOG_ROUTING = fast.Statement(_log_routing_statement)


# Run on the routing session's own connection, without the ORM's result machinery: a question
# reads some 450 candidate rows, and that machinery cost more than the queries.
_CANDIDATES = fast.Statement(_candidates_statement)
_LOAD = fast.Statement(_load_statement)
_RECIPIENTS = fast.Statement(_recipients_statement)


@functools.lru_cache(maxsize=1024)
def _languages(stored: str | None) -> tuple[str, ...]:
    """A city's languages as stored (JSON text)."""
    return tuple(json.loads(stored)) if stored else ()


def _in_contention(
    candidates: Sequence[Candidate], asker_languages: Collection[str], top_k: int
) -> list[Candidate]:
    """The cities that can still make the top `top_k` whatever their open load.

    Load only lowers a score, by at most W_LOAD. A city whose score with no load stays below
    the k-th best score with the full load can never be chosen, so its load need not be read.
    The ranking is the same as with every city's load: nothing that could win is dropped.
    """
    shares = _Shares(asker_languages)
    bests = [_score(c, shares[c.languages]) for c in candidates]
    if len(bests) <= top_k:
        return list(candidates)
    threshold = heapq.nlargest(top_k, bests)[-1] - W_LOAD
    return [c for c, best in zip(candidates, bests, strict=True) if best >= threshold - 1e-9]


async def gather_candidates(
    session: AsyncSession,
    topic_id: int,
    exclude_city_ids: Collection[int],
    now: datetime,
    asker_languages: Collection[str] | None = None,
    top_k: int | None = None,
    question_id: int | None = None,
) -> list[Candidate]:
    """Every city with an active official covering the topic, with its history and load.

    Two statements whose cost grows with the number of cities, not with the routing history:
    coverage and history (read from city_topic_stats), then the open load. Given the asker's
    languages and `top_k`, only the cities that can still be chosen are returned, with their load.
    """
    conn = await fast.in_session(session)
    out = [
        Candidate(
            city_id,
            name,
            _languages(languages),
            covering,
            asked or 0,
            answered or 0,
            round(seconds / count / 3600, 3) if count else None,
        )
        for city_id, name, languages, covering, asked, answered, seconds, count in await conn.fetch(
            _CANDIDATES,
            {
                "topic_id": topic_id,
                "excluded": sorted(set(exclude_city_ids)),
                "question_id": question_id,
            },
        )
    ]
    if asker_languages is not None and top_k is not None:
        out = _in_contention(out, asker_languages, top_k)
    if not out:
        return out
    load = dict(
        await conn.fetch(_LOAD, {"since": now - LOAD_WINDOW, "cities": [c.city_id for c in out]})
    )
    return [c._replace(open_load=int(load.get(c.city_id, 0))) for c in out]


async def _routed(session: AsyncSession, question_id: int) -> tuple[set[int], set[int]]:
    rows = await session.execute(
        select(Routing.city_id, Routing.recipient_id).where(Routing.question_id == question_id)
    )
    cities, people = set(), set()
    for city_id, recipient_id in rows:
        cities.add(city_id)
        people.add(recipient_id)
    return cities, people


async def _write(
    session: AsyncSession,
    deps: Deps,
    question: Question,
    round_no: int,
    chosen: Sequence[Ranked],
    officials: Sequence[Official | _Official],
    routed_cities: Collection[int],
) -> list[RoutingDecision]:
    """Routing rows (pending) and their exchange-log rows for the chosen cities' officials."""
    now = deps.clock.now()
    by_city: dict[int, list[Official | _Official]] = {}
    for official in officials:
        assert official.city_id is not None
        by_city.setdefault(official.city_id, []).append(official)
    chosen = [r for r in chosen if by_city.get(r.city_id)]
    targets = [(o.id, r.city_id, r.score, r.reason) for r in chosen for o in by_city[r.city_id]]
    if not targets:
        return []
    conn = await fast.in_session(session)
    dialect = conn.dialect.name
    # One statement per table for any number of officials (rows passed as one parameter);
    # a question reaches each official at most once, so the recipient identifies its row.
    params = {
        "question_id": question.id,
        "topic_id": question.topic_id,
        "round": round_no,
        "now": now,
        "asker_id": question.asker_id,
        "asker_city_id": question.city_id,
        "content_type": question.content_type,
        "chat_id": question.source_chat_id,
        "message_id": question.source_message_id,
        **_TARGETS.params(targets, dialect),
    }
    ids = dict(await conn.fetch(_INSERT_ROUTING, params))
    await conn.fetch(_LOG_ROUTING, params)
    new_cities = sorted({r.city_id for r in chosen} - set(routed_cities))
    if new_cities and question.topic_id is not None:
        await conn.fetch(
            routing_stats.ADD_ROUTED,
            {
                "topic_id": question.topic_id,
                **routing_stats.CITIES.params([(c,) for c in new_cities], dialect),
            },
        )
    decisions = [
        RoutingDecision(
            r.city_id,
            r.name,
            r.score,
            r.reason,
            round_no,
            tuple(Recipient(o.id, o.chat_id, o.locale, ids[o.id]) for o in by_city[r.city_id]),
        )
        for r in chosen
    ]
    return decisions


async def route_round(
    session: AsyncSession,
    deps: Deps,
    question: Question,
    round_no: int,
    exclude_city_ids: Collection[int] = (),
    *,
    top_k: int | None = None,
) -> list[RoutingDecision]:
    """Rank peer cities for `question` and write routing rows for the best `top_k`.

    The asker's city and every city this question was already routed to are excluded, so
    later rounds (decline, escalation) reach new cities. Returns [] when nobody covers it.
    """
    asker = await session.get(Official, question.asker_id)
    assert asker is not None
    excluded = set(exclude_city_ids)  # and, in the query, the cities already routed to
    if question.city_id is not None:
        excluded.add(question.city_id)
    if asker.city_id is not None:
        excluded.add(asker.city_id)
    asker_langs = set(asker.languages or []) | {asker.locale}
    k = top_k or deps.settings.route_top_k
    candidates = await gather_candidates(
        session, question.topic_id, excluded, deps.clock.now(), asker_langs, k, question.id
    )
    chosen = rank(candidates, asker_langs, k)
    if not chosen:
        log.info("routing nobody_covers question_id=%s round=%s", question.id, round_no)
        return []
    conn = await fast.in_session(session)
    officials = [
        _Official(*row)
        for row in await conn.fetch(
            _RECIPIENTS,
            {
                "topic_id": question.topic_id,
                "cities": [r.city_id for r in chosen],
                "asker_id": asker.id,
            },
        )
    ]
    # Never routed to before (they were excluded): each is a new city for the question.
    decisions = await _write(session, deps, question, round_no, chosen, officials, routed_cities=())
    log.info(
        "routing question_id=%s round=%s cities=%s",
        question.id,
        round_no,
        ",".join(str(d.city_id) for d in decisions),
    )
    return decisions


async def route_to_city(
    session: AsyncSession, deps: Deps, question: Question, city_id: int, reason: str
) -> list[RoutingDecision]:
    """Route by hand to one city: its officials covering the topic, else all its active ones."""
    city = await session.get(City, city_id)
    if city is None:
        return []
    routed_cities, already = await _routed(session, question.id)
    base = select(Official).where(
        Official.city_id == city_id,
        Official.status == OfficialStatus.ACTIVE,
        Official.id != question.asker_id,
        Official.id.not_in(sorted(already) or [-1]),
    )
    covering = (
        await session.scalars(
            base.join(OfficialTopic, OfficialTopic.official_id == Official.id)
            .where(OfficialTopic.topic_id == question.topic_id)
            .order_by(Official.id)
        )
    ).all()
    officials = covering or (await session.scalars(base.order_by(Official.id))).all()
    chosen = [Ranked(city.id, city.name, 0.0, reason)]
    return await _write(session, deps, question, question.round, chosen, officials, routed_cities)


async def route_to_official(
    session: AsyncSession, deps: Deps, question: Question, official: Official, reason: str
) -> list[RoutingDecision]:
    """Route to one official who offered to answer (from the weekly digest)."""
    assert official.city_id is not None
    city = await session.get(City, official.city_id)
    assert city is not None
    routed_cities, _already = await _routed(session, question.id)
    chosen = [Ranked(city.id, city.name, 0.0, reason)]
    return await _write(session, deps, question, question.round, chosen, [official], routed_cities)
