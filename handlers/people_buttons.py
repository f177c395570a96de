"""Button data of joining, the profile, privacy and requests to join (handlers/callbacks.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from handlers.callbacks import CallbackData

YesNo = Literal["yes", "no"]


class LanguageButton(CallbackData, prefix="language"):
    """/language: the language the bot speaks to this person."""


@dataclass(frozen=True)
class LanguageSet(LanguageButton, action="set"):
    code: str


@dataclass(frozen=True)
class MachineTranslation(LanguageButton, action="mt"):
    """Whether others' words reach this person machine-translated into their language."""

    setting: Literal["on", "off"]


class RegistrationButton(CallbackData, prefix="registration"):
    """Joining: the invited city, the city picker (no invite), the privacy notice."""


@dataclass(frozen=True)
class RegistrationCity(RegistrationButton, action="city"):
    """Is the city of the invite link this person's city?"""

    answer: YesNo


@dataclass(frozen=True)
class RegistrationCitiesPage(RegistrationButton, action="page"):
    page: int


@dataclass(frozen=True)
class RegistrationPickCity(RegistrationButton, action="pick"):
    city_id: int


@dataclass(frozen=True)
class RegistrationPrivacy(RegistrationButton, action="privacy"):
    answer: YesNo


class TopicButton(CallbackData, prefix="topics"):
    """The topics a person works on (joining and profile)."""


@dataclass(frozen=True)
class TopicToggle(TopicButton, action="toggle"):
    topic_id: int
    page: int


@dataclass(frozen=True)
class TopicsPage(TopicButton, action="page"):
    page: int


@dataclass(frozen=True)
class TopicsDone(TopicButton, action="done"):
    pass


class WorkLanguageButton(CallbackData, prefix="work-languages"):
    """The languages a person can work in (joining and profile)."""


@dataclass(frozen=True)
class WorkLanguageToggle(WorkLanguageButton, action="toggle"):
    code: str


@dataclass(frozen=True)
class WorkLanguagesDone(WorkLanguageButton, action="done"):
    pass


class ProfileButton(CallbackData, prefix="profile"):
    """/profile: edit one part, or turn the weekly digest on or off."""


@dataclass(frozen=True)
class ProfileEdit(ProfileButton, action="edit"):
    part: Literal["name", "latin", "position", "topics", "languages"]


@dataclass(frozen=True)
class ProfileDigest(ProfileButton, action="digest"):
    setting: Literal["on", "off"]


class NameLatinButton(CallbackData, prefix="name-latin"):
    """A name not in Latin letters: go on without a Latin form (joining and profile)."""


@dataclass(frozen=True)
class NameLatinNone(NameLatinButton, action="none"):
    pass


@dataclass(frozen=True)
class EraseMyData(CallbackData, prefix="erase"):
    """/privacy and /deleteme: ask to confirm, then erase or keep."""

    choice: Literal["ask", "yes", "no"]


@dataclass(frozen=True)
class JoinRequestDecision(CallbackData, prefix="join-request"):
    """/pending: an organiser approves or rejects a request to join."""

    verdict: Literal["approve", "reject"]
    official_id: int


class AwayButton(CallbackData, prefix="away"):
    """/away: the first and last day (as day numbers), the deputy, coming back, and an
    organiser's choice of whom it is for."""


@dataclass(frozen=True)
class AwayFrom(AwayButton, action="from"):
    day: int  # date.toordinal()


@dataclass(frozen=True)
class AwayUntil(AwayButton, action="until"):
    day: int


@dataclass(frozen=True)
class AwayDeputy(AwayButton, action="deputy"):
    official_id: int  # 0: no deputy


@dataclass(frozen=True)
class AwayBack(AwayButton, action="back"):
    official_id: int


@dataclass(frozen=True)
class AwayCities(AwayButton, action="cities"):
    page: int


@dataclass(frozen=True)
class AwayCity(AwayButton, action="city"):
    city_id: int


@dataclass(frozen=True)
class AwayPerson(AwayButton, action="person"):
    official_id: int


@dataclass(frozen=True)
class AwayCancel(AwayButton, action="cancel"):
    pass
