"""Who a connecting websocket is, read in batches (hospitals/websocket_auth.py), and the handshake
reads that no longer go through the database thread one socket at a time: the region code
(hospitals/selectors.py) and Channels' close_old_connections per event (core/revocation.py)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from pytest_django import Settings

from config.asgi import application
from hospitals import mfa, websocket_auth
from hospitals.models import Organisation, Region, User
from hospitals.selectors import RegionCodes, region_codes
from tests.conftest import World

pytestmark = pytest.mark.django_db(transaction=True)


def session_key(user: User) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


async def board(path: str, key: str | None) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://testserver")]
    if key is not None:
        headers.append((b"cookie", f"sessionid={key}".encode()))
    return WebsocketCommunicator(application, path, headers=headers)


async def first_frame(comm: WebsocketCommunicator) -> dict[str, Any]:
    connected, _ = await comm.connect(timeout=10)
    assert connected
    message: dict[str, Any] = await comm.receive_output(timeout=10)
    return message


# --- batching -------------------------------------------------------------------------------------


async def test_sockets_connecting_together_share_the_reads_and_each_is_itself(world: World) -> None:
    """40 boards of 4 users at once: a handful of database rounds, not 80, and every socket is
    judged on its own session (the one without a role is refused, a stale cookie is anonymous)."""
    users = [world.midwife, world.coordinator, world.staff, world.no_role]
    keys = [await database_sync_to_async(session_key)(user) for user in users]
    before = websocket_auth.batcher.batches
    comms = [await board(f"/ws/board/{world.region.code}/", keys[i % 4]) for i in range(40)]
    comms.append(await board(f"/ws/board/{world.region.code}/", "x" * 32))  # no such session
    frames = await asyncio.gather(*(first_frame(comm) for comm in comms))
    rounds = websocket_auth.batcher.batches - before
    assert rounds <= 5, f"{rounds} database rounds for 41 sockets"
    for i, frame in enumerate(frames[:40]):
        if users[i % 4] is world.no_role:
            assert frame == {"type": "websocket.close", "code": 4403}
        else:
            assert frame["type"] == "websocket.send" and f'id="location-{world.location.pk}"' in frame["text"]
    assert frames[40] == {"type": "websocket.close", "code": 4401}
    for comm in comms:
        await comm.disconnect()


async def test_a_failed_batch_fails_only_its_own_sockets(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    key = await database_sync_to_async(session_key)(world.midwife)
    real = websocket_auth.resolve
    calls = []

    def once_broken(keys: list[str]) -> dict[str, websocket_auth.Identity]:
        calls.append(keys)
        if len(calls) == 1:
            raise RuntimeError("database unreachable")
        return real(keys)

    monkeypatch.setattr(websocket_auth, "resolve", once_broken)
    with pytest.raises(RuntimeError):
        await websocket_auth.batcher.identity(key)
    identity = await websocket_auth.batcher.identity(key)  # the next socket is read afresh
    assert identity.user is not None and identity.user.pk == world.midwife.pk


# --- the rules: as the HTTP side ---------------------------------------------------------------


def test_resolve_follows_the_session_rules(world: World) -> None:
    good, expired, malformed = (session_key(world.midwife) for _ in range(3))
    Session.objects.filter(session_key=expired).update(expire_date=timezone.now() - timedelta(seconds=1))
    gone = User.objects.create_user("gone", password="x", role=User.Role.MIDWIFE)
    inactive = session_key(gone)
    gone.is_active = False  # deactivated after logging in
    gone.save()
    moved = User.objects.create_user("moved", password="old", role=User.Role.MIDWIFE)
    stale = session_key(moved)
    moved.set_password("new")  # the session's password hash no longer matches
    moved.save()
    data = Session.objects.get(session_key=malformed).get_decoded()
    data["_auth_user_id"] = "not-a-number"
    Session.objects.filter(session_key=malformed).update(session_data=Session.objects.encode(data))

    found = websocket_auth.resolve([good, expired, inactive, stale, malformed, "y" * 32])
    assert found[good].user == world.midwife and found[good].data is not None
    assert found[expired] == websocket_auth.ANONYMOUS  # expired: as if there were none
    assert found[inactive].user is None
    assert found[stale].user is None
    assert Session.objects.filter(session_key=stale).exists()  # only read, never deleted
    assert found[malformed].user is None
    assert found["y" * 32] == websocket_auth.ANONYMOUS


def test_resolve_reads_a_batch_in_a_fixed_number_of_queries(world: World, django_assert_max_num_queries: Any) -> None:
    users = [User.objects.create_user(f"m{i}", password="x", role=User.Role.MIDWIFE) for i in range(30)]
    keys = [session_key(user) for user in users]
    with django_assert_max_num_queries(2):  # sessions, users (the second factor is off)
        found = websocket_auth.resolve(keys)
    assert [found[key].user for key in keys] == users


async def test_scope_session_holds_what_was_read_without_reading_again(world: World) -> None:
    key = await database_sync_to_async(session_key)(world.midwife)
    seen: dict[str, Any] = {}

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen["user"] = scope["user"].pk
        seen["lazy"] = type(scope["user"]).__name__, type(scope["session"]).__name__
        seen["key"] = scope["session"].session_key
        seen["loaded"] = scope["session"]._session_cache  # filled: no read of its own
        seen["verified"] = scope[mfa.SECOND_FACTOR_VERIFIED]

    from core.websocket import websocket_auth_stack

    app = websocket_auth_stack(inner, auth=websocket_auth.BatchedAuthMiddleware)
    await app(
        {"type": "websocket", "path": "/ws/x/", "headers": [(b"cookie", f"sessionid={key}".encode())]}, None, None
    )
    assert seen["user"] == world.midwife.pk and seen["key"] == key
    assert seen["lazy"] == ("User", "SessionStore")
    assert seen["loaded"]["_auth_user_id"] == str(world.midwife.pk) and seen["verified"] is True


# --- the second factor in bulk ------------------------------------------------------------------


def test_sessions_verified_agrees_with_the_single_check(world: World, settings: Settings) -> None:
    settings.MFA_ENFORCED = True
    coordinator_app = TOTPDevice.objects.create(user=world.coordinator, name="app", confirmed=True)
    unconfirmed = TOTPDevice.objects.create(user=world.org_admin, name="app", confirmed=False)
    voluntary = TOTPDevice.objects.create(user=world.midwife, name="app", confirmed=True)
    recovery = StaticDevice.objects.create(user=world.national_admin, name="recovery", confirmed=True)
    assert world.staff.organisation_id is not None
    Organisation.objects.filter(pk=world.staff.organisation_id).update(mfa_policy=Organisation.MfaPolicy.REQUIRED)
    world.staff.refresh_from_db()
    cases: list[tuple[Any, dict[str, Any]]] = [
        (world.coordinator, {}),  # required, not verified
        (world.coordinator, {"otp_device_id": coordinator_app.persistent_id}),
        (world.coordinator, {"otp_device_id": voluntary.persistent_id}),  # someone else's device
        (world.org_admin, {"otp_device_id": unconfirmed.persistent_id}),  # not confirmed
        (world.midwife, {}),  # set up voluntarily: asked for
        (world.midwife, {"otp_device_id": voluntary.persistent_id}),
        (world.other_staff, {}),  # nothing required, nothing set up
        (world.staff, {}),  # the organisation requires it
        (world.national_admin, {"otp_device_id": recovery.persistent_id}),  # a recovery code's device
        (world.national_admin, {"otp_device_id": "otp_totp.totpdevice/999999"}),  # deleted
        (world.national_admin, {"otp_device_id": "nonsense"}),
    ]
    single = [mfa.session_is_verified(user, session) for user, session in cases]
    assert single == [False, True, False, False, False, True, True, False, True, False, False]
    assert mfa.sessions_verified(cases) == single


# --- region codes -------------------------------------------------------------------------------


async def test_region_codes_are_read_once_for_a_storm_and_follow_changes(world: World) -> None:
    codes = RegionCodes()
    found = await asyncio.gather(*(codes.id_for(world.region.code) for _ in range(50)))
    assert found == [world.region.pk] * 50 and codes.reads == 1
    assert await codes.id_for("nowhere") is None and codes.reads == 1  # a miss right after a read: no new read
    # The process's own instance forgets on a save (a signal), so a new region is found at once.
    await region_codes.id_for(world.region.code)
    new = await database_sync_to_async(Region.objects.create)(code="nieuw", name="Nieuwe regio")
    assert await region_codes.id_for("nieuw") == new.pk


async def test_a_region_created_elsewhere_is_found_after_the_miss_interval(world: World) -> None:
    codes = RegionCodes()
    codes.MISS_AFTER = 0.05
    assert await codes.id_for("elders") is None
    new = await database_sync_to_async(Region.objects.create)(code="elders", name="Elders")
    await asyncio.sleep(0.1)
    assert await codes.id_for("elders") == new.pk and codes.reads == 2


# --- no thread hop per socket event -------------------------------------------------------------


async def test_socket_events_do_not_queue_on_the_database_thread(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Channels' dispatch ran close_old_connections on the one database thread before every
    connect, receive and disconnect; ours does not (its database calls close old connections)."""
    import channels.consumer

    hops = []

    async def counted() -> None:
        hops.append(1)

    monkeypatch.setattr(channels.consumer, "aclose_old_connections", counted)
    key = await database_sync_to_async(session_key)(world.midwife)
    comm = await board(f"/ws/board/{world.region.code}/", key)
    assert (await first_frame(comm))["type"] == "websocket.send"
    await comm.send_to(text_data="{}")
    await comm.disconnect()
    assert hops == []
