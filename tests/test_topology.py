"""The production-like topology (tools/topology.py, deploy/haproxy.cfg): HAProxy in front of three
uvicorn processes, a Celery worker and a beat, on the test database.

Boards here are websocket clients that behave like the htmx ws extension: on a close they
reconnect (through the proxy) and replace their rows with whatever arrives. Their state is
compared with the database, unit by unit, not with a rendered page.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.sync.client import connect
from websockets.typing import Origin

from capacity.models import CapacityEvent, Unit
from tests.conftest import PASSWORD, World
from tests.live_server import (
    HttpSession,
    Response,
    free_port,
    give_server_usable_password,
    input_value,
    server_env,
    services_missing,
)
from tools.topology import HAPROXY, HAPROXY_CONFIG, Topology, procfile_commands, web_command

pytestmark = [pytest.mark.topology, pytest.mark.django_db(transaction=True)]

BOARDS = 6  # two per web process (HAProxy balances by least connections)
CONVERGE_SECONDS = 5.0  # the bound: a board cut off holds a correct snapshot again within 5 s

ARTICLE_RE = re.compile(r'<article id="location-(\d+)".*?</article>', re.S)
UNIT_RE = re.compile(
    r'<li class="unit" data-kind="(\w+)".*?<strong>(\d+)</strong>/(\d+)(.*?)</li>',
    re.S,
)
NOTE_RE = re.compile(r'<span class="note">(.*?)</span>', re.S)


@pytest.fixture
def topology(world: World) -> Iterator[Topology]:
    """The topology on the test database. Depends on ``world`` so it stops before the flush."""
    reason = services_missing()
    if reason:
        pytest.skip(reason)
    if not shutil.which(HAPROXY):
        pytest.skip(f"{HAPROXY} is not installed (apt-get install haproxy)")
    for user in (world.staff, world.midwife):
        give_server_usable_password(user, PASSWORD)
    run_dir = Path(tempfile.mkdtemp(prefix="topology-"))  # short: the admin socket's path is bounded
    ports = sorted({free_port() for _ in range(8)})[:4]
    assert len(ports) == 4
    topo = Topology(env=server_env(), run_dir=run_dir, proxy_port=ports[0], web_ports=ports[1:])
    try:
        topo.start()
        yield topo
    finally:
        topo.stop()
        shutil.rmtree(run_dir, ignore_errors=True)


# --- clients -----------------------------------------------------------------------------------


def log_in(topo: Topology, username: str) -> HttpSession:
    session = HttpSession()
    page = session.get(f"{topo.url}/accounts/login/")
    response = session.post_form(
        f"{topo.url}/accounts/login/", page, {"username": username, "password": PASSWORD, "next": ""}
    )
    assert "/accounts/login/" not in response.url, f"login as {username} failed ({response.status})"
    return session


Units = dict[int, dict[str, tuple[int, int, str]]]  # location id -> unit kind -> (available, staffed, note)


def parse_rows(frame: str) -> Units:
    rows: Units = {}
    for article in ARTICLE_RE.finditer(frame):
        units = {}
        for kind, available, staffed, rest in UNIT_RE.findall(article.group(0)):
            note = NOTE_RE.search(rest)
            units[kind] = (int(available), int(staffed), note.group(1) if note else "")
        rows[int(article.group(1))] = units
    return rows


def database_rows(world: World) -> Units:
    rows: Units = {world.location.pk: {}, world.other_location.pk: {}}
    for unit in Unit.objects.filter(location__region=world.region):
        rows[unit.location_id][unit.kind] = (unit.available, unit.staffed_total, unit.note)
    return rows


@dataclass
class Board:
    """One open board: reconnects like the htmx ws extension and keeps the latest row per location."""

    topo: Topology
    path: str
    cookie: str
    rows: Units = field(default_factory=dict)
    connects: int = 0
    closes: list[float] = field(default_factory=list)  # monotonic time of each unexpected close
    errors: list[str] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                with connect(
                    self.topo.ws_url(self.path),
                    origin=Origin(self.topo.url),
                    additional_headers={"Cookie": self.cookie},
                    proxy=None,
                    compression=None,
                    open_timeout=5,
                    close_timeout=1,
                ) as ws:
                    with self.lock:
                        self.connects += 1
                    while not self.stopping.is_set():
                        try:
                            frame = ws.recv(timeout=0.2)
                        except TimeoutError:
                            continue
                        assert isinstance(frame, str)
                        with self.lock:
                            self.rows.update(parse_rows(frame))
            except (ConnectionClosed, InvalidHandshake, OSError) as error:
                if self.stopping.is_set():
                    return
                with self.lock:
                    self.closes.append(time.monotonic())
                    self.errors.append(type(error).__name__)
                time.sleep(0.2)  # the htmx ws extension waits a moment (jittered) too

    def snapshot(self) -> Units:
        with self.lock:
            return {location: dict(units) for location, units in self.rows.items()}

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(5)


@pytest.fixture
def boards(topology: Topology, world: World) -> Iterator[list[Board]]:
    midwife = log_in(topology, "midwife")
    opened = [
        Board(topology, f"/ws/board/{world.region.code}/?lang=nl", f"sessionid={midwife.cookie('sessionid')}")
        for _ in range(BOARDS)
    ]
    for board in opened:
        board.start()
    try:
        wait_until(lambda: all(board.connects == 1 and board.rows for board in opened), 10, "boards to open")
        yield opened
    finally:
        for board in opened:
            board.stopping.set()
        for board in opened:
            board.stop()


class Staff:
    """Hospital staff saving one unit through the proxy, with the real form and CSRF check."""

    def __init__(self, topo: Topology, unit: Unit) -> None:
        self.topo = topo
        self.unit = unit
        self.session = log_in(topo, "staff")
        self.page = self.session.get(f"{topo.url}/units/")
        assert self.page.status == 200

    def save(self, available: int, note: str) -> Response:
        response = self.session.post_form(
            f"{self.topo.url}/units/{self.unit.pk}/",
            self.page,
            {
                "version": input_value(self.page.text, element_id=f"unit{self.unit.pk}-version"),
                "available": available,
                "staffed_total": 10,
                "status": "open",
                "stop_reason": "",
                "stop_expected_end": "",
                "note": note,
            },
        )
        if response.status in (200, 409) and f'id="unit{self.unit.pk}-version"' in response.text:
            self.page = response  # its form carries the new version (and, after a 409, the current one)
        else:
            self.page = self.session.get(f"{self.topo.url}/units/")
        return response


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.05)
    return time.monotonic() - started


def assert_boards_match_database(boards: list[Board], world: World, timeout: float) -> float:
    """Wait until every board shows exactly what the database holds; return how long it took."""
    try:
        return wait_until(lambda: all(board.snapshot() == database_rows(world) for board in boards), timeout, "")
    except AssertionError:
        expected = database_rows(world)
        wrong = [board.snapshot() for board in boards if board.snapshot() != expected]
        raise AssertionError(
            f"{len(wrong)} of {len(boards)} boards differ from the database after {timeout}s:\n"
            f"database {expected}\nfirst wrong board {wrong[0]}"
        ) from None


# --- tests -------------------------------------------------------------------------------------


def test_boards_of_a_killed_process_reconnect_through_the_proxy_to_a_correct_snapshot(
    world: World, topology: Topology, boards: list[Board]
) -> None:
    sessions = topology.sessions()
    assert sum(sessions.values()) == BOARDS, sessions
    assert all(count >= 1 for count in sessions.values()), f"HAProxy did not spread the boards: {sessions}"
    assert '"database": "ok"' in HttpSession().get(f"{topology.url}/health/").text
    staff = Staff(topology, world.unit)
    assert staff.save(7, "before the kill").status == 200
    assert_boards_match_database(boards, world, CONVERGE_SECONDS)

    victim = max(sessions, key=lambda name: sessions[name])
    cut_off = sessions[victim]
    assert cut_off >= 1
    killed_at = time.monotonic()
    topology.kill_web(victim)
    # A save while HAProxy still believes the dead process is up: its connection is refused and
    # HAProxy retries on another process, so the member of staff sees nothing of it.
    response = staff.save(2, "after the kill")
    assert response.status == 200, response.text[:500]

    took = assert_boards_match_database(boards, world, CONVERGE_SECONDS)
    elapsed = time.monotonic() - killed_at
    assert elapsed < CONVERGE_SECONDS, f"boards correct only {elapsed:.1f}s after the kill"
    assert database_rows(world)[world.location.pk]["delivery_suite"] == (2, 10, "after the kill")
    dropped = [board for board in boards if board.closes]
    assert len(dropped) == cut_off, f"{len(dropped)} boards dropped, {cut_off} were on {victim}"
    assert all(board.connects == 2 for board in dropped)
    assert all(board.connects == 1 for board in boards if not board.closes)
    topology.wait_proxy_sees([victim], up=False, timeout=5)
    after = topology.sessions()
    assert after[victim] == 0 and sum(after.values()) == BOARDS, after
    print(f"killed {victim} ({cut_off} boards); all boards correct {elapsed:.2f}s after the kill ({took:.2f}s wait)")


def test_rolling_restart_loses_no_update_and_leaves_every_board_correct(
    world: World, topology: Topology, boards: list[Board]
) -> None:
    staff = Staff(topology, world.unit)
    acked: list[str] = []
    failed: list[str] = []
    stop = threading.Event()

    def write() -> None:
        k = 0
        while not stop.is_set():
            note = f"w{k}"
            try:
                response = staff.save(k % 10, note)
            except OSError as error:
                failed.append(f"{note}: {error}")
            else:
                (acked if response.status == 200 else failed).append(
                    note if response.status == 200 else f"{note}: HTTP {response.status}"
                )
            k += 1
            time.sleep(0.05)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        time.sleep(0.5)
        restarted_at = time.monotonic()
        topology.rolling_restart()
        restart_seconds = time.monotonic() - restarted_at
        time.sleep(0.5)
    finally:
        stop.set()
        writer.join(15)
    assert not writer.is_alive()

    saved = {
        event.after["note"]
        for event in CapacityEvent.objects.filter(unit=world.unit, action=CapacityEvent.Action.UPDATE)
    }
    assert len(acked) >= 10, f"only {len(acked)} writes acknowledged during the restart"
    assert [note for note in acked if note not in saved] == [], "acknowledged writes missing from the database"
    # Drain + graceful stop + HAProxy's retry on a refused connection: no request failed at all.
    assert failed == [], failed
    assert set(topology.sessions()) == set(topology.web_names)
    topology.wait_proxy_sees(topology.web_names, up=True, timeout=5)
    assert_boards_match_database(boards, world, CONVERGE_SECONDS)
    fresh = Unit.objects.get(pk=world.unit.pk)
    assert fresh.note == acked[-1]
    # Every board was cut off at least once (each process restarted) and came back.
    assert all(board.connects >= 2 for board in boards), [board.connects for board in boards]
    print(f"rolling restart took {restart_seconds:.1f}s; {len(acked)} writes acknowledged, none failed")


def test_shipped_haproxy_config_is_valid(tmp_path: Path) -> None:
    """deploy/haproxy.cfg as tools/topology.py fills it in passes HAProxy's own check."""
    if not shutil.which(HAPROXY):
        pytest.skip(f"{HAPROXY} is not installed (apt-get install haproxy)")
    topo = Topology(env={}, run_dir=tmp_path, proxy_port=8100, web_ports=(8101, 8102, 8103))
    checked = subprocess.run(  # noqa: S603 - fixed arguments
        [HAPROXY, "-c", "-f", str(HAPROXY_CONFIG)], env=topo.haproxy_env(), capture_output=True, text=True, timeout=30
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    config = HAPROXY_CONFIG.read_text()
    for needed in ("timeout tunnel 1h", "option httpchk", "uri /health/", "balance leastconn", "retry-on conn-failure"):
        assert needed in config


def test_web_processes_run_the_procfile_line_on_their_own_port() -> None:
    procfile = procfile_commands()
    argv = web_command(8102, procfile)
    assert argv[:3] == [sys.executable, "-m", "uvicorn"]
    assert argv[argv.index("--port") + 1] == "8102" and argv[argv.index("--host") + 1] == "127.0.0.1"
    flags = [word for word in procfile["web"].split() if word.startswith("--") and word not in ("--host", "--port")]
    assert flags and all(flag in argv for flag in flags)
