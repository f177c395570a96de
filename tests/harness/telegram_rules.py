"""What Telegram would refuse in a Bot API call, checked the way Telegram checks it.

`parse_html` follows the Bot API's HTML parse mode as Telegram's own parser reads it (tdlib's
`parse_html`): only the supported tags, with the attributes each may carry, properly nested and
closed; `&lt; &gt; &amp; &quot;` and numeric entities. It is stricter than Telegram in one
respect, on purpose: a bare `&` that starts no entity is an error (Telegram keeps it as text,
but its documentation asks for `&amp;`, and a bare `&` in the bot's text means some user text
went out unescaped). `call_problems` then checks the limits after parsing: 1-4096 characters of
message text, 0-1024 of caption, 0-200 of a button press's answer, and inline buttons with a
non-empty text and 1-64 bytes of callback data.
"""

from __future__ import annotations

import json
import re
from typing import Any

from tests.harness.bot_api_core import EDIT_METHODS, SEND_METHODS, Call

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_ALERT = 200
MAX_CALLBACK_BYTES = 64
MAX_BUTTONS = 100

TAGS = {
    "a",
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "span",
    "tg-spoiler",
    "tg-emoji",
    "code",
    "pre",
    "blockquote",
}
# The attributes Telegram reads; any other is ignored by Telegram, but the bot never means one.
ATTRIBUTES = {
    "a": {"href"},
    "span": {"class"},
    "tg-emoji": {"emoji-id"},
    "code": {"class"},
    "blockquote": {"expandable"},
}
NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY = re.compile(r"&(?:#(\d{1,7})|#x([0-9a-fA-F]{1,6})|([a-zA-Z]+));")
_ATTRIBUTE = re.compile(r"""\s*([^\s=>]+)\s*=\s*("[^"]*"|'[^']*'|[^\s>"']+)""")
_TAG_NAME = re.compile(r"[^\s>]*")


class HtmlError(ValueError):
    """Why Telegram would answer 400 "can't parse entities"."""


def _entity(text: str, pos: int) -> tuple[str, int]:
    """The character of the entity at `pos` (a '&') and where the text goes on."""
    m = _ENTITY.match(text, pos)
    if m is None:
        raise HtmlError(f"unescaped '&' at {pos}: {text[pos : pos + 12]!r}")
    dec, hexa, name = m.groups()
    if name is not None:
        if name not in NAMED:
            raise HtmlError(f"unsupported named entity &{name}; at {pos}")
        return NAMED[name], m.end()
    code = int(dec) if dec is not None else int(hexa, 16)
    if code == 0 or code >= 0x10FFFF:
        raise HtmlError(f"bad numeric entity at {pos}")
    return chr(code), m.end()


def parse_html(text: str) -> str:
    """The text a person reads (tags gone, entities decoded); HtmlError if Telegram would
    refuse it."""
    out: list[str] = []
    open_tags: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "&":
            char, i = _entity(text, i)
            out.append(char)
            continue
        if c != "<":
            out.append(c)
            i += 1
            continue
        end = text.find(">", i)
        if end < 0:
            raise HtmlError(f"unclosed tag at {i}: {text[i : i + 20]!r}")
        inside = text[i + 1 : end]
        if inside.startswith("/"):
            name = inside[1:].strip().lower()
            if not open_tags:
                raise HtmlError(f"unexpected end tag </{name}> at {i}")
            expected = open_tags.pop()
            if name and name != expected:
                raise HtmlError(f"end tag </{name}> at {i}, expected </{expected}>")
        else:
            name_match = _TAG_NAME.match(inside)
            assert name_match is not None
            name = name_match.group(0).lower()
            if name not in TAGS:
                raise HtmlError(f"unsupported start tag {name!r} at {i}: {text[i : i + 20]!r}")
            rest = inside[name_match.end() :]
            attributes = dict(_ATTRIBUTE.findall(rest))
            leftover = _ATTRIBUTE.sub("", rest).strip()
            if leftover:
                raise HtmlError(f"malformed attributes in <{name}> at {i}: {rest!r}")
            unknown = set(attributes) - ATTRIBUTES.get(name, set())
            if unknown:
                raise HtmlError(f"attributes {sorted(unknown)} in <{name}> at {i}")
            if name == "a" and "href" not in attributes:
                raise HtmlError(f"<a> without href at {i}")
            if name == "span" and attributes.get("class", "").strip("\"'") != "tg-spoiler":
                raise HtmlError(f'<span> without class="tg-spoiler" at {i}')
            open_tags.append(name)
        i = end + 1
    if open_tags:
        raise HtmlError(f"unclosed <{open_tags[-1]}>")
    return "".join(out)


def _visible(call: Call, field: str) -> tuple[str | None, str | None]:
    """(visible text, problem) of a text or caption parameter."""
    value = call.params.get(field)
    if value is None:
        return None, None
    value = str(value)
    if call.params.get("parse_mode") != "HTML":
        return value, None
    try:
        return parse_html(value), None
    except HtmlError as exc:
        return None, f"{field} is not valid Telegram HTML ({exc})"


def _buttons(markup: Any) -> list[str]:
    if isinstance(markup, str):
        markup = json.loads(markup)
    if not isinstance(markup, dict) or "inline_keyboard" not in markup:
        return []
    problems = []
    buttons = [b for row in markup["inline_keyboard"] for b in row]
    if len(buttons) > MAX_BUTTONS:
        problems.append(f"{len(buttons)} buttons (Telegram allows {MAX_BUTTONS})")
    for b in buttons:
        if not str(b.get("text", "")).strip():
            problems.append(f"a button without text: {b}")
        data = b.get("callback_data")
        if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_BYTES:
            problems.append(f"callback data of {len(str(data).encode())} bytes: {data!r}")
        if data is None and not b.get("url"):
            problems.append(f"a button with neither callback data nor URL: {b}")
    return problems


def call_problems(call: Call) -> list[str]:
    """What Telegram would refuse in this call (empty when it would accept it)."""
    problems: list[str] = []
    method = call.method
    if method in SEND_METHODS | EDIT_METHODS:
        text, problem = _visible(call, "text")
        problems += [problem] if problem else []
        if method in ("sendMessage", "editMessageText") and text is not None:
            if not text.strip():
                problems.append("message text is empty")
            if len(text) > MAX_TEXT:
                problems.append(f"message text of {len(text)} characters (max {MAX_TEXT})")
        caption, problem = _visible(call, "caption")
        problems += [problem] if problem else []
        if caption is not None and len(caption) > MAX_CAPTION:
            problems.append(f"caption of {len(caption)} characters (max {MAX_CAPTION})")
        problems += _buttons(call.params.get("reply_markup"))
    elif method == "answerCallbackQuery":
        alert = call.params.get("text")
        if alert is not None and len(str(alert)) > MAX_ALERT:
            problems.append(f"button answer of {len(str(alert))} characters (max {MAX_ALERT})")
    return problems


def visible_texts(call: Call) -> list[str]:
    """Everything a person reads from this call: text, caption, alert, button labels (as
    HTML source where the call is HTML, so a leak check sees what the bot wrote)."""
    out = [str(call.params[k]) for k in ("text", "caption") if call.params.get(k) is not None]
    markup = call.params.get("reply_markup")
    if isinstance(markup, dict):
        out += [str(b.get("text", "")) for row in markup.get("inline_keyboard", []) for b in row]
    return out
