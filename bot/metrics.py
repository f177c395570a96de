"""What the process counts for Prometheus (`/metrics`, bot/health.py), in a registry of its
own: updates handled and their handlers' time, the outbox's sends by outcome and Telegram's
429s. The outbox backlog is read from the database at each scrape."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry()

UPDATES = Counter(
    "cxb_updates",
    "Telegram updates received, by outcome: handled; repeated (delivered again, dropped); "
    "flood (one person's queue full, dropped)",
    ["outcome"],
    registry=REGISTRY,
)
HANDLER_SECONDS = Histogram(
    "cxb_update_handler_seconds",
    "Time from an update's turn to the end of its handlers",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=REGISTRY,
)
SENDS = Counter(
    "cxb_outbox_sends",
    "Outbox sends by outcome: sent, failed, unreachable, retried, rate_limited",
    ["outcome"],
    registry=REGISTRY,
)
RATE_LIMITED = Counter(
    "cxb_telegram_429",
    "429 Too Many Requests answers from Telegram, by who sent: outbox or reply",
    ["source"],
    registry=REGISTRY,
)
OUTBOX_BACKLOG = Gauge(
    "cxb_outbox_backlog",
    "Outbox rows not sent yet, by state: due, waiting (a retry's backoff or a later time), "
    "claimed (a sender holds them)",
    ["state"],
    registry=REGISTRY,
)

for _outcome in ("handled", "repeated", "flood"):
    UPDATES.labels(_outcome)
for _outcome in ("sent", "failed", "unreachable", "retried", "rate_limited"):
    SENDS.labels(_outcome)
for _source in ("outbox", "reply"):
    RATE_LIMITED.labels(_source)
