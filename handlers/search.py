"""/search <words>: the library's best matches in any of the five languages; /search alone:
the topics that have entries, as buttons, then a topic's entries. Each result has a button to
read the whole exchange."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.i18n import _, current_locale
from bot.services import library_search
from bot.services.library_types import Card
from handlers.callbacks import BadCallback
from handlers.common import answer, esc, guarded, reply, show
from handlers.context import Ctx
from handlers.keyboards import button, paged, rows
from handlers.library_buttons import FindButton, FindTopic, FindTopics
from handlers.library_render import cards_text, read_button
from handlers.user_text import isolate


def read_rows(found: list[Card]) -> list[list[InlineKeyboardButton]]:
    return rows([read_button(i, c) for i, c in enumerate(found, 1)], 3)


@guarded
async def cmd_search(update: Update, context: Ctx) -> None:
    """The best matches for the words, or the topics to browse when there are none."""
    message = update.effective_message
    words = (message.text or "").partition(" ")[2] if message else ""
    if not words.strip():
        await show_topics(update, context, 0)
        return
    found = await library_search.search(context.deps, context.who.tg_user_id, words)
    if not found:
        await reply(
            update,
            _(
                "Nothing in the library matches {words}. Try other words, or send /search "
                "alone to browse by topic."
            ).format(words=isolate(words.strip()[:100])),
        )
        return
    text = cards_text(_("<b>Found in the library</b>"), found)
    await reply(update, text, InlineKeyboardMarkup(read_rows(found)))


async def show_topics(update: Update, context: Ctx, page: int) -> None:
    topics = await library_search.topics(context.deps, context.who.tg_user_id)
    if not topics:
        await show(
            update,
            _(
                "The library is empty so far. When an asker marks a question resolved, they can "
                "add the exchange to it."
            ),
        )
        return
    loc = current_locale()
    items = [(f"{t.name(loc)} ({n})", FindTopic(t.id, 0)) for t, n in topics]
    body, _page = paged(items, page, FindTopics)
    await show(
        update,
        _("<b>The library</b>\nChoose a topic, or send /search followed by your words."),
        InlineKeyboardMarkup(body),
    )


async def show_topic(update: Update, context: Ctx, topic_id: int, page: int) -> None:
    topic, found, more = await library_search.of_topic(
        context.deps, context.who.tg_user_id, topic_id, page
    )
    if not found and page == 0:
        await show_topics(update, context, 0)
        return
    body = read_rows(found)
    nav = []
    if page > 0:
        nav.append(button("‹", FindTopic(topic_id, page - 1)))
    if more:
        nav.append(button("›", FindTopic(topic_id, page + 1)))
    if nav:
        body.append(nav)
    body.append([button(_("‹ All topics"), FindTopics(0))])
    heading = _("<b>The library: {topic}</b>").format(topic=esc(topic.name(current_locale())))
    await show(update, cards_text(heading, found), InlineKeyboardMarkup(body))


@guarded
async def on_find(update: Update, context: Ctx) -> None:
    """Browsing by topic: the topics, then a topic's entries page by page."""
    query = update.callback_query
    assert query is not None
    match FindButton.decode(query.data):
        case FindTopics(page):
            await answer(query)
            await show_topics(update, context, page)
        case FindTopic(topic_id, page):
            await answer(query)
            await show_topic(update, context, topic_id, page)
        case _:
            raise BadCallback(query.data)
