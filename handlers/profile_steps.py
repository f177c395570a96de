"""The steps of filling in a profile, during registration and when editing it: the prompt of
each step, the typed name and position, the topic and language buttons."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update

from bot.i18n import SUPPORTED_LOCALES, _, current_locale, own_name
from bot.services import catalogue, onboarding, profile_steps
from bot.services.catalogue import CityInfo, TopicInfo
from bot.services.dialog import Step
from bot.services.errors import ErrorCode
from bot.services.profile import get_profile, get_profile_any
from handlers.common import answer, guarded, raise_bad, reply, show
from handlers.context import Ctx
from handlers.error_texts import error_message
from handlers.keyboards import button, markup, paged, rows
from handlers.people_buttons import (
    NameLatinButton,
    NameLatinNone,
    RegistrationCitiesPage,
    RegistrationCity,
    RegistrationPickCity,
    RegistrationPrivacy,
    TopicButton,
    TopicsDone,
    TopicsPage,
    TopicToggle,
    WorkLanguageButton,
    WorkLanguagesDone,
    WorkLanguageToggle,
)
from handlers.profile_texts import (
    city_button,
    city_label,
    privacy_notice,
    profile_keyboard,
    profile_text,
)


def topics_keyboard(topics: list[TopicInfo], selected: set[int], page: int) -> InlineKeyboardMarkup:
    loc = current_locale()
    items = [
        (("✅ " if t.id in selected else "▫️ ") + t.name(loc), TopicToggle(t.id, page))
        for t in topics
    ]
    body, page = paged(items, page, TopicsPage)
    body.append([button(_("Done"), TopicsDone())])
    return InlineKeyboardMarkup(body)


def languages_keyboard(selected: list[str]) -> InlineKeyboardMarkup:
    buttons = [
        button(("✅ " if code in selected else "▫️ ") + own_name(code), WorkLanguageToggle(code))
        for code in SUPPORTED_LOCALES
    ]
    return markup(*rows(buttons, 2), [button(_("Done"), WorkLanguagesDone())])


async def prompt(update: Update, context: Ctx, step: str, city: CityInfo | None = None) -> None:
    """Ask the question that belongs to `step`."""
    user_id = context.who.tg_user_id
    if step == onboarding.STEP_CITY:
        text = _(
            "You were invited to join City Exchange for <b>{city}</b>. Is that your city?"
        ).format(city=city_label(city))
        await show(
            update,
            text,
            markup(
                [
                    button(_("Yes, that's my city"), RegistrationCity("yes")),
                    button(_("No"), RegistrationCity("no")),
                ]
            ),
        )
    elif step == onboarding.STEP_PICK_CITY:
        cities = await catalogue.list_cities(context.deps)
        await show_city_picker(update, cities, 0)
    elif step in (onboarding.STEP_NAME, profile_steps.STEP_EDIT_NAME):
        await show(update, _("What is your full name?"))
    elif step in (onboarding.STEP_NAME_LATIN, profile_steps.STEP_EDIT_NAME_LATIN):
        skip = _("Skip") if step == onboarding.STEP_NAME_LATIN else _("No Latin form")
        await show(
            update,
            _(
                "Your name is not written in Latin letters. How should colleagues abroad write "
                "it? Readers in French, Italian, Spanish and English will see this form; readers "
                "in Arabic see your name as you wrote it."
            ),
            markup([button(skip, NameLatinNone())]),
        )
    elif step in (onboarding.STEP_POSITION, profile_steps.STEP_EDIT_POSITION):
        await show(update, _("What is your position? (for example: Head of civil protection)"))
    elif step in (onboarding.STEP_TOPICS, profile_steps.STEP_EDIT_TOPICS):
        topics = await catalogue.list_topics(context.deps)
        selected = set(await profile_steps.selected_topics(context.deps, user_id))
        await show(
            update,
            _("Which topics do you work on? Tap to select, then Done."),
            topics_keyboard(topics, selected, 0),
        )
    elif step in (onboarding.STEP_LANGUAGES, profile_steps.STEP_EDIT_LANGUAGES):
        profile = await get_profile_any(context.deps, user_id)
        await show(
            update,
            _("Which languages can you work in? Tap to select, then Done."),
            languages_keyboard(profile.languages),
        )
    elif step == onboarding.STEP_PRIVACY:
        await show(
            update,
            privacy_notice(),
            markup(
                [button(_("I accept"), RegistrationPrivacy("yes"))],
                [button(_("I do not accept"), RegistrationPrivacy("no"))],
            ),
        )


async def show_city_picker(update: Update, cities: list[CityInfo], page: int) -> None:
    items = [(city_button(c), RegistrationPickCity(c.id)) for c in cities]
    body, _page = paged(items, page, RegistrationCitiesPage, width=2, size=12)
    text = _(
        "Welcome to City Exchange, where officials of partner cities help each other.\n"
        "You opened the bot without an invite link. Choose your city to ask an organiser "
        "to let you join:"
    )
    if not cities:
        text = _("No cities have been set up yet. Please ask your organiser for an invite link.")
    await show(update, text, InlineKeyboardMarkup(body))


@guarded
async def step_name(update: Update, context: Ctx, state: Step) -> None:
    """Takes the name typed by the official."""
    text = update.effective_message.text if update.effective_message else None
    if not text:
        await reply(
            update,
            error_message(
                ErrorCode.NAME_LENGTH, min=profile_steps.NAME_MIN, max=profile_steps.NAME_MAX
            ),
        )
        return
    nxt = await profile_steps.set_name(context.deps, context.who.tg_user_id, text)
    await after_edit(update, context, nxt)


@guarded
async def step_name_latin(update: Update, context: Ctx, state: Step) -> None:
    """Takes the name in Latin letters typed by the official."""
    text = update.effective_message.text if update.effective_message else None
    if not text:
        await reply(update, error_message(ErrorCode.NAME_NOT_LATIN))
        return
    nxt = await profile_steps.set_name_latin(context.deps, context.who.tg_user_id, text)
    await after_edit(update, context, nxt)


@guarded
async def on_name_latin(update: Update, context: Ctx) -> None:
    """The button that goes on without a Latin form of the name."""
    query = update.callback_query
    assert query is not None
    NameLatinButton.decode(query.data)
    nxt = await profile_steps.set_name_latin(context.deps, context.who.tg_user_id, None)
    await answer(query)
    await after_edit(update, context, nxt)


@guarded
async def step_position(update: Update, context: Ctx, state: Step) -> None:
    """Takes the position typed by the official."""
    text = update.effective_message.text if update.effective_message else None
    if not text:
        await reply(
            update,
            error_message(
                ErrorCode.POSITION_LENGTH,
                min=profile_steps.POSITION_MIN,
                max=profile_steps.POSITION_MAX,
            ),
        )
        return
    nxt = await profile_steps.set_position(context.deps, context.who.tg_user_id, text)
    await after_edit(update, context, nxt)


async def step_buttons(update: Update, context: Ctx, state: Step) -> None:
    """A message where a button is expected: say so and show the buttons again."""
    await reply(update, _("Please use the buttons below."))
    city = None
    if state.step == onboarding.STEP_CITY:
        profile = await get_profile_any(context.deps, context.who.tg_user_id)
        city = profile.city
    await prompt(update, context, state.step, city)


async def after_edit(update: Update, context: Ctx, nxt: str | None) -> None:
    if nxt is None:
        await reply(update, _("Saved."))
        profile = await get_profile(context.deps, context.who.tg_user_id)
        await reply(update, profile_text(profile), profile_keyboard(profile))
    else:
        await prompt(update, context, nxt)


@guarded
async def on_topics(update: Update, context: Ctx) -> None:
    """Topic toggles, paging and Done (registration and profile)."""
    query = update.callback_query
    assert query is not None
    pressed = TopicButton.decode(query.data)
    user_id = context.who.tg_user_id
    topics = await catalogue.list_topics(context.deps)
    match pressed:
        case TopicToggle(topic_id, page):
            selected = set(await profile_steps.toggle_topic(context.deps, user_id, topic_id))
            await answer(query)
            await show(
                update,
                _("Which topics do you work on? Tap to select, then Done."),
                topics_keyboard(topics, selected, page),
            )
        case TopicsPage(page):
            selected = set(await profile_steps.selected_topics(context.deps, user_id))
            await answer(query)
            await show(
                update,
                _("Which topics do you work on? Tap to select, then Done."),
                topics_keyboard(topics, selected, page),
            )
        case TopicsDone():
            nxt = await profile_steps.topics_done(context.deps, user_id)
            await answer(query)
            await after_edit(update, context, nxt)
        case _:
            raise_bad()


@guarded
async def on_languages(update: Update, context: Ctx) -> None:
    """Working-language toggles and Done."""
    query = update.callback_query
    assert query is not None
    pressed = WorkLanguageButton.decode(query.data)
    user_id = context.who.tg_user_id
    match pressed:
        case WorkLanguageToggle(code):
            selected = await profile_steps.toggle_language(context.deps, user_id, code)
            await answer(query)
            await show(
                update,
                _("Which languages can you work in? Tap to select, then Done."),
                languages_keyboard(selected),
            )
        case WorkLanguagesDone():
            nxt = await profile_steps.languages_done(context.deps, user_id)
            await answer(query)
            await after_edit(update, context, nxt)
        case _:
            raise_bad()
