"""The exchange's refusals (asking, answering, closing, routing by hand), in the user's language."""

from __future__ import annotations

from collections.abc import Callable

from bot.i18n import _, ngettext

ERRORS: dict[str, Callable[..., str]] = {
    "rate_limited": lambda limit, minutes, **_k: ngettext(
        "You can ask {limit} questions per hour. Please try again in {minutes} minute.",
        "You can ask {limit} questions per hour. Please try again in {minutes} minutes.",
        minutes,
    ).format(limit=limit, minutes=minutes),
    "too_short": lambda min, **_k: _(
        "Your question is too short. Please write at least {min} characters."
    ).format(min=min),
    "too_long": lambda max, length, **_k: _(
        "Your question is too long ({length} characters). Please keep it under {max} "
        "characters, or send the details as a document with a short caption."
    ).format(max=max, length=length),
    "not_yours": lambda **_k: _("This question was not sent to you."),
    "not_asker": lambda **_k: _("Only the person who asked this question can do that."),
    "closed": lambda **_k: _("This question is closed."),
    "no_thread": lambda **_k: _(
        "I cannot tell which question this belongs to. Reply to the question or answer itself, "
        "or use the buttons under it."
    ),
    "gone": lambda **_k: _("This person is no longer part of the exchange."),
    "already_declined": lambda **_k: _("You have already said this question is not for you."),
    "already_answered": lambda **_k: _("You have already answered this question."),
    "not_resolved": lambda **_k: _("Mark the question resolved first."),
    "already_thanked": lambda **_k: _("You have already thanked the officials who answered."),
    "nobody_in_city": lambda **_k: _("Nobody in that city can receive it."),
    "own_city": lambda **_k: _("That is the asker's own city."),
    "topic": lambda **_k: _("That topic no longer exists. Send /ask to start again."),
    "question": lambda **_k: _("That question no longer exists."),
    "own_question": lambda **_k: _("This is your own question."),
    "already_routed": lambda **_k: _(
        "This question was already sent to you: answer it with the buttons under it, or find it "
        "with /inbox."
    ),
}


def unsupported_text() -> str:
    return _(
        "I can pass on text, photos, documents, videos, voice notes and locations. "
        "Please send one of those."
    )
