"""Placement-request statistics for coordinators: per location and region, one period (docs/requests.md).

Reads only. The period is a refusal-statistics ``Period`` (quarter, month, ISO week, Dutch local
days); a request belongs to the period it was **sent** in and to the region it was sent in (copied
when sent, like a refusal's).

Definitions (the page and the files say the same):

* **accepted**: the location said yes: accepted, arrived, or accepted and withdrawn by the midwife
  afterwards (an acceptance sets ``answered_at``; only an acceptance leads to a withdrawal with it).
* **answered or expired** (the acceptance rate's denominator): accepted + declined + expired.
  Not in it: requests withdrawn before any answer (by the midwife, or because another location of
  the same ask took her in first), counted separately, and requests still open.
* **time to answer**: ``answered_at - sent_at`` over accepted and declined requests; median and
  90th percentile interpolated between ranks, as PostgreSQL's ``percentile_cont`` does, computed
  here so that the embedded SQLite mode gives the same figures.

Two queries for the counts and the durations (one grouped read, one row per answered request of
the region and period), one for the names of the locations in them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, DurationField, ExpressionWrapper, F, QuerySet
from django.utils import timezone

from hospitals.models import Location, Region
from placements.models import PlacementRequest
from refusals.models import Refusal
from refusals.statistics import Period

State = PlacementRequest.State
Withdrawn = PlacementRequest.Withdrawn


def percentile(values: list[timedelta], p: float) -> timedelta | None:
    """The ``p`` quantile (0..1) of sorted ``values``, linear between ranks (``percentile_cont``)."""
    if not values:
        return None
    rank = (len(values) - 1) * p
    low = math.floor(rank)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (rank - low)


@dataclass
class Figures:
    """One location's requests in the period, or the region's (``location_id`` None)."""

    location_id: int | None = None
    name: str = ""
    requests: int = 0
    accepted: int = 0  # accepted, arrived, or accepted and then withdrawn by the midwife
    declined: int = 0
    expired: int = 0
    withdrawn_by_midwife: int = 0  # before any answer
    withdrawn_taken_elsewhere: int = 0  # before any answer: another location of the ask accepted first
    still_open: int = 0  # sent or seen, no answer yet
    declines: dict[str, int] = field(default_factory=lambda: dict.fromkeys(Refusal.Reason.values, 0))
    durations: list[timedelta] = field(default_factory=list)  # answered_at - sent_at, shortest first

    @property
    def withdrawn_before_answer(self) -> int:
        return self.withdrawn_by_midwife + self.withdrawn_taken_elsewhere

    @property
    def answered_or_expired(self) -> int:
        """The acceptance rate's denominator."""
        return self.accepted + self.declined + self.expired

    @property
    def acceptance_rate(self) -> float | None:
        """Accepted as a percentage (one decimal) of the requests answered or expired; None without any."""
        if not self.answered_or_expired:
            return None
        return round(100 * self.accepted / self.answered_or_expired, 1)

    @property
    def answered(self) -> int:
        return len(self.durations)

    @property
    def median(self) -> timedelta | None:
        return percentile(self.durations, 0.5)

    @property
    def p90(self) -> timedelta | None:
        return percentile(self.durations, 0.9)

    @property
    def median_minutes(self) -> float | None:
        return _minutes(self.median)

    @property
    def p90_minutes(self) -> float | None:
        return _minutes(self.p90)

    @property
    def per_reason(self) -> list[dict[str, object]]:
        """Declines per refusal reason, every reason listed (0 included), in the reasons' order."""
        names = dict(Refusal.Reason.choices)
        return [{"key": k, "name": str(names[k]), "count": n} for k, n in self.declines.items()]

    def add(self, state: str, reason: str, why: str, n: int, answered: int) -> None:
        self.requests += n
        if state in (State.ACCEPTED, State.ARRIVED):
            self.accepted += n
        elif state == State.DECLINED:
            self.declined += n
            self.declines[reason] = self.declines.get(reason, 0) + n
        elif state == State.EXPIRED:
            self.expired += n
        elif state == State.WITHDRAWN:
            # Withdrawn after an acceptance: the location said yes (answered_at is set).
            self.accepted += answered
            before = n - answered
            if why == Withdrawn.TAKEN_ELSEWHERE:
                self.withdrawn_taken_elsewhere += before
            else:
                self.withdrawn_by_midwife += before
        else:
            self.still_open += n


def _minutes(value: timedelta | None) -> float | None:
    return None if value is None else round(value.total_seconds() / 60, 1)


@dataclass
class RequestStatistics:
    region: Region
    period: Period
    days_done: int
    total: Figures
    per_location: list[Figures]  # by requests, most first, then by name

    @property
    def provisional(self) -> bool:
        """The period is still running: its figures will still grow (as the refusal statistics say)."""
        return self.days_done < self.period.days

    @property
    def reasons(self) -> list[tuple[str, str]]:
        return [(k, str(name)) for k, name in Refusal.Reason.choices]


def requests_in(region: Region, period: Period) -> QuerySet[PlacementRequest]:
    """The region's requests sent in the period (Dutch local days), unordered."""
    start, end = period.bounds()
    return PlacementRequest.objects.filter(region=region, sent_at__gte=start, sent_at__lt=end).order_by()


def request_statistics(region: Region, period: Period, *, now: datetime | None = None) -> RequestStatistics:
    qs = requests_in(region, period)
    total = Figures()
    per_location: dict[int, Figures] = {}
    grouped = (
        qs.values_list("location_id", "state", "decline_reason", "withdrawn_why")
        .annotate(n=Count("id"), answered=Count("answered_at"))
        .order_by()
    )
    for location_id, state, reason, why, n, answered in grouped:
        for figures in (total, per_location.setdefault(location_id, Figures(location_id=location_id))):
            figures.add(state, reason, why, n, answered)
    # One row per answered request of this region and period (bounded by the period), shortest first;
    # the difference is taken in the database, PostgreSQL or SQLite alike.
    took = ExpressionWrapper(F("answered_at") - F("sent_at"), output_field=DurationField())
    for location_id, duration in (
        qs.filter(answered_at__isnull=False).annotate(took=took).values_list("location_id", "took").order_by("took")
    ):
        total.durations.append(duration)
        per_location[location_id].durations.append(duration)
    names = dict(Location.objects.filter(pk__in=per_location).values_list("pk", "name"))
    for figures in per_location.values():
        figures.name = names.get(figures.location_id or 0, "?")
    return RequestStatistics(
        region=region,
        period=period,
        days_done=period.days_done(timezone.localdate(now or timezone.now())),
        total=total,
        per_location=sorted(per_location.values(), key=lambda f: (-f.requests, f.name)),
    )
