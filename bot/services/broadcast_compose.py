"""Composing a broadcast: the organiser's message, its audience and time, then the confirmation
that writes it into the outbox.

The draft lives in `dialog_state` (steps ``bc.*``). Confirming writes the broadcast and one
delivery row per recipient in one transaction (one INSERT ... SELECT from the audience query);
the sender in bot/telegram_io/sender.py sends them, and bot/services/broadcast_progress.py
follows them.

Handlers take `Role` from here: they never import bot.db.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import audience, audit_log, broadcast_deliveries, catalogue, dialogs, outbox
from bot.db import broadcasts as stored
from bot.db.audience import Recipient
from bot.db.models import Broadcast, BroadcastStatus, DialogState, Official, Role
from bot.i18n import SUPPORTED_LOCALES
from bot.runtime import Deps
from bot.services import targeting
from bot.services.broadcast_translation import BroadcastWords
from bot.services.errors import ErrorCode, InvalidInput, NotFound, ServiceError
from bot.services.identity import require_role
from bot.services.local_time import organiser_timezone, parse_local_time

STEP_MESSAGE = "bc.message"
STEP_TARGET = "bc.target"
STEP_WHEN = "bc.when"
STEP_CONFIRM_WHEN = "bc.when.ok"
COMPOSE_STEPS = (STEP_TARGET, STEP_WHEN, STEP_CONFIRM_WHEN)
MAX_AHEAD = timedelta(days=366)
MIN_AHEAD = timedelta(minutes=1)


@dataclass(frozen=True)
class Draft:
    source_chat_id: int
    source_message_id: int
    target: dict[str, list[Any]]
    count: int
    timezone: str
    when: datetime | None = None


@dataclass(frozen=True)
class Option:
    """One value the audience can be narrowed to; `names` are per-locale labels (topics,
    cities)."""

    value: str | int
    name: str
    names: dict[str, str] = field(default_factory=dict)
    detail: str = ""


@dataclass(frozen=True)
class Created:
    id: int
    total: int
    scheduled_at: datetime | None
    timezone: str


async def _draft_state(session: AsyncSession, tg_user_id: int, *steps: str) -> DialogState:
    """The person's open draft, locked, if it is at one of `steps`; else the button is stale."""
    state = await stored.dialog_for_update(session, tg_user_id)
    if state is None or state.step not in steps:
        raise ServiceError(ErrorCode.STALE)
    return state


async def _draft(
    session: AsyncSession, deps: Deps, official: Official | None, data: dict[str, Any]
) -> Draft:
    target = targeting.normalize(data.get("target"))
    when = datetime.fromisoformat(data["when"]) if data.get("when") else None
    return Draft(
        source_chat_id=int(data["chat"]),
        source_message_id=int(data["msg"]),
        target=target,
        count=await targeting.count_recipients(session, target, deps.settings.admin_ids),
        timezone=await organiser_timezone(session, official),
        when=when,
    )


async def begin(deps: Deps, tg_user_id: int) -> None:
    """Start a new broadcast: the next message the organiser sends is the one to broadcast."""
    async with deps.db.transaction() as session:
        await require_role(session, deps.settings, tg_user_id, Role.ORGANISER)
        await dialogs.put_dialog(session, tg_user_id, STEP_MESSAGE, {}, deps.clock.now())


async def set_message(
    deps: Deps,
    tg_user_id: int,
    chat_id: int,
    message_id: int,
    text: str | None = None,
    kind: str = "text",
) -> Draft:
    """The organiser's own message (copied as it is to every recipient, its words `text`
    translated for readers of other languages: a text, or a caption); audience: everyone."""
    async with deps.db.transaction() as session:
        official = await require_role(session, deps.settings, tg_user_id, Role.ORGANISER)
        await _draft_state(session, tg_user_id, STEP_MESSAGE)
        data = {"chat": chat_id, "msg": message_id, "target": {}, "text": text, "kind": kind}
        await dialogs.put_dialog(session, tg_user_id, STEP_TARGET, data, deps.clock.now())
        return await _draft(session, deps, official, data)


async def get_draft(deps: Deps, tg_user_id: int) -> Draft:
    async with deps.db.transaction() as session:
        official = await require_role(session, deps.settings, tg_user_id, Role.ORGANISER)
        state = await _draft_state(session, tg_user_id, *COMPOSE_STEPS)
        return await _draft(session, deps, official, dict(state.data))


async def _update_target(deps: Deps, tg_user_id: int, change: Any) -> Draft:
    async with deps.db.transaction() as session:
        official = await require_role(session, deps.settings, tg_user_id, Role.ORGANISER)
        state = await _draft_state(session, tg_user_id, *COMPOSE_STEPS)
        data = dict(state.data)
        data["target"] = targeting.normalize(change(targeting.normalize(data.get("target"))))
        data.pop("when", None)
        await dialogs.put_dialog(session, tg_user_id, STEP_TARGET, data, deps.clock.now())
        return await _draft(session, deps, official, data)


async def set_everyone(deps: Deps, tg_user_id: int) -> Draft:
    return await _update_target(deps, tg_user_id, lambda _t: {})


async def toggle(deps: Deps, tg_user_id: int, dimension: str, value: str | int) -> Draft:
    """Add or remove one value of the audience (a country, city, topic, language or role)."""
    if dimension not in targeting.DIMENSIONS:
        raise InvalidInput(ErrorCode.INVALID, key=dimension)
    async with deps.db.transaction() as session:
        await require_role(session, deps.settings, tg_user_id, Role.ORGANISER)
        await _draft_state(session, tg_user_id, *COMPOSE_STEPS)
        if dimension in ("cities", "topics"):
            if not isinstance(value, int) or not await audience.exists_in(
                session, dimension, value
            ):
                if dimension == "cities":
                    raise NotFound(ErrorCode.CITY)
                raise NotFound(ErrorCode.NOT_FOUND, key=dimension)

    def change(target: dict[str, list[Any]]) -> dict[str, list[Any]]:
        values = set(target.get(dimension, []))
        values.symmetric_difference_update({value})
        return {**target, dimension: sorted(values)}

    return await _update_target(deps, tg_user_id, change)


async def options(deps: Deps, dimension: str) -> list[Option]:
    """The values one dimension of the audience can take, in display order."""
    async with deps.db.transaction() as session:
        if dimension == "countries":
            return [Option(c, c) for c in await audience.countries(session)]
        if dimension == "cities":
            return [
                Option(c.id, c.name, dict(c.names or {}), detail=c.country)
                for c in await catalogue.all_cities(session)
            ]
        if dimension == "topics":
            return [
                Option(t.id, t.slug, {k: str(v) for k, v in (t.names or {}).items()})
                for t in await catalogue.all_topics(session)
            ]
        if dimension == "languages":
            return [Option(code, code) for code in SUPPORTED_LOCALES]
        if dimension == "roles":
            return [Option(r, r) for r in targeting.ROLES]
    raise InvalidInput(ErrorCode.INVALID, key=dimension)


async def ask_time(deps: Deps, tg_user_id: int) -> Draft:
    """The organiser wants to schedule: the next text is a date and time in their timezone."""
    async with deps.db.transaction() as session:
        official = await require_role(session, deps.settings, tg_user_id, Role.ORGANISER)
        state = await _draft_state(session, tg_user_id, *COMPOSE_STEPS)
        data = dict(state.data)
        draft = await _draft(session, deps, official, data)
        if draft.count == 0:
            raise ServiceError(ErrorCode.NO_RECIPIENTS)
        await dialogs.put_dialog(session, tg_user_id, STEP_WHEN, data, deps.clock.now())
        return draft


async def set_time(deps: Deps, tg_user_id: int, text: str) -> Draft:
    """Read the date and time typed by the organiser; ask to confirm it."""
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        official = await require_role(session, deps.settings, tg_user_id, Role.ORGANISER)
        state = await _draft_state(session, tg_user_id, STEP_WHEN, STEP_CONFIRM_WHEN)
        data = dict(state.data)
        tz = await organiser_timezone(session, official)
        when = parse_local_time(text[:100], tz) if text else None
        if when is None:
            raise ServiceError(ErrorCode.BAD_BROADCAST_TIME, timezone=tz)
        if when < now + MIN_AHEAD:
            raise ServiceError(ErrorCode.TIME_PAST, timezone=tz)
        if when > now + MAX_AHEAD:
            raise ServiceError(ErrorCode.TIME_FAR, timezone=tz)
        data["when"] = when.isoformat()
        await dialogs.put_dialog(session, tg_user_id, STEP_CONFIRM_WHEN, data, now)
        return await _draft(session, deps, official, data)


async def cancel_draft(deps: Deps, tg_user_id: int) -> None:
    async with deps.db.transaction() as session:
        await _draft_state(session, tg_user_id, STEP_MESSAGE, *COMPOSE_STEPS)
        await dialogs.clear_dialog(session, tg_user_id)


def _rows(
    broadcast: Broadcast,
    recipients: list[Recipient],
    words: Mapping[str, BroadcastWords],
    kind: str | None,
    now: datetime,
    when: datetime | None,
) -> list[dict[str, Any]]:
    """One outbox row per recipient: the message copied, its words translated for readers of
    another language (in its place, or in text rows after it when that would not fit)."""
    rows = []
    for official_id, chat_id, reads in recipients:
        key = f"b:{broadcast.id}:{official_id}"
        common: dict[str, Any] = {"source": "broadcast", "chat_id": chat_id, "now": now}
        common |= {"recipient_id": official_id, "not_before": when}
        mine = words.get(reads) if reads else None
        if mine is not None and mine.inline is not None and kind == "text":
            row = outbox.delivery_row(
                dedupe_key=key, text=mine.inline, broadcast_id=broadcast.id, **common
            )
        else:
            caption = mine.inline if mine is not None else None
            row = outbox.delivery_row(
                dedupe_key=key,
                from_chat_id=broadcast.source_chat_id,
                message_id=broadcast.source_message_id,
                caption=caption,
                broadcast_id=broadcast.id,
                **common,
            )
        rows.append(row)
        for i, part in enumerate(mine.apart if mine is not None else []):
            # Not counted in the broadcast's progress: the message itself is.
            rows.append(outbox.delivery_row(dedupe_key=f"{key}:t{i}", text=part, **common))
    return rows


async def confirm(
    deps: Deps,
    tg_user_id: int,
    *,
    scheduled: bool,
    words: Mapping[str, BroadcastWords] | None = None,
) -> Created:
    """Write the broadcast and one outbox row per recipient, in one transaction. `words`: what
    readers of each language who take machine translation get (translated before this)."""
    now = deps.clock.now()
    async with deps.db.transaction() as session:
        official = await require_role(session, deps.settings, tg_user_id, Role.ORGANISER)
        state = await _draft_state(
            session, tg_user_id, STEP_CONFIRM_WHEN if scheduled else STEP_TARGET
        )
        data = dict(state.data)
        target = targeting.normalize(data.get("target"))
        when = datetime.fromisoformat(data["when"]) if scheduled else None
        if when is not None and when < now:
            raise ServiceError(
                ErrorCode.TIME_PAST, timezone=await organiser_timezone(session, official)
            )
        broadcast = await stored.add(
            session,
            author_id=official.id if official else None,
            source_chat_id=int(data["chat"]),
            source_message_id=int(data["msg"]),
            text=data.get("text"),
            target=target,
            scheduled_at=when,
            status=BroadcastStatus.SCHEDULED if when else BroadcastStatus.SENDING,
            total=0,
            progress_chat_id=tg_user_id,
            created_at=now,
            started_at=None if when else now,
        )
        if words:
            # Some readers take the words machine-translated: their rows differ per language,
            # so they are built here, one per recipient.
            recipients = await audience.chats(session, target, deps.settings.admin_ids)
            await outbox.enqueue(
                session, _rows(broadcast, recipients, words, data.get("kind"), now, when)
            )
            total = len(recipients)
        else:
            # One INSERT ... SELECT from the audience query: the organiser is waiting on this.
            total = await broadcast_deliveries.write(
                session,
                broadcast_id=broadcast.id,
                from_chat_id=broadcast.source_chat_id,
                message_id=broadcast.source_message_id,
                target=target,
                admin_ids=deps.settings.admin_ids,
                now=now,
                not_before=when,
            )
        if not total:
            raise ServiceError(ErrorCode.NO_RECIPIENTS)  # rolls the broadcast back
        broadcast.total = total
        await dialogs.clear_dialog(session, tg_user_id)
        await audit_log.record(
            session,
            now,
            "broadcast.scheduled" if when else "broadcast.sent",
            actor=official,
            actor_tg_id=tg_user_id,
            target_type="broadcast",
            target_id=broadcast.id,
            total=total,
            target=target,
            scheduled_at=when.isoformat() if when else None,
        )
        return Created(broadcast.id, total, when, await organiser_timezone(session, official))
