"""refusals.benchmark: regions side by side, the bed-day and births denominators, stop hours, and
the small-number suppression of everything outside the viewer's own region."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from capacity.models import CapacityEvent, Unit
from capacity.selectors import staffed_bed_days
from hospitals.models import Region, RegionBirths
from refusals import aggregation
from refusals.aggregation import ZONE
from refusals.benchmark import Benchmark, RegionRow, benchmark
from refusals.statistics import Period
from tests.conftest import World
from tests.test_statistics import make_refusal, stop_event

pytestmark = pytest.mark.django_db

Q3 = Period("quarter", date(2026, 7, 1), date(2026, 10, 1))
AT = datetime(2026, 8, 3, 10, 0, tzinfo=ZONE)
AFTER = datetime(2026, 11, 1, tzinfo=ZONE)  # "now", after the quarter


def staffed(unit: Unit, at: datetime, before: int, after: int) -> None:
    CapacityEvent.objects.create(
        unit=unit,
        action=CapacityEvent.Action.UPDATE,
        source=CapacityEvent.Source.WEB,
        at=at,
        version=1,
        before={"status": "open", "staffed_total": before},
        after={"status": "open", "staffed_total": after},
    )


def rows(result: Benchmark) -> dict[str, RegionRow]:
    return {r.region.code: r for r in result.rows if r.region}


def national(result: Benchmark) -> RegionRow:
    assert result.national is not None
    return result.national


def test_staffed_bed_days_are_time_weighted_from_the_history(world: World) -> None:
    start, end = Q3.bounds()
    days = (end - start).total_seconds() / 86400  # 92
    # No history: the current numbers all quarter (WKZ 10, Diakonessenhuis 6; NICU beds do not count).
    assert staffed_bed_days(start, end) == {
        world.region.pk: pytest.approx(16 * days),
        world.other_region.pk: pytest.approx(8 * days),
    }
    # WKZ went from 12 to 10 staffed beds halfway (its last change before the quarter said 12).
    staffed(world.unit, start - timedelta(days=30), 8, 12)
    staffed(world.unit, start + timedelta(days=46), 12, 10)
    stop_event(world.unit, start + timedelta(days=50), "open", "stop")  # no bed numbers: ignored
    assert staffed_bed_days(start, end)[world.region.pk] == pytest.approx(12 * 46 + 10 * (days - 46) + 6 * days)
    # Up to "now" when the period is still running.
    assert staffed_bed_days(start, start + timedelta(days=1))[world.region.pk] == pytest.approx(12 + 6)


def test_every_region_with_rates_and_stops(world: World) -> None:
    for _i in range(30):
        make_refusal(world, AT)
    for _i in range(10):
        make_refusal(world, AT, board_showed_room=True)
    for _i in range(8):
        make_refusal(world, AT, location=world.far_location, region=world.other_region)
    aggregation.rebuild()
    start, _end = Q3.bounds()
    stop_event(world.far_unit, start + timedelta(days=1), "open", "stop")
    stop_event(world.far_unit, start + timedelta(days=1, hours=6), "stop", "open")
    RegionBirths.objects.create(region=world.region, year=2026, births=36500, source="CBS StatLine 37422, 2027-03")

    result = benchmark(Q3, viewer=world.coordinator, now=AFTER)
    midden, west = rows(result)["midden"], rows(result)["west"]
    assert (midden.refusals.count, midden.room.count, midden.room_share) == (40, 10, 25.0)
    assert midden.own and not west.own
    assert midden.per_100_bed_days == round(100 * 40 / (16 * 92), 2)
    assert midden.births == 9200 and midden.per_1000_births == round(1000 * 40 / 9200, 1)  # 92/365 of the year
    assert west.births is None and west.per_1000_births is None  # no births file for that region
    assert (west.stops, west.stop_hours) == (1, 6.0) and (midden.stops, midden.stop_hours) == (0, 0.0)
    assert national(result).refusals.count == 48 and national(result).births is None
    assert result.births_sources == ["CBS StatLine 37422, 2027-03"]


def test_small_numbers_outside_the_own_region_are_suppressed(world: World) -> None:
    third = Region.objects.create(code="noord", name="Noord")
    for _i in range(3):
        make_refusal(world, AT)  # midden: 3
    for _i in range(20):
        make_refusal(world, AT, location=world.far_location, region=world.other_region)  # west: 20
    aggregation.rebuild()

    # The coordinator of midden sees its own 3; west and noord are other regions.
    own = rows(benchmark(Q3, viewer=world.coordinator, now=AFTER))
    assert own["midden"].refusals.shown == "3" and own["west"].refusals.shown == "20"
    assert own["noord"].refusals.shown == "0"
    # A national administrator (and the exports) see no region exactly: midden's 3 is hidden, and
    # west's 20 with it, since the national total (23) minus 20 would give it away.
    everyone = benchmark(Q3, viewer=world.national_admin, now=AFTER)
    shown = {code: r.refusals.shown for code, r in rows(everyone).items()}
    assert shown == {"midden": "<5", "west": "<5", "noord": "0"} and third.pk
    assert all(r.per_100_bed_days is None for r in everyone.rows if r.refusals.suppressed)
    assert national(everyone).refusals.shown == "23"
    assert {code: r.refusals.shown for code, r in rows(benchmark(Q3, viewer=None, now=AFTER)).items()} == shown
