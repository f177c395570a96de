"""How machine-translated words are shown: the translation first, labelled with the language
it came from, and the original right below it in an expandable quote; when the translator was
unavailable, the original with a short note. Call inside use_locale (the reader's)."""

from __future__ import annotations

from babel import Locale, UnknownLocaleError

from bot.i18n import _, current_locale
from bot.services.translation import TRANSLATED, Rendition
from handlers.common import esc


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
