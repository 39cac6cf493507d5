"""What happened after a refusal: the safety and equity view (docs/refusals.md, "Outcomes").

For one region, period and filters, from the refusals themselves (non-withdrawn):

* where the client went: another location (in the region or outside it), birth at home, unknown;
* how many hospitals were called in all (as the midwife recorded it);
* gestational-age band × care type, the bands of the levels of care (docs/domain: below 32 weeks
  a perinatal centre, 32-33 high care, 34-36 medium care, from 37 term);
* kind of referral: the practice's VSV against the refusing location's VSV (same, across VSVs,
  unknown), and the distance from the practice's postcode to the refusing location.

Small numbers (``SUPPRESS_BELOW``) are suppressed wherever figures are shown outside the
coordinator's own region (``must_suppress``): cells of 1-4 show as "<5", and when a table would
otherwise let a suppressed cell be worked out from its total, the next smallest cell is
suppressed too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Case, CharField, Count, QuerySet, Value, When
from django.utils.translation import gettext_lazy as _

from core.geo import distance_km
from hospitals.models import Location, Region, User
from hospitals.selectors import practice_points, practice_vsv_ids
from refusals.models import Refusal
from refusals.statistics import Filters, Period, filtered

SUPPRESS_BELOW = 5
SUPPRESSED = "<5"

# Gestational-age bands (weeks, inclusive) as the levels of care split them; None: not recorded.
GA_BANDS: list[tuple[str, Any, int, int]] = [
    ("16-23", _("16–23 weeks"), 16, 23),
    ("24-31", _("24–31 weeks (perinatal centre)"), 24, 31),
    ("32-33", _("32–33 weeks (high care)"), 32, 33),
    ("34-36", _("34–36 weeks (medium care)"), 34, 36),
    ("37-41", _("37–41 weeks (term)"), 37, 41),
    ("42-44", _("42–44 weeks"), 42, 44),
]
CALLED = [("1", "1"), ("2", "2"), ("3", "3"), ("4", "4"), ("5-9", "5–9"), ("10+", "10+")]
DISTANCE_BANDS: list[tuple[str, Any, float]] = [
    ("0-10", _("under 10 km"), 10.0),
    ("10-25", _("10–25 km"), 25.0),
    ("25-50", _("25–50 km"), 50.0),
    ("50+", _("50 km or more"), math.inf),
]
NOT_RECORDED = ("none", _("not recorded"))


@dataclass
class Cell:
    key: str
    name: str
    count: int
    suppressed: bool = False

    @property
    def shown(self) -> str:
        return SUPPRESSED if self.suppressed else str(self.count)

    @property
    def value(self) -> int | str:
        """For exports: the number, or "<5"."""
        return SUPPRESSED if self.suppressed else self.count


@dataclass
class GaRow:
    key: str
    name: str
    cells: list[Cell]
    total: Cell


@dataclass
class Outcomes:
    region: Region
    period: Period
    filters: Filters
    suppressed: bool
    total: Cell = field(default_factory=lambda: Cell("total", "", 0))
    where: list[Cell] = field(default_factory=list)
    called: list[Cell] = field(default_factory=list)
    care_types: list[tuple[str, str]] = field(default_factory=list)
    ga: list[GaRow] = field(default_factory=list)
    referral: list[Cell] = field(default_factory=list)
    distance: list[Cell] = field(default_factory=list)


def must_suppress(user: User, region: Region) -> bool:
    """Exact figures only for the region's own coordinators; everyone else sees small cells suppressed."""
    return not (user.role == User.Role.COORDINATOR and user.region_id == region.pk and not user.is_superuser)


def is_small(count: int) -> bool:
    """1 to SUPPRESS_BELOW - 1: a count that could point at a person (0 can be shown)."""
    return 0 < count < SUPPRESS_BELOW


def suppress(cells: list[Cell], *, total_shown: bool = True) -> None:
    """Primary suppression of 1..SUPPRESS_BELOW-1, then secondary: with the total shown, one
    suppressed cell could be worked out from it, so the next smallest non-zero cell goes too."""
    for c in cells:
        c.suppressed = is_small(c.count)
    hidden = [c for c in cells if c.suppressed]
    if total_shown and len(hidden) == 1:
        others = sorted((c for c in cells if c.count and not c.suppressed), key=lambda c: c.count)
        if others:
            others[0].suppressed = True


def _refusals(region: Region, period: Period, filters: Filters) -> QuerySet[Refusal]:
    start, end = period.bounds()
    qs = Refusal.objects.filter(region=region, occurred_at__gte=start, occurred_at__lt=end, withdrawn_at__isnull=True)
    return filtered(qs, filters).order_by()


def _ga_band() -> Case:
    """The gestational-age band of a refusal, in SQL (GA_BANDS; "none" when not recorded)."""
    whens = [
        When(gestational_weeks__gte=low, gestational_weeks__lte=high, then=Value(key))
        for key, _n, low, high in GA_BANDS
    ]
    return Case(*whens, default=Value(NOT_RECORDED[0]), output_field=CharField())


def _called_band() -> Case:
    """How many hospitals were called, banded in SQL (CALLED; "none" when not recorded)."""
    whens = [When(hospitals_called=n, then=Value(str(n))) for n in range(1, 5)]
    whens += [When(hospitals_called__gte=5, hospitals_called__lte=9, then=Value("5-9"))]
    whens += [When(hospitals_called__gte=10, then=Value("10+"))]
    return Case(*whens, default=Value(NOT_RECORDED[0]), output_field=CharField())


def _distance_band(km: float | None) -> str:
    if km is None:
        return NOT_RECORDED[0]
    return next(key for key, _n, below in DISTANCE_BANDS if km < below)


def outcomes(region: Region, period: Period, filters: Filters, *, suppressed: bool) -> Outcomes:
    result = Outcomes(region=region, period=period, filters=filters, suppressed=suppressed)
    base = _refusals(region, period, filters)
    # Two grouped reads, each small: the client's path (where she went, hospitals called, GA band,
    # care type) and the referral (practice × refusing location), rather than one row per refusal.
    paths = list(
        base.annotate(called=_called_band(), ga=_ga_band())
        .values_list("outcome", "outcome_location_id", "called", "ga", "care_type")
        .annotate(n=Count("id"))
    )
    rows = list(base.values_list("practice_id", "location_id").annotate(n=Count("id")))
    practices = {p for p, _loc, _n in rows if p}
    locations = {loc for _p, loc, _n in rows} | {taken for _o, taken, *_r in paths if taken}
    location_at = {
        pk: (vsv, lat, lon, region_id)
        for pk, vsv, lat, lon, region_id in Location.objects.filter(pk__in=locations).values_list(
            "pk", "vsv_id", "latitude", "longitude", "region_id"
        )
    }
    points = practice_points(practices)
    vsv_of_practice = practice_vsv_ids(practices, points=points)

    where: dict[str, int] = {}
    called: dict[str, int] = {}
    ga: dict[tuple[str, str], int] = {}
    referral: dict[str, int] = {}
    distance: dict[str, int] = {}
    total = 0
    for outcome, taken, band, ga_band, care, n in paths:
        total += n
        if outcome == Refusal.Outcome.LOCATION:
            # Where she was taken in, in the region it is in now.
            outcome = "location-region" if taken and location_at[taken][3] == region.pk else "location-elsewhere"
        where[outcome] = where.get(outcome, 0) + n
        called[band] = called.get(band, 0) + n
        ga[(ga_band, care)] = ga.get((ga_band, care), 0) + n
    for practice, loc, n in rows:
        loc_vsv, lat, lon, _region = location_at[loc]
        practice_vsv = vsv_of_practice.get(practice) if practice else None
        kind = "none" if not (practice_vsv and loc_vsv) else ("same" if practice_vsv == loc_vsv else "across")
        point = points.get(practice) if practice else None
        dband = _distance_band(distance_km(*point, lat, lon) if point else None)
        referral[kind] = referral.get(kind, 0) + n
        distance[dband] = distance.get(dband, 0) + n

    result.total = Cell("total", str(_("Refusals")), total)
    result.where = [
        Cell(k, str(name), where.get(k, 0))
        for k, name in (
            ("location-region", _("another location in the region")),
            ("location-elsewhere", _("a location outside the region")),
            (Refusal.Outcome.HOME, _("birth at home")),
            (Refusal.Outcome.UNKNOWN, _("unknown")),
        )
    ]
    result.called = [Cell(k, name, called.get(k, 0)) for k, name in CALLED] + [
        Cell(NOT_RECORDED[0], str(NOT_RECORDED[1]), called.get(NOT_RECORDED[0], 0))
    ]
    result.care_types = [(k, str(name)) for k, name in Refusal.CareType.choices]
    bands: list[tuple[str, Any]] = [(band, name) for band, name, _low, _high in GA_BANDS] + [NOT_RECORDED]
    for band, name in bands:
        cells = [Cell(care, care_name, ga.get((band, care), 0)) for care, care_name in result.care_types]
        result.ga.append(GaRow(band, str(name), cells, Cell("total", "", sum(c.count for c in cells))))
    result.referral = [
        Cell(k, str(name), referral.get(k, 0))
        for k, name in (
            ("same", _("within the practice's own VSV")),
            ("across", _("across VSVs")),
            ("none", _("VSV not known")),
        )
    ]
    result.distance = [Cell(k, str(name), distance.get(k, 0)) for k, name, _below in DISTANCE_BANDS] + [
        Cell(NOT_RECORDED[0], str(_("practice's postcode not known")), distance.get(NOT_RECORDED[0], 0))
    ]
    if suppressed:
        result.total.suppressed = is_small(total)
        for table in (result.where, result.called, result.referral, result.distance):
            suppress(table)
        for row in result.ga:
            suppress(row.cells)
            row.total.suppressed = is_small(row.total.count)
    return result
