"""The placement-request API: who reads, who answers, each transition, concurrency, problem details."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from api.services import api_token_revoke
from capacity.models import ApiToken
from hospitals.models import AccessLog
from placements.models import PlacementEvent, PlacementRequest
from placements.services import placement_transition
from refusals.models import Refusal
from tests.api_support import Api, org_token, region_token
from tests.conftest import World
from tests.test_placement_services import send

pytestmark = pytest.mark.django_db

State = PlacementRequest.State
ANSWER = ApiToken.Scope.ANSWER_REQUESTS


@pytest.fixture
def desk(world: World) -> Api:
    """The hospital's system with an answer-requests token."""
    return Api(org_token(world.hospital, world.org_admin, scope=ANSWER))


def _problem(response, status: int, slug: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    assert body["type"] == f"{settings.PUBLIC_BASE_URL}/problems/{slug}"
    return body


# --- reads -----------------------------------------------------------------------------


def test_list_shows_the_open_requests_to_the_organisations_locations(world: World, desk: Api) -> None:
    later = send(world, urgency="planned", gestational_weeks=None)
    first = send(world)
    send(world, location_id=world.other_location.pk)  # another organisation's location
    response = desk.get("/requests/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["count"], body["next_page"]) == (2, None)
    assert [r["id"] for r in body["results"]] == [first.pk, later.pk]  # the nearest deadline first
    row = body["results"][0]
    assert row == {
        "id": first.pk,
        "location_id": world.location.pk,
        "state": "sent",
        "version": 1,
        "urgency": "immediate",
        "care_type": "overdracht",
        "gestational_weeks": 36,
        "required_level": 0,
        "expected_arrival": row["expected_arrival"],
        "sent_at": row["sent_at"],
        "deadline": row["deadline"],
        "answered_at": None,
        "decline_reason": None,
        "callback_phone": "+31612345678",
        "midwife_organisation": "Praktijk De Bilt",
    }
    assert f'"{world.midwife.username}"' not in response.content.decode()  # her practice, never her account
    # Every read of requests (they carry the midwife's number) is in the access log, as the token's issuer.
    entry = AccessLog.objects.get(what="placement requests (API)")
    assert (entry.action, entry.user) == (AccessLog.Action.VIEW, world.org_admin)


def test_list_filters_by_state_and_pages(world: World, desk: Api) -> None:
    requests = [send(world) for _ in range(3)]
    placement_transition(request_id=requests[0].pk, to=State.ACCEPTED, by=world.staff)
    assert [r["id"] for r in desk.get("/requests/?state=accepted").json()["results"]] == [requests[0].pk]
    page = desk.get("/requests/?page_size=1&page=2").json()
    assert (page["count"], page["page"], page["next_page"], len(page["results"])) == (2, 2, None, 1)
    _problem(desk.get("/requests/?state=lost"), 422, "invalid-input")
    _problem(desk.get("/requests/?staat=sent"), 422, "invalid-input")  # a misspelt filter is not ignored
    _problem(desk.get("/requests/?page_size=201"), 422, "invalid-input")


def test_detail_has_the_version_as_etag(world: World, desk: Api) -> None:
    request = send(world)
    response = desk.get(f"/requests/{request.pk}")
    assert response.status_code == 200
    assert response["ETag"] == '"1"' and response.json()["version"] == 1
    _problem(desk.get("/requests/999999"), 404, "not-found")


# --- answers ---------------------------------------------------------------------------


def test_seen_accept_arrived_each_move_the_request_and_record_the_token(world: World, desk: Api) -> None:
    request = send(world)
    seen = desk.post(f"/requests/{request.pk}/seen", **{"If-Match": '"1"'})
    assert seen.status_code == 200, seen.content
    assert (seen.json()["state"], seen.json()["version"], seen["ETag"]) == ("seen", 2, '"2"')
    accepted = desk.post(f"/requests/{request.pk}/accept", {"version": 2})
    assert accepted.status_code == 200, accepted.content
    assert accepted.json()["state"] == "accepted" and accepted.json()["answered_at"] is not None
    arrived = desk.post(f"/requests/{request.pk}/arrived", {"version": 3})
    assert arrived.status_code == 200 and arrived.json()["state"] == "arrived"
    token = ApiToken.objects.get()
    events = list(PlacementEvent.objects.filter(request=request).exclude(after=State.SENT))
    assert [(e.before, e.after, e.via, e.api_token, e.by) for e in events] == [
        ("sent", "seen", "api", token, world.org_admin),
        ("seen", "accepted", "api", token, world.org_admin),
        ("accepted", "arrived", "api", token, world.org_admin),
    ]


def test_decline_with_a_reason_registers_a_refusal(world: World, desk: Api) -> None:
    request = send(world)
    response = desk.post(f"/requests/{request.pk}/decline", {"reason": "no_staff", "version": 1})
    assert response.status_code == 200, response.content
    assert (response.json()["state"], response.json()["decline_reason"]) == ("declined", "no_staff")
    request.refresh_from_db()
    assert request.refusal is not None and request.refusal.reason == Refusal.Reason.NO_STAFF
    assert PlacementEvent.objects.get(request=request, after=State.DECLINED).api_token == ApiToken.objects.get()


@pytest.mark.parametrize(
    "body",
    [{"version": 1}, {"version": 1, "reason": "too busy"}, {"version": 1, "reason": "no_staff", "note": "x"}, None],
)
def test_decline_without_a_valid_reason_is_422_and_saves_nothing(world: World, desk: Api, body) -> None:
    request = send(world)
    response = desk.post(f"/requests/{request.pk}/decline", body, **{"If-Match": '"1"'})
    _problem(response, 422, "invalid-input")
    request.refresh_from_db()
    assert (request.state, request.version) == (State.SENT, 1)


def test_a_stale_version_is_409_with_the_current_request(world: World, desk: Api) -> None:
    request = send(world)
    placement_transition(request_id=request.pk, to=State.SEEN, by=world.staff)  # on the web page meanwhile
    body = _problem(desk.post(f"/requests/{request.pk}/accept", **{"If-Match": '"1"'}), 409, "version-conflict")
    assert (body["current"]["id"], body["current"]["state"], body["current"]["version"]) == (request.pk, "seen", 2)
    request.refresh_from_db()
    assert request.state == State.SEEN


def test_a_refused_transition_is_409_with_the_services_message(world: World, desk: Api) -> None:
    request = send(world)
    placement_transition(request_id=request.pk, to=State.ACCEPTED, by=world.staff)
    body = _problem(desk.post(f"/requests/{request.pk}/decline", {"reason": "no_staff", "version": 2}), 409,
                    "transition-refused")  # fmt: skip
    assert body["detail"] == "The request was already accepted."
    assert body["current"]["state"] == "accepted"
    # Arrival before acceptance: not possible now.
    other = send(world)
    body = _problem(desk.post(f"/requests/{other.pk}/arrived", {"version": 1}), 409, "transition-refused")
    assert body["current"]["state"] == "sent"


def test_an_answer_after_the_deadline_is_too_late(world: World, desk: Api) -> None:
    request = send(world)
    PlacementRequest.objects.filter(pk=request.pk).update(deadline=timezone.now() - timedelta(minutes=1))
    body = _problem(desk.post(f"/requests/{request.pk}/accept", {"version": 1}), 409, "transition-refused")
    assert body["detail"].startswith("Too late: the request expired at ")
    assert body["current"]["state"] == "expired"
    request.refresh_from_db()
    assert request.state == State.EXPIRED and request.refusal is not None


def test_the_answer_is_in_dutch_when_asked(world: World, desk: Api) -> None:
    request = send(world)
    placement_transition(request_id=request.pk, to=State.ACCEPTED, by=world.staff)
    body = desk.post(f"/requests/{request.pk}/accept", {"version": 2}, **{"Accept-Language": "nl"}).json()
    assert body["status"] == 409 and body["detail"] != "The request was already accepted."


def test_an_answer_needs_a_version(world: World, desk: Api) -> None:
    request = send(world)
    _problem(desk.post(f"/requests/{request.pk}/seen"), 428, "version-required")
    _problem(desk.post(f"/requests/{request.pk}/seen", **{"If-Match": "soon"}), 400, "bad-if-match")
    _problem(desk.post(f"/requests/{request.pk}/seen", {"version": 2}, **{"If-Match": '"1"'}), 400, "bad-if-match")
    _problem(desk.post(f"/requests/{request.pk}/seen", {"version": "1"}), 422, "invalid-input")  # strict input
    _problem(desk.post("/requests/999999/seen", {"version": 1}), 404, "not-found")


# --- who may -----------------------------------------------------------------------------


def test_another_organisations_token_is_403_and_changes_nothing(world: World) -> None:
    request = send(world)
    other = Api(org_token(world.other_location.organisation, world.national_admin, scope=ANSWER))
    _problem(other.get(f"/requests/{request.pk}"), 403, "forbidden")
    _problem(other.post(f"/requests/{request.pk}/accept", {"version": 1}), 403, "forbidden")
    assert other.get("/requests/").json()["count"] == 0  # its own list: only its own locations
    request.refresh_from_db()
    assert request.state == State.SENT


@pytest.mark.parametrize("scope", [ApiToken.Scope.READ, ApiToken.Scope.WRITE_CAPACITY])
def test_a_token_without_the_scope_is_403_for_reads_and_answers(world: World, scope: str) -> None:
    request = send(world)
    api = Api(org_token(world.hospital, world.org_admin, scope=scope))
    _problem(api.get("/requests/"), 403, "forbidden")
    _problem(api.get(f"/requests/{request.pk}"), 403, "forbidden")
    _problem(api.post(f"/requests/{request.pk}/accept", {"version": 1}), 403, "forbidden")
    request.refresh_from_db()
    assert request.state == State.SENT


@pytest.mark.parametrize("scope", [ApiToken.Scope.STATISTICS, ApiToken.Scope.READ])
def test_region_tokens_see_no_request(world: World, scope: str) -> None:
    request = send(world)
    api = Api(region_token(world.region, world.coordinator, scope=scope))
    _problem(api.get("/requests/"), 403, "forbidden")
    _problem(api.get(f"/requests/{request.pk}"), 403, "forbidden")
    _problem(api.post(f"/requests/{request.pk}/seen", {"version": 1}), 403, "forbidden")


def test_no_token_and_a_revoked_token_are_401(world: World, desk: Api) -> None:
    request = send(world)
    for path in ("/requests/", f"/requests/{request.pk}"):
        _problem(Api(None).get(path), 401, "unauthenticated")
    _problem(Api(None).post(f"/requests/{request.pk}/accept", {"version": 1}), 401, "unauthenticated")
    api_token_revoke(token_id=ApiToken.objects.get().pk, by=world.org_admin)
    _problem(desk.get("/requests/"), 401, "unauthenticated")
    _problem(desk.post(f"/requests/{request.pk}/accept", {"version": 1}), 401, "unauthenticated")
    request.refresh_from_db()
    assert request.state == State.SENT


def test_an_answer_pushes_to_the_screens_and_the_stream(
    world: World, desk: Api, published, django_capture_on_commit_callbacks
) -> None:
    request = send(world)
    published.clear()
    with django_capture_on_commit_callbacks(execute=True):
        desk.post(f"/requests/{request.pk}/seen", {"version": 1})
    [event] = [e for e in published if e.get("request_id") == request.pk]
    assert f"requests-org-{world.hospital.pk}" in event["groups"]
