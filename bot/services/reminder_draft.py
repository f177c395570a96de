"""The /remind draft: an organiser composes a reminder step by step (message, audience, when,
an optional event time), then confirms it. The draft lives in `dialog_state` (steps
``remind.*``); confirming writes the reminder with its rule and first run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import audit_log, dialogs, officials
from bot.db import reminders as stored
from bot.db.models import Reminder, ReminderStatus, Role
from bot.runtime import Deps
from bot.services import recurrence as rec
from bot.services.errors import ErrorCode, InvalidInput, NotFound, ServiceError
from bot.services.identity import require_role
from bot.services.local_time import organiser_timezone, parse_local_datetime, parse_time_of_day
from bot.services.reminder_audience import AUDIENCE_KINDS, Option, named, options
from bot.services.reminder_list import ReminderInfo, info_of
from bot.services.targeting import resolve_recipients

log = logging.getLogger(__name__)

TEXT_MAX = 3500  # leaves room for the header within Telegram's 4096 characters
STEP_MESSAGE = "remind.message"
STEP_AUDIENCE = "remind.audience"
STEP_PICK = "remind.pick"  # choosing countries / cities / topics
STEP_WHEN = "remind.when"
STEP_ONCE = "remind.once"  # typed date and time
STEP_WEEKDAY = "remind.weekday"
STEP_TIME = "remind.time"  # typed time of day
STEP_EVENT_ASK = "remind.event_ask"
STEP_EVENT = "remind.event"  # typed event date and time
STEP_CONFIRM = "remind.confirm"
WHEN_KINDS = ("once", rec.WEEKLY, rec.MONTHLY)


@dataclass(frozen=True)
class Draft:
    step: str
    data: dict[str, Any]
    timezone: str  # the organiser's city timezone: typed times are read in it
    options: list[Option] = field(default_factory=list)
    next_run_at: datetime | None = None
    recipients: int | None = None
    audience: tuple[str, list[Option]] = ("all", [])


async def _open_draft(
    session: AsyncSession, deps: Deps, tg_user_id: int, *steps: str
) -> tuple[dict[str, Any], str, str]:
    """The organiser's draft if it is at one of `steps`, with their timezone; else 'stale'."""
    official = await require_role(session, deps.settings, tg_user_id, Role.ORGANISER)
    state = await dialogs.get_dialog(session, tg_user_id)
    if state is None or not state.step.startswith("remind.") or (steps and state.step not in steps):
        raise ServiceError(ErrorCode.STALE)
    return dict(state.data or {}), state.step, await organiser_timezone(session, official)


def _next_run(data: dict[str, Any], timezone: str, now: datetime) -> datetime | None:
    when = data.get("when") or {}
    if when.get("kind") == "once":
        return datetime.fromisoformat(when["run_at"])
    if when.get("kind") in (rec.WEEKLY, rec.MONTHLY) and "time" in when:
        return rec.next_after(_rule_of(when, timezone, now), timezone, now)
    return None


def _rule_of(when: dict[str, Any], timezone: str, now: datetime) -> dict[str, Any]:
    hour, minute = (int(x) for x in when["time"].split(":"))
    return rec.make_rule(
        when["kind"], int(when["weekday"]), hour, minute, now, timezone, nth=int(when.get("nth", 1))
    )


async def _save(
    session: AsyncSession,
    deps: Deps,
    tg_user_id: int,
    step: str,
    data: dict[str, Any],
    timezone: str,
) -> Draft:
    await dialogs.put_dialog(session, tg_user_id, step, data, deps.clock.now())
    choices: list[Option] = []
    if step == STEP_PICK:
        kind = data["pick"]
        choices = await options(session, kind, data.get("target", {}).get(kind, []))
    if step != STEP_CONFIRM:
        return Draft(step, data, timezone, choices)
    target = data.get("target") or {}
    return Draft(
        step,
        data,
        timezone,
        choices,
        _next_run(data, timezone, deps.clock.now()),
        len(await resolve_recipients(session, target)),
        await named(session, target),
    )


async def start(deps: Deps, tg_user_id: int) -> Draft:
    async with deps.db.transaction() as session:
        official = await require_role(session, deps.settings, tg_user_id, Role.ORGANISER)
        tz = await organiser_timezone(session, official)
        return await _save(session, deps, tg_user_id, STEP_MESSAGE, {}, tz)


async def set_message(
    deps: Deps,
    tg_user_id: int,
    *,
    text: str | None = None,
    chat_id: int | None = None,
    message_id: int | None = None,
) -> Draft:
    """The reminder's message: its text (HTML), or a message to copy to each recipient."""
    async with deps.db.transaction() as session:
        data, _step, tz = await _open_draft(session, deps, tg_user_id, STEP_MESSAGE)
        if text is not None:
            if not text.strip() or len(text) > TEXT_MAX:
                raise InvalidInput(ErrorCode.TEXT_LENGTH, max=TEXT_MAX)
            data.update(text=text, chat_id=None, message_id=None)
        elif chat_id is not None and message_id is not None:
            data.update(text=None, chat_id=chat_id, message_id=message_id)
        else:
            raise InvalidInput(ErrorCode.NO_MESSAGE)
        return await _save(session, deps, tg_user_id, STEP_AUDIENCE, data, tz)


async def choose_audience(deps: Deps, tg_user_id: int, kind: str) -> Draft:
    """'all' goes on to the schedule; countries, cities or topics open a picker."""
    if kind != "all" and kind not in AUDIENCE_KINDS:
        raise ServiceError(ErrorCode.STALE)
    async with deps.db.transaction() as session:
        data, _step, tz = await _open_draft(session, deps, tg_user_id, STEP_AUDIENCE, STEP_PICK)
        if kind == "all":
            data.update(target={}, pick=None)
            return await _save(session, deps, tg_user_id, STEP_WHEN, data, tz)
        data.update(target={kind: []}, pick=kind)
        return await _save(session, deps, tg_user_id, STEP_PICK, data, tz)


async def toggle(deps: Deps, tg_user_id: int, value: str) -> Draft:
    async with deps.db.transaction() as session:
        data, _step, tz = await _open_draft(session, deps, tg_user_id, STEP_PICK)
        kind = data["pick"]
        valid = {o.value for o in await options(session, kind, [])}
        if value not in valid and kind == "cities":
            raise NotFound(ErrorCode.CITY)
        if value not in valid:
            raise ServiceError(ErrorCode.STALE)
        stored: Any = value if kind == "countries" else int(value)
        chosen = list(data.get("target", {}).get(kind, []))
        chosen = [c for c in chosen if c != stored] if stored in chosen else [*chosen, stored]
        data["target"] = {kind: chosen}
        return await _save(session, deps, tg_user_id, STEP_PICK, data, tz)


async def toggle_page(deps: Deps, tg_user_id: int) -> Draft:
    """The picker as it stands (to show another page)."""
    async with deps.db.transaction() as session:
        data, _step, tz = await _open_draft(session, deps, tg_user_id, STEP_PICK)
        return await _save(session, deps, tg_user_id, STEP_PICK, data, tz)


async def audience_done(deps: Deps, tg_user_id: int) -> Draft:
    async with deps.db.transaction() as session:
        data, _step, tz = await _open_draft(session, deps, tg_user_id, STEP_PICK)
        if not data.get("target", {}).get(data["pick"]):
            raise InvalidInput(ErrorCode.EMPTY_AUDIENCE)
        return await _save(session, deps, tg_user_id, STEP_WHEN, data, tz)


async def choose_when(deps: Deps, tg_user_id: int, kind: str, nth: int = 1) -> Draft:
    if kind not in WHEN_KINDS or nth not in (1, 2, 3, 4, -1):
        raise ServiceError(ErrorCode.STALE)
    async with deps.db.transaction() as session:
        data, _step, tz = await _open_draft(session, deps, tg_user_id, STEP_WHEN)
        data["when"] = {"kind": kind} if kind == "once" else {"kind": kind, "nth": nth}
        return await _save(
            session, deps, tg_user_id, STEP_ONCE if kind == "once" else STEP_WEEKDAY, data, tz
        )


async def set_once(deps: Deps, tg_user_id: int, typed: str) -> Draft:
    async with deps.db.transaction() as session:
        data, _step, tz = await _open_draft(session, deps, tg_user_id, STEP_ONCE)
        run_at = parse_local_datetime(typed, tz)
        if run_at <= deps.clock.now():
            raise InvalidInput(ErrorCode.IN_PAST)
        data["when"] = {"kind": "once", "run_at": run_at.isoformat()}
        return await _save(session, deps, tg_user_id, STEP_EVENT_ASK, data, tz)


async def set_weekday(deps: Deps, tg_user_id: int, weekday: int) -> Draft:
    if not 0 <= weekday <= 6:
        raise ServiceError(ErrorCode.STALE)
    async with deps.db.transaction() as session:
        data, _step, tz = await _open_draft(session, deps, tg_user_id, STEP_WEEKDAY)
        data["when"] = dict(data.get("when") or {}, weekday=weekday)
        return await _save(session, deps, tg_user_id, STEP_TIME, data, tz)


async def set_time(deps: Deps, tg_user_id: int, typed: str) -> Draft:
    async with deps.db.transaction() as session:
        data, _step, tz = await _open_draft(session, deps, tg_user_id, STEP_TIME)
        hour, minute = parse_time_of_day(typed)
        data["when"] = dict(data.get("when") or {}, time=f"{hour:02d}:{minute:02d}")
        return await _save(session, deps, tg_user_id, STEP_EVENT_ASK, data, tz)


async def ask_event(deps: Deps, tg_user_id: int, wanted: bool) -> Draft:
    async with deps.db.transaction() as session:
        data, _step, tz = await _open_draft(session, deps, tg_user_id, STEP_EVENT_ASK)
        if wanted:
            return await _save(session, deps, tg_user_id, STEP_EVENT, data, tz)
        data["event_at"] = None
        return await _save(session, deps, tg_user_id, STEP_CONFIRM, data, tz)


async def set_event(deps: Deps, tg_user_id: int, typed: str) -> Draft:
    async with deps.db.transaction() as session:
        data, _step, tz = await _open_draft(session, deps, tg_user_id, STEP_EVENT)
        event_at = parse_local_datetime(typed, tz)
        if event_at <= deps.clock.now():
            raise InvalidInput(ErrorCode.IN_PAST)
        data["event_at"] = event_at.isoformat()
        return await _save(session, deps, tg_user_id, STEP_CONFIRM, data, tz)


async def toggle_working_days(deps: Deps, tg_user_id: int) -> Draft:
    """Working days only, or not: a run on a recipient's weekend day or holiday waits for
    their next working morning."""
    async with deps.db.transaction() as session:
        data, _step, tz = await _open_draft(session, deps, tg_user_id, STEP_CONFIRM)
        data["working_days"] = not data.get("working_days")
        return await _save(session, deps, tg_user_id, STEP_CONFIRM, data, tz)


async def confirm(deps: Deps, tg_user_id: int) -> ReminderInfo:
    """Schedule the drafted reminder."""
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        data, _step, tz = await _open_draft(session, deps, tg_user_id, STEP_CONFIRM)
        author = await officials.official_by_tg(session, tg_user_id)
        when = data["when"]
        reminder = Reminder(
            author_id=author.id if author else None,
            text=data.get("text"),
            source_chat_id=data.get("chat_id"),
            source_message_id=data.get("message_id"),
            target=data.get("target") or {},
            event_at=datetime.fromisoformat(data["event_at"]) if data.get("event_at") else None,
            timezone=tz,
            status=ReminderStatus.ACTIVE,
            working_days=bool(data.get("working_days")),
            created_at=now,
        )
        if when["kind"] == "once":
            reminder.run_at = datetime.fromisoformat(when["run_at"])
            if reminder.run_at <= now:
                raise InvalidInput(ErrorCode.IN_PAST)
            reminder.next_run_at = reminder.run_at
        else:
            reminder.rule = _rule_of(when, tz, now)
            reminder.next_run_at = rec.next_after(reminder.rule, tz, now)
        await stored.add(session, reminder)
        await dialogs.clear_dialog(session, tg_user_id)
        await audit_log.record(
            session,
            now,
            "reminder.created",
            actor=author,
            actor_tg_id=tg_user_id,
            target_type="reminder",
            target_id=reminder.id,
            next_run_at=reminder.next_run_at.isoformat() if reminder.next_run_at else None,
        )
        log.info(
            "reminder created reminder_id=%s author_tg_id=%s next_run_at=%s",
            reminder.id,
            tg_user_id,
            reminder.next_run_at,
        )
        return info_of(reminder, [])
