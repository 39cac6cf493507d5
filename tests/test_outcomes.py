"""refusals.outcomes: where clients went after a refusal, GA × care type, kind of referral, and the
small-number suppression of figures shown outside the region's own coordinators."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from hospitals.models import VSV, Organisation, Postcode
from hospitals.selectors import practice_vsv_ids
from refusals.aggregation import ZONE
from refusals.outcomes import Cell, must_suppress, outcomes, suppress
from refusals.statistics import Filters, Period
from tests.conftest import World
from tests.test_statistics import make_refusal

pytestmark = pytest.mark.django_db

Q3 = Period("quarter", date(2026, 7, 1), date(2026, 10, 1))
AT = datetime(2026, 8, 3, 10, 0, tzinfo=ZONE)


def counts(cells: list[Cell]) -> dict[str, int]:
    return {c.key: c.count for c in cells}


def shown(cells: list[Cell]) -> dict[str, str]:
    return {c.key: c.shown for c in cells}


def test_where_clients_went_hospitals_called_and_gestational_age(world: World) -> None:
    make_refusal(world, AT, outcome="home", hospitals_called=1, gestational_weeks=39, care_type="begeleiding")
    make_refusal(world, AT, outcome="location", outcome_location=world.other_location, hospitals_called=3,
                 gestational_weeks=30)  # fmt: skip
    make_refusal(world, AT, outcome="location", outcome_location=world.far_location, hospitals_called=12,
                 gestational_weeks=33)  # fmt: skip
    make_refusal(world, AT, outcome="unknown", gestational_weeks=None)
    make_refusal(world, AT, outcome="home", withdrawn_at=AT + timedelta(hours=1))  # withdrawn: not counted
    make_refusal(world, AT - timedelta(days=60), outcome="home")  # Q2: not in the period
    make_refusal(world, AT, location=world.far_location, region=world.other_region)  # other region

    result = outcomes(world.region, Q3, Filters(), suppressed=False)
    assert result.total.count == 4
    assert counts(result.where) == {"location-region": 1, "location-elsewhere": 1, "home": 1, "unknown": 1}
    assert counts(result.called) == {"1": 1, "2": 0, "3": 1, "4": 0, "5-9": 0, "10+": 1, "none": 1}
    ga = {row.key: {c.key: c.count for c in row.cells} for row in result.ga}
    assert ga["37-41"] == {"begeleiding": 1, "overdracht": 0}
    assert ga["24-31"]["overdracht"] == 1 and ga["32-33"]["overdracht"] == 1 and ga["none"]["overdracht"] == 1
    assert sum(row.total.count for row in result.ga) == 4
    # A filter narrows every table alike.
    only_home = outcomes(world.region, Q3, Filters(care_type="begeleiding"), suppressed=False)
    assert only_home.total.count == 1 and counts(only_home.where)["home"] == 1


def test_kind_of_referral_and_distance_band(world: World) -> None:
    Postcode.objects.create(pc4="3731", place="De Bilt", municipality="De Bilt", province="Utrecht",
                            latitude=52.11, longitude=5.18)  # fmt: skip
    utrecht = VSV.objects.create(name="VSV Utrecht", region=world.region)
    other = VSV.objects.create(name="VSV Zeist", region=world.region)
    world.location.vsv = utrecht
    world.location.save()
    world.other_location.vsv = other
    world.other_location.save()
    far_practice = Organisation.objects.create(
        name="Praktijk Den Helder", kind=Organisation.Kind.MIDWIFERY_PRACTICE, region=world.region, pc4=""
    )
    make_refusal(world, AT, practice=world.practice)  # WKZ, 2.6 km away
    make_refusal(world, AT, practice=world.practice, location=world.other_location)  # 3.5 km away
    make_refusal(world, AT, practice=far_practice)  # no postcode: no VSV, no distance
    make_refusal(world, AT)  # no practice recorded

    # The practice has no VSV set: by default the nearest location's (WKZ, so VSV Utrecht).
    assert practice_vsv_ids({world.practice.pk, far_practice.pk}) == {world.practice.pk: utrecht.pk}
    result = outcomes(world.region, Q3, Filters(), suppressed=False)
    assert counts(result.referral) == {"same": 1, "across": 1, "none": 2}
    assert counts(result.distance) == {"0-10": 2, "10-25": 0, "25-50": 0, "50+": 0, "none": 2}

    # Its organisation administrator set VSV Zeist: now WKZ is across VSVs.
    world.practice.vsv = other
    world.practice.save()
    assert counts(outcomes(world.region, Q3, Filters(), suppressed=False).referral)["same"] == 1
    assert practice_vsv_ids({world.practice.pk}) == {world.practice.pk: other.pk}


def test_small_numbers_are_suppressed_with_a_second_cell_when_the_total_would_reveal_it() -> None:
    cells = [Cell("a", "a", 40), Cell("b", "b", 3), Cell("c", "c", 9), Cell("d", "d", 0)]
    suppress(cells)
    # 3 alone would follow from the total (52) minus the others: 9, the next smallest, goes too.
    assert [c.shown for c in cells] == ["40", "<5", "<5", "0"]
    two = [Cell("a", "a", 40), Cell("b", "b", 1), Cell("c", "c", 4)]
    suppress(two)
    assert [c.shown for c in two] == ["40", "<5", "<5"]
    untouched = [Cell("a", "a", 5), Cell("b", "b", 0)]
    suppress(untouched)
    assert [c.shown for c in untouched] == ["5", "0"]


def test_only_the_regions_own_coordinators_see_exact_small_numbers(world: World) -> None:
    for _i in range(3):
        make_refusal(world, AT, outcome="home")
    for _i in range(20):
        make_refusal(world, AT, outcome="unknown")
    assert not must_suppress(world.coordinator, world.region)
    assert must_suppress(world.coordinator, world.other_region)
    assert must_suppress(world.national_admin, world.region)

    exact = outcomes(world.region, Q3, Filters(), suppressed=False)
    assert shown(exact.where)["home"] == "3"
    hidden = outcomes(world.region, Q3, Filters(), suppressed=True)
    assert shown(hidden.where) == {"location-region": "0", "location-elsewhere": "0", "home": "<5", "unknown": "<5"}
    assert hidden.total.shown == "23"
    row = next(r for r in hidden.ga if r.key == "none")
    assert row.total.shown == "23" and [c.shown for c in row.cells] == ["0", "23"]
