"""Joining: /start (with an invite link or as a request), the city and privacy buttons,
/cancel, and Telegram telling us someone blocked or unblocked the bot."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ChatMemberStatus
from telegram.error import TelegramError

from bot.i18n import _, language_name, use_locale
from bot.services import catalogue, dialog, onboarding
from handlers.common import answer, guarded, raise_bad, reply, show
from handlers.context import Ctx
from handlers.people_buttons import (
    RegistrationButton,
    RegistrationCitiesPage,
    RegistrationCity,
    RegistrationPickCity,
    RegistrationPrivacy,
)
from handlers.profile_steps import prompt, show_city_picker
from handlers.profile_texts import city_label, help_text, pending_keyboard, pending_text
from handlers.user_text import isolate

log = logging.getLogger(__name__)


@guarded
async def cmd_start(update: Update, context: Ctx) -> None:
    """Greets the person and starts (or resumes) registration, or says they are registered."""
    user = update.effective_user
    chat = update.effective_chat
    assert user is not None and chat is not None
    code = context.args[0] if context.args else None
    result = await onboarding.start(context.deps, user.id, chat.id, code, user.language_code)
    name = isolate(result.profile.name or user.first_name or "")
    if result.kind == "already":
        await reply(
            update,
            _("Welcome back, {name}. You are registered for {city}.").format(
                name=name, city=city_label(result.profile.city)
            )
            + "\n\n"
            + help_text(context.who.role),
        )
    elif result.kind == "welcome_back":
        await reply(
            update, _("Welcome back, {name}. You will receive messages again.").format(name=name)
        )
    elif result.kind == "pending":
        await reply(
            update,
            _(
                "Your request to join for {city} is waiting for an organiser. I will tell you when "
                "it is decided."
            ).format(city=city_label(result.profile.city)),
        )
    elif result.kind == "resume":
        await reply(update, _("Let's continue where you left off."))
        assert result.step is not None
        await prompt(update, context, result.step, result.city)
    else:
        await reply(
            update,
            _(
                "Hello! I am the City Exchange bot. I speak {language}; you can change it at any "
                "time with /language."
            ).format(language=language_name(result.profile.locale)),
        )
        assert result.step is not None
        await prompt(update, context, result.step, result.city)


@guarded
async def on_registration(update: Update, context: Ctx) -> None:
    """Buttons of the registration flow: confirm city, pick city, privacy."""
    query = update.callback_query
    assert query is not None
    pressed = RegistrationButton.decode(query.data)
    user_id = context.who.tg_user_id
    await answer(query)
    match pressed:
        case RegistrationCity(choice):
            step = await onboarding.confirm_city(context.deps, user_id, choice == "yes")
            if step is None:
                await show(
                    update, _("Please ask your organiser for the invite link of your own city.")
                )
            else:
                await prompt(update, context, step)
        case RegistrationCitiesPage(page):
            cities = await catalogue.list_cities(context.deps)
            await show_city_picker(update, cities, page)
        case RegistrationPickCity(city_id):
            city = await onboarding.pick_city(context.deps, user_id, city_id)
            await show(
                update,
                _("Your request will go to the organisers for {city}.").format(
                    city=city_label(city)
                ),
            )
            await prompt(update, context, onboarding.STEP_NAME)
        case RegistrationPrivacy("no"):
            await onboarding.decline_privacy(context.deps, user_id)
            await show(
                update,
                _(
                    "Without your consent we cannot register you, and nothing about you was kept. "
                    "Open your invite link again if you change your mind."
                ),
            )
        case RegistrationPrivacy("yes"):
            done = await onboarding.accept_privacy(context.deps, user_id)
            await finish(update, context, done)
        case _:
            raise_bad()


async def finish(update: Update, context: Ctx, done: onboarding.FinishResult) -> None:
    p = done.profile
    if not done.pending:
        await show(
            update,
            _("Welcome, {name}! You are registered for {city}.").format(
                name=isolate(p.name or ""), city=city_label(p.city)
            ),
        )
        await reply(update, help_text(p.role))
        return
    await show(
        update,
        _(
            "Thank you, {name}. Your request to join for {city} has been sent to the organisers. "
            "I will tell you when it is decided."
        ).format(name=isolate(p.name or ""), city=city_label(p.city)),
    )
    for organiser in done.notify:
        with use_locale(organiser.locale):
            text = pending_text(p)
            keyboard = pending_keyboard(p)
        try:
            await context.bot.send_message(organiser.chat_id, text, reply_markup=keyboard)
        except TelegramError as exc:
            log.info("pending notice failed organiser_id=%s error=%s", organiser.official_id, exc)


@guarded
async def cmd_cancel(update: Update, context: Ctx) -> None:
    """Leaves the current flow."""
    left = await dialog.cancel(context.deps, context.who.tg_user_id)
    if left is None:
        await reply(update, _("There is nothing to cancel."))
    elif left.startswith("reg."):
        await reply(update, _("Registration stopped. Open your invite link again to start over."))
    else:
        await reply(update, _("Cancelled."))


async def on_my_chat_member(update: Update, context: Ctx) -> None:
    """The person blocked or unblocked the bot: mark them unreachable or reachable."""
    change = update.my_chat_member
    if change is None or change.chat.type != "private":
        return
    status = change.new_chat_member.status
    reachable = status not in (ChatMemberStatus.BANNED, ChatMemberStatus.LEFT)
    await onboarding.set_reachable(context.deps, change.from_user.id, reachable)
