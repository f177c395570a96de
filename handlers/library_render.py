"""How the library reads: a result card (question, the best answer's first lines, city,
date), a whole exchange, and an author who erased their data ("an official of <city>")."""

from __future__ import annotations

from telegram import InlineKeyboardButton

from bot.i18n import _, current_locale, format_date
from bot.services.library_types import Card, EntryView, Part
from handlers.common import esc
from handlers.exchange_render import shorten
from handlers.keyboards import button
from handlers.library_buttons import (
    LibPin,
    LibPrivate,
    LibRead,
    LibRemove,
    LibShare,
    LibTitle,
    LibWithdraw,
)
from handlers.user_text import city_of, isolate, name_of

TITLE_CHARS = 120
ANSWER_CHARS = 220
ANSWER_LINES = 3


def first_lines(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()][:ANSWER_LINES]
    return shorten(" / ".join(lines), ANSWER_CHARS)


def card_text(number: int, c: Card) -> str:
    pin = "📌 " if c.pinned else ""
    lines = [f"{pin}<b>{number}.</b> {isolate(shorten(c.title, TITLE_CHARS))}"]
    if c.answer:
        lines.append("💬 " + isolate(first_lines(c.answer)))
    lines.append(
        _("{city} · {date}").format(
            city=city_of(c.city_name, c.city_names), date=format_date(c.created_at)
        )
    )
    return "\n".join(lines)


def read_button(number: int, c: Card) -> InlineKeyboardButton:
    return button(_("Read {number}").format(number=number), LibRead(c.entry_id))


def author(p: Part) -> str:
    if p.name is None:
        return _("an official of {city}").format(city=city_of(p.city_name, p.city_names))
    return _("{name}, {city}").format(
        name=name_of(p.name, p.name_latin), city=city_of(p.city_name, p.city_names)
    )


def part_text(p: Part) -> str:
    mark = {"question": "❓", "answer": "💬"}.get(p.kind, "↩️")
    head = f"{mark} <b>{author(p)}</b> · {format_date(p.created_at)}"
    body = esc(p.text) if p.text else "<i>" + _("(words withdrawn by their author)") + "</i>"
    return head + "\n" + body


def entry_text(v: EntryView) -> str:
    pin = "📌 " if v.pinned else ""
    title = isolate(shorten(v.title, TITLE_CHARS))
    place = _("{city} · {date}").format(
        city=city_of(v.city_name, v.city_names), date=format_date(v.created_at)
    )
    head = f"📚 <b>{title}</b>\n{esc(v.topic.name(current_locale()))} · {place}"
    return pin + head + "\n\n" + "\n\n".join(part_text(p) for p in v.parts)


def entry_buttons(v: EntryView) -> list[list[InlineKeyboardButton]]:
    rows = []
    if v.mine:
        rows.append([button(_("Withdraw my words"), LibWithdraw(v.entry_id))])
    if v.organiser:
        rows.append(
            [
                button(_("Unpin") if v.pinned else _("Pin"), LibPin(v.entry_id)),
                button(_("Edit title"), LibTitle(v.entry_id)),
                button(_("Remove"), LibRemove(v.entry_id)),
            ]
        )
    return rows


def share_offer(question_id: int) -> tuple[str, list[InlineKeyboardButton]]:
    """The question put to the asker once their question is resolved, and its buttons."""
    text = _(
        "May this exchange join the network's library? Officials in every city could then "
        "find it with /search. Names and cities are shown, and anyone whose words are in it "
        "can withdraw them at any time."
    )
    return text, [
        button(_("Add to the library"), LibShare(question_id)),
        button(_("Keep it private"), LibPrivate(question_id)),
    ]


def cards_text(heading: str, found: list[Card]) -> str:
    return "\n\n".join([heading] + [card_text(i, c) for i, c in enumerate(found, 1)])
