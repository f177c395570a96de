"""The weekly digest: its text (in the recipient's locale) and the scheduler job that sends it."""

from __future__ import annotations

from typing import Any

from bot.i18n import _, ngettext, use_locale
from bot.runtime import Deps
from bot.services import digest
from bot.services.digest import DigestNotice
from handlers.common import esc
from handlers.exchange_buttons import DigestAnswer
from handlers.exchange_render import media_label
from handlers.keyboards import button, markup, rows
from handlers.reminder_texts import format_when
from handlers.user_text import city_of


def digest_notice(notice: DigestNotice) -> tuple[str, dict[str, Any]]:
    """Open questions in the recipient's topics that nobody has answered, newest first, numbered,
    with an Answer button for each (answering.on_digest_offer routes it to whoever presses)."""
    with use_locale(notice.locale) as locale:
        lines = [
            _("📰 <b>Weekly digest</b>"),
            ngettext(
                "{count} question in your topics is still waiting for an answer:",
                "{count} questions in your topics are still waiting for an answer:",
                notice.total,
            ).format(count=notice.total),
        ]
        for number, q in enumerate(notice.questions, 1):
            topic = q.topic_names.get(locale) or q.topic_names.get("en") or q.topic_slug
            body = esc(q.excerpt) if q.excerpt else media_label(q.content_type)
            lines.append(
                _("{number}. <b>{topic}</b> — {city}, {date}:\n{text}").format(
                    number=number,
                    topic=esc(topic),
                    city=city_of(q.city_name, q.city_names) if q.city_name else "—",
                    date=format_when(q.asked_at, notice.timezone),
                    text=body,
                )
            )
        more = notice.total - len(notice.questions)
        if more > 0:
            lines.append(
                ngettext("…and {count} more.", "…and {count} more.", more).format(count=more)
            )
        buttons = [
            button(_("Answer {number}").format(number=number), DigestAnswer(q.id))
            for number, q in enumerate(notice.questions, 1)
        ]
        return "\n\n".join(lines), markup(*rows(buttons, width=3)).to_dict()


async def digest_job(deps: Deps) -> None:
    """Scheduler job: write due weekly digests into the outbox."""
    await digest.run_digests(deps, deps.clock.now(), digest_notice)
