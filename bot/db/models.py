"""The schema. Every table the exchange needs; times are stored in UTC."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ColumnElement,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    literal_column,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bot.db.absence_model import Absence
from bot.db.base import Base, UTCDateTime, utcnow
from bot.db.bookkeeping_models import AuditLog, DialogState, SenderProcess
from bot.db.coordination import AlertWindow, HandledUpdate, SendPace
from bot.db.enums import (
    WAITING_SQL,
    BroadcastStatus,
    DeliveryStatus,
    ExchangeKind,
    OfficialStatus,
    QuestionStatus,
    ReminderStatus,
    Role,
    RoutingStatus,
)
from bot.db.library_models import (
    LibraryEntry,
    LibraryPart,
    LibraryText,
    LibraryUse,
    LibraryVector,
)
from bot.db.rating_models import AnswerRating
from bot.db.translations import Translation

# The schema's enums and column types are imported from here too (bot.db.models.Role).
__all__ = [
    "Absence",
    "AlertWindow",
    "AnswerRating",
    "AuditLog",
    "Base",
    "Broadcast",
    "BroadcastStatus",
    "City",
    "CityTopicStats",
    "Delivery",
    "DeliveryStatus",
    "DialogState",
    "ExchangeKind",
    "ExchangeMessage",
    "HandledUpdate",
    "Invite",
    "LibraryEntry",
    "LibraryPart",
    "LibraryText",
    "LibraryUse",
    "LibraryVector",
    "Official",
    "OfficialStatus",
    "OfficialTopic",
    "Question",
    "QuestionStatus",
    "Reminder",
    "ReminderStatus",
    "Role",
    "Routing",
    "RoutingStatus",
    "SendPace",
    "SenderProcess",
    "Topic",
    "Translation",
    "UTCDateTime",
    "WAITING_SQL",
    "routing_waiting",
    "utcnow",
]


class City(Base):
    __tablename__ = "city"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    country: Mapped[str] = mapped_column(String(2), index=True)  # ISO 3166-1 alpha-2
    timezone: Mapped[str] = mapped_column(String(64))  # IANA name
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The seed file's overrides of the country's working calendar (bot.city_calendar).
    calendar: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # locale -> the city's name where that language writes it otherwise (seed file)
    names: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default=text("'{}'"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Topic(Base):
    __tablename__ = "topic"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    group: Mapped[str] = mapped_column(String(64), index=True)
    names: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # locale -> name
    group_names: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    position: Mapped[int] = mapped_column(Integer, default=0)

    def name(self, locale: str) -> str:
        return str(self.names.get(locale) or self.names.get("en") or self.slug)

    def group_name(self, locale: str) -> str:
        return str(self.group_names.get(locale) or self.group_names.get("en") or self.group)


class OfficialTopic(Base):
    __tablename__ = "official_topic"
    # Routing looks officials up by topic; the primary key starts with official_id.
    __table_args__ = (Index("ix_official_topic_topic", "topic_id", "official_id"),)

    official_id: Mapped[int] = mapped_column(
        ForeignKey("official.id", ondelete="CASCADE"), primary_key=True
    )
    topic_id: Mapped[int] = mapped_column(
        ForeignKey("topic.id", ondelete="CASCADE"), primary_key=True
    )


class Official(Base):
    __tablename__ = "official"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tg_user_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    name: Mapped[str | None] = mapped_column(String(128))
    # How colleagues abroad write a name that is not in Latin letters (the person's choice).
    name_latin: Mapped[str | None] = mapped_column(String(128))
    position: Mapped[str | None] = mapped_column(String(128))
    city_id: Mapped[int | None] = mapped_column(ForeignKey("city.id"), index=True)
    locale: Mapped[str] = mapped_column(String(8), default="en")
    locale_chosen: Mapped[bool] = mapped_column(Boolean, default=False)
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    role: Mapped[str] = mapped_column(String(16), default=Role.OFFICIAL)
    status: Mapped[str] = mapped_column(String(16), default=OfficialStatus.REGISTERING, index=True)
    privacy_accepted_at: Mapped[datetime | None] = mapped_column()
    digest_opt_in: Mapped[bool] = mapped_column(Boolean, default=False)
    last_digest_at: Mapped[datetime | None] = mapped_column()
    quiet_start: Mapped[int | None] = mapped_column(Integer)  # minutes after local midnight
    quiet_end: Mapped[int | None] = mapped_column(Integer)
    machine_translation: Mapped[bool] = mapped_column(Boolean, default=True)  # of others' words
    invite_id: Mapped[int | None] = mapped_column(Integer)  # no FK: invite refers to official
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    erased_at: Mapped[datetime | None] = mapped_column()

    city: Mapped[City | None] = relationship(lazy="raise")
    topics: Mapped[list[Topic]] = relationship(secondary="official_topic", lazy="raise")


class Invite(Base):
    __tablename__ = "invite"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    city_id: Mapped[int] = mapped_column(ForeignKey("city.id"))
    role: Mapped[str] = mapped_column(String(16), default=Role.OFFICIAL)
    uses_left: Mapped[int | None] = mapped_column(Integer)  # None: unlimited
    expires_at: Mapped[datetime | None] = mapped_column()
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("official.id", ondelete="SET NULL")
    )
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Question(Base):
    __tablename__ = "question"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asker_id: Mapped[int] = mapped_column(ForeignKey("official.id"), index=True)
    topic_id: Mapped[int] = mapped_column(ForeignKey("topic.id"), index=True)
    city_id: Mapped[int | None] = mapped_column(ForeignKey("city.id"))
    text: Mapped[str | None] = mapped_column(Text)
    content_type: Mapped[str] = mapped_column(String(16), default="text")
    source_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    source_message_id: Mapped[int | None] = mapped_column(BigInteger)
    # An album: every message id in order (source_message_id is the first); copied on together.
    album_message_ids: Mapped[list[int] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=QuestionStatus.OPEN, index=True)
    round: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    first_answer_at: Mapped[datetime | None] = mapped_column()
    resolved_at: Mapped[datetime | None] = mapped_column()
    nudged_at: Mapped[datetime | None] = mapped_column()
    escalated_at: Mapped[datetime | None] = mapped_column()
    organisers_notified_at: Mapped[datetime | None] = mapped_column()
    # When its cities have had the escalation delay in their working hours (None: legacy row).
    escalation_due_at: Mapped[datetime | None] = mapped_column()


class Routing(Base):
    __tablename__ = "routing"
    __table_args__ = (
        UniqueConstraint("question_id", "recipient_id"),
        # (A city's history on a topic is read from city_topic_stats, kept as routing changes.)
        # The routings still waiting for an answer (of open questions only: resolving a
        # question closes them), per city: the ranking's open load probes it per candidate
        # city, the follow-up jobs read it whole. Partial, so it holds only the few waiting
        # rows; queries must repeat its condition word for word (`waiting()`) to use it.
        # The condition (WHERE WAITING_SQL, on both databases) is migration 0110's: written
        # here, `sqlite_where` and `postgresql_where` would load both databases' SQLAlchemy
        # dialects into every process.
        Index("ix_routing_waiting", "city_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    question_id: Mapped[int] = mapped_column(
        ForeignKey("question.id", ondelete="CASCADE"), index=True
    )
    recipient_id: Mapped[int] = mapped_column(ForeignKey("official.id"), index=True)
    city_id: Mapped[int] = mapped_column(ForeignKey("city.id"))
    topic_id: Mapped[int | None] = mapped_column(Integer)  # copy of question.topic_id, for ranking
    score: Mapped[float] = mapped_column(Float, default=0.0)
    reason: Mapped[str] = mapped_column(Text, default="")
    round: Mapped[int] = mapped_column(Integer, default=1)
    delivered_message_id: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(
        String(16), default=RoutingStatus.PENDING
    )  # ix_routing_waiting
    last_error: Mapped[str | None] = mapped_column(Text)  # why delivery failed, for organisers
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column()
    answered_at: Mapped[datetime | None] = mapped_column()
    nudged_at: Mapped[datetime | None] = mapped_column()
    nudge_due_at: Mapped[datetime | None] = mapped_column()  # the nudge delay, in working hours


def routing_waiting() -> ColumnElement[bool]:
    """ix_routing_waiting's condition, written so that both databases see it is the index's:
    its values are constants in the SQL (a bound parameter cannot prove a partial index)."""
    return Routing.status.in_(
        [literal_column(f"'{s.value}'") for s in (RoutingStatus.PENDING, RoutingStatus.DELIVERED)]
    )


class CityTopicStats(Base):
    """Per city and topic, the routing history the ranking reads (kept with `routing`).

    Written in the same transaction as the routing rows and first answers it counts, so
    ranking reads a few hundred rows instead of aggregating the whole routing history.
    """

    __tablename__ = "city_topic_stats"

    topic_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    city_id: Mapped[int] = mapped_column(ForeignKey("city.id"), primary_key=True)
    asked: Mapped[int] = mapped_column(Integer, default=0)  # distinct questions routed here
    answered: Mapped[int] = mapped_column(Integer, default=0)  # of those, answered from here
    answer_seconds: Mapped[float] = mapped_column(Float, default=0.0)  # sum, delivery to answer
    answer_count: Mapped[int] = mapped_column(Integer, default=0)  # routings in that sum


class ExchangeMessage(Base):
    """The exchange log: one row per message that crossed between officials."""

    __tablename__ = "exchange_message"
    __table_args__ = (
        Index("ix_exchange_message_delivered", "delivered_chat_id", "delivered_message_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    question_id: Mapped[int] = mapped_column(
        ForeignKey("question.id", ondelete="CASCADE"), index=True
    )
    from_official_id: Mapped[int | None] = mapped_column(ForeignKey("official.id"))
    to_official_id: Mapped[int | None] = mapped_column(ForeignKey("official.id"))
    from_city_id: Mapped[int | None] = mapped_column(ForeignKey("city.id"))
    to_city_id: Mapped[int | None] = mapped_column(ForeignKey("city.id"))
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str | None] = mapped_column(Text)
    content_type: Mapped[str] = mapped_column(String(16), default="text")
    original_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    original_message_id: Mapped[int | None] = mapped_column(BigInteger)
    delivered_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    delivered_message_id: Mapped[int | None] = mapped_column(BigInteger)
    # What went out: {"status": "translated"|"unavailable", "from", "to", "text"}; None: as is
    translation: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Broadcast(Base):
    __tablename__ = "broadcast"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("official.id", ondelete="SET NULL"))
    source_chat_id: Mapped[int] = mapped_column(BigInteger)
    source_message_id: Mapped[int] = mapped_column(BigInteger)
    text: Mapped[str | None] = mapped_column(Text)  # its text or caption, for translation
    target: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    scheduled_at: Mapped[datetime | None] = mapped_column(index=True)
    status: Mapped[str] = mapped_column(String(16), default=BroadcastStatus.DRAFT, index=True)
    total: Mapped[int] = mapped_column(Integer, default=0)
    sent: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    unreachable: Mapped[int] = mapped_column(Integer, default=0)
    progress_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    progress_message_id: Mapped[int | None] = mapped_column(BigInteger)
    progress_at: Mapped[datetime | None] = (
        mapped_column()
    )  # last progress edit (claimed by one worker)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()


class Delivery(Base):
    """The outbox: one row per message to send to one chat (broadcasts, reminders, nudges)."""

    __tablename__ = "delivery"
    __table_args__ = (
        Index("ix_delivery_due", "status", "next_attempt_at"),
        # Replicas keep a chat's one-a-second spacing: a claim skips chats another holds.
        Index("ix_delivery_chat_id", "chat_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(128), unique=True)
    source: Mapped[str] = mapped_column(
        String(16)
    )  # broadcast | reminder | nudge | digest | notice
    broadcast_id: Mapped[int | None] = mapped_column(
        ForeignKey("broadcast.id", ondelete="CASCADE"), index=True
    )
    reminder_id: Mapped[int | None] = mapped_column(ForeignKey("reminder.id", ondelete="CASCADE"))
    recipient_id: Mapped[int | None] = mapped_column(ForeignKey("official.id", ondelete="SET NULL"))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    method: Mapped[str] = mapped_column(String(16), default="copy")  # copy | text
    from_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    text: Mapped[str | None] = mapped_column(Text)
    reply_markup: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_until: Mapped[datetime | None] = mapped_column()
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    # New with every claim: an outcome is written only by the claim it belongs to.
    claim_token: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_message_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()


class Reminder(Base):
    __tablename__ = "reminder"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("official.id", ondelete="SET NULL"))
    text: Mapped[str | None] = mapped_column(Text)
    source_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    source_message_id: Mapped[int | None] = mapped_column(BigInteger)
    target: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    event_at: Mapped[datetime | None] = mapped_column()
    run_at: Mapped[datetime | None] = mapped_column()  # one-off
    rule: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # recurrence
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    next_run_at: Mapped[datetime | None] = mapped_column(index=True)
    last_run_at: Mapped[datetime | None] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), default=ReminderStatus.ACTIVE, index=True)
    working_days: Mapped[bool] = mapped_column(Boolean, default=False)  # moved off days off
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
