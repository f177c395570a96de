"""/ask: topic groups and topics as buttons, the question composed (albums included) and shown
as officials will see it, then Send (delivered to the routed cities, or the organisers told
that nobody covers the topic) or Cancel."""

from __future__ import annotations

import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, TelegramError

from bot.i18n import _, current_locale, use_locale
from bot.services import calendars, library_search
from bot.services.catalogue import TopicInfo
from bot.services.dialog import Step
from bot.services.exchange import asking, types
from bot.services.exchange.types import Outgoing
from handlers.calendar_texts import waits_text
from handlers.callbacks import BadCallback
from handlers.common import answer, esc, guarded, reply, send_text, show
from handlers.context import Ctx
from handlers.exchange_buttons import (
    AskAnswered,
    AskAnyway,
    AskButton,
    AskCancel,
    AskGroup,
    AskGroups,
    AskSend,
    AskTopic,
)
from handlers.exchange_render import (
    content_of,
    header,
    question_words,
    route_button,
    sent_to_text,
)
from handlers.exchange_send import (
    copy_album,
    deliver_question,
    drop_buttons,
    notify,
    send_album,
    send_content,
)
from handlers.keyboards import button, markup, paged
from handlers.library_render import cards_text, read_button
from handlers.user_text import isolate, person_city, person_name

log = logging.getLogger(__name__)


def _groups(topics: list[TopicInfo]) -> list[list[TopicInfo]]:
    groups: dict[str, list[TopicInfo]] = {}
    for t in topics:
        groups.setdefault(t.group, []).append(t)
    return list(groups.values())


def _cancel_row() -> list[InlineKeyboardButton]:
    return [button(_("Cancel"), AskCancel())]


async def show_groups(update: Update, topics: list[TopicInfo], page: int) -> None:
    groups = _groups(topics)
    if len(groups) == 1:
        await show_topics(update, topics, groups[0][0].id, page)
        return
    loc = current_locale()
    items = [(g[0].group_name(loc), AskGroup(g[0].id, 0)) for g in groups]
    body, _page = paged(items, page, AskGroups)
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
    first = group[0].id
    loc = current_locale()
    items = [(t.name(loc), AskTopic(t.id)) for t in group]
    body, _page = paged(items, page, lambda n: AskGroup(first, n))
    if len(groups) > 1:
        body.append([button(_("‹ All groups"), AskGroups(0))])
    body.append(_cancel_row())
    await show(
        update,
        _("Choose the topic of your question ({group}):").format(
            group=esc(group[0].group_name(loc))
        ),
        InlineKeyboardMarkup(body),
    )


@guarded
async def cmd_ask(update: Update, context: Ctx) -> None:
    """Starts a question: topic groups as buttons (or the hourly limit, or 'register first')."""
    topics = await asking.start_ask(context.deps, context.who.tg_user_id)
    if not topics:
        await reply(update, _("No topics have been set up yet. Please tell your organiser."))
        return
    await show_groups(update, topics, 0)


@guarded
async def on_ask(update: Update, context: Ctx) -> None:
    """Topic paging and choice, then Send or Cancel under the preview."""
    query = update.callback_query
    assert query is not None
    deps, user_id = context.deps, context.who.tg_user_id
    match AskButton.decode(query.data):
        case AskGroups(page):
            await answer(query)
            await show_groups(update, await asking.topics(deps), page)
        case AskGroup(first_id, page):
            await answer(query)
            await show_topics(update, await asking.topics(deps), first_id, page)
        case AskTopic(topic_id):
            topic = await asking.choose_topic(deps, user_id, topic_id)
            await answer(query)
            await show(
                update,
                _(
                    "Topic: <b>{topic}</b>.\nNow send your question: as text, or as a photo, "
                    "document, voice note or location with a caption. /cancel to stop."
                ).format(topic=esc(topic.name(current_locale()))),
            )
        case AskSend():
            result = await asking.submit(deps, user_id)
            await answer(query)
            await drop_buttons(update)
            await after_submit(update, context, result)
        case AskAnyway():
            draft = await asking.current_draft(deps, user_id)
            await answer(query)
            await drop_buttons(update)
            await show_preview(update, context, draft)
        case AskAnswered(entry_id):
            await library_search.answered_by(deps, user_id, entry_id)
            await answer(query)
            await drop_buttons(update)
            await reply(
                update,
                _(
                    "Glad the library answered it. Your question was not sent, and it is "
                    "counted as answered from the library."
                ),
            )
        case AskCancel():
            await asking.cancel_ask(deps, user_id)
            await answer(query)
            await drop_buttons(update)
            await reply(update, _("Cancelled. Nothing was sent."))
        case _:
            raise BadCallback(query.data)


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
        text = sent_to_text(cities)
        waits = await calendars.waits(context.deps, [c.name for c in cities], current_locale())
        if waits:
            now = context.deps.clock.now()
            text += "\n\n" + waits_text(waits, now, result.asker.timezone)
        await reply(update, text)
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
                "<b>Nobody covers {topic}</b>\nQuestion #{id} ({question}) from {name}, "
                "{position}, {city} could not be routed to any peer city."
            ).format(
                topic=esc(result.topic.name(current_locale())),
                id=result.question_id,
                question=question_words(result.text, result.content_type),
                name=person_name(a),
                position=isolate(a.position),
                city=person_city(a),
            )
            kb = markup([route_button(result.question_id)])
        await notify(context.bot, organiser, text, kb)


async def step_topic(update: Update, context: Ctx, state: Step) -> None:
    """A message while a topic is expected: show the topics again."""
    await reply(update, _("Please choose a topic with the buttons first."))
    await show_groups(update, await asking.topics(context.deps), 0)


@guarded
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
    kb = markup([button(_("Send"), AskSend()), button(_("Cancel"), AskCancel())])
    if draft.content.album:
        await album_preview(update, context, draft, header(preview), kb)
        return
    if not draft.needs_text and await offer_library(update, context, draft):
        return
    await show_preview(update, context, draft)


async def offer_library(update: Update, context: Ctx, draft: types.Draft) -> bool:
    """Asked before? Up to three close library entries, before the question is sent."""
    found = await library_search.similar(context.deps, draft.content.text)
    if not found:
        return False
    body = [
        [
            read_button(i, c),
            button(_("This answers it ({number})").format(number=i), AskAnswered(c.entry_id)),
        ]
        for i, c in enumerate(found, 1)
    ]
    body.append([button(_("Ask anyway"), AskAnyway()), button(_("Cancel"), AskCancel())])
    heading = _(
        "<b>Asked before?</b> These exchanges in the library look close to your question. "
        "If one answers it, you need not wait for an answer."
    )
    await reply(update, cards_text(heading, found), InlineKeyboardMarkup(body))
    return True


async def show_preview(update: Update, context: Ctx, draft: types.Draft) -> None:
    """The question as officials will see it, with Send / Cancel."""
    preview = Outgoing("question", 0, None, draft.asker, draft.asker, draft.topic, draft.content)
    kb = markup([button(_("Send"), AskSend()), button(_("Cancel"), AskCancel())])
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
