"""placements.statistics: the coordinators' request figures per location and region (docs/requests.md,
"Statistics for coordinators"): counts, the acceptance rate and its denominator, median and p90 time to
answer on known durations, expiries, declines by reason, period boundaries, other regions left out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from core.time import ZONE
from hospitals.models import Location, User
from placements.models import PlacementRequest
from placements.services import PlacementInput, placement_send, placement_send_to, placement_transition
from placements.statistics import Figures, percentile, request_statistics
from refusals.statistics import Period
from tests.conftest import World

pytestmark = pytest.mark.django_db

State = PlacementRequest.State
T0 = datetime(2026, 5, 12, 10, 0, tzinfo=ZONE)  # a Tuesday well inside May and Q2 2026
MAY = Period.containing("month", T0.date())


@dataclass
class Clock:
    now: datetime


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """``timezone.now`` as the test sets it: requests are sent when the test says."""
    c = Clock(T0)
    monkeypatch.setattr(timezone, "now", lambda: c.now)
    return c


def data(location: Location, at: datetime) -> PlacementInput:
    # "planned": an hour to answer, so every answer below is in time.
    return PlacementInput(location.pk, "overdracht", "planned", at + timedelta(minutes=30), "06 1234 5678")


def send(world: World, clock: Clock, at: datetime, location: Location | None = None) -> PlacementRequest:
    clock.now = at
    return placement_send(by=world.midwife, data=data(location or world.location, at))


def step(request: PlacementRequest, to: str, by: User | None, minutes: float, reason: str = "") -> PlacementRequest:
    return placement_transition(
        request_id=request.pk,
        to=to,
        by=by,
        via="system" if by is None else "web",
        now=request.sent_at + timedelta(minutes=minutes),
        reason=reason,
    )


def a_month_of_requests(world: World, clock: Clock) -> None:
    """WKZ: 9 requests, Diakonessenhuis: 2, LUMC (the other region): 1."""
    at = iter(T0 + timedelta(hours=i) for i in range(20))
    step(send(world, clock, next(at)), State.ACCEPTED, world.staff, 2)
    arrived = step(send(world, clock, next(at)), State.ACCEPTED, world.staff, 4)
    step(arrived, State.ARRIVED, world.midwife, 40)
    step(send(world, clock, next(at)), State.DECLINED, world.staff, 6, reason="no_staff")
    step(send(world, clock, next(at)), State.DECLINED, world.staff, 10, reason="no_delivery_room")
    step(send(world, clock, next(at)), State.EXPIRED, None, 61)
    step(send(world, clock, next(at)), State.WITHDRAWN, world.midwife, 1)  # before any answer
    # Accepted, then she withdrew it: the location said yes, so it counts as accepted.
    withdrawn_later = step(send(world, clock, next(at)), State.ACCEPTED, world.staff, 8)
    step(withdrawn_later, State.WITHDRAWN, world.midwife, 20)
    send(world, clock, next(at))  # still open
    step(send(world, clock, next(at), world.other_location), State.DECLINED, world.other_staff, 1, "admission_stop")
    # Parallel asking: Diakonessenhuis accepts first, WKZ's request is withdrawn (taken elsewhere).
    world.region.placement_parallel_max = 2
    world.region.save(update_fields=["placement_parallel_max"])
    clock.now = next(at)
    wkz, diak = placement_send_to(
        by=world.midwife,
        data=data(world.location, clock.now),
        location_ids=[world.location.pk, world.other_location.pk],
    )
    step(diak, State.ACCEPTED, world.other_staff, 3)
    assert PlacementRequest.objects.get(pk=wkz.pk).withdrawn_why == "taken_elsewhere"
    send(world, clock, next(at), world.far_location)  # another region: not in Midden-Nederland's figures


def counts(f: Figures) -> tuple[int, ...]:
    return (
        f.requests,
        f.accepted,
        f.declined,
        f.expired,
        f.withdrawn_by_midwife,
        f.withdrawn_taken_elsewhere,
        f.still_open,
    )


def test_the_figures_per_location_and_for_the_region(world: World, clock: Clock, django_assert_num_queries) -> None:
    a_month_of_requests(world, clock)
    # Grouped counts, the answered requests' durations, the names of the locations in them.
    with django_assert_num_queries(3):
        result = request_statistics(world.region, MAY, now=T0 + timedelta(days=30))
    assert not result.provisional
    wkz, diak = result.per_location  # most requests first
    assert (wkz.name, diak.name) == ("WKZ Utrecht", "Diakonessenhuis Utrecht")
    #                     requests accepted declined expired by-midwife elsewhere open
    assert counts(wkz) == (9, 3, 2, 1, 1, 1, 1)
    assert counts(diak) == (2, 1, 1, 0, 0, 0, 0)
    assert counts(result.total) == (11, 4, 3, 1, 1, 1, 1)
    assert result.total.withdrawn_before_answer == 2

    # The denominator: accepted + declined + expired; withdrawn before an answer and open left out.
    assert (wkz.answered_or_expired, wkz.acceptance_rate) == (6, 50.0)
    assert (diak.answered_or_expired, diak.acceptance_rate) == (2, 50.0)
    assert (result.total.answered_or_expired, result.total.acceptance_rate) == (8, 50.0)

    # Time to answer over accepted and declined: WKZ 2, 4, 6, 8, 10 minutes; Diakonessenhuis 1, 3.
    assert wkz.durations == [timedelta(minutes=m) for m in (2, 4, 6, 8, 10)]
    assert (wkz.median_minutes, wkz.p90_minutes) == (6.0, 9.2)  # p90: 8 + 0.6 × (10 - 8)
    assert (diak.median_minutes, diak.p90_minutes) == (2.0, 2.8)
    assert (result.total.answered, result.total.median_minutes, result.total.p90_minutes) == (7, 4.0, 8.8)

    # Declines by reason, every reason listed.
    assert wkz.declines == {
        "no_delivery_room": 1,
        "no_staff": 1,
        "no_neonatal_bed": 0,
        "admission_stop": 0,
        "other": 0,
    }
    assert {r["key"]: r["count"] for r in result.total.per_reason if r["count"]} == {
        "no_delivery_room": 1,
        "no_staff": 1,
        "admission_stop": 1,
    }


def test_another_region_keeps_its_own(world: World, clock: Clock) -> None:
    a_month_of_requests(world, clock)
    other = request_statistics(world.other_region, MAY, now=T0 + timedelta(days=30))
    assert [(f.name, f.requests, f.still_open) for f in other.per_location] == [("LUMC Leiden", 1, 1)]
    assert other.total.acceptance_rate is None and other.total.median is None


def test_a_request_counts_in_the_period_it_was_sent_in_dutch_local_days(world: World, clock: Clock) -> None:
    # Midnight in the Netherlands, not in UTC (22:00 UTC in summer).
    for at in (
        datetime(2026, 4, 30, 23, 59, 59, tzinfo=ZONE),
        datetime(2026, 5, 1, 0, 0, tzinfo=ZONE),
        datetime(2026, 5, 31, 23, 59, 59, tzinfo=ZONE),
        datetime(2026, 6, 1, 0, 0, tzinfo=ZONE),
    ):
        send(world, clock, at)
    # Answered in June: it still belongs to May, when it was sent.
    late = send(world, clock, datetime(2026, 5, 31, 23, 50, tzinfo=ZONE))
    step(late, State.ACCEPTED, world.staff, 15)
    now = datetime(2026, 7, 1, tzinfo=ZONE)
    assert request_statistics(world.region, Period.containing("month", T0.date()), now=now).total.requests == 3
    april = request_statistics(world.region, Period.containing("month", datetime(2026, 4, 2).date()), now=now)
    june = request_statistics(world.region, Period.containing("month", datetime(2026, 6, 2).date()), now=now)
    assert (april.total.requests, june.total.requests) == (1, 1)
    assert request_statistics(world.region, MAY, now=now).total.median_minutes == 15.0


def test_a_running_period_is_provisional(world: World, clock: Clock) -> None:
    send(world, clock, T0)
    result = request_statistics(world.region, MAY, now=T0)
    assert result.provisional and result.days_done == 12
    assert result.total.still_open == 1 and result.total.acceptance_rate is None


def test_an_empty_period(world: World) -> None:
    result = request_statistics(world.region, MAY, now=T0)
    assert result.per_location == [] and result.total.requests == 0
    assert (result.total.acceptance_rate, result.total.median, result.total.p90) == (None, None, None)
    assert [r["count"] for r in result.total.per_reason] == [0, 0, 0, 0, 0]


def test_percentile_interpolates_between_ranks_like_percentile_cont() -> None:
    minutes = [timedelta(minutes=m) for m in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10)]
    assert percentile(minutes, 0.5) == timedelta(minutes=5, seconds=30)
    assert percentile(minutes, 0.9) == timedelta(minutes=9, seconds=6)
    assert percentile([timedelta(seconds=42)], 0.9) == timedelta(seconds=42)
    assert percentile([], 0.5) is None
