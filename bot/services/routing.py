"""Choosing the peer cities that receive a question, and writing the routing rows.

The ranking is a pure function over plain data (`rank`), fed by one aggregate query
(`gather_candidates`); a second query picks the covering officials of the chosen cities.

Score of a candidate city (higher is better), each part documented in the row's reason:

    coverage        1.0 x min(covering officials, 3) / 3     more people who can answer
    language        1.0 if the asker shares a language with the city
    responsiveness  1.0 x (answered + 1) / (asked + 2)       on this topic; 0.5 with no history
    speed           0.5 x 1 / (1 + avg hours to answer / 24) on this topic; 0.25 with no history
    load           -0.5 x min(open questions waiting, 10) / 10   routed in the last 14 days
    usefulness      1.0 x ((useful + 1) / (rated + 2) - 0.5)     the askers' ratings of the
                    city's answers on this topic: 0 with none, up to +0.5 or down to -0.5

Ties are broken by city name, then id, so the same data always gives the same order.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import absences, catalogue, exchange_log, routing_stats, routings
from bot.db.models import Official, Question, QuestionStatus, RoutingStatus
from bot.runtime import Deps
from bot.services import calendars

log = logging.getLogger(__name__)

COVERAGE_CAP = 3
LOAD_CAP = 10
LOAD_WINDOW = timedelta(days=14)  # older unanswered routings were escalated or expired
W_COVERAGE = 1.0
W_LANGUAGE = 1.0
W_RESPONSIVENESS = 1.0
W_SPEED = 0.5
W_LOAD = 0.5
W_USEFUL = 1.0

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
    rated: int = 0  # the city's answers on this topic that their askers rated
    useful: int = 0  # of those, rated useful


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
    usefulness = (c.useful + 1) / (c.rated + 2) - 0.5
    score = (
        W_COVERAGE * coverage
        + W_LANGUAGE * (1.0 if shared else 0.0)
        + W_RESPONSIVENESS * responsiveness
        + W_SPEED * speed
        - W_LOAD * load
        + W_USEFUL * usefulness
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
    if c.rated:
        parts.append(f"{c.useful} of {c.rated} rated answers on this topic useful")
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
    coverage, history (read from city_topic_stats) and ratings, then the open load. Given the
    asker's languages and `top_k`, only the cities that can still be chosen are returned, with
    their load.
    """
    out = [
        Candidate(
            row.city_id,
            row.name,
            row.languages,
            row.covering,
            row.asked or 0,
            row.answered or 0,
            round((row.answer_seconds or 0.0) / row.answer_count / 3600, 3)
            if row.answer_count
            else None,
            0,
            row.rated or 0,
            row.useful or 0,
        )
        for row in await routings.candidate_cities(
            session, topic_id, exclude_city_ids, question_id, now
        )
    ]
    if asker_languages is not None and top_k is not None:
        out = _in_contention(out, asker_languages, top_k)
    if not out:
        return out
    load = await routings.open_load(session, [c.city_id for c in out], now - LOAD_WINDOW)
    return [c._replace(open_load=load.get(c.city_id, 0)) for c in out]


class _Official(NamedTuple):
    """What routing rows need of a recipient (an Official row, or these columns of one)."""

    id: int
    city_id: int | None
    chat_id: int
    locale: str


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
    targets = [(o.id, r) for r in chosen for o in by_city[r.city_id]]
    if not targets:
        return []
    ids = await routings.add_routings(
        session,
        question,
        round_no,
        now,
        [
            {"recipient_id": oid, "city_id": r.city_id, "score": r.score, "reason": r.reason}
            for oid, r in targets
        ],
    )
    await exchange_log.add_routings(
        session, question, now, [(oid, r.city_id) for oid, r in targets]
    )
    due = await calendars.due_after(
        session, {r.city_id for r in chosen}, now, deps.settings.escalation_delay_hours
    )
    if due is not None and (question.escalation_due_at is None or due > question.escalation_due_at):
        question.escalation_due_at = due
    new_cities = sorted({r.city_id for r in chosen} - set(routed_cities))
    if new_cities and question.topic_id is not None:
        await routing_stats.add_routed(session, question.topic_id, new_cities)
    return [
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
    asker = await session.get(Official, question.asker_id)  # usually loaded by the caller
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
    now, city_ids = deps.clock.now(), [r.city_id for r in chosen]
    # Officials away are left out; a deputy stands in for each who named one.
    found = await routings.covering_officials(session, question.topic_id, city_ids, asker.id, now)
    found = [
        *found,
        *await absences.deputies_for(session, question.topic_id, city_ids, asker.id, now),
    ]
    officials = list(
        {row.id: _Official(row.id, row.city_id, row.chat_id, row.locale) for row in found}.values()
    )
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
    """Route by hand to one city: its officials covering the topic, else all its active ones;
    not those away, but the deputies of those among them who named one."""
    city = await catalogue.city_by_id(session, city_id)
    if city is None:
        return []
    routed_cities, already = await routings.routed(session, question.id)
    now = deps.clock.now()
    found: list[Official | _Official] = list(
        await routings.officials_for_city(
            session, city_id, question.topic_id, question.asker_id, already, now
        )
    )
    ids = {o.id for o in found} | set(already)
    for row in await absences.deputies_for(
        session, question.topic_id, [city_id], question.asker_id, now
    ):
        if row.id not in ids:
            ids.add(row.id)
            found.append(_Official(row.id, row.city_id, row.chat_id, row.locale))
    officials = found
    chosen = [Ranked(city.id, city.name, 0.0, reason)]
    return await _write(session, deps, question, question.round, chosen, officials, routed_cities)


async def route_to_official(
    session: AsyncSession, deps: Deps, question: Question, official: Official, reason: str
) -> list[RoutingDecision]:
    """Route to one official who offered to answer (from the weekly digest)."""
    city = await catalogue.city_by_id(session, official.city_id)
    assert city is not None
    routed_cities, _already = await routings.routed(session, question.id)
    chosen = [Ranked(city.id, city.name, 0.0, reason)]
    return await _write(session, deps, question, question.round, chosen, [official], routed_cities)
