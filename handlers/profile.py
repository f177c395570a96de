"""/profile and /language: seeing the profile, editing a part of it, the digest, the language."""

from __future__ import annotations

from telegram import Update

from bot.i18n import LANGUAGE_NAMES, SUPPORTED_LOCALES, _, language_name, use_locale
from bot.services import profile_steps, settings_access
from bot.services.profile import get_profile, set_digest, set_locale
from handlers.common import answer, guarded, raise_bad, reply, show
from handlers.context import Ctx
from handlers.keyboards import button, markup, rows
from handlers.people_buttons import LanguageSet, ProfileButton, ProfileDigest, ProfileEdit
from handlers.profile_steps import prompt
from handlers.profile_texts import profile_keyboard, profile_text


@guarded
async def cmd_profile(update: Update, context: Ctx) -> None:
    """Shows the profile with buttons to edit each part."""
    profile = await get_profile(context.deps, context.who.tg_user_id)
    await reply(update, profile_text(profile), profile_keyboard(profile))


@guarded
async def on_profile(update: Update, context: Ctx) -> None:
    """Starts editing one part of the profile."""
    query = update.callback_query
    assert query is not None
    pressed = ProfileButton.decode(query.data)
    user_id = context.who.tg_user_id
    # The service first: a refusal is then the press's only answer, shown as an alert.
    match pressed:
        case ProfileDigest(setting):
            await set_digest(context.deps, user_id, setting == "on")
            await answer(query)
            profile = await get_profile(context.deps, user_id)
            await show(update, profile_text(profile), profile_keyboard(profile))
        case ProfileEdit(part):
            step = await profile_steps.begin_edit(context.deps, user_id, part)
            await answer(query)
            await prompt(update, context, step)
        case _:
            raise_bad()


@guarded
async def cmd_language(update: Update, context: Ctx) -> None:
    """Shows the five languages as buttons (to anyone but a removed, pending or rejected person)."""
    await settings_access.require(
        context.deps, context.who.tg_user_id, "language", registering=True
    )
    buttons = [button(LANGUAGE_NAMES[c], LanguageSet(c)) for c in SUPPORTED_LOCALES]
    await reply(update, _("Choose your language:"), markup(*rows(buttons, 2)))


@guarded
async def on_language(update: Update, context: Ctx) -> None:
    """Saves the chosen language and answers in it."""
    query = update.callback_query
    assert query is not None and update.effective_user and update.effective_chat
    code = LanguageSet.decode(query.data).code
    if code not in SUPPORTED_LOCALES:
        raise_bad()
    await set_locale(
        context.deps,
        update.effective_user.id,
        update.effective_chat.id,
        code,
        update.effective_user.language_code,
    )
    with use_locale(code):
        await answer(query)
        await show(update, _("Language set to {language}.").format(language=language_name(code)))
