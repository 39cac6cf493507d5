"""A placement request as an HL7 FHIR R4 ``Task`` (built and validated with ``fhir.resources``' R4B models,
structurally R4 for Task, as api/exports/fhir.py explains).

The request is about capacity, not about a patient: the Task has no ``for`` and no ``focus``, and no
person is named. The asked location's organisation owns it (``owner``: FHIR's Task.owner may not be a
Location) and the location is ``location``; the midwife's practice is the ``requester``. Both are
referenced by identifier, with the systems the capacity export uses, so a system that stores the
capacity export matches them. The codes of our own states, reasons and inputs are in code systems under
the deployment's address (``PUBLIC_BASE_URL``, api/exports/common.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import translation
from fhir.resources.R4B.task import Task

from api.exports.common import BASE, LOCATION_SYSTEM, ORGANISATION_SYSTEM
from api.exports.fhir import precise
from hospitals.models import CareType, Location
from placements.models import PlacementRequest
from refusals.models import Refusal

State = PlacementRequest.State
REQUEST_SYSTEM = f"{BASE}/fhir/NamingSystem/placement-request-id"
STATE_SYSTEM = f"{BASE}/fhir/CodeSystem/placement-state"
REASON_SYSTEM = f"{BASE}/fhir/CodeSystem/refusal-reason"
# Why a request ended without an answer of the location: expired, or withdrawn (and why).
STATUS_REASON_SYSTEM = f"{BASE}/fhir/CodeSystem/placement-status-reason"
INPUT_SYSTEM = f"{BASE}/fhir/CodeSystem/placement-input"
CARE_SYSTEM = f"{BASE}/fhir/CodeSystem/care-type"
LEVEL_SYSTEM = f"{BASE}/fhir/CodeSystem/neonatal-level"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"

# Our states in FHIR's task-status value set (every state has one; tests/test_api_placement_fhir.py).
TASK_STATUS: dict[str, str] = {
    State.SENT: "requested",
    State.SEEN: "received",
    State.ACCEPTED: "accepted",
    State.DECLINED: "rejected",
    State.EXPIRED: "failed",
    State.WITHDRAWN: "cancelled",
    State.ARRIVED: "completed",
}
# Urgency in FHIR's request-priority value set.
TASK_PRIORITY: dict[str, str] = {
    PlacementRequest.Urgency.IMMEDIATE: "stat",
    PlacementRequest.Urgency.URGENT: "asap",
    PlacementRequest.Urgency.PLANNED: "routine",
}


def _coding(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


def _input(code: str, display: str, **value: Any) -> dict[str, Any]:
    return {"type": _coding(INPUT_SYSTEM, code, display), **value}


def _status_reason(request: PlacementRequest) -> dict[str, Any] | None:
    if request.state == State.DECLINED and request.decline_reason:
        return _coding(REASON_SYSTEM, request.decline_reason, str(Refusal.Reason(request.decline_reason).label))
    if request.state == State.EXPIRED:
        return _coding(STATUS_REASON_SYSTEM, "no-answer", "no answer in time")
    if request.state == State.WITHDRAWN and request.withdrawn_why:
        why = PlacementRequest.Withdrawn(request.withdrawn_why)
        return _coding(STATUS_REASON_SYSTEM, why.value, str(why.label))
    return None


def _inputs(request: PlacementRequest) -> list[dict[str, Any]]:
    inputs = [
        _input(
            "care-type",
            "care type",
            valueCodeableConcept=_coding(CARE_SYSTEM, request.care_type, str(CareType(request.care_type).label)),
        ),
        _input(
            "required-level",
            "neonatal level required",
            valueCodeableConcept=_coding(
                LEVEL_SYSTEM,
                str(request.required_level),
                str(Location.NeonatalLevel(request.required_level).label),
            ),
        ),
        _input("expected-arrival", "expected arrival", valueDateTime=precise(request.expected_arrival)),
    ]
    if request.gestational_weeks is not None:
        inputs.append(
            {
                "type": {
                    "coding": [
                        {"system": LOINC, "code": "18185-9", "display": "Gestational age"},
                        {"system": INPUT_SYSTEM, "code": "gestational-age", "display": "gestational age"},
                    ],
                    "text": "gestational age",
                },
                "valueQuantity": {"value": request.gestational_weeks, "unit": "wk", "system": UCUM, "code": "wk"},
            }
        )
    return inputs


def request_task(request: PlacementRequest, *, last_modified: datetime) -> Task:
    """The request as a Task; ``request`` with ``location__organisation`` and ``midwife__organisation`` read."""
    location = request.location
    practice = request.midwife.organisation if request.midwife.organisation_id else None
    # Displays in English, like the capacity export's: a receiving system should not depend on our interface language.
    with translation.override("en"):
        resource: dict[str, Any] = {
            "resourceType": "Task",
            "id": f"request-{request.pk}",
            "identifier": [{"system": REQUEST_SYSTEM, "value": str(request.pk)}],
            "status": TASK_STATUS[request.state],
            "businessStatus": _coding(STATE_SYSTEM, request.state, str(request.get_state_display())),
            "intent": "order",
            "priority": TASK_PRIORITY[request.urgency],
            "code": {"text": "Request for a place for a birth (delivery suite or birth centre)"},
            "authoredOn": precise(request.sent_at),
            "lastModified": precise(last_modified),
            # The answer is needed by the deadline; after it the request expires.
            "restriction": {"period": {"end": precise(request.deadline)}},
            "owner": {
                "type": "Organization",
                "identifier": {"system": ORGANISATION_SYSTEM, "value": str(location.organisation_id)},
                "display": location.organisation.name,
            },
            "location": {
                "type": "Location",
                "identifier": {"system": LOCATION_SYSTEM, "value": location.slug},
                "display": location.name,
            },
            "input": _inputs(request),
        }
        if practice is not None:
            resource["requester"] = {
                "type": "Organization",
                "identifier": {"system": ORGANISATION_SYSTEM, "value": str(practice.pk)},
                "display": practice.name,
            }
        reason = _status_reason(request)
        if reason is not None:
            resource["statusReason"] = reason
    # model_validate checks the resource against the FHIR structure (types, cardinality, value sets of codes).
    return Task.model_validate(resource)
