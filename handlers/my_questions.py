"""A person's own questions and inbox: /questions (with Mark resolved), /inbox (with Answer /
Not for me), and resolving a question and thanking the officials who answered it."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update

from bot.i18n import _, current_locale, format_datetime, ngettext, use_locale
from bot.services.exchange import closing, lists, rating, types
from handlers.common import answer, esc, guarded, reply
from handlers.context import Ctx
from handlers.exchange_buttons import MyQuestionAction, QuestionAction, RateAnswer
from handlers.exchange_render import question_words
from handlers.exchange_send import drop_buttons, notify
from handlers.keyboards import button
from handlers.library_render import share_offer
from handlers.user_text import cities_of, isolate, person_city, person_name

EXCERPT = 160


@guarded
async def on_resolve(update: Update, context: Ctx) -> None:
    """Mark resolved (then offer to thank the helpers), or send the thanks."""
    query = update.callback_query
    assert query is not None
    pressed = MyQuestionAction.decode(query.data)
    question_id = pressed.question_id
    if pressed.action == "resolve":
        done = await closing.resolve(context.deps, context.who.tg_user_id, question_id)
        await answer(query)
        text = _("Question #{id} on {topic} is marked resolved.").format(
            id=done.question_id, topic=esc(done.topic.name(current_locale()))
        )
        buttons = []
        if done.helpers:
            text += "\n" + ngettext(
                "{count} official answered it. Thank them?",
                "{count} officials answered it. Thank them?",
                done.helpers,
            ).format(count=done.helpers)
            buttons.append(
                [button(_("Thank the helpers"), MyQuestionAction("thank", done.question_id))]
            )
        if done.shareable:
            offer, row = share_offer(done.question_id)
            text += "\n\n" + offer
            buttons.append(row)
        await reply(update, text, InlineKeyboardMarkup(buttons) if buttons else None)
    else:
        thanks = await closing.thank(context.deps, context.who.tg_user_id, question_id)
        await answer(query)
        await drop_buttons(update)
        a = thanks.asker
        for helper in thanks.helpers:
            with use_locale(helper.locale):
                text = _(
                    "🙏 {name}, {city} marked their question on {topic} ({question}) resolved and "
                    "thanks you for your help."
                ).format(
                    name=person_name(a),
                    city=person_city(a),
                    topic=esc(thanks.topic.name(current_locale())),
                    question=question_words(thanks.text, thanks.content_type),
                )
            await notify(context.bot, helper, text)
        await reply(
            update,
            ngettext(
                "Your thanks went to {count} official.",
                "Your thanks went to {count} officials.",
                len(thanks.helpers),
            ).format(count=len(thanks.helpers)),
        )


@guarded
async def on_rate(update: Update, context: Ctx) -> None:
    """👍 / 👎 under an answer: the rating is kept (a new press replaces it)."""
    query = update.callback_query
    assert query is not None
    pressed = RateAnswer.decode(query.data)
    useful = pressed.action == "useful"
    await rating.rate(context.deps, context.who.tg_user_id, pressed.routing_id, useful)
    await answer(
        query,
        _("Thank you: rated useful.") if useful else _("Thank you: rated not useful."),
    )


# ---- lists -----------------------------------------------------------------------------


def _excerpt(brief: types.Brief) -> str:
    text = brief.text or ""
    if len(text) > EXCERPT:
        text = text[: EXCERPT - 1].rstrip() + "…"
    kind = "" if brief.content_type == "text" else f"[{brief.content_type}] "
    return esc(kind + text)


def status_name(status: str) -> str:
    return {
        "open": _("waiting for answers"),
        "answered": _("answered"),
        "resolved": _("resolved"),
        "expired": _("expired"),
    }.get(status, status)


@guarded
async def cmd_questions(update: Update, context: Ctx) -> None:
    """The person's open and recent questions, with a Resolved button for each open one."""
    briefs = await lists.my_questions(context.deps, context.who.tg_user_id)
    if not briefs:
        await reply(update, _("You have not asked any questions yet. Send /ask to ask one."))
        return
    lines = [_("<b>Your questions</b>")]
    buttons = []
    for b in briefs:
        when = format_datetime(b.created_at, b.asker.timezone, "short")
        answers = ngettext("{count} answer", "{count} answers", b.answers).format(count=b.answers)
        lines.append("")
        lines.append(
            f"<b>#{b.question_id}</b> · {esc(b.topic.name(current_locale()))} · "
            f"{status_name(b.status)} · {answers} · {when}"
        )
        if b.cities:
            lines.append(_("Sent to: {cities}").format(cities=cities_of(b.cities)))
        lines.append(_excerpt(b))
        if b.status in ("open", "answered"):
            buttons.append(
                [
                    button(
                        _("Mark #{id} resolved").format(id=b.question_id),
                        MyQuestionAction("resolve", b.question_id),
                    )
                ]
            )
    await reply(update, "\n".join(lines), InlineKeyboardMarkup(buttons) if buttons else None)


@guarded
async def cmd_inbox(update: Update, context: Ctx) -> None:
    """Questions routed to this official that wait for an answer, with Answer / Not for me."""
    briefs = await lists.inbox(context.deps, context.who.tg_user_id)
    if not briefs:
        await reply(update, _("No questions are waiting for your answer."))
        return
    lines = [_("<b>Questions waiting for your answer</b>")]
    buttons = []
    for b in briefs:
        a = b.asker
        lines.append("")
        lines.append(
            _("<b>#{id}</b> · {topic} · from {name}, {position}, {city}").format(
                id=b.question_id,
                topic=esc(b.topic.name(current_locale())),
                name=person_name(a),
                position=isolate(a.position),
                city=person_city(a),
            )
        )
        lines.append(_excerpt(b))
        assert b.routing_id is not None  # inbox briefs carry the routing they wait on
        buttons.append(
            [
                button(
                    _("Answer #{id}").format(id=b.question_id),
                    QuestionAction("answer", b.routing_id),
                ),
                button(
                    _("Not for me #{id}").format(id=b.question_id),
                    QuestionAction("decline", b.routing_id),
                ),
            ]
        )
    await reply(update, "\n".join(lines), InlineKeyboardMarkup(buttons))
