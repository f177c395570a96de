"""Relayed messages in each reader's language: the words of a question, answer or follow-up
translated once per language for the readers who want it, before anything is sent."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from bot.runtime import Deps
from bot.services import translation
from bot.services.exchange.types import Outgoing


async def with_translations(deps: Deps, outgoing: Sequence[Outgoing]) -> list[Outgoing]:
    """The same messages, each carrying its reader's translation where one is due."""
    if deps.translator is None:
        return list(outgoing)
    by_text: dict[tuple[str, str, int], set[str]] = {}
    for o in outgoing:
        if o.content.text and o.recipient.machine_translation:
            key = (o.content.text, o.sender.locale, o.sender.official_id)
            by_text.setdefault(key, set()).add(o.recipient.locale)
    found = {
        key: await translation.renditions(deps, key[0], key[1], targets, key[2])
        for key, targets in by_text.items()
    }
    out = []
    for o in outgoing:
        key = (o.content.text or "", o.sender.locale, o.sender.official_id)
        wanted = o.recipient.machine_translation
        rendition = found.get(key, {}).get(o.recipient.locale) if wanted else None
        out.append(replace(o, translation=rendition) if rendition else o)
    return out
