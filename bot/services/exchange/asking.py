"""Asking a question: /ask, the topic, the draft and its preview (albums gather into one),
the hourly rate limit, and submitting it (stored, routed, logged)."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import catalogue, dialogs, exchange_log, questions
from bot.db.models import ExchangeKind, Official, Question, QuestionStatus
from bot.runtime import Deps
from bot.services.catalogue import TopicInfo, topic_info
from bot.services.errors import ErrorCode, InvalidInput, NotAllowed, ServiceError
from bot.services.exchange import lookups
from bot.services.exchange.types import (
    QUESTION_MAX,
    QUESTION_MIN,
    STEP_COMPOSE,
    STEP_PREVIEW,
    STEP_TOPIC,
    AskResult,
    Content,
    Draft,
)
from bot.services.routing import route_round

log = logging.getLogger(__name__)


async def check_rate(session: AsyncSession, deps: Deps, official: Official) -> None:
    now = deps.clock.now()
    limit = deps.settings.ask_rate_limit_per_hour
    since = now - timedelta(hours=1)
    times = await questions.asked_since(session, official.id, since)
    if len(times) >= limit:
        wait = times[len(times) - limit] + timedelta(hours=1) - now
        raise ServiceError(
            ErrorCode.RATE_LIMITED, limit=limit, minutes=max(1, int(wait.total_seconds() // 60) + 1)
        )


async def start_ask(deps: Deps, tg_user_id: int) -> list[TopicInfo]:
    """/ask: the topics to choose from; refused past the hourly limit."""
    async with deps.db.transaction() as session:
        official = await lookups.registered(session, tg_user_id)
        if official.city_id is None:
            raise NotAllowed(ErrorCode.NOT_REGISTERED)
        await check_rate(session, deps, official)
        await dialogs.put_dialog(session, tg_user_id, STEP_TOPIC, {}, deps.clock.now())
        return [topic_info(t) for t in await catalogue.all_topics(session)]


async def topics(deps: Deps) -> list[TopicInfo]:
    async with deps.db.transaction() as session:
        return [topic_info(t) for t in await catalogue.all_topics(session)]


async def choose_topic(deps: Deps, tg_user_id: int, topic_id: int) -> TopicInfo:
    async with deps.db.transaction() as session:
        await lookups.expect_step(session, tg_user_id, STEP_TOPIC, STEP_COMPOSE)
        topic = await lookups.topic_of(session, topic_id)
        await dialogs.put_dialog(
            session, tg_user_id, STEP_COMPOSE, {"topic_id": topic.id}, deps.clock.now()
        )
        return topic


async def set_draft(deps: Deps, tg_user_id: int, content: Content) -> Draft:
    """The question as sent; in the preview, text after a captionless media becomes its text,
    and the messages of one album (they arrive one by one) gather into one draft."""
    async with deps.db.transaction() as session:
        data = await lookups.expect_step(session, tg_user_id, STEP_COMPOSE, STEP_PREVIEW)
        official = await lookups.registered(session, tg_user_id)
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
            raise InvalidInput(ErrorCode.TOO_SHORT, min=QUESTION_MIN)
        if len(text) > QUESTION_MAX:
            raise InvalidInput(ErrorCode.TOO_LONG, max=QUESTION_MAX, length=len(text))
        content = replace(content, text=text or None)
        topic = await lookups.topic_of(session, int(data["topic_id"]))
        new_data: dict[str, Any] = {"topic_id": topic.id, "draft": content.as_dict()}
        preview = data.get("preview") if same_album else None
        if preview:
            new_data["preview"] = preview
        await dialogs.put_dialog(session, tg_user_id, STEP_PREVIEW, new_data, deps.clock.now())
        people = await lookups.load_people(session, [official.id])
        return Draft(
            topic,
            people[official.id],
            content,
            needs_text=content.content_type != "text" and not content.text,
            preview=(int(preview["head"]), [int(i) for i in preview["copies"]])
            if preview
            else None,
        )


async def current_draft(deps: Deps, tg_user_id: int) -> Draft:
    """The question being written, as set_draft last left it (for "Ask anyway")."""
    async with deps.db.read() as session:
        data = await lookups.expect_step(session, tg_user_id, STEP_PREVIEW)
        official = await lookups.registered(session, tg_user_id)
        content = Content.from_dict(data["draft"])
        topic = await lookups.topic_of(session, int(data["topic_id"]))
        people = await lookups.load_people(session, [official.id])
        return Draft(
            topic, people[official.id], content, content.content_type != "text" and not content.text
        )


async def remember_preview(deps: Deps, tg_user_id: int, head_id: int, copy_ids: list[int]) -> None:
    """The album preview now on screen, so the next item of the album refreshes it."""
    async with deps.db.transaction() as session:
        state = await dialogs.get_dialog(session, tg_user_id)
        if state is None or state.step != STEP_PREVIEW:
            return
        data = dict(state.data or {}) | {"preview": {"head": head_id, "copies": copy_ids}}
        await dialogs.put_dialog(session, tg_user_id, STEP_PREVIEW, data, deps.clock.now())


async def store_draft(
    session: AsyncSession, deps: Deps, tg_user_id: int, status: QuestionStatus
) -> tuple[Official, Content, Question]:
    """The previewed draft stored as a question with `status` (within the asking rate)."""
    now = deps.clock.now()
    data = await lookups.expect_step(session, tg_user_id, STEP_PREVIEW)
    official = await lookups.registered(session, tg_user_id)
    await check_rate(session, deps, official)
    draft = Content.from_dict(data["draft"])
    question = await questions.add(
        session,
        asker_id=official.id,
        topic_id=int(data["topic_id"]),
        city_id=official.city_id,
        text=draft.text,
        content_type=draft.content_type,
        source_chat_id=draft.chat_id,
        source_message_id=draft.message_id,
        album_message_ids=list(draft.album) or None,
        status=status,
        round=1,
        created_at=now,
        resolved_at=now if status == QuestionStatus.RESOLVED else None,
    )
    return official, draft, question


async def submit(deps: Deps, tg_user_id: int) -> AskResult:
    """Confirm the preview: the question is stored, routed, and logged."""
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        official, draft, question = await store_draft(
            session, deps, tg_user_id, QuestionStatus.OPEN
        )
        exchange_log.add(
            session,
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
        decisions = await route_round(session, deps, question, 1)
        await dialogs.clear_dialog(session, tg_user_id)
        topic = await lookups.topic_of(session, question.topic_id)
        if not decisions:
            question.organisers_notified_at = now
            asker = (await lookups.load_people(session, [official.id]))[official.id]
            organisers = [
                p for p in await lookups.organisers(session, deps) if p.official_id != official.id
            ]
            log.info(
                "question nobody_covers question_id=%s topic_id=%s", question.id, question.topic_id
            )
            return AskResult(
                question.id, topic, asker, [], organisers, question.text, question.content_type
            )
        outs = await lookups.outgoings_for(session, question, decisions)
        log.info(
            "question asked question_id=%s topic_id=%s recipients=%s",
            question.id,
            question.topic_id,
            len(outs),
        )
        return AskResult(question.id, topic, outs[0].sender, outs)


async def cancel_ask(deps: Deps, tg_user_id: int) -> None:
    async with deps.db.transaction() as session:
        await lookups.expect_step(session, tg_user_id, STEP_TOPIC, STEP_COMPOSE, STEP_PREVIEW)
        await dialogs.clear_dialog(session, tg_user_id)
