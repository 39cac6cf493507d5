"""search.selectors: which locations count for which care, and in what order (docs/search.md)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.utils import timezone, translation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from capacity.models import Unit
from hospitals.models import MAX_WEEKS, MIN_WEEKS, CareLevelRules, Location, Organisation, User
from search.selectors import (
    CareType,
    Origin,
    OriginError,
    RankingRule,
    SearchResult,
    State,
    distance_km,
    live_fingerprint,
    parse_origin,
    place_suggestions,
    practice_origin,
    requirement_for,
    search_capacity,
    travel_minutes,
)
from tests.search_world import ORIGIN, SearchWorld, make_search_world

pytestmark = pytest.mark.django_db

HERE = Origin(ORIGIN[0], ORIGIN[1], "3731 De Bilt", "3731")
BEGELEIDING, OVERDRACHT = CareType.BEGELEIDING.value, CareType.OVERDRACHT.value


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    # Messages are asserted in English; the Dutch catalogue is checked where it matters.
    with translation.override("en"):
        yield


@pytest.fixture
def sw(db: None) -> SearchWorld:
    return make_search_world()


# Every location listed, whatever its region (the rules tests look at the care levels only).
EVERYWHERE = RankingRule(other_regions_within=10_000)


def slugs(result: SearchResult) -> list[str]:
    return [r.location.slug for r in result.results]


def set_unit(location: Location, kind: str, **fields: object) -> None:
    Unit.objects.filter(location=location, kind=kind).update(**fields)


# --- care levels ---------------------------------------------------------------------------


def expected_slugs(care: str, weeks: int | None, rules: CareLevelRules) -> set[str]:
    """The rule as the issue states it: < NICU threshold NICU; then high care or NICU; then medium care
    or better; at term any hospital, and a birth centre too for begeleiding."""
    with_nicu = {"s-nicu", "s-far-nicu"}
    with_high_care = {"s-nicu", "s-high"}
    with_medium_care = {"s-nicu", "s-high", "s-medium", "s-bc-hospital"}
    hospitals = {"s-nicu", "s-high", "s-medium", "s-bc-hospital", "s-far-nicu", "s-no-neo"}
    if weeks is not None and weeks < rules.nicu_below_weeks:
        return with_nicu
    if weeks is not None and weeks < rules.high_care_below_weeks:
        return with_high_care | {"s-far-nicu"}
    if weeks is not None and weeks < rules.term_from_weeks:
        return with_medium_care | {"s-far-nicu"}
    return hospitals | ({"s-birth-centre"} if care == BEGELEIDING else set())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    care=st.sampled_from([BEGELEIDING, OVERDRACHT]),
    weeks=st.one_of(st.none(), st.integers(MIN_WEEKS, MAX_WEEKS)),
)
def test_default_rules_pick_the_required_level_at_every_age(sw: SearchWorld, care: str, weeks: int | None) -> None:
    # Every region listed, so every location that offers the level is.
    result = search_capacity(origin=HERE, care=care, gestational_weeks=weeks, ranking=EVERYWHERE)
    assert set(slugs(result)) == expected_slugs(care, weeks, CareLevelRules())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    data=st.data(),
    care=st.sampled_from([BEGELEIDING, OVERDRACHT]),
)
def test_configured_thresholds_are_applied_at_every_boundary(sw: SearchWorld, data: st.DataObject, care: str) -> None:
    nicu = data.draw(st.integers(22, 38), label="nicu_below")
    high_care = data.draw(st.integers(nicu + 1, 40), label="high_care_below")
    term = data.draw(st.integers(high_care + 1, 42), label="term_from")
    rules = CareLevelRules(nicu_below_weeks=nicu, high_care_below_weeks=high_care, term_from_weeks=term)
    # Each threshold, the week before it, and a random age.
    for weeks in {nicu - 1, nicu, high_care - 1, high_care, term - 1, term, data.draw(st.integers(16, 44))}:
        result = search_capacity(origin=HERE, care=care, gestational_weeks=weeks, rules=rules, ranking=EVERYWHERE)
        assert set(slugs(result)) == expected_slugs(care, weeks, rules), weeks


@pytest.mark.parametrize(
    ("weeks", "band"),
    [
        (24, "nicu"),
        (31, "nicu"),
        (32, "high_care"),
        (33, "high_care"),
        (34, "medium_care"),
        (36, "medium_care"),
        (37, "term"),
        (42, "term"),
        (None, "term"),
    ],
)
def test_default_thresholds_are_those_of_the_domain_notes(db: None, weeks: int | None, band: str) -> None:
    assert requirement_for(care=OVERDRACHT, weeks=weeks).band == band


def test_stored_rules_are_used_when_none_are_passed(sw: SearchWorld) -> None:
    CareLevelRules.objects.create(pk=1, nicu_below_weeks=30, high_care_below_weeks=33, term_from_weeks=36)
    assert requirement_for(care=OVERDRACHT, weeks=31).band == "high_care"
    result = search_capacity(origin=HERE, care=BEGELEIDING, gestational_weeks=36)
    assert "s-birth-centre" in slugs(result)


def test_the_rule_is_said_in_words(db: None) -> None:
    text = requirement_for(care=OVERDRACHT, weeks=30).describe()
    assert "32" in text and "NICU" in text and "Overdracht" in text
    text = requirement_for(care=BEGELEIDING, weeks=33).describe()
    assert "32" in text and "34" in text and "high care" in text and "birth centre only takes births at term" in text
    assert "No gestational age given" in requirement_for(care=BEGELEIDING, weeks=None).describe()
    with translation.override("nl"):
        assert "Onder 32 weken" in requirement_for(care=OVERDRACHT, weeks=30).describe()


def test_only_the_units_that_count_are_shown(sw: SearchWorld) -> None:
    result = search_capacity(origin=HERE, care=OVERDRACHT, gestational_weeks=30)
    nicu = next(r for r in result.results if r.location == sw.nicu)
    assert [u.kind for u in nicu.units] == [Unit.Kind.DELIVERY_SUITE, Unit.Kind.NICU]
    term = search_capacity(origin=HERE, care=BEGELEIDING, gestational_weeks=40)
    bc = next(r for r in term.results if r.location == sw.with_birth_centre)
    assert [u.kind for u in bc.units] == [Unit.Kind.DELIVERY_SUITE, Unit.Kind.BIRTH_CENTRE]


# --- ranking -------------------------------------------------------------------------------


def test_nearest_first_with_distance_and_estimated_travel_time(sw: SearchWorld) -> None:
    result = search_capacity(origin=HERE, care=OVERDRACHT, gestational_weeks=40, region=sw.region)
    assert slugs(result) == ["s-medium", "s-high", "s-nicu", "s-bc-hospital", "s-no-neo"]
    assert result.results[0].nearest and not any(r.nearest for r in result.results[1:])
    distances = [r.distance_km for r in result.results]
    assert distances == sorted(distances)
    assert distances[0] == pytest.approx(2.0, abs=0.05)
    # 2 km in town: 2 x 1.3 at 35 km/h, quicker than the fitted line's 15 min.
    assert result.results[0].travel_minutes == travel_minutes(distances[0]) == 4


def test_haversine_matches_a_known_distance() -> None:
    # Utrecht Dom to Amsterdam Dam: about 35 km in a straight line.
    assert distance_km(52.0907, 5.1214, 52.3731, 4.8926) == pytest.approx(35.2, abs=0.5)


def test_the_nearest_comes_first_whatever_its_state_then_room_before_full_within_a_band(sw: SearchWorld) -> None:
    set_unit(sw.medium_care, Unit.Kind.DELIVERY_SUITE, status=Unit.Status.STOP, stop_reason="staff", available=0)
    set_unit(sw.high_care, Unit.Kind.DELIVERY_SUITE, available=0)
    result = search_capacity(origin=HERE, care=OVERDRACHT, gestational_weeks=40, region=sw.region)
    # s-medium (2 km) is nearest, in stop: first, saying so. All others lie within 30 minutes:
    # room (8, 12, 20 km) before full (4 km).
    assert slugs(result) == ["s-medium", "s-nicu", "s-bc-hospital", "s-no-neo", "s-high"]
    assert [r.state for r in result.results] == [State.STOP, State.ROOM, State.ROOM, State.ROOM, State.FULL]
    assert result.results[0].nearest and result.results[0].in_stop


def test_stops_other_than_the_nearest_come_last(sw: SearchWorld) -> None:
    set_unit(sw.high_care, Unit.Kind.DELIVERY_SUITE, status=Unit.Status.STOP, stop_reason="staff")
    set_unit(sw.nicu, Unit.Kind.DELIVERY_SUITE, available=0)
    result = search_capacity(origin=HERE, care=OVERDRACHT, gestational_weeks=40, region=sw.region)
    assert slugs(result) == ["s-medium", "s-bc-hospital", "s-no-neo", "s-nicu", "s-high"]
    assert result.results[-1].in_stop


def test_a_stop_with_free_beds_still_counts_as_a_stop(sw: SearchWorld) -> None:
    set_unit(sw.high_care, Unit.Kind.DELIVERY_SUITE, status=Unit.Status.STOP, stop_reason="beds", available=3)
    result = search_capacity(origin=HERE, care=OVERDRACHT, gestational_weeks=40, region=sw.region)
    assert slugs(result)[-1] == "s-high" and result.results[-1].state == State.STOP


def test_a_required_neonatal_unit_without_room_makes_the_location_full(sw: SearchWorld) -> None:
    set_unit(sw.nicu, Unit.Kind.NICU, available=0)
    result = search_capacity(origin=HERE, care=OVERDRACHT, gestational_weeks=28, ranking=EVERYWHERE)
    # The nearest NICU centre first although full (mother side room, baby side full), then the far one.
    assert [(r.location.slug, r.state) for r in result.results] == [
        ("s-nicu", State.FULL),
        ("s-far-nicu", State.ROOM),
    ]
    nearest = result.results[0]
    assert nearest.nearest and (nearest.obstetric_state, nearest.neonatal_state) == (State.ROOM, State.FULL)
    assert [u.kind for u in nearest.obstetric] == [Unit.Kind.DELIVERY_SUITE]
    assert [u.kind for u in nearest.neonatal] == [Unit.Kind.NICU]
    set_unit(sw.nicu, Unit.Kind.NICU, status=Unit.Status.STOP, stop_reason="beds")
    result = search_capacity(origin=HERE, care=OVERDRACHT, gestational_weeks=28, ranking=EVERYWHERE)
    assert result.results[0].location == sw.nicu and result.results[0].state == State.STOP


def test_begeleiding_at_term_has_room_when_either_the_delivery_suite_or_the_birth_centre_has(sw: SearchWorld) -> None:
    set_unit(sw.with_birth_centre, Unit.Kind.DELIVERY_SUITE, status=Unit.Status.STOP, stop_reason="staff")
    result = search_capacity(origin=HERE, care=BEGELEIDING, gestational_weeks=39, region=sw.region)
    assert next(r for r in result.results if r.location == sw.with_birth_centre).state == State.ROOM
    overdracht = search_capacity(origin=HERE, care=OVERDRACHT, gestational_weeks=39, region=sw.region)
    assert next(r for r in overdracht.results if r.location == sw.with_birth_centre).state == State.STOP


def test_stale_figures_are_marked_not_hidden(sw: SearchWorld) -> None:
    old = timezone.now() - timedelta(hours=5)
    set_unit(sw.medium_care, Unit.Kind.DELIVERY_SUITE, confirmed_at=old)
    result = search_capacity(origin=HERE, care=OVERDRACHT, gestational_weeks=40, region=sw.region)
    first = result.results[0]
    assert first.location == sw.medium_care and first.stale and first.oldest_confirmed_at == old
    assert not any(r.stale for r in result.results[1:])


# --- region --------------------------------------------------------------------------------


def test_other_regions_only_when_the_region_has_no_room(sw: SearchWorld) -> None:
    result = search_capacity(origin=HERE, care=OVERDRACHT, gestational_weeks=28, region=sw.region)
    assert slugs(result) == ["s-nicu"] and result.region_has_room and not result.beyond_region

    set_unit(sw.nicu, Unit.Kind.NICU, available=0)
    result = search_capacity(origin=HERE, care=OVERDRACHT, gestational_weeks=28, region=sw.region)
    # The nearest (full) stays first; the other region's NICU with room is added after it.
    assert slugs(result) == ["s-nicu", "s-far-nicu"]
    assert result.beyond_region and not result.region_has_room
    assert [r.in_region for r in result.results] == [True, False]


def test_the_origin_decides_the_home_region_not_the_caller(sw: SearchWorld) -> None:
    # From De Bilt the nearest acute obstetric location is in Midden-Nederland: its region is home.
    result = search_capacity(origin=HERE, care=OVERDRACHT, gestational_weeks=28)
    assert result.region == sw.region and result.region_from_origin
    assert slugs(result) == ["s-nicu"]
    # From right beside the far NICU centre (other region) that region is home, and it comes first.
    far = Origin(sw.far_nicu.latitude + 0.001, sw.far_nicu.longitude, "far", "")
    result = search_capacity(origin=far, care=OVERDRACHT, gestational_weeks=28)
    assert result.region == sw.other_region and slugs(result)[0] == "s-far-nicu"
    assert result.results[0].in_region and result.results[0].nearest


def test_a_nearer_location_in_another_region_is_listed_first(sw: SearchWorld) -> None:
    # The home region is asked for, but the nearest NICU centre lies in the other region.
    near_far = Origin(sw.far_nicu.latitude - 0.01, sw.far_nicu.longitude, "border", "")
    result = search_capacity(origin=near_far, care=OVERDRACHT, gestational_weeks=28, region=sw.region)
    assert slugs(result)[0] == "s-far-nicu" and result.results[0].nearest and not result.results[0].in_region


def test_inactive_locations_are_left_out(sw: SearchWorld) -> None:
    sw.medium_care.active = False
    sw.medium_care.save()
    assert "s-medium" not in slugs(search_capacity(origin=HERE, care=OVERDRACHT, ranking=EVERYWHERE))


def test_unknown_care_type_is_a_programming_error(sw: SearchWorld) -> None:
    with pytest.raises(ValueError, match="care type"):
        search_capacity(origin=HERE, care="kraamzorg")


# --- where the client is ---------------------------------------------------------------------


def test_postcode_place_and_full_postcode_are_understood(sw: SearchWorld) -> None:
    assert parse_origin("3731") == Origin(52.11, 5.18, "3731 De Bilt", "3731")
    assert parse_origin(" 3584 cx ").pc4 == "3584"
    utrecht = parse_origin("utrecht")
    assert utrecht.label == "Utrecht" and utrecht.pc4 == ""
    assert utrecht.latitude == pytest.approx((52.0851 + 52.0927) / 2)
    assert parse_origin("Hengelo (Bronckhorst)").latitude == pytest.approx(52.05)
    # A place whose own name has brackets (GeoNames spells some so).
    assert parse_origin("hengelo (gld)").latitude == pytest.approx(52.06)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Enter a postcode of 4 digits"),
        ("123", "Enter a postcode of 4 digits"),
        ("12345", "Enter a postcode of 4 digits"),
        ("0999", "not a known Dutch postcode area"),
        ("9999", "not a known Dutch postcode area"),
        ("Atlantis", "No place called Atlantis is known"),
        ("Hengelo", "several places called Hengelo"),
        ("Hengelo (Utrecht)", "No place called"),
    ],
)
def test_bad_origins_get_a_clear_message(sw: SearchWorld, text: str, message: str) -> None:
    with pytest.raises(OriginError, match=message):
        parse_origin(text)


def test_suggestions_name_the_municipality_only_where_a_place_name_is_shared(sw: SearchWorld) -> None:
    assert place_suggestions("hen") == ["Hengelo (Bronckhorst)", "Hengelo (Hengelo)", "Hengelo (Gld)"]
    assert place_suggestions("Utr") == ["Utrecht"]
    assert place_suggestions("u") == []
    for label in place_suggestions("hen") + place_suggestions("utr"):
        parse_origin(label)  # every suggestion is understood as it is spelled


def test_practice_origin_comes_from_the_practice_postcode(sw: SearchWorld) -> None:
    practice = Organisation.objects.create(
        name="Praktijk De Bilt", kind=Organisation.Kind.MIDWIFERY_PRACTICE, region=sw.region, pc4="3731"
    )
    midwife = User.objects.create_user(username="m", role=User.Role.MIDWIFE, organisation=practice)
    origin = practice_origin(midwife)
    assert origin is not None and origin.pc4 == "3731" and "Praktijk De Bilt" in origin.label
    practice.pc4 = "9999"  # not a known area
    practice.save()
    midwife.refresh_from_db()
    assert practice_origin(midwife) is None
    assert practice_origin(User.objects.create_user(username="c", role=User.Role.COORDINATOR)) is None


def test_fingerprint_changes_with_any_unit_of_the_locations(sw: SearchWorld) -> None:
    ids = [sw.nicu.pk, sw.high_care.pk]
    before = live_fingerprint(ids)
    assert live_fingerprint(ids) == before
    set_unit(sw.medium_care, Unit.Kind.DELIVERY_SUITE, available=0)  # not among the ids
    assert live_fingerprint(ids) == before
    set_unit(sw.high_care, Unit.Kind.HIGH_CARE, confirmed_at=timezone.now())
    assert live_fingerprint(ids) != before
