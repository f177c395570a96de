"""Erasing a person's data (/deleteme, or privacy declined): what is kept is anonymous.

Erasure withdraws the person's open questions (each official who received one is told, through
the outbox, and its buttons no longer act), then removes every id, chat id and text of theirs
from every table (bot/db/erasure.py); the exchange's rows stay, without them, so counts,
dates, cities and topics still add up. Nothing is copied from their chat or sent to it again.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import audit_log, catalogue, dialogs, erasure, officials, outbox
from bot.db.models import Official, OfficialStatus, Role
from bot.runtime import Deps
from bot.services import library
from bot.services.catalogue import TopicInfo, topic_info
from bot.services.profile import require_official
from bot.services.quiet_hours import not_before
from bot.services.routing import OPEN_QUESTION, WAITING

# A text of theirs is looked for, where others' messages may quote it (nudges, digests), by its
# first characters: every excerpt shown is longer. Shorter texts ("Yes", "Thanks!") say
# nothing of the person and would match unrelated messages.
PROBE_CHARS = 40
TEXT_MIN = 12
NAME_MIN = 3


@dataclass(frozen=True)
class WithdrawnNotice:
    """A question an official received was withdrawn; rendered in the recipient's locale. It
    names the question by its topic, city and date only: nothing of the person who left."""

    locale: str
    timezone: str
    topic: TopicInfo
    city_name: str | None
    asked_at: datetime
    city_names: dict[str, str] = field(default_factory=dict)  # the city's name per language


RenderWithdrawn = Callable[[WithdrawnNotice], str]


async def withdraw_open_questions(
    session: AsyncSession, official: Official
) -> tuple[int, list[erasure.Received]]:
    """Within a service's transaction, when a person leaves (erased or removed): their open
    questions are withdrawn (no nudges, escalations or answers any more). Returns how many, and
    who received them, to be told with `tell_recipients`."""
    withdrawn = await erasure.withdraw_questions(session, official.id, OPEN_QUESTION, WAITING)
    return len(withdrawn), await erasure.received(session, withdrawn)


async def strip_personal_data(session: AsyncSession, official: Official) -> None:
    """Within a service's transaction: drop what the profile says about the person."""
    official.name = None
    official.name_latin = None
    official.position = None
    official.languages = []
    official.quiet_start = official.quiet_end = None
    official.digest_opt_in = False
    await officials.drop_topics(session, official.id)


def words_of(name: str | None, texts: Iterable[str]) -> tuple[str, ...]:
    """What of the person may stand in other rows: the name, and the start of each text they
    wrote, as typed and as escaped in HTML messages."""
    found = {name.strip()} if name and len(name.strip()) >= NAME_MIN else set()
    found |= {t.strip()[:PROBE_CHARS] for t in texts if len(t.strip()) >= TEXT_MIN}
    return tuple(sorted(found | {html.escape(w) for w in found}))


async def erase(deps: Deps, tg_user_id: int, render: RenderWithdrawn) -> None:
    """Erase a person's data: open questions withdrawn (recipients told), every id and text of
    theirs removed; the exchange log keeps anonymous rows."""
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        official = await require_official(session, tg_user_id)
        traces = erasure.Traces(
            official.id,
            tuple({official.tg_user_id, official.chat_id}),
            words_of(official.name, await erasure.texts_of(session, official.id)),
        )
        withdrawn, told = await withdraw_open_questions(session, official)
        await audit_log.record(
            session,
            now,
            "official.erased",
            actor=official,
            target_type="official",
            target_id=official.id,
            withdrawn=withdrawn,
        )
        await library.erase_person(session, official.id)
        await erasure.remove_traces(session, traces)
        await strip_personal_data(session, official)
        await dialogs.clear_dialog(session, tg_user_id)
        # Telegram ids cannot be empty: a value no user or chat can have.
        official.tg_user_id = -official.id
        official.chat_id = -official.id
        official.invite_id = None
        official.status = OfficialStatus.ERASED
        official.role = Role.OFFICIAL
        official.erased_at = now
        await tell_recipients(session, now, told, official.city_id, render)


async def tell_recipients(
    session: AsyncSession,
    now: datetime,
    told: list[erasure.Received],
    city_id: int | None,
    render: RenderWithdrawn,
) -> None:
    """One notice through the outbox to each official who received a withdrawn question of a
    person from this city (after their quiet hours)."""
    city = await catalogue.city_by_id(session, city_id) if told else None
    topics: dict[int, TopicInfo] = {}
    rows = []
    for r in told:
        q = r.question
        if q.topic_id not in topics:
            found = await catalogue.topic_by_id(session, q.topic_id)
            if found is None:
                continue
            topics[q.topic_id] = topic_info(found)
        timezone = r.timezone or "UTC"
        notice = WithdrawnNotice(
            r.recipient.locale,
            timezone,
            topics[q.topic_id],
            city.name if city else None,
            q.created_at,
            dict(city.names or {}) if city else {},
        )
        rows.append(
            outbox.delivery_row(
                dedupe_key=f"w:{r.routing_id}",
                source="notice",
                chat_id=r.recipient.chat_id,
                recipient_id=r.recipient.id,
                text=render(notice),
                now=now,
                not_before=not_before(r.recipient, now, timezone),
            )
        )
    await outbox.enqueue(session, rows)
