"""A (re)connecting board's first frame is its snapshot; rows pushed meanwhile follow only if newer.

Through the whole ASGI stack and the real Redis hub (as tests/test_consumers.py), with the
snapshot render slowed down so that updates land while it runs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from capacity import live
from capacity.models import Unit
from capacity.services import CapacityChange, unit_update_capacity
from config.asgi import application
from hospitals.models import User
from tests.conftest import World

pytestmark = pytest.mark.django_db(transaction=True)


def session_cookie(user: User) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def board(world: World) -> WebsocketCommunicator:
    cookie = await database_sync_to_async(session_cookie)(world.midwife)
    headers = [(b"origin", b"http://testserver"), (b"cookie", cookie)]
    return WebsocketCommunicator(application, f"/ws/board/{world.region.code}/?lang=en", headers=headers)


def set_available(unit_id: int, by: User, available: int) -> None:
    unit = Unit.objects.get(pk=unit_id)
    unit_update_capacity(
        unit_id=unit.pk,
        by=by,
        expected_version=unit.version,
        change=CapacityChange(staffed_total=unit.staffed_total, available=available, status="open"),
    )


def is_snapshot(frame: str, world: World) -> bool:
    return f'id="location-{world.location.pk}"' in frame and f'id="location-{world.other_location.pk}"' in frame


@pytest.fixture(autouse=True)
def fresh_snapshots() -> Iterator[None]:
    live.snapshots.clear()
    live.snapshots.renders = live.snapshots.row_renders = live.snapshots.hits = 0
    yield
    live.snapshots.clear()


@pytest.fixture
def slow_render(monkeypatch: pytest.MonkeyPatch) -> Callable[..., list[int]]:
    """Slow the snapshot's database read down; ``before``/``after`` run in it (the render's thread)."""

    def install(
        before: Callable[[], None] = lambda: None, after: Callable[[], None] = lambda: None, seconds: float = 0.5
    ) -> list[int]:
        calls: list[int] = []
        original = live.BoardSnapshots._render_rows

        def slowed(
            self: live.BoardSnapshots, region_id: int | None, lang: str, started: float
        ) -> list[tuple[int, tuple[int, int], str, float]]:
            calls.append(1)
            before()
            rows = original(self, region_id, lang, started)
            after()
            time.sleep(seconds)  # the pushed row reaches the hub while the snapshot is not out yet
            return rows

        monkeypatch.setattr(live.BoardSnapshots, "_render_rows", slowed)
        return calls

    return install


async def test_first_frame_is_the_snapshot_even_when_a_change_is_pushed_during_its_render(
    world: World, slow_render
) -> None:
    # The change commits after the snapshot read its rows, and its row is pushed while the render
    # still runs: the snapshot still goes first, and shows the change (the pushed row is patched
    # into it), so the row is not sent again and nothing older follows.
    slow_render(after=lambda: set_available(world.unit.pk, world.staff, 7))
    comm = await board(world)
    assert (await comm.connect())[0]
    first = await comm.receive_from(timeout=10)
    assert is_snapshot(first, world), first[:200]
    assert "<strong>7</strong>/10" in first
    assert await comm.receive_nothing(timeout=0.7)
    # Live rows flow afterwards.
    await database_sync_to_async(set_available)(world.unit.pk, world.staff, 8)
    assert "<strong>8</strong>/10" in await comm.receive_from(timeout=5)
    await comm.disconnect()


async def test_a_change_already_in_the_snapshot_is_not_sent_again(world: World, slow_render) -> None:
    # The change commits before the snapshot reads; its push arrives while the render still runs.
    slow_render(before=lambda: set_available(world.unit.pk, world.staff, 6))
    comm = await board(world)
    assert (await comm.connect())[0]
    first = await comm.receive_from(timeout=10)
    assert is_snapshot(first, world) and "<strong>6</strong>/10" in first
    assert await comm.receive_nothing(timeout=0.7)
    await comm.disconnect()


async def test_simultaneous_connects_share_one_render(world: World, slow_render) -> None:
    calls = slow_render(seconds=0.5)
    comms = [await board(world) for _ in range(20)]
    assert all(ok for ok, _ in await asyncio.gather(*(c.connect() for c in comms)))
    frames = await asyncio.gather(*(c.receive_from(timeout=15) for c in comms))
    assert all(is_snapshot(frame, world) for frame in frames)
    assert len(calls) == 1 and live.snapshots.renders == 1
    await asyncio.gather(*(c.disconnect() for c in comms))


async def test_an_update_re_renders_only_its_location(world: World) -> None:
    comm = await board(world)
    assert (await comm.connect())[0]
    await comm.receive_from(timeout=5)
    assert (live.snapshots.renders, live.snapshots.row_renders) == (1, 2)  # this region: two locations
    await database_sync_to_async(set_available)(world.unit.pk, world.staff, 3)
    assert "<strong>3</strong>/10" in await comm.receive_from(timeout=5)
    # The pushed row replaced the cached one: the next snapshot needs no database read at all.
    again = await board(world)
    assert (await again.connect())[0]
    snapshot = await again.receive_from(timeout=5)
    assert is_snapshot(snapshot, world) and "<strong>3</strong>/10" in snapshot
    assert live.snapshots.renders == 1
    # A change seen only in the database (no push) re-renders just that location's row.
    await database_sync_to_async(
        lambda: Unit.objects.filter(pk=world.unit.pk).update(available=2, version=world.unit.version + 50)
    )()
    for entry in live.snapshots._boards.values():
        entry.expires = 0.0
    third = await board(world)
    assert (await third.connect())[0]
    snapshot = await third.receive_from(timeout=5)
    assert "<strong>2</strong>/10" in snapshot
    assert (live.snapshots.renders, live.snapshots.row_renders) == (2, 3)
    for c in (comm, again, third):
        await c.disconnect()


class Recorder:
    lang = "en"

    def __init__(self) -> None:
        self.frames: list[str] = []

    def push(self, frame: str) -> None:
        self.frames.append(frame)

    async def resync(self) -> None: ...


async def test_held_rows_older_than_the_snapshot_are_dropped_and_others_kept() -> None:
    hub = live.Hub()
    sub = Recorder()
    hub.groups = {"national": {sub}}
    hub.hold(sub)
    event = {"groups": ["national"], "frames": {"en": "<p>old 1</p>"}, "location_id": 1, "version": [3, 0]}
    await hub.dispatch(event)
    await hub.dispatch({**event, "frames": {"en": "<p>new 2</p>"}, "location_id": 2, "version": [9, 0]})
    await hub.dispatch({**event, "frames": {"en": "<p>other 3</p>"}, "location_id": 3, "version": [1, 0]})
    assert sub.frames == []  # held until the snapshot is out
    snapshot = live.Snapshot("<p>snap</p>", {1: ((5, 0), "<p>1</p>"), 2: ((5, 0), "<p>2</p>")})
    hub.release(sub, snapshot)
    # Location 1 is older than the snapshot's; 2 is newer; 3 is not in it (not lost either).
    assert sub.frames == ["<p>snap</p>", "<p>new 2</p>", "<p>other 3</p>"]
    await hub.dispatch({**event, "version": [6, 0]})
    assert sub.frames[-1] == "<p>old 1</p>"  # released: straight through
