"""Two changes to one location committed close together: the boards end on the newer row.

Each change renders its location's row after commit and publishes it. Without ordering,
the writer that rendered first could publish last and leave every board on an older row
until the next change (hours, at night). capacity/live.py serialises render + publish per
location: within a process by a lock, across processes by a PostgreSQL advisory lock.
"""

from __future__ import annotations

import threading
from typing import Any

import psycopg
import pytest
from django.db import connection

from capacity import live
from capacity.models import Unit
from capacity.services import CapacityChange, unit_update_capacity
from hospitals.models import User
from tests.conftest import World

pytestmark = pytest.mark.django_db(transaction=True)


def _update(unit: Unit, staff: User, available: int) -> None:
    try:
        unit_update_capacity(
            unit_id=unit.pk,
            by=staff,
            change=CapacityChange(staffed_total=unit.staffed_total, available=available, status=Unit.Status.OPEN),
            expected_version=1,
        )
    finally:
        connection.close()


def test_the_writer_that_rendered_first_cannot_publish_last(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    frames: list[str] = []
    first_rendered = threading.Event()
    release_first = threading.Event()

    def publish(event: dict[str, Any]) -> None:
        if threading.current_thread().name == "first" and not first_rendered.is_set():
            # The first writer has rendered its row (delivery suite changed, NICU not yet)
            # and is about to publish: hold it there while the second writer commits.
            first_rendered.set()
            release_first.wait(timeout=10)
        frames.append(event["frames"]["nl"])

    monkeypatch.setattr(live.hub, "publish", publish)
    first = threading.Thread(target=_update, args=(world.unit, world.staff, 1), name="first")
    second = threading.Thread(target=_update, args=(world.nicu, world.staff, 7), name="second")
    first.start()
    assert first_rendered.wait(timeout=10)
    second.start()
    second.join(timeout=1.0)  # it commits; it must not publish a row before the first one
    release_first.set()
    first.join(timeout=10)
    second.join(timeout=10)
    assert not first.is_alive() and not second.is_alive()

    assert len(frames) == 2
    # What every board shows last: both changes.
    assert "<strong>1</strong>/10" in frames[-1] and "<strong>7</strong>/24" in frames[-1]


def test_another_process_publishing_the_same_location_is_waited_for(
    world: World, published: list[dict[str, Any]]
) -> None:
    settings = connection.settings_dict
    other = psycopg.connect(
        dbname=settings["NAME"], user=settings["USER"], host=settings["HOST"], port=settings["PORT"] or 5432
    )
    # Another server process is rendering and publishing this location's row.
    other.execute("SELECT pg_advisory_lock(%s, %s)", [live._ADVISORY_NAMESPACE, world.location.pk])
    try:
        writer = threading.Thread(target=_update, args=(world.unit, world.staff, 1))
        writer.start()
        writer.join(timeout=1.0)
        assert writer.is_alive() and published == []  # committed, waiting to publish
    finally:
        other.execute("SELECT pg_advisory_unlock(%s, %s)", [live._ADVISORY_NAMESPACE, world.location.pk])
        other.close()
    writer.join(timeout=10)
    assert not writer.is_alive()
    assert len(published) == 1 and "<strong>1</strong>/10" in published[0]["frames"]["nl"]
    assert Unit.objects.get(pk=world.unit.pk).available == 1
