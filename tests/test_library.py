"""The library of answered exchanges, as people use it: the asker adds a resolved exchange,
/search finds it (in English, French without accents, Arabic under attached prefixes),
a new close question is offered it before it is sent and "This answers it" closes it,
"Ask anyway" sends it as before, a person withdraws their words, erasure leaves only "an
official of <city>", and organisers pin, retitle and remove entries. SQLite and PostgreSQL."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from bot.db import library_search as library_index
from bot.db.models import (
    Base,
    LibraryEntry,
    LibraryPart,
    LibraryText,
    LibraryUse,
    Question,
    QuestionStatus,
    Role,
    Routing,
)
from bot.services import reports
from handlers.library_buttons import LibPin, LibShare
from tests.factories import make_city, make_official, make_topic, next_tg_id
from tests.harness.updates import Harness, TgUser, tr

SIRENS = "How do you keep flood sirens working during power cuts?"
BATTERY = "Every siren has its own battery pack, tested on the first Monday of each month."
ECOLES = "Comment évacuez-vous les écoles quand une inondation arrive la nuit ?"
ECOLES_ANSWER = "Nous avons un plan par école, avec un car réservé et un exercice chaque année."
ARABIC = "كيف تحذرون السكان من الفيضانات قبل وصول المياه؟"
ARABIC_ANSWER = "نرسل رسائل قصيرة ونستعمل مكبرات الصوت في المساجد."


def plain(text: str) -> str:
    """What the person reads: tags and direction marks taken off."""
    return re.sub(r"<[^>]+>", "", text).replace("\u2068", "").replace("\u2069", "")


def last(h: Harness, user: TgUser) -> str:
    return plain(h.last_text(user))


async def person(h: Harness, city: Any, name: str, topics: Any, **kw: Any) -> TgUser:
    tg_id = next_tg_id()
    await make_official(h.deps.db, city, tg_id=tg_id, name=name, topics=topics, **kw)
    return TgUser(tg_id, name.split()[0], kw.get("locale", "en"))


class World:
    def __init__(self, **people: TgUser) -> None:
        self.__dict__.update(people)


async def world(h: Harness) -> Any:
    db = h.deps.db
    gabes = await make_city(db, "Gabès")
    nice = await make_city(db, "Nice", "FR", "Europe/Paris", ["fr"])
    potenza = await make_city(db, "Potenza", "IT", "Europe/Rome", ["it", "en"])
    flood = await make_topic(db, "flood-risk", names={"en": "Flood risk", "fr": "Inondations"})
    return World(
        amina=await person(h, gabes, "Amina Ben Salah", [flood]),
        karim=await person(h, gabes, "Karim Haddad", [flood]),
        claire=await person(h, nice, "Claire Martin", [flood]),
        luc=await person(h, nice, "Luc Bernard", [flood], locale="fr"),
        marco=await person(h, potenza, "Marco Rossi", [flood]),
        org=await person(h, potenza, "Org Aniser", [flood], role=Role.ORGANISER),
    )


async def ask(h: Harness, user: TgUser, text: str) -> None:
    await h.command(user, "/ask")
    await h.press(user, "Inondations" if user.language_code == "fr" else "Flood risk")
    await h.send(user, text)


async def answered_and_shared(
    h: Harness, asker: TgUser, question: str, answerer: TgUser, answer: str
) -> None:
    """Asked, answered, resolved, and added to the library by the asker."""
    loc = asker.language_code
    await ask(h, asker, question)
    await h.press(asker, tr(loc, "Send"))
    await h.press(answerer, "Answer")
    await h.send(answerer, answer)
    await h.press(asker, tr(loc, "Mark resolved"))
    await h.press(asker, tr(loc, "Add to the library"))
    assert last(h, asker) == tr(
        loc, "Added to the library. Officials in every city can now find it with /search."
    )


async def rows(h: Harness, model: Any, *where: Any) -> list[Any]:
    async with h.deps.db.read() as s:
        return list((await s.scalars(select(model).where(*where).order_by(model.id))).all())


async def test_resolved_exchange_joins_the_library_and_search_finds_it(harness: Harness) -> None:
    h = harness
    w = await world(h)
    await answered_and_shared(h, w.amina, SIRENS, w.claire, BATTERY)
    assert any("May this exchange join the network's library?" in t for t in h.texts(w.amina))
    # Claire's words are in it: she is told, with a button to withdraw them.
    told = last(h, w.claire)
    assert "is now in the network's library, with your words in it" in told
    (entry,) = await rows(h, LibraryEntry)
    assert entry.language == "en"
    assert [p.kind for p in await rows(h, LibraryPart)] == ["question", "answer"]

    await h.command(w.marco, "/search siren power")
    found = last(h, w.marco)
    assert found.startswith("Found in the library")
    assert SIRENS in found and "Every siren has its own battery pack" in found
    assert "Gabès · " in found
    await h.press(w.marco, "Read 1")
    whole = last(h, w.marco)
    assert "Amina Ben Salah, Gabès" in whole and "Claire Martin, Nice" in whole
    assert BATTERY in whole

    # Kept private: nothing joins.
    await ask(h, w.amina, "Which sandbags do you stock for river floods?")
    await h.press(w.amina, "Send")
    await h.press(w.marco, "Answer")
    await h.send(w.marco, "Jute sandbags, two thousand per district.")
    await h.press(w.amina, "Mark resolved")
    await h.press(w.amina, "Keep it private")
    assert last(h, w.amina) == "Kept private: it will not appear in the library."
    assert len(await rows(h, LibraryEntry)) == 1
    await h.command(w.marco, "/search sandbags")
    assert last(h, w.marco).startswith("Nothing in the library matches")


async def test_search_in_french_without_accents_and_arabic_under_prefixes(
    harness: Harness,
) -> None:
    h = harness
    w = await world(h)
    await answered_and_shared(h, w.luc, ECOLES, w.amina, ECOLES_ANSWER)
    await answered_and_shared(h, w.karim, ARABIC, w.claire, ARABIC_ANSWER)
    languages = sorted(e.language for e in await rows(h, LibraryEntry))
    assert languages == ["ar", "fr"]

    await h.command(w.marco, "/search evacuer ecoles inondation")
    assert ECOLES in last(h, w.marco) and ARABIC not in last(h, w.marco)
    # "والفيضانات" (and the floods): the word is found under its attached prefixes.
    await h.command(w.marco, "/search والفيضانات")
    assert ARABIC in last(h, w.marco) and ECOLES not in last(h, w.marco)
    await h.command(w.marco, "/search السكان")
    assert ARABIC in last(h, w.marco)

    # Browsing: /search alone lists the topics with entries, then the topic's entries.
    await h.command(w.marco, "/search")
    assert last(h, w.marco).startswith("The library")
    await h.press(w.marco, "Flood risk (2)")
    page = last(h, w.marco)
    assert ECOLES in page and ARABIC in page


async def test_asked_before_offers_close_entries_and_this_answers_it_closes(
    harness: Harness,
) -> None:
    h = harness
    w = await world(h)
    await answered_and_shared(h, w.amina, SIRENS, w.claire, BATTERY)
    (entry,) = await rows(h, LibraryEntry)
    before = await reports.stats(h.deps, None, None)

    await ask(h, w.karim, "How do you keep your sirens working when the power is cut?")
    offer = last(h, w.karim)
    assert offer.startswith("Asked before?") and SIRENS in offer
    await h.press(w.karim, "This answers it (1)")
    assert last(h, w.karim).startswith("Glad the library answered it.")
    karims = await rows(h, Question, Question.text.contains("when the power is cut"))
    (question,) = karims
    assert question.status == QuestionStatus.RESOLVED
    assert await rows(h, Routing, Routing.question_id == question.id) == []
    (use,) = await rows(h, LibraryUse)
    assert (use.entry_id, use.question_id) == (entry.id, question.id)
    h.deps.clock.advance(minutes=1)
    after = await reports.stats(h.deps, None, None)
    assert after.from_library == before.from_library + 1 == 1
    # Counted as answered (by the library), not as a question left unanswered.
    assert (after.questions, after.answered) == (2, 2)
    await h.command(w.org, "/stats")
    await h.press(w.org, "Everything")
    shown = "\n".join(plain(t) for t in h.texts(w.org))
    assert "Answered: 2 (100%)" in shown
    assert "Answered from the library before being sent: 1" in shown
    # Exports say so too: one row, the question closed by the library.
    kinds = [
        row[reports.COLUMNS.index("kind")]
        async for part in reports.export_rows(h.deps, reports.ExportFilter())
        for row in part
        if row[reports.COLUMNS.index("question_id")] == question.id
    ]
    assert kinds == ["from_library"]

    # Ask anyway: the preview, then sent as before.
    await ask(h, w.karim, "Do your sirens keep working during long power cuts at night?")
    assert last(h, w.karim).startswith("Asked before?")
    await h.press(w.karim, "Ask anyway")
    await h.press(w.karim, "Send")
    assert last(h, w.karim).startswith("Sent to officials in")

    # Nothing close: straight to the preview.
    await ask(h, w.karim, "Which heat-health warning thresholds do you use in summer?")
    assert not any(t.startswith("Asked before?") for t in [plain(t) for t in h.texts(w.karim)[-3:]])


async def test_withdrawing_words_and_erasure(harness: Harness) -> None:
    h = harness
    w = await world(h)
    await answered_and_shared(h, w.amina, SIRENS, w.claire, BATTERY)
    await h.press(w.claire, "Withdraw my words")
    assert last(h, w.claire) == ("Your words have been taken out of this exchange in the library.")
    await h.command(w.marco, "/search battery pack monthly")
    assert last(h, w.marco).startswith("Nothing in the library matches")
    await h.command(w.marco, "/search sirens power cuts")
    await h.press(w.marco, "Read 1")
    assert "(words withdrawn by their author)" in last(h, w.marco)

    # Marco answers another; he erases his data: only "an official of Potenza" is left.
    marker = "Zqxv-pumps: we rent diesel pumps from the regional depot."
    await answered_and_shared(h, w.amina, "How do you drain flooded underpasses?", w.marco, marker)
    await h.command(w.marco, "/deleteme")
    await h.press(w.marco, "Yes, erase my data")
    await h.command(w.claire, "/search drain flooded underpasses")
    await h.press(w.claire, "Read 1")
    whole = last(h, w.claire)
    assert "an official of Potenza" in whole and "Marco" not in whole and "Zqxv" not in whole
    async with h.deps.db.read() as s:
        for table in Base.metadata.sorted_tables:
            for row in (await s.execute(select(table))).mappings():
                for column, value in row.items():
                    assert not (isinstance(value, str) and "zqxv" in value.lower()), (
                        f"{table.name}.{column}"
                    )
    # The asker withdraws her question: the whole entry leaves the library.
    await h.press(w.claire, "Read 1")
    entries = len(await rows(h, LibraryEntry))
    await h.command(w.amina, "/search drain flooded underpasses")
    await h.press(w.amina, "Read 1")
    await h.press(w.amina, "Withdraw my words")
    assert last(h, w.amina) == "Your question and its exchange have left the library."
    assert len(await rows(h, LibraryEntry)) == entries - 1
    assert len(await rows(h, LibraryText)) == entries - 1


async def test_organisers_pin_retitle_and_remove(harness: Harness) -> None:
    h = harness
    w = await world(h)
    await answered_and_shared(h, w.amina, SIRENS, w.claire, BATTERY)
    (entry,) = await rows(h, LibraryEntry)
    # An official may read but not organise; a forged Pin button is refused.
    await h.command(w.marco, "/search sirens")
    await h.press(w.marco, "Read 1")
    assert not any("Pin" in (t or "") for row in h.tg.last(w.marco.id).buttons for t, _d in row)
    await h.callback(w.marco, LibPin(entry.id).encode())
    assert h.tg.last_alert() == "You are not allowed to do that."

    await h.command(w.org, "/search sirens")
    await h.press(w.org, "Read 1")
    await h.press(w.org, "Edit title")
    await h.send(w.org, "Sirens on battery power")
    assert "Title changed." in plain(h.texts(w.org)[-2])
    await h.press(w.org, "Pin")
    assert last(h, w.org).startswith("📌")
    await h.command(w.marco, "/search battery power")
    assert "📌" in last(h, w.marco) and "Sirens on battery power" in last(h, w.marco)
    await h.press(w.org, "Remove")
    assert last(h, w.org) == "The exchange was removed from the library."
    await h.command(w.marco, "/search sirens")
    assert last(h, w.marco).startswith("Nothing in the library matches")
    assert await rows(h, LibraryText) == []


async def test_the_card_shows_the_answer_rated_useful(harness: Harness) -> None:
    h = harness
    w = await world(h)
    await ask(h, w.amina, SIRENS)
    await h.press(w.amina, "Send")
    await h.press(w.claire, "Answer")
    await h.send(w.claire, "We keep a diesel generator at the town hall.")
    await h.press(w.marco, "Answer")
    await h.send(w.marco, BATTERY)
    await h.press(w.amina, "👍 Useful")  # under Marco's answer, the newest
    await h.press(w.amina, "Mark resolved")
    await h.press(w.amina, "Add to the library")
    await h.command(w.luc, "/search sirens power")
    card = last(h, w.luc)
    assert BATTERY in card and "diesel generator" not in card


async def test_an_unanswered_question_is_not_offered_to_the_library(harness: Harness) -> None:
    h = harness
    w = await world(h)
    await ask(h, w.amina, SIRENS)
    await h.press(w.amina, "Send")
    await h.command(w.amina, "/questions")
    await h.press(w.amina, "Mark #")
    assert "library" not in last(h, w.amina)
    (question,) = await rows(h, Question)
    await h.callback(w.amina, LibShare(question.id).encode())
    assert h.tg.last_alert() == "Only questions that were answered can join the library."
    assert await rows(h, LibraryEntry) == []


async def test_an_entry_indexed_in_another_language_is_found_in_it(harness: Harness) -> None:
    """The seam for translation: an entry's words indexed under a second language (as the
    translation issue will write them) are found by a query in that language."""
    h = harness
    w = await world(h)
    await answered_and_shared(
        h,
        w.marco,
        "Come mantenete le sirene durante i blackout?",
        w.claire,
        "Batterie tampone, provate ogni mese.",
    )
    (entry,) = await rows(h, LibraryEntry)
    query = "صفارات الإنذار أثناء انقطاع الكهرباء"
    async with h.deps.db.read() as s:
        assert await library_index.search(s, query, 3) == []
    async with h.deps.db.transaction() as s:
        await library_index.write(
            s,
            entry.id,
            {
                "en": "How do you keep sirens working during blackouts?",
                "ar": "كيف تحافظون على عمل صفارات الإنذار أثناء انقطاع الكهرباء؟",
            },
        )
    async with h.deps.db.read() as s:
        (hit,) = await library_index.search(s, query, 3)
    assert hit.entry_id == entry.id
    assert sorted(t.language for t in await rows(h, LibraryText)) == ["ar", "en"]
