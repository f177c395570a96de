"""Button data of the reports (export, statistics) and of managing the network (cities,
invites, the audit log); see handlers/callbacks.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from handlers.callbacks import CallbackData

# A report's period: the last n days (bot.services.reports.PERIOD_DAYS) or everything.
ReportPeriod = Literal["7", "30", "90", "all"]
ExportFilterKind = Literal["cities", "countries", "topics"]
ExportFileFormat = Literal["csv", "xlsx", "jsonl"]
InviteRole = Literal["official", "organiser"]
InviteUses = Literal["1", "5", "20", "unlimited"]


class ExportButton(CallbackData, prefix="export"):
    """/export: the period, the filters, the format."""


@dataclass(frozen=True)
class ExportPeriod(ExportButton, action="period"):
    period: ReportPeriod


@dataclass(frozen=True)
class ExportTypeDates(ExportButton, action="type-dates"):
    """The period as two typed dates."""


@dataclass(frozen=True)
class ExportChangePeriod(ExportButton, action="change-period"):
    pass


@dataclass(frozen=True)
class ExportMenu(ExportButton, action="menu"):
    pass


@dataclass(frozen=True)
class ExportCancel(ExportButton, action="cancel"):
    pass


@dataclass(frozen=True)
class ExportChoices(ExportButton, action="filter"):
    """Show the choices of one filter, at a page."""

    kind: ExportFilterKind
    page: int


@dataclass(frozen=True)
class ExportToggle(ExportButton, action="toggle"):
    """Add or remove one choice (bot.services.reports.Choice.key) of a filter."""

    kind: ExportFilterKind
    key: str
    page: int


@dataclass(frozen=True)
class ExportFormat(ExportButton, action="format"):
    file_format: ExportFileFormat


class StatsButton(CallbackData, prefix="stats"):
    """/stats: the period."""


@dataclass(frozen=True)
class StatsPeriod(StatsButton, action="period"):
    period: ReportPeriod


class CitiesButton(CallbackData, prefix="cities"):
    """/cities: the list, one city's officials, removing an official."""


@dataclass(frozen=True)
class CitiesPage(CitiesButton, action="page"):
    page: int


@dataclass(frozen=True)
class CityOfficials(CitiesButton, action="city"):
    city_id: int
    page: int


@dataclass(frozen=True)
class RemoveOfficial(CitiesButton, action="remove"):
    """Ask to confirm the removal."""

    official_id: int


@dataclass(frozen=True)
class ConfirmRemoval(CitiesButton, action="confirm-removal"):
    official_id: int


class InviteButton(CallbackData, prefix="invite"):
    """/invite: the city, the role (admins only), the number of uses."""


@dataclass(frozen=True)
class InviteCitiesPage(InviteButton, action="page"):
    page: int


@dataclass(frozen=True)
class InviteCity(InviteButton, action="city"):
    city_id: int


@dataclass(frozen=True)
class InviteAs(InviteButton, action="role"):
    city_id: int
    role: InviteRole


@dataclass(frozen=True)
class InviteUsesChoice(InviteButton, action="uses"):
    city_id: int
    role: InviteRole
    uses: InviteUses


class AuditButton(CallbackData, prefix="audit"):
    """/audit: paging."""


@dataclass(frozen=True)
class AuditPage(AuditButton, action="page"):
    page: int
