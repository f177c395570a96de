"""/quiet: an official's quiet hours, when nudges and digests wait."""

from __future__ import annotations

from datetime import time

from babel.dates import format_time
from telegram import Update

from bot.i18n import _, babel_locale
from bot.services import quiet_hours
from bot.services.quiet_hours import QuietHours
from handlers.common import guarded, reply
from handlers.context import Ctx


def minutes_label(minutes: int) -> str:
    return format_time(time(minutes // 60, minutes % 60), "short", locale=babel_locale())


def quiet_text(q: QuietHours) -> str:
    if not q.enabled:
        return _(
            "You have no quiet hours: reminders of unanswered questions and the weekly "
            "digest can arrive at any time."
        )
    assert q.start is not None and q.end is not None
    return _(
        "Quiet hours: {start} to {end} ({timezone}). Reminders of unanswered questions and "
        "the weekly digest wait until they end; urgent announcements do not."
    ).format(start=minutes_label(q.start), end=minutes_label(q.end), timezone=q.timezone)


@guarded
async def cmd_quiet(update: Update, context: Ctx) -> None:
    """Shows, sets (/quiet 22:00-07:00) or clears (/quiet off) the person's quiet hours."""
    args = " ".join(context.args or []).strip()
    user_id = context.who.tg_user_id
    if not args:
        current = await quiet_hours.get(context.deps, user_id)
        await reply(
            update,
            quiet_text(current)
            + "\n\n"
            + _("Set them with /quiet 22:00-07:00, remove them with /quiet off."),
        )
        return
    off = args.casefold() in ("off", "none", "-", "0", _("off").casefold())
    saved = await quiet_hours.set_hours(context.deps, user_id, None if off else args)
    await reply(update, quiet_text(saved))
