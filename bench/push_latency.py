"""Push latency benchmark: one capacity update -> the row on N open board websockets.

    python bench/push_latency.py --clients 100,1000,5000 --updates 20 --interval 0.2

For every N it measures two setups on this machine, each with a freshly started server:

* ours: one uvicorn process running config.asgi (PostgreSQL, Redis, the hub of
  capacity/live.py). N authenticated board sockets of one region; M updates go through the
  real path, an HTTP POST to /units/<id>/ as hospital staff with CSRF. Latency = the moment
  a socket receives the row of update k minus the moment just before that POST was sent.
* baseline: a bare ``websockets`` server that ``broadcast()``s a frame of the same size to N
  sockets, M times at the same interval; it embeds its send time in the frame.

Clients run in separate processes (``--worker`` mode of this script, asyncio + uvloop), the
same client code for both setups; all clocks are CLOCK_MONOTONIC of one machine. A Redis
subscriber in the orchestrator stamps when each update was published, to split our latency
into "request -> published" and "published -> frame received".

Informational only: it prints a table and PASS/FAIL for the target and always exits 0
(unless it could not set up at all). See bench/README.md and docs/performance.md.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import os
import queue
import re
import resource
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/birthcare_bench"
# What the production settings require (docs/security.md), set for benchmark runs only.
BENCH_ENV = {
    "SECRET_KEY": "bench-only-secret-key-not-for-production-0123456789",
    "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
    "BEHIND_HTTPS": "false",
    "MFA_ENFORCED": "false",
}
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"
TARGET_N = 1000
TARGET_P99_MS = 150.0
TARGET_RATIO = 2.0


# --- small helpers ----------------------------------------------------------------------


_STARTED = time.monotonic()


def log(msg: str) -> None:
    print(f"[{time.monotonic() - _STARTED:7.1f}s] {msg}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (and its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU time spent by every process on the machine (all cores), from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def wait_for_quiet(max_wait: float, threshold_pct: float = 30.0) -> float:
    """Wait (at most max_wait s) until the machine is nearly idle; return its busy % over the last 3 s.

    Other work on the machine (a test suite, a build) shares the cores with the server and the
    clients and can double every figure; the busy % is printed with the results.
    """
    deadline = time.monotonic() + max_wait
    while True:
        before, t = machine_busy_seconds(), time.monotonic()
        time.sleep(3)
        busy = 100 * (machine_busy_seconds() - before) / (time.monotonic() - t)
        if busy <= threshold_pct or time.monotonic() >= deadline:
            return busy
        log(f"machine busy {busy:.0f}% (of {os.cpu_count()}00%) before we start; waiting for it to quieten")


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return math.nan
    rank = max(0, math.ceil(p / 100 * len(sorted_values)) - 1)
    return sorted_values[rank]


def raise_fd_limit(wanted: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def stop_process(proc: subprocess.Popen[Any] | None, timeout: float = 10) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


class LineReader:
    """Reads a child's stdout lines in a thread, so the orchestrator can wait with a timeout."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, args=(proc,), daemon=True)
        self._thread.start()

    def _run(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def next_json(self, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("child did not answer in time")
            line = self.lines.get(timeout=remaining)
            if line is None:
                raise RuntimeError("child exited")
            line = line.strip()
            if line.startswith("{"):
                return json.loads(line)


# --- client worker (a separate process; no Django here) -----------------------------------


async def _worker(cfg: dict[str, Any]) -> None:
    import asyncio

    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    n: int = cfg["count"]
    updates: int = cfg["updates"]
    prefix: str = cfg["marker"]
    plen = len(prefix)
    embedded: bool = cfg["embedded_ts"]
    snapshot_marker: str = cfg["snapshot_marker"]
    headers = [("Cookie", cfg["cookie"])] if cfg.get("cookie") else []
    recv: list[list[float | None]] = []
    sent_at: dict[int, float] = {}
    conns: list[Any] = []
    readers: list[asyncio.Task[None]] = []
    dropped: list[str] = []
    state = {"received": 0, "stopping": False}
    monotonic = time.monotonic

    async def reader(ws: Any, row: list[float | None]) -> None:
        try:
            async for msg in ws:
                t = monotonic()
                i = msg.find(prefix)
                if i < 0:
                    continue
                k = int(msg[i + plen : i + plen + 4])
                if 0 <= k < updates and row[k] is None:
                    row[k] = t
                    state["received"] += 1
                    if embedded and k not in sent_at:
                        j = msg.index("ts=", i) + 3
                        sent_at[k] = float(msg[j : msg.index(";", j)])
        except ConnectionClosed:
            pass
        if not state["stopping"]:
            dropped.append(f"{ws.close_code} {ws.close_reason}".strip())

    async def open_one() -> None:
        ws = await connect(
            cfg["url"],
            origin=cfg["origin"],
            additional_headers=headers,
            compression=None,
            proxy=None,
            open_timeout=cfg["open_timeout"],
            ping_interval=None,  # browsers do not ping; the server does
            close_timeout=2,
            max_size=None,
        )
        try:
            first = await asyncio.wait_for(ws.recv(), cfg["open_timeout"])
        except BaseException:
            await ws.close()
            raise
        if snapshot_marker not in first:
            await ws.close()
            raise RuntimeError("first frame is not the snapshot")
        row: list[float | None] = [None] * updates
        recv.append(row)
        conns.append(ws)
        readers.append(asyncio.create_task(reader(ws, row)))

    errors: dict[str, int] = {}
    started = monotonic()
    deadline = started + cfg["connect_deadline"]
    for start in range(0, n, cfg["batch"]):
        if monotonic() > deadline:
            errors["connect deadline passed"] = errors.get("connect deadline passed", 0) + n - start
            break
        size = min(cfg["batch"], n - start)
        results = await asyncio.gather(*(open_one() for _ in range(size)), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                key = f"{type(result).__name__}: {str(result)[:80]}"
                errors[key] = errors.get(key, 0) + 1
    print(
        json.dumps(
            {
                "event": "connected",
                "ok": len(conns),
                "errors": errors,
                "seconds": monotonic() - started,
            }
        ),
        flush=True,
    )

    loop = asyncio.get_running_loop()
    line = await loop.run_in_executor(None, sys.stdin.readline)
    command = json.loads(line or '{"grace": 0}')
    grace_until = monotonic() + command["grace"]
    expected = len(conns) * updates
    while state["received"] < expected and monotonic() < grace_until:
        await asyncio.sleep(0.05)
    state["stopping"] = True
    print(
        json.dumps(
            {
                "event": "result",
                "recv": recv,
                "sent_at": {str(k): v for k, v in sent_at.items()},
                "dropped": dropped,
            }
        ),
        flush=True,
    )
    with contextlib.suppress(Exception):
        await asyncio.wait_for(asyncio.gather(*(ws.close() for ws in conns), return_exceptions=True), 10)
    for task in readers:
        task.cancel()


def run_worker(raw: str) -> None:
    cfg = json.loads(raw)
    raise_fd_limit(cfg["count"] + 256)
    try:
        import uvloop

        uvloop.run(_worker(cfg))
    except ImportError:
        import asyncio

        asyncio.run(_worker(cfg))


# --- baseline server (a separate process; no Django here) ---------------------------------


async def _baseline_server(cfg: dict[str, Any]) -> None:
    import asyncio

    from websockets.asyncio.server import broadcast, serve

    clients: set[Any] = set()
    snapshot = "snapshot " + "x" * max(0, cfg["frame_size"] - 9)

    async def handler(ws: Any) -> None:
        clients.add(ws)
        try:
            await ws.send(snapshot)
            await ws.wait_closed()
        finally:
            clients.discard(ws)

    async with serve(
        handler, "127.0.0.1", cfg["port"], compression=None, backlog=2048, max_size=None, close_timeout=2
    ) as server:
        del server
        print(json.dumps({"event": "ready"}), flush=True)
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                return
            command = json.loads(line)
            if command["cmd"] == "quit":
                return
            # {"cmd": "run", "marker": ..., "updates": M, "interval": s}
            head = '<article id="location-0" class="loc" hx-swap-oob="true">'
            started = time.monotonic()
            for k in range(command["updates"]):
                delay = started + k * command["interval"] - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                t = time.monotonic()
                body = f"{head}{command['marker']}{k:04d} ts={t:.6f};"
                frame = body + "x" * max(0, cfg["frame_size"] - len(body) - 10) + "</article>"
                broadcast(clients, frame)
            print(json.dumps({"event": "done", "clients": len(clients)}), flush=True)


def run_baseline_server(raw: str) -> None:
    cfg = json.loads(raw)
    raise_fd_limit(cfg["fds"])
    try:
        import uvloop

        uvloop.run(_baseline_server(cfg))
    except ImportError:
        import asyncio

        asyncio.run(_baseline_server(cfg))


# --- orchestrator ---------------------------------------------------------------------------


@dataclass
class Fixture:
    region_code: str
    location_id: int
    unit_id: int
    staff_session: str
    midwife_session: str
    frame_size: int


@dataclass
class Result:
    setup: str
    n: int
    updates: int
    connected: int = 0
    connect_errors: dict[str, int] = field(default_factory=dict)
    connect_seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)  # ms, sorted
    expected: int = 0
    received: int = 0
    dropped: list[str] = field(default_factory=list)
    rss_before_kb: int = 0
    rss_after_kb: int = 0
    server_cpu_pct: float = math.nan
    client_cpu_pct: float = math.nan
    machine_cpu_pct: float = math.nan  # every process on the machine, in % of one core
    busy_before_pct: float = math.nan  # the machine just before the pushes (with --quiet-wait)
    post_ms: list[float] = field(default_factory=list)
    published_ms: list[float] = field(default_factory=list)  # request -> published (ours)
    fanout_ms: list[float] = field(default_factory=list)  # published -> frame received (ours)
    per_update: dict[int, list[float]] = field(default_factory=dict)  # k -> latencies (ms)
    published_at: dict[int, float] = field(default_factory=dict)  # k -> request -> published (ms, ours)
    notes: list[str] = field(default_factory=list)

    @property
    def lost(self) -> int:
        return self.expected - self.received

    def p(self, q: float) -> float:
        return percentile(self.latencies, q)

    @property
    def rss_per_conn_kb(self) -> float:
        if not self.connected:
            return math.nan
        return (self.rss_after_kb - self.rss_before_kb) / self.connected


def prepare_database(database_url: str) -> None:
    """Create the benchmark database if needed, then migrate it."""
    import psycopg

    parts = urllib.parse.urlsplit(database_url)
    name = parts.path.lstrip("/")
    admin_url = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')  # name from our own URL, not user input on a server
            log(f"created database {name}")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=ROOT,
        env=os.environ.copy(),
        check=True,
        timeout=300,
    )


def prepare_fixture() -> Fixture:
    """Region, location, unit, a staff user bound to it and a midwife; both logged in."""
    import django

    django.setup()
    from django.conf import settings
    from django.db import connections
    from django.test import Client

    from capacity.live import render_location_frames
    from capacity.models import Unit
    from hospitals.models import Location, Organisation, Region, User

    region, _ = Region.objects.get_or_create(code="bench-push", defaults={"name": "Benchmark region (push)"})
    hospital, _ = Organisation.objects.get_or_create(
        name="Benchmark hospital (push)", defaults={"kind": Organisation.Kind.HOSPITAL, "region": region}
    )
    practice, _ = Organisation.objects.get_or_create(
        name="Benchmark practice (push)", defaults={"kind": Organisation.Kind.MIDWIFERY_PRACTICE, "region": region}
    )
    location, _ = Location.objects.get_or_create(
        slug="bench-push-hospital",
        defaults={
            "name": "Benchmark Ziekenhuis",
            "organisation": hospital,
            "region": region,
            "city": "Utrecht",
            "latitude": 52.09,
            "longitude": 5.12,
            "neonatal_level": Location.NeonatalLevel.NICU,
        },
    )
    unit, _ = Unit.objects.get_or_create(
        location=location, kind=Unit.Kind.DELIVERY_SUITE, defaults={"staffed_total": 10, "available": 4}
    )

    def account(username: str, **fields: Any) -> User:
        user, _ = User.objects.get_or_create(username=username, defaults={"email": f"{username}@example.org"})
        for key, value in fields.items():
            setattr(user, key, value)
        user.is_active = True
        user.set_unusable_password()
        user.save()
        return user

    staff = account("bench-staff", role=User.Role.HOSPITAL_STAFF, organisation=hospital)
    staff.locations.set([location])
    midwife = account("bench-midwife", role=User.Role.MIDWIFE, organisation=practice)

    def session_for(user: User) -> str:
        client = Client()
        client.force_login(user)
        return client.cookies[settings.SESSION_COOKIE_NAME].value

    rendered = render_location_frames(location.pk)
    assert rendered is not None
    frame_size = len(rendered[1]["nl"].encode())
    fixture = Fixture(
        region_code=region.code,
        location_id=location.pk,
        unit_id=unit.pk,
        staff_session=session_for(staff),
        midwife_session=session_for(midwife),
        frame_size=frame_size,
    )
    connections.close_all()
    return fixture


class StaffBrowser:
    """The hospital staff member's browser: session + CSRF cookies, htmx POSTs over keep-alive."""

    def __init__(self, port: int, session: str, unit_id: int) -> None:
        self.port = port
        self.unit_id = unit_id
        self.cookies = {"sessionid": session}
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.version = 0

    def _request(self, method: str, path: str, body: str | None = None, headers: dict[str, str] | None = None):
        all_headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()), **(headers or {})}
        self.conn.request(method, path, body=body, headers=all_headers)
        response = self.conn.getresponse()
        data = response.read().decode()
        for raw in response.headers.get_all("Set-Cookie") or []:
            jar: SimpleCookie = SimpleCookie()
            jar.load(raw)
            for key, morsel in jar.items():
                self.cookies[key] = morsel.value
        return response.status, data

    def _read_version(self, html: str) -> int:
        start = html.find(f'id="unit-{self.unit_id}"')
        match = re.search(r'name="version" value="(\d+)"', html[max(start, 0) :])
        if match is None:
            raise RuntimeError("no version field in the staff page")
        return int(match.group(1))

    def open_staff_page(self) -> None:
        """(Re)open the keep-alive connection (uvicorn closes idle ones after 5 s) and read the form."""
        self.conn.close()
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        status, html = self._request("GET", "/units/")
        if status != 200 or "csrftoken" not in self.cookies:
            raise RuntimeError(f"staff page answered {status} (csrf cookie: {'csrftoken' in self.cookies})")
        self.version = self._read_version(html)

    def update(self, available: int, note: str) -> int:
        body = urllib.parse.urlencode(
            {
                "version": self.version,
                "available": available,
                "staffed_total": 10,
                "status": "open",
                "stop_reason": "",
                "stop_expected_end": "",
                "note": note,
            }
        )
        status, html = self._request(
            "POST",
            f"/units/{self.unit_id}/",
            body=body,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-CSRFToken": self.cookies["csrftoken"],
                "HX-Request": "true",
                "Origin": f"http://127.0.0.1:{self.port}",
            },
        )
        if status in (200, 409):
            self.version = self._read_version(html)
        return status


class PublishWatcher:
    """Subscribes to the hub's Redis channel and stamps when each update was published."""

    def __init__(self, redis_url: str, channel: str, marker: str) -> None:
        import redis

        self.client = redis.Redis.from_url(redis_url)
        self.pubsub = self.client.pubsub()
        self.pubsub.subscribe(channel)
        self.marker = marker
        self.stamps: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            message = self.pubsub.get_message(timeout=0.1)
            if not message or message["type"] != "message":
                continue
            t = time.monotonic()
            data = message["data"].decode()
            i = data.find(self.marker)
            if i >= 0:
                k = int(data[i + len(self.marker) : i + len(self.marker) + 4])
                self.stamps.setdefault(k, t)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        with contextlib.suppress(Exception):
            self.pubsub.close()
            self.client.close()


def start_workers(
    n: int, procs: int, updates: int, cfg: dict[str, Any], logdir: Path
) -> list[tuple[subprocess.Popen[str], LineReader]]:
    workers = []
    counts = [n // procs + (1 if i < n % procs else 0) for i in range(procs)]
    for i, count in enumerate(counts):
        if not count:
            continue
        wcfg = {**cfg, "count": count, "updates": updates}
        proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(wcfg)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=open(logdir / f"worker-{i}.log", "a"),  # noqa: SIM115 - closed with the process
            text=True,
            cwd=ROOT,
        )
        workers.append((proc, LineReader(proc)))
    return workers


def connect_clients(workers: list[tuple[subprocess.Popen[str], LineReader]], result: Result, timeout: float) -> None:
    for _proc, reader in workers:
        answer = reader.next_json(timeout)
        result.connected += answer["ok"]
        result.connect_seconds = max(result.connect_seconds, answer["seconds"])
        for key, count in answer["errors"].items():
            result.connect_errors[key] = result.connect_errors.get(key, 0) + count


def collect_clients(
    workers: list[tuple[subprocess.Popen[str], LineReader]], grace: float, timeout: float
) -> list[dict[str, Any]]:
    for proc, _reader in workers:
        assert proc.stdin is not None
        proc.stdin.write(json.dumps({"grace": grace}) + "\n")
        proc.stdin.flush()
    return [reader.next_json(timeout) for _proc, reader in workers]


def client_cpu(workers: list[tuple[subprocess.Popen[str], LineReader]]) -> float:
    total = 0.0
    for proc, _reader in workers:
        with contextlib.suppress(OSError):
            total += cpu_seconds(proc.pid)
    return total


def wait_for_health(port: int, proc: subprocess.Popen[Any], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    url = f"http://127.0.0.1:{port}/health/"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as response:
            if response.status == 200:
                return
        time.sleep(0.2)
    raise TimeoutError(f"{url} not healthy after {timeout}s")


def settle_rss(pid: int, seconds: float = 1.0) -> int:
    time.sleep(seconds)
    return rss_kb(pid)


def run_ours(args: argparse.Namespace, fx: Fixture, n: int, procs: int, logdir: Path, prefix: str) -> Result:
    # Here, not at the top: the client and baseline processes of this script need no Django.
    from core.ws_protocol import UVICORN_WS_OPTIONS

    result = Result("ours", n, args.updates, expected=n * args.updates)
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "EMBEDDED_BEAT": "false",
        "LIVE_PUSH_PREFIX": prefix,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
    }
    server_log = logdir / f"uvicorn-{n}.log"
    cmd = [
        *(args.server_cmd.split() if args.server_cmd else [sys.executable, "-m", "uvicorn"]),
        "config.asgi:application",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        *UVICORN_WS_OPTIONS,
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    server: subprocess.Popen[Any] | None = None
    workers: list[tuple[subprocess.Popen[str], LineReader]] = []
    watcher: PublishWatcher | None = None
    marker = f"bench-{secrets.token_hex(3)}-u"
    try:
        with open(server_log, "w") as out:
            server = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        wait_for_health(port, server)
        staff = StaffBrowser(port, fx.staff_session, fx.unit_id)
        staff.open_staff_page()
        result.rss_before_kb = settle_rss(server.pid)
        log(f"ours N={n}: server pid {server.pid} up on :{port}, RSS {result.rss_before_kb} KB; connecting")
        cfg = {
            "url": f"ws://127.0.0.1:{port}/ws/board/{fx.region_code}/?lang=nl",
            "origin": f"http://127.0.0.1:{port}",
            "cookie": f"sessionid={fx.midwife_session}",
            "marker": marker,
            "embedded_ts": False,
            "snapshot_marker": f'id="location-{fx.location_id}"',
            "batch": args.batch,
            "open_timeout": 60,
            "connect_deadline": args.connect_deadline,
        }
        workers = start_workers(n, procs, args.updates, cfg, logdir)
        connect_clients(workers, result, args.connect_deadline + 120)
        result.rss_after_kb = settle_rss(server.pid)
        log(
            f"ours N={n}: {result.connected} connected in {result.connect_seconds:.1f}s, "
            f"RSS {result.rss_after_kb} KB; errors {result.connect_errors or 'none'}"
        )
        if args.quiet_wait:
            result.busy_before_pct = wait_for_quiet(args.quiet_wait)
        watcher = PublishWatcher(args.redis_url, f"{prefix}:events", marker)
        staff.open_staff_page()  # fresh connection and version, just before the updates
        time.sleep(0.5)
        t0: dict[int, float] = {}
        machine0 = machine_busy_seconds()
        server_cpu0, client_cpu0, wall0 = cpu_seconds(server.pid), client_cpu(workers), time.monotonic()
        for k in range(args.updates):
            delay = wall0 + k * args.interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            t0[k] = time.monotonic()
            status = staff.update(available=3 if k % 2 == 0 else 4, note=f"{marker}{k:04d}")
            result.post_ms.append((time.monotonic() - t0[k]) * 1000)
            if status != 200:
                result.notes.append(f"update {k}: HTTP {status}")
        last = time.monotonic()
        answers = collect_clients(workers, args.grace, args.grace + 60)
        wall1 = max(last, time.monotonic() - 0.05)
        result.server_cpu_pct = 100 * (cpu_seconds(server.pid) - server_cpu0) / (wall1 - wall0)
        result.client_cpu_pct = 100 * (client_cpu(workers) - client_cpu0) / (wall1 - wall0)
        result.machine_cpu_pct = 100 * (machine_busy_seconds() - machine0) / (wall1 - wall0)
        watcher.close()
        latencies, fanout = [], []
        for answer in answers:
            result.dropped += answer["dropped"]
            for row in answer["recv"]:
                for k, t in enumerate(row):
                    if t is not None:
                        latencies.append((t - t0[k]) * 1000)
                        result.per_update.setdefault(k, []).append(latencies[-1])
                        if k in watcher.stamps:
                            fanout.append((t - watcher.stamps[k]) * 1000)
        result.received = len(latencies)
        result.latencies = sorted(latencies)
        result.fanout_ms = sorted(fanout)
        result.published_at = {k: (watcher.stamps[k] - t0[k]) * 1000 for k in watcher.stamps if k in t0}
        result.published_ms = sorted(result.published_at.values())
        result.post_ms.sort()
    except Exception as exc:
        result.notes.append(f"aborted: {type(exc).__name__}: {exc}")
        log(f"ours N={n}: aborted: {exc!r}")
    finally:
        if watcher is not None:
            watcher.close()
        for proc, _reader in workers:
            stop_process(proc, 5)
        stop_process(server)
    problems = [
        line for line in server_log.read_text(errors="replace").splitlines() if "Traceback" in line or "ERROR" in line
    ]
    if problems:
        result.notes.append(f"server log has {len(problems)} error lines ({server_log})")
    return result


def run_baseline(args: argparse.Namespace, frame_size: int, n: int, procs: int, logdir: Path) -> Result:
    result = Result("baseline", n, args.updates, expected=n * args.updates)
    port = free_port()
    server: subprocess.Popen[str] | None = None
    workers: list[tuple[subprocess.Popen[str], LineReader]] = []
    marker = f"bench-{secrets.token_hex(3)}-u"
    try:
        cfg = {"port": port, "frame_size": frame_size, "fds": n + 1024}
        server = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--baseline-server", json.dumps(cfg)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=open(logdir / f"baseline-{n}.log", "w"),  # noqa: SIM115 - closed with the process
            text=True,
            cwd=ROOT,
        )
        server_out = LineReader(server)
        server_out.next_json(30)
        result.rss_before_kb = settle_rss(server.pid)
        log(f"baseline N={n}: server pid {server.pid} up on :{port}, RSS {result.rss_before_kb} KB; connecting")
        wcfg = {
            "url": f"ws://127.0.0.1:{port}/",
            "origin": f"http://127.0.0.1:{port}",
            "cookie": "",
            "marker": marker,
            "embedded_ts": True,
            "snapshot_marker": "snapshot",
            "batch": args.batch,
            "open_timeout": 60,
            "connect_deadline": args.connect_deadline,
        }
        workers = start_workers(n, procs, args.updates, wcfg, logdir)
        connect_clients(workers, result, args.connect_deadline + 120)
        result.rss_after_kb = settle_rss(server.pid)
        log(
            f"baseline N={n}: {result.connected} connected in {result.connect_seconds:.1f}s, "
            f"RSS {result.rss_after_kb} KB"
        )
        if args.quiet_wait:
            result.busy_before_pct = wait_for_quiet(args.quiet_wait)
        time.sleep(0.5)
        machine0 = machine_busy_seconds()
        server_cpu0, client_cpu0, wall0 = cpu_seconds(server.pid), client_cpu(workers), time.monotonic()
        assert server.stdin is not None
        server.stdin.write(
            json.dumps({"cmd": "run", "marker": marker, "updates": args.updates, "interval": args.interval}) + "\n"
        )
        server.stdin.flush()
        server_out.next_json(args.updates * args.interval + 60)
        last = time.monotonic()
        answers = collect_clients(workers, args.grace, args.grace + 60)
        wall1 = max(last, time.monotonic() - 0.05)
        result.server_cpu_pct = 100 * (cpu_seconds(server.pid) - server_cpu0) / (wall1 - wall0)
        result.client_cpu_pct = 100 * (client_cpu(workers) - client_cpu0) / (wall1 - wall0)
        result.machine_cpu_pct = 100 * (machine_busy_seconds() - machine0) / (wall1 - wall0)
        latencies = []
        for answer in answers:
            result.dropped += answer["dropped"]
            sent_at = {int(k): v for k, v in answer["sent_at"].items()}
            for row in answer["recv"]:
                for k, t in enumerate(row):
                    if t is not None and k in sent_at:
                        latencies.append((t - sent_at[k]) * 1000)
                        result.per_update.setdefault(k, []).append(latencies[-1])
        result.received = len(latencies)
        result.latencies = sorted(latencies)
    except Exception as exc:
        result.notes.append(f"aborted: {type(exc).__name__}: {exc}")
        log(f"baseline N={n}: aborted: {exc!r}")
    finally:
        for proc, _reader in workers:
            stop_process(proc, 5)
        if server is not None and server.poll() is None and server.stdin is not None:
            with contextlib.suppress(OSError):
                server.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
                server.stdin.flush()
        stop_process(server, 5)
    return result


# --- report ---------------------------------------------------------------------------------


def fmt(value: float, digits: int = 0) -> str:
    return "—" if value is None or math.isnan(value) else f"{value:,.{digits}f}"


def describe_updates(result: Result) -> str:
    """One line per update: how its frames spread out (shows whether the tail is one slow push or all)."""
    lines = []
    for k in sorted(result.per_update):
        values = sorted(result.per_update[k])
        lines.append(
            f"{'':8} update {k:2}: {len(values):5} frames, min {values[0]:6.1f} / p50 {percentile(values, 50):6.1f}"
            f" / max {values[-1]:6.1f} ms"
            + (f"  (published after {result.published_at[k]:5.1f} ms)" if k in result.published_at else "")
        )
    return "\n".join(lines)


def describe(result: Result) -> str:
    lines = [
        f"{result.setup:8} N={result.n:<5} connected {result.connected}/{result.n} "
        f"in {result.connect_seconds:.1f}s  latency p50 {fmt(result.p(50), 1)} / p99 {fmt(result.p(99), 1)} / "
        f"max {fmt(result.p(100), 1)} ms  lost {result.lost}/{result.expected}  "
        f"RSS/conn {fmt(result.rss_per_conn_kb, 1)} KB  CPU during pushes: server {fmt(result.server_cpu_pct)}%, "
        f"clients {fmt(result.client_cpu_pct)}%, whole machine {fmt(result.machine_cpu_pct)}% "
        f"(of {os.cpu_count()}00%)"
        + (f", {fmt(result.busy_before_pct)}% just before" if not math.isnan(result.busy_before_pct) else "")
    ]
    if result.setup == "ours" and result.latencies:
        lines.append(
            f"{'':8} POST round trip p50 {fmt(percentile(result.post_ms, 50), 1)} / p99 "
            f"{fmt(percentile(result.post_ms, 99), 1)} ms; request->published p50 "
            f"{fmt(percentile(result.published_ms, 50), 1)} / max {fmt(percentile(result.published_ms, 100), 1)} ms; "
            f"published->frame p50 {fmt(percentile(result.fanout_ms, 50), 1)} / p99 "
            f"{fmt(percentile(result.fanout_ms, 99), 1)} ms"
        )
    if result.connect_errors:
        lines.append(f"{'':8} connect errors: {result.connect_errors}")
    if result.dropped:
        codes: dict[str, int] = {}
        for code in result.dropped:
            codes[code] = codes.get(code, 0) + 1
        lines.append(f"{'':8} sockets closed by the server during the run: {codes}")
    lines += [f"{'':8} note: {note}" for note in result.notes]
    return "\n".join(lines)


def final_table(pairs: list[tuple[Result, Result | None]]) -> str:
    head = (
        "| N | ours p50 / p99 / max (ms) | ours lost | ours RSS/conn | "
        "baseline p50 / p99 / max (ms) | baseline lost | baseline RSS/conn | p99 ours / baseline |"
    )
    rows = [head, "|" + " --- |" * 8]
    for ours, base in pairs:
        ratio = ours.p(99) / base.p(99) if base and base.latencies and ours.latencies else math.nan
        rows.append(
            f"| {ours.n:,} | {fmt(ours.p(50), 1)} / {fmt(ours.p(99), 1)} / {fmt(ours.p(100), 1)} | "
            f"{ours.lost:,} / {ours.expected:,} | {fmt(ours.rss_per_conn_kb, 1)} KB | "
            + (
                f"{fmt(base.p(50), 1)} / {fmt(base.p(99), 1)} / {fmt(base.p(100), 1)} | "
                f"{base.lost:,} / {base.expected:,} | {fmt(base.rss_per_conn_kb, 1)} KB | {fmt(ratio, 2)}× |"
                if base
                else "— | — | — | — |"
            )
        )
    return "\n".join(rows)


def target_check(pairs: list[tuple[Result, Result | None]]) -> str:
    for ours, base in pairs:
        if ours.n != TARGET_N:
            continue
        if not ours.latencies or base is None or not base.latencies:
            return f"target at {TARGET_N:,} boards: FAIL (no data)"
        p99, ratio = ours.p(99), ours.p(99) / base.p(99)
        ok_abs, ok_ratio = p99 <= TARGET_P99_MS, ratio <= TARGET_RATIO
        lost_note = f"; {ours.lost} frames lost" if ours.lost else ""
        return (
            f"target at {TARGET_N:,} boards: p99 {p99:.1f} ms ≤ {TARGET_P99_MS:.0f} ms: "
            f"{'PASS' if ok_abs else 'FAIL'}; "
            f"p99 {ratio:.2f}× baseline ≤ {TARGET_RATIO:.0f}×: {'PASS' if ok_ratio else 'FAIL'} "
            f"=> {'PASS' if ok_abs and ok_ratio and not ours.lost else 'FAIL'}{lost_note}"
        )
    return f"target check needs N={TARGET_N} in --clients: not run"


def code_version() -> str:
    """The commit measured, and whether the server's code differs from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "capacity", "config", "hospitals", "templates"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head or 'unknown'}{' + uncommitted changes' if dirty else ''}"


def machine_summary() -> str:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    import platform

    return (
        f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )


# --- main -----------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", default="100,1000", help="comma-separated numbers of board sockets")
    parser.add_argument("--updates", type=int, default=20, help="capacity updates per N")
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between updates")
    parser.add_argument("--batch", type=int, default=100, help="sockets opened concurrently per batch")
    parser.add_argument(
        "--client-procs", type=int, default=0, help="client processes (0: 1 up to 1,000 sockets, else 2)"
    )
    parser.add_argument("--grace", type=float, default=10.0, help="seconds to wait for late frames after the last")
    parser.add_argument("--connect-deadline", type=float, default=300.0, help="max seconds to open all sockets")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=0.0,
        help="before the pushes of each setup, wait up to this many seconds for the machine to be idle "
        "(other processes < 30%% of one core)",
    )
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument(
        "--server-cmd",
        help="command that starts uvicorn, before its arguments (default: this python -m uvicorn); "
        "for diagnosis, e.g. a wrapper that logs GC pauses. Must exec Python itself: RSS is read from its pid",
    )
    parser.add_argument("--per-update", action="store_true", help="print the spread of every update's frames")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--baseline-server", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        run_worker(args.worker)
        return 0
    if args.baseline_server:
        run_baseline_server(args.baseline_server)
        return 0

    sizes = [int(x) for x in args.clients.split(",") if x.strip()]
    args.database_url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    args.redis_url = os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)
    prefix = f"bench-{os.getpid()}-{secrets.token_hex(4)}"
    # Production settings fail closed without these (docs/security.md); a benchmark is not production.
    for name, value in BENCH_ENV.items():
        os.environ.setdefault(name, value)
    os.environ.update(
        {
            "DATABASE_URL": args.database_url,
            "REDIS_URL": args.redis_url,
            "EMBEDDED_BEAT": "false",
            "LIVE_PUSH_PREFIX": prefix,
            "DJANGO_SETTINGS_MODULE": "config.settings",
        }
    )
    sys.path.insert(0, str(ROOT))
    fds = raise_fd_limit(max(sizes) * 2 + 1024)
    log(f"machine: {machine_summary()}; open files limit {fds}; code {code_version()}")
    try:
        prepare_database(args.database_url)
        fx = prepare_fixture()
    except Exception as exc:
        # Nothing was measured: the one case that is not informational.
        print(f"setup failed, nothing measured: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    log(f"fixture: region {fx.region_code}, location {fx.location_id}, unit {fx.unit_id}, frame {fx.frame_size} B")
    logdir = Path(tempfile.mkdtemp(prefix="push-latency-"))
    log(f"logs in {logdir}")

    pairs: list[tuple[Result, Result | None]] = []
    for n in sizes:
        procs = args.client_procs or (1 if n <= 1000 else 2)
        ours = run_ours(args, fx, n, procs, logdir, prefix)
        print(describe(ours), flush=True)
        if args.per_update:
            print(describe_updates(ours), flush=True)
        base = None
        if not args.skip_baseline:
            base = run_baseline(args, fx.frame_size, n, procs, logdir)
            print(describe(base), flush=True)
            if args.per_update:
                print(describe_updates(base), flush=True)
        pairs.append((ours, base))

    print()
    print(
        f"push latency, {args.updates} updates {args.interval}s apart, frame {fx.frame_size} B, "
        f"client and server on one machine: {machine_summary()}; code {code_version()}"
    )
    print(final_table(pairs))
    print(target_check(pairs))
    if args.json:
        payload = []
        for ours, base in pairs:
            for r in (ours, base):
                if r is None:
                    continue
                payload.append(
                    {
                        "setup": r.setup,
                        "n": r.n,
                        "connected": r.connected,
                        "p50_ms": r.p(50),
                        "p99_ms": r.p(99),
                        "max_ms": r.p(100),
                        "lost": r.lost,
                        "expected": r.expected,
                        "rss_per_conn_kb": r.rss_per_conn_kb,
                        "server_cpu_pct": r.server_cpu_pct,
                        "client_cpu_pct": r.client_cpu_pct,
                        "machine_cpu_pct": r.machine_cpu_pct,
                        "busy_before_pct": r.busy_before_pct,
                        "notes": r.notes,
                    }
                )
        args.json.write_text(json.dumps(payload, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
