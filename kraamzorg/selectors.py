"""Reads of the kraamzorg intake grid."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from django.utils import timezone

from core.time import ZONE
from hospitals.models import Organisation
from kraamzorg.models import IntakeWeek, WorkArea, monday_of
from kraamzorg.services import weeks_ahead

# Weekly figures not confirmed for longer than this are flagged (issue 15, docs/kraamzorg.md).
STALE_AFTER = timedelta(days=7)


@dataclass(frozen=True)
class GridWeek:
    """One week of an organisation's grid: its stored row, or None when never filled in."""

    week: date
    row: IntakeWeek | None
    stale: bool

    @property
    def version(self) -> int:
        return self.row.version if self.row else 0


def is_stale(row: IntakeWeek | None, now: datetime | None = None) -> bool:
    """Never filled in, or not confirmed for more than seven days."""
    return row is None or (now or timezone.now()) - row.confirmed_at > STALE_AFTER


def grid(organisation_id: int, now: datetime | None = None) -> list[GridWeek]:
    """The twelve weeks a planner keeps, in order, in one query."""
    now = now or timezone.now()
    weeks = weeks_ahead(now)
    rows = {row.week: row for row in IntakeWeek.objects.filter(organisation_id=organisation_id, week__in=weeks)}
    return [GridWeek(week=w, row=rows.get(w), stale=is_stale(rows.get(w), now)) for w in weeks]


def plan_fingerprint(organisation_id: int, now: datetime | None = None) -> str:
    """``2026-12-07:3,2026-12-14:0,…``: each week of the grid with its version (0: never filled in).

    The planner's page reads the same from its cards (``data-week``, ``data-version``), so it can tell
    on every (re)connect whether a change passed it by, whatever it saved itself meanwhile.
    """
    return ",".join(f"{w.week:%Y-%m-%d}:{w.version}" for w in grid(organisation_id, now))


# --- the midwife's view: who can take in a family due in a given week, in a postcode area ---------


class IntakeState(StrEnum):
    """What an organisation's figures for one week say about taking in one more family."""

    FULL = "full"  # open or limited, room for families, the full indicated hours
    MINIMUM = "minimum"  # room for families, but only a stated minimum of hours
    NO_ROOM = "no_room"  # open or limited, but no room for new families
    STOP = "stop"  # intake stop
    UNKNOWN = "unknown"  # the week was never filled in


@dataclass(frozen=True)
class IntakeOption:
    """One kraamzorg organisation serving the client's postcode area, with its figures for her due week."""

    organisation_id: int
    name: str
    team: str  # the team whose share of the work area holds the postcode, or ""
    row: IntakeWeek | None
    stale: bool
    # The organisation's intake number (hospitals.Organisation.phone); the call link shows only when set.
    phone: str = ""
    phone_e164: str = ""
    synthetic: bool = False  # demo data (Organisation.synthetic): the entry says so

    @property
    def state(self) -> IntakeState:
        row = self.row
        if row is None:
            return IntakeState.UNKNOWN
        if row.status == IntakeWeek.Status.STOP:
            return IntakeState.STOP
        if row.families == 0:
            return IntakeState.NO_ROOM
        return IntakeState.FULL if row.hours == IntakeWeek.Hours.FULL else IntakeState.MINIMUM

    @property
    def rank(self) -> int:
        """0 full hours, 1 a stated minimum, 2 unknown (never filled in, or stale), 3 no room or intake stop."""
        if self.row is None or self.stale:
            return 2
        return {IntakeState.FULL: 0, IntakeState.MINIMUM: 1}.get(self.state, 3)

    @property
    def phone_href(self) -> str:
        return f"tel:{self.phone_e164}" if self.phone_e164 else ""

    def sort_key(self) -> tuple[int, int, int, str]:
        row = self.row
        minimum = (row.minimum_hours or 0) if row is not None and self.rank == 1 else 0
        return (self.rank, -minimum, -(row.families if row is not None else 0), self.name.casefold())


def intake_for(pc4: str, due_week: date, now: datetime | None = None) -> list[IntakeOption]:
    """The kraamzorg organisations whose work area holds ``pc4``, ranked for a family due in ``due_week``.

    Ranked by whether they can take her in: the full indicated hours first, then a stated minimum
    (the higher first), then those whose figures are unknown (never filled in, or not confirmed for
    more than 7 days), then no room or an intake stop; ties by more families, then by name.
    Two indexed queries: the work areas of the postcode, and those organisations' rows of the week.
    """
    now = now or timezone.now()
    areas = list(
        WorkArea.objects.filter(pc4=pc4, organisation__kind=Organisation.Kind.KRAAMZORG).select_related(
            "organisation", "team"
        )
    )
    if not areas:
        return []
    rows = {
        row.organisation_id: row
        for row in IntakeWeek.objects.filter(organisation_id__in=[a.organisation_id for a in areas], week=due_week)
    }
    options = [
        IntakeOption(
            organisation_id=area.organisation_id,
            name=area.organisation.name,
            team=area.team.name if area.team is not None else "",
            row=rows.get(area.organisation_id),
            stale=is_stale(rows.get(area.organisation_id), now),
            phone=area.organisation.phone,
            phone_e164=area.organisation.phone_e164,
            synthetic=area.organisation.synthetic,
        )
        for area in areas
    ]
    return sorted(options, key=IntakeOption.sort_key)


def intake_fingerprint(organisation_ids: list[int], due_week: date) -> str:
    """Changes whenever one of these organisations' figures for the week change (a reconnecting page checks it)."""
    values = (
        IntakeWeek.objects.filter(organisation_id__in=organisation_ids, week=due_week)
        .order_by("organisation_id")
        .values_list("organisation_id", "version", "confirmed_at")
    )
    return hashlib.sha256(repr(list(values)).encode()).hexdigest()[:16]


# A due date is at most 44 weeks away (a pregnancy is ~40 weeks; a midwife may look before it is known).
DUE_WEEKS_AHEAD = 44


def due_week_range(now: datetime | None = None) -> tuple[date, date]:
    """The first and the last due week (their Mondays) the midwife's view answers for: this Dutch week and 43 more."""
    today = (now or timezone.now()).astimezone(ZONE).date()
    first = monday_of(today)
    return first, first + timedelta(weeks=DUE_WEEKS_AHEAD - 1)
