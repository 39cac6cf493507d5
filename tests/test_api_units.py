"""The capacity API: reads, writes through the services, who may do what, problem details."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from pytest_django import Settings

from api.services import api_token_revoke
from capacity.models import ApiToken, CapacityEvent, Unit
from capacity.services import CapacityChange, unit_update_capacity
from tests.api_support import Api, org_token, region_token
from tests.conftest import World

OPEN = {"staffed_total": 10, "available": 3, "status": "open"}


@pytest.fixture
def writer(world: World) -> Api:
    return Api(org_token(world.hospital, world.org_admin))


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    assert body["type"].startswith(f"{settings.PUBLIC_BASE_URL}/problems/")
    return body


# --- writes --------------------------------------------------------------------------


def test_update_one_unit_records_api_history_with_token_and_pushes(
    world: World, writer: Api, published, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = writer.put(f"/units/{world.unit.pk}", OPEN, **{"If-Match": '"1"'})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["result"] == "updated" and body["unit"]["available"] == 3 and body["unit"]["version"] == 2
    assert response["ETag"] == '"2"'
    event = CapacityEvent.objects.get(unit=world.unit, action=CapacityEvent.Action.UPDATE)
    token = ApiToken.objects.get()
    assert (event.source, event.api_token, event.by) == ("api", token, world.org_admin)
    assert event.before["available"] == 4 and event.after["available"] == 3
    assert [e["location_id"] for e in published] == [world.location.pk]
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_same_figures_again_only_confirm(world: World, writer: Api) -> None:
    writer.put(f"/units/{world.unit.pk}", {**OPEN, "version": 1})
    world.unit.refresh_from_db()
    before = world.unit.confirmed_at
    response = writer.put(f"/units/{world.unit.pk}", {**OPEN, "version": 2})
    assert response.json()["result"] == "confirmed"
    world.unit.refresh_from_db()
    assert world.unit.version == 2 and world.unit.confirmed_at > before
    assert list(CapacityEvent.objects.filter(unit=world.unit).values_list("action", flat=True)) == ["confirm", "update"]


def test_a_retried_request_confirms_instead_of_conflicting(world: World, writer: Api) -> None:
    writer.put(f"/units/{world.unit.pk}", {**OPEN, "version": 1})
    response = writer.put(f"/units/{world.unit.pk}", {**OPEN, "version": 1})  # the response was lost; retry
    assert response.status_code == 200 and response.json()["result"] == "confirmed"
    world.unit.refresh_from_db()
    assert world.unit.version == 2


def test_stale_version_is_409_with_current_state_and_saves_nothing(world: World, writer: Api) -> None:
    unit_update_capacity(
        unit_id=world.unit.pk,
        by=world.staff,
        change=CapacityChange(staffed_total=10, available=0, status="stop", stop_reason="staff"),
        expected_version=1,
    )
    response = writer.put(f"/units/{world.unit.pk}", OPEN, **{"If-Match": '"1"'})
    body = _problem(response, 409)
    assert body["current"][0]["version"] == 2 and body["current"][0]["status"] == "stop"
    world.unit.refresh_from_db()
    assert world.unit.status == "stop" and world.unit.version == 2


def test_no_version_is_428(world: World, writer: Api) -> None:
    _problem(writer.put(f"/units/{world.unit.pk}", OPEN), 428)
    assert world.unit.events.count() == 0


@pytest.mark.parametrize("header", ["abc", '"1', "W/x", "99999999999"])
def test_bad_if_match_is_400(world: World, writer: Api, header: str) -> None:
    response = writer.put(f"/units/{world.unit.pk}", OPEN, **{"If-Match": header})
    assert response.status_code in (400, 409)
    assert response["Content-Type"] == "application/problem+json"


def test_if_match_and_version_must_agree(world: World, writer: Api) -> None:
    _problem(writer.put(f"/units/{world.unit.pk}", {**OPEN, "version": 2}, **{"If-Match": '"1"'}), 400)


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"staffed_total": 2, "available": 3, "status": "open"}, "/available"),
        ({"staffed_total": 2, "available": 0, "status": "stop"}, "/stop_reason"),
        (
            {
                "staffed_total": 2,
                "available": 0,
                "status": "stop",
                "stop_reason": "staff",
                "stop_expected_end": "2020-01-01T10:00:00+01:00",
            },
            "/stop_expected_end",
        ),
    ],
)
def test_service_validation_is_422_tied_to_the_field(world: World, writer: Api, body: dict, pointer: str) -> None:
    problem = _problem(writer.put(f"/units/{world.unit.pk}", {**body, "version": 1}), 422)
    assert pointer in [e["pointer"] for e in problem["errors"]]
    world.unit.refresh_from_db()
    assert world.unit.version == 1 and world.unit.events.count() == 0


@pytest.mark.parametrize(
    "body",
    [
        {"staffed_total": -1, "available": 0, "status": "open", "version": 1},
        {"staffed_total": 1, "available": 0, "status": "closed", "version": 1},
        {"staffed_total": 1, "available": 0, "status": "open", "note": "a\x00b", "version": 1},
        {"staffed_total": 1, "available": 0, "status": "open", "note": "x" * 201, "version": 1},
        {
            "staffed_total": 1,
            "available": 0,
            "status": "stop",
            "stop_reason": "beds",
            "stop_expected_end": "2030-01-01T10:00:00",
            "version": 1,
        },
        {
            "staffed_total": 1,
            "available": 0,
            "status": "stop",
            "stop_reason": "beds",
            "stop_expected_end": "9999-12-31T23:59:59-14:00",
            "version": 1,
        },
        {"staffed_total": 100000, "available": 0, "status": "open", "version": 1},
        {"available": 0, "status": "open", "version": 1},
    ],
)
def test_schema_violations_are_422_problems(world: World, writer: Api, body: dict) -> None:
    problem = _problem(writer.put(f"/units/{world.unit.pk}", body), 422)
    assert problem["errors"]
    assert world.unit.events.count() == 0


def test_body_that_is_not_json_is_a_4xx_problem(world: World, writer: Api) -> None:
    response = writer.client.put(
        f"/api/v1/units/{world.unit.pk}", "{not json", content_type="application/json", headers=writer.headers
    )
    assert response.status_code in (400, 422) and response["Content-Type"] == "application/problem+json"


def test_dutch_messages_on_request(world: World, writer: Api) -> None:
    body = {"staffed_total": 2, "available": 3, "status": "open", "version": 1}
    english = writer.put(f"/units/{world.unit.pk}", body).json()
    dutch = writer.put(f"/units/{world.unit.pk}", body, **{"Accept-Language": "nl"}).json()
    assert "cannot exceed" in english["errors"][0]["detail"]
    assert dutch["errors"][0]["detail"] != english["errors"][0]["detail"]
    assert dutch["title"] != english["title"]


def test_confirm_endpoint(world: World, writer: Api) -> None:
    response = writer.post(f"/units/{world.unit.pk}/confirm", **{"If-Match": '"1"'})
    assert response.status_code == 200 and response.json()["result"] == "confirmed"
    assert CapacityEvent.objects.get().action == "confirm"
    _problem(writer.post(f"/units/{world.unit.pk}/confirm", {"version": 7}), 409)


# --- all units of a location ---------------------------------------------------------


def test_location_update_sets_every_unit_and_pushes_once(
    world: World, writer: Api, published, django_capture_on_commit_callbacks
) -> None:
    body = {
        "units": [
            {
                "kind": "delivery_suite",
                "staffed_total": 10,
                "available": 0,
                "status": "stop",
                "stop_reason": "beds",
                "stop_expected_end": (timezone.now() + timedelta(hours=2)).isoformat(),
                "version": 1,
            },
            {"kind": "nicu", "staffed_total": 24, "available": 2, "status": "open", "version": 1},
        ]
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = writer.put(f"/locations/{world.location.pk}/units", body)
    assert response.status_code == 200, response.content
    results = {r["unit"]["kind"]: r["result"] for r in response.json()["units"]}
    assert results == {"delivery_suite": "updated", "nicu": "confirmed"}
    world.unit.refresh_from_db()
    assert world.unit.status == "stop" and world.unit.version == 2
    assert len(published) == 1
    assert set(CapacityEvent.objects.values_list("source", flat=True)) == {"api"}


def test_location_update_is_all_or_nothing(world: World, writer: Api) -> None:
    body = {
        "units": [
            {"kind": "delivery_suite", "staffed_total": 10, "available": 1, "status": "open", "version": 1},
            {"kind": "nicu", "staffed_total": 2, "available": 5, "status": "open", "version": 1},
        ]
    }
    problem = _problem(writer.put(f"/locations/{world.location.pk}/units", body), 422)
    assert [e["pointer"] for e in problem["errors"]] == ["/units/1/available"]
    world.unit.refresh_from_db()
    assert world.unit.available == 4 and CapacityEvent.objects.count() == 0


def test_location_update_stale_unit_is_409_and_saves_nothing(world: World, writer: Api) -> None:
    body = {
        "units": [
            {"kind": "delivery_suite", "staffed_total": 10, "available": 1, "status": "open", "version": 1},
            {"kind": "nicu", "staffed_total": 24, "available": 1, "status": "open", "version": 5},
        ]
    }
    problem = _problem(writer.put(f"/locations/{world.location.pk}/units", body), 409)
    assert {u["kind"] for u in problem["current"]} == {"delivery_suite", "nicu"}
    world.unit.refresh_from_db()
    assert world.unit.available == 4 and CapacityEvent.objects.count() == 0


def test_location_update_retried_request_confirms_instead_of_conflicting(world: World, writer: Api) -> None:
    body = {
        "units": [
            {"kind": "delivery_suite", "staffed_total": 10, "available": 1, "status": "open", "version": 1},
            {"kind": "nicu", "staffed_total": 24, "available": 2, "status": "open", "version": 1},
        ]
    }
    assert writer.put(f"/locations/{world.location.pk}/units", body).status_code == 200
    response = writer.put(f"/locations/{world.location.pk}/units", body)  # the response was lost; retry
    assert response.status_code == 200, response.content
    results = {r["unit"]["kind"]: (r["result"], r["unit"]["version"]) for r in response.json()["units"]}
    assert results == {"delivery_suite": ("confirmed", 2), "nicu": ("confirmed", 1)}
    assert list(CapacityEvent.objects.filter(unit=world.unit).values_list("action", flat=True)) == ["confirm", "update"]


def test_location_update_retry_over_a_change_made_meanwhile_is_409(world: World, writer: Api) -> None:
    body = {"units": [{"kind": "delivery_suite", "staffed_total": 10, "available": 1, "status": "open", "version": 1}]}
    writer.put(f"/locations/{world.location.pk}/units", body)
    unit_update_capacity(
        unit_id=world.unit.pk,
        by=world.staff,
        change=CapacityChange(staffed_total=10, available=0, status="stop", stop_reason="staff"),
        expected_version=2,
    )
    problem = _problem(writer.put(f"/locations/{world.location.pk}/units", body), 409)
    assert {u["kind"]: u["status"] for u in problem["current"]}["delivery_suite"] == "stop"
    world.unit.refresh_from_db()
    assert world.unit.status == "stop" and world.unit.version == 3


def test_location_update_unknown_or_duplicate_kind_is_422(world: World, writer: Api) -> None:
    unit = {"staffed_total": 1, "available": 1, "status": "open", "version": 1}
    missing = writer.put(f"/locations/{world.location.pk}/units", {"units": [{**unit, "kind": "birth_centre"}]})
    assert _problem(missing, 422)["errors"][0]["pointer"] == "/units/0/kind"
    twice = writer.put(
        f"/locations/{world.location.pk}/units",
        {"units": [{**unit, "kind": "nicu"}, {**unit, "kind": "nicu"}]},
    )
    assert _problem(twice, 422)["errors"][0]["pointer"] == "/units/1/kind"
    assert CapacityEvent.objects.count() == 0


# --- who may write ------------------------------------------------------------------


def test_a_token_writes_only_its_own_organisations_units(world: World, writer: Api) -> None:
    _problem(writer.put(f"/units/{world.other_unit.pk}", {**OPEN, "version": 1}), 403)
    _problem(
        writer.put(
            f"/locations/{world.other_location.pk}/units", {"units": [{**OPEN, "kind": "delivery_suite", "version": 1}]}
        ),
        403,
    )
    _problem(writer.post(f"/units/{world.other_unit.pk}/confirm", {"version": 1}), 403)
    assert CapacityEvent.objects.count() == 0


def test_read_only_and_region_tokens_cannot_write(world: World) -> None:
    for raw in (
        org_token(world.hospital, world.org_admin, scope=ApiToken.Scope.READ),
        region_token(world.region, world.coordinator),
    ):
        api = Api(raw)
        _problem(api.put(f"/units/{world.unit.pk}", {**OPEN, "version": 1}), 403)
        _problem(api.post(f"/units/{world.unit.pk}/confirm", {"version": 1}), 403)
    assert CapacityEvent.objects.count() == 0


def test_revoked_unknown_and_missing_tokens_are_401(world: World) -> None:
    raw = org_token(world.hospital, world.org_admin)
    api_token_revoke(token_id=ApiToken.objects.get().pk, by=world.org_admin)
    for api in (Api(raw), Api("bcap_nonsense"), Api(None)):
        problem = _problem(api.put(f"/units/{world.unit.pk}", {**OPEN, "version": 1}), 401)
        assert "Bearer" in problem["detail"]
        _problem(api.get("/regions"), 401)
    assert CapacityEvent.objects.count() == 0


def test_session_login_is_not_api_authentication(world: World, client_for) -> None:
    c = client_for(world.staff)
    response = c.get("/api/v1/regions")
    assert response.status_code == 401


# --- reads ----------------------------------------------------------------------------


def test_reads_regions_locations_units_with_freshness(world: World) -> None:
    api = Api(org_token(world.hospital, world.org_admin, scope=ApiToken.Scope.READ))
    assert {r["code"] for r in api.get("/regions").json()} == {"midden", "west"}
    locations = api.get("/locations?region=midden").json()
    assert {loc["slug"] for loc in locations} == {"wkz", "diak"}
    wkz = next(loc for loc in locations if loc["slug"] == "wkz")
    assert [u["kind"] for u in wkz["units"]] == ["delivery_suite", "nicu"]
    Unit.objects.filter(pk=world.unit.pk).update(confirmed_at=timezone.now() - timedelta(hours=5))
    unit = api.get(f"/units/{world.unit.pk}")
    assert unit["ETag"] == '"1"' and unit.json()["stale"] is True and unit.json()["stale_since"]
    assert api.get(f"/locations/{world.far_location.pk}").json()["region"] == "west"
    _problem(api.get("/locations?region=nowhere"), 404)
    _problem(api.get("/units/999999999"), 404)
    _problem(api.get("/units/99999999999999999999999"), 422)


def test_history_is_paged_newest_first(world: World, writer: Api) -> None:
    for version, available in enumerate([3, 2, 1], start=1):
        writer.put(
            f"/units/{world.unit.pk}",
            {"staffed_total": 10, "available": available, "status": "open", "version": version},
        )
    first = writer.get(f"/units/{world.unit.pk}/history?page_size=2").json()
    assert first["count"] == 3 and first["next_page"] == 2
    assert [e["after"]["available"] for e in first["results"]] == [1, 2]
    assert all(e["source"] == "api" for e in first["results"])
    assert {e["api_token"] for e in first["results"]} == {"UMC Utrecht HIS"}  # the organisation's own token
    other_hospital = world.other_location.organisation
    other = Api(org_token(other_hospital, world.org_admin, scope=ApiToken.Scope.READ))
    assert {e["api_token"] for e in other.get(f"/units/{world.unit.pk}/history").json()["results"]} == {None}
    second = writer.get(f"/units/{world.unit.pk}/history?page_size=2&page=2").json()
    assert [e["after"]["available"] for e in second["results"]] == [3] and second["next_page"] is None
    _problem(writer.get(f"/units/{world.unit.pk}/history?page_size=1000"), 422)


def test_rate_limit_per_token(world: World, settings: Settings) -> None:
    settings.API_RATE_LIMIT_PER_MINUTE = 3
    limited = Api(org_token(world.hospital, world.org_admin))
    other = Api(org_token(world.hospital, world.org_admin))
    assert [limited.get("/regions").status_code for _ in range(3)] == [200, 200, 200]
    problem = _problem(limited.get("/regions"), 429)
    assert "3" in problem["detail"]
    assert int(limited.get("/regions")["Retry-After"]) >= 1
    assert other.get("/regions").status_code == 200


def test_unknown_query_parameters_are_refused(world: World, writer: Api) -> None:
    problem = _problem(writer.get("/locations?regoin=west"), 422)
    assert problem["errors"][0]["pointer"] == "/regoin"


def test_rate_limit_counts_in_redis_across_processes(world: World, settings: Settings) -> None:
    """With REDIS_URL the counters live in Redis, so every server process sees the same count."""
    if not settings.REDIS_URL:
        pytest.skip("needs Redis")
    import uuid

    from django.core.cache import caches

    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": settings.REDIS_URL,
            "KEY_PREFIX": f"test-{uuid.uuid4().hex}",
        }
    }
    settings.API_RATE_LIMIT_PER_MINUTE = 2
    api = Api(org_token(world.hospital, world.org_admin))
    assert [api.get("/regions").status_code for _ in range(2)] == [200, 200]
    caches["default"].close()  # a fresh connection, as another process would have
    assert api.get("/regions").status_code == 429
