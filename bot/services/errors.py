"""Every refusal a service can raise: one `ErrorCode` each, carried by a `ServiceError`.

Handlers turn the code into a message in the user's language (handlers/error_texts.py holds
one text per member, and a test checks none is missing). The details given with an error fill
that text's placeholders; the command line prints the code and the details as they are.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    # Anywhere
    NOT_ALLOWED = "not_allowed"
    NOT_REGISTERED = "not_registered"
    REMOVED = "removed"
    PENDING = "pending"
    REJECTED = "rejected"
    NOT_APPROVED = "not_approved"  # /start after a refused request to join
    STALE = "stale"
    NOT_FOUND = "not_found"
    INVALID = "invalid"
    # Registration, profile, invites and roles
    INVITE_INVALID = "invite_invalid"
    INVITE_EXPIRED = "invite_expired"
    INVITE_USED_UP = "invite_used_up"
    CITY = "city"
    NAME_LENGTH = "name_length"
    NAME_NOT_LATIN = "name_not_latin"
    POSITION_LENGTH = "position_length"
    FIELD = "field"
    NO_TOPICS = "no_topics"
    LANGUAGE = "language"
    NO_LANGUAGES = "no_languages"
    NO_PROFILE = "no_profile"
    OFFICIAL = "official"
    ALREADY_DECIDED = "already_decided"
    ROLE = "role"
    USES = "uses"
    CONFIGURED_ADMIN = "configured_admin"
    ALREADY_REMOVED = "already_removed"
    REMOVE_SELF = "remove_self"
    QUIET_FORMAT = "quiet_format"
    QUIET_EMPTY = "quiet_empty"
    # The exchange
    RATE_LIMITED = "rate_limited"
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    TOPIC = "topic"
    QUESTION = "question"
    CLOSED = "closed"
    NO_THREAD = "no_thread"
    NOT_YOURS = "not_yours"
    NOT_ASKER = "not_asker"
    OWN_QUESTION = "own_question"
    ALREADY_ANSWERED = "already_answered"
    ALREADY_DECLINED = "already_declined"
    ALREADY_ROUTED = "already_routed"
    NOT_RESOLVED = "not_resolved"
    ALREADY_THANKED = "already_thanked"
    OWN_CITY = "own_city"
    NOBODY_IN_CITY = "nobody_in_city"
    GONE = "gone"
    # The library
    NO_WORDS = "no_words"
    ALREADY_SHARED = "already_shared"
    NOT_ANSWERED = "not_answered"
    ENTRY_GONE = "entry_gone"
    NO_WORDS_HERE = "no_words_here"
    TITLE_LENGTH = "title_length"
    # Broadcasts
    NO_RECIPIENTS = "no_recipients"
    BAD_BROADCAST_TIME = "bad_broadcast_time"
    TIME_PAST = "time_past"
    TIME_FAR = "time_far"
    NOT_CANCELLABLE = "not_cancellable"
    # Reminders (dates and times typed by organisers)
    BAD_DATETIME = "bad_datetime"
    BAD_TIME = "bad_time"
    IN_PAST = "in_past"
    TIME_PASSED = "time_passed"
    TEXT_LENGTH = "text_length"
    NO_MESSAGE = "no_message"
    EMPTY_AUDIENCE = "empty_audience"
    # Reports and exports
    PERIOD = "period"
    DATES = "dates"
    DATES_ORDER = "dates_order"
    FORMAT = "format"
    # Absences (/away)
    AWAY_DATE = "away_date"
    AWAY_PAST = "away_past"
    AWAY_ORDER = "away_order"
    AWAY_TOO_LONG = "away_too_long"
    AWAY_DEPUTY = "away_deputy"
    # The command line
    SEED_FILE = "seed_file"


class ServiceError(Exception):
    """A refusal the user should be told about; `code` selects the message."""

    def __init__(self, code: ErrorCode, **details: object) -> None:
        super().__init__(code)
        self.code = code
        self.details = details


class NotAllowed(ServiceError):
    """The person may not do this (their role, or they are not registered)."""


class NotFound(ServiceError):
    """What the request names does not exist (any more)."""


class InvalidInput(ServiceError):
    """A value the person typed or a button sent is not one the service accepts."""
