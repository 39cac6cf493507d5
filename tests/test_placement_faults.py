"""Placement requests with the channel layer gone (Redis unreachable): nothing that was accepted
is lost, the answer still comes back at once, and the deadline still expires the request."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from channels.layers import channel_layers
from django.test import Client
from django.urls import reverse

from hospitals.models import User
from placements.models import PlacementRequest
from placements.services import placement_expire_due
from refusals.models import Refusal
from tests.conftest import World

pytestmark = pytest.mark.django_db(transaction=True)
DEAD = "redis://127.0.0.1:1/0"  # nothing listens on port 1


@pytest.fixture
def redis_gone(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    settings.REDIS_URL = DEAD
    monkeypatch.setitem(
        settings.CHANNEL_LAYERS,
        "default",
        {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [DEAD]}},
    )
    channel_layers.backends.clear()  # the next get_channel_layer() builds the dead one
    yield
    channel_layers.backends.clear()


def test_a_request_is_sent_and_answered_with_redis_unreachable(
    world: World, client_for: Callable[[User], Client], redis_gone: None, caplog: pytest.LogCaptureFixture
) -> None:
    # Earlier tests in the suite can leave the root logger at ERROR: listen to core.push itself.
    caplog.set_level(logging.WARNING, logger="core.push")
    midwife = client_for(world.midwife)
    started = time.monotonic()
    response = midwife.post(
        reverse("placements:new"),
        {
            "location": str(world.location.pk),
            "care_type": "overdracht",
            "urgency": "immediate",
            "arrival_in": "20",
            "callback_phone": "06 1234 5678",
        },
    )
    sent_in = time.monotonic() - started
    assert response.status_code == 302
    request = PlacementRequest.objects.get()
    assert sent_in < 5, f"sending took {sent_in:.1f} s with Redis down"
    staff = client_for(world.staff)
    answer = staff.post(reverse("placements:decline", args=[request.pk]), {"version": 1, "reason": "no_staff"})
    assert answer.status_code == 302
    request.refresh_from_db()
    assert request.state == "declined" and Refusal.objects.filter(source="request").count() == 1
    # The pushes were tried and failed quietly: the screens catch up on reconnect or by polling.
    assert any("push to placements-location-" in r.getMessage() for r in caplog.records)


def test_the_sweep_expires_a_request_whose_deadline_task_was_lost(
    world: World, client_for: Callable[[User], Client], redis_gone: None
) -> None:
    client_for(world.midwife).post(
        reverse("placements:new"),
        {
            "location": str(world.location.pk),
            "care_type": "begeleiding",
            "urgency": "urgent",
            "arrival_in": "30",
            "callback_phone": "06 1234 5678",
        },
    )
    request = PlacementRequest.objects.get()
    assert placement_expire_due(now=request.deadline + timedelta(seconds=1)) == 1
    request.refresh_from_db()
    assert request.state == "expired" and request.refusal is not None
