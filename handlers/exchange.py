"""The exchange: /ask, delivering questions, Answer / Not for me, relaying answers and
follow-ups (buttons or Telegram replies), resolve and thanks, /questions, /inbox, and
organisers routing by hand.

Sends here are live and few (a question to ~3-10 officials, one relayed answer), so they
happen in the handler; mass traffic goes through the outbox instead.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Sequence
from dataclasses import replace

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import MessageLimit
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import ApplicationHandlerStop

from bot.i18n import (
    _,
    current_locale,
    format_datetime,
    format_list,
    ngettext,
    set_locale,
    use_locale,
)
from bot.runtime import Deps
from bot.services import NotFound, ServiceError
from bot.services.catalogue import TopicInfo
from bot.services.dialog import Step
from bot.services.enums import Role
from bot.services.exchange import (
    answering,
    asking,
    closing,
    delivery_records,
    lists,
    manual_routing,
    types,
    volunteering,
)
from bot.services.exchange.types import Content, Outgoing, Person, Sent
from handlers.common import answer, error_text, esc, guarded, reply, requires, send_text, show
from handlers.context import Ctx
from handlers.dialog import no_step, on_step
from handlers.keyboards import BadCallback, button, markup, paged, parse, parse_int

log = logging.getLogger(__name__)

CAPTIONABLE = ("photo", "animation", "document", "video", "audio", "voice")
# Checked in this order: an animation also carries a document, a venue also a location.
MEDIA_ORDER = ("photo", "animation", "document", "video", "audio", "voice", "video_note")
EXCERPT = 160

ERRORS = {
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


# ---- reading and sending messages ------------------------------------------------------


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


def _plain_length(markup_text: str) -> int:
    return len(html.unescape(re.sub(r"<[^>]+>", "", markup_text)))


def header(o: Outgoing) -> str:
    """The line above a relayed message, in the recipient's language (call inside use_locale)."""
    s = o.sender
    topic = esc(o.topic.name(current_locale()))
    if o.kind == "question":
        return _("❓ <b>Question on {topic}</b>\nFrom {name}, {position}, {city}").format(
            topic=topic, name=esc(s.name), position=esc(s.position), city=esc(s.city_name)
        )
    if o.kind == "answer":
        return _("💬 <b>{name}, {city}</b> answered your question on {topic}:").format(
            name=esc(s.name), city=esc(s.city_name), topic=topic
        )
    return _("↩️ <b>{name}, {city}</b> wrote about {topic}:").format(
        name=esc(s.name), city=esc(s.city_name), topic=topic
    )


def keyboard(o: Outgoing) -> InlineKeyboardMarkup:
    """Buttons under a relayed message, in the recipient's language (call inside use_locale)."""
    if o.kind == "question":
        return markup(
            [
                button(_("Answer"), "qa", "a", o.routing_id),
                button(_("Not for me"), "qa", "n", o.routing_id),
            ]
        )
    rows = [[button(_("Reply"), "qr", o.routing_id)]]
    if o.recipient.official_id != o.sender.official_id and o.kind == "answer":
        rows.append([button(_("Mark resolved"), "qs", "r", o.question_id)])
    return markup(*rows)


async def send_content(
    bot: Bot, chat_id: int, content: Content, head: str, kb: InlineKeyboardMarkup | None
) -> int:
    """Send header + content; buttons go on the message a reply is expected to. Its id."""
    body = esc(content.text) if content.text else ""
    text = head + ("\n\n" + body if body else "")
    if content.album:
        return (await send_album(bot, chat_id, content, text, kb))[0]
    if content.content_type == "text":
        return await send_text(bot, chat_id, text, kb)
    assert content.chat_id is not None and content.message_id is not None
    if content.content_type in CAPTIONABLE and _plain_length(text) <= MessageLimit.CAPTION_LENGTH:
        copied = await bot.copy_message(
            chat_id, content.chat_id, content.message_id, caption=text, reply_markup=kb
        )
        return copied.message_id
    # No room (or no such thing) as a caption: the words first, then the copy with the buttons.
    if text:
        await send_text(bot, chat_id, text)
    if content.content_type in CAPTIONABLE:
        copied = await bot.copy_message(
            chat_id, content.chat_id, content.message_id, caption="", reply_markup=kb
        )
    else:
        copied = await bot.copy_message(
            chat_id, content.chat_id, content.message_id, reply_markup=kb
        )
    return copied.message_id


async def copy_album(bot: Bot, chat_id: int, content: Content) -> list[int]:
    assert content.chat_id is not None
    copies = await bot.copy_messages(chat_id, content.chat_id, list(content.album))
    return [c.message_id for c in copies]


async def send_album(
    bot: Bot, chat_id: int, content: Content, text: str, kb: InlineKeyboardMarkup | None
) -> tuple[int, list[int]]:
    """Header (with the caption and the buttons: copyMessages carries neither), then the album
    copied whole. The header's id is the one a reply threads on; then the copies' ids."""
    head_id = await send_text(bot, chat_id, text, kb)
    return head_id, await copy_album(bot, chat_id, content)


async def deliver(bot: Bot, outgoing: Sequence[Outgoing]) -> list[Sent]:
    """Send each message; a 403 (blocked) or other failure is reported, the rest still go."""
    results: list[Sent] = []
    for o in outgoing:
        with use_locale(o.recipient.locale):
            head, kb = ("", None) if o.quiet else (header(o), keyboard(o))
        try:
            message_id = await send_content(bot, o.recipient.chat_id, o.content, head, kb)
            results.append(Sent(o, message_id))
        except Forbidden as exc:
            log.info(
                "relay blocked kind=%s question_id=%s official_id=%s",
                o.kind,
                o.question_id,
                o.recipient.official_id,
            )
            results.append(Sent(o, None, str(exc), blocked=True))
        except TelegramError as exc:
            log.warning(
                "relay failed kind=%s question_id=%s official_id=%s error=%s",
                o.kind,
                o.question_id,
                o.recipient.official_id,
                exc,
            )
            results.append(Sent(o, None, str(exc)))
    return results


async def deliver_question(bot: Bot, deps: Deps, outgoing: list[Outgoing]) -> list[str]:
    """Deliver to the routed officials; cities that fail entirely are replaced. Cities reached."""
    cities: list[str] = []
    while outgoing:
        recorded = await delivery_records.record_deliveries(deps, await deliver(bot, outgoing))
        cities, outgoing = recorded.cities, recorded.more
    return cities


async def notify(
    bot: Bot, person: Person, text: str, kb: InlineKeyboardMarkup | None = None
) -> None:
    try:
        await send_text(bot, person.chat_id, text, kb)
    except TelegramError as exc:
        log.info("notice failed official_id=%s error=%s", person.official_id, exc)


def sent_to_text(cities: list[str]) -> str:
    return _("Sent to officials in {cities}.").format(cities=format_list([esc(c) for c in cities]))


# ---- /ask ------------------------------------------------------------------------------


def _groups(topics: list[TopicInfo]) -> list[list[TopicInfo]]:
    groups: dict[str, list[TopicInfo]] = {}
    for t in topics:
        groups.setdefault(t.group, []).append(t)
    return list(groups.values())


def _cancel_row() -> list[InlineKeyboardButton]:
    return [button(_("Cancel"), "ask", "cancel")]


async def show_groups(update: Update, topics: list[TopicInfo], page: int) -> None:
    groups = _groups(topics)
    if len(groups) == 1:
        await show_topics(update, topics, groups[0][0].id, page)
        return
    loc = current_locale()
    items = [(g[0].group_name(loc), f"ask:g:{g[0].id}:0") for g in groups]
    body, _page = paged(items, page, "ask:G")
    body.append(_cancel_row())
    await show(
        update,
        _("What is your question about? Choose a group of topics:"),
        InlineKeyboardMarkup(body),
    )


async def show_topics(update: Update, topics: list[TopicInfo], first_id: int, page: int) -> None:
    groups = _groups(topics)
    group = next((g for g in groups if any(t.id == first_id for t in g)), None)
    if group is None:
        raise BadCallback("unknown group")
    loc = current_locale()
    items = [(t.name(loc), f"ask:t:{t.id}") for t in group]
    body, _page = paged(items, page, f"ask:g:{group[0].id}")
    if len(groups) > 1:
        body.append([button(_("‹ All groups"), "ask", "G", 0)])
    body.append(_cancel_row())
    await show(
        update,
        _("Choose the topic of your question ({group}):").format(
            group=esc(group[0].group_name(loc))
        ),
        InlineKeyboardMarkup(body),
    )


@guarded(ERRORS)
async def cmd_ask(update: Update, context: Ctx) -> None:
    """Starts a question: topic groups as buttons (or the hourly limit, or 'register first')."""
    topics = await asking.start_ask(context.deps, context.who.tg_user_id)
    if not topics:
        await reply(update, _("No topics have been set up yet. Please tell your organiser."))
        return
    await show_groups(update, topics, 0)


@guarded(ERRORS)
async def on_ask(update: Update, context: Ctx) -> None:
    """Topic paging and choice, then Send or Cancel under the preview."""
    query = update.callback_query
    assert query is not None
    parts = parse(query.data, "ask")
    deps, user_id = context.deps, context.who.tg_user_id
    if parts[0] == "G" and len(parts) == 2:
        page = parse_int(parts[1])
        await answer(query)
        await show_groups(update, await asking.topics(deps), page)
    elif parts[0] == "g" and len(parts) == 3:
        first_id, page = parse_int(parts[1]), parse_int(parts[2])
        await answer(query)
        await show_topics(update, await asking.topics(deps), first_id, page)
    elif parts[0] == "t" and len(parts) == 2:
        topic = await asking.choose_topic(deps, user_id, parse_int(parts[1]))
        await answer(query)
        await show(
            update,
            _(
                "Topic: <b>{topic}</b>.\nNow send your question: as text, or as a photo, document, "
                "voice note or location with a caption. /cancel to stop."
            ).format(topic=esc(topic.name(current_locale()))),
        )
    elif parts == ["send"]:
        result = await asking.submit(deps, user_id)
        await answer(query)
        await _drop_buttons(update)
        await after_submit(update, context, result)
    elif parts == ["cancel"]:
        await asking.cancel_ask(deps, user_id)
        await answer(query)
        await _drop_buttons(update)
        await reply(update, _("Cancelled. Nothing was sent."))
    else:
        raise BadCallback(query.data)


async def _drop_buttons(update: Update) -> None:
    query = update.callback_query
    if query is None or query.message is None:
        return
    try:
        await query.edit_message_reply_markup(None)
    except TelegramError as exc:  # an old message can no longer be edited; nothing to undo
        log.debug("could not remove buttons: %s", exc)


async def after_submit(update: Update, context: Ctx, result: types.AskResult) -> None:
    if not result.deliveries:
        await reply(
            update,
            _(
                "Nobody in other cities covers {topic} yet. The organisers have been told and can "
                "send your question to a city by hand."
            ).format(topic=esc(result.topic.name(current_locale()))),
        )
        await tell_organisers(context, result)
        return
    cities = await deliver_question(context.bot, context.deps, result.deliveries)
    if cities:
        await reply(update, sent_to_text(cities))
    else:
        await reply(
            update,
            _(
                "Your question is saved, but it could not be delivered to anyone right now. "
                "The organisers can route it by hand."
            ),
        )


async def tell_organisers(context: Ctx, result: types.AskResult) -> None:
    a = result.asker
    for organiser in result.organisers:
        with use_locale(organiser.locale):
            text = _(
                "<b>Nobody covers {topic}</b>\nQuestion #{id} from {name}, {position}, {city} "
                "could not be routed to any peer city."
            ).format(
                topic=esc(result.topic.name(current_locale())),
                id=result.question_id,
                name=esc(a.name),
                position=esc(a.position),
                city=esc(a.city_name),
            )
            kb = markup([button(_("Route to a city"), "qm", "c", result.question_id, 0)])
        await notify(context.bot, organiser, text, kb)


@on_step(types.STEP_TOPIC)
async def step_topic(update: Update, context: Ctx, state: Step) -> None:
    """A message while a topic is expected: show the topics again."""
    await reply(update, _("Please choose a topic with the buttons first."))
    await show_groups(update, await asking.topics(context.deps), 0)


@on_step(types.STEP_COMPOSE, types.STEP_PREVIEW)
@guarded(ERRORS)
async def step_compose(update: Update, context: Ctx, state: Step) -> None:
    """The question itself: shows the preview as recipients will see it, with Send / Cancel."""
    message = update.effective_message
    content = content_of(message) if message else None
    if content is None:
        await reply(
            update,
            _(
                "Please send your question as text, "
                "or as a photo, document, voice note or location."
            ),
        )
        return
    draft = await asking.set_draft(context.deps, context.who.tg_user_id, content)
    preview = Outgoing("question", 0, None, draft.asker, draft.asker, draft.topic, draft.content)
    kb = markup([button(_("Send"), "ask", "send"), button(_("Cancel"), "ask", "cancel")])
    if draft.content.album:
        await album_preview(update, context, draft, header(preview), kb)
        return
    await reply(update, _("<b>Preview</b> — this is what officials in peer cities will see:"))
    hint = ""
    if draft.needs_text:
        hint = _("You can still send a line of text to go with it, or tap Send.")
    chat = update.effective_chat
    assert chat is not None
    await send_content(context.bot, chat.id, draft.content, header(preview), None if hint else kb)
    if hint:
        await reply(update, hint, kb)


async def album_preview(
    update: Update, context: Ctx, draft: types.Draft, head: str, kb: InlineKeyboardMarkup
) -> None:
    """An album's items arrive one update each: the first shows the preview, each later one
    refreshes it (header edited, copies replaced) so one preview shows the whole album."""
    chat = update.effective_chat
    assert chat is not None
    content = draft.content
    text = head + ("\n\n" + esc(content.text) if content.text else "")
    if draft.preview is None:
        await reply(update, _("<b>Preview</b> — this is what officials in peer cities will see:"))
        head_id, copies = await send_album(context.bot, chat.id, content, text, kb)
    else:
        head_id, old = draft.preview
        try:
            await context.bot.edit_message_text(text, chat.id, head_id, reply_markup=kb)
        except BadRequest as exc:
            if "not modified" not in exc.message.lower():
                head_id = await send_text(context.bot, chat.id, text, kb)
        try:
            await context.bot.delete_messages(chat.id, old)
        except TelegramError as exc:  # stale copies stay on screen; the new ones follow
            log.debug("could not delete old album preview: %s", exc)
        copies = await copy_album(context.bot, chat.id, content)
    await asking.remember_preview(context.deps, context.who.tg_user_id, head_id, copies)


# ---- answering and replying ------------------------------------------------------------


@guarded(ERRORS)
async def on_question_action(update: Update, context: Ctx) -> None:
    """Answer: the next message goes to the asker. Not for me: noted, another city may be tried."""
    query = update.callback_query
    assert query is not None
    action, raw = parse(query.data, "qa", count=2)
    routing_id = parse_int(raw)
    if action == "a":
        brief = await answering.begin_answer(context.deps, context.who.tg_user_id, routing_id)
        await answer(query)
        await reply(
            update,
            _(
                "Send your answer to {name}, {city}: "
                "text, photo, document, voice note or location. "
                "/cancel to stop."
            ).format(name=esc(brief.asker.name), city=esc(brief.asker.city_name)),
        )
    elif action == "n":
        more = await closing.decline(context.deps, context.who.tg_user_id, routing_id)
        await answer(query, _("Noted. Thank you."))
        await _drop_buttons(update)
        await reply(update, _("Noted: this question is not for you. Thank you for saying so."))
        if more:
            await deliver_question(context.bot, context.deps, more)
    else:
        raise BadCallback(query.data)


@guarded(ERRORS)
async def on_digest_offer(update: Update, context: Ctx) -> None:
    """An Answer button of the weekly digest: the question is sent to this official, with the
    usual Answer / Not for me buttons, and goes on like any routed question."""
    query = update.callback_query
    assert query is not None
    (raw,) = parse(query.data, "dg", count=1)
    outgoing = await volunteering.volunteer(context.deps, context.who.tg_user_id, parse_int(raw))
    await answer(query)
    if not await deliver_question(context.bot, context.deps, outgoing):
        await reply(
            update, _("Sorry, the question could not be sent to you. Please try again later.")
        )


@guarded(ERRORS)
async def on_reply_button(update: Update, context: Ctx) -> None:
    """Reply: the next message goes to the other side of the thread."""
    query = update.callback_query
    assert query is not None
    (raw,) = parse(query.data, "qr", count=1)
    other = await answering.begin_reply(context.deps, context.who.tg_user_id, parse_int(raw))
    await answer(query)
    await reply(
        update,
        _("Send your reply to {name}, {city}. /cancel to stop.").format(
            name=esc(other.name), city=esc(other.city_name)
        ),
    )


async def relay(update: Update, context: Ctx, outgoing: Outgoing) -> None:
    """Send one answer or follow-up, log it, and tell the sender how it went."""
    (sent,) = await deliver(context.bot, [outgoing])
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
    await reply(update, text.format(name=esc(other.name), city=esc(other.city_name)))


@on_step(types.STEP_ANSWER)
@guarded(ERRORS)
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
        await reply(update, error_text(exc, ERRORS))
        raise ApplicationHandlerStop from None
    if content is None:
        await reply(update, unsupported_text())
    else:
        await relay(update, context, outgoing)
    raise ApplicationHandlerStop


# ---- resolve and thanks ----------------------------------------------------------------


@guarded(ERRORS)
async def on_resolve(update: Update, context: Ctx) -> None:
    """Mark resolved (then offer to thank the helpers), or send the thanks."""
    query = update.callback_query
    assert query is not None
    action, raw = parse(query.data, "qs", count=2)
    question_id = parse_int(raw)
    if action == "r":
        done = await closing.resolve(context.deps, context.who.tg_user_id, question_id)
        await answer(query)
        text = _("Question #{id} on {topic} is marked resolved.").format(
            id=done.question_id, topic=esc(done.topic.name(current_locale()))
        )
        kb = None
        if done.helpers:
            text += "\n" + ngettext(
                "{count} official answered it. Thank them?",
                "{count} officials answered it. Thank them?",
                done.helpers,
            ).format(count=done.helpers)
            kb = markup([button(_("Thank the helpers"), "qs", "t", done.question_id)])
        await reply(update, text, kb)
    elif action == "t":
        thanks = await closing.thank(context.deps, context.who.tg_user_id, question_id)
        await answer(query)
        await _drop_buttons(update)
        a = thanks.asker
        for helper in thanks.helpers:
            with use_locale(helper.locale):
                text = _(
                    "🙏 {name}, {city} marked their question on {topic} resolved and thanks you "
                    "for your help."
                ).format(
                    name=esc(a.name),
                    city=esc(a.city_name),
                    topic=esc(thanks.topic.name(current_locale())),
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
    else:
        raise BadCallback(query.data)


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


@guarded(ERRORS)
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
            lines.append(_("Sent to: {cities}").format(cities=esc(", ".join(b.cities))))
        lines.append(_excerpt(b))
        if b.status in ("open", "answered"):
            buttons.append(
                [
                    button(
                        _("Mark #{id} resolved").format(id=b.question_id), "qs", "r", b.question_id
                    )
                ]
            )
    await reply(update, "\n".join(lines), InlineKeyboardMarkup(buttons) if buttons else None)


@guarded(ERRORS)
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
                name=esc(a.name),
                position=esc(a.position),
                city=esc(a.city_name),
            )
        )
        lines.append(_excerpt(b))
        buttons.append(
            [
                button(_("Answer #{id}").format(id=b.question_id), "qa", "a", b.routing_id),
                button(_("Not for me #{id}").format(id=b.question_id), "qa", "n", b.routing_id),
            ]
        )
    await reply(update, "\n".join(lines), InlineKeyboardMarkup(buttons))


# ---- organisers: routing by hand -------------------------------------------------------


@requires(Role.ORGANISER)
@guarded(ERRORS)
async def on_manual_route(update: Update, context: Ctx) -> None:
    """Organisers: choose a city for a question nobody covers, and send it there."""
    query = update.callback_query
    assert query is not None
    parts = parse(query.data, "qm", count=3)
    question_id, value = parse_int(parts[1]), parse_int(parts[2])
    deps, user_id = context.deps, context.who.tg_user_id
    if parts[0] == "c":
        brief, cities = await manual_routing.manual_route_options(deps, user_id, question_id)
        await answer(query)
        items = [(c.name, f"qm:r:{question_id}:{c.id}") for c in cities]
        body, _page = paged(items, value, f"qm:c:{question_id}", width=2, size=12)
        text = _("Question #{id} on {topic}: choose the city to send it to.").format(
            id=question_id, topic=esc(brief.topic.name(current_locale()))
        )
        if not cities:
            text = _("No other city has active officials yet.")
        await show(update, text, InlineKeyboardMarkup(body))
    elif parts[0] == "r":
        outgoing = await manual_routing.route_by_hand(deps, user_id, question_id, value)
        await answer(query)
        cities = await deliver_question(context.bot, context.deps, outgoing)
        if not cities:
            await show(update, _("It could not be delivered to anyone in that city."))
            return
        await show(update, sent_to_text(cities))
        asker = outgoing[0].sender
        with use_locale(asker.locale):
            text = _("An organiser sent your question on {topic} to officials in {cities}.").format(
                topic=esc(outgoing[0].topic.name(current_locale())),
                cities=format_list([esc(c) for c in cities]),
            )
        await notify(context.bot, asker, text)
    else:
        raise BadCallback(query.data)
