"""The weekly digest: for officials who opted in, the open questions in their topics that
nobody has answered yet, sent at a local morning hour on a working day (a slot on a local
weekend day or holiday moves to the next working morning) and held back by quiet hours.

Each official's digest slot is the configured weekday and hour in their city's timezone.
`official.last_digest_at` records the last slot handled, so a restart or a second replica
never sends a week twice (the outbox dedupe key repeats the guarantee).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot import city_calendar
from bot.db import digests, officials, outbox
from bot.db.models import Official
from bot.runtime import Deps
from bot.services import calendars
from bot.services.quiet_hours import not_before

log = logging.getLogger(__name__)

EXCERPT = 160
PER_DIGEST = 10


@dataclass(frozen=True)
class DigestQuestion:
    id: int
    topic_names: dict[str, str]
    topic_slug: str
    city_name: str | None
    asked_at: datetime
    excerpt: str | None  # None: the question is a photo, document or other media
    content_type: str
    city_names: dict[str, str] = field(default_factory=dict)  # the city's name per language


@dataclass(frozen=True)
class DigestNotice:
    """One official's digest, rendered by the handler layer in their locale."""

    locale: str
    timezone: str
    questions: list[DigestQuestion]
    total: int  # open unanswered questions in their topics, of which `questions` are the newest


Render = Callable[[DigestNotice], tuple[str, dict[str, Any] | None]]  # text, reply markup


@dataclass
class DigestReport:
    sent: list[int] = field(default_factory=list)  # official ids
    empty: list[int] = field(default_factory=list)  # nothing open: no message this week
    missed: list[int] = field(default_factory=list)  # slot too long ago: wait for the next


def last_slot(now: datetime, timezone: str, weekday: int, hour: int) -> datetime:
    """The latest digest time (weekday at hour, local) not after `now`, in UTC."""
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    day = local.date() - timedelta(days=(local.weekday() - weekday) % 7)
    slot = datetime.combine(day, time(hour), tzinfo=zone).astimezone(UTC)
    if slot > now:
        slot = datetime.combine(day - timedelta(days=7), time(hour), tzinfo=zone).astimezone(UTC)
    return slot


async def _open_questions(
    session: AsyncSession, official: Official
) -> tuple[list[DigestQuestion], int]:
    topic_ids = await officials.topic_ids_of(session, official.id)
    if not topic_ids:
        return [], 0
    total = await digests.count_unanswered(session, topic_ids, official.id)
    rows = await digests.newest_unanswered(session, topic_ids, official.id, PER_DIGEST)
    questions = [
        DigestQuestion(
            id=q.id,
            topic_names=dict(t.names or {}),
            topic_slug=t.slug,
            city_name=c.name if c else None,
            asked_at=q.created_at,
            excerpt=(q.text[:EXCERPT] + ("…" if len(q.text) > EXCERPT else "")) if q.text else None,
            content_type=q.content_type,
            city_names=dict(c.names or {}) if c else {},
        )
        for q, t, c in rows
    ]
    return questions, total


async def run_digests(deps: Deps, now: datetime, render: Render, limit: int = 200) -> DigestReport:
    """Write this week's digest for every opted-in official whose local digest time has come."""
    settings = deps.settings
    catch_up = timedelta(hours=settings.digest_catch_up_hours)
    report = DigestReport()
    async with deps.db.transaction() as session:
        # A handled slot is at least a week before the next one: a cheap filter before the
        # exact per-timezone check below.
        rows = await digests.officials_due(session, now, now - timedelta(days=6), limit)
        for official, city in rows:
            timezone = city.timezone if city else "UTC"
            slot = last_slot(now, timezone, settings.digest_weekday, settings.digest_hour)
            if official.last_digest_at is not None and official.last_digest_at >= slot:
                continue
            # Working days only: a slot on a local weekend day or holiday moves to the next
            # working morning, and waits for it.
            send_at = (
                city_calendar.on_working_day(calendars.of_city(city), slot, settings.digest_hour)
                if city
                else slot
            )
            if send_at > now:
                continue
            official.last_digest_at = slot
            if now - send_at > catch_up:
                report.missed.append(official.id)
                log.info("digest missed official_id=%s slot=%s", official.id, slot.isoformat())
                continue
            questions, total = await _open_questions(session, official)
            if not questions:
                report.empty.append(official.id)
                continue
            text, keyboard = render(DigestNotice(official.locale, timezone, questions, total))
            await outbox.enqueue(
                session,
                [
                    outbox.delivery_row(
                        dedupe_key=f"d:{official.id}:{slot.strftime('%Y%m%dT%H%MZ')}",
                        source="digest",
                        chat_id=official.chat_id,
                        recipient_id=official.id,
                        text=text,
                        reply_markup=keyboard,
                        now=now,
                        not_before=not_before(official, now, timezone),
                    )
                ],
            )
            report.sent.append(official.id)
    if report.sent or report.missed:
        log.info(
            "digests run sent=%s empty=%s missed=%s",
            len(report.sent),
            len(report.empty),
            len(report.missed),
        )
    return report
