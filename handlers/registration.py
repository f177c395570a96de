"""Joining and the profile: /start, the registration steps, /language, /profile, /privacy,
/deleteme, /cancel, /help, /pending and /promote, /demote."""

from __future__ import annotations

import logging

from telegram import InlineKeyboardMarkup, Update
from telegram.constants import ChatMemberStatus
from telegram.error import TelegramError

from bot.db.models import Role
from bot.i18n import LANGUAGE_NAMES, SUPPORTED_LOCALES, _, current_locale, language_name, use_locale
from bot.services import registration as reg
from bot.services.dialog import Step
from bot.services.registration import CityInfo, Profile, TopicInfo
from handlers.common import answer, esc, guarded, reply, requires, show
from handlers.context import Ctx
from handlers.dialog import on_step
from handlers.keyboards import BadCallback, button, markup, paged, parse, parse_int, rows

log = logging.getLogger(__name__)


def role_name(role: Role | str) -> str:
    return {
        Role.OFFICIAL: _("official"),
        Role.ORGANISER: _("organiser"),
        Role.ADMIN: _("admin"),
    }[Role(role)]


ERRORS = {
    "invite_invalid": lambda **_k: _(
        "This invite link is not valid. Please check it with your organiser."
    ),
    "invite_expired": lambda **_k: _(
        "This invite link has expired. Please ask your organiser for a new one."
    ),
    "invite_used_up": lambda **_k: _(
        "This invite link has already been used. Please ask your organiser for a new one."
    ),
    "name_length": lambda min, max, **_k: _(
        "Please send your name as text, between {min} and {max} characters."
    ).format(min=min, max=max),
    "position_length": lambda min, max, **_k: _(
        "Please send your position as text, between {min} and {max} characters."
    ).format(min=min, max=max),
    "no_topics": lambda **_k: _("Choose at least one topic."),
    "no_languages": lambda **_k: _("Choose at least one language."),
    "already_decided": lambda **_k: _("Another organiser has already decided on this request."),
    "configured_admin": lambda **_k: _(
        "This person is an admin by configuration; their role cannot be changed here."
    ),
    "no_profile": lambda **_k: _("You are not registered yet. Send /start to begin."),
}


def city_label(city: CityInfo | None) -> str:
    return f"{esc(city.name)} ({city.country})" if city else "—"


def profile_text(p: Profile) -> str:
    topics = ", ".join(esc(t.name(current_locale())) for t in p.topics) or "—"
    languages = ", ".join(language_name(x) for x in p.languages) or "—"
    digest = _("on") if p.digest_opt_in else _("off")
    return _(
        "<b>Your profile</b>\n"
        "Name: {name}\n"
        "Position: {position}\n"
        "City: {city}\n"
        "Topics: {topics}\n"
        "Languages: {languages}\n"
        "Role: {role}\n"
        "Weekly digest: {digest}"
    ).format(
        name=esc(p.name or "—"),
        position=esc(p.position or "—"),
        city=city_label(p.city),
        topics=topics,
        languages=languages,
        role=role_name(p.role),
        digest=digest,
    )


def help_text(role: Role) -> str:
    lines = [
        _("<b>What you can do</b>"),
        _("/ask — ask officials in peer cities a question"),
        _("/questions — your questions and their answers"),
        _("/inbox — questions waiting for your answer"),
        _("/profile — see and edit your profile"),
        _("/language — change the language"),
        _("/quiet — hours when reminders and the digest wait"),
        _("/privacy — what we store about you"),
        _("/deleteme — erase your data"),
        _("/cancel — stop what you are doing"),
    ]
    if role in (Role.ORGANISER, Role.ADMIN):
        lines += [
            "",
            _("<b>Organisers</b>"),
            _("/pending — approve or reject requests to join"),
            _("/invite — create an invite link for a city"),
            _("/broadcast — send a message to many officials"),
            _("/broadcasts — sent and scheduled broadcasts"),
            _("/remind — schedule a reminder"),
            _("/reminders — scheduled reminders"),
            _("/stats — numbers and a chart of the exchange"),
            _("/cities — cities and their officials"),
            _("/audit — the audit log"),
        ]
    if role == Role.ADMIN:
        lines += [
            "",
            _("<b>Admins</b>"),
            _("/promote — make an official an organiser"),
            _("/demote — make an organiser an official again"),
            _("/export — download the exchange log"),
        ]
    return "\n".join(lines)


# ---- prompts for each step -------------------------------------------------------------


def topics_keyboard(topics: list[TopicInfo], selected: set[int], page: int) -> InlineKeyboardMarkup:
    loc = current_locale()
    items = [
        (("✅ " if t.id in selected else "▫️ ") + t.name(loc), f"tp:t:{t.id}:{page}") for t in topics
    ]
    body, page = paged(items, page, "tp:p")
    body.append([button(_("Done"), "tp", "done")])
    return InlineKeyboardMarkup(body)


def languages_keyboard(selected: list[str]) -> InlineKeyboardMarkup:
    buttons = [
        button(("✅ " if code in selected else "▫️ ") + LANGUAGE_NAMES[code], "lg", "t", code)
        for code in SUPPORTED_LOCALES
    ]
    return markup(*rows(buttons, 2), [button(_("Done"), "lg", "done")])


def privacy_notice() -> str:
    return _(
        "<b>Privacy</b>\n"
        "City Exchange stores your Telegram id, name, position, city, topics and languages, "
        "so that colleagues in other cities know who is asking or answering, and it keeps the "
        "questions and answers you exchange. Organisers can see this information and admins "
        "can export the exchange log for reports. Nothing is shared outside the network.\n"
        "You can see your data with /privacy and erase it with /deleteme at any time."
    )


async def prompt(update: Update, context: Ctx, step: str, city: CityInfo | None = None) -> None:
    """Ask the question that belongs to `step`."""
    user_id = context.who.tg_user_id
    if step == reg.STEP_CITY:
        text = _(
            "You were invited to join City Exchange for <b>{city}</b>. Is that your city?"
        ).format(city=city_label(city))
        await show(
            update,
            text,
            markup(
                [
                    button(_("Yes, that's my city"), "reg", "city", "yes"),
                    button(_("No"), "reg", "city", "no"),
                ]
            ),
        )
    elif step == reg.STEP_PICK_CITY:
        cities = await reg.list_cities(context.deps)
        await show_city_picker(update, cities, 0)
    elif step in (reg.STEP_NAME, reg.STEP_EDIT_NAME):
        await show(update, _("What is your full name?"))
    elif step in (reg.STEP_POSITION, reg.STEP_EDIT_POSITION):
        await show(update, _("What is your position? (for example: Head of civil protection)"))
    elif step in (reg.STEP_TOPICS, reg.STEP_EDIT_TOPICS):
        topics = await reg.list_topics(context.deps)
        selected = set(await reg.selected_topics(context.deps, user_id))
        await show(
            update,
            _("Which topics do you work on? Tap to select, then Done."),
            topics_keyboard(topics, selected, 0),
        )
    elif step in (reg.STEP_LANGUAGES, reg.STEP_EDIT_LANGUAGES):
        profile = await reg.get_profile_any(context.deps, user_id)
        await show(
            update,
            _("Which languages can you work in? Tap to select, then Done."),
            languages_keyboard(profile.languages),
        )
    elif step == reg.STEP_PRIVACY:
        await show(
            update,
            privacy_notice(),
            markup(
                [button(_("I accept"), "reg", "privacy", "yes")],
                [button(_("I do not accept"), "reg", "privacy", "no")],
            ),
        )


async def show_city_picker(update: Update, cities: list[CityInfo], page: int) -> None:
    items = [(f"{c.name} ({c.country})", f"reg:pick:{c.id}") for c in cities]
    body, _page = paged(items, page, "reg:cp", width=2, size=12)
    text = _(
        "Welcome to City Exchange, where officials of partner cities help each other.\n"
        "You opened the bot without an invite link. Choose your city to ask an organiser "
        "to let you join:"
    )
    if not cities:
        text = _("No cities have been set up yet. Please ask your organiser for an invite link.")
    await show(update, text, InlineKeyboardMarkup(body))


# ---- commands --------------------------------------------------------------------------


@guarded(ERRORS)
async def cmd_start(update: Update, context: Ctx) -> None:
    """Greets the person and starts (or resumes) registration, or says they are registered."""
    user = update.effective_user
    chat = update.effective_chat
    assert user is not None and chat is not None
    code = context.args[0] if context.args else None
    result = await reg.start(context.deps, user.id, chat.id, code, user.language_code)
    name = esc(result.profile.name or user.first_name or "")
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


async def cmd_help(update: Update, context: Ctx) -> None:
    """Lists what this person can do, by role."""
    if not context.who.registered and context.who.role != Role.ADMIN:
        await reply(
            update,
            _(
                "City Exchange connects officials of partner cities. Open the invite link from "
                "your organiser to register, or send /start to ask to join."
            )
            + "\n/language — "
            + _("change the language"),
        )
        return
    await reply(update, help_text(context.who.role))


async def cmd_language(update: Update, context: Ctx) -> None:
    """Shows the five languages as buttons."""
    buttons = [button(LANGUAGE_NAMES[c], "lang", c) for c in SUPPORTED_LOCALES]
    await reply(update, _("Choose your language:"), markup(*rows(buttons, 2)))


@guarded(ERRORS)
async def on_language(update: Update, context: Ctx) -> None:
    """Saves the chosen language and answers in it."""
    query = update.callback_query
    assert query is not None and update.effective_user and update.effective_chat
    (code,) = parse(query.data, "lang", count=1)
    if code not in SUPPORTED_LOCALES:
        raise_bad()
    await reg.set_locale(
        context.deps,
        update.effective_user.id,
        update.effective_chat.id,
        code,
        update.effective_user.language_code,
    )
    with use_locale(code):
        await answer(query)
        await show(update, _("Language set to {language}.").format(language=language_name(code)))


def raise_bad() -> None:
    raise BadCallback("unexpected value")


@guarded(ERRORS)
async def cmd_profile(update: Update, context: Ctx) -> None:
    """Shows the profile with buttons to edit each part."""
    profile = await reg.get_profile(context.deps, context.who.tg_user_id)
    await reply(update, profile_text(profile), profile_keyboard(profile))


def profile_keyboard(p: Profile) -> InlineKeyboardMarkup:
    return markup(
        [button(_("Edit name"), "prof", "name"), button(_("Edit position"), "prof", "position")],
        [button(_("Topics"), "prof", "topics"), button(_("Languages"), "prof", "languages")],
        [
            button(
                _("Weekly digest: turn off") if p.digest_opt_in else _("Weekly digest: turn on"),
                "prof",
                "digest",
                "off" if p.digest_opt_in else "on",
            )
        ],
    )


@guarded(ERRORS)
async def on_profile(update: Update, context: Ctx) -> None:
    """Starts editing one part of the profile."""
    query = update.callback_query
    assert query is not None
    parts = parse(query.data, "prof")
    user_id = context.who.tg_user_id
    await answer(query)
    if parts[0] == "digest" and len(parts) == 2 and parts[1] in ("on", "off"):
        await reg.set_digest(context.deps, user_id, parts[1] == "on")
        profile = await reg.get_profile(context.deps, user_id)
        await show(update, profile_text(profile), profile_keyboard(profile))
        return
    if len(parts) != 1:
        raise_bad()
    step = await reg.begin_edit(context.deps, user_id, parts[0])
    await prompt(update, context, step)


@guarded(ERRORS)
async def cmd_cancel(update: Update, context: Ctx) -> None:
    """Leaves the current flow."""
    left = await reg.cancel_dialog(context.deps, context.who.tg_user_id)
    if left is None:
        await reply(update, _("There is nothing to cancel."))
    elif left.startswith("reg."):
        await reply(update, _("Registration stopped. Open your invite link again to start over."))
    else:
        await reply(update, _("Cancelled."))


@guarded(ERRORS)
async def cmd_privacy(update: Update, context: Ctx) -> None:
    """Shows what is stored about this person and how to erase it."""
    if context.who.official_id is None:
        await reply(update, privacy_notice())
        return
    profile = await reg.get_profile_any(context.deps, context.who.tg_user_id)
    text = (
        privacy_notice()
        + "\n\n"
        + _("<b>What we store about you</b>")
        + "\n"
        + _("Telegram id: {tg_id}").format(tg_id=profile.tg_user_id)
        + "\n"
        + profile_text(profile)
    )
    await reply(update, text, markup([button(_("Erase my data"), "del", "ask")]))


async def cmd_deleteme(update: Update, context: Ctx) -> None:
    """Asks for confirmation before erasing the person's data."""
    if context.who.official_id is None:
        await reply(update, _("We store nothing about you."))
        return
    await reply(update, deleteme_question(), deleteme_keyboard())


def deleteme_question() -> str:
    return _(
        "This erases your name, position, topics, languages and Telegram id from City Exchange. "
        "Questions and answers you exchanged stay in the log without your name or their text. "
        "This cannot be undone. Erase your data?"
    )


def deleteme_keyboard() -> InlineKeyboardMarkup:
    return markup(
        [button(_("Yes, erase my data"), "del", "yes")], [button(_("No, keep it"), "del", "no")]
    )


@guarded(ERRORS)
async def on_delete(update: Update, context: Ctx) -> None:
    """Erases the data on confirmation."""
    query = update.callback_query
    assert query is not None
    (choice,) = parse(query.data, "del", count=1)
    await answer(query)
    if choice == "ask":
        await reply(update, deleteme_question(), deleteme_keyboard())
    elif choice == "yes":
        if context.who.official_id is None:
            await show(update, _("We store nothing about you."))
            return
        await reg.erase(context.deps, context.who.tg_user_id)
        await show(
            update,
            _("Your data has been erased. Goodbye! You can join again with a new invite link."),
        )
    elif choice == "no":
        await show(update, _("Nothing was erased."))
    else:
        raise_bad()


# ---- registration steps ----------------------------------------------------------------


@guarded(ERRORS)
async def on_registration(update: Update, context: Ctx) -> None:
    """Buttons of the registration flow: confirm city, pick city, privacy."""
    query = update.callback_query
    assert query is not None
    parts = parse(query.data, "reg")
    user_id = context.who.tg_user_id
    await answer(query)
    if parts[:1] == ["city"] and len(parts) == 2 and parts[1] in ("yes", "no"):
        step = await reg.confirm_city(context.deps, user_id, parts[1] == "yes")
        if step is None:
            await show(update, _("Please ask your organiser for the invite link of your own city."))
        else:
            await prompt(update, context, step)
    elif parts[:1] == ["cp"] and len(parts) == 2:
        cities = await reg.list_cities(context.deps)
        await show_city_picker(update, cities, parse_int(parts[1]))
    elif parts[:1] == ["pick"] and len(parts) == 2:
        city = await reg.pick_city(context.deps, user_id, parse_int(parts[1]))
        await show(
            update,
            _("Your request will go to the organisers for {city}.").format(city=city_label(city)),
        )
        await prompt(update, context, reg.STEP_NAME)
    elif parts[:1] == ["privacy"] and len(parts) == 2 and parts[1] in ("yes", "no"):
        if parts[1] == "no":
            await reg.decline_privacy(context.deps, user_id)
            await show(
                update,
                _(
                    "Without your consent we cannot register you, and nothing about you was kept. "
                    "Open your invite link again if you change your mind."
                ),
            )
            return
        done = await reg.accept_privacy(context.deps, user_id)
        await finish(update, context, done)
    else:
        raise_bad()


async def finish(update: Update, context: Ctx, done: reg.FinishResult) -> None:
    p = done.profile
    if not done.pending:
        await show(
            update,
            _("Welcome, {name}! You are registered for {city}.").format(
                name=esc(p.name or ""), city=city_label(p.city)
            ),
        )
        await reply(update, help_text(p.role))
        return
    await show(
        update,
        _(
            "Thank you, {name}. Your request to join for {city} has been sent to the organisers. "
            "I will tell you when it is decided."
        ).format(name=esc(p.name or ""), city=city_label(p.city)),
    )
    for organiser in done.notify:
        with use_locale(organiser.locale):
            text = pending_text(p)
            keyboard = pending_keyboard(p)
        try:
            await context.bot.send_message(organiser.chat_id, text, reply_markup=keyboard)
        except TelegramError as exc:
            log.info("pending notice failed organiser_id=%s error=%s", organiser.official_id, exc)


def pending_text(p: Profile) -> str:
    return _("<b>Request to join</b>\n{name}, {position}\nCity: {city}").format(
        name=esc(p.name or "—"), position=esc(p.position or "—"), city=city_label(p.city)
    )


def pending_keyboard(p: Profile) -> InlineKeyboardMarkup:
    return markup(
        [
            button(_("Approve"), "pend", "ok", p.official_id),
            button(_("Reject"), "pend", "no", p.official_id),
        ]
    )


@on_step(reg.STEP_NAME, reg.STEP_EDIT_NAME)
@guarded(ERRORS)
async def step_name(update: Update, context: Ctx, state: Step) -> None:
    """Takes the name typed by the official."""
    text = update.effective_message.text if update.effective_message else None
    if not text:
        await reply(update, ERRORS["name_length"](min=reg.NAME_MIN, max=reg.NAME_MAX))
        return
    nxt = await reg.set_name(context.deps, context.who.tg_user_id, text)
    await after_edit(update, context, nxt)


@on_step(reg.STEP_POSITION, reg.STEP_EDIT_POSITION)
@guarded(ERRORS)
async def step_position(update: Update, context: Ctx, state: Step) -> None:
    """Takes the position typed by the official."""
    text = update.effective_message.text if update.effective_message else None
    if not text:
        await reply(update, ERRORS["position_length"](min=reg.POSITION_MIN, max=reg.POSITION_MAX))
        return
    nxt = await reg.set_position(context.deps, context.who.tg_user_id, text)
    await after_edit(update, context, nxt)


@on_step(
    reg.STEP_CITY,
    reg.STEP_PICK_CITY,
    reg.STEP_TOPICS,
    reg.STEP_EDIT_TOPICS,
    reg.STEP_LANGUAGES,
    reg.STEP_EDIT_LANGUAGES,
    reg.STEP_PRIVACY,
)
async def step_buttons(update: Update, context: Ctx, state: Step) -> None:
    """A message where a button is expected: say so and show the buttons again."""
    await reply(update, _("Please use the buttons below."))
    city = None
    if state.step == reg.STEP_CITY:
        profile = await reg.get_profile_any(context.deps, context.who.tg_user_id)
        city = profile.city
    await prompt(update, context, state.step, city)


async def after_edit(update: Update, context: Ctx, nxt: str | None) -> None:
    if nxt is None:
        await reply(update, _("Saved."))
        profile = await reg.get_profile(context.deps, context.who.tg_user_id)
        await reply(update, profile_text(profile), profile_keyboard(profile))
    else:
        await prompt(update, context, nxt)


@guarded(ERRORS)
async def on_topics(update: Update, context: Ctx) -> None:
    """Topic toggles, paging and Done (registration and profile)."""
    query = update.callback_query
    assert query is not None
    parts = parse(query.data, "tp")
    user_id = context.who.tg_user_id
    topics = await reg.list_topics(context.deps)
    if parts[0] == "t" and len(parts) == 3:
        selected = set(await reg.toggle_topic(context.deps, user_id, parse_int(parts[1])))
        await answer(query)
        await show(
            update,
            _("Which topics do you work on? Tap to select, then Done."),
            topics_keyboard(topics, selected, parse_int(parts[2])),
        )
    elif parts[0] == "p" and len(parts) == 2:
        selected = set(await reg.selected_topics(context.deps, user_id))
        await answer(query)
        await show(
            update,
            _("Which topics do you work on? Tap to select, then Done."),
            topics_keyboard(topics, selected, parse_int(parts[1])),
        )
    elif parts == ["done"]:
        nxt = await reg.topics_done(context.deps, user_id)
        await answer(query)
        await after_edit(update, context, nxt)
    else:
        raise_bad()


@guarded(ERRORS)
async def on_languages(update: Update, context: Ctx) -> None:
    """Working-language toggles and Done."""
    query = update.callback_query
    assert query is not None
    parts = parse(query.data, "lg")
    user_id = context.who.tg_user_id
    if parts[0] == "t" and len(parts) == 2:
        selected = await reg.toggle_language(context.deps, user_id, parts[1])
        await answer(query)
        await show(
            update,
            _("Which languages can you work in? Tap to select, then Done."),
            languages_keyboard(selected),
        )
    elif parts == ["done"]:
        nxt = await reg.languages_done(context.deps, user_id)
        await answer(query)
        await after_edit(update, context, nxt)
    else:
        raise_bad()


# ---- organisers and admins -------------------------------------------------------------


@requires(Role.ORGANISER)
@guarded(ERRORS)
async def cmd_pending(update: Update, context: Ctx) -> None:
    """Lists requests to join, each with Approve / Reject."""
    pending = await reg.pending_requests(context.deps, context.who.tg_user_id)
    if not pending:
        await reply(update, _("No requests are waiting."))
        return
    for p in pending[:20]:
        await reply(update, pending_text(p), pending_keyboard(p))
    if len(pending) > 20:
        await reply(
            update,
            _("{count} more requests are waiting; decide on these first.").format(
                count=len(pending) - 20
            ),
        )


@requires(Role.ORGANISER)
@guarded(ERRORS)
async def on_pending(update: Update, context: Ctx) -> None:
    """Approves or rejects a request and tells the person."""
    query = update.callback_query
    assert query is not None
    verdict, raw_id = parse(query.data, "pend", count=2)
    if verdict not in ("ok", "no"):
        raise_bad()
    decision = await reg.decide(
        context.deps, context.who.tg_user_id, parse_int(raw_id), verdict == "ok"
    )
    p = decision.official
    await answer(query)
    done = _("Approved: {name}, {city}") if decision.approved else _("Rejected: {name}, {city}")
    await show(update, done.format(name=esc(p.name or "—"), city=city_label(p.city)))
    with use_locale(p.locale):
        if decision.approved:
            text = (
                _("Your request was approved. Welcome to City Exchange!")
                + "\n\n"
                + help_text(p.role)
            )
        else:
            text = _("Sorry, your request to join for {city} was not approved.").format(
                city=city_label(p.city)
            )
    try:
        await context.bot.send_message(p.chat_id, text)
    except TelegramError as exc:
        log.info("decision notice failed official_id=%s error=%s", p.official_id, exc)


async def _set_role(update: Update, context: Ctx, role: Role) -> None:
    if not context.args or len(context.args) != 1:
        usage = (
            _("Usage: /promote <Telegram user id or official number>")
            if role == Role.ORGANISER
            else _("Usage: /demote <Telegram user id or official number>")
        )
        await reply(update, esc(usage))
        return
    try:
        target = int(context.args[0].lstrip("#"))
    except ValueError:
        await reply(
            update, _("That is not a number. Send the Telegram user id or the official's number.")
        )
        return
    try:
        profile = await reg.set_role(context.deps, context.who.tg_user_id, target, role)
    except reg.NotFound:
        await reply(update, _("No registered official has that id."))
        return
    text = (
        _("{name} is now an organiser.")
        if role == Role.ORGANISER
        else _("{name} is now an official.")
    ).format(name=esc(profile.name or "—"))
    await reply(update, text)
    with use_locale(profile.locale):
        note = (
            _("You are now an organiser. Send /help to see what you can do.")
            if role == Role.ORGANISER
            else _("You are no longer an organiser.")
        )
    try:
        await context.bot.send_message(profile.chat_id, note)
    except TelegramError as exc:
        log.info("role notice failed official_id=%s error=%s", profile.official_id, exc)


@requires(Role.ADMIN)
@guarded(ERRORS)
async def cmd_promote(update: Update, context: Ctx) -> None:
    """Makes an official an organiser."""
    await _set_role(update, context, Role.ORGANISER)


@requires(Role.ADMIN)
@guarded(ERRORS)
async def cmd_demote(update: Update, context: Ctx) -> None:
    """Makes an organiser an official again."""
    await _set_role(update, context, Role.OFFICIAL)


async def on_my_chat_member(update: Update, context: Ctx) -> None:
    """The person blocked or unblocked the bot: mark them unreachable or reachable."""
    change = update.my_chat_member
    if change is None or change.chat.type != "private":
        return
    status = change.new_chat_member.status
    reachable = status not in (ChatMemberStatus.BANNED, ChatMemberStatus.LEFT)
    await reg.set_reachable(context.deps, change.from_user.id, reachable)
