"""Coordinators' websockets: statistics pushed after aggregation, alert banners; who may listen."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from capacity.models import Unit
from hospitals.models import User
from refusals import aggregation, alerts, live, tasks
from refusals.models import Alert, Refusal
from refusals.services import RefusalInput, alert_acknowledge, refusal_register
from tests.conftest import World
from tests.test_consumers import board as socket
from tests.test_consumers import close_code

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def enqueued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Aggregation tasks the services hand to Celery; the test plays the worker."""
    ids: list[int] = []
    monkeypatch.setattr(tasks, "enqueue", ids.append)
    return ids


def register(world: World) -> Refusal:
    return refusal_register(
        by=world.midwife,
        data=RefusalInput(
            occurred_at=timezone.now() - timedelta(minutes=5),
            location_id=world.location.pk,
            care_type="overdracht",
            reason="no_staff",
            outcome="unknown",
        ),
    )


async def test_statistics_page_is_nudged_after_aggregation_not_registration(world: World, enqueued: list[int]) -> None:
    comm = await socket(f"/ws/statistics/{world.region.code}/", world.coordinator)
    assert (await comm.connect())[0]
    refusal = await database_sync_to_async(register)(world)
    assert enqueued == [refusal.pk]
    assert await comm.receive_nothing(timeout=0.5)  # registered, not yet counted: nothing to show

    assert await database_sync_to_async(aggregation.aggregate)(refusal.pk) == "counted"
    frame = await comm.receive_from(timeout=5)
    assert 'id="stats-pushed"' in frame and 'hx-swap-oob="true"' in frame
    assert await database_sync_to_async(aggregation.aggregate)(refusal.pk) == "unchanged"
    assert await comm.receive_nothing(timeout=0.5)  # nothing moved, nothing pushed
    await comm.disconnect()


async def test_other_regions_page_is_not_nudged(world: World, enqueued: list[int]) -> None:
    west = await socket(f"/ws/statistics/{world.other_region.code}/", world.national_admin)
    assert (await west.connect())[0]
    refusal = await database_sync_to_async(register)(world)
    await database_sync_to_async(aggregation.aggregate)(refusal.pk)
    assert await west.receive_nothing(timeout=0.5)
    await west.disconnect()


async def test_rebuild_nudges_every_region(world: World) -> None:
    west = await socket(f"/ws/statistics/{world.other_region.code}/", world.national_admin)
    assert (await west.connect())[0]
    await database_sync_to_async(aggregation.rebuild)()
    assert 'id="stats-pushed"' in await west.receive_from(timeout=5)
    await west.disconnect()


@pytest.mark.parametrize("persona", ["staff", "other_staff", "midwife", "org_admin", "no_role"])
async def test_statistics_socket_refuses_other_roles(world: World, persona: str) -> None:
    comm = await socket(f"/ws/statistics/{world.region.code}/", world.personas()[persona])
    assert await close_code(comm) == 4403


async def test_statistics_socket_refuses_anonymous_and_other_regions_coordinator(world: World) -> None:
    anonymous = await socket(f"/ws/statistics/{world.region.code}/")
    assert await close_code(anonymous) == 4401
    foreign = await socket(f"/ws/statistics/{world.other_region.code}/", world.coordinator)
    assert await close_code(foreign) == 4403
    unknown = await socket("/ws/statistics/atlantis/", world.coordinator)
    assert await close_code(unknown) == 4404
    evil = await socket(f"/ws/statistics/{world.region.code}/", world.coordinator, origin=b"https://evil.example")
    assert await close_code(evil) == 4403


async def test_national_admin_may_watch_any_region(world: World) -> None:
    for region in (world.region, world.other_region):
        comm = await socket(f"/ws/statistics/{region.code}/", world.national_admin)
        assert (await comm.connect())[0]
        await comm.disconnect()


# --- Alert banners ---------------------------------------------------------------------------


def spike(world: World) -> None:
    now = timezone.now()
    for minutes in (30, 20, 10):
        Refusal.objects.create(
            occurred_at=now - timedelta(minutes=minutes),
            location=world.location,
            region=world.region,
            care_type="overdracht",
            reason="no_staff",
            outcome="home",
            registered_by=world.midwife,
        )
    alerts.run()


async def test_alert_banner_is_pushed_to_the_regions_coordinators_and_dropped_when_acknowledged(world: World) -> None:
    west_coordinator = await database_sync_to_async(User.objects.create_user)(
        username="west", password="x" * 14, role=User.Role.COORDINATOR, region=world.other_region
    )
    mine = await socket("/ws/alerts/?lang=en", world.coordinator)
    theirs = await socket("/ws/alerts/", west_coordinator)
    national = await socket("/ws/alerts/", world.national_admin)
    for comm in (mine, theirs):
        assert (await comm.connect())[0]
        assert "alert-region-" in await comm.receive_from(timeout=5)  # snapshot of their one region
    assert (await national.connect())[0]
    snapshots = {await national.receive_from(timeout=5) for _ in range(2)}  # both regions
    assert any(f'id="alert-region-{world.other_region.pk}"' in s for s in snapshots)

    await database_sync_to_async(spike)(world)
    frame = await mine.receive_from(timeout=5)
    assert f'id="alert-region-{world.region.pk}"' in frame and 'hx-swap-oob="true"' in frame
    assert "3 refusals at WKZ Utrecht within 6 hours" in frame  # in the socket's language
    assert "3 weigeringen door WKZ Utrecht" in await national.receive_from(timeout=5)  # Dutch by default
    assert await theirs.receive_nothing(timeout=0.5)  # another region's coordinator

    alert = await database_sync_to_async(Alert.objects.get)()
    await database_sync_to_async(alert_acknowledge)(alert_id=alert.pk, by=world.coordinator)
    frame = await mine.receive_from(timeout=5)
    assert f'id="alert-region-{world.region.pk}"' in frame and "WKZ Utrecht" not in frame
    for comm in (mine, theirs, national):
        await comm.disconnect()


async def test_alert_snapshot_on_connect_shows_open_alerts(world: World) -> None:
    def stops() -> None:
        Unit.objects.filter(pk__in=[world.unit.pk, world.other_unit.pk]).update(status="stop", stop_reason="staff")
        alerts.run()

    await database_sync_to_async(stops)()
    comm = await socket("/ws/alerts/?lang=en", world.coordinator)
    assert (await comm.connect())[0]
    frame = await comm.receive_from(timeout=5)
    assert "2 locations in Midden-Nederland in admission stop" in frame and "Acknowledge" in frame
    await comm.disconnect()


@pytest.mark.parametrize("persona", ["staff", "other_staff", "midwife", "org_admin", "no_role"])
async def test_alert_socket_refuses_other_roles(world: World, persona: str) -> None:
    comm = await socket("/ws/alerts/", world.personas()[persona])
    assert await close_code(comm) == 4403


async def test_alert_socket_refuses_anonymous(world: World) -> None:
    comm: Any = await socket("/ws/alerts/")
    assert await close_code(comm) == 4401


async def test_embedded_mode_pushes_from_other_threads(world: World, settings: Any) -> None:
    """No Redis: the in-memory layer's queues live on the web process's loop; the request thread
    and the embedded beat thread hand their sends over to it."""
    settings.REDIS_URL = ""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    comm = await socket(f"/ws/statistics/{world.region.code}/", world.coordinator)
    assert (await comm.connect())[0]
    beat = threading.Thread(target=live.statistics_changed, args=([world.region.pk],))
    beat.start()
    await asyncio.to_thread(beat.join, 10)
    assert 'id="stats-pushed"' in await comm.receive_from(timeout=5)
    await comm.disconnect()


async def test_a_sweep_nudges_each_region_once(world: World, enqueued: list[int]) -> None:
    from refusals.tasks import sweep_unaggregated

    comm = await socket(f"/ws/statistics/{world.region.code}/", world.coordinator)
    assert (await comm.connect())[0]
    for _ in range(5):
        await database_sync_to_async(register)(world)  # their tasks were lost: the sweep counts them
    result = await database_sync_to_async(sweep_unaggregated.run)()
    assert result["counted"] == 5
    assert 'id="stats-pushed"' in await comm.receive_from(timeout=5)
    assert await comm.receive_nothing(timeout=0.5)  # one nudge for the five
    await comm.disconnect()


async def test_socket_rejoins_its_group_after_redis_forgot_it(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """channels-redis forgets group members after group_expiry (a day), and a Redis restart without
    persistence forgets them at once: an open page must not silently stop receiving."""
    from django.conf import settings as django_settings
    from redis.asyncio import Redis

    from core import group_socket

    if not django_settings.REDIS_URL:
        pytest.skip("needs REDIS_URL: the channel layer's group membership lives in Redis")
    monkeypatch.setattr(group_socket, "REJOIN_SECONDS", 0.2)
    comm = await socket(f"/ws/statistics/{world.region.code}/", world.coordinator)
    assert (await comm.connect())[0]
    prefix = django_settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"]
    client = Redis.from_url(django_settings.REDIS_URL)
    try:
        assert await client.delete(f"{prefix}:group:{live.stats_group(world.region.pk)}") == 1
    finally:
        await client.aclose()
    await asyncio.sleep(0.6)
    await database_sync_to_async(live.statistics_changed)([world.region.pk])
    assert 'id="stats-pushed"' in await comm.receive_from(timeout=5)
    await comm.disconnect()
