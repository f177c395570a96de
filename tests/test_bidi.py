"""Reading across scripts: what people typed never turns a line around (isolated, FSI ... PDI),
Arabic lines that show a command stay right-to-left, counts take every Arabic plural form,
lists and language names follow each language, names are readable in every script (the Latin
form for readers in Latin letters, the original for Arabic readers) and cities are named in
the reader's language."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

from babel.messages.pofile import read_po
from sqlalchemy import select

from bot.db.models import Official, Role
from bot.services import digest
from bot.services.invites import create_invite
from handlers.away import returns_job
from handlers.digest import digest_notice
from handlers.followups import follow_up
from tests import PROJECT_ROOT
from tests.conftest import ADMIN_TG_ID
from tests.factories import make_city, make_official, make_topic, next_tg_id
from tests.harness.renderings import (
    Rendering,
    direction,
    outside_isolates,
    plain_lines,
    recording,
)
from tests.harness.updates import Harness, TgUser, tr

# Placeholders that carry what people typed (names, positions, their question) or a city's
# name: their values must be isolated.
USER_TEXT = {"name", "position", "city", "cities", "question", "words", "author", "actor"}
ASKER_AR = "محمد ولد أحمد"
ASKER_LATIN = "Mohamed Ould Ahmed"
POSITION_AR = "رئيس مصلحة الحماية المدنية"
QUESTION_FR = "Comment gardez-vous les sirènes en état de marche pendant les coupures ?"
ANSWER_FR = "Nous avons des sirènes sur batterie, testées chaque mois."
FOLLOW_UP_FR = "Merci, et pour les coupures longues ?"
HELPER_FOLLOW_UP_FR = "Pour les coupures longues, un groupe électrogène."
QUESTION_2_FR = "Quelles digues ont tenu pendant les tempêtes de 2023 ?"
QUESTION_3_FR = "Qui a un plan canicule pour les écoles ?"
BROADCAST_FR = "Exercice régional vendredi à 10 h."
ANSWER_2_FR = "Des digues en terre renforcée."
FOLLOW_UP_2_FR = "Et pour les sirènes mobiles ?"
FLOOD = {
    "en": "Flood risk",
    "ar": "مخاطر الفيضانات",
    "fr": "Risque d'inondation",
    "it": "Rischio alluvioni",
}
HEAT = {"en": "Heatwaves", "ar": "موجات الحر", "fr": "Canicules", "it": "Ondate di calore"}


def ar(msgid: str) -> str:
    return tr("ar", msgid)


def arabic_user_text_messages() -> set[str]:
    """Every entry of the Arabic catalogue with a placeholder for what people typed."""
    with (PROJECT_ROOT / "locales" / "ar" / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalog = read_po(fh, locale="ar")
    found = set()
    for m in catalog:
        msgid = m.id if isinstance(m.id, str) else (m.id[0] if m.id else "")
        if set(re.findall(r"\{(\w+)\}", msgid)) & USER_TEXT:
            found.add(msgid)
    return found


def not_isolated(rendered: list[Rendering], typed: list[str]) -> list[str]:
    """Each value put into a user-text placeholder that holds what someone typed (or a city's
    name) outside an isolate."""
    problems = []
    for r in rendered:
        for key, value in r.values.items():
            if key not in USER_TEXT or not isinstance(value, str) or value == "—":
                continue
            rest = outside_isolates(value)
            leaked = [t for t in typed if html.escape(t) in rest or t in rest]
            if leaked:
                problems.append(f"{r.msgid!r}: {key}={value!r}")
    return problems


async def person(h: Harness, city, name: str, topics, locale: str, **kw) -> TgUser:  # type: ignore[no-untyped-def]
    tg_id = next_tg_id()
    await make_official(h.deps.db, city, tg_id=tg_id, name=name, topics=topics, locale=locale, **kw)
    return TgUser(tg_id, name.split()[0], locale)


async def test_arabic_messages_isolate_what_people_typed_and_read_right_to_left(
    harness: Harness,
) -> None:
    h = harness
    db = h.deps.db
    await make_city(db, "Rosso", "MR", "Africa/Nouakchott", names={"ar": "روصو"})
    gabes = await make_city(db, "Gabès", names={"ar": "قابس"})
    nice = await make_city(
        db, "Nice", "FR", "Europe/Paris", ["fr"], names={"ar": "نيس", "it": "Nizza"}
    )
    potenza = await make_city(db, "Potenza", "IT", "Europe/Rome", ["it"], names={"ar": "بوتنزا"})
    madrid = await make_city(db, "Madrid", "ES", "Europe/Madrid", ["es"], names={"ar": "مدريد"})
    flood = await make_topic(db, "flood-risk", names=FLOOD)
    heat = await make_topic(db, "heatwaves", names=HEAT, position=1)
    claire = await person(h, nice, "Claire Martin", [flood], "ar", position="Cheffe de projet")
    await person(h, potenza, "Marco Rossi", [flood], "it")
    karim = await person(h, gabes, "Karim Haddad", [flood], "ar", position="Ingénieur")
    await person(h, madrid, "Lucía Gómez", [flood], "ar", position="Técnica")
    sonia = await person(
        h, gabes, "Sonia Trabelsi", [heat], "ar", role=Role.ORGANISER, position="Coordinatrice"
    )
    admin = TgUser(ADMIN_TG_ID, "Admin", "ar")
    typed = [
        ASKER_AR,
        ASKER_LATIN,
        POSITION_AR,
        "Claire Martin",
        "Karim Haddad",
        "Lucía Gómez",
        "Sonia Trabelsi",
        "Cheffe de projet",
        "Ingénieur",
        "Rosso",
        "Gabès",
        "Nice",
        "Madrid",
        "Potenza",
        "روصو",
        "قابس",
        "نيس",
        "مدريد",
        "بوتنزا",
        "Comment gardez-vous",
        "Hedi Jaziri",
        "أمل بن علي",
        "Où louez-vous",
        "pompes digues",
    ]
    asker = TgUser(next_tg_id(), "Mohamed", "ar")

    with recording("ar") as rendered:
        # Joining with an invite, a name in Arabic letters and its Latin form.
        invite = await create_invite(h.deps, "Rosso")
        await h.command(asker, f"/start {invite.code}")
        await h.press(asker, ar("Yes, that's my city"))
        await h.send(asker, ASKER_AR)
        await h.send(asker, "محمد")  # not Latin letters: asked again
        assert h.last_text(asker) == ar(
            "Please write your name in Latin letters (accents are fine), or use the button "
            "below to go on without it."
        )
        await h.send(asker, ASKER_LATIN)
        await h.send(asker, POSITION_AR)
        await h.press(asker, FLOOD["ar"])
        await h.press(asker, ar("Done"))
        await h.press(asker, ar("Done"))
        await h.press(asker, ar("I accept"))
        await h.command(asker, f"/start {invite.code}")
        await h.command(asker, "/profile")

        # A question to three cities; one answers, the asker replies, then thanks.
        await h.command(asker, "/ask")
        await h.press(asker, FLOOD["ar"])
        await h.send(asker, QUESTION_FR)
        await h.press(asker, ar("Send"))
        await h.press(claire, ar("Answer"))
        await h.send(claire, ANSWER_FR)
        await h.press(asker, ar("Reply"))
        await h.send(asker, FOLLOW_UP_FR)
        await h.press(claire, ar("Reply"))
        await h.send(claire, HELPER_FOLLOW_UP_FR)
        await h.command(asker, "/questions")
        await h.command(karim, "/inbox")
        await h.press(asker, ar("Mark resolved"))
        await h.press(asker, ar("Thank the helpers"))

        # A second question nobody answers: a nudge, the next city, then the organisers, who
        # route it by hand.
        await h.command(asker, "/ask")
        await h.press(asker, FLOOD["ar"])
        await h.send(asker, QUESTION_2_FR)
        await h.press(asker, ar("Send"))
        # Day by day, so the nudge and both escalations fall due in the cities' working hours.
        for _day in range(21):
            h.deps.clock.advance(hours=24)
            await follow_up(h.app.bot, h.deps)
            await drain_outbox(h)
        await h.press(sonia, ar("Route to a city"))
        await h.press(sonia, "قابس")

        # A topic nobody covers.
        await h.command(karim, "/ask")
        await h.press(karim, HEAT["ar"])
        await h.send(karim, QUESTION_3_FR)
        await h.press(karim, ar("Send"))

        # Joining without an invite: one approved, one rejected.
        amal, omar = TgUser(next_tg_id(), "Amal", "ar"), TgUser(next_tg_id(), "Omar", "ar")
        for user, name, verdict in ((amal, "أمل بن علي", "Approve"), (omar, "عمر", "Reject")):
            await h.command(user, "/start")
            await h.press(user, "قابس")
            await h.send(user, name)
            await h.press(user, ar("Skip"))
            await h.send(user, "مهندسة")
            await h.press(user, FLOOD["ar"])
            await h.press(user, ar("Done"))
            await h.press(user, ar("Done"))
            await h.press(user, ar("I accept"))
            await h.command(user, "/start")
            await h.press(sonia, ar(verdict))

        # The organiser's lists, invites and roles.
        await h.command(sonia, "/cities")
        await h.press(sonia, "مدريد")
        await h.press(sonia, "Lucía")
        await h.press(sonia, ar("Yes, remove"))
        await h.command(admin, "/invite")
        await h.press(admin, "روصو")
        await h.press(admin, ar("official"))
        await h.press(admin, "1")
        await h.command(admin, f"/promote {karim.id}")
        await h.command(admin, f"/demote {karim.id}")
        await h.command(admin, "/audit")
        await h.command(admin, "/stats")
        await h.press(admin, ar("Everything"))
        await h.command(admin, "/export")
        await h.press(admin, ar("Everything"))

        # A broadcast, and the list of broadcasts with its author.
        await h.command(sonia, "/broadcast")
        await h.send(sonia, BROADCAST_FR)
        await h.press(sonia, ar("Preview ▸"))
        await h.press(sonia, ar("Send now"))
        await drain_outbox(h)
        await h.command(sonia, "/broadcasts")

        # The weekly digest of an official the open question did not reach.
        giulia = await person(h, potenza, "Giulia Bianchi", [flood], "ar")
        async with db.transaction() as s:
            row = (await s.scalars(select(Official).where(Official.tg_user_id == giulia.id))).one()
            row.digest_opt_in = True
        slot = digest.last_slot(
            h.deps.clock.now() + timedelta(days=7),
            "Europe/Rome",
            h.deps.settings.digest_weekday,
            h.deps.settings.digest_hour,
        )
        h.deps.clock.set(slot + timedelta(minutes=5))
        await digest.run_digests(h.deps, h.deps.clock.now(), digest_notice)
        await drain_outbox(h)

        # A reply that cannot be delivered, then one to somebody who blocked the bot (they
        # come back with /start).
        await h.press(karim, ar("Answer"))
        h.tg.fail(500, "Internal Server Error: scripted", chat_id=asker.id, times=None)
        await h.send(karim, ANSWER_2_FR)
        h.tg.core.rules.clear()
        await h.block(claire)
        await h.press(asker, ar("Reply"))
        await h.send(asker, FOLLOW_UP_2_FR)
        h.tg.unblock(claire.id)
        await h.command(claire, "/start")

        # What came with city calendars, /away and the library.
        await calendars_absences_and_library(h, asker, claire, karim, sonia)

        # The asker leaves: whoever received their open question is told it was withdrawn.
        await h.command(asker, "/deleteme")
        await h.press(asker, ar("Yes, erase my data"))
        await drain_outbox(h)

    problems = not_isolated(rendered, typed)
    assert not problems, "\n".join(problems)
    missing = sorted(arabic_user_text_messages() - {r.msgid for r in rendered})
    assert not missing, f"not rendered in Arabic: {missing}"

    # Every line the bot wrote to an Arabic reader reads right to left, whatever it quotes;
    # what a person sent (their question or answer, in French) keeps its own direction.
    bodies = {m for n, m in globals().items() if n.endswith("_FR")} | set(CALENDAR_QUESTIONS)
    for user in (asker, claire, karim, sonia, admin):
        for call in h.tg.sent(user.id):
            if call.method == "copyMessage" and "caption" not in call.params:
                continue  # a copy of what a person sent, as they sent it
            for line in plain_lines(call.raw_text or ""):
                if line.strip() in bodies or line.startswith("https://") or not direction(line):
                    continue  # what people sent, a link on its own line, digits and marks
                assert direction(line) == "rtl", f"{user.first_name}: {line!r}"


async def drain_outbox(h: Harness) -> None:
    from tests.harness.outbox import drain

    await drain(h)


async def test_readers_abroad_see_the_latin_form_and_their_own_city_names(
    harness: Harness,
) -> None:
    """An Arabic name reaches an Italian reader in its Latin form on a left-to-right line, and
    the Arabic reader as written; each reads the cities' names in their own language."""
    h = harness
    db = h.deps.db
    rosso = await make_city(db, "Rosso", "MR", "Africa/Nouakchott", names={"ar": "روصو"})
    nice = await make_city(
        db, "Nice", "FR", "Europe/Paris", ["fr"], names={"ar": "نيس", "it": "Nizza"}
    )
    flood = await make_topic(db, "flood-risk", names=FLOOD)
    asker = await person(h, rosso, ASKER_AR, [flood], "ar", position=POSITION_AR)
    async with db.transaction() as s:
        row = (await s.scalars(select(Official).where(Official.tg_user_id == asker.id))).one()
        row.name_latin = ASKER_LATIN
    marco = await person(h, nice, "Marco Rossi", [flood], "it", position="Geometra")
    await h.command(asker, "/ask")
    await h.press(asker, FLOOD["ar"])
    await h.send(asker, QUESTION_FR)
    await h.press(asker, ar("Send"))
    assert h.last_text(asker) == ar("Sent to officials in {cities}.").format(cities="نيس")

    (header,) = [t for t in h.tg.raw_texts(marco.id) if "Rischio alluvioni" in t]
    first, second = plain_lines(header)[:2]
    assert second == f"Da \u2068{ASKER_LATIN}\u2069, \u2068{POSITION_AR}\u2069, \u2068Rosso\u2069"
    assert direction(first) == direction(second) == "ltr"

    await h.press(marco, tr("it", "Answer"))
    assert h.last_text(marco) == tr(
        "it",
        "Send your answer to {name}, {city}: text, photo, document, voice note or location. "
        "/cancel to stop.",
    ).format(name=ASKER_LATIN, city="Rosso")
    await h.send(marco, "Sirene a batteria.")
    answer_header = [t for t in h.tg.raw_texts(asker.id) if "Marco" in t][-1]
    assert "\u2068Marco Rossi\u2069، \u2068نيس\u2069" in plain_lines(answer_header)[0]
    assert direction(plain_lines(answer_header)[0]) == "rtl"
    assert h.last_text(marco) == tr("it", "Sent to {name}, {city}.").format(
        name=ASKER_LATIN, city="Rosso"
    )
    await h.press(asker, ar("Mark resolved"))
    await h.press(asker, ar("Thank the helpers"))
    # Arabic says "one official" in words, not "1 official".
    assert h.last_text(asker) == "وصل شكرك إلى موظف واحد."
    assert "Marco" not in h.last_text(marco) and ASKER_LATIN in h.last_text(marco)


async def test_arabic_help_lines_stay_right_to_left_and_lists_join_the_arabic_way(
    harness: Harness,
) -> None:
    h = harness
    db = h.deps.db
    gabes = await make_city(db, "Gabès", names={"ar": "قابس"})
    topic = await make_topic(db, "flood-risk", names=FLOOD)
    admin_ar = await person(h, gabes, "Sonia Trabelsi", [topic], "ar", role=Role.ADMIN)
    await h.command(admin_ar, "/help")
    lines = plain_lines(h.tg.raw_texts(admin_ar.id)[-1])
    commands = [line for line in lines if "/" in line]
    assert len(commands) == 23  # /search and /away came with the library and absences
    for line in commands:
        assert line.startswith("\u200f/") and direction(line) == "rtl", line
    italian = await person(h, gabes, "Marco Rossi", [topic], "it")
    await h.command(italian, "/help")
    assert all(
        line.startswith("/") for line in plain_lines(h.tg.raw_texts(italian.id)[-1]) if "/" in line
    )
    from bot.i18n import format_list, language_name, use_locale

    with use_locale("ar"):
        assert format_list(["أ", "ب", "ج"]) == "أ وب وج"
    with use_locale("fr"):
        assert language_name("it") == "italien" and language_name("fr") == "français"
    with use_locale("it"):
        assert language_name("it") == "italiano"
    with use_locale("es"):
        assert language_name("ar") == "árabe"


async def test_profile_edits_the_latin_form_of_a_name(harness: Harness) -> None:
    """/profile offers the Latin form for a name not in Latin letters: set, changed, removed;
    a name changed to Latin letters needs none and drops it."""
    h = harness
    db = h.deps.db
    rosso = await make_city(db, "Rosso", "MR", "Africa/Nouakchott", names={"ar": "روصو"})
    topic = await make_topic(db, "flood-risk", names=FLOOD)
    user = await person(h, rosso, ASKER_AR, [topic], "ar", position=POSITION_AR)

    async def latin() -> str | None:
        async with db.transaction() as s:
            row = (await s.scalars(select(Official).where(Official.tg_user_id == user.id))).one()
            return row.name_latin

    await h.command(user, "/profile")
    await h.press(user, ar("Name in Latin letters"))
    await h.send(user, "محمد")
    assert await latin() is None
    assert h.last_text(user) == ar(
        "Please write your name in Latin letters (accents are fine), or use the button below "
        "to go on without it."
    )
    await h.send(user, ASKER_LATIN)
    assert await latin() == ASKER_LATIN
    assert f"{ASKER_AR} ({ASKER_LATIN})" in h.last_text(user)
    assert h.texts(user)[-2] == ar("Saved.")

    await h.press(user, ar("Name in Latin letters"))
    await h.press(user, ar("No Latin form"))
    assert await latin() is None
    assert f"{ASKER_AR} (" not in h.last_text(user)

    await h.press(user, ar("Edit name"))
    await h.send(user, "محمد الأمين")  # still not Latin: the Latin form is asked for at once
    await h.send(user, "Mohamed Lemine")
    assert await latin() == "Mohamed Lemine"
    await h.press(user, ar("Edit name"))
    await h.send(user, "Mohamed Lemine Ould Ahmed")
    assert await latin() is None
    assert ar("Name in Latin letters") not in str(h.tg.last(user.id).buttons)


PUMPS_FR = "Où louez-vous les pompes quand les digues cèdent ?"
PUMPS_ANSWER_FR = "Chez le dépôt régional, sous contrat annuel."
PUMPS_ANSWER_2_FR = "Nous en avons six, prêtées par la protection civile."
AWAY_REPLY_FR = "Et combien coûte la location ?"
AWAY_REPLY_2_FR = "Avez-vous un contrat écrit ?"
WHILE_AWAY_FR = "Qui garde les clés des stations de pompage ?"
# When a question is asked (UTC), and what the asker hears of Gabès, Nice and Potenza then.
ASKED_AT = [
    datetime(2026, 12, 4, 19, 0, tzinfo=UTC),  # Friday evening: outside hours, until Monday
    datetime(2026, 12, 5, 10, 0, tzinfo=UTC),  # Saturday: the weekend, until Monday
    datetime(2026, 12, 6, 10, 0, tzinfo=UTC),  # Sunday: the weekend, until tomorrow
    datetime(2026, 12, 7, 6, 30, tzinfo=UTC),  # Monday early: outside hours, from 09:00
    datetime(2026, 12, 7, 19, 0, tzinfo=UTC),  # Monday evening: outside hours, until tomorrow
    datetime(2026, 12, 25, 9, 0, tzinfo=UTC),  # Christmas (a Friday): a holiday, until Monday
]
CALENDAR_QUESTIONS = [f"Question de calendrier n° {n + 1} : vos digues ?" for n in range(6)]
# Epiphany (a Wednesday) in Potenza: a holiday, until tomorrow; Gabès and Nice work.
LAST_ASKED = datetime(2027, 1, 6, 9, 0, tzinfo=UTC)
BACK = datetime(2027, 1, 20, 23, 0, tzinfo=UTC)


async def calendars_absences_and_library(
    h: Harness, asker: TgUser, claire: TgUser, karim: TgUser, sonia: TgUser
) -> None:
    """In Arabic: the asker told when cities not at work now should answer; /away for oneself
    with and without a deputy, and set by an organiser for others; the asker writing to
    someone away; the summaries on return; the library (added, searched with and without a
    match, read, words withdrawn, an author who erased their data)."""
    gabes = await catalogue_city(h, "Gabès")
    _flood, heat = await catalogue_topics(h)
    hedi = await person(h, gabes, "Hedi Jaziri", [heat], "ar", position="Technicien")

    async def ask(text: str) -> None:
        await h.command(asker, "/ask")
        await h.press(asker, FLOOD["ar"])
        await h.send(asker, text)
        await h.press(asker, ar("Send"))

    async def away(user: TgUser, last_day: str, deputy: str) -> None:
        await h.press(user, ar("Today"))
        await h.send(user, last_day)
        await h.press(user, deputy)

    for when, text in zip(ASKED_AT, CALENDAR_QUESTIONS, strict=True):
        h.deps.clock.set(when)  # type: ignore[attr-defined]
        await ask(text)
    h.deps.clock.set(LAST_ASKED)  # type: ignore[attr-defined]
    await ask(PUMPS_FR)

    # Karim answers and goes away with Sonia as his deputy; the asker writes to him.
    await h.press(karim, ar("Answer"))
    await h.send(karim, PUMPS_ANSWER_FR)
    await h.command(karim, "/away")
    await away(karim, "20/01/2027", "Sonia Trabelsi")
    await h.press(asker, ar("Reply"))
    await h.send(asker, AWAY_REPLY_FR)
    # Claire answers and goes away with no deputy; the asker writes to her.
    await h.press(claire, ar("Answer"))
    await h.send(claire, PUMPS_ANSWER_2_FR)
    await h.command(claire, "/away")
    await away(claire, "20/01/2027", ar("No one"))
    await h.press(asker, ar("Reply"))
    await h.send(asker, AWAY_REPLY_2_FR)

    # The organiser sets absences for others: Giulia (no deputy), Hedi (Amal stands in); Hedi
    # is back at once.
    for city, who, deputy in (("Potenza", "Giulia", ar("No one")), ("Gabès", "Hedi", "أمل")):
        await h.command(sonia, "/away")
        await h.press(sonia, ar("For someone else"))
        await h.press(sonia, city)
        await h.press(sonia, who)
        await away(sonia, "20/01/2027", deputy)
    await h.command(sonia, "/away")
    await h.press(sonia, ar("For someone else"))
    await h.press(sonia, "Gabès")
    await h.press(sonia, "Hedi")
    await h.press(sonia, ar("Back now"))
    assert hedi.id

    # A question while they are away reaches Gabès through Sonia; then the summaries.
    h.deps.clock.advance(hours=2)  # type: ignore[attr-defined]
    await ask(WHILE_AWAY_FR)
    h.deps.clock.set(BACK)  # type: ignore[attr-defined]
    await returns_job(h.deps)
    await drain_outbox(h)
    # The summary names the city in the reader's language.
    assert "قابس" in h.last_text(karim) and "Gabès" not in h.last_text(karim)

    # The library: the exchange added (Karim and Claire are told), searched, read, Karim's
    # words withdrawn, Claire erases her data.
    await h.press(asker, ar("Mark resolved"))
    await h.press(asker, ar("Add to the library"))
    await drain_outbox(h)
    await h.command(asker, "/search بطاريات inexistantes")
    await h.command(karim, "/search pompes digues")
    # An Arabic reader sees the entry's city in Arabic, on the card and in the exchange.
    assert "روصو" in h.last_text(karim) and "Rosso" not in h.last_text(karim)
    await h.press(karim, ar("Read {number}").format(number=1))
    assert "روصو" in h.last_text(karim) and "Rosso" not in h.last_text(karim)
    await h.press(karim, ar("Withdraw my words"))
    await h.command(claire, "/deleteme")
    await h.press(claire, ar("Yes, erase my data"))
    await drain_outbox(h)
    await h.command(sonia, "/search pompes digues")
    await h.press(sonia, ar("Read {number}").format(number=1))


async def catalogue_city(h: Harness, name: str):  # type: ignore[no-untyped-def]
    from bot.db.models import City

    async with h.deps.db.read() as s:
        return (await s.scalars(select(City).where(City.name == name))).one()


async def catalogue_topics(h: Harness):  # type: ignore[no-untyped-def]
    from bot.db import catalogue

    async with h.deps.db.read() as s:
        topics = await catalogue.topics_by_slug(s)
    return topics["flood-risk"], topics["heatwaves"]
