"""The error handler: log with ids, apologise to the user, and alert the admins at most once per
kind of error in a window (any user could otherwise flood them, one alert per failed update),
whichever of the replicas meets it."""

from __future__ import annotations

import html
import logging
import traceback
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from telegram import Update
from telegram.constants import MessageLimit
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop

import bot
from bot.i18n import _, ngettext, use_locale
from bot.services import admin_alerts, identity

if TYPE_CHECKING:
    from bot.runtime import Deps
    from handlers.context import Ctx

log = logging.getLogger(__name__)

PRE_OPEN, PRE_CLOSE = "<pre>", "</pre>"
ELLIPSIS = "…\n"  # marks where a part of the traceback was cut
OUR_PACKAGES = (Path(bot.__file__).resolve().parent, Path(__file__).resolve().parent)
# Every Bot API call of the application passes through its rate limiter: not where it was met.
PASSED_THROUGH = frozenset({"bot/telegram_io/pacing.py"})


@dataclass
class _Kind:
    quiet_until: datetime  # the end of the window the last alert of this kind opened
    suppressed: int = 0  # errors of this kind not alerted since that alert


class AlertThrottle:
    """Which errors this process would alert: the first of a kind, then the first after the
    window. Kept in memory, so it works when the database is what fails; what it admits is
    then checked against the other replicas' alerts in the database (`_across_processes`)."""

    def __init__(self) -> None:
        self._kinds: dict[str, _Kind] = {}

    def admit(self, key: str, now: datetime, window: timedelta) -> int | None:
        """None to stay quiet (the error is counted); else alert now, and this many errors of
        the kind were suppressed since its previous alert."""
        kind = self._kinds.get(key)
        if kind is not None and now < kind.quiet_until:
            kind.suppressed += 1
            return None
        # Kinds whose window ended with nothing to report are forgotten: the table stays small.
        self._kinds = {k: v for k, v in self._kinds.items() if v.suppressed or now < v.quiet_until}
        self._kinds[key] = _Kind(quiet_until=now + window)
        return kind.suppressed if kind is not None else 0


def error_kind(err: BaseException) -> tuple[str, str]:
    """(exception type, where it was raised): the innermost frame of the bot's own code, so a
    Telegram error is told apart by the feature that met it."""
    frames = traceback.extract_tb(err.__traceback__)
    ours = [
        (f, shown)
        for f in frames
        if (shown := _our_path(f.filename)) is not None and shown not in PASSED_THROUGH
    ]
    where = "unknown"
    if ours:
        frame, shown = ours[-1]
        where = f"{shown}:{frame.lineno} in {frame.name}"
    elif frames:
        where = f"{frames[-1].filename}:{frames[-1].lineno} in {frames[-1].name}"
    kind = type(err)
    return f"{kind.__module__}.{kind.__qualname__}", where


def _our_path(filename: str) -> str | None:
    """`handlers/common.py` for a file of the bot's own packages, wherever they are installed;
    None for anything else (python-telegram-bot, the standard library)."""
    path = Path(filename).resolve()
    for package in OUR_PACKAGES:
        if path.is_relative_to(package):
            return path.relative_to(package.parent).as_posix()
    return None


def alert_text(
    err: BaseException, update_id: int | None, where: str, suppressed: int, window: timedelta
) -> str:
    """The admins' alert in the current locale: valid HTML within one message. The traceback is
    cut first (its end is kept: the exception and the innermost frames), then escaped, so no
    entity is ever cut in half."""
    minutes = max(1, round(window.total_seconds() / 60))
    lines = [
        "⚠️ <b>" + html.escape(_("Error while handling an update")) + "</b>",
        f"<code>{html.escape(type(err).__name__)}</code> · <code>{html.escape(where)}</code>"
        + (f" · update_id={update_id}" if update_id is not None else ""),
    ]
    if suppressed:
        lines.append(
            html.escape(
                ngettext(
                    "{count} more error of this kind since the previous alert was not sent.",
                    "{count} more errors of this kind since the previous alert were not sent.",
                    suppressed,
                ).format(count=suppressed)
            )
        )
    lines.append(
        html.escape(
            ngettext(
                "More errors of this kind in the next {minutes} minute will be counted, not sent.",
                "More errors of this kind in the next {minutes} minutes will be counted, not sent.",
                minutes,
            ).format(minutes=minutes)
        )
    )
    head = "\n".join(lines) + "\n"
    budget = MessageLimit.MAX_TEXT_LENGTH - len(head) - len(PRE_OPEN) - len(PRE_CLOSE)
    return head + PRE_OPEN + _escaped_traceback(err, budget) + PRE_CLOSE


def _escaped_traceback(err: BaseException, budget: int) -> str:
    """The traceback, cut to `budget` characters once escaped: the exception's own line keeps
    its start (at most a third of the room), the frames keep their end (the innermost)."""
    parts = traceback.format_exception(err)
    only = traceback.format_exception_only(err)
    frames = "".join(parts[: len(parts) - len(only)])
    message = "".join(only).strip()
    shown_message = _escaped_cut(message, max(budget // 3, budget - _escaped_len(frames)))
    return _escaped_cut(frames, budget - len(shown_message), keep_end=True) + shown_message


def _escaped_len(text: str) -> int:
    return len(html.escape(text, quote=False))


def _escaped_cut(text: str, budget: int, keep_end: bool = False) -> str:
    """`text` escaped in at most `budget` characters: cut first (marked with an ellipsis), then
    escaped, so no entity is cut in half."""
    escaped = html.escape(text, quote=False)
    if len(escaped) <= budget:
        return escaped
    kept: list[str] = []
    used = len(ELLIPSIS)
    for char in reversed(text) if keep_end else text:
        piece = html.escape(char, quote=False)
        if used + len(piece) > budget:
            break
        kept.append(piece)
        used += len(piece)
    if keep_end:
        return ELLIPSIS + "".join(reversed(kept))
    return "".join(kept) + ELLIPSIS


async def on_error(update: object, context: Ctx) -> None:
    """Logs with ids for the operator, apologises to the user, and tells the admins (no user
    data) once per kind of error per window. The update goes no further: the person was told
    to try again, and the handlers of the later groups would take it for something else (a
    message whose relay failed for a new one; anything, with no identity when that failed)."""
    await _report(update, context)
    if isinstance(update, Update):
        raise ApplicationHandlerStop


async def _report(update: object, context: Ctx) -> None:
    err = context.error
    update_id = getattr(update, "update_id", None)
    user = getattr(update, "effective_user", None)
    log.error(
        "unhandled error update_id=%s user_id=%s error=%r",
        update_id,
        user.id if user else None,
        err,
        exc_info=err,
    )
    if isinstance(update, Update) and update.effective_chat is not None:
        try:
            await update.effective_chat.send_message(
                _("Sorry, something went wrong on our side. Please try again in a moment.")
            )
        except TelegramError:
            pass
    deps = context.bot_data.deps
    if deps is None or err is None:
        return
    kind, where = error_kind(err)
    window = timedelta(seconds=deps.settings.error_alert_window_seconds)
    key = f"{kind}@{where}"
    suppressed = context.bot_data.alerts.admit(key, deps.clock.now(), window)
    if suppressed is not None:
        suppressed = await _across_processes(deps, key, window, suppressed)
    if suppressed is None:
        log.info("admin alert suppressed kind=%s where=%s", kind, where)
        return
    for admin_id in sorted(deps.settings.admin_ids):
        with use_locale(await _locale_of(deps, admin_id)):
            text = alert_text(err, update_id, where, suppressed, window)
        try:
            await context.bot.send_message(admin_id, text)
        except TelegramError as exc:
            log.warning("admin alert failed admin_id=%s error=%s", admin_id, exc)


async def _across_processes(deps: Deps, key: str, window: timedelta, suppressed: int) -> int | None:
    """What this process's throttle admitted, checked against the other replicas' alerts (the
    database's `alert_window`); when the database fails, the alert goes out as this process
    counted it."""
    try:
        return await admin_alerts.claim(deps, key, window, suppressed)
    except Exception:  # an alert must go out whatever broke
        log.warning("admin alert not checked across processes key=%s", key, exc_info=True)
        return suppressed


async def _locale_of(deps: Deps, tg_user_id: int) -> str | None:
    """The admin's language; the default one when the database cannot say (it may be what
    failed)."""
    try:
        return (await identity.whoami(deps, tg_user_id, None)).locale
    except Exception:  # an alert must go out whatever broke
        return None
