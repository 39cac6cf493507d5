"""Placement answers under real contention on PostgreSQL: two staff accept at once, an answer races
the expiry sweep. Exactly one outcome, one history line, at most one refusal."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from hospitals.models import User
from placements.models import PlacementEvent, PlacementRequest
from placements.services import StalePlacement, TransitionRefused, placement_expire_due, placement_transition
from refusals.models import Refusal
from tests.conftest import World
from tests.test_concurrency import run_together
from tests.test_placement_services import send

pytestmark = pytest.mark.django_db(transaction=True)

State = PlacementRequest.State


def staff_of_location(world: World, n: int) -> list[User]:
    out = []
    for i in range(n):
        user = User.objects.create_user(
            username=f"staff{i}", role=User.Role.HOSPITAL_STAFF, organisation=world.hospital
        )
        user.locations.set([world.location])
        out.append(user)
    return out


def test_two_accepts_race_and_exactly_one_wins(world: World) -> None:
    request = send(world)
    staff = staff_of_location(world, 8)
    results = run_together(
        lambda i: placement_transition(request_id=request.pk, to=State.ACCEPTED, by=staff[i], expected_version=1),
        n=8,
    )
    winners = [r for r in results if isinstance(r, PlacementRequest)]
    losers = [r for r in results if isinstance(r, StalePlacement)]
    assert (len(winners), len(losers)) == (1, 7), results
    assert all(lost.current.state == State.ACCEPTED for lost in losers)  # each told who won
    assert PlacementEvent.objects.filter(request=request, after="accepted").count() == 1
    assert PlacementRequest.objects.get(pk=request.pk).version == 2


def test_accept_and_decline_race_without_versions_still_one_answer(world: World) -> None:
    request = send(world)
    staff = staff_of_location(world, 6)

    def answer(i: int) -> object:
        to = State.ACCEPTED if i % 2 else State.DECLINED
        return placement_transition(request_id=request.pk, to=to, by=staff[i], reason="no_staff")

    results = run_together(answer, n=6)
    done = [r for r in results if isinstance(r, PlacementRequest)]
    refused = [r for r in results if isinstance(r, TransitionRefused)]
    assert (len(done), len(refused)) == (1, 5), results
    final = PlacementRequest.objects.get(pk=request.pk)
    assert Refusal.objects.count() == (1 if final.state == State.DECLINED else 0)


def race_accept_with_sweep(world: World, staff: User) -> PlacementRequest:
    request = send(world)
    at = request.deadline + timedelta(milliseconds=1)

    def work(i: int) -> object:
        if i == 0:
            return placement_expire_due(now=at)
        # The staff member tapped Accept a second before the deadline; the sweep runs just after it.
        before = request.deadline - timedelta(seconds=1)
        return placement_transition(request_id=request.pk, to=State.ACCEPTED, by=staff, now=before)

    run_together(work, n=2)
    return PlacementRequest.objects.get(pk=request.pk)


def test_an_accept_racing_the_expiry_sweep_ends_in_one_state(world: World) -> None:
    [staff] = staff_of_location(world, 1)
    for _round in range(5):
        final = race_accept_with_sweep(world, staff)
        assert final.state in (State.ACCEPTED, State.EXPIRED)
        # Expired means one refusal; accepted means none; never both an acceptance and an expiry.
        afters = list(PlacementEvent.objects.filter(request=final).values_list("after", flat=True))
        assert afters in (["sent", "accepted"], ["sent", "expired"])
        assert (final.refusal_id is not None) == (final.state == State.EXPIRED)


def test_two_locations_asked_at_once_accept_together_and_one_gets_her(world: World) -> None:
    """Parallel asking: both hospitals accept at the same moment. The ask's rows are locked in one
    order, so there is no deadlock; the first wins and the other finds its request withdrawn."""
    from hospitals.models import Region
    from placements.services import PlacementInput, placement_send_to

    Region.objects.filter(pk=world.region.pk).update(placement_parallel_max=2)
    first, second = placement_send_to(
        by=world.midwife,
        data=PlacementInput(
            location_id=world.location.pk,
            care_type="overdracht",
            urgency="urgent",
            expected_arrival=timezone.now() + timedelta(minutes=30),
            callback_phone="06 1234 5678",
        ),
        location_ids=[world.location.pk, world.other_location.pk],
    )
    answerers = [world.staff, world.other_staff]
    targets = [first, second]
    results = run_together(
        lambda i: placement_transition(request_id=targets[i].pk, to=State.ACCEPTED, by=answerers[i]), n=2
    )
    won = [r for r in results if isinstance(r, PlacementRequest)]
    lost = [r for r in results if isinstance(r, TransitionRefused)]
    assert (len(won), len(lost)) == (1, 1), results
    states = sorted(PlacementRequest.objects.values_list("state", "withdrawn_why"))
    assert states == [("accepted", ""), ("withdrawn", "taken_elsewhere")]
