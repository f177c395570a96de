"""Button data of broadcasts and reminders, composing and listing them (handlers/callbacks.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from handlers.callbacks import CallbackData

# The lines of a broadcast's audience (bot.services.broadcast_compose).
Dimension = Literal["countries", "cities", "topics", "languages", "roles"]


class BroadcastButton(CallbackData, prefix="broadcast"):
    """/broadcast: the audience, the preview, sending or scheduling."""


@dataclass(frozen=True)
class BroadcastEveryone(BroadcastButton, action="everyone"):
    pass


@dataclass(frozen=True)
class BroadcastAudience(BroadcastButton, action="audience"):
    """Back to the audience overview."""


@dataclass(frozen=True)
class BroadcastOptions(BroadcastButton, action="options"):
    """The values of one line of the audience, at a page."""

    dimension: Dimension
    page: int


@dataclass(frozen=True)
class BroadcastToggleId(BroadcastButton, action="toggle"):
    """Add or remove a city or topic (by id)."""

    dimension: Literal["cities", "topics"]
    item_id: int
    page: int


@dataclass(frozen=True)
class BroadcastToggleCode(BroadcastButton, action="toggle-code"):
    """Add or remove a country, language or role (by its code)."""

    dimension: Literal["countries", "languages", "roles"]
    code: str
    page: int


@dataclass(frozen=True)
class BroadcastPreview(BroadcastButton, action="preview"):
    pass


@dataclass(frozen=True)
class BroadcastSendNow(BroadcastButton, action="send-now"):
    pass


@dataclass(frozen=True)
class BroadcastSchedule(BroadcastButton, action="schedule"):
    """Ask for the time."""


@dataclass(frozen=True)
class BroadcastConfirm(BroadcastButton, action="confirm"):
    """Confirm the scheduled time."""


@dataclass(frozen=True)
class BroadcastCancel(BroadcastButton, action="cancel"):
    pass


@dataclass(frozen=True)
class BroadcastListAction(CallbackData, prefix="broadcasts"):
    """/broadcasts: cancel a broadcast (ask, then confirm) or keep it."""

    action: Literal["cancel", "confirm-cancel", "keep"]
    broadcast_id: int


class ReminderButton(CallbackData, prefix="reminder"):
    """/remind: the audience, the schedule, confirming."""


@dataclass(frozen=True)
class ReminderAudience(ReminderButton, action="audience"):
    kind: Literal["all", "countries", "cities", "topics"]


@dataclass(frozen=True)
class ReminderToggle(ReminderButton, action="toggle"):
    """Add or remove a country, city or topic (its value as the draft holds it)."""

    value: str
    page: int


@dataclass(frozen=True)
class ReminderPage(ReminderButton, action="page"):
    page: int


@dataclass(frozen=True)
class ReminderAudienceDone(ReminderButton, action="done"):
    pass


@dataclass(frozen=True)
class ReminderWhen(ReminderButton, action="when"):
    kind: Literal["once", "weekly", "monthly"]


@dataclass(frozen=True)
class ReminderWeekday(ReminderButton, action="weekday"):
    weekday: int


@dataclass(frozen=True)
class ReminderEvent(ReminderButton, action="event"):
    """Add the time of an event?"""

    answer: Literal["yes", "no"]


@dataclass(frozen=True)
class ReminderConfirm(ReminderButton, action="confirm"):
    pass


@dataclass(frozen=True)
class ReminderCancel(ReminderButton, action="cancel"):
    pass


@dataclass(frozen=True)
class ReminderWorkingDays(ReminderButton, action="workdays"):
    """Working days only: on, or off again."""


@dataclass(frozen=True)
class ReminderListAction(CallbackData, prefix="reminders"):
    """/reminders: pause, resume, delete (ask, then confirm or keep)."""

    action: Literal["pause", "resume", "delete", "confirm-delete", "keep"]
    reminder_id: int
