"""Two real uvicorn processes on one Redis: a change saved through one reaches a board on the other."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin

from capacity.models import CapacityEvent, Unit
from tests.conftest import PASSWORD, World
from tests.live_server import (
    HttpSession,
    LiveServer,
    give_server_usable_password,
    input_value,
    running_servers,
    services_missing,
    subscriber_count,
    wait_for_subscribers,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def servers(world: World) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Processes A and B. Depends on ``world`` so the servers stop before the database is flushed."""
    reason = services_missing()
    if reason:
        pytest.skip(reason)
    for user in (world.staff, world.midwife):
        give_server_usable_password(user, PASSWORD)
    with running_servers() as start:
        a, b = start(2)
        yield a, b


def board_socket(
    server: LiveServer, path: str, *, cookie: str | None = None, origin: str | None = None
) -> ClientConnection:
    headers = {"Cookie": cookie} if cookie else None
    return connect(
        server.ws_url(path),
        origin=Origin(origin or server.url),
        additional_headers=headers,
        proxy=None,
        compression=None,
        open_timeout=5,
    )


def receive_until(ws: ClientConnection, *needles: str, timeout: float = 5.0) -> str:
    """The first frame that contains every needle (other rows may be pushed meanwhile)."""
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no frame with {needles} within {timeout}s; got {len(seen)}: {seen!r:.2000}")
        try:
            frame = ws.recv(timeout=remaining)
        except TimeoutError:
            continue
        assert isinstance(frame, str)
        if all(needle in frame for needle in needles):
            return frame
        seen.append(frame)


def test_update_posted_to_process_a_reaches_a_board_on_process_b(world: World, servers) -> None:
    a, b = servers
    unit, location = world.unit, world.location
    midwife = HttpSession()
    midwife.login(b, "midwife", PASSWORD)
    before = subscriber_count()  # B's hub subscribes when its first socket joins

    with board_socket(
        b, f"/ws/board/{world.region.code}/?lang=nl", cookie=f"sessionid={midwife.cookie('sessionid')}"
    ) as ws:
        snapshot = receive_until(ws, f'id="location-{location.pk}"')
        assert "<strong>4</strong>/10" in snapshot
        assert f'id="location-{world.other_location.pk}"' in snapshot
        assert f'id="location-{world.far_location.pk}"' not in snapshot  # another region
        wait_for_subscribers(more_than=before)

        # Hospital staff save a change on process A, through the real form and CSRF check.
        staff = HttpSession()
        staff.login(a, "staff", PASSWORD)
        page = staff.get(f"{a.url}/units/")
        assert page.status == 200 and f'id="unit-{unit.pk}"' in page.text
        version = input_value(page.text, element_id=f"unit{unit.pk}-version")
        assert staff.cookie("csrftoken")
        started = time.monotonic()
        response = staff.post_form(
            f"{a.url}/units/{unit.pk}/",
            page,
            {
                "version": version,
                "available": 7,
                "staffed_total": 10,
                "status": "open",
                "stop_reason": "",
                "stop_expected_end": "",
                "note": "",
            },
        )
        assert response.status == 200 and response.url.startswith(f"{a.url}/units/"), a.log_tail()

        frame = receive_until(ws, f'id="location-{location.pk}"', "<strong>7</strong>/10", timeout=5)
        latency = time.monotonic() - started

    assert f'<article id="location-{location.pk}"' in frame and 'hx-swap-oob="true"' in frame
    assert latency < 5, f"row reached the other process after {latency:.2f}s"
    fresh = Unit.objects.get(pk=unit.pk)
    assert (fresh.available, fresh.version, fresh.updated_by_id) == (7, int(version) + 1, world.staff.pk)
    assert CapacityEvent.objects.filter(unit=unit, action=CapacityEvent.Action.UPDATE).count() == 1


def test_server_refuses_board_sockets_without_a_session_or_from_another_origin(world: World, servers) -> None:
    a, b = servers
    path = f"/ws/board/{world.region.code}/?lang=nl"
    # Refused after the handshake, with a code the client reads (a 403 handshake is a 1006 in browsers).
    with board_socket(b, path) as anonymous, pytest.raises(ConnectionClosed) as closed:
        anonymous.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401

    midwife = HttpSession()
    midwife.login(a, "midwife", PASSWORD)
    cookie = f"sessionid={midwife.cookie('sessionid')}"
    with (
        board_socket(b, path, cookie=cookie, origin="https://evil.example") as foreign,
        pytest.raises(ConnectionClosed) as closed,
    ):
        foreign.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403

    # The same session, logged in on A, is good on B: sessions live in the shared database.
    with board_socket(b, path, cookie=cookie) as ws:
        assert f'id="location-{world.location.pk}"' in receive_until(ws, f'id="location-{world.location.pk}"')
