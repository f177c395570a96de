"""A broadcast's words in each language of its audience: translated once per language, before
the broadcast is written and sending starts (never inside the transaction that writes it).

The handler renders what each language gets (`BroadcastWords`); `broadcast_compose.confirm`
writes it into the outbox rows of the readers of that language who take machine translation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.db import audience, dialogs
from bot.db.models import Role
from bot.runtime import Deps
from bot.services import targeting, translation
from bot.services.identity import require_role
from bot.services.translation import Rendition


@dataclass(frozen=True)
class DraftText:
    """The draft's words (its text, or the caption of its media) and each language's rendition."""

    text: str
    is_caption: bool
    renditions: dict[str, Rendition] = field(default_factory=dict)


@dataclass(frozen=True)
class BroadcastWords:
    """What readers of one language get: `inline` in place of the message's words (its text, or
    its caption) when it fits; else the message as it is, followed by `apart` (text parts)."""

    inline: str | None
    apart: list[str] = field(default_factory=list)


async def translate_draft(deps: Deps, tg_user_id: int) -> DraftText | None:
    """The organiser's draft, translated for each language of its audience; None when there is
    nothing to translate (translation off, a message without words)."""
    if deps.translator is None:
        return None
    async with deps.db.read() as session:
        official = await require_role(session, deps.settings, tg_user_id, Role.ORGANISER)
        state = await dialogs.get_dialog(session, tg_user_id)
        data = dict(state.data) if state is not None else {}
        text = data.get("text")
        if not text or official is None:
            return None
        target = targeting.normalize(data.get("target"))
        languages = await audience.reader_languages(session, target, deps.settings.admin_ids)
        writer, author = official.locale, official.id
    renditions = await translation.renditions(deps, text, writer, languages, author)
    return DraftText(text, data.get("kind") != "text", renditions)
