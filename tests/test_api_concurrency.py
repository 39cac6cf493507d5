"""All units of a location in one API call, under real contention: one writer wins, nothing is half-saved."""

from __future__ import annotations

import pytest

from capacity.models import CapacityEvent, Unit
from tests.api_support import Api, org_token
from tests.conftest import World
from tests.test_concurrency import THREADS, run_together

pytestmark = pytest.mark.django_db(transaction=True)


def test_simultaneous_location_writes_on_the_same_versions_one_wins_whole(world: World) -> None:
    raw = org_token(world.hospital, world.org_admin)

    def write(i: int) -> int:
        body = {
            "units": [
                {"kind": "delivery_suite", "staffed_total": 10, "available": i % 10, "status": "open", "version": 1},
                {"kind": "nicu", "staffed_total": 24, "available": 3 + i, "status": "open", "version": 1},
            ]
        }
        return int(Api(raw).put(f"/locations/{world.location.pk}/units", body).status_code)

    statuses = run_together(write)
    assert sorted(statuses) == [200] + [409] * (THREADS - 1)  # type: ignore[type-var]
    winner = statuses.index(200)
    suite, nicu = Unit.objects.get(pk=world.unit.pk), Unit.objects.get(pk=world.nicu.pk)
    # Both units carry the winner's figures: no unit of a loser slipped in.
    assert (suite.available, nicu.available) == (winner % 10, 3 + winner)
    assert nicu.version == 2
    assert CapacityEvent.objects.filter(unit=world.nicu).count() == 1
