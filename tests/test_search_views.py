"""The search page, its result list, JSON endpoint and place suggestions: who may search, what they see, bad input."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from capacity.models import Unit
from hospitals.services import location_set_phone
from search.selectors import live_fingerprint
from tests.conftest import World
from tests.search_world import SearchWorld, make_search_world

SEARCHERS = ["midwife", "coordinator", "org_admin", "national_admin"]
REFUSED = ["staff", "other_staff", "no_role"]
SEARCH = reverse("search:search")
RESULTS = reverse("search:search_results")
JSON = reverse("search:search_json")
PLACES = reverse("search:search_places")


@pytest.fixture
def sw(world: World) -> SearchWorld:
    return make_search_world(region=world.region, other_region=world.other_region)


# --- who may search ---------------------------------------------------------------------------


@pytest.mark.parametrize("persona", SEARCHERS)
def test_midwives_coordinators_and_administrators_search(
    world: World, sw: SearchWorld, client_for, persona: str
) -> None:
    c = client_for(world.personas()[persona])
    assert c.get(SEARCH).status_code == 200
    assert c.get(SEARCH, {"where": "3731", "care": "overdracht"}).status_code == 200
    assert c.get(RESULTS, {"where": "3731", "care": "overdracht"}).status_code == 200
    assert c.get(JSON, {"where": "3731", "care": "overdracht"}).status_code == 200
    assert c.get(PLACES, {"where": "Utr"}).status_code == 200


@pytest.mark.parametrize("persona", REFUSED)
def test_hospital_staff_and_accounts_without_role_are_refused(
    world: World, sw: SearchWorld, client_for, persona: str
) -> None:
    c = client_for(world.personas()[persona])
    query = {"where": "3731", "care": "overdracht"}
    assert c.get(SEARCH, query).status_code == 403
    assert c.get(RESULTS, query).status_code == 403
    assert c.get(PLACES, {"where": "Utr"}).status_code == 403
    response = c.get(JSON, query)
    assert response.status_code == 403 and "results" not in response.json()


def test_anonymous_is_sent_to_login_and_the_json_endpoint_says_401(client: Client, sw: SearchWorld) -> None:
    for url in (SEARCH, RESULTS, PLACES):
        response = client.get(url, {"where": "3731", "care": "overdracht"})
        assert response.status_code == 302 and "/login/" in response["Location"]
    response = client.get(JSON, {"where": "3731", "care": "overdracht"})
    assert response.status_code == 401 and "results" not in response.json()


def test_only_get_is_allowed(world: World, sw: SearchWorld, client_for) -> None:
    c = client_for(world.midwife)
    assert c.post(SEARCH, {"where": "3731", "care": "overdracht"}).status_code == 405
    assert c.post(JSON, {"where": "3731", "care": "overdracht"}).status_code == 405


def test_the_search_link_is_in_the_menu_of_those_who_may_search(world: World, client_for) -> None:
    assert f'href="{SEARCH}"' in client_for(world.midwife).get(reverse("capacity:board_national")).content.decode()
    assert f'href="{SEARCH}"' not in client_for(world.staff).get(reverse("capacity:my_units")).content.decode()


# --- what the midwife sees --------------------------------------------------------------------


def test_results_nearest_first_with_status_in_words_estimate_phone_and_refusal(
    world: World, sw: SearchWorld, client_for
) -> None:
    location_set_phone(location_id=sw.high_care.pk, by=world.national_admin, phone="030-250 40 00")
    Unit.objects.filter(location=sw.nicu, kind=Unit.Kind.DELIVERY_SUITE).update(
        status=Unit.Status.STOP, stop_reason="staff"
    )
    body = client_for(world.midwife).get(SEARCH, {"where": "3731", "care": "overdracht", "weeks": "35"}).content
    html = body.decode()
    # 35 weeks: medium care or better. Nearest first, the stop last (and still shown).
    order = [html.index(f'id="result-{loc.pk}"') for loc in (sw.medium_care, sw.high_care, sw.with_birth_centre)]
    assert order == sorted(order)
    assert html.index(f'id="result-{sw.nicu.pk}"') > order[-1]
    assert f'id="result-{sw.birth_centre.pk}"' not in html and f'id="result-{sw.no_neonatal.pk}"' not in html
    assert "Opnamestop – als laatste getoond" in html  # the stop, in words (Dutch by default)
    assert "Ruimte" in html  # the shared status badge
    assert 'href="tel:+31302504000"' in html and "Bel de verloskamers: 030 250 4000" in html
    assert "Geen telefoonnummer bekend" in html
    assert f"/refusals/new/?location={sw.high_care.pk}&amp;care_type=overdracht&amp;gestational_weeks=35" in html
    assert "schatting" in html  # the travel time says it is an estimate
    assert "levensbedreigende situatie" in html
    assert "GeoNames, www.geonames.org" in html
    assert "Van 34 tot 37 weken" in html  # the rule in words


def test_stops_and_out_of_date_figures_are_marked_in_page_and_json(world: World, sw: SearchWorld, client_for) -> None:
    Unit.objects.filter(location=sw.medium_care).update(confirmed_at=timezone.now() - timedelta(hours=5))
    Unit.objects.filter(location=sw.high_care, kind=Unit.Kind.DELIVERY_SUITE).update(
        status=Unit.Status.STOP, stop_reason="beds", available=0
    )
    c = client_for(world.midwife)
    query = {"where": "3731", "care": "overdracht", "weeks": "35"}
    data = c.get(JSON, query).json()
    by_slug = {r["location"]["slug"]: r for r in data["results"]}
    assert data["results"][-1]["location"]["slug"] == "s-high" and by_slug["s-high"]["state"] == "stop"
    assert by_slug["s-high"]["units"][0]["stop_reason"] == "beds"
    assert by_slug["s-medium"]["stale"] is True and by_slug["s-nicu"]["stale"] is False
    assert all(u["stale"] for u in by_slug["s-medium"]["units"])
    html = c.get(SEARCH, query).content.decode()
    medium = html.split(f'id="result-{sw.medium_care.pk}"')[1].split('<li class="result ')[0]
    nicu = html.split(f'id="result-{sw.nicu.pk}"')[1].split('<li class="result ')[0]
    assert "Verouderd" in medium and "Verouderd" not in nicu


@pytest.mark.parametrize(("care", "weeks"), [("begeleiding", ""), ("begeleiding", "35"), ("overdracht", "28")])
def test_every_result_a_midwife_sees_offers_a_refusal_there(
    world: World, sw: SearchWorld, client_for, care: str, weeks: str
) -> None:
    """Stand-alone birth centres too: a birth centre can refuse a begeleiding client."""
    c = client_for(world.midwife)
    query = {"where": "3731", "care": care, "weeks": weeks}
    data = c.get(JSON, query).json()
    html = c.get(SEARCH, query).content.decode()
    assert data["results"]
    for r in data["results"]:
        item = html.split(f'id="result-{r["location"]["id"]}"')[1].split('<li class="result ')[0]
        link = f"/refusals/new/?location={r['location']['id']}&amp;care_type={care}"
        assert link in item
        form = c.get(link.replace("&amp;", "&")).content.decode()
        assert f'<option value="{r["location"]["id"]}" selected>' in form
    if care == "begeleiding" and not weeks:
        assert sw.birth_centre.pk in [r["location"]["id"] for r in data["results"]]


def test_only_midwives_get_the_refusal_link(world: World, sw: SearchWorld, client_for) -> None:
    html = client_for(world.coordinator).get(SEARCH, {"where": "3731", "care": "overdracht"}).content.decode()
    assert f'id="result-{sw.high_care.pk}"' in html and "/refusals/new/" not in html


def test_practice_location_is_the_default_origin(world: World, sw: SearchWorld, client_for) -> None:
    c = client_for(world.midwife)
    page = c.get(SEARCH).content.decode()
    assert "3731 De Bilt (Praktijk De Bilt)" in page  # said in the field's help
    data = c.get(JSON, {"where": "", "care": "begeleiding"}).json()
    assert data["origin"]["pc4"] == "3731"


def test_without_a_practice_location_the_field_asks_for_one(world: World, sw: SearchWorld, client_for) -> None:
    response = client_for(world.coordinator).get(
        SEARCH, {"where": "", "care": "begeleiding"}, HTTP_ACCEPT_LANGUAGE="nl"
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'aria-invalid="true"' in html and 'id="id_where-error"' in html and "id_where-error" in html
    assert "vul een postcode of een plaats in" in html


def test_region_overflow_is_announced(world: World, sw: SearchWorld, client_for) -> None:
    Unit.objects.filter(location__region=world.region, kind=Unit.Kind.NICU).update(available=0)
    c = client_for(world.midwife)
    data = c.get(JSON, {"where": "3731", "care": "overdracht", "weeks": "28"}).json()
    assert data["beyond_region"] and not data["region_has_room"]
    # The nearest NICU centre (WKZ, full) stays first; the other region's NICU with room is added.
    first = data["results"][0]
    assert first["location"]["slug"] == "wkz" and first["nearest"] and first["state"] == "full"
    assert (first["obstetric_state"], first["neonatal_state"]) == ("room", "full")
    far = next(r for r in data["results"] if r["location"]["slug"] == "s-far-nicu")
    assert far["in_region"] is False and far["state"] == "room"
    html = c.get(SEARCH, {"where": "3731", "care": "overdracht", "weeks": "28"}).content.decode()
    assert "Geen locatie in Midden-Nederland heeft ruimte" in html and "Andere regio: ROAZ West" in html


def test_json_endpoint_gives_the_same_search_as_data(world: World, sw: SearchWorld, client_for) -> None:
    data = client_for(world.midwife).get(JSON, {"where": "Utrecht", "care": "overdracht", "weeks": "30"}).json()
    assert data["care"] == "overdracht" and data["gestational_weeks"] == 30 and data["required_level"] == "nicu"
    assert data["origin"]["label"] == "Utrecht" and data["region"] == world.region.code
    slugs = [r["location"]["slug"] for r in data["results"]]
    assert slugs == ["wkz", "s-nicu"]  # the region's NICU centres, nearest first; WKZ has room
    wkz = data["results"][0]
    assert [u["kind"] for u in wkz["units"]] == ["delivery_suite", "nicu"]
    assert wkz["travel_minutes_estimate"] >= 1 and wkz["distance_km"] > 0 and wkz["location"]["phone"] is None
    assert "GeoNames" in data["attribution"] and data["rule"]


def test_result_list_carries_its_live_socket_and_fingerprint(world: World, sw: SearchWorld, client_for) -> None:
    html = client_for(world.midwife).get(RESULTS, {"where": "3731", "care": "overdracht", "weeks": "28"}).content
    text = html.decode()
    ids = sorted([world.location.pk, sw.nicu.pk])
    assert text.lstrip().startswith('<div id="search-results"')
    assert f'data-ws="/ws/search/?locations={ids[0]},{ids[1]}"' in text
    assert f'data-fingerprint="{live_fingerprint(ids)}"' in text
    assert "data-refresh-url=" in text and "care=overdracht" in text and "weeks=28" in text


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"where": "9999", "care": "overdracht"}, "where", "9999 is not a known Dutch postcode area"),
        ({"where": "12", "care": "overdracht"}, "where", "Enter a postcode of 4 digits"),
        ({"where": "Atlantis", "care": "overdracht"}, "where", "No place called Atlantis"),
        ({"where": "Hengelo", "care": "overdracht"}, "where", "several places called Hengelo"),
        ({"where": "3731"}, "care", "This field is required"),
        ({"where": "3731", "care": "kraamzorg"}, "care", "Select a valid choice"),
        ({"where": "3731", "care": "overdracht", "weeks": "12"}, "weeks", "greater than or equal to 16"),
        ({"where": "3731", "care": "overdracht", "weeks": "dertig"}, "weeks", "Enter a whole number"),
    ],
)
def test_bad_input_gets_a_clear_message_tied_to_the_field(
    world: World, sw: SearchWorld, client_for, query: dict[str, str], field: str, message: str
) -> None:
    c = client_for(world.midwife)
    c.cookies["django_language"] = "en"
    response = c.get(JSON, query)
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert list(errors) == [field] and message in errors[field][0]
    page = c.get(SEARCH, query)
    assert page.status_code == 400
    assert f'id="id_{field}-error"' in page.content.decode()
    assert c.get(RESULTS, query).status_code == 400


def test_messages_are_dutch_by_default(world: World, sw: SearchWorld, client_for) -> None:
    response = client_for(world.midwife).get(JSON, {"where": "9999", "care": "overdracht"})
    assert "9999 is geen bekend Nederlands postcodegebied" in response.json()["errors"]["where"][0]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(where=st.text(max_size=90), weeks=st.one_of(st.just(""), st.text(max_size=4), st.integers(-5, 60).map(str)))
def test_no_input_makes_the_search_fail(world: World, sw: SearchWorld, client_for, where: str, weeks: str) -> None:
    where = where.replace("\x00", "")  # the test client cannot send NUL; browsers do not either
    response = client_for(world.midwife).get(JSON, {"where": where, "care": "begeleiding", "weeks": weeks})
    assert response.status_code in (200, 400)


# --- place suggestions --------------------------------------------------------------------------


def test_place_suggestions_are_options_for_the_datalist(world: World, sw: SearchWorld, client_for) -> None:
    c = client_for(world.midwife)
    html = c.get(PLACES, {"where": "hen"}).content.decode()
    assert html.strip() == (
        '<option value="Hengelo (Bronckhorst)"></option><option value="Hengelo (Hengelo)"></option>'
        '<option value="Hengelo (Gld)"></option>'
    )
    assert c.get(PLACES, {"where": "x"}).content.decode().strip() == ""


def test_refusal_link_prefills_the_refusal_form(world: World, sw: SearchWorld, client_for) -> None:
    html = (
        client_for(world.midwife)
        .get(
            reverse("refusals:register"),
            {"location": world.location.pk, "care_type": "overdracht", "gestational_weeks": "30"},
        )
        .content.decode()
    )
    assert f'<option value="{world.location.pk}" selected>' in html
    assert re.search(r'<input[^>]*value="overdracht"[^>]*checked', html)
    assert not re.search(r'<input[^>]*value="begeleiding"[^>]*checked', html)
    assert 'name="gestational_weeks" value="30"' in html
