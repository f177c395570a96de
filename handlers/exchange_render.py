"""How the exchange reads and shows messages: what a person sent as relayable content, and the
header and buttons over a question, answer or follow-up in the recipient's language, the
buttons and media labels the follow-up and digest messages share with them, and a question's
first words as notices quote them."""

from __future__ import annotations

import html
import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.i18n import _, current_locale
from bot.services.catalogue import CityName
from bot.services.exchange.types import Content, Outgoing
from handlers.common import esc
from handlers.exchange_buttons import (
    MyQuestionAction,
    QuestionAction,
    RateAnswer,
    ReplyTo,
    RouteCities,
)
from handlers.keyboards import button, markup
from handlers.user_text import BIDI_CONTROLS, cities_of, isolate, person_city, person_name

# A question named in a notice by its first words: about this many characters of them.
QUOTE_CHARS = 60
CAPTIONABLE = ("photo", "animation", "document", "video", "audio", "voice")
# Checked in this order: an animation also carries a document, a venue also a location.
MEDIA_ORDER = ("photo", "animation", "document", "video", "audio", "voice", "video_note")


def unsupported_text() -> str:
    return _(
        "I can pass on text, photos, documents, videos, voice notes and locations. "
        "Please send one of those."
    )


def content_of(message: Message) -> Content | None:
    """What a person sent, as something the bot can copy on; None for stickers, polls, ..."""
    chat_id, message_id = message.chat_id, message.message_id
    if message.text is not None:
        return Content("text", message.text, chat_id, message_id)
    for kind in MEDIA_ORDER:
        if getattr(message, kind):
            return Content(kind, message.caption, chat_id, message_id, group=message.media_group_id)
    if message.venue is not None:
        return Content("venue", None, chat_id, message_id)
    if message.location is not None:
        return Content("location", None, chat_id, message_id)
    return None


def plain_length(markup_text: str) -> int:
    return len(html.unescape(re.sub(r"<[^>]+>", "", markup_text)))


def header(o: Outgoing) -> str:
    """The line above a relayed message, in the recipient's language (call inside use_locale)."""
    s = o.sender
    topic = esc(o.topic.name(current_locale()))
    if o.kind == "question":
        return _("❓ <b>Question on {topic}</b>\nFrom {name}, {position}, {city}").format(
            topic=topic, name=person_name(s), position=isolate(s.position), city=person_city(s)
        )
    if o.kind == "answer":
        return _("💬 <b>{name}, {city}</b> answered your question on {topic} ({question}):").format(
            name=person_name(s),
            city=person_city(s),
            topic=topic,
            question=asked_words(o),
        )
    if o.asked is not None:
        return _(
            "↩️ <b>{name}, {city}</b> wrote about your question on {topic} ({question}):"
        ).format(
            name=person_name(s),
            city=person_city(s),
            topic=topic,
            question=asked_words(o),
        )
    return _("↩️ <b>{name}, {city}</b> wrote about {topic}:").format(
        name=person_name(s), city=person_city(s), topic=topic
    )


def asked_words(o: Outgoing) -> str:
    """The first words of the question the reader asked (an answer always goes to the asker)."""
    if o.asked is None:
        return "—"
    return question_words(o.asked.text, o.asked.content_type)


def answer_buttons(routing_id: int) -> list[InlineKeyboardButton]:
    """Answer / Not for me under a question (call inside use_locale)."""
    return [
        button(_("Answer"), QuestionAction("answer", routing_id)),
        button(_("Not for me"), QuestionAction("decline", routing_id)),
    ]


def route_button(question_id: int) -> InlineKeyboardButton:
    """Route to a city, for organisers under a question nobody answers (call inside use_locale)."""
    return button(_("Route to a city"), RouteCities(question_id, 0))


def media_label(content_type: str) -> str:
    """What stands for a question sent as media where only a line of text fits."""
    return {
        "photo": _("[photo]"),
        "document": _("[document]"),
        "voice": _("[voice message]"),
        "video": _("[video]"),
    }.get(content_type, _("[attachment]"))


def shorten(text: str, limit: int) -> str:
    """The text on one line, cut on a word boundary to at most `limit` characters, with an
    ellipsis if cut. Escape after this, never before, or an entity could be cut in two."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    space = flat.rfind(" ", 0, limit + 1)
    cut = flat[:space] if space > limit // 2 else flat[:limit]  # one long word: cut inside it
    return cut.rstrip(" ,.;:!?-–—") + "…"


def question_words(text: str | None, content_type: str) -> str:
    """A question's first words, quoted and isolated from the sentence around them, or what
    stands for a bare photo, document, ... (call inside use_locale)."""
    words = shorten((text or "").translate(BIDI_CONTROLS), QUOTE_CHARS)
    if not words:
        return media_label(content_type)
    return _("“{words}”").format(words=isolate(words))


def keyboard(o: Outgoing) -> InlineKeyboardMarkup:
    """Buttons under a relayed message, in the recipient's language (call inside use_locale)."""
    # Only the /ask preview has no routing, and it is shown with Send / Cancel instead.
    assert o.routing_id is not None
    if o.kind == "question":
        return markup(answer_buttons(o.routing_id))
    rows = [[button(_("Reply"), ReplyTo(o.routing_id))]]
    if o.recipient.official_id != o.sender.official_id and o.kind == "answer":
        rows.append(
            [
                button(_("👍 Useful"), RateAnswer("useful", o.routing_id)),
                button(_("👎 Not useful"), RateAnswer("not", o.routing_id)),
            ]
        )
        rows.append([button(_("Mark resolved"), MyQuestionAction("resolve", o.question_id))])
    return markup(*rows)


def sent_to_text(cities: list[CityName]) -> str:
    return _("Sent to officials in {cities}.").format(cities=cities_of(cities))
