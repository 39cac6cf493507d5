"""The capacity search over the API: the same selector as the midwives' page, for any valid token."""

from __future__ import annotations

from typing import Any

import pytest

from api.services import api_token_revoke
from capacity.models import ApiToken, Unit
from capacity.services import CapacityChange, unit_update_capacity
from hospitals.models import User
from tests.api_support import Api, org_token, region_token
from tests.conftest import World
from tests.search_world import make_postcodes


@pytest.fixture
def api(world: World) -> Api:
    make_postcodes()
    return Api(org_token(world.hospital, world.org_admin, scope=ApiToken.Scope.READ))


def _set(unit: Unit, by: User, **figures: object) -> None:
    change: dict[str, Any] = {
        "staffed_total": unit.staffed_total,
        "available": unit.available,
        "status": Unit.Status.OPEN,
    }
    change.update(figures)
    unit_update_capacity(unit_id=unit.pk, by=by, change=CapacityChange(**change), expected_version=None)


def _names(body: dict[str, Any]) -> list[str]:
    return [hit["location"]["name"] for hit in body["results"]]


def test_nearest_first_within_the_region_of_the_origin(world: World, api: Api) -> None:
    response = api.get("/search?origin=3731&care=overdracht")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["region"] == "midden" and body["required_level"] == "term" and body["region_has_room"]
    assert _names(body) == ["WKZ Utrecht", "Diakonessenhuis Utrecht"]  # 2.6 km, then 4.3 km
    first = body["results"][0]
    assert first["state"] == "room" and first["in_region"] and first["distance_km"] == pytest.approx(2.6, abs=0.1)
    assert first["travel_minutes_estimate"] >= 1 and "estimate" in body["travel_time_note"]
    assert [u["kind"] for u in first["units"]] == ["delivery_suite"]
    assert "GeoNames" in body["attribution"]


def test_gestational_age_decides_the_level(world: World, api: Api) -> None:
    body = api.get("/search?origin=3731&care=overdracht&weeks=28").json()
    assert body["required_level"] == "nicu" and _names(body) == ["WKZ Utrecht"]
    assert {u["kind"] for u in body["results"][0]["units"]} == {"delivery_suite", "nicu"}
    assert "NICU" in body["rule"]


def test_a_stop_is_listed_last_and_other_regions_join_when_the_region_is_full(world: World, api: Api) -> None:
    _set(world.unit, world.staff, status=Unit.Status.STOP, stop_reason=Unit.StopReason.STAFF, available=0)
    body = api.get("/search?origin=3731&care=overdracht").json()
    # WKZ is the nearest: first whatever its state, saying it is in stop.
    assert _names(body) == ["WKZ Utrecht", "Diakonessenhuis Utrecht"]
    assert body["results"][0]["state"] == "stop" and body["results"][0]["nearest"] and not body["beyond_region"]

    _set(world.other_unit, world.other_staff, available=0)
    body = api.get("/search?origin=3731&care=overdracht").json()
    assert not body["region_has_room"] and body["beyond_region"]
    # Diakonessenhuis (full, 10 min) before LUMC (room, ~50 min): room does not jump a band.
    assert _names(body) == ["WKZ Utrecht", "Diakonessenhuis Utrecht", "LUMC Leiden"]
    assert body["results"][-1]["in_region"] is False and body["results"][-1]["state"] == "room"
    assert "bands" in body["ranking_rule"]


def test_region_parameter_and_region_tokens(world: World) -> None:
    make_postcodes()
    api = Api(region_token(world.other_region, world.national_admin, scope=ApiToken.Scope.READ))
    body = api.get("/search?origin=2333&care=overdracht").json()
    assert body["region"] == "west" and _names(body) == ["LUMC Leiden"]
    assert body["region_from_origin"]
    body = api.get("/search?origin=2333&care=overdracht&region=midden").json()
    # Midden asked for, but LUMC is the nearest: first, marked as another region.
    assert body["region"] == "midden" and not body["region_from_origin"]
    assert _names(body)[:2] == ["LUMC Leiden", "Diakonessenhuis Utrecht"]
    assert body["results"][0]["nearest"] and not body["results"][0]["in_region"]
    # The token's own region does not decide: a search from De Bilt with a West token is Midden's.
    body = api.get("/search?origin=3731&care=overdracht").json()
    assert body["region"] == "midden" and _names(body)[0] == "WKZ Utrecht"


@pytest.mark.parametrize(
    ("query", "status", "pointer"),
    [
        ("origin=9999&care=overdracht", 422, "/origin"),  # not a known postcode area
        ("origin=Nergenshuizen&care=overdracht", 422, "/origin"),
        ("origin=12&care=overdracht", 422, "/origin"),
        ("origin=3731", 422, None),  # care missing
        ("origin=3731&care=thuis", 422, None),
        ("origin=3731&care=overdracht&weeks=50", 422, None),
        ("origin=3731&care=overdracht&regoin=west", 422, "/regoin"),
        ("origin=3731&care=overdracht&region=nergens", 404, None),
    ],
)
def test_bad_input_gets_a_problem_never_a_500(
    world: World, api: Api, query: str, status: int, pointer: str | None
) -> None:
    response = api.get(f"/search?{query}")
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    if pointer:
        assert pointer in [e["pointer"] for e in response.json()["errors"]]


def test_unknown_postcode_message_in_dutch_on_request(world: World, api: Api) -> None:
    response = api.get("/search?origin=9999&care=overdracht", **{"Accept-Language": "nl"})
    assert response.status_code == 422 and "geen bekend" in response.json()["detail"].lower()


def test_no_token_or_a_revoked_token_is_refused(world: World) -> None:
    make_postcodes()
    assert Api(None).get("/search?origin=3731&care=overdracht").status_code == 401
    raw = org_token(world.hospital, world.org_admin, scope=ApiToken.Scope.READ)
    token = ApiToken.objects.get()
    api_token_revoke(token_id=token.pk, by=world.org_admin)
    assert Api(raw).get("/search?origin=3731&care=overdracht").status_code == 401
    # A signed-in session does not authenticate the API.
    client = Api(None).client
    client.force_login(world.midwife)
    assert client.get("/api/v1/search?origin=3731&care=overdracht").status_code == 401
