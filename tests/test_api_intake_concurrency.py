"""Intake weeks through the API under real contention on PostgreSQL: one write per version wins."""

from __future__ import annotations

from typing import Any

import pytest

from api.schemas import IntakeWeekOut
from capacity.models import ApiToken
from hospitals.models import User
from kraamzorg.models import IntakeEvent, IntakeWeek
from kraamzorg.selectors import grid
from kraamzorg.services import weeks_ahead
from tests.api_support import Api, org_token
from tests.conftest import World
from tests.test_concurrency import run_together

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_puts_of_the_same_version_one_200_one_409(world: World) -> None:
    admin = User.objects.create_user(username="kz_admin", role=User.Role.ORG_ADMIN, organisation=world.kraamzorg)
    raw = org_token(world.kraamzorg, admin, scope=ApiToken.Scope.WRITE_INTAKE)
    week = weeks_ahead()[1].isoformat()

    def put(i: int) -> tuple[int, dict[str, Any]]:
        body = {"families": 10 + i, "hours": "full", "status": "open", "version": 0}
        response = Api(raw).put(f"/intake/{week}", body)
        return response.status_code, response.json()

    results = run_together(put, n=2)
    answers = [r for r in results if isinstance(r, tuple)]
    assert len(answers) == 2, results
    assert sorted(status for status, _body in answers) == [200, 409], answers
    winner = next(i for i, (status, _body) in enumerate(answers) if status == 200)
    conflict = answers[1 - winner][1]
    stored = IntakeWeek.objects.get()
    assert (stored.version, stored.families) == (1, 10 + winner)
    # The loser is told what the winner stored; one history row, from the API.
    assert conflict["current"] == [IntakeWeekOut.of(grid(world.kraamzorg.pk)[1]).model_dump(mode="json")]
    assert list(IntakeEvent.objects.values_list("source", flat=True)) == ["api"]
