"""tools/hospital_client.py, the reference client of docs/api.md, against the real API."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest
from django.test import Client

from capacity.models import CapacityEvent
from tests.api_support import org_token
from tests.conftest import World
from tools import hospital_client


class InProcessApi(hospital_client.Api):
    """The client's API wrapper, answered by Django's test client instead of over HTTP."""

    def call(self, method: str, path: str, body: object = None) -> tuple[int, dict[str, str], Any]:
        response = Client().generic(
            method,
            self.base.removeprefix("http://testserver") + path,
            json.dumps(body) if body is not None else "",
            content_type="application/json",
            headers={"Authorization": f"Bearer {self.token}"},
        )
        return response.status_code, dict(response.headers), json.loads(response.content or b"null")


def test_pushes_every_unit_of_its_location(world: World) -> None:
    api = InProcessApi("http://testserver", org_token(world.hospital, world.org_admin))
    times: list[float] = []
    failed: list[int] = []
    hospital_client.run_location(api, world.location.pk, 0, 2, times, True, failed)
    assert failed == [] and len(times) == 2
    events = CapacityEvent.objects.filter(unit__location=world.location)
    assert events.count() == 4 and set(events.values_list("source", flat=True)) == {"api"}


def test_another_organisations_location_is_a_failure(world: World) -> None:
    api = InProcessApi("http://testserver", org_token(world.hospital, world.org_admin))
    times: list[float] = []
    failed: list[int] = []
    hospital_client.run_location(api, world.other_location.pk, 0, 2, times, True, failed)
    assert failed == [world.other_location.pk] and times == []
    assert not CapacityEvent.objects.exists()


def test_exit_status_is_1_when_a_location_cannot_be_kept_current(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.setattr(
        "sys.argv",
        ["hospital_client.py", "--base-url", f"http://127.0.0.1:{port}", "--token", "bcap_x", "--location", "1"],
    )
    assert hospital_client.main() == 1
