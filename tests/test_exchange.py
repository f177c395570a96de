"""The exchange through the bot: ask, routing, answers and follow-ups both ways, media relay,
decline and re-route, nobody covers, forged callbacks, blocked recipients, limits, lists."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select

from bot.db import routing_stats
from bot.db.models import (
    CityTopicStats,
    ExchangeKind,
    ExchangeMessage,
    Official,
    OfficialStatus,
    Question,
    QuestionStatus,
    Role,
    Routing,
    RoutingStatus,
    Topic,
)
from bot.services import digest
from bot.services.exchange import asking, closing, delivery_records, lists, types
from handlers.digest import digest_notice
from tests.factories import make_city, make_official, make_topic, next_tg_id
from tests.harness.outbox import drain
from tests.harness.updates import DOCUMENT, LOCATION, PHOTO, STICKER, Harness, TgUser

QUESTION = "How do you keep flood sirens working during power cuts?"


@dataclass
class World:
    topic: Topic
    other_topic: Topic
    asker: TgUser
    nice1: TgUser
    nice2: TgUser
    potenza: TgUser
    madrid: TgUser
    torino: TgUser
    colleague: TgUser  # same city as the asker, covers the topic: never routed
    organiser: TgUser


async def person(h: Harness, city, name: str, topics, **kw) -> TgUser:
    tg_id = next_tg_id()
    await make_official(h.deps.db, city, tg_id=tg_id, name=name, topics=topics, **kw)
    return TgUser(tg_id, name.split()[0])


async def world(h: Harness) -> World:
    db = h.deps.db
    gabes = await make_city(db, "Gabès", languages=["ar", "fr", "en"])
    potenza = await make_city(db, "Potenza", "IT", "Europe/Rome", ["it", "en"])
    nice = await make_city(db, "Nice", "FR", "Europe/Paris", ["fr"])
    madrid = await make_city(db, "Madrid", "ES", "Europe/Madrid", ["es"])
    torino = await make_city(db, "Torino", "IT", "Europe/Rome", ["it"])
    rosso = await make_city(db, "Rosso", "MR", "Africa/Nouakchott", ["ar", "fr"])
    flood = await make_topic(
        db, "flood-risk", names={"en": "Flood risk", "fr": "Risque d'inondation"}
    )
    heat = await make_topic(db, "heatwaves", names={"en": "Heatwaves"}, position=1)
    w = World(
        topic=flood,
        other_topic=heat,
        asker=await person(
            h,
            gabes,
            "Amina <Ben> & Salah",
            [flood],
            position="Head of civil protection",
            languages=("fr", "en"),
        ),
        nice1=await person(h, nice, "Claire Martin", [flood]),
        nice2=await person(h, nice, "Luc Bernard", [flood]),
        potenza=await person(h, potenza, "Marco Rossi", [flood]),
        madrid=await person(h, madrid, "Lucía Gómez", [flood]),
        torino=await person(h, torino, "Giulia Bianchi", [flood]),
        colleague=await person(h, gabes, "Karim Haddad", [flood]),
        organiser=await person(h, rosso, "Org Aniser", [heat], role=Role.ORGANISER),
    )
    # Never routed: pending, removed and unreachable officials, and one who covers another topic.
    await person(h, rosso, "Pending Person", [flood], status=OfficialStatus.PENDING)
    await person(h, rosso, "Removed Person", [flood], status=OfficialStatus.REMOVED)
    await person(h, rosso, "Gone Person", [flood], status=OfficialStatus.UNREACHABLE)
    return w


async def ask(
    h: Harness, user: TgUser, topic_label: str = "Flood risk", text: str | None = QUESTION, **media
) -> None:
    await h.command(user, "/ask")
    await h.press(user, topic_label)
    await h.send(user, text, **media)
    await h.press(user, "Send")


async def rows(h: Harness, model, *where):
    async with h.deps.db.transaction() as s:
        return (await s.scalars(select(model).where(*where).order_by(model.id))).all()


async def stats_kept_as_rebuilt(h: Harness) -> list[tuple]:
    """city_topic_stats as the services kept it; it must equal a rebuild from `routing`."""

    async def read() -> list[tuple]:
        async with h.deps.db.transaction() as s:
            return sorted(
                (
                    r.topic_id,
                    r.city_id,
                    r.asked,
                    r.answered,
                    round(r.answer_seconds, 3),
                    r.answer_count,
                )
                for r in await s.scalars(select(CityTopicStats))
            )

    kept = await read()
    async with h.deps.db.transaction() as s:
        await routing_stats.rebuild(s)
    assert kept == await read()
    return kept


def question_calls(h: Harness, user: TgUser):
    """What a recipient got that carries the Answer button."""
    return [
        c for c in h.tg.sent(user.id) if any("Answer" == t for row in c.buttons for t, _ in row)
    ]


async def test_ask_route_answer_follow_up_resolve(harness: Harness) -> None:
    h = harness
    w = await world(h)
    await h.command(w.asker, "/ask")
    assert "Choose the topic" in h.last_text(w.asker) or "group" in h.last_text(w.asker)
    await h.press(w.asker, "Flood risk")
    assert "Now send your question" in h.last_text(w.asker)
    await h.send(w.asker, QUESTION)
    preview = h.tg.last(w.asker.id)
    assert "Question on Flood risk" in preview.text and QUESTION in preview.text
    await h.press(w.asker, "Send")
    assert h.last_text(w.asker) == "Sent to officials in Nice, Potenza, and Madrid."

    for user in (w.nice1, w.nice2, w.potenza, w.madrid):
        (got,) = question_calls(h, user)
        assert "Question on Flood risk" in got.text
        assert "From Amina &lt;Ben&gt; &amp; Salah, Head of civil protection, Gabès" in got.text
        assert QUESTION in got.text
        assert [t for row in got.buttons for t, _ in row] == ["Answer", "Not for me"]
    for user in (w.torino, w.colleague, w.organiser):
        assert question_calls(h, user) == []

    # Answer button, then the answer.
    await h.press(w.nice1, "Answer")
    assert "Send your answer to Amina &lt;Ben&gt; &amp; Salah, Gabès" in h.last_text(w.nice1)
    await h.send(w.nice1, "We keep batteries in every siren & test them monthly.")
    assert h.last_text(w.nice1) == "Sent to Amina &lt;Ben&gt; &amp; Salah, Gabès."
    relayed = h.tg.last(w.asker.id)
    # Named by its topic and its first words: the asker may have more than one on a topic.
    assert (
        f"<b>Claire Martin, Nice</b> answered your question on Flood risk (“{QUESTION}”):"
        in relayed.text
    )
    assert "batteries in every siren &amp; test them monthly." in relayed.text

    # The asker replies to the answer (Telegram reply): it reaches Claire only.
    await h.send(w.asker, "Which battery supplier?", reply_to=relayed.message_id)
    assert h.last_text(w.asker) == "Sent to Claire Martin, Nice."
    follow = h.tg.last(w.nice1.id)
    assert "Amina &lt;Ben&gt; &amp; Salah, Gabès</b> wrote about Flood risk" in follow.text
    assert "Which battery supplier?" in follow.text
    assert question_calls(h, w.nice2)[-1].text == question_calls(h, w.nice2)[0].text  # nothing new

    # Claire replies to the follow-up, the asker to that: the thread goes on both ways.
    await h.send(w.nice1, "SirenCo, in Lyon.", reply_to=follow.message_id)
    back = h.tg.last(w.asker.id)
    assert "SirenCo, in Lyon." in back.text
    assert (
        "<b>Claire Martin, Nice</b> wrote about your question on Flood risk "
        f"(“{QUESTION}”):" in back.text
    )
    await h.press(w.asker, "Reply")
    await h.send(w.asker, "Thank you!")
    assert "Thank you!" in h.last_text(w.nice1)

    # Potenza answers with a Telegram reply to the question itself.
    (q_msg,) = question_calls(h, w.potenza)
    await h.send(w.potenza, "We use solar panels.", reply_to=q_msg.message_id)
    assert "Marco Rossi, Potenza" in h.last_text(w.asker)

    # /questions and /inbox.
    await h.command(w.asker, "/questions")
    listing = h.last_text(w.asker)
    assert "answered" in listing and "2 answers" in listing
    assert "Madrid, Nice, and Potenza" in listing
    await h.command(w.madrid, "/inbox")
    assert "Flood risk" in h.last_text(w.madrid) and "Amina &lt;Ben&gt;" in h.last_text(w.madrid)
    await h.command(w.nice1, "/inbox")
    assert h.last_text(w.nice1) == "No questions are waiting for your answer."

    # Resolve and thank.
    await h.press(w.asker, "Mark resolved")
    assert "is marked resolved" in h.last_text(
        w.asker
    ) and "2 officials answered it" in h.last_text(w.asker)
    await h.press(w.asker, "Thank the helpers")
    assert h.last_text(w.asker) == "Your thanks went to 2 officials."
    for helper in (w.nice1, w.potenza):
        assert h.last_text(helper) == (
            "🙏 Amina &lt;Ben&gt; &amp; Salah, Gabès marked their question on Flood risk "
            f"(“{QUESTION}”) resolved and thanks you for your help."
        )
    assert "thanks you" not in h.last_text(w.nice2)

    # A closed question takes no new answer; nothing changes.
    await h.press(w.madrid, "Answer")
    assert h.tg.alerts()[-1] == "This question is closed."
    (madrid_q,) = question_calls(h, w.madrid)
    before = len(h.texts(w.asker))
    await h.send(w.madrid, "Late answer", reply_to=madrid_q.message_id)
    assert h.texts(w.madrid)[-1] == "This question is closed."
    assert not any("I did not understand" in t for t in h.texts(w.madrid)[-3:])
    assert len(h.texts(w.asker)) == before

    (question,) = await rows(h, Question)
    assert question.status == QuestionStatus.RESOLVED and question.first_answer_at is not None
    log = await rows(h, ExchangeMessage)
    kinds = [r.kind for r in log]
    assert kinds.count(ExchangeKind.QUESTION) == 1
    assert kinds.count(ExchangeKind.ROUTING) == 4
    assert kinds.count(ExchangeKind.ANSWER) == 2
    assert kinds.count(ExchangeKind.FOLLOW_UP) == 3
    assert kinds.count(ExchangeKind.RESOLVED) == 3  # resolved + two thanks
    answer = next(r for r in log if r.kind == ExchangeKind.ANSWER)
    assert (
        answer.delivered_chat_id == w.asker.id and answer.delivered_message_id == relayed.message_id
    )
    assert answer.original_chat_id == w.nice1.id and answer.text.startswith("We keep batteries")
    routings = await rows(h, Routing)
    by_recipient = {r.recipient_id: r for r in routings}
    assert len(routings) == 4
    nice = [r for r in routings if r.reason.startswith("covers topic: 2 officials")]
    assert len(nice) == 2 and "shares language: fr" in nice[0].reason
    assert all(r.score > 0 for r in routings)
    statuses = sorted(r.status for r in by_recipient.values())
    # Resolving closed the two that were still waiting: they no longer weigh on their city's load.
    assert statuses == ["answered", "answered", "closed", "closed"]
    assert all(r.delivered_message_id is not None for r in routings)
    stats = await stats_kept_as_rebuilt(h)
    assert sorted((r[2], r[3], r[5]) for r in stats) == [
        (1, 0, 0),
        (1, 1, 1),
        (1, 1, 1),
    ]  # 2 cities answered


async def test_a_question_resolved_while_it_was_being_sent_waits_for_nobody(
    harness: Harness,
) -> None:
    """The asker resolves between routing and delivery: the copies that arrive are recorded,
    as closed (nobody waits for them, so no city's load counts them), and still listed."""
    h = harness
    w = await world(h)
    await h.command(w.asker, "/ask")
    await h.press(w.asker, "Flood risk")
    await h.send(w.asker, QUESTION)
    asked = await asking.submit(h.deps, w.asker.id)  # routed; the handler would now send
    assert len(asked.deliveries) == 4
    await closing.resolve(h.deps, w.asker.id, asked.question_id)
    recorded = await delivery_records.record_deliveries(
        h.deps, [types.Sent(o, 7000 + i) for i, o in enumerate(asked.deliveries)]
    )
    assert sorted(c.name for c in recorded.cities) == ["Madrid", "Nice", "Potenza"]
    assert recorded.more == []
    routings = await rows(h, Routing)
    assert [r.status for r in routings] == [RoutingStatus.CLOSED] * 4
    assert sorted(r.delivered_message_id for r in routings) == [7000, 7001, 7002, 7003]
    (brief,) = await lists.my_questions(h.deps, w.asker.id)
    assert brief.status == QuestionStatus.RESOLVED
    assert [c.name for c in brief.cities] == ["Madrid", "Nice", "Potenza"]


async def test_media_questions_and_answers_are_copied(harness: Harness) -> None:
    h = harness
    w = await world(h)
    await h.command(w.asker, "/ask")
    await h.press(w.asker, "Flood risk")
    photo_msg = await h.send(
        w.asker, None, photo=PHOTO, caption="Our <river> gauge after the storm"
    )
    await h.press(w.asker, "Send")
    copies = h.tg.of("copyMessage", w.potenza.id)
    assert len(copies) == 1
    params = copies[0].params
    assert int(params["from_chat_id"]) == w.asker.id
    assert int(params["message_id"]) == photo_msg["message_id"]
    assert "Question on Flood risk" in params["caption"]
    assert "Our &lt;river&gt; gauge after the storm" in params["caption"]
    assert h.tg.of("forwardMessage") == []

    # A document answer, sent as a reply to the copied question: copied to the asker.
    doc_msg = await h.send(
        w.potenza, None, document=DOCUMENT, caption="Our plan", reply_to=copies[0].message_id
    )
    (to_asker,) = h.tg.of("copyMessage", w.asker.id)[-1:]
    assert int(to_asker.params["from_chat_id"]) == w.potenza.id
    assert int(to_asker.params["message_id"]) == doc_msg["message_id"]
    assert "Marco Rossi, Potenza" in str(to_asker.text) and "Our plan" in str(to_asker.text)

    # A voice note answering the answer goes back as a copy too.
    voice = await h.send(
        w.asker,
        None,
        voice={"file_id": "v1", "file_unique_id": "v1u", "duration": 3},
        reply_to=to_asker.message_id,
    )
    last = h.tg.of("copyMessage", w.potenza.id)[-1]
    assert int(last.params["message_id"]) == voice["message_id"]
    log = await rows(h, ExchangeMessage, ExchangeMessage.kind == ExchangeKind.ANSWER)
    assert [r.content_type for r in log] == ["document"]


def _ids(call) -> list[int]:
    raw = call.params["message_ids"]
    return [int(i) for i in (json.loads(raw) if isinstance(raw, str) else raw)]


async def test_album_question_reaches_recipients_whole(harness: Harness) -> None:
    h = harness
    w = await world(h)
    await h.command(w.asker, "/ask")
    await h.press(w.asker, "Flood risk")
    album = [
        await h.send(w.asker, None, photo=PHOTO, media_group_id="g1"),
        await h.send(
            w.asker,
            None,
            photo=PHOTO,
            media_group_id="g1",
            caption="Our <river> gauge, three views",
        ),
        await h.send(w.asker, None, photo=PHOTO, media_group_id="g1"),
    ]
    ids = [m["message_id"] for m in album]

    # One preview, refreshed as each photo arrives: the header (now with the caption) keeps
    # Send / Cancel, the previous copies are replaced by a copy of the whole album.
    mine = h.texts(w.asker)
    assert sum("Preview" in t for t in mine) == 1
    heads = [
        c for c in h.tg.sent(w.asker.id) if any(t == "Send" for row in c.buttons for t, _ in row)
    ]
    assert {
        c.params["message_id"] if c.method == "editMessageText" else c.message_id for c in heads
    } == {heads[0].message_id}
    assert "Our &lt;river&gt; gauge, three views" in heads[-1].params["text"]
    previews = h.tg.of("copyMessages", w.asker.id)
    assert [_ids(c) for c in previews] == [ids[:1], ids[:2], ids]
    deleted = [_ids(c) for c in h.tg.of("deleteMessages", w.asker.id)]
    assert deleted == [[r["message_id"] for r in c.result] for c in previews[:-1]]

    await h.press(w.asker, "Send")
    assert "Sent to officials in" in h.last_text(w.asker)
    reached = [u for u in (w.nice1, w.nice2, w.potenza, w.madrid, w.torino) if question_calls(h, u)]
    assert len(reached) >= 2 and w.potenza in reached
    position = {id(c): i for i, c in enumerate(h.tg.calls)}
    for user in reached:
        (head,) = question_calls(h, user)
        assert head.method == "sendMessage" and "Question on Flood risk" in head.params["text"]
        assert "Our &lt;river&gt; gauge, three views" in head.params["text"]
        assert [t for row in head.buttons for t, _ in row] == ["Answer", "Not for me"]
        (copied,) = h.tg.of("copyMessages", user.id)
        assert int(copied.params["from_chat_id"]) == w.asker.id and _ids(copied) == ids
        assert position[id(copied)] > position[id(head)]
        assert h.tg.of("copyMessage", user.id) == []

    (question,) = await rows(h, Question)
    assert question.album_message_ids == ids and question.source_message_id == ids[0]
    assert question.text == "Our <river> gauge, three views"
    (logged,) = await rows(h, ExchangeMessage, ExchangeMessage.kind == ExchangeKind.QUESTION)
    assert logged.original_message_id == ids[0] and logged.content_type == "photo"
    routed = await rows(h, Routing)
    assert len(routed) == len(reached) and all(r.status == RoutingStatus.DELIVERED for r in routed)

    # A Telegram reply to the header threads to the question like any other.
    (head,) = question_calls(h, w.potenza)
    await h.send(w.potenza, "We run them on batteries for 48 hours.", reply_to=head.message_id)
    assert "We run them on batteries" in h.last_text(w.asker)


async def test_text_after_a_captionless_album_becomes_its_text(harness: Harness) -> None:
    h = harness
    w = await world(h)
    await h.command(w.asker, "/ask")
    await h.press(w.asker, "Flood risk")
    ids = [
        (await h.send(w.asker, None, document=DOCUMENT, media_group_id="d7"))["message_id"]
        for _ in range(2)
    ]
    await h.send(w.asker, QUESTION)
    assert sum("Preview" in t for t in h.texts(w.asker)) == 1
    assert QUESTION in h.tg.of("editMessageText", w.asker.id)[-1].params["text"]
    assert _ids(h.tg.of("copyMessages", w.asker.id)[-1]) == ids
    await h.press(w.asker, "Send")
    (question,) = await rows(h, Question)
    assert (question.text, question.content_type, question.album_message_ids) == (
        QUESTION,
        "document",
        ids,
    )
    assert _ids(h.tg.of("copyMessages", w.potenza.id)[0]) == ids


async def test_location_question_gets_a_text_and_a_copy(harness: Harness) -> None:
    h = harness
    w = await world(h)
    await h.command(w.asker, "/ask")
    await h.press(w.asker, "Flood risk")
    loc = await h.send(w.asker, None, location=LOCATION)
    assert "send a line of text" in h.last_text(w.asker)
    await h.send(w.asker, "Is this spot safe for a shelter?")
    await h.press(w.asker, "Send")
    assert h.last_text(w.asker).startswith("Sent to officials in")
    texts = h.texts(w.madrid)
    assert any("Is this spot safe for a shelter?" in t for t in texts)
    (copy,) = h.tg.of("copyMessage", w.madrid.id)
    assert int(copy.params["message_id"]) == loc["message_id"] and "caption" not in copy.params
    assert [t for row in copy.buttons for t, _ in row] == ["Answer", "Not for me"]
    (q,) = await rows(h, Question)
    assert q.content_type == "location" and q.text == "Is this spot safe for a shelter?"


async def test_decline_reroutes_when_a_whole_city_declines(harness: Harness) -> None:
    h = harness
    w = await world(h)
    await ask(h, w.asker)
    await h.press(w.nice1, "Not for me")
    assert "not for you" in h.last_text(w.nice1)
    assert question_calls(h, w.torino) == []  # Nice still has Luc
    await h.press(w.madrid, "Not for me")
    (got,) = question_calls(h, w.torino)
    assert "Question on Flood risk" in got.text
    await h.press(w.madrid, "Not for me")
    assert h.tg.alerts()[-1] in (
        "This button is no longer active.",
        "You have already said this question is not for you.",
    )
    routings = await rows(h, Routing)
    assert sorted((r.status, r.round) for r in routings) == [
        ("declined", 1),
        ("declined", 1),
        ("delivered", 1),
        ("delivered", 1),
        ("delivered", 1),
    ]
    declines = await rows(h, ExchangeMessage, ExchangeMessage.kind == ExchangeKind.DECLINE)
    assert len(declines) == 2


async def test_nobody_covers_then_organiser_routes_by_hand(harness: Harness) -> None:
    h = harness
    w = await world(h)
    lone = await make_topic(h.deps.db, "landslides", names={"en": "Landslides"}, position=2)
    async with h.deps.db.transaction() as s:  # only the asker's own colleague covers it
        from bot.db.models import OfficialTopic

        colleague = await s.scalar(select(Official).where(Official.tg_user_id == w.colleague.id))
        s.add(OfficialTopic(official_id=colleague.id, topic_id=lone.id))
    await ask(h, w.asker, "Landslides", "Who has mapped landslide risk on coastal cliffs?")
    assert "Nobody in other cities covers Landslides yet" in h.last_text(w.asker)
    (q,) = await rows(h, Question)
    assert h.last_text(w.organiser) == (
        f"<b>Nobody covers Landslides</b>\nQuestion #{q.id} (“Who has mapped landslide "
        "risk on coastal cliffs?”) from Amina &lt;Ben&gt; &amp; Salah, Head of civil "
        "protection, Gabès could not be routed to any peer city."
    )
    assert question_calls(h, w.colleague) == []

    # An official cannot use the organiser's button.
    _mid, data = h.tg.find_button(w.organiser.id, "Route to a city")
    await h.callback(w.madrid, data)
    assert h.tg.alerts()[-1] == "You are not allowed to do that."

    await h.press(w.organiser, "Route to a city")
    await h.press(w.organiser, "Potenza")
    assert h.last_text(w.organiser) == "Sent to officials in Potenza."
    (got,) = question_calls(h, w.potenza)
    assert "Landslides" in got.text
    assert h.last_text(w.asker) == (
        "An organiser sent your question on Landslides (“Who has mapped landslide risk on "
        "coastal cliffs?”) to officials in Potenza."
    )
    (routing,) = await rows(h, Routing)
    assert routing.reason.startswith("routed by hand by official #")
    assert len(await stats_kept_as_rebuilt(h)) == 1


async def test_forged_and_stale_callbacks_change_nothing(harness: Harness) -> None:
    h = harness
    w = await world(h)
    await ask(h, w.asker)
    routings = await rows(h, Routing)
    not_mine = routings[0]
    async with h.deps.db.transaction() as s:
        torino_id = await s.scalar(select(Official.id).where(Official.tg_user_id == w.torino.id))
    assert torino_id not in {r.recipient_id for r in routings}
    before = [(r.id, r.status) for r in routings]

    await h.callback(w.torino, f"question:answer:{not_mine.id}")
    assert h.tg.alerts()[-1] == "This question was not sent to you."
    await h.callback(w.torino, f"question:decline:{not_mine.id}")
    assert h.tg.last_alert() == "This question was not sent to you."
    await h.callback(w.torino, "question:answer:999999")
    assert h.tg.last_alert() == "This question was not sent to you."
    await h.callback(w.torino, "question:answer:abc")
    assert h.tg.alerts()[-1] == "This button is no longer active."
    await h.callback(w.torino, "question:x:1:2")
    assert h.tg.last_alert() == "This button is no longer active."
    (q,) = await rows(h, Question)
    await h.callback(w.torino, f"my-question:resolve:{q.id}")
    assert h.tg.alerts()[-1] == "Only the person who asked this question can do that."
    await h.callback(w.torino, f"reply:to:{not_mine.id}")
    assert h.tg.alerts()[-1] == "This question was not sent to you."
    await h.callback(w.asker, "ask:send")
    assert h.tg.alerts()[-1] == "This button is no longer active."
    # a button sent before the data was typed (`qa:a:<id>`) is stale, not misread
    await h.callback(w.torino, f"qa:a:{not_mine.id}")
    assert h.tg.alerts()[-1] == "This button is no longer active."

    assert [(r.id, r.status) for r in await rows(h, Routing)] == before
    (q2,) = await rows(h, Question)
    assert q2.status == QuestionStatus.OPEN
    async with h.deps.db.transaction() as s:
        assert await s.scalar(select(func.count()).select_from(ExchangeMessage)) == 1 + len(
            routings
        )


async def test_blocked_recipient_is_marked_unreachable_others_still_get_it(
    harness: Harness,
) -> None:
    h = harness
    w = await world(h)
    h.tg.block(w.madrid.id)
    await ask(h, w.asker)
    # Madrid's only official blocked the bot: Torino, next in line, is tried instead.
    assert h.last_text(w.asker) == "Sent to officials in Nice, Potenza, and Torino."
    for user in (w.nice1, w.nice2, w.potenza, w.torino):
        assert len(question_calls(h, user)) == 1
    async with h.deps.db.transaction() as s:
        madrid = await s.scalar(select(Official).where(Official.tg_user_id == w.madrid.id))
        assert madrid.status == OfficialStatus.UNREACHABLE
        routing = await s.scalar(select(Routing).where(Routing.recipient_id == madrid.id))
        assert routing.status == RoutingStatus.UNREACHABLE and "blocked" in routing.last_error

    # The asker blocks the bot later: an answer is refused clearly and the asker marked.
    h.tg.block(w.asker.id)
    await h.press(w.potenza, "Answer")
    await h.send(w.potenza, "Here is what we do.")
    assert "can no longer receive messages" in h.last_text(w.potenza)
    async with h.deps.db.transaction() as s:
        asker = await s.scalar(select(Official).where(Official.tg_user_id == w.asker.id))
        assert asker.status == OfficialStatus.UNREACHABLE


async def test_limits_rate_length_and_unsupported_input(harness: Harness) -> None:
    h = harness
    w = await world(h)
    h.deps.settings.ask_rate_limit_per_hour = 2
    await h.command(w.asker, "/ask")
    await h.press(w.asker, "Flood risk")
    await h.send(w.asker, None, sticker=STICKER)
    assert "Please send your question as text" in h.last_text(w.asker)
    await h.send(w.asker, "x" * 5000)
    assert "too long (5000 characters)" in h.last_text(w.asker)
    await h.send(w.asker, "ok?")
    assert "too short" in h.last_text(w.asker)
    await h.send(w.asker, QUESTION)
    await h.press(w.asker, "Send")
    await ask(h, w.asker, text="A second question about sirens?")
    await h.command(w.asker, "/ask")
    assert "You can ask 2 questions per hour" in h.last_text(w.asker)
    h.deps.clock.advance(minutes=61)
    await h.command(w.asker, "/ask")
    assert "Choose the topic" in h.last_text(w.asker)

    # A 5,000-character answer is split at Telegram's limit; the buttons sit on the last part.
    await h.press(w.potenza, "Answer")
    before = len(h.tg.sent(w.asker.id))
    await h.send(w.potenza, "word " * 1000)
    parts = h.tg.sent(w.asker.id)[before:]
    assert len(parts) == 2 and all(len(p.text) <= 4096 for p in parts)
    assert parts[0].buttons == [] and parts[1].buttons
    # A sticker as an answer is refused clearly.
    await h.press(w.potenza, "Answer")
    await h.send(w.potenza, None, sticker=STICKER)
    assert "I can pass on text" in h.last_text(w.potenza)


async def test_reply_to_an_unrelated_bot_message_is_not_relayed(harness: Harness) -> None:
    h = harness
    w = await world(h)
    await h.command(w.madrid, "/inbox")
    await h.send(w.madrid, "hello?", reply_to=h.tg.last(w.madrid.id).message_id)
    assert "I did not understand" in h.last_text(w.madrid)
    assert h.texts(w.asker) == []


async def test_thread_survives_a_restart(harness: Harness, deps, tg) -> None:
    from bot.app import build_application
    from tests.harness.updates import Harness as H

    h = harness
    w = await world(h)
    await ask(h, w.asker)
    (q_msg,) = question_calls(h, w.nice2)
    await h.app.shutdown()
    app2 = build_application(deps, request=tg, background=False)
    await app2.initialize()
    try:
        h2 = H(app2, tg)
        await h2.send(w.nice2, "We rent generators.", reply_to=q_msg.message_id)
        assert "Luc Bernard, Nice" in h2.last_text(w.asker)
    finally:
        await app2.shutdown()
        await h.app.initialize()


async def test_other_delivery_failures_are_recorded_without_moving_on(harness: Harness) -> None:
    h = harness
    w = await world(h)
    h.tg.server_error(method="sendMessage", chat_id=w.madrid.id)
    await ask(h, w.asker)
    assert h.last_text(w.asker) == "Sent to officials in Nice and Potenza."
    assert question_calls(h, w.torino) == []
    async with h.deps.db.transaction() as s:
        madrid = await s.scalar(select(Official).where(Official.tg_user_id == w.madrid.id))
        assert madrid.status == OfficialStatus.ACTIVE
        routing = await s.scalar(select(Routing).where(Routing.recipient_id == madrid.id))
        assert routing.status == RoutingStatus.FAILED and routing.last_error


async def test_only_registered_officials_can_ask(harness: Harness) -> None:
    h = harness
    await world(h)
    stranger = TgUser(next_tg_id())
    await h.command(stranger, "/ask")
    assert "You need to finish registering first" in h.last_text(stranger)
    await h.command(stranger, "/inbox")
    assert "You need to finish registering first" in h.last_text(stranger)


async def test_two_officials_of_one_city_answer_at_once(harness: Harness) -> None:
    """Both answers reach the asker; the city counts the question answered once, with two
    answers, exactly as a rebuild from `routing` would (on PostgreSQL the two relay writes
    run at the same time, on two connections)."""
    h = harness
    w = await world(h)
    await ask(h, w.asker)
    (to_claire,) = question_calls(h, w.nice1)
    (to_luc,) = question_calls(h, w.nice2)
    await asyncio.gather(
        h.send(w.nice1, "Batteries in every siren.", reply_to=to_claire.message_id),
        h.send(w.nice2, "Solar panels on the masts.", reply_to=to_luc.message_id),
    )
    got = h.tg.texts(w.asker.id)
    assert any("Claire Martin, Nice" in t and "Batteries in every siren." in t for t in got)
    assert any("Luc Bernard, Nice" in t and "Solar panels on the masts." in t for t in got)
    assert (
        h.last_text(w.nice1)
        == h.last_text(w.nice2)
        == "Sent to Amina &lt;Ben&gt; &amp; Salah, Gabès."
    )
    (question,) = await rows(h, Question)
    assert question.status == QuestionStatus.ANSWERED and question.first_answer_at is not None
    answered = await rows(h, Routing, Routing.status == RoutingStatus.ANSWERED)
    assert len(answered) == 2 and {r.city_id for r in answered} == {answered[0].city_id}
    kept = await stats_kept_as_rebuilt(h)
    nice = [row for row in kept if row[1] == answered[0].city_id and row[0] == w.topic.id]
    assert [
        (asked, count_answered, answers) for _t, _c, asked, count_answered, _s, answers in nice
    ] == [(1, 1, 2)]


async def test_an_official_not_routed_to_answers_from_the_weekly_digest(harness: Harness) -> None:
    """Torino covers the topic but was not among the cities chosen: the digest lists the
    question with an Answer button; pressing it routes the question to her, and her answer
    reaches the asker like any other. Pressing again, or forged presses, change nothing."""
    h = harness
    w = await world(h)
    await ask(h, w.asker)
    assert h.last_text(w.asker) == "Sent to officials in Nice, Potenza, and Madrid."
    assert question_calls(h, w.torino) == []
    (question,) = await rows(h, Question)
    async with h.deps.db.transaction() as s:
        torino = (await s.scalars(select(Official).where(Official.tg_user_id == w.torino.id))).one()
        torino.digest_opt_in = True
    slot = digest.last_slot(
        h.deps.clock.now() + timedelta(days=7),
        "Europe/Rome",
        h.deps.settings.digest_weekday,
        h.deps.settings.digest_hour,
    )
    h.deps.clock.set(slot + timedelta(minutes=5))
    await digest.run_digests(h.deps, h.deps.clock.now(), digest_notice)
    await drain(h)
    notice = h.tg.sent(w.torino.id)[-1]
    assert "Weekly digest" in notice.text and "1. <b>Flood risk</b> — Gabès" in notice.text
    assert notice.buttons == [[("Answer 1", f"digest:answer:{question.id}")]]

    await h.press(w.torino, "Answer 1")
    (got,) = question_calls(h, w.torino)
    assert "Question on Flood risk" in got.text and QUESTION in got.text
    await h.press(w.torino, "Answer")
    await h.send(w.torino, "We test our sirens every month.")
    relayed = h.tg.sent(w.asker.id)[-1]
    assert (
        "<b>Giulia Bianchi, Torino</b> answered your question on Flood risk "
        f"(“{QUESTION}”)" in relayed.text
    )
    routing = (await rows(h, Routing, Routing.recipient_id == torino.id))[0]
    assert (
        routing.reason == "offered to answer from the weekly digest"
        and routing.answered_at is not None
    )
    assert len(await rows(h, Routing)) == 5  # the four routed, and hers
    await stats_kept_as_rebuilt(h)

    await h.callback(w.torino, f"digest:answer:{question.id}", notice.message_id)
    assert h.tg.alerts()[-1] == "You have already answered this question."
    await h.callback(w.asker, f"digest:answer:{question.id}", notice.message_id)
    assert h.tg.alerts()[-1] == "This is your own question."
    # the organiser covers another topic
    await h.callback(w.organiser, f"digest:answer:{question.id}", notice.message_id)
    assert h.tg.alerts()[-1] == "This question was not sent to you."
    await h.callback(w.torino, "digest:answer:999999", notice.message_id)
    assert h.tg.alerts()[-1] == "That question no longer exists."
    await h.callback(w.torino, "digest:answer:x'; DROP TABLE routing;--", notice.message_id)
    assert h.tg.alerts()[-1] == "This button is no longer active."
    await closing.resolve(h.deps, w.asker.id, question.id)
    await h.callback(w.madrid, f"digest:answer:{question.id}", notice.message_id)
    assert h.tg.alerts()[-1] == "This question is closed."
    assert len(await rows(h, Routing)) == 5


async def test_an_album_sent_after_answer_reaches_the_asker_whole(harness: Harness) -> None:
    """Answer, then an album (Telegram sends one message per item): every item is relayed,
    none is met with 'I did not understand'; the next message after the album is not."""
    h = harness
    w = await world(h)
    await ask(h, w.asker)
    await h.press(w.nice1, "Answer")
    items = [
        await h.send(
            w.nice1,
            None,
            photo=PHOTO,
            media_group_id="plan",
            caption="Our evacuation plan" if i == 0 else None,
        )
        for i in range(3)
    ]
    copies = h.tg.of("copyMessage", w.asker.id)
    assert [c.params["message_id"] for c in copies] == [m["message_id"] for m in items]
    assert "<b>Claire Martin, Nice</b> answered your question" in str(copies[0].text)
    assert "Our evacuation plan" in str(copies[0].text)
    assert copies[0].buttons and not any(c.params.get("caption") for c in copies[1:])
    assert not any(c.buttons for c in copies[1:])  # header and buttons once, on the first
    assert not any("did not understand" in t for t in h.texts(w.nice1))
    assert sum(t == "Sent to Amina &lt;Ben&gt; &amp; Salah, Gabès." for t in h.texts(w.nice1)) == 1
    log = await rows(h, ExchangeMessage, ExchangeMessage.from_official_id != None)  # noqa: E711
    relayed = [r for r in log if r.kind in (ExchangeKind.ANSWER, ExchangeKind.FOLLOW_UP)]
    assert [r.original_message_id for r in relayed] == [m["message_id"] for m in items]
    assert [r.kind for r in relayed] == [
        ExchangeKind.ANSWER,
        ExchangeKind.FOLLOW_UP,
        ExchangeKind.FOLLOW_UP,
    ]

    await h.send(w.nice1, "And one more thing")  # not part of the album: the answer is over
    assert h.last_text(w.nice1) == "I did not understand that. Send /help to see what you can do."
    assert len(h.tg.of("copyMessage", w.asker.id)) == 3
    assert not any("one more thing" in t for t in h.texts(w.asker))


async def test_an_album_sent_as_a_telegram_reply_goes_with_one_header(harness: Harness) -> None:
    """Replying to the question with an album: every item is relayed, the header, buttons and
    the sender's confirmation once; a second album in reply starts over with its own header."""
    h = harness
    w = await world(h)
    await ask(h, w.asker)
    (got,) = question_calls(h, w.potenza)
    for album in ("a1", "a2"):
        for _ in range(3):
            await h.send(
                w.potenza, None, photo=PHOTO, media_group_id=album, reply_to=got.message_id
            )
    copies = h.tg.of("copyMessage", w.asker.id)
    assert len(copies) == 6
    headed = [i for i, c in enumerate(copies) if c.params.get("caption")]
    assert headed == [0, 3]
    assert "<b>Marco Rossi, Potenza</b> answered your question" in str(copies[0].text)
    # The second album is the helper's follow-up: it names the asker's question too.
    assert (
        "<b>Marco Rossi, Potenza</b> wrote about your question on Flood risk "
        f"(“{QUESTION}”)" in str(copies[3].text)
    )
    assert [i for i, c in enumerate(copies) if c.buttons] == [0, 3]
    assert sum(t.startswith("Sent to Amina") for t in h.texts(w.potenza)) == 2
    log = await rows(h, ExchangeMessage, ExchangeMessage.from_official_id != None)  # noqa: E711
    assert sum(r.kind in (ExchangeKind.ANSWER, ExchangeKind.FOLLOW_UP) for r in log) == 6


async def test_thanks_go_only_to_helpers_still_in_the_exchange(harness: Harness) -> None:
    """Claire (Nice) and Marco (Potenza) answer; Claire then erases her data. Thanking the
    helpers reaches Marco alone, logs thanks to him alone, and says so; nothing goes to the
    placeholder chat id erasure left on her row (a negative id is a group's)."""
    h = harness
    w = await world(h)
    await ask(h, w.asker)
    await h.press(w.nice1, "Answer")
    await h.send(w.nice1, "We keep batteries in every siren and test them monthly.")
    (q,) = question_calls(h, w.potenza)
    await h.send(w.potenza, "We use solar panels on every siren mast.", reply_to=q.message_id)
    await h.command(w.nice1, "/deleteme")
    await h.press(w.nice1, "Yes, erase")
    h.tg.clear()

    await h.command(w.asker, "/questions")
    await h.press(w.asker, "Mark #")
    await h.press(w.asker, "Thank the helpers")

    assert [c.chat_id for c in h.tg.calls if c.chat_id is not None and c.chat_id < 0] == []
    assert "thanks you for your help" in h.last_text(w.potenza)
    assert h.last_text(w.asker) == "Your thanks went to 1 official."
    (marco,) = await rows(h, Official, Official.tg_user_id == w.potenza.id)
    thanks = await rows(
        h,
        ExchangeMessage,
        ExchangeMessage.kind == ExchangeKind.RESOLVED,
        ExchangeMessage.text == "thanks",
    )
    assert [t.to_official_id for t in thanks] == [marco.id]


async def test_an_edited_answer_is_not_relayed_again(harness: Harness) -> None:
    """Marco answers with a Telegram reply, then edits it to fix a typo. Telegram sends the
    edit as an `edited_message` (same message id, still a reply): it is not relayed or logged
    again, and Marco is told that edits are not passed on. The same edit of an answer sent
    through the Answer button gets the same note (here in French, Claire's language)."""
    h = harness
    w = await world(h)
    await ask(h, w.asker)
    (q,) = question_calls(h, w.potenza)
    msg = await h.send(w.potenza, "We use solar pannels.", reply_to=q.message_id)
    before = len(h.texts(w.asker))
    await h.process({"edited_message": dict(msg, text="We use solar panels.", edit_date=1)})

    assert len(h.texts(w.asker)) == before
    assert h.last_text(w.potenza).startswith("✏️ I do not act on edited messages")
    logged = await rows(
        h, ExchangeMessage, ExchangeMessage.original_message_id == msg["message_id"]
    )
    assert [m.kind for m in logged] == [ExchangeKind.ANSWER]

    async with h.deps.db.transaction() as s:
        claire = await s.scalar(select(Official).where(Official.tg_user_id == w.nice1.id))
        assert claire is not None
        claire.locale = "fr"
    await h.press(w.nice1, "Answer")  # delivered in English, before she changed language
    sent = await h.send(w.nice1, "Nous testons les batteries chaque mois.")
    before = len(h.texts(w.asker))
    await h.process({"edited_message": dict(sent, text="Chaque semaine.", edit_date=1)})
    assert len(h.texts(w.asker)) == before
    assert h.last_text(w.nice1).startswith("✏️ Je ne tiens pas compte des messages modifiés")


async def test_an_edit_during_a_dialog_is_not_taken_as_input_a_new_message_is(
    harness: Harness,
) -> None:
    """The bot asks Telegram for edits only to say they are not acted on. An edit while
    writing a question (of the draft, or of an old message) leaves the draft as it was; the
    correction sent again as a new message replaces it."""
    from bot.app import ALLOWED_UPDATES

    assert "edited_message" in ALLOWED_UPDATES  # else Telegram never sends them
    h = harness
    w = await world(h)
    await h.command(w.asker, "/ask")
    await h.press(w.asker, "Flood risk")
    draft = await h.send(w.asker, "How do you keep flood sirens workng?")
    await h.process({"edited_message": dict(draft, text="Flood risk", edit_date=1)})
    assert h.last_text(w.asker).startswith("✏️ I do not act on edited messages")
    await h.send(w.asker, QUESTION)
    assert QUESTION in h.last_text(w.asker)  # the preview, corrected
    await h.press(w.asker, "Send")
    (question,) = await rows(h, Question)
    assert question.text == QUESTION


async def test_a_command_edited_after_it_was_sent_is_not_run_again(harness: Harness) -> None:
    h = harness
    w = await world(h)
    old = h.message_dict(w.asker, "/help")
    old["edit_date"] = old["date"] + 60
    old["text"] = "/deleteme"
    old["entities"] = [{"type": "bot_command", "offset": 0, "length": 9}]
    await h.process({"edited_message": old})
    assert h.last_text(w.asker).startswith("✏️ I do not act on edited messages")
    assert not any(
        "Yes, erase" == t for c in h.tg.sent(w.asker.id) for r in c.buttons for t, _ in r
    )
