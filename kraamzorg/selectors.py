"""Reads of the kraamzorg intake grid."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.utils import timezone

from kraamzorg.models import IntakeWeek
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
