"""Button data of the exchange: asking, answering or declining, replying, closing, routing by
hand, the digest (handlers/callbacks.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from handlers.callbacks import CallbackData


class AskButton(CallbackData, prefix="ask"):
    """/ask: the topic (by group, then topic), then Send or Cancel under the preview."""


@dataclass(frozen=True)
class AskGroups(AskButton, action="groups"):
    page: int


@dataclass(frozen=True)
class AskGroup(AskButton, action="group"):
    """The topics of one group, named by its first topic."""

    first_topic_id: int
    page: int


@dataclass(frozen=True)
class AskTopic(AskButton, action="topic"):
    topic_id: int


@dataclass(frozen=True)
class AskSend(AskButton, action="send"):
    pass


@dataclass(frozen=True)
class AskCancel(AskButton, action="cancel"):
    pass


@dataclass(frozen=True)
class AskAnswered(AskButton, action="answered"):
    """ "This answers it" under a library entry offered before the question is sent."""

    entry_id: int


@dataclass(frozen=True)
class AskAnyway(AskButton, action="anyway"):
    """ "Ask anyway": past the library entries offered, to the preview."""


@dataclass(frozen=True)
class QuestionAction(CallbackData, prefix="question"):
    """A question sent to this official: answer it, or decline it ("Not for me")."""

    action: Literal["answer", "decline"]
    routing_id: int


class ReplyButton(CallbackData, prefix="reply"):
    """Reply in the thread of a question."""


@dataclass(frozen=True)
class ReplyTo(ReplyButton, action="to"):
    routing_id: int


@dataclass(frozen=True)
class MyQuestionAction(CallbackData, prefix="my-question"):
    """The asker's question: mark it resolved, thank the helpers."""

    action: Literal["resolve", "thank"]
    question_id: int


@dataclass(frozen=True)
class RateAnswer(CallbackData, prefix="rate"):
    """The asker rates an answer (the answers of one official to their question)."""

    action: Literal["useful", "not"]
    routing_id: int


class RouteButton(CallbackData, prefix="route"):
    """Organisers send a question nobody covers to a city they choose."""


@dataclass(frozen=True)
class RouteCities(RouteButton, action="cities"):
    question_id: int
    page: int


@dataclass(frozen=True)
class RouteToCity(RouteButton, action="city"):
    question_id: int
    city_id: int


class DigestButton(CallbackData, prefix="digest"):
    """The weekly digest offers open questions to answer."""


@dataclass(frozen=True)
class DigestAnswer(DigestButton, action="answer"):
    question_id: int
