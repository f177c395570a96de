"""/profile and /language: seeing the profile, editing a part of it, the digest, the language."""

from __future__ import annotations

from telegram import InlineKeyboardButton, Update

from bot.i18n import SUPPORTED_LOCALES, _, language_name, own_name, use_locale
from bot.services import profile_steps, settings_access
from bot.services.profile import (
    get_profile,
    machine_translation,
    set_digest,
    set_locale,
    set_machine_translation,
)
from handlers.common import answer, guarded, raise_bad, reply, show
from handlers.context import Ctx
from handlers.keyboards import button, markup, rows
from handlers.people_buttons import (
    LanguageButton,
    LanguageSet,
    MachineTranslation,
    ProfileButton,
    ProfileDigest,
    ProfileEdit,
)
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
    buttons = [button(own_name(c), LanguageSet(c)) for c in SUPPORTED_LOCALES]
    translated = await machine_translation(context.deps, context.who.tg_user_id)
    extra = [] if translated is None else [[translation_button(translated)]]
    await reply(update, _("Choose your language:"), markup(*rows(buttons, 2), *extra))


def translation_button(translated: bool) -> InlineKeyboardButton:
    """The /language button that turns machine translation of others' words off or on."""
    if translated:
        return button(_("🌐 Machine translation: on (turn off)"), MachineTranslation("off"))
    return button(_("🌐 Machine translation: off (turn on)"), MachineTranslation("on"))


async def on_machine_translation(update: Update, context: Ctx, setting: str) -> None:
    enabled = await set_machine_translation(context.deps, context.who.tg_user_id, setting == "on")
    await answer(update.callback_query)
    if enabled:
        text = _(
            "Messages from officials writing in another language will reach you machine-"
            "translated, with the original below."
        )
    else:
        text = _("Messages from other officials will reach you as they were written.")
    await show(update, text, markup([translation_button(enabled)]))


@guarded
async def on_language(update: Update, context: Ctx) -> None:
    """Saves the chosen language and answers in it; or turns machine translation off or on."""
    query = update.callback_query
    assert query is not None and update.effective_user and update.effective_chat
    match LanguageButton.decode(query.data):
        case MachineTranslation(setting):
            await on_machine_translation(update, context, setting)
            return
        case LanguageSet(code) if code in SUPPORTED_LOCALES:
            pass
        case _:
            raise_bad()
            return
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
