"""Text as Telegram takes it: the checker the fuzz test relies on refuses what Telegram refuses,
and long texts are split into parts Telegram can parse one by one."""

from __future__ import annotations

from typing import Any

import pytest

from handlers.common import esc, split_text
from tests.factories import make_city, make_official, make_topic, next_tg_id
from tests.harness.bot_api_core import Call
from tests.harness.locale_leaks import english_in, raw_placeholders
from tests.harness.telegram_rules import HtmlError, call_problems, parse_html
from tests.harness.updates import Harness, TgUser


@pytest.mark.parametrize(
    ("html", "visible"),
    [
        (
            "<b>Gabès</b> &amp; Nice &lt;3 &gt; &quot;x&quot; &#x27;y&#39;",
            "Gabès & Nice <3 > \"x\" 'y'",
        ),
        ('<a href="https://t.me/x?start=a&amp;b">link</a> <i><u>both</u></i>', "link both"),
        ('<span class="tg-spoiler">s</span><tg-spoiler>t</tg-spoiler><pre>p</pre>', "stp"),
        ("plain > text", "plain > text"),  # a bare '>' is text to Telegram
    ],
)
def test_what_telegram_accepts_and_shows(html: str, visible: str) -> None:
    assert parse_html(html) == visible


@pytest.mark.parametrize(
    "html",
    [
        "a < b",  # unescaped '<'
        "Salah & Co",  # unescaped '&'
        "&amp",  # an entity cut short
        "&nbsp;",  # a named entity Telegram does not know
        "<b>bold",  # never closed
        "<b><i>x</b></i>",  # crossed
        "</b>",  # closed, never opened
        "<script>x</script>",
        "<div>x</div>",
        "<span>x</span>",  # a span must be a spoiler
        "<a>x</a>",  # a link needs its href
        '<b class="x">x</b>',
    ],
)
def test_what_telegram_refuses(html: str) -> None:
    with pytest.raises(HtmlError):
        parse_html(html)


def call(method: str, **params: Any) -> Call:
    return Call(1, method, params, params.get("chat_id"))


def test_limits_and_buttons() -> None:
    ok = call("sendMessage", chat_id=1, text="&amp;" * 4096, parse_mode="HTML")
    assert call_problems(ok) == []  # 4,096 characters once parsed
    assert call_problems(call("sendMessage", chat_id=1, text="x" * 4097))
    assert call_problems(call("sendMessage", chat_id=1, text="<b> </b>", parse_mode="HTML"))
    assert call_problems(call("sendPhoto", chat_id=1, caption="x" * 1025))
    assert call_problems(call("answerCallbackQuery", callback_query_id="1", text="x" * 201))
    keyboard = {"inline_keyboard": [[{"text": " ", "callback_data": "a"}]]}
    assert call_problems(call("sendMessage", chat_id=1, text="x", reply_markup=keyboard))
    keyboard = {"inline_keyboard": [[{"text": "é", "callback_data": "é" * 33}]]}  # 66 bytes
    assert call_problems(call("sendMessage", chat_id=1, text="x", reply_markup=keyboard))


def test_untranslated_english_and_raw_placeholders_are_found() -> None:
    english = "Unknown command. Send /help to see what you can do."
    assert english_in(english, {"fr"}) == [english]
    assert english_in(english, {"fr", "en"}) == []  # the reader switched to English
    french = "Commande inconnue. Envoyez /help pour voir ce que vous pouvez faire."
    assert english_in(french, {"fr"}) == []
    assert raw_placeholders("Envoyé à {name}.", typed="") == ["{name}"]
    assert raw_placeholders("Envoyé à {name}.", typed="my name is {name}") == []  # they typed it


@pytest.mark.parametrize("piece", ["&<", "a & b < c > d\n", "é&" * 3 + " "])
def test_long_html_splits_into_parts_telegram_can_parse(piece: str) -> None:
    user_text = (piece * 2000)[:3500]
    text = "<b>Preview</b>\n\n<i>" + esc(user_text) + "</i>\n<b>end</b>"
    parts = split_text(text)
    assert len(parts) > 1
    shown = [parse_html(part) for part in parts]  # raises where Telegram would refuse a part
    assert all(0 < len(part) <= 4096 for part in parts)
    assert "".join(shown).replace("\n", "").replace(" ", "") == (
        ("Preview" + user_text + "end").replace("\n", "").replace(" ", "")
    )


async def test_a_question_longer_than_one_message_previews_in_valid_parts(
    harness: Harness,
) -> None:
    h = harness
    errors: list[object] = []

    async def record(update: object, context: Any) -> None:
        errors.append(context.error)

    h.app.add_error_handler(record)
    city = await make_city(h.deps.db, "Gabès")
    topic = await make_topic(h.deps.db, "flood-risk", names={"en": "Flood risk"})
    asker = TgUser(next_tg_id(), "Amina", "fr")
    await make_official(h.deps.db, city, tg_id=asker.id, topics=[topic], locale="fr")
    await h.command(asker, "/ask")
    await h.press(asker, "Flood risk")
    before = len(h.tg.calls)
    # The longest question Telegram lets through, with no space to cut at: escaped, it is
    # longer than one message.
    question = "R&D<" * 875
    await h.send(asker, question)
    sent = [c for c in h.tg.calls[before:] if c.method == "sendMessage"]
    assert not errors and all(c.ok for c in sent), h.transcript()
    shown = "".join(parse_html(c.params["text"]) for c in sent)
    assert shown.count("R&D<") == 875
    assert sent[-1].buttons  # Send / Cancel under the last part
