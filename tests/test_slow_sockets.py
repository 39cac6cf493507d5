"""Board sockets that stop reading are bounded by bytes (capacity/consumers.py, core/ws_protocol.py).

The live test runs one real uvicorn process, started as production starts it (tests/live_server.py:
``--ws core.ws_protocol:BoundedWebSocketProtocol``). A raw client connects to a board and never
reads; capacity updates are saved while a second, healthy board on the same process reads every
one. Stated bound (docs/operations.md): the slow socket is closed with 1013 before 1 MiB of rows
were pushed to it (in-process bound 256 KiB beyond its snapshot, kernel buffers of ~0.3 MB on
both ends of a loopback connection), within 20 s at the rate this test saves updates; the
healthy board gets every update without extra delay and the server's memory stays flat.
"""

from __future__ import annotations

import asyncio
import collections
import socket
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Origin
from websockets.uri import parse_uri

from capacity import consumers, live
from capacity.models import CapacityEvent, Unit
from capacity.services import CapacityChange, board_token_issue, unit_update_capacity
from core.ws_protocol import SEND_BUFFER_EXTENSION, transport_queued
from tests.conftest import World
from tests.live_server import LiveServer, running_servers, services_missing, subscriber_count, wait_for_subscribers

SLOW_LOG = "board socket too slow"
MAX_PUSHED_BEFORE_CLOSE = 1024 * 1024  # bytes of rows pushed to the board before the slow socket is closed
MAX_SECONDS_TO_CLOSE = 20.0  # about 5 s on an idle 2-core machine
UPDATE_CAP = 2000  # today's code never closes it: stop somewhere (2000 rows is ~4 MB)
MAX_RSS_GROWTH = 24 * 1024 * 1024


# --- the byte bound in the consumer, without a server ------------------------------------------


def board_consumer(transport: int | None) -> tuple[consumers.BoardConsumer, list[int]]:
    consumer = consumers.BoardConsumer()
    closed: list[int] = []

    async def close(code: int | None = None, reason: str | None = None) -> None:
        closed.append(code or 0)

    consumer.close = close
    consumer._outbox = collections.deque()
    if transport is not None:
        consumer._transport_queued = lambda: transport
    live.hub.groups.setdefault("national", set()).add(consumer)
    return consumer, closed


async def test_bytes_waiting_in_the_transport_count_towards_the_bound(settings: Any) -> None:
    settings.WS_MAX_QUEUED_BYTES = 10_000
    consumer, closed = board_consumer(transport=9_000)
    consumer.push("s" * 500)  # its snapshot: the bound counts beyond the largest frame
    consumer.push("r" * 400)
    consumer.push("r" * 400)  # 9,000 in the transport + 1,300 queued <= 10,000 + 500
    assert closed == [] and consumer._outbox_size == 1_300
    consumer.push("r" * 400)  # 9,000 + 1,700 > 10,500
    await asyncio.sleep(0)
    assert closed == [1013] and consumer._outbox is None
    assert consumer not in live.hub.groups.get("national", set())


async def test_without_the_extension_the_queue_alone_is_bounded_by_bytes(settings: Any) -> None:
    settings.WS_MAX_QUEUED_BYTES = 10_000
    consumer, closed = board_consumer(transport=None)
    for _ in range(6):
        consumer.push("r" * 2_000)  # 12,000 queued: not more than 10,000 + the largest frame
    assert closed == []
    consumer.push("r" * 2_000)
    await asyncio.sleep(0)
    assert closed == [1013]


async def test_an_idle_socket_is_written_at_once_and_a_paused_one_queues_in_order(settings: Any) -> None:
    """The direct write (core/ws_protocol.py ``send_now``) is used only while nothing is queued or
    being sent; once the transport refuses, frames queue behind one another and the bound holds."""
    settings.WS_MAX_QUEUED_BYTES = 10_000
    consumer, closed = board_consumer(transport=0)
    written: list[str] = []
    writable = True

    def now(frame: str) -> bool:
        if writable:
            written.append(frame)
        return writable

    consumer._send_now = now
    consumer._wake = asyncio.get_running_loop().create_future()  # the writer waits: idle
    consumer.push("a")
    assert written == ["a"] and not consumer._outbox
    writable = False  # the client stopped reading: the transport is paused
    consumer.push("b")
    writable = True
    consumer.push("c")  # "b" waits for the writer: "c" goes behind it, not past it
    assert written == ["a"] and list(consumer._outbox or []) == ["b", "c"]
    for _ in range(6):
        consumer.push("r" * 2_000)
    await asyncio.sleep(0)
    assert closed == [1013]  # queued frames still count towards the bound


def test_the_extension_is_read_from_the_scope() -> None:
    assert transport_queued({"type": "websocket"}) is None
    assert transport_queued({"extensions": None}) is None
    queued = transport_queued({"extensions": {SEND_BUFFER_EXTENSION: {"queued": lambda: 42}}})
    assert queued is not None and queued() == 42


# --- a real server ------------------------------------------------------------------------------


@pytest.fixture
def server(world: World) -> Iterator[LiveServer]:
    """Depends on ``world`` so the server stops before the database is flushed."""
    reason = services_missing()
    if reason:
        pytest.skip(reason)
    with running_servers() as start:
        (live_server,) = start(1)
        yield live_server


class SlowClient:
    """A websocket client that completes the handshake and then never reads, until told to.

    A raw socket with a small receive buffer and websockets' sans-I/O protocol: no library
    thread reads ahead on its behalf.
    """

    def __init__(self, server: LiveServer, path: str) -> None:
        self.protocol = ClientProtocol(parse_uri(server.ws_url(path)), origin=Origin(server.url), max_size=None)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
        self.sock.settimeout(5)
        self.sock.connect(("127.0.0.1", server.port))
        self.protocol.send_request(self.protocol.connect())
        self.sock.sendall(b"".join(self.protocol.data_to_send()))
        head = b""
        while not head.endswith(b"\r\n\r\n"):  # byte by byte: not one byte of a frame is read
            byte = self.sock.recv(1)
            assert byte, "the server closed during the handshake"
            head += byte
        self.protocol.receive_data(head)
        (response,) = self.protocol.events_received()
        assert isinstance(response, Response) and response.status_code == 101
        assert self.protocol.state is State.OPEN

    def read_to_close(self, timeout: float = 8.0) -> tuple[int | None, int]:
        """Read everything the server sent: (close code or None, bytes of text frames before it)."""
        received = 0
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data = self.sock.recv(256 * 1024)
            except (ConnectionResetError, TimeoutError):
                return None, received
            if not data:
                return None, received
            self.protocol.receive_data(data)
            for event in self.protocol.events_received():
                assert isinstance(event, Frame)
                if event.opcode is Opcode.TEXT:
                    received += len(event.data)
                elif event.opcode is Opcode.CLOSE:
                    assert self.protocol.close_rcvd is not None
                    return self.protocol.close_rcvd.code, received
        return None, received

    def close(self) -> None:
        self.sock.close()


@dataclass
class Updates:
    """Save capacity updates one after the other; the healthy board must show each in turn."""

    unit: Unit
    board: ClientConnection
    count: int = 0
    pushed: int = 0  # characters of rows the board received

    def next(self) -> float:
        """Save one update; seconds until the healthy board showed it."""
        self.count += 1
        note = f"tick-{self.count}"
        started = time.monotonic()
        unit_update_capacity(
            unit_id=self.unit.pk,
            by=None,
            source=CapacityEvent.Source.SYSTEM,
            change=CapacityChange(staffed_total=10, available=self.count % 10, status="open", note=note),
            expected_version=None,
        )
        deadline = started + 5.0
        while True:
            frame = self.board.recv(timeout=max(0.01, deadline - time.monotonic()))
            assert isinstance(frame, str)
            if f">{note}<" in frame:
                self.pushed += len(frame)
                return time.monotonic() - started


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


@pytest.mark.django_db(transaction=True)
def test_a_socket_that_never_reads_is_closed_while_other_boards_keep_up(world: World, server: LiveServer) -> None:
    _, token = board_token_issue(label="Slow", region_id=world.region.pk, by=world.coordinator)
    path = f"/ws/board/screen/{token}/?lang=en"
    before = subscriber_count()
    with connect(server.ws_url(path), origin=Origin(server.url), proxy=None, compression=None, open_timeout=5) as board:
        board.recv(timeout=5)  # its snapshot
        wait_for_subscribers(more_than=before)
        updates = Updates(unit=world.unit, board=board)
        baseline = [updates.next() for _ in range(20)]
        rss_before = rss_bytes(server.process.pid)

        slow = SlowClient(server, path)
        try:
            pushed_at_start, started = updates.pushed, time.monotonic()
            during: list[float] = []
            while SLOW_LOG not in server.log_tail(200) and len(during) < UPDATE_CAP:
                during.append(updates.next())
                if time.monotonic() - started > MAX_SECONDS_TO_CLOSE + 10:
                    break
            seconds, pushed = time.monotonic() - started, updates.pushed - pushed_at_start
            assert SLOW_LOG in server.log_tail(200), (
                f"the slow socket was not closed after {len(during)} updates ({pushed} bytes, {seconds:.1f}s)"
            )
            code, unread = slow.read_to_close()
        finally:
            slow.close()

        after_close = [updates.next() for _ in range(100)]
        rss_after = rss_bytes(server.process.pid)

    assert code == 1013, f"closed with {code} after {unread} bytes"
    assert pushed <= MAX_PUSHED_BEFORE_CLOSE, f"closed only after {pushed} bytes of rows"
    assert unread <= MAX_PUSHED_BEFORE_CLOSE
    assert seconds <= MAX_SECONDS_TO_CLOSE, f"closed after {seconds:.1f}s ({len(during)} updates)"
    # The healthy board saw every update (Updates.next waits for each) and no later than usual.
    usual = statistics.median(baseline)
    for phase in (during, after_close):
        assert statistics.median(phase) <= 2 * usual + 0.1, (usual, statistics.median(phase))
        assert max(phase) <= 2.0
    assert rss_after - rss_before <= MAX_RSS_GROWTH, (rss_before, rss_after)
    print(  # the figures, for docs/operations.md (pytest -s)
        f"closed after {len(during)} updates, {pushed} bytes pushed, {seconds:.2f}s; the slow client read "
        f"{unread} bytes then 1013; board latency median {usual * 1000:.0f} ms before, "
        f"{statistics.median(during) * 1000:.0f} ms during, max {max(during) * 1000:.0f} ms; "
        f"RSS {rss_before // 1024} -> {rss_after // 1024} KiB"
    )

    # The slow client's next connection starts again from a full snapshot with the latest row.
    with connect(server.ws_url(path), origin=Origin(server.url), proxy=None, compression=None) as again:
        assert f">tick-{updates.count}<" in str(again.recv(timeout=5))
