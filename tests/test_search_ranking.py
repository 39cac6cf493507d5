"""search.selectors ranking, pure and fast: the real Dutch locations, searched from every region's main city.

No database: the candidates are built from hospitals/data/locations.csv with the travel-time model,
and the states are set adversarially (nearest full, far-away room, nearest in stop, another region
nearer than the home one). The rule itself: docs/search.md, "Ranking".
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.utils import translation
from hypothesis import given, settings
from hypothesis import strategies as st

from hospitals import reference
from search.selectors import (
    RankingRule,
    State,
    distance_km,
    fit_travel_model,
    format_travel_time,
    home_region_key,
    read_road_times,
    travel_minutes,
    travel_model,
)

DATA = Path(__file__).resolve().parent.parent / "hospitals" / "data"
REGIONS = reference.parse_regions(DATA / "regions.csv")
LOCATIONS = [row for row in reference.parse_locations(DATA / "locations.csv", {r.name for r in REGIONS}) if row.active]
REGION_CODE = {r.name: r.code for r in REGIONS}
ACUTE = [(row.latitude, row.longitude, REGION_CODE[row.region_name]) for row in LOCATIONS if row.acute_obstetrics]
RULE = RankingRule(bands=(30, 60, 90), other_regions_within=30)

# Each region's main city (its centre) and the region a client there belongs to.
MAIN_CITIES = {
    "Groningen": ((53.2189, 6.5680), "noord-nederland"),
    "Zwolle": ((52.5125, 6.0944), "zwolle"),
    "Enschede": ((52.2215, 6.8937), "euregio"),
    "Nijmegen": ((51.8475, 5.8625), "oost"),
    "Utrecht": ((52.0907, 5.1214), "midden-nederland"),
    "Amsterdam": ((52.3731, 4.8926), "noord-holland-flevoland"),
    "Den Haag": ((52.0799, 4.3113), "west"),
    "Rotterdam": ((51.9225, 4.4792), "zuidwest"),
    "Tilburg": ((51.5555, 5.0913), "brabant"),
    "Maastricht": ((50.8489, 5.6889), "limburg"),
}


@dataclass
class Candidate:
    name: str
    region_key: object
    distance_km: float
    travel_minutes: int
    state: str


def candidates_from(point: tuple[float, float], *, nicu_only: bool = False) -> list[Candidate]:
    rows = [row for row in LOCATIONS if row.acute_obstetrics and (row.neonatal_level >= 3 or not nicu_only)]
    result = []
    for row in rows:
        km = distance_km(point[0], point[1], row.latitude, row.longitude)
        result.append(Candidate(row.name, REGION_CODE[row.region_name], km, travel_minutes(km), State.ROOM))
    return result


def by_minutes(candidates: list[Candidate]) -> list[Candidate]:
    return sorted(candidates, key=lambda c: (c.travel_minutes, c.distance_km, c.name))


def check_invariants(rule: RankingRule, candidates: list[Candidate], home: object) -> list[Candidate]:
    """The ranking rule as docs/search.md states it, asserted on one search."""
    listed, has_room, beyond = rule.listed(candidates, home)
    ordered = rule.order(listed)
    nearest = by_minutes(candidates)[0]
    # 1. The nearest location that offers the care is first, whatever its state.
    assert ordered[0] is nearest
    rest = ordered[1:]
    # 2. Admission stops (other than the nearest) come after everything else.
    stops = [i for i, c in enumerate(rest) if c.state == State.STOP]
    assert stops == list(range(len(rest) - len(stops), len(rest)))
    open_ = [c for c in rest if c.state != State.STOP]
    # 3. Never a place with room above a nearer one of an earlier band; within a band room before full.
    keys = [(rule.band(c.travel_minutes), c.state != State.ROOM, c.travel_minutes) for c in open_]
    assert keys == sorted(keys)
    for earlier, later in itertools.pairwise(open_):
        if later.travel_minutes < earlier.travel_minutes:
            assert rule.band(later.travel_minutes) == rule.band(earlier.travel_minutes)
            assert earlier.state == State.ROOM and later.state == State.FULL
    # 4. Listed: the home region, other regions within the limit, and room elsewhere when the near ones have none.
    names = {c.name for c in listed}
    for c in candidates:
        if c.region_key == home or c.travel_minutes <= rule.other_regions_within:
            assert c.name in names
        elif not has_room and c.state == State.ROOM:
            assert c.name in names and beyond
    assert len(ordered) == len(listed) == len(names)
    return ordered


# --- the home region ---------------------------------------------------------------------------


@pytest.mark.parametrize("city", sorted(MAIN_CITIES))
def test_the_home_region_of_each_main_city_is_its_own(city: str) -> None:
    point, region = MAIN_CITIES[city]
    assert home_region_key(point, ACUTE) == region


# --- adversarial states from every main city ---------------------------------------------------


@pytest.mark.parametrize("city", sorted(MAIN_CITIES))
def test_nearest_full_and_far_away_room(city: str) -> None:
    point, region = MAIN_CITIES[city]
    candidates = candidates_from(point, nicu_only=True)
    ordered = by_minutes(candidates)
    for c in ordered[:-1]:
        c.state = State.FULL
    far = ordered[-1]  # the only NICU centre with room is the farthest in the country
    result = check_invariants(RULE, candidates, region)
    assert result[0] is ordered[0] and result[0].state == State.FULL
    assert result[-1] is far  # nothing with room nearer: it is added, last band, last


@pytest.mark.parametrize("city", sorted(MAIN_CITIES))
def test_nearest_in_stop_is_first_and_other_stops_last(city: str) -> None:
    point, region = MAIN_CITIES[city]
    candidates = candidates_from(point)
    ordered = by_minutes(candidates)
    ordered[0].state = State.STOP
    ordered[1].state = State.STOP
    result = check_invariants(RULE, candidates, region)
    assert result[0] is ordered[0] and result[0].state == State.STOP
    assert result[-1] is ordered[1]


@pytest.mark.parametrize("city", sorted(MAIN_CITIES))
def test_room_far_away_does_not_jump_a_nearer_full_one(city: str) -> None:
    point, region = MAIN_CITIES[city]
    candidates = candidates_from(point)
    ordered = by_minutes(candidates)
    for c in ordered:
        c.state = State.ROOM if c.travel_minutes > 60 else State.FULL
    result = check_invariants(RULE, candidates, region)
    listed_full = [c for c in result if c.state == State.FULL]
    listed_room = [c for c in result if c.state == State.ROOM]
    assert listed_full and all(result.index(f) < result.index(r) for f in listed_full for r in listed_room)


@pytest.mark.parametrize("city", sorted(MAIN_CITIES))
def test_another_region_nearer_than_the_home_one_comes_first(city: str) -> None:
    point, own = MAIN_CITIES[city]
    candidates = candidates_from(point)
    # The search's home region is some other region (as if asked for): the nearest is still first.
    other = next(code for _p, code in MAIN_CITIES.values() if code != own)
    result = check_invariants(RULE, candidates, other)
    assert result[0] is by_minutes(candidates)[0] and result[0].region_key == own


@settings(max_examples=150, deadline=None)
@given(
    city=st.sampled_from(sorted(MAIN_CITIES)),
    states=st.lists(st.sampled_from([State.ROOM, State.FULL, State.STOP]), min_size=120, max_size=120),
    nicu_only=st.booleans(),
    home_is_own=st.booleans(),
    bands=st.sampled_from([(30, 60, 90), (20, 45), (15, 30, 60, 120)]),
)
def test_the_rule_holds_for_any_states(
    city: str, states: list[str], nicu_only: bool, home_is_own: bool, bands: tuple[int, ...]
) -> None:
    point, own = MAIN_CITIES[city]
    candidates = candidates_from(point, nicu_only=nicu_only)
    for c, state in zip(candidates, states, strict=False):
        c.state = state
    home = own if home_is_own else "elsewhere"
    check_invariants(RankingRule(bands=bands, other_regions_within=bands[0]), candidates, home)


def test_the_rule_in_words_names_its_bands() -> None:
    with translation.override("en"):
        text = RULE.describe()
    assert "within 30 min" in text and "60 to 90 min" in text and "more than 90 min" in text
    assert "Admission stops come last" in text


# --- the travel-time model --------------------------------------------------------------------------

# The bounds docs/search.md promises for the model, on its own calibration data.
MEAN_ERROR_MAX = 5.0  # minutes, leave-one-out
WORST_ERROR_MAX = 10.0  # minutes


def test_the_model_is_fitted_to_enough_published_pairs_with_a_source() -> None:
    times = read_road_times()
    assert len(times) >= 15
    assert len({(t.start, t.end) for t in times}) == len(times)
    source = (Path(__file__).resolve().parent.parent / "search" / "data" / "road_times.SOURCE.md").read_text()
    assert "Source" in source and "road_times.csv" in source


def test_the_model_error_stays_within_the_documented_bounds() -> None:
    model = fit_travel_model(read_road_times())
    assert model == travel_model()
    assert model.loo_mean_abs_error <= MEAN_ERROR_MAX
    assert model.max_abs_error <= WORST_ERROR_MAX
    docs = (Path(__file__).resolve().parent.parent / "docs" / "search.md").read_text()
    assert f"leave-one-out): mean {model.loo_mean_abs_error:.1f} min" in docs
    assert f"worst {model.max_abs_error:.1f} min" in docs


def test_the_old_straight_line_rule_was_much_worse() -> None:
    """The replaced rule (straight line x 1.3 at 60 km/h) against the same published times."""
    times = read_road_times()
    old = [abs(max(1, round(t.km * 1.3)) - t.minutes) for t in times]
    new = [abs(travel_minutes(t.km) - t.minutes) for t in times]
    assert sum(new) / len(new) * 3 < sum(old) / len(old)


def test_short_trips_use_town_speed_and_times_grow_with_distance() -> None:
    assert travel_minutes(0.5) <= 2
    minutes = [travel_minutes(km / 2) for km in range(0, 600)]
    assert minutes == sorted(minutes)


@pytest.mark.parametrize(
    ("minutes", "english", "dutch"),
    [
        (3, "± 5 min", "± 5 min"),
        (23, "± 25 min", "± 25 min"),
        (60, "± 1 h", "± 1 u"),
        (108, "± 1 h 50 min", "± 1 u 50 min"),
    ],
)
def test_travel_times_are_shown_rounded(minutes: int, english: str, dutch: str) -> None:
    with translation.override("en"):
        assert format_travel_time(minutes) == english
    with translation.override("nl"):
        assert format_travel_time(minutes) == dutch
