"""Refusal statistics over the API: aggregates only, for the region's own statistics token."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from capacity.models import ApiToken
from hospitals.models import VSV
from refusals import aggregation
from refusals.models import Refusal
from tests.api_support import Api, org_token, region_token
from tests.conftest import World


def _refusal(world: World, **extra: object) -> Refusal:
    values: dict[str, object] = {
        "location": world.location,
        "region": world.region,
        "care_type": Refusal.CareType.OVERDRACHT,
        "reason": Refusal.Reason.NO_STAFF,
        "outcome": Refusal.Outcome.UNKNOWN,
        "registered_by": world.midwife,
        "occurred_at": timezone.now() - timedelta(minutes=5),
    }
    refusal = Refusal.objects.create(**(values | extra))
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


def test_a_vsv_filter_and_the_counts_per_vsv(world: World) -> None:
    utrecht = VSV.objects.create(name="VSV Utrecht", region=world.region)
    elsewhere = VSV.objects.create(name="VSV Leiden", region=world.other_region)
    world.location.vsv = utrecht
    world.location.save()
    _refusal(world)
    _refusal(world, location=world.other_location)  # no VSV known
    api = Api(region_token(world.region, world.coordinator))

    body = api.get("/regions/midden/refusal-statistics").json()
    assert body["vsv"] is None and body["total"] == 2
    assert [(r["id"], r["count"]) for r in body["per_vsv"]] == [(utrecht.pk, 1), (None, 1)]
    only = api.get(f"/regions/midden/refusal-statistics?vsv={utrecht.pk}").json()
    assert only["vsv"] == utrecht.pk and only["total"] == 1
    assert [r["id"] for r in only["per_location"]] == [world.location.pk]
    # Another region's VSV does not exist here; nonsense is refused.
    assert api.get(f"/regions/midden/refusal-statistics?vsv={elsewhere.pk}").status_code == 404
    assert api.get("/regions/midden/refusal-statistics?vsv=x").status_code == 422
