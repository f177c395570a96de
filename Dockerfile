# City Exchange Bot. Same install command as the README: pip install -e .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATABASE_URL=sqlite+aiosqlite:////data/city_exchange.db

RUN useradd --create-home --uid 10001 bot && mkdir -p /data && chown bot:bot /data
WORKDIR /app

COPY pyproject.toml README.md alembic.ini ./
COPY bot ./bot
COPY handlers ./handlers
COPY locales ./locales
COPY migrations ./migrations
RUN pip install -e .

USER bot
VOLUME ["/data"]
# TELEGRAM_BOT_TOKEN, ADMIN_IDS and the rest come from the environment (docker run --env-file).
CMD ["city-exchange-bot", "run"]
