"""The library across languages, with the fake translator: an exchange written in Italian and
French joins the library, the translation job indexes it in every language, and an Arabic
/search finds it; sharing never waits for the translator; with the translator down the entry
is still found in its own languages, and once the translator is back the job catches up.
SQLite and PostgreSQL."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import scheduled_jobs
from bot.db.models import LibraryText, Role
from bot.services import library_translation
from tests.factories import make_city, make_official, make_topic, next_tg_id
from tests.harness.fake_translator import FakeTranslator
from tests.harness.updates import Harness, TgUser, tr

QUESTION_IT = "Come mantenete in funzione le sirene d'allarme durante i blackout elettrici?"
ANSWER_FR = "Chaque sirène a sa propre batterie de secours, testée le premier lundi du mois."
QUESTION_AR = "كيف تحافظون على عمل صفارات الإنذار أثناء انقطاع الكهرباء؟"
ANSWER_AR = "لكل صفارة بطارية احتياطية خاصة بها، تختبر في أول اثنين من كل شهر."
SEARCH_AR = "/search صفارات الإنذار انقطاع الكهرباء"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"translation_backend": "libretranslate", "translation_timeout_seconds": 1.0}


def plain(text: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", text)).replace("\u2068", "").replace("\u2069", "")


class World:
    def __init__(self, **people: TgUser) -> None:
        self.__dict__.update(people)


async def world(h: Harness, translator: FakeTranslator) -> Any:
    translator.phrases.update({(QUESTION_IT, "ar"): QUESTION_AR, (ANSWER_FR, "ar"): ANSWER_AR})
    db = h.deps.db
    potenza = await make_city(db, "Potenza", "IT", "Europe/Rome", ["it"])
    nice = await make_city(db, "Nice", "FR", "Europe/Paris", ["fr"])
    rosso = await make_city(db, "Rosso", "MR", "Africa/Nouakchott", ["ar", "fr"])
    flood = await make_topic(
        db, "flood-risk", names={"en": "Flood risk", "it": "Alluvioni", "fr": "Inondations"}
    )

    async def one(city: Any, name: str, locale: str, topics: list[Any], **kw: Any) -> TgUser:
        tg_id = next_tg_id()
        await make_official(
            db,
            city,
            tg_id=tg_id,
            name=name,
            topics=topics,
            locale=locale,
            languages=(locale,),
            **kw,
        )
        return TgUser(tg_id, name.split()[0], language_code=locale)

    return World(
        marco=await one(potenza, "Marco Rossi", "it", [flood]),
        claire=await one(nice, "Claire Martin", "fr", [flood]),
        mariem=await one(rosso, "Mariem Sidi", "ar", []),
        org=await one(potenza, "Org Aniser", "en", [], role=Role.ORGANISER),
    )


async def shared(h: Harness, w: Any) -> None:
    """Marco asks in Italian, Claire answers in French, Marco adds it to the library."""
    await h.command(w.marco, "/ask")
    await h.press(w.marco, "Alluvioni")
    await h.send(w.marco, QUESTION_IT)
    await h.press(w.marco, tr("it", "Send"))
    await h.press(w.claire, tr("fr", "Answer"))
    await h.send(w.claire, ANSWER_FR)
    await h.press(w.marco, tr("it", "Mark resolved"))
    await h.press(w.marco, tr("it", "Add to the library"))
    assert plain(h.last_text(w.marco)) == tr(
        "it", "Added to the library. Officials in every city can now find it with /search."
    )


async def languages(h: Harness) -> list[str]:
    async with h.deps.db.read() as s:
        return sorted((await s.scalars(select(LibraryText.language))).all())


async def test_an_arabic_search_finds_an_italian_exchange_once_translated(
    harness: Harness, translator: FakeTranslator
) -> None:
    h = harness
    w = await world(h, translator)
    await h.command(w.mariem, SEARCH_AR)
    asked = len(translator.translations())
    await shared(h, w)
    # Sharing asked the translator nothing: the entry is indexed from what routing already
    # translated (the question into French, the answer into Italian).
    assert len(translator.translations()) == asked + 2
    assert await languages(h) == ["fr", "it"]
    await h.command(w.mariem, SEARCH_AR)
    assert plain(h.last_text(w.mariem)).startswith("لا شيء في المكتبة يطابق")

    assert await library_translation.translate_pending(h.deps) == 1
    assert await languages(h) == ["ar", "en", "es", "fr", "it"]
    await h.command(w.mariem, SEARCH_AR)
    found = plain(h.last_text(w.mariem))
    assert QUESTION_IT in found and "Potenza" in found
    # Each text was translated once per language: the job asks only for what is missing.
    assert sorted((r["q"][:5], r["target"]) for r in translator.translations()) == sorted(
        [(QUESTION_IT[:5], t) for t in ("ar", "en", "es", "fr")]
        + [(ANSWER_FR[:5], t) for t in ("ar", "en", "es", "it")]
    )
    assert await library_translation.translate_pending(h.deps) == 0  # nothing left to do
    assert len(translator.translations()) == 8

    # The same words in their own languages are found as before.
    await h.command(w.claire, "/search sirène batterie")
    assert QUESTION_IT in plain(h.last_text(w.claire))

    # An organiser gives it a title: until the title is translated, the entry is in its own
    # language only (whole or not at all); the job's next run, looking only at entries
    # written lately, puts it back in every language.
    h.deps.clock.advance(minutes=5)
    await h.command(w.org, "/search sirene blackout")
    await h.press(w.org, "Read 1")
    await h.press(w.org, "Edit title")
    await h.send(w.org, "Sirens on battery power")
    assert await languages(h) == ["it"]
    await h.command(w.claire, "/search sirène batterie")
    assert "Sirens on battery power" in plain(h.last_text(w.claire))
    h.deps.clock.advance(minutes=1)
    assert await library_translation.translate_pending(h.deps) == 1
    assert await languages(h) == ["ar", "en", "es", "fr", "it"]
    await h.command(w.mariem, SEARCH_AR)
    assert "Sirens on battery power" in plain(h.last_text(w.mariem))


@pytest.mark.parametrize("trouble", ["down", "slow"])
async def test_with_the_translator_down_the_entry_is_found_in_its_languages_then_catches_up(
    harness: Harness, translator: FakeTranslator, trouble: str
) -> None:
    h = harness
    w = await world(h, translator)
    if trouble == "down":
        await translator.stop()
    else:
        translator.delay = 3.0  # over TRANSLATION_TIMEOUT_SECONDS (1 s)
    await shared(h, w)
    assert await languages(h) == ["it"]  # nothing was translated: its own language only
    await h.command(w.claire, "/search sirene blackout")
    assert QUESTION_IT in plain(h.last_text(w.claire))

    assert await library_translation.translate_pending(h.deps) == 0
    assert await languages(h) == ["it"]
    await h.command(w.mariem, SEARCH_AR)
    assert plain(h.last_text(w.mariem)).startswith("لا شيء في المكتبة يطابق")

    # Back up: once the translator's rest and the entry's retry delay are over, it is done.
    if trouble == "down":
        await translator.start()
    translator.delay = 0.0
    h.deps.clock.advance(minutes=11)
    jobs = {job.name: job for job in scheduled_jobs(h.app)}
    await jobs["library-translation"].run()  # as the scheduler runs it
    assert await languages(h) == ["ar", "en", "es", "fr", "it"]
    await h.command(w.mariem, SEARCH_AR)
    assert QUESTION_IT in plain(h.last_text(w.mariem))
