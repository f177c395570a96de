"""Machine translation of the exchange, in process against the fake LibreTranslate server:
questions, answers and follow-ups reach each reader in their language with the original
below; text already in the reader's language, and readers who turned it off, get it as it
was written; a slow, failing or down translator never holds a message back or loses it."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from bot.config import ConfigError, load_settings
from bot.db.models import Delivery, ExchangeMessage, Role, Translation
from bot.services import reports
from bot.translation import TranslationUnavailable, build_translator
from handlers.common import esc
from handlers.reminders import reminders_job
from tests.factories import make_city, make_official, make_topic, next_tg_id
from tests.harness.fake_translator import FakeTranslator
from tests.harness.outbox import drain
from tests.harness.updates import PHOTO, VOICE, Harness, TgUser, tr

QUESTION_AR = "كيف تحافظون على عمل صفارات الإنذار من الفيضانات أثناء انقطاع الكهرباء؟"
ANSWER_IT = "Teniamo batterie di riserva in ogni sirena e le proviamo ogni mese."
FOLLOW_UP_AR = "شكرا جزيلا، من أين تشترون هذه البطاريات؟"
QUESTION_FR = "Comment gardez-vous les sirènes en marche pendant les coupures de courant ?"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"translation_backend": "libretranslate", "translation_timeout_seconds": 1.0}


class People:
    def __init__(self, rosso: TgUser, potenza: TgUser, potenza2: TgUser, nice: TgUser) -> None:
        self.rosso, self.potenza, self.potenza2, self.nice = rosso, potenza, potenza2, nice


async def people(h: Harness) -> People:
    db = h.deps.db
    topic = await make_topic(
        db, "flood-risk", names={"en": "Flood risk", "ar": "خطر الفيضانات", "it": "Alluvioni"}
    )
    rosso = await make_city(db, "Rosso", "MR", "Africa/Nouakchott", ["ar", "fr"])
    potenza = await make_city(db, "Potenza", "IT", "Europe/Rome", ["it"])
    nice = await make_city(db, "Nice", "FR", "Europe/Paris", ["fr"])

    async def one(city, name: str, locale: str) -> TgUser:
        tg_id = next_tg_id()
        await make_official(
            db, city, tg_id=tg_id, name=name, topics=[topic], locale=locale, languages=(locale,)
        )
        return TgUser(tg_id, name.split()[0], language_code=locale)

    return People(
        await one(rosso, "Mariem Sidi", "ar"),
        await one(potenza, "Marco Rossi", "it"),
        await one(potenza, "Giulia Verdi", "it"),
        await one(nice, "Claire Martin", "fr"),
    )


async def ask(h: Harness, user: TgUser, locale: str, text: str | None, **media: Any) -> None:
    await h.command(user, "/ask")
    await h.press(user, {"ar": "خطر الفيضانات", "it": "Alluvioni"}.get(locale, "Flood risk"))
    await h.send(user, text, **media)
    await h.press(user, tr(locale, "Send"))


def relayed(h: Harness, user: TgUser) -> list[str]:
    """The texts (or captions) of what reached this person carrying the original words."""
    return [t for t in h.texts(user) if "<blockquote expandable>" in t or "⚠️" in t]


async def log_rows(h: Harness) -> list[ExchangeMessage]:
    async with h.deps.db.read() as s:
        return list((await s.scalars(select(ExchangeMessage).order_by(ExchangeMessage.id))).all())


async def test_each_reads_the_others_in_their_language_with_the_original_below(
    harness: Harness, translator: FakeTranslator
) -> None:
    h = harness
    p = await people(h)
    await ask(h, p.rosso, "ar", QUESTION_AR)

    for user, lang, label in (
        (p.potenza, "it", "Traduzione automatica"),
        (p.potenza2, "it", "Traduzione automatica"),
        (p.nice, "fr", "Traduction automatique"),
    ):
        (got,) = relayed(h, user)
        assert label in got
        translation_at = got.index(f"[{lang}] {QUESTION_AR}")
        original_at = got.index(f"<blockquote expandable>{QUESTION_AR}</blockquote>")
        assert translation_at < original_at
    # Once per language, though two officials in Potenza read Italian.
    assert [r["target"] for r in translator.translations()] == ["fr", "it"]
    assert all(r["source"] == "ar" and r["format"] == "text" for r in translator.translations())

    await h.press(p.potenza, tr("it", "Answer"))
    await h.send(p.potenza, ANSWER_IT)
    answer = relayed(h, p.rosso)[-1]
    assert "ترجمة آلية" in answer
    assert f"[ar] {ANSWER_IT}" in answer
    assert f"<blockquote expandable>{ANSWER_IT}</blockquote>" in answer

    await h.press(p.rosso, tr("ar", "Reply"))
    await h.send(p.rosso, FOLLOW_UP_AR)
    follow_up = relayed(h, p.potenza)[-1]
    assert f"[it] {FOLLOW_UP_AR}" in follow_up and FOLLOW_UP_AR in follow_up

    # The log says what went out to whom; each translation is stored once per language.
    sent = {
        (r.kind, r.to_official_id): r.translation
        for r in await log_rows(h)
        if r.kind != "question"  # the asker's own row: the original, as asked
    }
    assert {t["to"] for t in sent.values() if t} == {"it", "fr", "ar"}
    assert all(t and t["status"] == "translated" for t in sent.values())
    async with h.deps.db.read() as s:
        stored = (await s.scalars(select(Translation.target_lang))).all()
    assert sorted(stored) == ["ar", "fr", "it", "it"]

    # The export keeps each message's original words and the translation its reader got.
    rows = [
        dict(zip(reports.COLUMNS, row, strict=True))
        async for batch in reports.export_rows(h.deps, reports.ExportFilter())
        for row in batch
    ]
    answer_row = next(r for r in rows if r["kind"] == "answer")
    assert answer_row["text"] == ANSWER_IT
    assert (answer_row["translation_from"], answer_row["translation_to"]) == ("it", "ar")
    assert answer_row["translation_status"] == "translated"
    assert answer_row["translation"] == f"[ar] {ANSWER_IT}"
    asked = next(r for r in rows if r["kind"] == "question")
    assert asked["text"] == QUESTION_AR and asked["translation"] is None
    to_nice = next(r for r in rows if r["kind"] == "routing" and r["answerer_city"] == "Nice")
    assert to_nice["translation"] == f"[fr] {QUESTION_AR}"


async def test_text_in_the_readers_language_and_readers_who_turned_it_off_get_it_as_written(
    harness: Harness, translator: FakeTranslator
) -> None:
    h = harness
    p = await people(h)
    await h.command(p.potenza2, "/language")
    await h.press(p.potenza2, "🌐")
    assert "come sono stati scritti" in h.last_text(p.potenza2)

    await ask(h, p.nice, "fr", QUESTION_FR)
    # In Potenza only Marco gets it translated: Giulia turned it off.
    (got,) = relayed(h, p.potenza)
    assert f"[it] {QUESTION_FR}" in got
    assert relayed(h, p.potenza2) == []
    assert any(QUESTION_FR in t for t in h.texts(p.potenza2))
    assert sorted(r["target"] for r in translator.translations()) == ["ar", "it"]

    # An Italian answer to a French reader is translated; to an Italian one it is not.
    await h.press(p.potenza2, tr("it", "Answer"))
    await h.send(p.potenza2, ANSWER_IT)
    assert f"[fr] {ANSWER_IT}" in relayed(h, p.nice)[-1]

    # Turned back on.
    await h.command(p.potenza2, "/language")
    await h.press(p.potenza2, "🌐")
    await h.press(p.nice, tr("fr", "Reply"))
    await h.send(p.nice, QUESTION_FR)
    assert f"[it] {QUESTION_FR}" in relayed(h, p.potenza2)[-1]


@pytest.mark.parametrize(
    "trouble",
    ["slow", "down", "error", "unsupported", "echo"],
)
async def test_translator_trouble_sends_the_original_with_a_note(
    harness: Harness, translator: FakeTranslator, trouble: str
) -> None:
    h = harness
    p = await people(h)
    if trouble == "slow":
        translator.delay = 3.0  # over TRANSLATION_TIMEOUT_SECONDS (1 s)
    elif trouble == "down":
        await translator.stop()
    elif trouble == "error":
        translator.fail_with = 503
    elif trouble == "unsupported":
        translator.unsupported = {"ar"}
    else:
        translator.echo = True

    await ask(h, p.rosso, "ar", QUESTION_AR)
    for user, note in ((p.potenza, "traduzione automatica"), (p.nice, "traduction automatique")):
        (got,) = relayed(h, user)
        assert note in got.lower() and "⚠️" in got
        assert QUESTION_AR in got and "[it]" not in got and "[fr]" not in got
    assert "tr.rosso" not in h.last_text(p.rosso)
    rows = [r for r in await log_rows(h) if r.kind != "question"]
    assert {r.translation["status"] for r in rows if r.translation} == {"unavailable"}
    assert all(r.delivered_message_id is not None for r in rows)
    async with h.deps.db.read() as s:
        assert (await s.scalars(select(Translation))).all() == []


async def test_media_captions_translated_voice_notes_as_they_are(
    harness: Harness, translator: FakeTranslator
) -> None:
    h = harness
    p = await people(h)
    await ask(h, p.rosso, "ar", None, photo=PHOTO, caption=QUESTION_AR)
    (got,) = [c for c in h.tg.sent(p.potenza.id) if c.method == "copyMessage"]
    caption = got.params["caption"]
    assert f"[it] {QUESTION_AR}" in caption
    assert f"<blockquote expandable>{QUESTION_AR}</blockquote>" in caption

    await h.press(p.potenza, tr("it", "Answer"))
    await h.send(p.potenza, None, voice=VOICE)
    voice = [c for c in h.tg.sent(p.rosso.id) if c.method == "copyMessage"][-1]
    assert "blockquote" not in (voice.params.get("caption") or "")
    assert translator.translations("ar") == []


async def test_a_long_translation_is_split_and_nothing_is_cut(
    harness: Harness, translator: FakeTranslator
) -> None:
    h = harness
    p = await people(h)
    long_question = " ".join([QUESTION_AR] * 45)  # about 3,300 characters
    await ask(h, p.rosso, "ar", long_question)
    parts = [c.text or "" for c in h.tg.sent(p.potenza.id) if c.method == "sendMessage"]
    joined = "".join(parts)
    assert len(parts) >= 2 and all(len(t) <= 4096 for t in parts)
    assert joined.count(QUESTION_AR) == 2 * 45
    assert "<blockquote expandable>" in joined


async def test_language_unsure_asks_the_backend_then_falls_back_to_the_writers_setting(
    harness: Harness, translator: FakeTranslator
) -> None:
    h = harness
    p = await people(h)
    translator.detect_as = "de"  # a wrong language: not one of ours
    await ask(h, p.nice, "fr", "OK 112 ?")
    assert [r["path"] for r in translator.requests][0] == "/detect"
    assert {r["source"] for r in translator.translations()} == {"fr"}
    assert relayed(h, p.potenza) and relayed(h, p.rosso)


BROADCAST_FR = "Exercice régional d'évacuation vendredi à dix heures, rendez-vous à la mairie."
REMINDER_FR = "Merci d'envoyer les chiffres des crues avant la réunion mensuelle."


async def audience(h: Harness) -> dict[str, TgUser]:
    """An organiser writing in French, and officials reading five languages (two Italian)."""
    db = h.deps.db
    nice = await make_city(db, "Nice", "FR", "Europe/Paris", ["fr"])
    topic = await make_topic(db, "flood-risk", names={"en": "Flood risk"})
    people = {}
    for key, locale, role in [
        ("org", "fr", Role.ORGANISER),
        ("ar", "ar", Role.OFFICIAL),
        ("it", "it", Role.OFFICIAL),
        ("it2", "it", Role.OFFICIAL),
        ("es", "es", Role.OFFICIAL),
        ("en", "en", Role.OFFICIAL),
        ("fr", "fr", Role.OFFICIAL),
    ]:
        tg_id = next_tg_id()
        await make_official(db, nice, tg_id=tg_id, topics=[topic], locale=locale, role=role)
        people[key] = TgUser(tg_id, key, language_code=locale)
    return people


async def broadcast(h: Harness, org: TgUser, text: str | None, **media: Any) -> None:
    await h.command(org, "/broadcast")
    await h.send(org, text, **media)
    await h.press(org, tr("fr", "Preview ▸"))
    await h.press(org, tr("fr", "Send now"))


async def test_a_broadcast_is_translated_once_per_language_before_sending_starts(
    harness: Harness, translator: FakeTranslator
) -> None:
    h = harness
    p = await audience(h)
    await h.command(p["it2"], "/language")
    await h.press(p["it2"], "🌐")  # Giulia reads everything as written
    await broadcast(h, p["org"], BROADCAST_FR)

    # Before the sender's first pass: every language done, once each.
    assert sorted(r["target"] for r in translator.translations()) == ["ar", "en", "es", "it"]
    async with h.deps.db.read() as s:
        pending = (await s.scalars(select(Delivery).where(Delivery.source == "broadcast"))).all()
    assert {d.method for d in pending} == {"text", "copy"}
    await drain(h)
    for key in ("ar", "it", "es", "en"):
        (got,) = [c for c in h.tg.sent(p[key].id) if c.method == "sendMessage"][-1:]
        assert f"[{key}] {esc(BROADCAST_FR)}" in (got.text or "")
        assert f"<blockquote expandable>{esc(BROADCAST_FR)}</blockquote>" in (got.text or "")
    for key in ("fr", "it2"):  # the organiser's language; translation turned off
        assert h.tg.last(p[key].id).method == "copyMessage"
    assert len(translator.translations()) == 4


async def test_a_broadcast_caption_is_translated_in_place_and_a_down_translator_adds_a_note(
    harness: Harness, translator: FakeTranslator
) -> None:
    h = harness
    p = await audience(h)
    await broadcast(h, p["org"], None, photo=PHOTO, caption=BROADCAST_FR)
    await drain(h)
    copy = h.tg.last(p["ar"].id)
    assert copy.method == "copyMessage"
    assert f"[ar] {esc(BROADCAST_FR)}" in copy.params["caption"]
    assert copy.params["parse_mode"] == "HTML"
    assert "caption" not in h.tg.last(p["fr"].id).params

    await translator.stop()
    h.deps.clock.advance(minutes=5)
    await broadcast(h, p["org"], "Deuxième exercice, samedi à la même heure, même lieu.")
    await drain(h)
    got = h.tg.last(p["it"].id)
    assert got.method == "sendMessage" and "⚠️" in (got.text or "")
    assert "Deuxième exercice" in (got.text or "")


async def test_a_reminder_is_translated_for_each_reader_with_the_original_below(
    harness: Harness, translator: FakeTranslator
) -> None:
    h = harness
    p = await audience(h)
    org = p["org"]
    await h.command(org, "/remind")
    await h.send(org, REMINDER_FR)
    await h.press(org, tr("fr", "Everyone"))
    await h.press(org, tr("fr", "Once"))
    await h.send(org, "2026-03-05 10:00")
    await h.press(org, tr("fr", "No event time"))
    await h.press(org, tr("fr", "Schedule"))
    assert translator.translations() == []

    h.deps.clock.set(datetime(2026, 3, 5, 9, 0, 10, tzinfo=UTC))
    await reminders_job(h.deps)
    await drain(h)
    for key in ("ar", "it", "it2", "es", "en"):
        text = h.last_text(p[key])
        assert f"[{key[:2]}] {esc(REMINDER_FR)}" in text
        assert f"<blockquote expandable>{esc(REMINDER_FR)}</blockquote>" in text
    assert esc(REMINDER_FR) in h.last_text(p["fr"])
    assert "blockquote" not in h.last_text(p["fr"])
    assert sorted(r["target"] for r in translator.translations()) == ["ar", "en", "es", "it"]


async def test_a_long_broadcast_keeps_its_original_and_sends_the_translation_after_it(
    harness: Harness, translator: FakeTranslator
) -> None:
    h = harness
    p = await audience(h)
    long_text = " ".join([BROADCAST_FR] * 30)  # about 2,500 characters: twice is too long
    await broadcast(h, p["org"], long_text)
    await drain(h)
    calls = h.tg.sent(p["it"].id)
    copy, apart = calls[-2], calls[-1]
    assert copy.method == "copyMessage" and "caption" not in copy.params
    assert apart.method == "sendMessage" and "Traduzione automatica" in (apart.text or "")
    assert f"[it] {esc(BROADCAST_FR)}" in (apart.text or "")
    assert all(len(c.text or "") <= 4096 for c in calls)

    # Erased before the sender's turn: neither the message nor its translations go out.
    await broadcast(h, p["org"], long_text.replace("vendredi", "samedi"))
    await h.command(p["org"], "/deleteme")
    await h.press(p["org"], tr("fr", "Yes, erase my data"))
    seen = len(h.tg.sent(p["it"].id))
    await drain(h)
    assert len(h.tg.sent(p["it"].id)) == seen
    async with h.deps.db.read() as s:
        left = (await s.scalars(select(Delivery.text).where(Delivery.text.is_not(None)))).all()
    assert not [t for t in left if "samedi" in t]


def test_the_backend_setting_is_checked_at_start() -> None:
    """A backend the bot does not know, or Argos without its extra installed, is one line for
    the operator, not a traceback at the first message."""
    with pytest.raises(ConfigError, match="TRANSLATION_BACKEND: .*libretranslate"):
        load_settings(translation_backend="deepl")
    settings = load_settings(translation_backend="ARGOS ")
    assert settings.translation_backend == "argos"
    assert build_translator(load_settings()) is None
    if importlib.util.find_spec("argostranslate") is None:
        with pytest.raises(TranslationUnavailable, match=r"pip install '\.\[argos\]'"):
            build_translator(settings)


class BrokenTranslator:
    """A backend failing in a way nobody planned for (as Argos in its thread might)."""

    name = "broken"

    async def translate(self, text: str, source: str, target: str) -> str:
        raise RuntimeError("model file truncated")

    async def detect(self, text: str) -> str | None:
        raise RuntimeError("model file truncated")

    async def close(self) -> None:
        return None


async def test_a_backend_failing_unexpectedly_still_lets_the_message_through(
    harness: Harness,
) -> None:
    h = harness
    p = await people(h)
    h.deps.translator = BrokenTranslator()
    await ask(h, p.rosso, "ar", QUESTION_AR)
    (got,) = relayed(h, p.potenza)
    assert "⚠️" in got and QUESTION_AR in got
    await h.press(p.potenza, tr("it", "Answer"))
    await h.send(p.potenza, "ok")  # too short to detect: the backend is not asked again
    assert "ok" in h.last_text(p.rosso)
