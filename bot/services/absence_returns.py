"""The summary an official gets once when an absence ends (its last day passed, or they came
back early): what reached their city on their topics meanwhile, and who stood in for them.
Written to the outbox (it waits for the end of their quiet hours), once: the absence is
claimed and marked in the same transaction."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.db import absences, catalogue, officials, outbox
from bot.db.models import OfficialStatus, QuestionStatus
from bot.runtime import Deps
from bot.services.quiet_hours import not_before

log = logging.getLogger(__name__)

BATCH = 100


@dataclass(frozen=True)
class ReturnSummary:
    """Rendered by the handler layer in the official's locale."""

    locale: str
    city: str
    first_day: date
    last_day: date
    deputy: str | None
    routed: int  # questions on their topics that reached their city while they were away
    answered_here: int  # of those, answered by someone of their city
    still_open: int  # of those, still without any answer
    city_names: Mapping[str, str] = field(default_factory=dict)  # locale -> the city's name


RenderReturn = Callable[[ReturnSummary], str]


async def run_returns(deps: Deps, now: datetime, render: RenderReturn) -> int:
    """Write the summary of every absence that ended; returns how many."""
    written = 0
    async with deps.db.transaction() as session:
        for absence in await absences.over(session, now, BATCH):
            absence.summary_sent_at = now
            official = await officials.official_by_id(session, absence.official_id)
            if official is None or official.status != OfficialStatus.ACTIVE:
                continue
            city = await catalogue.city_by_id(session, official.city_id)
            zone = ZoneInfo(city.timezone if city else "UTC")
            end = min(absence.ends_at, absence.ended_at or absence.ends_at)
            # From when it was set, if later than its first day: what came before was theirs.
            begin = max(absence.starts_at, absence.created_at)
            rows = await absences.routed_during(session, official, begin, end)
            deputy = (
                await officials.official_by_id(session, absence.deputy_id)
                if absence.deputy_id
                else None
            )
            last = min(end, absence.ends_at - timedelta(seconds=1)).astimezone(zone).date()
            summary = ReturnSummary(
                official.locale,
                city.name if city else "",
                absence.starts_at.astimezone(zone).date(),
                max(last, absence.starts_at.astimezone(zone).date()),
                deputy.name if deputy else None,
                len(rows),
                sum(1 for r in rows if r.answered_here),
                sum(1 for r in rows if r.status == QuestionStatus.OPEN),
                dict(city.names or {}) if city else {},
            )
            await outbox.enqueue(
                session,
                [
                    outbox.delivery_row(
                        dedupe_key=f"away:{absence.id}",
                        source="notice",
                        chat_id=official.chat_id,
                        recipient_id=official.id,
                        text=render(summary),
                        now=now,
                        not_before=not_before(official, now, city.timezone if city else None),
                    )
                ],
            )
            written += 1
            log.info("absence summary queued official_id=%s absence_id=%s", official.id, absence.id)
    return written
