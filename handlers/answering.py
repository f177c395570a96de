"""Answering and replying: the Answer / Not for me buttons (and the digest's Answer), the
Reply button, the message (or album) that follows them, and Telegram replies to a relayed
question, answer or follow-up, each relayed to the other side of the thread."""

from __future__ import annotations

from dataclasses import replace

from telegram import Message, Update
from telegram.ext import ApplicationHandlerStop

from bot.i18n import _, set_locale
from bot.services import absences
from bot.services.dialog import Step
from bot.services.errors import NotFound, ServiceError
from bot.services.exchange import answering, closing, volunteering
from bot.services.exchange.types import Content, Outgoing
from handlers.away_texts import away_notice_text
from handlers.common import answer, guarded, reply
from handlers.context import Ctx
from handlers.dialog import no_step
from handlers.error_texts import error_text
from handlers.exchange_buttons import DigestAnswer, QuestionAction, ReplyTo
from handlers.exchange_render import content_of, unsupported_text
from handlers.exchange_send import deliver, deliver_question, drop_buttons
from handlers.user_text import person_city, person_name


@guarded
async def on_question_action(update: Update, context: Ctx) -> None:
    """Answer: the next message goes to the asker. Not for me: noted, another city may be tried."""
    query = update.callback_query
    assert query is not None
    pressed = QuestionAction.decode(query.data)
    routing_id = pressed.routing_id
    if pressed.action == "answer":
        brief = await answering.begin_answer(context.deps, context.who.tg_user_id, routing_id)
        await answer(query)
        await reply(
            update,
            _(
                "Send your answer to {name}, {city}: "
                "text, photo, document, voice note or location. "
                "/cancel to stop."
            ).format(name=person_name(brief.asker), city=person_city(brief.asker)),
        )
    else:
        more = await closing.decline(context.deps, context.who.tg_user_id, routing_id)
        await answer(query, _("Noted. Thank you."))
        await drop_buttons(update)
        await reply(update, _("Noted: this question is not for you. Thank you for saying so."))
        if more:
            await deliver_question(context.bot, context.deps, more)


@guarded
async def on_digest_offer(update: Update, context: Ctx) -> None:
    """An Answer button of the weekly digest: the question is sent to this official, with the
    usual Answer / Not for me buttons, and goes on like any routed question."""
    query = update.callback_query
    assert query is not None
    pressed = DigestAnswer.decode(query.data)
    outgoing = await volunteering.volunteer(
        context.deps, context.who.tg_user_id, pressed.question_id
    )
    await answer(query)
    if not await deliver_question(context.bot, context.deps, outgoing):
        await reply(
            update, _("Sorry, the question could not be sent to you. Please try again later.")
        )


@guarded
async def on_reply_button(update: Update, context: Ctx) -> None:
    """Reply: the next message goes to the other side of the thread."""
    query = update.callback_query
    assert query is not None
    pressed = ReplyTo.decode(query.data)
    other = await answering.begin_reply(context.deps, context.who.tg_user_id, pressed.routing_id)
    await answer(query)
    await reply(
        update,
        _("Send your reply to {name}, {city}. /cancel to stop.").format(
            name=person_name(other), city=person_city(other)
        ),
    )


async def relay(update: Update, context: Ctx, outgoing: Outgoing) -> None:
    """Send one answer or follow-up, log it, and tell the sender how it went."""
    (sent,) = await deliver(context.bot, context.deps, [outgoing])
    assert update.effective_user is not None
    await answering.record_relay(context.deps, update.effective_user.id, sent)
    other = outgoing.recipient
    if sent.message_id is not None and outgoing.quiet:
        return  # told once, for the album's first item
    if sent.message_id is not None:
        text = _("Sent to {name}, {city}.")
    elif sent.blocked:
        text = _("{name}, {city} can no longer receive messages from this bot. Nothing was sent.")
    else:
        text = _(
            "Sorry, your message could not be delivered to {name}, {city}. Please try again later."
        )
    text = text.format(name=person_name(other), city=person_city(other))
    if sent.message_id is not None and outgoing.recipient_may_be_away:
        away = await absences.away_notice(context.deps, other.official_id)
        if away is not None:
            text += "\n\n" + away_notice_text(away)
    await reply(update, text)


@guarded
async def step_answer(update: Update, context: Ctx, state: Step) -> None:
    """The message after Answer or Reply: relayed to the other side; an album's items (one
    message each) all go."""
    message = update.effective_message
    album = state.data.get("album")
    if album is not None and (message is None or message.media_group_id != album):
        # The album relayed before is whole: this message is not part of the answer.
        await answering.end_answer(context.deps, context.who.tg_user_id)
        await no_step(update, context)
        return
    content = content_of(message) if message else None
    if content is None:
        await reply(update, unsupported_text())
        return
    routing_id = int(state.data["routing_id"])
    outgoing = await answering.prepare_relay(
        context.deps, context.who.tg_user_id, content, routing_id=routing_id
    )
    await relay(update, context, replace(outgoing, quiet=album is not None))
    if content.group is not None:
        await answering.continue_album(
            context.deps, context.who.tg_user_id, routing_id, content.group
        )


def replied_to_bot(update: Update, context: Ctx) -> tuple[Message, int] | None:
    """The message and the id of the bot's message it replies to; None for anything else."""
    message = update.effective_message
    replied = message.reply_to_message if message is not None else None
    if replied is None or replied.from_user is None or replied.from_user.id != context.bot.id:
        return None
    assert message is not None
    return message, replied.message_id


async def on_reply_first(update: Update, context: Ctx) -> None:
    """Ahead of the identity guard: a Telegram reply to a message the bot delivered, whose one
    thread lookup also tells who is writing (registered, in which language). Relayed here;
    anything else (no thread, a closed question, a sticker, someone not registered) goes on
    to the identity guard and on_reply_message, which answer it as usual."""
    user = update.effective_user
    found = replied_to_bot(update, context)
    if found is None or user is None or user.is_bot:
        return
    message, replied_id = found
    content = content_of(message)
    if content is None:
        return
    try:
        outgoing = await answering.relay_by_reply(
            context.deps, user.id, (message.chat_id, replied_id), content
        )
    except ServiceError:
        return
    if outgoing is None:
        return
    set_locale(outgoing.sender.locale)
    if content.group is None:
        await relay(update, context, outgoing)
        raise ApplicationHandlerStop
    # An album, one message per item: the first goes with its header, the rest bare.
    later = await answering.album_continues(
        context.deps, user.id, outgoing.routing_id, content.group
    )
    await relay(update, context, replace(outgoing, quiet=later))
    if outgoing.routing_id is not None:
        await answering.continue_album(context.deps, user.id, outgoing.routing_id, content.group)
    raise ApplicationHandlerStop


async def on_reply_message(update: Update, context: Ctx) -> None:
    """A Telegram reply to a question, answer or follow-up the bot delivered: relayed on.

    Replies to anything else (a registration prompt, say) fall through to the open step.
    """
    found = replied_to_bot(update, context)
    if found is None or not context.who.registered:
        return
    message, replied_id = found
    content = content_of(message)
    try:
        outgoing = await answering.prepare_relay(
            context.deps,
            context.who.tg_user_id,
            content or Content("unsupported", None, message.chat_id, message.message_id),
            replied=(message.chat_id, replied_id),
        )
    except NotFound:
        return
    except ServiceError as exc:
        await reply(update, error_text(exc))
        raise ApplicationHandlerStop from None
    if content is None:
        await reply(update, unsupported_text())
    else:
        await relay(update, context, outgoing)
    raise ApplicationHandlerStop
