"""End to end, through the real process with SEMANTIC_SEARCH on and no translator: an Italian
question answered in French joins the library, then an Arabic /search finds it, and a Spanish
question is offered it before it is sent. SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from bot.db.engine import Database
from tests.factories import make_city, make_official, make_topic
from tests.harness.fake_server import FakeTelegram
from tests.harness.process import BotProcesses
from tests.harness.updates import TgUser, tr

pytestmark = pytest.mark.e2e

POTENZA = TgUser(640001, "Marco", "it")
NICE = TgUser(640002, "Claire", "fr")
ROSSO = TgUser(640003, "Mariem", "ar")
MALAGA = TgUser(640004, "Pablo", "es")
WAIT = 30.0

QUESTION = "Come mantenete in funzione le sirene di allarme durante i blackout elettrici?"
ANSWER = "Chaque sirène a sa propre batterie de secours, testée le premier lundi du mois."
SEARCH = "/search صفارات الإنذار أثناء انقطاع الكهرباء"  # "alarm sirens during power cuts"
QUESTION_ES = "¿Cómo mantienen las sirenas funcionando durante los apagones?"


async def four_cities(url: str) -> None:
    db = Database(url)
    try:
        flood = await make_topic(
            db,
            "flood-risk",
            names={"en": "Flood risk", "it": "Alluvioni", "fr": "Crues", "es": "Inundaciones"},
        )
        for user, city, country, zone, name in (
            (POTENZA, "Potenza", "IT", "Europe/Rome", "Marco Rossi"),
            (NICE, "Nice", "FR", "Europe/Paris", "Claire Martin"),
            (ROSSO, "Rosso", "MR", "Africa/Nouakchott", "Mariem Sidi"),
            (MALAGA, "Málaga", "ES", "Europe/Madrid", "Pablo Ruiz"),
        ):
            locale = user.language_code or "en"
            place = await make_city(db, city, country, zone, [locale])
            await make_official(
                db,
                place,
                tg_id=user.id,
                name=name,
                topics=[flood] if user in (NICE,) else [],
                locale=locale,
                languages=(locale,),
            )
    finally:
        await db.dispose()


async def test_an_arabic_search_and_a_spanish_question_find_an_italian_exchange(
    fake: FakeTelegram, bots: BotProcesses, e2e_db_url: str
) -> None:
    code, _out, err = await bots.cli("migrate")
    assert code == 0, err
    await four_cities(e2e_db_url)
    await bots.start(SEMANTIC_SEARCH="true")
    for user in (POTENZA, NICE, ROSSO, MALAGA):
        fake.add_chat(user)

    # Marco asks in Italian, Claire answers in French, Marco shares it with the library.
    mark = await fake.command(POTENZA, "/ask")
    await fake.wait_for(POTENZA, lambda m: bool(m.buttons), since=mark, within=WAIT)
    mark = await fake.press(POTENZA, "Alluvioni")
    await fake.wait_for(POTENZA, contains="/cancel", since=mark, within=WAIT)
    mark = await fake.send(POTENZA, QUESTION)
    await fake.wait_for(POTENZA, contains=QUESTION, since=mark, within=WAIT)
    await fake.press(POTENZA, tr("it", "Send"))
    await fake.wait_for(NICE, contains=QUESTION, within=WAIT)
    mark = await fake.press(NICE, tr("fr", "Answer"))
    await fake.wait_for(NICE, contains="/cancel", since=mark, within=WAIT)
    mark = await fake.send(NICE, ANSWER)
    await fake.wait_for(POTENZA, contains=ANSWER, since=mark, within=WAIT)
    mark = await fake.press(POTENZA, tr("it", "Mark resolved"))
    await fake.wait_for(POTENZA, lambda m: bool(m.buttons), since=mark, within=WAIT)
    mark = await fake.press(POTENZA, tr("it", "Add to the library"))
    await fake.wait_for(POTENZA, contains="/search", since=mark, within=WAIT)

    # Mariem searches in Arabic: no word in common, no translator; found by meaning.
    mark = await fake.command(ROSSO, SEARCH)
    found = await fake.wait_for(ROSSO, contains="Potenza", since=mark, within=WAIT)
    assert QUESTION in found.body

    # Pablo asks in Spanish: offered the Italian exchange before his question is sent.
    mark = await fake.command(MALAGA, "/ask")
    await fake.wait_for(MALAGA, lambda m: bool(m.buttons), since=mark, within=WAIT)
    mark = await fake.press(MALAGA, "Inundaciones")
    await fake.wait_for(MALAGA, contains="/cancel", since=mark, within=WAIT)
    mark = await fake.send(MALAGA, QUESTION_ES)
    offer = await fake.wait_for(MALAGA, contains=QUESTION, since=mark, within=WAIT)
    assert tr("es", "Ask anyway") in str(offer.buttons)
