"""The statuses, roles and kinds stored in the tables, as string enums (stored by value)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    OFFICIAL = "official"
    ORGANISER = "organiser"
    ADMIN = "admin"


class OfficialStatus(StrEnum):
    REGISTERING = "registering"  # filling in the profile
    PENDING = "pending"  # waiting for an organiser's approval
    ACTIVE = "active"
    UNREACHABLE = "unreachable"  # blocked the bot (403)
    REJECTED = "rejected"
    REMOVED = "removed"
    ERASED = "erased"  # personal data erased at their request


class QuestionStatus(StrEnum):
    OPEN = "open"
    ANSWERED = "answered"
    RESOLVED = "resolved"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"  # the asker left (erased their data, or was removed) before then


class RoutingStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    ANSWERED = "answered"
    DECLINED = "declined"
    FAILED = "failed"
    UNREACHABLE = "unreachable"
    CLOSED = "closed"  # the question was resolved or withdrawn before this recipient answered


# Routing rows still waiting for their recipient (see ix_routing_waiting).
WAITING_SQL = f"status IN ('{RoutingStatus.PENDING.value}', '{RoutingStatus.DELIVERED.value}')"


class ExchangeKind(StrEnum):
    QUESTION = "question"
    ROUTING = "routing"
    ANSWER = "answer"
    FOLLOW_UP = "follow_up"
    DECLINE = "decline"
    RESOLVED = "resolved"
    # Closed by its asker with a library entry before it was sent ("This answers it").
    FROM_LIBRARY = "from_library"
    NUDGE = "nudge"
    ESCALATION = "escalation"


class BroadcastStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    DONE = "done"
    CANCELLED = "cancelled"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    UNREACHABLE = "unreachable"
    CANCELLED = "cancelled"


class ReminderStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    DONE = "done"
    DELETED = "deleted"
