"""Texts and keyboards about people, shared by the joining, profile, privacy, pending and
admin handlers: roles, profiles, the help, the privacy notice, requests to join, and what the
recipients of a person's questions are told when that person leaves."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup

from bot.i18n import (
    _,
    country_name,
    current_locale,
    format_list,
    language_name,
    use_locale,
    written_in_latin,
)
from bot.services.catalogue import CityInfo
from bot.services.enums import Role
from bot.services.erasure import WithdrawnNotice
from bot.services.network import CityRow
from bot.services.profile import Profile
from handlers.common import esc
from handlers.keyboards import button, markup
from handlers.people_buttons import JoinRequestDecision, ProfileDigest, ProfileEdit
from handlers.reminder_texts import format_when
from handlers.user_text import city_of, isolate, line, shown_city


def role_name(role: Role | str) -> str:
    return {
        Role.OFFICIAL: _("official"),
        Role.ORGANISER: _("organiser"),
        Role.ADMIN: _("admin"),
    }[Role(role)]


def city_label(city: CityInfo | None) -> str:
    """The city in the reader's language, isolated, and its country's name ("قابس (تونس)")."""
    if city is None:
        return "—"
    return f"{city_of(city.name, city.names)} ({esc(country_name(city.country))})"


def city_button(city: CityInfo | CityRow) -> str:
    """A city on a button: its name in the reader's language and its country code."""
    return f"{shown_city(city.name, city.names)} ({city.country})"


def name_label(p: Profile) -> str:
    """The person's name as written, isolated, and its Latin form beside it when given."""
    if not p.name:
        return "—"
    if p.name_latin:
        return f"{isolate(p.name)} ({isolate(p.name_latin)})"
    return isolate(p.name)


def needs_latin(p: Profile) -> bool:
    """Whether the profile offers to give the name in Latin letters."""
    return bool(p.name_latin) or (bool(p.name) and not written_in_latin(p.name or ""))


def profile_text(p: Profile) -> str:
    topics = format_list([esc(t.name(current_locale())) for t in p.topics]) or "—"
    languages = format_list([language_name(x) for x in p.languages]) or "—"
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
        name=name_label(p),
        position=isolate(p.position) if p.position else "—",
        city=city_label(p.city),
        topics=topics,
        languages=languages,
        role=role_name(p.role),
        digest=digest,
    )


def profile_keyboard(p: Profile) -> InlineKeyboardMarkup:
    latin = [[button(_("Name in Latin letters"), ProfileEdit("latin"))]] if needs_latin(p) else []
    return markup(
        [
            button(_("Edit name"), ProfileEdit("name")),
            button(_("Edit position"), ProfileEdit("position")),
        ],
        *latin,
        [
            button(_("Topics"), ProfileEdit("topics")),
            button(_("Languages"), ProfileEdit("languages")),
        ],
        [
            button(
                _("Weekly digest: turn off") if p.digest_opt_in else _("Weekly digest: turn on"),
                ProfileDigest("off" if p.digest_opt_in else "on"),
            )
        ],
    )


def help_text(role: Role) -> str:
    """What this person can do, a line per command (each kept right-to-left in Arabic)."""
    lines = [
        _("<b>What you can do</b>"),
        line(_("/ask — ask officials in peer cities a question")),
        line(_("/questions — your questions and their answers")),
        line(_("/inbox — questions waiting for your answer")),
        line(_("/search — search the library of answered exchanges")),
        line(_("/profile — see and edit your profile")),
        line(_("/language — change the language")),
        line(_("/quiet — hours when reminders and the digest wait")),
        line(_("/away — when you are away, and who answers for you")),
        line(_("/privacy — what we store about you")),
        line(_("/deleteme — erase your data")),
        line(_("/cancel — stop what you are doing")),
    ]
    if role in (Role.ORGANISER, Role.ADMIN):
        lines += [
            "",
            _("<b>Organisers</b>"),
            line(_("/pending — approve or reject requests to join")),
            line(_("/invite — create an invite link for a city")),
            line(_("/broadcast — send a message to many officials")),
            line(_("/broadcasts — sent and scheduled broadcasts")),
            line(_("/remind — schedule a reminder")),
            line(_("/reminders — scheduled reminders")),
            line(_("/stats — numbers and a chart of the exchange")),
            line(_("/cities — cities and their officials")),
            line(_("/audit — the audit log")),
        ]
    if role == Role.ADMIN:
        lines += [
            "",
            _("<b>Admins</b>"),
            line(_("/promote — make an official an organiser")),
            line(_("/demote — make an organiser an official again")),
            line(_("/export — download the exchange log")),
        ]
    return "\n".join(lines)


def privacy_notice() -> str:
    return (
        _(
            "<b>Privacy</b>\n"
            "City Exchange stores your Telegram id, name, position, city, topics and languages, "
            "so that colleagues in other cities know who is asking or answering, and it keeps the "
            "questions and answers you exchange. Organisers can see this information and admins "
            "can export the exchange log for reports. Nothing is shared outside the network.\n"
            "You can see your data with /privacy and erase it with /deleteme at any time."
        )
        + "\n"
        + _(
            "When a question is resolved, its asker may add the exchange to the network's library, "
            "where every official can find it with /search; the names, cities and words in it are "
            "shown. Anyone whose words are in an entry can withdraw them at any time; /deleteme "
            "takes them out too, and then names you only as an official of your city."
        )
    )


def pending_text(p: Profile) -> str:
    return _("<b>Request to join</b>\n{name}, {position}\nCity: {city}").format(
        name=name_label(p),
        position=isolate(p.position) if p.position else "—",
        city=city_label(p.city),
    )


def pending_keyboard(p: Profile) -> InlineKeyboardMarkup:
    return markup(
        [
            button(_("Approve"), JoinRequestDecision("approve", p.official_id)),
            button(_("Reject"), JoinRequestDecision("reject", p.official_id)),
        ]
    )


def withdrawn_notice(n: WithdrawnNotice) -> str:
    """What an official who received a question reads when its asker left: erased their data,
    or was removed by an organiser."""
    with use_locale(n.locale):
        return _(
            "🚫 The question on {topic} from {city}, asked on {date}, was withdrawn: the person "
            "who asked it has left City Exchange. No answer is needed any more."
        ).format(
            topic=esc(n.topic.name(current_locale())),
            city=city_of(n.city_name, n.city_names) if n.city_name else "—",
            date=format_when(n.asked_at, n.timezone),
        )
