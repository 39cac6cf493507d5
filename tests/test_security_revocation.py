"""Revocation that bites: open sockets close at once, in every process, with a code the client reads.

Two real server processes on one Redis (tests/live_server.py). A socket is opened on process A;
the revocation happens through process B (an HTTP request) or through the service in this test
process; A closes the socket within about a second. Refusals at connect are an accepted socket
closed with 4401 / 4403, never a handshake refusal (which browsers see as 1006).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from api.services import api_token_revoke
from capacity.models import ApiToken, BoardToken
from capacity.services import board_token_issue, board_token_revoke
from hospitals.models import User
from hospitals.services import member_set_active
from tests.api_support import org_token
from tests.conftest import PASSWORD, World
from tests.live_server import (
    HttpSession,
    LiveServer,
    csrf_token,
    give_server_usable_password,
    in_another_thread,
    running_servers,
    services_missing,
)

pytestmark = pytest.mark.django_db(transaction=True)

REVOKED_WITHIN = 1.5  # seconds from the revocation's commit to the close frame


@pytest.fixture
def servers(world: World) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Processes A and B. Depends on ``world`` so the servers stop before the database is flushed."""
    reason = services_missing()
    if reason:
        pytest.skip(reason)
    for user in (world.midwife, world.coordinator):
        give_server_usable_password(user, PASSWORD)
    with running_servers() as start:
        a, b = start(2)
        yield a, b


def open_socket(
    server: LiveServer, path: str, *, cookie: str | None = None, origin: str | None = None, bearer: str | None = None
) -> ClientConnection:
    headers: dict[str, str] = {}
    if cookie:
        headers["Cookie"] = cookie
    if bearer:
        headers["Authorization"] = f"Bearer {bearer}"
    return connect(
        server.ws_url(path),
        origin=Origin(origin or server.url),
        additional_headers=headers or None,
        proxy=None,
        compression=None,
        open_timeout=5,
    )


def first_frame(ws: ClientConnection) -> str:
    """The snapshot every socket gets once it is open (and its process's hub subscribed)."""
    frame = ws.recv(timeout=5)
    assert isinstance(frame, str)
    return frame


def close_code(ws: ClientConnection, timeout: float = REVOKED_WITHIN) -> int:
    """Read until the server closes; the code it sent (frames pushed before the close are skipped)."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"the socket was not closed within {timeout}s")
        try:
            ws.recv(timeout=remaining)
        except TimeoutError:
            continue
        except ConnectionClosed as closed:
            assert closed.rcvd is not None, "closed without a close frame (a browser sees 1006)"
            return closed.rcvd.code


def logged_in(server: LiveServer, user: User) -> HttpSession:
    session = HttpSession()
    session.login(server, user.username, PASSWORD)
    return session


def session_cookie(session: HttpSession) -> str:
    return f"sessionid={session.cookie('sessionid')}"


def test_wall_screen_link_revoked_on_process_b_closes_its_socket_on_process_a(world: World, servers) -> None:
    a, b = servers
    token, raw = board_token_issue(label="Balie", region_id=world.region.pk, by=world.coordinator)
    coordinator = logged_in(b, world.coordinator)
    with open_socket(a, f"/ws/board/screen/{raw}/") as ws:
        assert f'id="location-{world.location.pk}"' in first_frame(ws)
        page = coordinator.get(f"{b.url}/screens/")
        coordinator.post_form(f"{b.url}/screens/{token.pk}/revoke/", page, {})
        assert close_code(ws) == 4403
    assert BoardToken.objects.get(pk=token.pk).revoked_at is not None


def test_wall_screen_link_revoked_by_the_service_closes_its_socket(world: World, servers) -> None:
    a, _b = servers
    token, raw = board_token_issue(label="Balie", region_id=world.region.pk, by=world.coordinator)
    with open_socket(a, f"/ws/board/screen/{raw}/") as ws:
        assert f'id="location-{world.location.pk}"' in first_frame(ws)
        in_another_thread(lambda: board_token_revoke(token_id=token.pk, by=world.coordinator))
        assert close_code(ws) == 4403
    # And it stays out: a new socket with the link is refused with the same code.
    with open_socket(a, f"/ws/board/screen/{raw}/") as ws:
        assert close_code(ws, timeout=5) == 4403


def test_revoked_api_token_closes_its_stream_at_once(world: World, servers) -> None:
    a, _b = servers
    raw = org_token(world.hospital, world.org_admin)
    token_id = ApiToken.objects.get().pk
    with open_socket(a, "/api/v1/stream/?region=midden", bearer=raw) as ws:
        assert '"snapshot"' in first_frame(ws)
        in_another_thread(lambda: api_token_revoke(token_id=token_id, by=world.org_admin))
        assert close_code(ws) == 4401  # well inside the stream's 60 s fallback recheck


def test_deactivated_user_is_closed_on_every_socket_kind(world: World, servers) -> None:
    a, b = servers
    coordinator = logged_in(b, world.coordinator)
    cookie = session_cookie(coordinator)
    paths = [
        f"/ws/board/{world.region.code}/",
        f"/ws/search/?locations={world.location.pk}",
        f"/ws/statistics/{world.region.code}/",
        "/ws/alerts/",
    ]
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(open_socket(a, path, cookie=cookie)) for path in paths]
        for ws in sockets[:2]:
            first_frame(ws)  # board snapshot, search hello: the hub of A is listening
        time.sleep(0.2)  # the coordinators' sockets are open once the board's is
        in_another_thread(lambda: member_set_active(member=world.coordinator, active=False, by=world.national_admin))
        assert [close_code(ws) for ws in sockets] == [4403] * len(paths)


def test_role_change_closes_the_users_sockets_and_reconnect_gets_the_new_role(world: World, servers) -> None:
    a, b = servers
    coordinator = logged_in(b, world.coordinator)
    cookie = session_cookie(coordinator)
    with (
        open_socket(a, f"/ws/board/{world.region.code}/", cookie=cookie) as board,
        open_socket(a, f"/ws/statistics/{world.region.code}/", cookie=cookie) as stats,
    ):
        first_frame(board)

        def demote() -> None:
            user = User.objects.get(pk=world.coordinator.pk)
            user.role = User.Role.MIDWIFE  # as the Django admin saves it: the whole row
            user.save()

        in_another_thread(demote)
        assert close_code(board) == 4403
        assert close_code(stats) == 4403
    # The session still holds: the board (any role) opens again, the statistics no longer do.
    with open_socket(a, f"/ws/board/{world.region.code}/", cookie=cookie) as board:
        assert f'id="location-{world.location.pk}"' in first_frame(board)
    with open_socket(a, f"/ws/statistics/{world.region.code}/", cookie=cookie) as stats:
        assert close_code(stats, timeout=5) == 4403


def test_logout_on_another_process_closes_that_sessions_sockets_only(world: World, servers) -> None:
    a, b = servers
    laptop, phone = logged_in(b, world.midwife), logged_in(a, world.midwife)
    path = f"/ws/board/{world.region.code}/"
    with (
        open_socket(a, path, cookie=session_cookie(laptop)) as on_laptop,
        open_socket(a, path, cookie=session_cookie(phone)) as on_phone,
    ):
        first_frame(on_laptop)
        first_frame(on_phone)
        page = laptop.get(f"{b.url}/board/region/{world.region.code}/")
        response = laptop.request(f"{b.url}/accounts/logout/", {"csrfmiddlewaretoken": csrf_token(page.text)})
        assert "/accounts/login/" in response.url, b.log_tail()
        assert close_code(on_laptop) == 4401
        with pytest.raises(TimeoutError):
            on_phone.recv(timeout=1.0)  # still open: the other session was not logged out


def test_refusals_at_connect_are_close_codes_not_handshake_errors(world: World, servers) -> None:
    a, _b = servers
    midwife = logged_in(a, world.midwife)
    cookie = session_cookie(midwife)
    with open_socket(a, f"/ws/board/{world.region.code}/") as anonymous:
        assert close_code(anonymous, timeout=5) == 4401
    with open_socket(a, f"/ws/statistics/{world.region.code}/", cookie=cookie) as not_a_coordinator:
        assert close_code(not_a_coordinator, timeout=5) == 4403
    with open_socket(a, "/ws/alerts/", cookie=cookie) as not_a_coordinator:
        assert close_code(not_a_coordinator, timeout=5) == 4403
    with open_socket(a, f"/ws/board/{world.region.code}/", cookie=cookie, origin="https://evil.example") as foreign:
        assert close_code(foreign, timeout=5) == 4403
    with open_socket(a, "/api/v1/stream/") as no_token:
        assert close_code(no_token, timeout=5) == 4401


# --- what publishes a revocation (no servers needed) ----------------------------------------------


def revocations(published: list[dict[str, Any]]) -> list[tuple[list[str], int]]:
    return [(list(e["revoke"]), int(e["code"])) for e in published if "revoke" in e]


def test_a_login_publishes_nothing_a_binding_change_does(world: World, published: list[dict[str, Any]]) -> None:
    from django.utils import timezone

    user = User.objects.get(pk=world.staff.pk)
    user.last_login = timezone.now()  # what every login saves
    user.save(update_fields=["last_login"])
    user.first_name = "Anna"
    user.save()
    assert revocations(published) == []

    user.locations.add(world.other_location)
    user.locations.remove(world.other_location)
    world.other_location.staff.add(user)
    assert revocations(published) == [([f"user:{user.pk}"], 4403)] * 3

    published.clear()
    user.set_password("another long password")
    user.save()
    assert revocations(published) == [([f"user:{user.pk}"], 4401)]


def test_a_rolled_back_change_publishes_nothing(world: World, published: list[dict[str, Any]]) -> None:
    from django.db import transaction

    with transaction.atomic():
        user = User.objects.get(pk=world.midwife.pk)
        user.role = User.Role.COORDINATOR
        user.region = world.region
        user.save()
        transaction.set_rollback(True)
    assert revocations(published) == []
