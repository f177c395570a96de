"""The bare stack the bot is built on, as a bot: the baseline of bench/bench_startup.py.

python-telegram-bot (long polling), SQLAlchemy's async engine on aiosqlite (one query at
start) and Babel (a date formatted in French): what any bot of this kind loads. Settings from
the environment, as the bot takes them:

    TELEGRAM_BOT_TOKEN=... TELEGRAM_API_BASE_URL=http://127.0.0.1:PORT \\
        DATABASE_URL=sqlite+aiosqlite:///x.db .venv/bin/python bench/bare_bot.py run
"""

from __future__ import annotations

import os
import sys


def imports() -> None:
    import babel.dates  # noqa: F401
    import babel.numbers  # noqa: F401
    import babel.support  # noqa: F401
    import sqlalchemy.ext.asyncio  # noqa: F401
    import telegram.ext  # noqa: F401


def run() -> None:
    from datetime import UTC, datetime

    from babel.dates import format_datetime
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine
    from telegram import Update
    from telegram.ext import Application, CommandHandler, ContextTypes

    base = os.environ["TELEGRAM_API_BASE_URL"].rstrip("/")
    engine = create_async_engine(os.environ["DATABASE_URL"])

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(format_datetime(datetime.now(UTC), locale="fr"))

    async def post_init(app: Application) -> None:  # type: ignore[type-arg]
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        format_datetime(datetime.now(UTC), locale="fr")

    async def post_shutdown(app: Application) -> None:  # type: ignore[type-arg]
        await engine.dispose()

    app = (
        Application.builder()
        .token(os.environ["TELEGRAM_BOT_TOKEN"])
        .base_url(f"{base}/bot")
        .base_file_url(f"{base}/file/bot")
        .post_init(post_init)
        .post_shutdown(post_shutdown)
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    app.run_polling(poll_interval=0.0, timeout=2)


if __name__ == "__main__":
    imports() if sys.argv[1:] == ["import"] else run()
