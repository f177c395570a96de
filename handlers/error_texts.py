"""The message for every service error, in the user's language: one text per ErrorCode.

Each text takes the error's details by name (the rest are ignored) and fills its placeholders.
tests/test_error_texts.py fails when an ErrorCode has no text here.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable

from bot.i18n import _, ngettext
from bot.services.errors import ErrorCode, ServiceError

log = logging.getLogger(__name__)

E = ErrorCode

ERROR_TEXTS: dict[ErrorCode, Callable[..., str]] = {
    # Anywhere
    E.NOT_ALLOWED: lambda **_k: _("You are not allowed to do that."),
    E.NOT_REGISTERED: lambda **_k: _(
        "You need to finish registering first. Open the invite link from your organiser, "
        "or send /start to ask to join."
    ),
    E.REMOVED: lambda **_k: _("Your access was removed. Ask your organiser for a new invite link."),
    E.PENDING: lambda **_k: _(
        "Your request to join is still waiting for an organiser. You can change your settings "
        "once it is approved."
    ),
    E.REJECTED: lambda **_k: _(
        "Your request to join was not approved, so you cannot change any settings. Ask your "
        "organiser for an invite link if you should be part of the exchange."
    ),
    E.NOT_APPROVED: lambda **_k: _(
        "Your request to join was not approved. Ask your organiser for an invite link if you "
        "should be part of the exchange."
    ),
    E.STALE: lambda **_k: _("This button is no longer active."),
    E.NOT_FOUND: lambda **_k: _("That no longer exists."),
    E.INVALID: lambda **_k: _("That did not look right. Please try again."),
    # Registration, profile, invites and roles
    E.INVITE_INVALID: lambda **_k: _(
        "This invite link is not valid. Please check it with your organiser."
    ),
    E.INVITE_EXPIRED: lambda **_k: _(
        "This invite link has expired. Please ask your organiser for a new one."
    ),
    E.INVITE_USED_UP: lambda **_k: _(
        "This invite link has already been used. Please ask your organiser for a new one."
    ),
    E.CITY: lambda **_k: _("That city is no longer in the list. Please choose another one."),
    E.NAME_LENGTH: lambda min, max, **_k: _(
        "Please send your name as text, between {min} and {max} characters."
    ).format(min=min, max=max),
    E.NAME_NOT_LATIN: lambda **_k: _(
        "Please write your name in Latin letters (accents are fine), or use the button below "
        "to go on without it."
    ),
    E.POSITION_LENGTH: lambda min, max, **_k: _(
        "Please send your position as text, between {min} and {max} characters."
    ).format(min=min, max=max),
    E.FIELD: lambda **_k: _(
        "That part of your profile cannot be changed. Send /profile to see what you can change."
    ),
    E.NO_TOPICS: lambda **_k: _("Choose at least one topic."),
    E.LANGUAGE: lambda **_k: _(
        "That language is not available. Please choose one of the languages offered."
    ),
    E.NO_LANGUAGES: lambda **_k: _("Choose at least one language."),
    E.NO_PROFILE: lambda **_k: _("You are not registered yet. Send /start to begin."),
    E.OFFICIAL: lambda **_k: _("This official is no longer registered."),
    E.ALREADY_DECIDED: lambda **_k: _("Another organiser has already decided on this request."),
    E.ROLE: lambda **_k: _("That role cannot be given here."),
    E.USES: lambda **_k: _("An invite link must be usable at least once."),
    E.CONFIGURED_ADMIN: lambda **_k: _(
        "This person is an admin by configuration; their role cannot be changed here."
    ),
    E.ALREADY_REMOVED: lambda **_k: _("This official has already been removed."),
    E.REMOVE_SELF: lambda **_k: _("You cannot remove yourself."),
    E.QUIET_FORMAT: lambda **_k: _(
        "Please write the quiet hours like this: /quiet 22:00-07:00 (or /quiet off)."
    ),
    E.QUIET_EMPTY: lambda **_k: _("The start and the end of quiet hours must differ."),
    # The exchange
    E.RATE_LIMITED: lambda limit, minutes, **_k: ngettext(
        "You can ask {limit} questions per hour. Please try again in {minutes} minute.",
        "You can ask {limit} questions per hour. Please try again in {minutes} minutes.",
        minutes,
    ).format(limit=limit, minutes=minutes),
    E.TOO_SHORT: lambda min, **_k: _(
        "Your question is too short. Please write at least {min} characters."
    ).format(min=min),
    E.TOO_LONG: lambda max, length, **_k: _(
        "Your question is too long ({length} characters). Please keep it under {max} "
        "characters, or send the details as a document with a short caption."
    ).format(max=max, length=length),
    E.TOPIC: lambda **_k: _("That topic no longer exists. Send /ask to start again."),
    E.QUESTION: lambda **_k: _("That question no longer exists."),
    E.CLOSED: lambda **_k: _("This question is closed."),
    E.NO_THREAD: lambda **_k: _(
        "I cannot tell which question this belongs to. Reply to the question or answer itself, "
        "or use the buttons under it."
    ),
    E.NOT_YOURS: lambda **_k: _("This question was not sent to you."),
    E.NOT_ASKER: lambda **_k: _("Only the person who asked this question can do that."),
    E.OWN_QUESTION: lambda **_k: _("This is your own question."),
    E.ALREADY_ANSWERED: lambda **_k: _("You have already answered this question."),
    E.ALREADY_DECLINED: lambda **_k: _("You have already said this question is not for you."),
    E.ALREADY_ROUTED: lambda **_k: _(
        "This question was already sent to you: answer it with the buttons under it, or find it "
        "with /inbox."
    ),
    E.NOT_RESOLVED: lambda **_k: _("Mark the question resolved first."),
    E.ALREADY_THANKED: lambda **_k: _("You have already thanked the officials who answered."),
    E.OWN_CITY: lambda **_k: _("That is the asker's own city."),
    E.NOBODY_IN_CITY: lambda **_k: _("Nobody in that city can receive it."),
    E.GONE: lambda **_k: _("This person is no longer part of the exchange."),
    # The library
    E.NO_WORDS: lambda **_k: _(
        "Only questions with words (text or a caption) can join the library."
    ),
    E.ALREADY_SHARED: lambda **_k: _("This exchange is already in the library."),
    E.NOT_ANSWERED: lambda **_k: _("Only questions that were answered can join the library."),
    E.ENTRY_GONE: lambda **_k: _("This exchange is no longer in the library."),
    E.NO_WORDS_HERE: lambda **_k: _("None of your words are in this exchange any more."),
    E.TITLE_LENGTH: lambda max, **_k: _(
        "Please send the title as text, between 3 and {max} characters."
    ).format(max=max),
    # Broadcasts
    E.NO_RECIPIENTS: lambda **_k: _("Nobody matches this audience. Change it and try again."),
    E.BAD_BROADCAST_TIME: lambda timezone, **_k: _(
        "I could not read that date and time. "
        "Send it like {example}, in your time zone ({timezone})."
    ).format(example="2026-03-02 14:30", timezone=html.escape(timezone)),
    E.TIME_PAST: lambda timezone, **_k: _(
        "That time has passed or is less than a minute away. Send a later date and time, "
        "in your time zone ({timezone})."
    ).format(timezone=html.escape(timezone)),
    E.TIME_FAR: lambda **_k: _(
        "A broadcast can be scheduled up to a year ahead. Send an earlier date."
    ),
    E.NOT_CANCELLABLE: lambda id, **_k: _(
        "Broadcast #{id} is no longer scheduled or running; there is nothing to cancel."
    ).format(id=id),
    # Reminders
    E.BAD_DATETIME: lambda **_k: _(
        "Please write the date and time like 2026-12-01 10:00 (year-month-day hours:minutes)."
    ),
    E.BAD_TIME: lambda **_k: _("Please write the time like 10:00 (hours:minutes)."),
    E.IN_PAST: lambda **_k: _("That time has already passed. Please give a time in the future."),
    E.TIME_PASSED: lambda **_k: _(
        "This one-off reminder's time has passed, so it cannot be resumed. Delete it and "
        "schedule a new one."
    ),
    E.TEXT_LENGTH: lambda max, **_k: _("Please send a message of at most {max} characters.").format(
        max=max
    ),
    E.NO_MESSAGE: lambda **_k: _("Please send the reminder as a message: text, photo or document."),
    E.EMPTY_AUDIENCE: lambda **_k: _("Choose at least one."),
    # Reports and exports
    E.PERIOD: lambda **_k: _(
        "That period is not available. Please choose one of the periods offered."
    ),
    E.DATES: lambda **_k: _(
        "Please send two dates like 2026-01-01 2026-03-31 (first and last day)."
    ),
    E.DATES_ORDER: lambda **_k: _("The last day comes before the first day. Please try again."),
    E.FORMAT: lambda **_k: _(
        "That file format is not available. Please choose one of the formats offered."
    ),
    # Absences (/away)
    E.AWAY_DATE: lambda **_k: _("Please write the date like 2026-04-20 or 20/04/2026."),
    E.AWAY_PAST: lambda **_k: _("That day has already passed. Please choose today or a later day."),
    E.AWAY_ORDER: lambda **_k: _(
        "The last day comes before the first day. Please choose a later day."
    ),
    E.AWAY_TOO_LONG: lambda days, **_k: ngettext(
        "An absence can last at most {days} day.", "An absence can last at most {days} days.", days
    ).format(days=days),
    E.AWAY_DEPUTY: lambda **_k: _(
        "That person cannot stand in for you: choose a colleague of your city with the buttons."
    ),
    # The command line (shown in Telegram only if a future command raised it)
    E.SEED_FILE: lambda reason, **_k: _("The seed file could not be used: {reason}").format(
        reason=html.escape(str(reason))
    ),
}


def error_message(code: ErrorCode, **details: object) -> str:
    """The text for `code` with its placeholders filled from `details`."""
    make = ERROR_TEXTS.get(code)
    if make is None:  # tests/test_error_texts.py keeps this from happening
        log.warning("no text for error code=%s", code)
        return _("Sorry, that did not work. Please try again.")
    return make(**details)


def error_text(exc: ServiceError) -> str:
    """What to tell the user about a refusal from a service."""
    return error_message(exc.code, **exc.details)
