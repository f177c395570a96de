"""The exchange: ask a question, deliver it to the routed officials, relay answers and
follow-ups both ways, decline, resolve and thank, and the lists behind /questions and /inbox.

The handler sends (live, interactive traffic); this module decides what to send and records
what was sent. Threads are keyed on ids that never change: every message the bot delivers
is logged with (delivered_chat_id, delivered_message_id), and a reply to it is looked up there.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import exchange_log, participants, repo
from bot.db.models import (
    City,
    ExchangeKind,
    ExchangeMessage,
    Official,
    OfficialStatus,
    OfficialTopic,
    Question,
    QuestionStatus,
    Role,
    Routing,
    RoutingStatus,
    Topic,
)
from bot.runtime import Deps
from bot.services import InvalidInput, NotAllowed, NotFound, ServiceError
from bot.services.identity import REGISTERED, require_role
from bot.services.registration import CityInfo, TopicInfo, city_info, topic_info
from bot.services.routing import (
    OPEN_QUESTION,
    WAITING,
    RoutingDecision,
    route_round,
    route_to_city,
    route_to_official,
)

log = logging.getLogger(__name__)

STEP_TOPIC = "ex.topic"
STEP_COMPOSE = "ex.compose"
STEP_PREVIEW = "ex.preview"
STEP_ANSWER = "ex.answer"

QUESTION_MIN = 5
# Leaves room for the header (topic, asker) so the question reaches people in one message.
QUESTION_MAX = 3500
RECENT_QUESTIONS = 10
INBOX_MAX = 20
TEXT_KINDS = ("text",)
MEDIA_KINDS = (
    "photo",
    "document",
    "voice",
    "video",
    "audio",
    "animation",
    "video_note",
    "location",
    "venue",
)
CLOSED = (QuestionStatus.RESOLVED, QuestionStatus.EXPIRED)
DONE_ROUTING = (RoutingStatus.DECLINED, RoutingStatus.FAILED, RoutingStatus.UNREACHABLE)
# Routing rows whose officials saw the question (a closed one may have been, or not yet).
REACHED = (
    RoutingStatus.DELIVERED,
    RoutingStatus.ANSWERED,
    RoutingStatus.DECLINED,
    RoutingStatus.CLOSED,
)


@dataclass(frozen=True)
class Person:
    official_id: int
    chat_id: int
    locale: str
    name: str
    position: str
    city_id: int | None
    city_name: str
    timezone: str
    status: str = OfficialStatus.ACTIVE


@dataclass(frozen=True)
class Content:
    """A message to relay: its kind, its text or caption, and where to copy it from."""

    content_type: str
    text: str | None
    chat_id: int | None
    message_id: int | None
    # An album (messages sharing a media_group_id) is copied on whole: its ids in order.
    album: tuple[int, ...] = ()
    group: str | None = None  # the media_group_id this message arrived with

    def as_dict(self) -> dict[str, Any]:
        return {
            "content_type": self.content_type,
            "text": self.text,
            "chat_id": self.chat_id,
            "message_id": self.message_id,
            "album": list(self.album),
            "group": self.group,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Content:
        return cls(
            d["content_type"],
            d.get("text"),
            d.get("chat_id"),
            d.get("message_id"),
            tuple(int(i) for i in d.get("album") or ()),
            d.get("group"),
        )


@dataclass(frozen=True)
class Outgoing:
    """One message the handler must send: a question to a recipient, an answer, a follow-up."""

    kind: str  # question | answer | follow_up
    question_id: int
    routing_id: int | None
    sender: Person
    recipient: Person
    topic: TopicInfo
    content: Content
    # A later item of an album already relayed with its header and buttons: sent bare, and
    # the sender is not told again.
    quiet: bool = False


@dataclass(frozen=True)
class Sent:
    """What happened when the handler sent an Outgoing."""

    outgoing: Outgoing
    message_id: int | None
    error: str | None = None
    blocked: bool = False


@dataclass(frozen=True)
class Draft:
    topic: TopicInfo
    asker: Person
    content: Content
    needs_text: bool
    # The album preview already shown (header id, copies' ids): refreshed, not sent again.
    preview: tuple[int, list[int]] | None = None


@dataclass(frozen=True)
class AskResult:
    question_id: int
    topic: TopicInfo
    asker: Person
    deliveries: list[Outgoing]
    organisers: list[Person] = field(default_factory=list)  # told when nobody covers the topic


@dataclass(frozen=True)
class Recorded:
    cities: list[str]  # cities where at least one official received the question, best first
    more: list[Outgoing]  # next-ranked cities tried because a whole city failed or declined


@dataclass(frozen=True)
class Brief:
    """A question as shown in lists and prompts."""

    question_id: int
    topic: TopicInfo
    asker: Person
    text: str | None
    content_type: str
    status: str
    created_at: datetime
    routing_id: int | None = None
    cities: list[str] = field(default_factory=list)
    answers: int = 0


@dataclass(frozen=True)
class Resolved:
    question_id: int
    topic: TopicInfo
    helpers: int


@dataclass(frozen=True)
class Thanks:
    asker: Person
    topic: TopicInfo
    helpers: list[Person]


# ---- loading ---------------------------------------------------------------------------


async def _people(session: AsyncSession, ids: Sequence[int]) -> dict[int, Person]:
    wanted = sorted({i for i in ids if i is not None})
    if not wanted:
        return {}
    rows = await session.execute(
        select(Official, City)
        .outerjoin(City, City.id == Official.city_id)
        .where(Official.id.in_(wanted))
    )
    return {o.id: _person(o, c) for o, c in rows}


async def _people_known(
    session: AsyncSession, ids: Sequence[int], known: dict[int, Person] | None
) -> dict[int, Person]:
    """_people, without reading again the people already loaded in this transaction."""
    known = known or {}
    return {**known, **await _people(session, [i for i in ids if i not in known])}


def _person(o: Official, c: City | None) -> Person:
    return Person(
        o.id,
        o.chat_id,
        o.locale,
        o.name or "—",
        o.position or "—",
        o.city_id,
        c.name if c else "—",
        c.timezone if c else "UTC",
        o.status,
    )


async def _me(session: AsyncSession, tg_user_id: int) -> Official:
    official = await repo.official_by_tg(session, tg_user_id)
    if official is None or official.status not in REGISTERED:
        raise NotAllowed("not_registered")
    return official


async def _topic(session: AsyncSession, topic_id: int) -> TopicInfo:
    topic = await session.get(Topic, topic_id)
    if topic is None:
        raise NotFound("topic")
    return topic_info(topic)


async def _expect(session: AsyncSession, tg_user_id: int, *steps: str) -> dict[str, Any]:
    state = await repo.get_dialog(session, tg_user_id)
    if state is None or state.step not in steps:
        raise ServiceError("stale")
    return dict(state.data or {})


async def _check_rate(session: AsyncSession, deps: Deps, official: Official) -> None:
    now = deps.clock.now()
    limit = deps.settings.ask_rate_limit_per_hour
    since = now - timedelta(hours=1)
    times = (
        await session.scalars(
            select(Question.created_at)
            .where(Question.asker_id == official.id, Question.created_at > since)
            .order_by(Question.created_at)
        )
    ).all()
    if len(times) >= limit:
        wait = times[len(times) - limit] + timedelta(hours=1) - now
        raise ServiceError(
            "rate_limited", limit=limit, minutes=max(1, int(wait.total_seconds() // 60) + 1)
        )


def question_content(q: Question) -> Content:
    return Content(
        q.content_type,
        q.text,
        q.source_chat_id,
        q.source_message_id,
        tuple(q.album_message_ids or ()),
    )


def _outgoings(
    decisions: Sequence[RoutingDecision],
    question: Question,
    asker: Person,
    topic: TopicInfo,
    people: dict[int, Person],
) -> list[Outgoing]:
    content = question_content(question)
    return [
        Outgoing(
            "question", question.id, rec.routing_id, asker, people[rec.official_id], topic, content
        )
        for d in decisions
        for rec in d.recipients
    ]


async def _decisions_to_outgoings(
    session: AsyncSession, question: Question, decisions: Sequence[RoutingDecision]
) -> list[Outgoing]:
    if not decisions:
        return []
    ids = [question.asker_id] + [r.official_id for d in decisions for r in d.recipients]
    people = await _people(session, ids)
    topic = await _topic(session, question.topic_id)
    return _outgoings(decisions, question, people[question.asker_id], topic, people)


async def _organisers(session: AsyncSession, deps: Deps) -> list[Person]:
    rows = await session.execute(
        select(Official, City)
        .outerjoin(City, City.id == Official.city_id)
        .where(
            Official.status == OfficialStatus.ACTIVE,
            Official.role.in_([Role.ORGANISER, Role.ADMIN])
            | Official.tg_user_id.in_(sorted(deps.settings.admin_ids) or [0]),
        )
        .order_by(Official.id)
    )
    return [_person(o, c) for o, c in rows]


# ---- asking ----------------------------------------------------------------------------


async def start_ask(deps: Deps, tg_user_id: int) -> list[TopicInfo]:
    """/ask: the topics to choose from; refused past the hourly limit."""
    async with deps.db.transaction() as session:
        official = await _me(session, tg_user_id)
        if official.city_id is None:
            raise NotAllowed("not_registered")
        await _check_rate(session, deps, official)
        await repo.put_dialog(session, tg_user_id, STEP_TOPIC, {}, deps.clock.now())
        return [topic_info(t) for t in await repo.all_topics(session)]


async def topics(deps: Deps) -> list[TopicInfo]:
    async with deps.db.transaction() as session:
        return [topic_info(t) for t in await repo.all_topics(session)]


async def choose_topic(deps: Deps, tg_user_id: int, topic_id: int) -> TopicInfo:
    async with deps.db.transaction() as session:
        await _expect(session, tg_user_id, STEP_TOPIC, STEP_COMPOSE)
        topic = await _topic(session, topic_id)
        await repo.put_dialog(
            session, tg_user_id, STEP_COMPOSE, {"topic_id": topic.id}, deps.clock.now()
        )
        return topic


async def set_draft(deps: Deps, tg_user_id: int, content: Content) -> Draft:
    """The question as sent; in the preview, text after a captionless media becomes its text,
    and the messages of one album (they arrive one by one) gather into one draft."""
    async with deps.db.transaction() as session:
        data = await _expect(session, tg_user_id, STEP_COMPOSE, STEP_PREVIEW)
        official = await _me(session, tg_user_id)
        old = Content.from_dict(data["draft"]) if data.get("draft") else None
        same_album = (
            old is not None
            and content.group is not None
            and old.group == content.group
            and old.chat_id == content.chat_id
            and content.message_id is not None
        )
        if same_album and old is not None and content.message_id is not None:
            ids = tuple(sorted({*old.album, content.message_id}))
            # The caption travels on one item of the album, whichever that is.
            content = Content(
                old.content_type, old.text or content.text, old.chat_id, ids[0], ids, old.group
            )
        elif content.group is not None and content.message_id is not None:
            content = replace(content, album=(content.message_id,))
        elif (
            old is not None
            and content.content_type == "text"
            and old.content_type != "text"
            and not old.text
        ):
            same_album = bool(old.album)
            content = replace(old, text=content.text)
        text = (content.text or "").strip()
        if content.content_type == "text" and len(text) < QUESTION_MIN:
            raise InvalidInput("too_short", min=QUESTION_MIN)
        if len(text) > QUESTION_MAX:
            raise InvalidInput("too_long", max=QUESTION_MAX, length=len(text))
        content = replace(content, text=text or None)
        topic = await _topic(session, int(data["topic_id"]))
        new_data: dict[str, Any] = {"topic_id": topic.id, "draft": content.as_dict()}
        preview = data.get("preview") if same_album else None
        if preview:
            new_data["preview"] = preview
        await repo.put_dialog(session, tg_user_id, STEP_PREVIEW, new_data, deps.clock.now())
        people = await _people(session, [official.id])
        return Draft(
            topic,
            people[official.id],
            content,
            needs_text=content.content_type != "text" and not content.text,
            preview=(int(preview["head"]), [int(i) for i in preview["copies"]])
            if preview
            else None,
        )


async def remember_preview(deps: Deps, tg_user_id: int, head_id: int, copy_ids: list[int]) -> None:
    """The album preview now on screen, so the next item of the album refreshes it."""
    async with deps.db.transaction() as session:
        state = await repo.get_dialog(session, tg_user_id)
        if state is None or state.step != STEP_PREVIEW:
            return
        data = dict(state.data or {}) | {"preview": {"head": head_id, "copies": copy_ids}}
        await repo.put_dialog(session, tg_user_id, STEP_PREVIEW, data, deps.clock.now())


async def submit(deps: Deps, tg_user_id: int) -> AskResult:
    """Confirm the preview: the question is stored, routed, and logged."""
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        data = await _expect(session, tg_user_id, STEP_PREVIEW)
        official = await _me(session, tg_user_id)
        await _check_rate(session, deps, official)
        draft = Content.from_dict(data["draft"])
        question = Question(
            asker_id=official.id,
            topic_id=int(data["topic_id"]),
            city_id=official.city_id,
            text=draft.text,
            content_type=draft.content_type,
            source_chat_id=draft.chat_id,
            source_message_id=draft.message_id,
            album_message_ids=list(draft.album) or None,
            status=QuestionStatus.OPEN,
            round=1,
            created_at=now,
        )
        session.add(question)
        await session.flush()
        session.add(
            ExchangeMessage(
                question_id=question.id,
                from_official_id=official.id,
                from_city_id=official.city_id,
                kind=ExchangeKind.QUESTION,
                text=draft.text,
                content_type=draft.content_type,
                original_chat_id=draft.chat_id,
                original_message_id=draft.message_id,
                created_at=now,
            )
        )
        decisions = await route_round(session, deps, question, 1)
        await repo.clear_dialog(session, tg_user_id)
        topic = await _topic(session, question.topic_id)
        if not decisions:
            question.organisers_notified_at = now
            asker = (await _people(session, [official.id]))[official.id]
            organisers = [
                p for p in await _organisers(session, deps) if p.official_id != official.id
            ]
            log.info(
                "question nobody_covers question_id=%s topic_id=%s", question.id, question.topic_id
            )
            return AskResult(question.id, topic, asker, [], organisers)
        outs = await _decisions_to_outgoings(session, question, decisions)
        log.info(
            "question asked question_id=%s topic_id=%s recipients=%s",
            question.id,
            question.topic_id,
            len(outs),
        )
        return AskResult(question.id, topic, outs[0].sender, outs)


async def cancel_ask(deps: Deps, tg_user_id: int) -> None:
    async with deps.db.transaction() as session:
        await _expect(session, tg_user_id, STEP_TOPIC, STEP_COMPOSE, STEP_PREVIEW)
        await repo.clear_dialog(session, tg_user_id)


async def _reached_cities(session: AsyncSession, question_id: int) -> list[str]:
    rows = await session.execute(
        select(City.name, func.max(Routing.score).label("score"))
        .join(City, City.id == Routing.city_id)
        .where(
            Routing.question_id == question_id,
            Routing.delivered_at.is_not(None),
            Routing.status.in_(
                [RoutingStatus.DELIVERED, RoutingStatus.ANSWERED, RoutingStatus.CLOSED]
            ),
        )
        .group_by(City.name)
        .order_by(func.max(Routing.score).desc(), City.name)
    )
    return [r.name for r in rows]


async def _mark_unreachable(session: AsyncSession, now: datetime, official_id: int) -> None:
    official = await session.get(Official, official_id)
    if official is not None and official.status == OfficialStatus.ACTIVE:
        official.status = OfficialStatus.UNREACHABLE
        await repo.audit(
            session,
            now,
            "official.unreachable",
            actor=official,
            target_type="official",
            target_id=official.id,
            via="exchange",
        )
        log.info("official unreachable official_id=%s", official.id)


async def _reroute_exhausted(
    session: AsyncSession, deps: Deps, question: Question, city_ids: set[int]
) -> list[Outgoing]:
    """Cities where every routed official declined or could not be reached: try the next."""
    if not city_ids or question.status in CLOSED:
        return []
    rows = await session.execute(
        select(Routing.city_id, Routing.status).where(
            Routing.question_id == question.id, Routing.city_id.in_(sorted(city_ids))
        )
    )
    alive: dict[int, bool] = {c: False for c in city_ids}
    for city_id, status in rows:
        if status not in DONE_ROUTING:
            alive[city_id] = True
    exhausted = sorted(c for c, ok in alive.items() if not ok)
    if not exhausted:
        return []
    decisions = await route_round(session, deps, question, question.round, top_k=len(exhausted))
    log.info(
        "question rerouted question_id=%s exhausted=%s new=%s",
        question.id,
        ",".join(map(str, exhausted)),
        ",".join(str(d.city_id) for d in decisions),
    )
    return await _decisions_to_outgoings(session, question, decisions)


async def record_deliveries(deps: Deps, sent: Sequence[Sent]) -> Recorded:
    """Write what happened to each delivered question; a whole city failing tries the next."""
    now = deps.clock.now()
    if not sent:
        return Recorded([], [])
    question_id = sent[0].outgoing.question_id
    async with deps.db.transaction() as session:
        question = await session.get(Question, question_id)
        assert question is not None
        failed_cities: set[int] = set()
        for s in sent:
            routing = await session.get(Routing, s.outgoing.routing_id)
            if routing is None:
                continue
            if s.message_id is not None:
                # Resolved while it was being sent: delivered, but nobody waits for it.
                routing.status = (
                    RoutingStatus.CLOSED if question.status in CLOSED else RoutingStatus.DELIVERED
                )
                routing.delivered_message_id = s.message_id
                routing.delivered_at = now
                await session.execute(
                    update(ExchangeMessage)
                    .where(
                        ExchangeMessage.question_id == question_id,
                        ExchangeMessage.to_official_id == routing.recipient_id,
                        ExchangeMessage.kind == ExchangeKind.ROUTING,
                    )
                    .values(
                        delivered_chat_id=s.outgoing.recipient.chat_id,
                        delivered_message_id=s.message_id,
                        created_at=now,
                    )
                )
                continue
            routing.status = RoutingStatus.UNREACHABLE if s.blocked else RoutingStatus.FAILED
            routing.last_error = (s.error or "unknown")[:500]
            if s.blocked:
                # Only a person-specific failure moves on to the next city: a failure of the
                # question itself (its original deleted, Telegram down) would fail there too.
                failed_cities.add(routing.city_id)
                await _mark_unreachable(session, now, routing.recipient_id)
            log.info(
                "question delivery failed question_id=%s routing_id=%s blocked=%s",
                question_id,
                routing.id,
                s.blocked,
            )
        await session.flush()
        more = await _reroute_exhausted(session, deps, question, failed_cities)
        return Recorded(await _reached_cities(session, question_id), more)


# ---- answering -------------------------------------------------------------------------


async def _my_routing(
    session: AsyncSession, me: Official, routing_id: int
) -> tuple[Routing, Question]:
    routing = await session.get(Routing, routing_id)
    if routing is None or routing.recipient_id != me.id:
        raise NotAllowed("not_yours")
    question = await session.get(Question, routing.question_id)
    assert question is not None
    return routing, question


async def begin_answer(deps: Deps, tg_user_id: int, routing_id: int) -> Brief:
    """Answer: the next message this official sends goes to the asker."""
    async with deps.db.transaction() as session:
        me = await _me(session, tg_user_id)
        routing, question = await _my_routing(session, me, routing_id)
        if question.status in CLOSED:
            raise ServiceError("closed")
        await repo.put_dialog(
            session, tg_user_id, STEP_ANSWER, {"routing_id": routing.id}, deps.clock.now()
        )
        return await _brief(session, question, routing.id)


async def continue_album(deps: Deps, tg_user_id: int, routing_id: int, group: str) -> None:
    """The answer just relayed was one item of an album, whose items arrive one message each:
    the step stays open for the rest of that album only (step_answer ends it otherwise)."""
    async with deps.db.transaction() as session:
        await repo.put_dialog(
            session,
            tg_user_id,
            STEP_ANSWER,
            {"routing_id": routing_id, "album": group},
            deps.clock.now(),
        )


async def album_continues(deps: Deps, tg_user_id: int, routing_id: int | None, group: str) -> bool:
    """Whether an earlier item of this album already went to this thread (continue_album)."""
    async with deps.db.read() as session:
        state = await repo.get_dialog(session, tg_user_id)
    return (
        state is not None
        and state.step == STEP_ANSWER
        and (state.data or {}).get("album") == group
        and (state.data or {}).get("routing_id") == routing_id
    )


async def end_answer(deps: Deps, tg_user_id: int) -> None:
    async with deps.db.transaction() as session:
        await exchange_log.end_step(session, tg_user_id, STEP_ANSWER)


async def begin_reply(deps: Deps, tg_user_id: int, routing_id: int) -> Person:
    """Reply: the next message goes to the other side of this thread (asker or helper)."""
    async with deps.db.transaction() as session:
        me = await _me(session, tg_user_id)
        routing, question = await _thread(session, me, routing_id)
        other = question.asker_id if me.id == routing.recipient_id else routing.recipient_id
        await repo.put_dialog(
            session, tg_user_id, STEP_ANSWER, {"routing_id": routing.id}, deps.clock.now()
        )
        return (await _people(session, [other]))[other]


async def _thread(session: AsyncSession, me: Official, routing_id: int) -> tuple[Routing, Question]:
    """A routing row this person is a side of: its recipient, or the question's asker."""
    routing = await session.get(Routing, routing_id)
    if routing is None:
        raise NotAllowed("not_yours")
    question = await session.get(Question, routing.question_id)
    assert question is not None
    if me.id not in (routing.recipient_id, question.asker_id):
        raise NotAllowed("not_yours")
    return routing, question


async def _brief(session: AsyncSession, q: Question, routing_id: int | None = None) -> Brief:
    people = await _people(session, [q.asker_id])
    return Brief(
        q.id,
        await _topic(session, q.topic_id),
        people[q.asker_id],
        q.text,
        q.content_type,
        q.status,
        q.created_at,
        routing_id,
    )


async def prepare_relay(
    deps: Deps,
    tg_user_id: int,
    content: Content,
    *,
    routing_id: int | None = None,
    replied: tuple[int, int] | None = None,
) -> Outgoing:
    """Who a message goes to: via Answer or Reply (a routing row), or a Telegram reply.

    Only threads this person is part of are found; a new answer to a closed question is
    refused, a follow-up between people who already talked is not.
    """
    if replied is not None and routing_id is None:
        outgoing = await relay_by_reply(deps, tg_user_id, replied, content)
        if outgoing is not None:
            return outgoing
    async with deps.db.read() as session:  # decides only; record_relay writes
        if replied is not None and routing_id is None:
            # The one-statement lookup found no thread: not registered, or not a relayed message.
            await _me_person(session, tg_user_id)
            raise NotFound("no_thread")
        me, me_person = await _me_person(session, tg_user_id)
        known = {me.id: me_person}
        if routing_id is None:
            raise NotFound("no_thread")
        routing, question = await _thread(session, me, routing_id)
        if me.id == routing.recipient_id:
            return await _answer_outgoing(session, me, routing, question, content, known=known)
        return await _follow_up(session, me, routing, question, content, known=known)


async def _me_person(session: AsyncSession, tg_user_id: int) -> tuple[Official, Person]:
    """The registered official writing, with their city, in one statement."""
    found = await participants.by_tg_with_city(session, tg_user_id)
    if found is None or found[0].status not in REGISTERED:
        raise NotAllowed("not_registered")
    return found[0], _person(*found)


async def relay_by_reply(
    deps: Deps, tg_user_id: int, replied: tuple[int, int], content: Content
) -> Outgoing | None:
    """A Telegram reply: everything the relay needs, the replier's identity included, in one
    statement; None when no thread was found (prepare_relay then asks why)."""
    async with deps.db.read() as session:
        found = await participants.thread_by_reply(session, replied[0], replied[1], tg_user_id)
    if found is None:
        return None
    me = _person(*found.me)
    question, routing, topic = found.question, found.routing, found.topic
    if me.status not in REGISTERED:
        raise NotAllowed("not_registered")
    if found.kind not in (ExchangeKind.ROUTING, ExchangeKind.ANSWER, ExchangeKind.FOLLOW_UP):
        raise NotFound("no_thread")
    if found.kind != ExchangeKind.ROUTING and found.from_official_id is None:
        raise NotFound("no_thread")
    if routing is None:
        raise NotFound("no_thread")
    if topic is None:
        raise NotFound("topic")
    people = {me.official_id: me}
    if found.other is not None:
        other = _person(*found.other)
        people[other.official_id] = other
    info = topic_info(topic)
    if found.kind == ExchangeKind.ROUTING or me.official_id != question.asker_id:
        # As _answer_outgoing.
        first = routing.answered_at is None
        if first and question.status in CLOSED:
            raise ServiceError("closed")
        _check_reachable(people, question.asker_id)
        return Outgoing(
            "answer" if first else "follow_up",
            question.id,
            routing.id,
            me,
            people[question.asker_id],
            info,
            content,
        )
    if routing.answered_at is None and question.status in CLOSED:  # as _follow_up
        raise ServiceError("closed")
    _check_reachable(people, routing.recipient_id)
    return Outgoing(
        "follow_up", question.id, routing.id, me, people[routing.recipient_id], info, content
    )


def _check_reachable(people: dict[int, Person], official_id: int) -> None:
    person = people.get(official_id)
    if person is None or person.status not in REGISTERED:
        raise ServiceError("gone")


async def _follow_up(
    session: AsyncSession,
    me: Official,
    routing: Routing,
    question: Question,
    content: Content,
    topic: TopicInfo | None = None,
    known: dict[int, Person] | None = None,
) -> Outgoing:
    """The asker writes to a helper (an answerer, or a recipient who has not answered yet)."""
    other = routing.recipient_id
    if routing.answered_at is None and question.status in CLOSED:
        raise ServiceError("closed")
    people = await _people_known(session, [me.id, other], known)
    _check_reachable(people, other)
    return Outgoing(
        "follow_up",
        question.id,
        routing.id,
        people[me.id],
        people[other],
        topic or await _topic(session, question.topic_id),
        content,
    )


async def _answer_outgoing(
    session: AsyncSession,
    me: Official,
    routing: Routing,
    question: Question,
    content: Content,
    topic: TopicInfo | None = None,
    known: dict[int, Person] | None = None,
) -> Outgoing:
    first = routing.answered_at is None
    if first and question.status in CLOSED:
        raise ServiceError("closed")
    people = await _people_known(session, [me.id, question.asker_id], known)
    _check_reachable(people, question.asker_id)
    return Outgoing(
        "answer" if first else "follow_up",
        question.id,
        routing.id,
        people[me.id],
        people[question.asker_id],
        topic or await _topic(session, question.topic_id),
        content,
    )


async def record_relay(deps: Deps, tg_user_id: int, sent: Sent) -> int:
    """Log a relayed answer or follow-up (with the delivered ids a reply will be looked up by)."""
    now = deps.clock.now()
    o = sent.outgoing
    kind = ExchangeKind.ANSWER if o.kind == "answer" else ExchangeKind.FOLLOW_UP
    counts_answer = (
        sent.message_id is not None and kind == ExchangeKind.ANSWER and o.routing_id is not None
    )
    row = {
        "question_id": o.question_id,
        "from_official_id": o.sender.official_id,
        "to_official_id": o.recipient.official_id,
        "from_city_id": o.sender.city_id,
        "to_city_id": o.recipient.city_id,
        "kind": kind,
        "text": o.content.text,
        "content_type": o.content.content_type,
        "original_chat_id": o.content.chat_id,
        "original_message_id": o.content.message_id,
        "delivered_chat_id": o.recipient.chat_id if sent.message_id is not None else None,
        "delivered_message_id": sent.message_id,
        "created_at": now,
    }
    async with deps.db.transaction() as session:
        row_id = await exchange_log.record_relay(
            session,
            row,
            answers_routing=o.routing_id if counts_answer else None,
            tg_user_id=tg_user_id,
            answer_step=STEP_ANSWER,
        )
        if sent.blocked:
            await _mark_unreachable(session, now, o.recipient.official_id)
    log.info(
        "relay kind=%s question_id=%s exchange_id=%s delivered=%s",
        kind,
        o.question_id,
        row_id,
        sent.message_id is not None,
    )
    return row_id


async def decline(deps: Deps, tg_user_id: int, routing_id: int) -> list[Outgoing]:
    """Not for me: recorded; when the whole city has declined, the next ranked city is tried."""
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        me = await _me(session, tg_user_id)
        routing, question = await _my_routing(session, me, routing_id)
        if question.status in CLOSED:
            raise ServiceError("closed")
        if routing.status == RoutingStatus.DECLINED:
            raise ServiceError("already_declined")
        if routing.answered_at is not None:
            raise ServiceError("already_answered")
        routing.status = RoutingStatus.DECLINED
        session.add(
            ExchangeMessage(
                question_id=question.id,
                from_official_id=me.id,
                to_official_id=question.asker_id,
                from_city_id=me.city_id,
                to_city_id=question.city_id,
                kind=ExchangeKind.DECLINE,
                content_type="text",
                created_at=now,
            )
        )
        state = await repo.get_dialog(session, tg_user_id)
        if state is not None and state.step == STEP_ANSWER:
            await repo.clear_dialog(session, tg_user_id)
        await session.flush()
        log.info("question declined question_id=%s routing_id=%s", question.id, routing.id)
        return await _reroute_exhausted(session, deps, question, {routing.city_id})


# ---- closing ---------------------------------------------------------------------------


async def _my_question(session: AsyncSession, me: Official, question_id: int) -> Question:
    question = await session.get(Question, question_id)
    if question is None or question.asker_id != me.id:
        raise NotAllowed("not_asker")
    return question


async def resolve(deps: Deps, tg_user_id: int, question_id: int) -> Resolved:
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        me = await _me(session, tg_user_id)
        question = await _my_question(session, me, question_id)
        if question.status in CLOSED:
            raise ServiceError("closed")
        question.status = QuestionStatus.RESOLVED
        question.resolved_at = now
        # No longer waiting for anyone: this is what keeps the routing's open load honest.
        await session.execute(
            update(Routing)
            .where(Routing.question_id == question.id, Routing.status.in_(WAITING))
            .values(status=RoutingStatus.CLOSED)
        )
        session.add(
            ExchangeMessage(
                question_id=question.id,
                from_official_id=me.id,
                from_city_id=me.city_id,
                kind=ExchangeKind.RESOLVED,
                content_type="text",
                created_at=now,
            )
        )
        helpers = await session.scalar(
            select(func.count())
            .select_from(Routing)
            .where(Routing.question_id == question.id, Routing.answered_at.is_not(None))
        )
        log.info("question resolved question_id=%s", question.id)
        return Resolved(question.id, await _topic(session, question.topic_id), int(helpers or 0))


async def thank(deps: Deps, tg_user_id: int, question_id: int) -> Thanks:
    """Tell the officials who answered a resolved question that it helped (once)."""
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        me = await _me(session, tg_user_id)
        question = await _my_question(session, me, question_id)
        if question.status != QuestionStatus.RESOLVED:
            raise ServiceError("not_resolved")
        thanked = await session.scalar(
            select(func.count())
            .select_from(ExchangeMessage)
            .where(
                ExchangeMessage.question_id == question.id,
                ExchangeMessage.kind == ExchangeKind.RESOLVED,
                ExchangeMessage.to_official_id.is_not(None),
            )
        )
        if thanked:
            raise ServiceError("already_thanked")
        helper_ids = (
            await session.scalars(
                select(Routing.recipient_id)
                .where(Routing.question_id == question.id, Routing.answered_at.is_not(None))
                .order_by(Routing.recipient_id)
            )
        ).all()
        people = await _people(session, [me.id, *helper_ids])
        helpers = [people[h] for h in helper_ids]
        for h in helpers:
            session.add(
                ExchangeMessage(
                    question_id=question.id,
                    from_official_id=me.id,
                    to_official_id=h.official_id,
                    from_city_id=me.city_id,
                    to_city_id=h.city_id,
                    kind=ExchangeKind.RESOLVED,
                    text="thanks",
                    content_type="text",
                    created_at=now,
                )
            )
        return Thanks(people[me.id], await _topic(session, question.topic_id), helpers)


# ---- lists -----------------------------------------------------------------------------


async def my_questions(deps: Deps, tg_user_id: int) -> list[Brief]:
    """Open questions, then the most recent closed ones."""
    async with deps.db.transaction() as session:
        me = await _me(session, tg_user_id)
        open_qs = (
            await session.scalars(
                select(Question)
                .where(Question.asker_id == me.id, Question.status.in_(OPEN_QUESTION))
                .order_by(Question.created_at.desc(), Question.id.desc())
            )
        ).all()
        recent = (
            await session.scalars(
                select(Question)
                .where(Question.asker_id == me.id, Question.status.in_(CLOSED))
                .order_by(Question.created_at.desc(), Question.id.desc())
                .limit(RECENT_QUESTIONS)
            )
        ).all()
        questions = [*open_qs, *recent]
        if not questions:
            return []
        ids = [q.id for q in questions]
        cities: dict[int, list[str]] = {}
        for qid, name in await session.execute(
            select(Routing.question_id, City.name)
            .join(City, City.id == Routing.city_id)
            .where(
                Routing.question_id.in_(ids),
                Routing.delivered_at.is_not(None),
                Routing.status.in_(REACHED),
            )
            .group_by(Routing.question_id, City.name)
            .order_by(Routing.question_id, City.name)
        ):
            cities.setdefault(qid, []).append(name)
        answers = {
            qid: int(n)
            for qid, n in await session.execute(
                select(ExchangeMessage.question_id, func.count())
                .where(
                    ExchangeMessage.question_id.in_(ids),
                    ExchangeMessage.kind == ExchangeKind.ANSWER,
                )
                .group_by(ExchangeMessage.question_id)
            )
        }
        people = await _people(session, [me.id])
        topics = {t.id: topic_info(t) for t in await repo.all_topics(session)}
        return [
            Brief(
                q.id,
                topics[q.topic_id],
                people[me.id],
                q.text,
                q.content_type,
                q.status,
                q.created_at,
                None,
                cities.get(q.id, []),
                int(answers.get(q.id, 0)),
            )
            for q in questions
        ]


async def inbox(deps: Deps, tg_user_id: int) -> list[Brief]:
    """Questions routed to this official that still wait for their answer."""
    async with deps.db.transaction() as session:
        me = await _me(session, tg_user_id)
        rows = (
            await session.execute(
                select(Routing, Question)
                .join(Question, Question.id == Routing.question_id)
                .where(
                    Routing.recipient_id == me.id,
                    Routing.status.in_([RoutingStatus.PENDING, RoutingStatus.DELIVERED]),
                    Question.status.in_(OPEN_QUESTION),
                )
                .order_by(Question.created_at, Question.id)
                .limit(INBOX_MAX)
            )
        ).all()
        people = await _people(session, [q.asker_id for _r, q in rows])
        topics = {t.id: topic_info(t) for t in await repo.all_topics(session)}
        return [
            Brief(
                q.id,
                topics[q.topic_id],
                people[q.asker_id],
                q.text,
                q.content_type,
                q.status,
                q.created_at,
                r.id,
            )
            for r, q in rows
        ]


# ---- organisers: routing by hand -------------------------------------------------------


async def manual_route_options(
    deps: Deps, tg_user_id: int, question_id: int
) -> tuple[Brief, list[CityInfo]]:
    async with deps.db.transaction() as session:
        await require_role(session, deps.settings, tg_user_id, Role.ORGANISER)
        question = await session.get(Question, question_id)
        if question is None:
            raise NotFound("question")
        if question.status in CLOSED:
            raise ServiceError("closed")
        city_ids = (
            await session.scalars(
                select(Official.city_id)
                .where(
                    Official.status == OfficialStatus.ACTIVE,
                    Official.city_id.is_not(None),
                    Official.city_id != (question.city_id or -1),
                )
                .distinct()
            )
        ).all()
        cities = (
            await session.scalars(
                select(City).where(City.id.in_(list(city_ids) or [-1])).order_by(City.name, City.id)
            )
        ).all()
        return await _brief(session, question), [city_info(c) for c in cities]


async def route_by_hand(
    deps: Deps, tg_user_id: int, question_id: int, city_id: int
) -> list[Outgoing]:
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        actor = await require_role(session, deps.settings, tg_user_id, Role.ORGANISER)
        question = await session.get(Question, question_id)
        if question is None:
            raise NotFound("question")
        if question.status in CLOSED:
            raise ServiceError("closed")
        if city_id == question.city_id:
            raise InvalidInput("own_city")
        who = f"official #{actor.id}" if actor else f"admin {tg_user_id}"
        decisions = await route_to_city(
            session, deps, question, city_id, f"routed by hand by {who}"
        )
        if not decisions:
            raise ServiceError("nobody_in_city")
        await repo.audit(
            session,
            now,
            "question.routed_by_hand",
            actor=actor,
            actor_tg_id=tg_user_id,
            target_type="question",
            target_id=question.id,
            city_id=city_id,
        )
        return await _decisions_to_outgoings(session, question, decisions)


# ---- the weekly digest: an official offers to answer ------------------------------------


async def volunteer(deps: Deps, tg_user_id: int, question_id: int) -> list[Outgoing]:
    """An official offers to answer an open question in their topics from the weekly digest:
    it is routed to them (as by hand, the reason saying so) and delivered like any other."""
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        me = await _me(session, tg_user_id)
        question = await session.get(Question, question_id)
        if question is None:
            raise NotFound("question")
        if question.asker_id == me.id:
            raise ServiceError("own_question")
        if question.status in CLOSED:
            raise ServiceError("closed")
        covers = await session.scalar(
            select(func.count())
            .select_from(OfficialTopic)
            .where(OfficialTopic.official_id == me.id, OfficialTopic.topic_id == question.topic_id)
        )
        if not covers or me.status != OfficialStatus.ACTIVE or me.city_id is None:
            raise NotAllowed("not_yours")
        mine = await session.scalar(
            select(Routing).where(Routing.question_id == question.id, Routing.recipient_id == me.id)
        )
        if mine is not None:
            if mine.answered_at is not None:
                raise ServiceError("already_answered")
            if mine.status == RoutingStatus.DECLINED:
                raise ServiceError("already_declined")
            raise ServiceError("already_routed")
        decisions = await route_to_official(
            session, deps, question, me, "offered to answer from the weekly digest"
        )
        await repo.audit(
            session,
            now,
            "question.volunteered",
            actor=me,
            actor_tg_id=tg_user_id,
            target_type="question",
            target_id=question.id,
        )
        log.info("question volunteered question_id=%s official_id=%s", question.id, me.id)
        return await _decisions_to_outgoings(session, question, decisions)


# ---- for the follow-up jobs (nudges, escalation) ---------------------------------------


async def people(session: AsyncSession, ids: Sequence[int]) -> dict[int, Person]:
    return await _people(session, ids)


async def topic_of(session: AsyncSession, topic_id: int) -> TopicInfo:
    return await _topic(session, topic_id)


async def outgoings_for(
    session: AsyncSession, question: Question, decisions: Sequence[RoutingDecision]
) -> list[Outgoing]:
    return await _decisions_to_outgoings(session, question, decisions)


async def organisers(session: AsyncSession, deps: Deps) -> list[Person]:
    return await _organisers(session, deps)
