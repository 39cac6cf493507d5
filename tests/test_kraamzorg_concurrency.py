"""The intake grid under real contention on PostgreSQL: planners writing the same week at once.
Exactly one write per version wins, the others are told what is stored; one history row each."""

from __future__ import annotations

import pytest

from hospitals.models import User
from kraamzorg.models import IntakeEvent, IntakeWeek
from kraamzorg.services import (
    IntakeChange,
    IntakeVersionConflict,
    intake_confirm_unchanged,
    intake_week_set,
    weeks_ahead,
)
from tests.conftest import Kraamzorg, World
from tests.test_concurrency import run_together

pytestmark = pytest.mark.django_db(transaction=True)


def planners(kz: Kraamzorg, n: int) -> list[User]:
    return [
        User.objects.create_user(username=f"planner{i}", role=User.Role.KRAAMZORG_PLANNER, organisation=kz.organisation)
        for i in range(n)
    ]


def test_planners_filling_in_a_new_week_at_once_one_wins(world: World, kz: Kraamzorg) -> None:
    week, team = weeks_ahead()[3], planners(kz, 8)
    results = run_together(
        lambda i: intake_week_set(
            by=team[i], organisation_id=kz.organisation.pk, week=week,
            change=IntakeChange(families=i, hours="full", status="open"), expected_version=0,
        ),
        n=8,
    )  # fmt: skip
    winners = [r for r in results if isinstance(r, IntakeWeek)]
    losers = [r for r in results if isinstance(r, IntakeVersionConflict)]
    assert (len(winners), len(losers)) == (1, 7), results
    stored = IntakeWeek.objects.get()
    assert (stored.version, stored.families) == (1, winners[0].families)
    assert IntakeEvent.objects.count() == 1


def test_changes_and_a_confirm_on_the_same_version_one_wins(world: World, kz: Kraamzorg) -> None:
    weeks, team = weeks_ahead()[:2], planners(kz, 8)
    for week in weeks:
        intake_week_set(by=kz.planner, organisation_id=kz.organisation.pk, week=week,
                        change=IntakeChange(families=5, hours="full", status="open"), expected_version=0)  # fmt: skip

    def write(i: int) -> object:
        if i == 0:
            return intake_confirm_unchanged(
                by=team[i], organisation_id=kz.organisation.pk, versions=dict.fromkeys(weeks, 1)
            )
        return intake_week_set(
            by=team[i], organisation_id=kz.organisation.pk, week=weeks[1],
            change=IntakeChange(families=i, hours="full", status="open"), expected_version=1,
        )  # fmt: skip

    results = run_together(write, n=8)
    conflicts = [r for r in results if isinstance(r, IntakeVersionConflict)]
    assert len(conflicts) == 7, results
    assert sorted(IntakeWeek.objects.values_list("version", flat=True)) in ([2, 2], [1, 2])
    # A confirm that won moved both weeks; a change that won moved one, and the confirm confirmed nothing.
    assert IntakeEvent.objects.count() == 2 + (2 if isinstance(results[0], list) else 1)
