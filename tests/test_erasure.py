"""/deleteme leaves nothing of the person behind: every column of every table (read from the
models' metadata, so a column added later is covered) is searched for their ids, names and
texts; their open questions are withdrawn and the officials who received them are told; the
exchange's anonymous rows still add up; and they can join again as someone new."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update

from bot.db import audit_log
from bot.db.models import (
    Base,
    Delivery,
    Official,
    OfficialStatus,
    Question,
    QuestionStatus,
    Routing,
    routing_waiting,
)
from bot.services import reports
from bot.services.invites import create_invite
from handlers.broadcast_list import progress_job
from handlers.exchange_buttons import RouteToCity
from handlers.followups import follow_up
from handlers.reminders import reminders_job
from tests.conftest import ADMIN_TG_ID
from tests.factories import make_city, make_official, make_topic, next_tg_id
from tests.harness.fake_translator import FakeTranslator
from tests.harness.outbox import drain
from tests.harness.updates import Harness, TgUser, tr

PERSON_TG = 987650001
NAME = "Zyxwq Erasable"
NAME_AR = "زيكسوك إيرازابل"  # the same person's name as written in Arabic
POSITION = "Qwzxv coordinator"
QUESTION = "QQXJZ-question: how do you keep river gauges safe from debris in a flood?"
QUESTION_2 = "QQXJZ-second: which early-warning app do you use for floods?"
ANSWER = "QQXJZ-answer: we test every siren monthly, on battery."
FOLLOW_UP = "QQXJZ-followup: SirenCo, from Lyon."
BROADCAST = "QQXJZ-broadcast: regional drill on Friday at 10:00."
REMINDER = "QQXJZ-reminder: send the flood figures."
DRAFT = "QQXJZ-draft: a question never sent."
FILE_ID = "zyxwq-file-1"
WITHDRAWN = (
    "🚫 The question on {topic} from {city}, asked on {date}, was withdrawn: the person "
    "who asked it has left City Exchange. No answer is needed any more."
)
# Every id, name and text of theirs holds one of these (compared without case).
NEEDLES = (str(PERSON_TG), "zyxwq", "erasable", "qwzxv", "qqxjz", "زيكسوك")


def holds_the_person(value: Any) -> bool:
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, int | float):
        return value == PERSON_TG
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False)
    if not isinstance(value, str):
        return False  # times
    return any(n in value.lower() for n in NEEDLES)


async def traces(h: Harness) -> list[str]:
    """Each cell of the database that holds the person's ids, names or texts."""
    found = []
    async with h.deps.db.read() as s:
        for table in Base.metadata.sorted_tables:
            for row in (await s.execute(select(table))).mappings():
                found += [
                    f"{table.name}.{column}={value!r}"
                    for column, value in row.items()
                    if holds_the_person(value)
                ]
    return found


async def register(h: Harness, user: TgUser, name: str, position: str) -> None:
    invite = await create_invite(h.deps, "Gabès")
    await h.command(user, f"/start {invite.code}")
    await h.press(user, "Yes")
    await h.send(user, name)
    await h.send(user, position)
    await h.press(user, "Flood risk")
    await h.press(user, "Done")
    await h.press(user, "Done")
    await h.press(user, "I accept")


async def ask(h: Harness, user: TgUser, text: str | None = None, **media: Any) -> None:
    await h.command(user, "/ask")
    await h.press(user, "Flood risk")
    await h.send(user, text, **media)
    await h.press(user, "Send")


def stats_of(s: reports.Stats) -> tuple[Any, ...]:
    return (s.questions, s.answered, s.answers, s.median_first_answer, s.helpful_cities)


async def test_deleteme_leaves_no_trace_withdraws_open_questions_and_keeps_the_counts(
    harness: Harness, translator: FakeTranslator
) -> None:
    h = harness
    db = h.deps.db
    await make_city(db, "Gabès")
    nice = await make_city(db, "Nice", "FR", "Europe/Paris", ["fr"])
    potenza = await make_city(db, "Potenza", "IT", "Europe/Rome", ["it", "en"])
    kasserine = await make_city(db, "Kasserine")
    flood = await make_topic(db, "flood-risk", names={"en": "Flood risk", "fr": "Inondations"})
    heat = await make_topic(db, "heat", names={"en": "Heatwaves"}, position=1)
    people = {}
    for key, city, name, locale, topic in [
        ("claire", nice, "Claire Martin", "en", flood),
        ("luc", nice, "Luc Bernard", "fr", flood),
        ("marco", potenza, "Marco Rossi", "it", flood),
        ("sami", kasserine, "Sami Trabelsi", "en", heat),
    ]:
        tg_id = next_tg_id()
        await make_official(db, city, tg_id=tg_id, name=name, topics=[topic], locale=locale)
        people[key] = TgUser(tg_id, name.split()[0], locale)
    claire, luc, marco, sami = people["claire"], people["luc"], people["marco"], people["sami"]
    async with db.transaction() as s:  # Luc's quiet hours: 10:00-14:00 in Nice
        await s.execute(
            update(Official)
            .where(Official.tg_user_id == luc.id)
            .values(quiet_start=600, quiet_end=840)
        )
    admin = TgUser(ADMIN_TG_ID, "Admin")
    person = TgUser(PERSON_TG, "Zyxwq", "en", last_name="Erasable")

    # Before registering: a command they may not use is refused and audited by Telegram id.
    await h.command(person, "/broadcast")
    assert h.last_text(person) == "You are not allowed to do that."
    await register(h, person, NAME, POSITION)
    # Their name in Arabic letters, and how colleagues abroad write it.
    await h.command(person, "/profile")
    await h.press(person, "Edit name")
    await h.send(person, NAME_AR)
    await h.send(person, NAME)
    assert f"Name: {NAME_AR} ({NAME})" in h.texts(person)[-1]
    await h.command(admin, f"/promote {PERSON_TG}")

    # They answer Claire's question, and reply to her follow-up.
    await ask(h, claire, "How do you test flood sirens in small towns?")
    await h.press(person, "Answer")
    await h.send(person, ANSWER)
    relayed = h.tg.last(claire.id)
    await h.send(claire, "Which supplier do you use?", reply_to=relayed.message_id)
    await h.send(person, FOLLOW_UP, reply_to=h.tg.last(person.id).message_id)
    assert FOLLOW_UP.split(":")[1].strip() in h.last_text(claire)

    # They ask with a photo; Marco answers, Claire and Luc have not yet.
    photo = [{"file_id": FILE_ID, "file_unique_id": "zyxwq-u1", "width": 64, "height": 48}]
    await ask(h, person, None, photo=photo, caption=QUESTION)
    assert h.last_text(person) in (
        "Sent to officials in Nice and Potenza.",
        "Sent to officials in Potenza and Nice.",
    )
    (copy,) = [c for c in h.tg.of("copyMessage", marco.id) if c.params["from_chat_id"]]
    await h.send(marco, "Con griglie davanti ai sensori.", reply_to=copy.message_id)
    # And a second question, that nobody answers.
    await ask(h, person, QUESTION_2)
    claires = (await official(h, claire.id)).id  # type: ignore[union-attr]
    question, second = [q for q in await rows(h, Question) if q.asker_id != claires]
    assert (question.status, second.status) == (QuestionStatus.ANSWERED, QuestionStatus.OPEN)

    # As an organiser they broadcast and schedule a weekly reminder.
    await h.command(person, "/broadcast")
    await h.send(person, BROADCAST)
    await h.press(person, "Preview")
    await h.press(person, "Send now")
    await drain(h)
    await progress_job(h.app.bot, h.deps)
    await h.command(person, "/remind")
    await h.send(person, REMINDER)
    await h.press(person, "Everyone")
    await h.press(person, "Every week")
    await h.press(person, "Tuesday")
    await h.send(person, "10:00")
    await h.press(person, "No event time")
    await h.press(person, "Schedule")

    # A day later: nudges name them and quote their question; Luc's waits for his quiet hours.
    h.deps.clock.advance(hours=24, minutes=30)
    await follow_up(h.app.bot, h.deps)
    await reminders_job(h.deps)
    await drain(h)
    (nudge,) = [t for t in h.texts(claire) if "waiting for your answer" in t]
    assert NAME in nudge and "QQXJZ-second" in nudge
    assert any("QQXJZ-reminder" in t for t in h.texts(marco))
    lucs = (await official(h, luc.id)).id  # type: ignore[union-attr]
    (waiting,) = await rows(
        h, Delivery, Delivery.recipient_id == lucs, Delivery.status == "pending"
    )
    assert waiting.source == "nudge" and NAME in (waiting.text or "")
    # An unsent draft, and an audit detail naming them (no action writes one yet).
    await h.command(person, "/ask")
    await h.press(person, "Flood risk")
    await h.send(person, DRAFT)
    async with db.transaction() as s:
        await audit_log.record(
            s, h.deps.clock.now(), "test.note", actor_tg_id=ADMIN_TG_ID, about=f"{NAME} {PERSON_TG}"
        )

    before = await traces(h)
    tables = {t.split(".")[0] for t in before}
    assert tables >= {
        "official",
        "question",
        "exchange_message",
        "audit_log",
        "delivery",
        "dialog_state",
        "broadcast",
        "reminder",
        "translation",  # their words machine-translated for Luc and Marco
    }, before
    stats_before = await reports.stats(h.deps, None, None)
    assert stats_before.questions == 3 and stats_before.answered == 2
    copies_from_them = len(copies_from(h, PERSON_TG))
    assert copies_from_them > 0

    seen = {u.id: len(h.texts(u)) for u in (claire, luc, marco, sami)}
    await h.command(person, "/deleteme")
    await h.press(person, "Yes, erase my data")
    assert h.last_text(person) == (
        "Your data has been erased. Goodbye! You can join again with a new invite link."
    )
    said_to_them = len(h.texts(person))

    assert await traces(h) == []
    # Marco's answer to their question, and theirs to Claire, still count.
    assert stats_of(await reports.stats(h.deps, None, None)) == stats_of(stats_before)
    for q in await rows(h, Question, Question.asker_id == question.asker_id):
        assert q.status == QuestionStatus.WITHDRAWN
        assert await rows(h, Routing, Routing.question_id == q.id, routing_waiting()) == []

    # Each official who received a withdrawn question is told, in their language; Luc after
    # his quiet hours, and never the nudge that was waiting for them.
    await drain(h)
    news = {u.id: h.texts(u)[seen[u.id] :] for u in (claire, luc, marco, sami)}
    date = "Mar 2, 2026, 10:00\u202fAM"  # asked at 10:00 in Nice
    english = WITHDRAWN.format(topic="Flood risk", city="Gabès", date=date)
    assert news[claire.id] == [english, english]  # both of their questions
    italian = tr("it", WITHDRAWN).split("{")[0]
    assert italian != WITHDRAWN.split("{")[0]
    assert [t[: len(italian)] for t in news[marco.id]] == [italian, italian]
    assert news[luc.id] == news[sami.id] == []
    h.deps.clock.set(datetime(2026, 3, 3, 13, 1, tzinfo=UTC))
    await drain(h)
    french = tr("fr", WITHDRAWN).split("{")[0]
    assert [t[: len(french)] for t in h.texts(luc)[seen[luc.id] :]] == [french, french]

    # Its buttons no longer act, a reply is not relayed, and it cannot be routed by hand.
    await h.press(claire, "Answer")
    assert h.tg.alerts()[-1] == "This question is closed."
    await h.send(marco, "Un'altra idea.", reply_to=copy.message_id)
    assert h.last_text(marco) == tr("it", "This person is no longer part of the exchange.")
    route = RouteToCity(question.id, kasserine.id).encode()
    await h.callback(admin, route, h.tg.last(admin.id).message_id)
    assert h.tg.alerts()[-1] == "This question is closed."
    assert h.texts(sami)[seen[sami.id] :] == []
    h.deps.clock.advance(days=8)
    await follow_up(h.app.bot, h.deps)
    await reminders_job(h.deps)
    await drain(h)
    assert len(copies_from(h, PERSON_TG)) == copies_from_them
    assert len(h.texts(person)) == said_to_them
    assert await traces(h) == []

    # They can join again, as someone new.
    await register(h, person, "Nouvelle Personne", "Engineer")
    again = await official(h, PERSON_TG)
    assert again is not None and again.status == OfficialStatus.ACTIVE
    assert again.name == "Nouvelle Personne" and again.id != question.asker_id
    await h.command(person, "/questions")
    assert h.last_text(person) == "You have not asked any questions yet. Send /ask to ask one."


def copies_from(h: Harness, chat_id: int) -> list[Any]:
    return [
        c
        for c in h.tg.of("copyMessage") + h.tg.of("copyMessages")
        if int(c.params.get("from_chat_id") or 0) == chat_id
    ]


async def rows(h: Harness, model: Any, *where: Any) -> list[Any]:
    async with h.deps.db.read() as s:
        return list((await s.scalars(select(model).where(*where).order_by(model.id))).all())


async def official(h: Harness, tg_id: int) -> Official | None:
    async with h.deps.db.read() as s:
        return await s.scalar(select(Official).where(Official.tg_user_id == tg_id))
