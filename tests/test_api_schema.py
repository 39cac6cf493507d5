"""Schemathesis fuzzes every operation of the OpenAPI schema: no 5xx, responses match the schema.

Runs against the real database with a world of units and a write token of the units'
organisation, so generated requests reach the services, not only the 401/404 paths.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck, settings
from pytest_django import Settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.v1 import api
from capacity.models import ApiToken
from hospitals.models import Postcode
from kraamzorg.services import weeks_ahead
from placements.models import PlacementRequest
from placements.services import PlacementInput, placement_send
from tests.api_support import org_token, region_token
from tests.conftest import World
from tests.search_world import make_postcodes

schema = schemathesis.openapi.from_dict(api.get_openapi_schema(path_prefix="/api/v1/"))
schema.app = WSGIHandler()

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@pytest.fixture
def fuzz_token(world: World) -> str:
    """A write token of the world's hospital; every example of one operation shares it (and the world)."""
    return org_token(world.hospital, world.org_admin)


def aim_at_the_world(case: schemathesis.Case, world: World, request_id: int | None = None) -> None:
    """Point every other generated id at a real unit, location or region, so that examples get past
    the 404 and reach the validation, the concurrency check and the services."""
    meta = getattr(case, "_meta", None)
    if meta is None or meta.generation.mode != GenerationMode.POSITIVE:
        return  # a negative example must stay invalid
    real = {"unit_id": world.unit.pk, "location_id": world.location.pk, "code": world.region.code}
    real["week"] = weeks_ahead()[hash(str(case.path_parameters)) % 12].isoformat()  # a kraamzorg grid week
    if request_id is not None:
        real["request_id"] = request_id
    for name, value in (case.path_parameters or {}).items():
        if name in real and hash(str(value)) % 2 == 0:
            case.path_parameters[name] = real[name]
    query = case.query or {}
    if "origin" in query and hash(str(query["origin"])) % 2 == 0:
        # The capacity search: a known postcode area, so examples reach the ranking.
        query["origin"] = "3731"


def open_request(world: World) -> int:
    """An open placement request to the world's hospital (a new one once an example has answered it)."""
    found = PlacementRequest.objects.filter(location=world.location, state__in=["sent", "seen"]).first()
    if found is not None:
        return found.pk
    data = PlacementInput(
        location_id=world.location.pk,
        care_type="overdracht",
        urgency="planned",
        expected_arrival=timezone.now() + timedelta(hours=1),
        callback_phone="06 1234 5678",
    )
    return placement_send(by=world.midwife, data=data).pk


@pytest.fixture(autouse=True)
def generous_rate_limit(settings: Settings) -> None:
    settings.API_RATE_LIMIT_PER_MINUTE = 100_000


@pytest.fixture(autouse=True)
def keep_the_test_connection() -> Iterator[None]:
    """Requests go through the bare WSGI handler: keep it from closing the test transaction's
    connection at the end of each request (Django's own test client does the same)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_conforms_to_its_schema(case: schemathesis.Case, world: World, fuzz_token: str) -> None:
    if not Postcode.objects.exists():
        make_postcodes()
    request_id = None
    if "refusal-statistics" in case.path:
        # Statistics need the region's own token; an organisation token only ever gets 403 there.
        fuzz_token = region_token(world.region, world.coordinator)
    elif "requests" in case.path:
        # Placement requests need an answer-requests token, and a request to the organisation to reach the service.
        fuzz_token = org_token(world.hospital, world.org_admin, scope=ApiToken.Scope.ANSWER_REQUESTS)
        request_id = open_request(world)
    elif "intake" in case.path:
        # Intake weeks need a kraamzorg organisation's write-intake token to reach the services.
        fuzz_token = org_token(world.kraamzorg, world.planner, scope=ApiToken.Scope.WRITE_INTAKE)
    aim_at_the_world(case, world, request_id)
    case.call_and_validate(headers={"Authorization": f"Bearer {fuzz_token}"}, checks=CHECKS)
