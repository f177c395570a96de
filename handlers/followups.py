"""Unanswered questions: the nudge a recipient reads, and the job that nudges and escalates."""

from __future__ import annotations

import logging
from typing import Any

from telegram import Bot

from bot.i18n import _, current_locale, format_duration, use_locale
from bot.runtime import Deps
from bot.services import followups
from bot.services.catalogue import CityName
from bot.services.followups import Escalation, NudgeNotice
from handlers.common import esc
from handlers.exchange_render import answer_buttons, media_label, question_words, route_button
from handlers.exchange_send import deliver_question, notify
from handlers.keyboards import markup
from handlers.user_text import cities_of, isolate, person_city, person_name

log = logging.getLogger(__name__)

EXCERPT = 300


def nudge_notice(n: NudgeNotice) -> tuple[str, dict[str, Any]]:
    """The reminder a recipient gets, in their language, with Answer / Not for me."""
    with use_locale(n.recipient.locale):
        topic = esc(n.topic.name(current_locale()))
        text = _("⏰ A colleague in {city} is waiting for your answer on {topic}.").format(
            city=person_city(n.asker), topic=topic
        )
        if n.excerpt:
            excerpt = n.excerpt if len(n.excerpt) <= EXCERPT else n.excerpt[: EXCERPT - 1] + "…"
            text += "\n\n<i>" + esc(excerpt) + "</i>"
        else:
            text += "\n\n" + media_label(n.content_type)
        text += "\n\n" + _("From {name}, {position}, {city}").format(
            name=person_name(n.asker), position=isolate(n.asker.position), city=person_city(n.asker)
        )
        kb = markup(answer_buttons(n.routing_id))
    return text, kb.to_dict()


async def follow_up(bot: Bot, deps: Deps) -> None:
    """Scheduler job: nudge, escalate, and tell the people concerned."""
    now = deps.clock.now()
    await followups.run_nudges(deps, now, nudge_notice)
    for e in await followups.run_escalations(deps, now):
        await _escalated(bot, deps, e)


async def _escalated(bot: Bot, deps: Deps, e: Escalation) -> None:
    if e.stage == "redeliver":
        await deliver_question(bot, deps, e.deliveries)
        return
    cities: list[CityName] = []
    if e.stage == "rerouted":
        cities = await deliver_question(bot, deps, e.deliveries)
    with use_locale(e.asker.locale):
        topic = esc(e.topic.name(current_locale()))
        question = question_words(e.text, e.content_type)
        if cities:
            text = _(
                "No answer yet to your question on {topic} ({question}), so it was also sent "
                "to officials in {cities}."
            ).format(topic=topic, question=question, cities=cities_of(cities))
        else:
            text = _(
                "No answer yet to your question on {topic} ({question}). The organisers have "
                "been asked to find someone who can help."
            ).format(topic=topic, question=question)
    await notify(bot, e.asker, text)
    if cities:
        return
    for organiser in e.organisers:
        with use_locale(organiser.locale):
            text = _(
                "<b>Unanswered for {duration}</b>\nQuestion #{id} on {topic} ({question}) from "
                "{name}, {position}, {city} has no answer yet."
            ).format(
                duration=format_duration(e.waited),
                id=e.question_id,
                topic=esc(e.topic.name(current_locale())),
                question=question_words(e.text, e.content_type),
                name=person_name(e.asker),
                position=isolate(e.asker.position),
                city=person_city(e.asker),
            )
            kb = markup([route_button(e.question_id)])
        await notify(bot, organiser, text, kb)
