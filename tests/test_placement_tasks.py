"""placements.tasks: the deadline task and the beat sweep expire what is due, once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings

from placements.models import PlacementRequest
from placements.tasks import expire_due, expire_request
from refusals.models import Refusal
from tests.conftest import World
from tests.test_placement_services import send

pytestmark = pytest.mark.django_db


def test_the_deadline_task_expires_only_a_due_open_request_and_only_once(world: World) -> None:
    request = send(world)
    assert expire_request.run(request.pk) is False  # not due yet
    PlacementRequest.objects.filter(pk=request.pk).update(deadline=request.sent_at - timedelta(seconds=1))
    assert expire_request.run(request.pk) is True
    assert expire_request.run(request.pk) is False  # a redelivered task does nothing
    assert expire_request.run(999999) is False  # gone: nothing to do
    assert PlacementRequest.objects.get(pk=request.pk).state == "expired" and Refusal.objects.count() == 1


def test_the_sweep_is_on_the_beat_schedule_and_expires_what_is_due(world: World) -> None:
    assert settings.CELERY_BEAT_SCHEDULE["placements-expire"] == {"task": "placements.tasks.expire_due", "schedule": 15}
    due, fresh = send(world), send(world, urgency="planned")
    PlacementRequest.objects.filter(pk=due.pk).update(deadline=due.sent_at - timedelta(seconds=1))
    assert expire_due.run() == 1
    states = dict(PlacementRequest.objects.values_list("pk", "state"))
    assert states == {due.pk: "expired", fresh.pk: "sent"}
