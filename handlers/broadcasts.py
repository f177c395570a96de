"""Organisers' broadcasts: /broadcast (message → audience → preview → send or schedule).

/broadcasts and the progress message are in handlers/broadcast_list.py."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest

from bot.i18n import (
    _,
    babel_locale,
    current_locale,
    format_datetime,
    language_name,
    ngettext,
)
from bot.services import broadcast_compose as bc
from bot.services.broadcast_compose import Draft, Role
from bot.services.broadcast_translation import translate_draft
from bot.services.dialog import Step
from bot.services.errors import ErrorCode
from bot.telegram_io.pacing import ReplySpacing
from handlers.callbacks import BadCallback, CallbackData
from handlers.common import answer, esc, guarded, reply, requires, show
from handlers.context import Ctx
from handlers.error_texts import error_message
from handlers.keyboards import button, markup, paged
from handlers.outreach_buttons import (
    BroadcastAudience,
    BroadcastButton,
    BroadcastCancel,
    BroadcastConfirm,
    BroadcastEveryone,
    BroadcastOptions,
    BroadcastPreview,
    BroadcastSchedule,
    BroadcastSendNow,
    BroadcastToggleCode,
    BroadcastToggleId,
    Dimension,
)
from handlers.profile_texts import role_name
from handlers.translation_render import broadcast_words
from handlers.user_text import isolate_all, shown_city

log = logging.getLogger(__name__)


def dimension_label(dim: str) -> str:
    return {
        "countries": _("Countries"),
        "cities": _("Cities"),
        "topics": _("Topics"),
        "languages": _("Languages"),
        "roles": _("Roles"),
    }[dim]


def option_label(dim: str, option: bc.Option) -> str:
    if dim == "countries":
        return str(babel_locale().territories.get(str(option.value), option.value))
    if dim == "cities":
        return f"{shown_city(option.name, option.names)} ({option.detail})"
    if dim == "topics":
        return option.names.get(current_locale()) or option.names.get("en") or option.name
    if dim == "languages":
        return language_name(str(option.value))
    return role_name(str(option.value))


async def audience_text(context: Ctx, draft: Draft) -> str:
    """One line per dimension: the chosen values, or 'any'."""
    lines = []
    for dim in ("countries", "cities", "topics", "languages", "roles"):
        chosen = draft.target.get(dim) or []
        if chosen:
            labels = {o.value: option_label(dim, o) for o in await bc.options(context.deps, dim)}
            value = isolate_all(labels.get(v, str(v)) for v in chosen)
        else:
            value = _("any")
        lines.append(
            _("{dimension}: {values}").format(dimension=dimension_label(dim), values=value)
        )
    return "\n".join(lines)


def count_text(count: int) -> str:
    return ngettext(
        "{count} official will receive it.", "{count} officials will receive it.", count
    ).format(count=count)


async def show_audience(update: Update, context: Ctx, draft: Draft, *, new: bool = False) -> None:
    text = _(
        "<b>Who should receive this broadcast?</b>\n"
        "Choose values in any line; recipients match every line you set "
        "(any value within a line).\n\n"
        "{audience}\n\n{count}"
    ).format(audience=await audience_text(context, draft), count=count_text(draft.count))

    def dim_button(dim: Dimension) -> Any:
        n = len(draft.target.get(dim) or [])
        label = dimension_label(dim) + (f" ({n})" if n else "")
        return button(label, BroadcastOptions(dim, 0))

    keyboard = markup(
        [button(("✅ " if not draft.target else "") + _("Everyone"), BroadcastEveryone())],
        [dim_button("countries"), dim_button("cities")],
        [dim_button("topics"), dim_button("languages")],
        [dim_button("roles")],
        [button(_("Preview ▸"), BroadcastPreview()), button(_("Cancel"), BroadcastCancel())],
    )
    if new:
        await reply(update, text, keyboard)
    else:
        await show(update, text, keyboard)


def toggle_data(dim: Dimension, value: str | int, page: int) -> CallbackData:
    """The data of the button adding or removing `value` (cities and topics by id)."""
    if dim == "cities" or dim == "topics":
        return BroadcastToggleId(dim, int(value), page)
    return BroadcastToggleCode(dim, str(value), page)


async def show_options(
    update: Update, context: Ctx, dim: Dimension, page: int, draft: Draft
) -> None:
    chosen = set(draft.target.get(dim) or [])
    opts = await bc.options(context.deps, dim)
    items = [
        (
            ("✅ " if o.value in chosen else "▫️ ") + option_label(dim, o),
            toggle_data(dim, o.value, page),
        )
        for o in opts
    ]
    body, page = paged(items, page, lambda n: BroadcastOptions(dim, n), width=2)
    body.append([button(_("‹ Back"), BroadcastAudience())])
    text = _("<b>{dimension}</b>\nTap to add or remove; {count}").format(
        dimension=dimension_label(dim), count=count_text(draft.count)
    )
    await show(update, text, InlineKeyboardMarkup(body))


# ---- /broadcast ------------------------------------------------------------------------------


@requires(Role.ORGANISER)
@guarded
async def cmd_broadcast(update: Update, context: Ctx) -> None:
    """Asks the organiser for the message to broadcast."""
    await bc.begin(context.deps, context.who.tg_user_id)
    await reply(
        update,
        _(
            "Send me the message to broadcast: text, a photo, a document, a video or audio, with a "
            "caption if you like. Recipients will see it exactly as you send it. /cancel to stop."
        ),
    )


def broadcastable(message: Message) -> bool:
    return bool(
        message.text
        or message.photo
        or message.document
        or message.video
        or message.animation
        or message.audio
        or message.voice
    )


@guarded
async def step_message(update: Update, context: Ctx, state: Step) -> None:
    """Takes the message to broadcast and shows the audience buttons."""
    message = update.effective_message
    if message is None:
        return
    if message.media_group_id:
        await reply(
            update,
            _("An album cannot be broadcast as one message. Send one photo or document at a time."),
        )
        return
    if not broadcastable(message):
        await reply(
            update,
            _(
                "This kind of message cannot be broadcast. "
                "Send text, a photo, a document, a video or audio."
            ),
        )
        return
    draft = await bc.set_message(
        context.deps,
        context.who.tg_user_id,
        message.chat_id,
        message.message_id,
        message.text or message.caption,
        "text" if message.text else "caption",
    )
    await show_audience(update, context, draft, new=True)


@guarded
async def step_target(update: Update, context: Ctx, state: Step) -> None:
    """A message while the audience buttons are open: show them again."""
    draft = await bc.get_draft(context.deps, context.who.tg_user_id)
    await reply(update, _("Please use the buttons to choose who receives the broadcast."))
    await show_audience(update, context, draft, new=True)


def example_time(context: Ctx, timezone: str) -> str:
    local = (context.deps.clock.now() + timedelta(days=1)).astimezone(ZoneInfo(timezone))
    return local.replace(minute=0).strftime("%Y-%m-%d %H:%M")


@guarded
async def step_when(update: Update, context: Ctx, state: Step) -> None:
    """Takes the date and time to send at and asks to confirm it."""
    message = update.effective_message
    draft = await bc.set_time(
        context.deps, context.who.tg_user_id, message.text if message and message.text else ""
    )
    assert draft.when is not None
    text = _("Send on <b>{when}</b> ({timezone}) to {count}?").format(
        when=format_datetime(draft.when, draft.timezone),
        timezone=esc(draft.timezone),
        count=ngettext("{count} official", "{count} officials", draft.count).format(
            count=draft.count
        ),
    )
    await reply(
        update,
        text,
        markup(
            [button(_("Confirm"), BroadcastConfirm())],
            [button(_("Change time"), BroadcastSchedule()), button(_("Cancel"), BroadcastCancel())],
        ),
    )


@requires(Role.ORGANISER)
@guarded
async def on_compose(update: Update, context: Ctx) -> None:
    """Audience buttons, preview, send now / schedule / cancel of the broadcast being written."""
    query = update.callback_query
    assert query is not None
    pressed = BroadcastButton.decode(query.data)
    me = context.who.tg_user_id
    deps = context.deps
    if isinstance(pressed, BroadcastEveryone):
        await answer(query)
        await show_audience(update, context, await bc.set_everyone(deps, me))
    elif isinstance(pressed, BroadcastAudience):
        await answer(query)
        await show_audience(update, context, await bc.get_draft(deps, me))
    elif isinstance(pressed, BroadcastOptions):
        await answer(query)
        await show_options(
            update, context, pressed.dimension, pressed.page, await bc.get_draft(deps, me)
        )
    elif isinstance(pressed, BroadcastToggleId | BroadcastToggleCode):
        value = pressed.item_id if isinstance(pressed, BroadcastToggleId) else pressed.code
        draft = await bc.toggle(deps, me, pressed.dimension, value)
        await answer(query)
        await show_options(update, context, pressed.dimension, pressed.page, draft)
    elif isinstance(pressed, BroadcastPreview):
        await preview(update, context)
    elif isinstance(pressed, BroadcastSendNow):
        words = broadcast_words(await translate_draft(deps, me))
        created = await bc.confirm(deps, me, scheduled=False, words=words)
        await answer(query)
        await show(
            update,
            ngettext(
                "Broadcast #{id} is on its way to {count} official. A progress message follows.",
                "Broadcast #{id} is on its way to {count} officials. A progress message follows.",
                created.total,
            ).format(id=created.id, count=created.total),
        )
    elif isinstance(pressed, BroadcastSchedule):
        draft = await bc.ask_time(deps, me)
        await answer(query)
        await reply(
            update,
            _(
                "When should it go out? Send the date and time in your time zone ({timezone}), "
                "for example {example}."
            ).format(timezone=esc(draft.timezone), example=example_time(context, draft.timezone)),
        )
    elif isinstance(pressed, BroadcastConfirm):
        words = broadcast_words(await translate_draft(deps, me))
        created = await bc.confirm(deps, me, scheduled=True, words=words)
        assert created.scheduled_at is not None
        await answer(query)
        await show(
            update,
            ngettext(
                "Scheduled: broadcast #{id} goes to {count} official on {when}. "
                "/broadcasts lists it and lets you cancel it.",
                "Scheduled: broadcast #{id} goes to {count} officials on {when}. "
                "/broadcasts lists it and lets you cancel it.",
                created.total,
            ).format(
                id=created.id,
                count=created.total,
                when=format_datetime(created.scheduled_at, created.timezone),
            ),
        )
    elif isinstance(pressed, BroadcastCancel):
        await bc.cancel_draft(deps, me)
        await answer(query)
        await show(update, _("Broadcast cancelled; nothing was sent."))
    else:
        raise BadCallback(query.data)


async def preview(update: Update, context: Ctx) -> None:
    """Copies the message to the organiser as recipients will see it, then Send / Schedule."""
    draft = await bc.get_draft(context.deps, context.who.tg_user_id)
    query = update.callback_query
    if draft.count == 0:
        await answer(query, error_message(ErrorCode.NO_RECIPIENTS), alert=True)
        return
    await answer(query)
    me = context.who.tg_user_id
    # Two messages in a row to one chat: both keep the chat's one-a-second spacing.
    try:
        await context.bot.copy_message(
            me, draft.source_chat_id, draft.source_message_id, rate_limit_args=ReplySpacing.CHAT
        )
    except BadRequest as exc:
        log.info("preview copy failed user_id=%s error=%s", context.who.tg_user_id, exc)
        await reply(
            update, _("I cannot find your message any more. Send /broadcast to start again.")
        )
        return
    text = _(
        "Above is the message exactly as recipients will see it.\n\n{audience}\n\n{count}"
    ).format(audience=await audience_text(context, draft), count=count_text(draft.count))
    await reply(
        update,
        text,
        markup(
            [button(_("Send now"), BroadcastSendNow()), button(_("Schedule"), BroadcastSchedule())],
            [
                button(_("Change audience"), BroadcastAudience()),
                button(_("Cancel"), BroadcastCancel()),
            ],
        ),
        spaced=True,
    )
