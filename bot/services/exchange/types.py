"""The exchange's plain data: the dialog steps and limits, a person, a message's content, what
the handler must send (Outgoing) and what happened when it did (Sent), and the results the
exchange services return."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from bot.db.catalogue import CityName
from bot.db.models import OfficialStatus, QuestionStatus, RoutingStatus
from bot.services.catalogue import TopicInfo
from bot.services.translation import Rendition

STEP_TOPIC = "ex.topic"

STEP_COMPOSE = "ex.compose"

STEP_PREVIEW = "ex.preview"

STEP_ANSWER = "ex.answer"

QUESTION_MIN = 5

QUESTION_MAX = 3500

RECENT_QUESTIONS = 10

INBOX_MAX = 20

CLOSED = (QuestionStatus.RESOLVED, QuestionStatus.EXPIRED, QuestionStatus.WITHDRAWN)

DONE_ROUTING = (RoutingStatus.DECLINED, RoutingStatus.FAILED, RoutingStatus.UNREACHABLE)

REACHED = (
    RoutingStatus.DELIVERED,
    RoutingStatus.ANSWERED,
    RoutingStatus.DECLINED,
    RoutingStatus.CLOSED,
)


@dataclass(frozen=True)
class Person:
    official_id: int
    chat_id: int
    locale: str
    name: str
    position: str
    city_id: int | None
    city_name: str
    timezone: str
    status: str = OfficialStatus.ACTIVE
    # How readers abroad write the name, when it is not in Latin letters and the person said.
    name_latin: str | None = None
    city_names: dict[str, str] = field(default_factory=dict)  # the city's name per language
    machine_translation: bool = True  # others' words reach them translated


@dataclass(frozen=True)
class Content:
    """A message to relay: its kind, its text or caption, and where to copy it from."""

    content_type: str
    text: str | None
    chat_id: int | None
    message_id: int | None
    # An album (messages sharing a media_group_id) is copied on whole: its ids in order.
    album: tuple[int, ...] = ()
    group: str | None = None  # the media_group_id this message arrived with

    def as_dict(self) -> dict[str, Any]:
        return {
            "content_type": self.content_type,
            "text": self.text,
            "chat_id": self.chat_id,
            "message_id": self.message_id,
            "album": list(self.album),
            "group": self.group,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Content:
        return cls(
            d["content_type"],
            d.get("text"),
            d.get("chat_id"),
            d.get("message_id"),
            tuple(int(i) for i in d.get("album") or ()),
            d.get("group"),
        )


class AskedQuestion(NamedTuple):
    text: str | None  # None: a photo, document, ... without a caption
    content_type: str


@dataclass(frozen=True)
class Outgoing:
    """One message the handler must send: a question to a recipient, an answer, a follow-up."""

    kind: str  # question | answer | follow_up
    question_id: int
    routing_id: int | None
    sender: Person
    recipient: Person
    topic: TopicInfo
    content: Content
    # A later item of an album already relayed with its header and buttons: sent bare, and
    # the sender is not told again.
    quiet: bool = False
    # Whether recording it ends the sender's answer step: False when a Telegram reply's lookup
    # found none open, so the relay's write skips the dialog row.
    ends_step: bool = True
    # The words as this reader gets them when they are in another language (None: as written).
    translation: Rendition | None = None
    # Whether the recipient may be away (/away), so the sender is told who has it meanwhile:
    # False when the lookup that found the thread saw they are not, and need not look again.
    recipient_may_be_away: bool = True
    # The question, when this reader asked it: an answer or follow-up to the asker quotes its
    # first words, so an asker with two open questions on one topic knows which it is about.
    asked: AskedQuestion | None = None


@dataclass(frozen=True)
class Sent:
    """What happened when the handler sent an Outgoing."""

    outgoing: Outgoing
    message_id: int | None
    error: str | None = None
    blocked: bool = False


@dataclass(frozen=True)
class Draft:
    topic: TopicInfo
    asker: Person
    content: Content
    needs_text: bool
    # The album preview already shown (header id, copies' ids): refreshed, not sent again.
    preview: tuple[int, list[int]] | None = None


@dataclass(frozen=True)
class AskResult:
    question_id: int
    topic: TopicInfo
    asker: Person
    deliveries: list[Outgoing]
    organisers: list[Person] = field(default_factory=list)  # told when nobody covers the topic
    text: str | None = None  # the question's words (text or caption), quoted to organisers
    content_type: str = "text"


@dataclass(frozen=True)
class Recorded:
    # Cities where at least one official received the question from these sends, best first
    # (not those of earlier rounds: the person is told where it went this time).
    cities: list[CityName]
    more: list[Outgoing]  # next-ranked cities tried because a whole city failed or declined


@dataclass(frozen=True)
class Brief:
    """A question as shown in lists and prompts."""

    question_id: int
    topic: TopicInfo
    asker: Person
    text: str | None
    content_type: str
    status: str
    created_at: datetime
    routing_id: int | None = None
    cities: list[CityName] = field(default_factory=list)
    answers: int = 0


@dataclass(frozen=True)
class Resolved:
    question_id: int
    topic: TopicInfo
    helpers: int
    shareable: bool = False  # words and answers: the asker may add it to the library


@dataclass(frozen=True)
class Thanks:
    asker: Person
    topic: TopicInfo
    helpers: list[Person]
    text: str | None = None  # the question's words (text or caption), quoted to the helpers
    content_type: str = "text"
