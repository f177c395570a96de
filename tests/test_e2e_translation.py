"""End to end, through the real process and the fake LibreTranslate server: an Arabic, an
Italian and a French official each read the others' messages in their own language, the
original below; then the translator stops, and nothing is lost or held back: the next
messages go out as written, with a note, and the exchange log says so."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.db.engine import Database
from bot.db.models import ExchangeMessage
from tests.factories import make_city, make_official, make_topic
from tests.harness.fake_server import FakeTelegram
from tests.harness.fake_translator import FakeTranslator
from tests.harness.process import BotProcesses
from tests.harness.updates import TgUser, tr

pytestmark = pytest.mark.e2e

ROSSO = TgUser(630001, "Mariem", "ar")
POTENZA = TgUser(630002, "Marco", "it")
NICE = TgUser(630003, "Claire", "fr")
WAIT = 20.0

QUESTION = "كيف تحافظون على عمل صفارات الإنذار أثناء انقطاع الكهرباء؟"
ANSWER_IT = "Ogni sirena ha una batteria di riserva, provata ogni mese."
ANSWER_FR = "Nous avons des sirènes solaires, vérifiées chaque semaine."
FOLLOW_UP = "شكرا، من يقوم بصيانة البطاريات؟"
AFTER_STOP = "Le batterie le cambia la protezione civile regionale."
PHRASES = {
    (QUESTION, "it"): "Come mantenete in funzione le sirene durante le interruzioni di corrente?",
    (QUESTION, "fr"): "Comment gardez-vous les sirènes en marche pendant les coupures de courant ?",
    (ANSWER_IT, "ar"): "لكل صفارة بطارية احتياطية تُختبر كل شهر.",
    (ANSWER_FR, "ar"): "لدينا صفارات تعمل بالطاقة الشمسية، تُفحص كل أسبوع.",
}


@pytest.fixture
async def libre() -> AsyncIterator[FakeTranslator]:
    """The fake LibreTranslate server the bot process talks to, with a phrase book."""
    async with FakeTranslator(phrases=PHRASES) as server:
        yield server


async def three_cities(url: str) -> None:
    db = Database(url)
    try:
        flood = await make_topic(
            db,
            "flood-risk",
            names={"en": "Flood risk", "ar": "خطر الفيضانات", "it": "Alluvioni", "fr": "Crues"},
        )
        for user, city, country, zone, name in (
            (ROSSO, "Rosso", "MR", "Africa/Nouakchott", "Mariem Sidi"),
            (POTENZA, "Potenza", "IT", "Europe/Rome", "Marco Rossi"),
            (NICE, "Nice", "FR", "Europe/Paris", "Claire Martin"),
        ):
            locale = user.language_code or "en"
            place = await make_city(db, city, country, zone, [locale])
            await make_official(
                db,
                place,
                tg_id=user.id,
                name=name,
                topics=[flood],
                locale=locale,
                languages=(locale,),
            )
    finally:
        await db.dispose()


async def sent_log(url: str) -> list[ExchangeMessage]:
    db = Database(url)
    try:
        async with db.read() as s:
            return list(await s.scalars(select(ExchangeMessage).order_by(ExchangeMessage.id)))
    finally:
        await db.dispose()


async def test_arabic_italian_and_french_officials_read_each_other_and_lose_nothing(
    fake: FakeTelegram, bots: BotProcesses, e2e_db_url: str, libre: FakeTranslator
) -> None:
    translator = libre
    code, _out, err = await bots.cli("migrate")
    assert code == 0, err
    await three_cities(e2e_db_url)
    await bots.start(
        TRANSLATION_BACKEND="libretranslate",
        TRANSLATION_URL=translator.url,
        TRANSLATION_TIMEOUT_SECONDS="3",
    )
    for user in (ROSSO, POTENZA, NICE):
        fake.add_chat(user)

    # Mariem asks in Arabic.
    mark = await fake.command(ROSSO, "/ask")
    await fake.wait_for(ROSSO, lambda m: bool(m.buttons), since=mark, within=WAIT)
    mark = await fake.press(ROSSO, "خطر الفيضانات")
    await fake.wait_for(ROSSO, contains="/cancel", since=mark, within=WAIT)
    mark = await fake.send(ROSSO, QUESTION)
    await fake.wait_for(ROSSO, contains=QUESTION, since=mark, within=WAIT)
    mark = await fake.press(ROSSO, tr("ar", "Send"))

    # Marco reads it in Italian, Claire in French; the Arabic original below, folded.
    for user, lang, label in (
        (POTENZA, "it", "Traduzione automatica"),
        (NICE, "fr", "Traduction automatique"),
    ):
        got = await fake.wait_for(user, contains=PHRASES[(QUESTION, lang)], within=WAIT)
        assert label in got.body and "Mariem Sidi" in got.body
        assert got.body.index(PHRASES[(QUESTION, lang)]) < got.body.index(QUESTION)
        assert f"<blockquote expandable>{QUESTION}</blockquote>" in got.body

    # Each answers in their language; Mariem reads both in Arabic, each original below.
    for user, words in ((POTENZA, ANSWER_IT), (NICE, ANSWER_FR)):
        mark = await fake.press(user, tr(user.language_code or "en", "Answer"))
        await fake.wait_for(user, contains="/cancel", since=mark, within=WAIT)
        mark = await fake.send(user, words)
        got = await fake.wait_for(ROSSO, contains=PHRASES[(words, "ar")], since=mark, within=WAIT)
        assert "ترجمة آلية" in got.body and words in got.body
        await fake.wait_for(user, contains="Mariem Sidi", since=mark, within=WAIT)
    italian_answer = next(m for m in fake.sent(ROSSO.id) if PHRASES[(ANSWER_IT, "ar")] in m.body)

    # A Telegram reply to Marco's answer: translated into Italian.
    mark = await fake.send(ROSSO, FOLLOW_UP, reply_to_message=italian_answer.raw)
    got = await fake.wait_for(POTENZA, contains=FOLLOW_UP, since=mark, within=WAIT)
    assert f"[it] {FOLLOW_UP}" in got.body

    # The translator stops halfway. Marco replies: Mariem gets his words as written, with a
    # note, at once; nothing waits for the translator, nothing is lost.
    await translator.stop()
    mark = await fake.send(POTENZA, AFTER_STOP, reply_to_message=got.raw)
    got = await fake.wait_for(ROSSO, contains=AFTER_STOP, since=mark, within=WAIT)
    assert "⚠️" in got.body and "[ar]" not in got.body
    await fake.wait_for(POTENZA, contains="Mariem Sidi", since=mark, within=WAIT)

    log = await sent_log(e2e_db_url)
    relayed = [m for m in log if m.kind != "question"]
    assert all(m.delivered_message_id is not None for m in relayed)
    by_text = {m.text: m.translation for m in relayed if m.text}
    assert by_text[ANSWER_IT] == {
        "status": "translated",
        "from": "it",
        "to": "ar",
        "text": PHRASES[(ANSWER_IT, "ar")],
    }
    assert by_text[AFTER_STOP] is not None and by_text[AFTER_STOP]["status"] == "unavailable"
    routed = {m.to_official_id: m.translation for m in log if m.kind == "routing"}
    assert sorted(t["to"] for t in routed.values() if t) == ["fr", "it"]
    # Each message reached each reader once.
    for user, words in (
        (POTENZA, QUESTION),
        (NICE, QUESTION),
        (ROSSO, ANSWER_IT),
        (ROSSO, ANSWER_FR),
        (POTENZA, FOLLOW_UP),
        (ROSSO, AFTER_STOP),
    ):
        assert sum(words in m.body for m in fake.sent(user.id)) == 1, (user, words)
    logs = bots.output()
    assert "Traceback" not in logs and "level=ERROR" not in logs, logs
    assert "translation unavailable backend=libretranslate" in logs
