"""Statistics selectors: periods, totals from the rollups, heatmap and admission stops."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from django.conf import settings
from django.db.models import Count
from django.utils import translation

from capacity.models import CapacityEvent, Unit
from hospitals.permissions import can_view_statistics
from refusals import aggregation
from refusals.aggregation import ZONE
from refusals.models import Refusal
from refusals.statistics import Filters, Period, admission_stops, statistics
from tests.conftest import World


def make_refusal(world: World, at: datetime, **kw: object) -> Refusal:
    values: dict[str, object] = {
        "occurred_at": at,
        "location": world.location,
        "region": world.location.region,
        "care_type": "overdracht",
        "reason": "no_delivery_room",
        "outcome": "home",
        "registered_by": world.midwife,
    }
    values.update(kw)
    return Refusal.objects.create(**values)


def test_periods() -> None:
    assert Period.last_full_quarter(date(2026, 11, 25)) == Period("quarter", date(2026, 7, 1), date(2026, 10, 1))
    assert Period.last_full_quarter(date(2026, 2, 1)) == Period("quarter", date(2025, 10, 1), date(2026, 1, 1))
    assert Period.containing("month", date(2026, 12, 9)) == Period("month", date(2026, 12, 1), date(2027, 1, 1))
    week = Period.containing("week", date(2026, 11, 25))  # a Wednesday
    assert (week.start, week.end, week.label) == (date(2026, 11, 23), date(2026, 11, 30), "2026-W48")
    assert Period("quarter", date(2026, 1, 1), date(2026, 4, 1)).previous().label == "Q4 2025"
    assert Period.containing("month", date(2026, 3, 5)).previous().start == date(2026, 2, 1)


def test_permission_per_role(world: World) -> None:
    assert can_view_statistics(world.coordinator, world.region)
    assert not can_view_statistics(world.coordinator, world.other_region)
    assert can_view_statistics(world.national_admin, world.other_region)
    for user in (world.staff, world.midwife, world.org_admin, world.no_role):
        assert not can_view_statistics(user, world.region)


def test_totals_match_the_refusals_table(world: World) -> None:
    base = datetime(2026, 8, 3, 10, 0, tzinfo=ZONE)  # a Monday in Q3
    make_refusal(world, base)
    make_refusal(world, base + timedelta(days=1, hours=13), reason="no_staff", care_type="begeleiding")
    make_refusal(world, base + timedelta(days=2), location=world.other_location, board_showed_room=True)
    make_refusal(world, base + timedelta(days=3), withdrawn_at=base + timedelta(days=4))  # not counted
    make_refusal(world, base, location=world.far_location, region=world.other_region)  # other region
    make_refusal(world, datetime(2026, 6, 30, 23, 30, tzinfo=ZONE))  # Q2, local time
    make_refusal(world, datetime(2026, 9, 30, 23, 30, tzinfo=ZONE))  # Q3 in Dutch time, 21:30 UTC
    aggregation.rebuild()

    q3 = Period("quarter", date(2026, 7, 1), date(2026, 10, 1))
    stats = statistics(world.region, q3, Filters())
    start, end = q3.bounds()
    direct = Refusal.objects.filter(
        region=world.region, occurred_at__gte=start, occurred_at__lt=end, withdrawn_at__isnull=True
    )
    assert stats.total == direct.count() == 4
    assert stats.previous_total == 1 and stats.change == 3 and stats.change_percent == 300.0
    assert stats.board_showed_room == 1
    per_location = {r["name"]: (r["count"], r["room"]) for r in stats.per_location}
    expected = dict(direct.values_list("location__name").annotate(n=Count("id")).values_list("location__name", "n"))
    assert {k: v[0] for k, v in per_location.items()} == expected
    assert per_location["Diakonessenhuis Utrecht"] == (1, 1)
    assert {r["key"]: r["count"] for r in stats.per_reason}["no_staff"] == 1
    assert {r["key"]: r["count"] for r in stats.per_care_type} == {"begeleiding": 1, "overdracht": 3}
    assert sum(row["total"] for row in stats.heatmap) == 4
    assert stats.heatmap[0]["counts"][10] == 1  # Monday 10:00 local
    assert stats.heatmap[1]["counts"][23] == 1  # Tuesday 23:00 local
    assert stats.heatmap[2]["counts"][23] == 1  # Wednesday 30 September 23:30 local

    only = statistics(world.region, q3, Filters(location_id=world.location.pk, reason="no_delivery_room"))
    assert only.total == 2 and sum(row["total"] for row in only.heatmap) == 2


def stop_event(unit: Unit, at: datetime, before: str, after: str) -> None:
    CapacityEvent.objects.create(
        unit=unit,
        action=CapacityEvent.Action.UPDATE,
        source=CapacityEvent.Source.WEB,
        at=at,
        version=1,
        before={"status": before},
        after={"status": after},
    )


def test_admission_stops_count_and_clipped_duration(world: World) -> None:
    q3 = Period("quarter", date(2026, 7, 1), date(2026, 10, 1))
    start, end = q3.bounds()
    # Began before the quarter, ended 2 hours into it: not counted as started, 2 hours inside.
    stop_event(world.unit, start - timedelta(hours=5), "open", "stop")
    stop_event(world.unit, start + timedelta(hours=1), "stop", "stop")  # still stopped: no transition
    stop_event(world.unit, start + timedelta(hours=2), "stop", "limited")
    # Started and ended inside: 3 hours.
    stop_event(world.nicu, start + timedelta(days=10), "limited", "stop")
    stop_event(world.nicu, start + timedelta(days=10, hours=3), "stop", "open")
    # Started 4 hours before the end and never ended: clipped at the period end.
    stop_event(world.other_unit, end - timedelta(hours=4), "open", "stop")
    # Other region: not shown.
    stop_event(world.far_unit, start + timedelta(days=1), "open", "stop")

    stops: dict[str, object] = {
        r["name"]: (r["count"], r["hours"]) for r in admission_stops(world.region, q3, now=end + timedelta(days=9))
    }
    assert stops == {"WKZ Utrecht": (1, 5.0), "Diakonessenhuis Utrecht": (1, 4.0)}
    # A stop still open counts until now when now lies inside the period.
    now = end - timedelta(hours=1)
    stops = {r["name"]: r["hours"] for r in admission_stops(world.region, q3, now=now)}
    assert stops["Diakonessenhuis Utrecht"] == 3.0
    only = admission_stops(world.region, q3, location_id=world.other_location.pk, now=now)
    assert [r["name"] for r in only] == ["Diakonessenhuis Utrecht"]


def test_a_stand_alone_birth_centre_counts_in_statistics_stops_and_the_quarterly_report(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Statistics key on location and region, so a birth centre is one more location."""
    from django.utils import timezone

    from refusals.services import RefusalInput, refusal_register
    from refusals.statistics import quarterly_report
    from tests.test_views_refusals import make_birth_centre

    now = datetime(2026, 8, 12, 14, 0, tzinfo=ZONE)  # well inside a month and a quarter
    monkeypatch.setattr(timezone, "now", lambda: now)
    centre = make_birth_centre(world)
    refusal = refusal_register(
        by=world.midwife,
        data=RefusalInput(
            occurred_at=now - timedelta(minutes=10),
            location_id=centre.pk,
            care_type="begeleiding",
            reason="no_staff",
            outcome="location",
            outcome_location_id=world.location.pk,
        ),
    )
    aggregation.aggregate(refusal.pk)
    unit = Unit.objects.get(location=centre)
    stop_event(unit, now - timedelta(hours=3), "open", "stop")
    stop_event(unit, now - timedelta(hours=1), "stop", "open")

    stats = statistics(world.region, Period.containing("month", now.date()), Filters(), now=now)
    assert stats.total == 1 and stats.board_showed_room == 1
    assert stats.per_location == [{"id": centre.pk, "name": centre.name, "count": 1, "room": 1}]
    assert {r["key"]: r["count"] for r in stats.per_care_type} == {"begeleiding": 1, "overdracht": 0}
    assert {r["name"]: (r["count"], r["hours"]) for r in stats.stops}[centre.name] == (1, 2.0)

    report = quarterly_report(world.region, Period.containing("quarter", now.date()), now=now)
    row = {r["name"]: r for r in report.locations}[centre.name]
    assert (row["count"], row["room"], row["stops"], row["stop_hours"]) == (1, 1, 1, 2.0)
    # A full rebuild from the refusals gives exactly the live rollups.
    before = aggregation.daily_from_rollups()
    aggregation.rebuild()
    assert aggregation.daily_from_rollups() == before == aggregation.daily_from_refusals()
    assert aggregation.differences() == []


def test_period_parts() -> None:
    q4 = Period.containing("quarter", date(2026, 10, 1))
    assert q4.days == 92 and q4.days_done(date(2026, 11, 29)) == 60
    assert q4.days_done(date(2027, 1, 5)) == 92 and q4.days_done(date(2026, 9, 1)) == 0
    first = q4.previous().first_days(60)
    assert (first.start, first.last_day, first.whole, q4.whole) == (date(2026, 7, 1), date(2026, 8, 29), False, True)
    with translation.override(settings.LANGUAGE_CODE):  # the site's default language: Dutch
        assert first.title == "Q3 2026, eerste 60 dagen" and q4.title == "Q4 2026"
    assert q4.year_earlier() == Period.containing("quarter", date(2025, 10, 1))
    week = Period.containing("week", date(2026, 11, 25))
    assert week.year_earlier().start == week.start - timedelta(weeks=52)  # the same weekday, ISO week 48
    leap = Period.containing("month", date(2024, 2, 1))
    assert leap.year_earlier().days == 28 and leap.previous().first_days(40).days == 31


def test_a_running_period_is_provisional_and_compared_on_equal_terms(world: World) -> None:
    """On 30 November, Q4 has run 61 of 92 days: compare with the first 61 days of Q3 (1 July to
    30 August) and of Q4 a year earlier, not with all of Q3 (which made a rise look like a fall)."""
    at = lambda d: datetime.combine(d, datetime.min.time(), ZONE) + timedelta(hours=12)  # noqa: E731
    make_refusal(world, at(date(2026, 11, 2)))
    make_refusal(world, at(date(2026, 7, 10)))  # Q3, within the first 61 days
    make_refusal(world, at(date(2026, 8, 30)))  # day 61 of Q3: counted
    make_refusal(world, at(date(2026, 8, 31)))  # day 62: not comparable, left out
    make_refusal(world, at(date(2026, 9, 20)))  # later in Q3: left out
    make_refusal(world, at(date(2025, 10, 5)))  # a year earlier, within the same days
    make_refusal(world, at(date(2025, 12, 20)))  # a year earlier, after them
    aggregation.rebuild()
    q4 = Period.containing("quarter", date(2026, 10, 1))
    now = datetime(2026, 11, 30, 9, 0, tzinfo=ZONE)
    stats = statistics(world.region, q4, Filters(), now=now)
    assert stats.provisional and (stats.days_done, stats.period.days) == (61, 92)
    assert stats.compared == Period("quarter", date(2026, 7, 1), date(2026, 8, 31))
    assert (stats.total, stats.previous_total, stats.year_earlier_total) == (1, 2, 1)
    # Once the quarter is over, whole quarters are compared.
    done = statistics(world.region, q4, Filters(), now=datetime(2027, 1, 2, tzinfo=ZONE))
    assert not done.provisional and done.compared == q4.previous() and done.previous_total == 4
    assert done.year_earlier_total == 2


def test_any_period_from_months_and_edge_days_matches_the_refusals(world: World) -> None:
    """Whole months come from RefusalMonthly, the edge days from RefusalDaily: together exactly the refusals."""
    import random

    from refusals.statistics import monthly_counts, rollup_rows, rollup_total

    rng = random.Random(13)
    first = datetime(2026, 1, 1, 0, 0, tzinfo=ZONE)
    locations = [world.location, world.other_location]
    for _i in range(300):
        make_refusal(
            world,
            first + timedelta(minutes=rng.randrange(0, 200 * 24 * 60)),
            location=rng.choice(locations),
            reason=rng.choice(["no_staff", "no_delivery_room"]),
            care_type=rng.choice(["overdracht", "begeleiding"]),
            board_showed_room=rng.random() < 0.3,
            withdrawn_at=first if rng.random() < 0.05 else None,
        )
    # Midnight around a month edge in Dutch time lands in the right month.
    make_refusal(world, datetime(2026, 3, 31, 23, 59, tzinfo=ZONE))
    make_refusal(world, datetime(2026, 4, 1, 0, 0, tzinfo=ZONE))
    aggregation.rebuild()

    def direct(p: Period, f: Filters) -> dict[tuple[int, str, str], tuple[int, int]]:
        start, end = p.bounds()
        qs = Refusal.objects.filter(
            region=world.region, occurred_at__gte=start, occurred_at__lt=end, withdrawn_at__isnull=True
        )
        if f.location_id:
            qs = qs.filter(location_id=f.location_id)
        if f.reason:
            qs = qs.filter(reason=f.reason)
        rows = qs.values_list("location_id", "care_type", "reason").annotate(
            n=Count("id"), room=Count("id", filter=models.Q(board_showed_room=True))
        )
        return {(loc, ct, rs): (n, room) for loc, ct, rs, n, room in rows.order_by()}

    from django.db import models

    periods = [
        Period.containing("quarter", date(2026, 2, 10)),
        Period.containing("month", date(2026, 4, 1)),
        Period.containing("week", date(2026, 3, 31)),  # Monday 30 March to Sunday 5 April
        Period.containing("quarter", date(2026, 5, 1)).first_days(61),  # two months and a day
        Period("quarter", date(2026, 1, 15), date(2026, 6, 20)),  # edges on both sides
        Period("month", date(2026, 2, 3), date(2026, 2, 25)),  # inside one month
    ]
    for p in periods:
        for f in (Filters(), Filters(location_id=world.other_location.pk, reason="no_staff")):
            expected = direct(p, f)
            assert rollup_rows(world.region, p, f) == expected, (p, f)
            assert rollup_total(world.region, p, f) == sum(n for n, _room in expected.values())
    stats = statistics(world.region, periods[4], Filters())
    assert stats.total == sum(n for n, _room in direct(periods[4], Filters()).values())
    months = monthly_counts(world.region, date(2026, 1, 1), date(2026, 8, 1), Filters())
    assert months[date(2026, 3, 1)] == sum(
        n for n, _room in direct(Period.containing("month", date(2026, 3, 1)), Filters()).values()
    )
    assert sum(months.values()) == Refusal.objects.filter(region=world.region, withdrawn_at__isnull=True).count()


def test_a_stop_open_since_long_before_the_period_counts_from_its_start(world: World) -> None:
    """Only the status at the period's start is read of the history before it."""
    q3 = Period("quarter", date(2026, 7, 1), date(2026, 10, 1))
    start, end = q3.bounds()
    stop_event(world.unit, start - timedelta(days=400), "open", "stop")
    for days in range(399, 0, -50):  # bed counts changed during the stop: no transitions
        stop_event(world.unit, start - timedelta(days=days), "stop", "stop")
    stop_event(world.other_unit, start - timedelta(days=30), "open", "stop")  # began and ended before
    stop_event(world.other_unit, start - timedelta(days=29), "stop", "open")
    stops = {
        r["name"]: (r["count"], r["hours"]) for r in admission_stops(world.region, q3, now=end + timedelta(days=1))
    }
    assert stops == {"WKZ Utrecht": (0, 92 * 24.0)}


def test_per_vsv_and_a_vsv_filter(world: World) -> None:
    from hospitals.models import VSV

    utrecht = VSV.objects.create(name="VSV Utrecht", region=world.region)
    world.location.vsv = utrecht
    world.location.save()
    at = datetime(2026, 8, 3, 10, 0, tzinfo=ZONE)
    make_refusal(world, at, board_showed_room=True)
    make_refusal(world, at)
    make_refusal(world, at, location=world.other_location)  # no VSV known
    aggregation.rebuild()
    q3 = Period("quarter", date(2026, 7, 1), date(2026, 10, 1))

    stats = statistics(world.region, q3, Filters())
    assert [(r["id"], r["count"], r["room"]) for r in stats.per_vsv] == [(utrecht.pk, 2, 1), (None, 1, 0)]
    only = statistics(world.region, q3, Filters(vsv_id=utrecht.pk))
    assert only.total == 2 and [r["id"] for r in only.per_location] == [world.location.pk]
    assert sum(row["total"] for row in only.heatmap) == 2
