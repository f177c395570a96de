"""How machine-translated words are shown: the translation first, labelled with the language
it came from, and the original right below it in an expandable quote; when the translator was
unavailable, the original with a short note. Call inside use_locale (the reader's)."""

from __future__ import annotations

from babel import Locale, UnknownLocaleError
from telegram.constants import MessageLimit

from bot.i18n import _, current_locale, use_locale
from bot.services.broadcast_translation import BroadcastWords, DraftText
from bot.services.translation import TRANSLATED, Rendition
from handlers.common import esc, split_text
from handlers.exchange_render import plain_length


def source_language_name(code: str) -> str:
    """The name of the language a text was written in, in the reader's language."""
    try:
        name = Locale.parse(code).get_display_name(current_locale())
    except (ValueError, UnknownLocaleError):
        return code
    return name or code


def translation_label(source: str) -> str:
    return _("🌐 Machine translation from {language}:").format(
        language=source_language_name(source)
    )


def original_quote(original: str) -> str:
    """The original words, folded under the translation (Telegram's expandable quote)."""
    return f"<blockquote expandable>{esc(original)}</blockquote>"


def untranslated_note() -> str:
    return _("⚠️ Machine translation is unavailable just now; the original follows.")


def relayed_words(original: str, rendition: Rendition | None) -> str:
    """The words of a relayed message as its reader gets them (HTML); none for none."""
    if not original:
        return ""
    if rendition is None:
        return esc(original)
    if rendition.status == TRANSLATED and rendition.text:
        return "\n".join(
            (translation_label(rendition.source), esc(rendition.text), original_quote(original))
        )
    return untranslated_note() + "\n" + esc(original)


def translation_alone(rendition: Rendition) -> str:
    """The translation with its label (or the note), for a message sent after the original."""
    if rendition.status == TRANSLATED and rendition.text:
        return translation_label(rendition.source) + "\n" + esc(rendition.text)
    return untranslated_note()


def broadcast_words(draft: DraftText | None) -> dict[str, BroadcastWords]:
    """What readers of each language get of a broadcast's words: the translation and the
    original in place of its text or caption when that fits Telegram's limit, else the
    translation in messages of its own after the original."""
    if draft is None:
        return {}
    limit = MessageLimit.CAPTION_LENGTH if draft.is_caption else MessageLimit.MAX_TEXT_LENGTH
    words = {}
    for locale, rendition in draft.renditions.items():
        with use_locale(locale):
            inline = relayed_words(draft.text, rendition)
            if plain_length(inline) <= limit:
                words[locale] = BroadcastWords(inline)
            else:
                words[locale] = BroadcastWords(None, split_text(translation_alone(rendition)))
    return words


# Room a reminder's header, late mark and event time take beside its words.
_REMINDER_ROOM = 300


def reminder_words(markup: str, rendition: Rendition | None) -> str:
    """A reminder's text (the organiser's HTML) as its reader gets it: the translation, with
    the original folded below; or the original with the note; or, when that would not fit
    one message, the original alone."""
    if rendition is None:
        return markup
    if rendition.status == TRANSLATED and rendition.text:
        quote = f"<blockquote expandable>{markup}</blockquote>"
        words = "\n".join((translation_label(rendition.source), esc(rendition.text), quote))
    else:
        words = untranslated_note() + "\n" + markup
    fits = plain_length(words) <= MessageLimit.MAX_TEXT_LENGTH - _REMINDER_ROOM
    return words if fits else markup
