"""Refusal statistics over the API: aggregates only, for the region's own statistics token."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from capacity.models import ApiToken
from refusals import aggregation
from refusals.models import Refusal
from tests.api_support import Api, org_token, region_token
from tests.conftest import World


def _refusal(world: World, **extra: object) -> Refusal:
    refusal = Refusal.objects.create(
        location=world.location,
        region=world.region,
        care_type=Refusal.CareType.OVERDRACHT,
        reason=Refusal.Reason.NO_STAFF,
        outcome=Refusal.Outcome.UNKNOWN,
        registered_by=world.midwife,
        occurred_at=timezone.now() - timedelta(minutes=5),
        **extra,
    )
    aggregation.aggregate(refusal.pk)
    return refusal


def test_coordinator_token_reads_own_region_aggregates(world: World) -> None:
    _refusal(world)
    _refusal(world, board_showed_room=True)
    api = Api(region_token(world.region, world.coordinator))
    response = api.get("/regions/midden/refusal-statistics?period=month")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["total"] == 2 and body["board_showed_room"] == 1
    assert body["per_location"] == [
        {"id": world.location.pk, "name": "WKZ Utrecht", "count": 2, "board_showed_room": 1}
    ]
    assert {r["key"]: r["count"] for r in body["per_reason"]}["no_staff"] == 2
    assert sum(row["total"] for row in body["weekday_hours"]) == 2
    text = response.content.decode()
    assert "registered_by" not in text and "practice" not in text and "occurred_at" not in text


@pytest.mark.parametrize("kind", ["other_region", "org_write", "org_read", "region_read"])
def test_other_tokens_are_refused(world: World, kind: str) -> None:
    _refusal(world)
    raw = {
        "other_region": lambda: region_token(world.other_region, world.national_admin),
        "org_write": lambda: org_token(world.hospital, world.org_admin),
        "org_read": lambda: org_token(world.hospital, world.org_admin, scope=ApiToken.Scope.READ),
        "region_read": lambda: region_token(world.region, world.coordinator, scope=ApiToken.Scope.READ),
    }[kind]()
    response = Api(raw).get("/regions/midden/refusal-statistics")
    assert response.status_code == 403 and response["Content-Type"] == "application/problem+json"
    assert "total" not in response.json()


def test_anonymous_unknown_region_and_bad_date(world: World) -> None:
    assert Api(None).get("/regions/midden/refusal-statistics").status_code == 401
    api = Api(region_token(world.region, world.coordinator))
    assert api.get("/regions/nowhere/refusal-statistics").status_code == 404
    assert api.get("/regions/midden/refusal-statistics?date=9999-12-01").status_code == 422
    assert api.get("/regions/midden/refusal-statistics?period=year").status_code == 422
