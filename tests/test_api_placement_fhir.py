"""A placement request as a FHIR R4 Task: validated with fhir.resources, every state mapped, no patient."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone
from fhir.resources.R4B.task import Task

from api.exports.common import LOCATION_SYSTEM, ORGANISATION_SYSTEM
from api.exports.fhir_requests import TASK_STATUS
from capacity.models import ApiToken
from hospitals.models import AccessLog, User
from placements.models import PlacementRequest
from placements.services import placement_transition
from tests.api_support import Api, org_token
from tests.conftest import World
from tests.test_api_placements import send

pytestmark = pytest.mark.django_db

State = PlacementRequest.State
PRECISE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")


@pytest.fixture
def desk(world: World) -> Api:
    return Api(org_token(world.hospital, world.org_admin, scope=ApiToken.Scope.ANSWER_REQUESTS))


def in_state(world: World, state: str) -> PlacementRequest:
    request = send(world, urgency="urgent")
    plan: dict[str, list[tuple[str, User | None, str]]] = {
        State.SENT: [],
        State.SEEN: [(State.SEEN, world.staff, "")],
        State.ACCEPTED: [(State.ACCEPTED, world.staff, "")],
        State.DECLINED: [(State.DECLINED, world.staff, "no_neonatal_bed")],
        State.WITHDRAWN: [(State.WITHDRAWN, world.midwife, "")],
        State.ARRIVED: [(State.ACCEPTED, world.staff, ""), (State.ARRIVED, world.staff, "")],
        State.EXPIRED: [(State.EXPIRED, None, "")],
    }
    for to, by, reason in plan[state]:
        now = request.deadline + timedelta(seconds=1) if to == State.EXPIRED else None
        placement_transition(request_id=request.pk, to=to, by=by, reason=reason, now=now)
    request.refresh_from_db()
    assert request.state == state
    return request


def task_of(desk: Api, request: PlacementRequest) -> dict:
    response = desk.get(f"/exports/fhir/requests/{request.pk}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/fhir+json"
    Task.model_validate_json(response.content)  # the independent library's own validation
    return dict(json.loads(response.content))


EXPECTED = {
    "sent": "requested",
    "seen": "received",
    "accepted": "accepted",
    "declined": "rejected",
    "expired": "failed",
    "withdrawn": "cancelled",
    "arrived": "completed",
}


def test_every_state_has_a_task_status() -> None:
    assert set(TASK_STATUS) == set(State.values) and TASK_STATUS == EXPECTED


@pytest.mark.parametrize("state", list(EXPECTED))
def test_each_state_maps_to_its_task_status(world: World, desk: Api, state: str) -> None:
    task = task_of(desk, in_state(world, state))
    assert task["status"] == EXPECTED[state]
    assert task["businessStatus"]["coding"][0]["code"] == state
    reason = task.get("statusReason") or {}
    if state == "declined":
        assert reason["coding"][0]["code"] == "no_neonatal_bed" and reason["text"] == "no neonatal bed"
    elif state == "expired":
        assert reason["text"] == "no answer in time"
    elif state == "withdrawn":
        assert reason["coding"][0]["code"] == "midwife"
    else:
        assert "statusReason" not in task


def test_the_task_carries_the_request_and_no_patient(world: World, desk: Api) -> None:
    request = send(world, urgency="immediate", gestational_weeks=31, required_level=3)
    task = task_of(desk, request)
    assert (task["resourceType"], task["intent"], task["priority"]) == ("Task", "order", "stat")
    assert "for" not in task and "focus" not in task and "encounter" not in task
    for moment in (task["authoredOn"], task["lastModified"], task["restriction"]["period"]["end"]):
        assert PRECISE.match(moment), moment
    assert (
        task["restriction"]["period"]["end"] == timezone.localtime(request.deadline).replace(microsecond=0).isoformat()
    )
    assert task["owner"]["identifier"] == {"system": ORGANISATION_SYSTEM, "value": str(world.hospital.pk)}
    assert task["location"]["identifier"] == {"system": LOCATION_SYSTEM, "value": "wkz"}
    assert task["requester"]["identifier"]["value"] == str(world.practice.pk)
    assert task["requester"]["display"] == "Praktijk De Bilt"
    inputs = {i["type"]["text"]: i for i in task["input"]}
    assert inputs["care type"]["valueCodeableConcept"]["coding"][0]["code"] == "overdracht"
    assert inputs["gestational age"]["valueQuantity"] == {
        "value": 31,
        "unit": "wk",
        "system": "http://unitsofmeasure.org",
        "code": "wk",
    }
    assert inputs["neonatal level required"]["valueCodeableConcept"]["coding"][0]["code"] == "3"
    assert PRECISE.match(inputs["expected arrival"]["valueDateTime"])
    text = json.dumps(task)
    # No person: not the midwife's account, not her number.
    assert world.midwife.username not in json.dumps(task["requester"]) and "+3161234" not in text
    assert AccessLog.objects.filter(action=AccessLog.Action.EXPORT, what="placement request export").count() == 1


@pytest.mark.parametrize(("urgency", "priority"), [("urgent", "asap"), ("planned", "routine")])
def test_urgency_is_the_priority(world: World, desk: Api, urgency: str, priority: str) -> None:
    assert task_of(desk, send(world, urgency=urgency))["priority"] == priority


def test_only_the_asked_organisations_answer_token_exports_it(world: World) -> None:
    request = send(world)
    read = Api(org_token(world.hospital, world.org_admin, scope=ApiToken.Scope.READ))
    assert read.get(f"/exports/fhir/requests/{request.pk}").status_code == 403
    other = Api(org_token(world.other_location.organisation, world.national_admin, ApiToken.Scope.ANSWER_REQUESTS))
    assert other.get(f"/exports/fhir/requests/{request.pk}").status_code == 403
    assert Api(None).get(f"/exports/fhir/requests/{request.pk}").status_code == 401
    desk = Api(org_token(world.hospital, world.org_admin, scope=ApiToken.Scope.ANSWER_REQUESTS))
    assert desk.get("/exports/fhir/requests/999999").status_code == 404
