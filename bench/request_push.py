"""Placement-request push benchmark: a midwife sends a request -> it is visible on N staff desk screens.

    python bench/request_push.py --clients 10,100,1000 --requests 20 --interval 1.0

For every N it measures two setups on this machine, each with a freshly started server:

* ours: one uvicorn process running config.asgi (PostgreSQL, the Redis channel layer). N desk
  sockets (``/ws/requests/desk/``), each with its own logged-in hospital-staff session of one
  location; M requests go through the real path, an HTTP POST to /requests/new/ as the midwife
  with CSRF (``placements.services.placement_send_to``, then after commit
  ``placements.live.on_request_changed``: the desk section rendered per language and one
  channel-layer ``group_send`` to the location's group). Latency = the moment a socket receives
  the first frame that shows ``id="req-<pk>"`` of request k minus the moment just before its
  POST was sent. Every request goes to the same location and stays open, so the desk (and the
  frame) grows by one request per send; the desk is emptied before each N.
* baseline: bench/push_latency.py's bare ``websockets`` server that ``broadcast()``s a frame of
  the mean size of our M desk frames to N sockets, M times at the same interval.

The clients are bench/push_latency.py's client worker (separate processes, asyncio + uvloop),
the same code for both setups; for the desk sockets a thin adapter (``DeskSocket``) gives each
socket its own session cookie and turns "this frame shows request k for the first time" into
the ``<marker><k>`` line that worker reads. All clocks are CLOCK_MONOTONIC of one machine.

Informational only: it prints a table and always exits 0 (unless it could not set up at all).
See bench/README.md and docs/performance.md ("Placement requests: send -> staff screens").
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import push_latency  # after the path set-up, as a script
from bench.push_latency import (
    BENCH_ENV,
    ROOT,
    LineReader,
    Result,
    StaffBrowser,
    client_cpu,
    collect_clients,
    connect_clients,
    cpu_seconds,
    describe,
    final_table,
    fmt,
    free_port,
    log,
    machine_busy_seconds,
    machine_summary,
    percentile,
    prepare_database,
    raise_fd_limit,
    run_baseline,
    settle_rss,
    stop_process,
    wait_for_health,
    wait_for_quiet,
)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/birthcare_bench_requests"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/9"
REGION = "bench-requests"
LANG = "nl"
# What the midwife's form sends (docs/requests.md); only the location is fixed by the fixture.
REQUEST_FORM = {
    "care_type": "overdracht",
    "gestational_weeks": "39",
    "urgency": "urgent",  # 15 minutes to answer: nothing expires during a run (and no worker runs)
    "arrival_in": "30",
    "callback_phone": "06 1234 5678",
}


# --- client adapter (in the worker processes; no Django here) --------------------------------


class DeskSocket:
    """A desk socket as bench/push_latency.py's client worker reads it.

    The desk frame is the location's whole section: every open request, oldest deadline first.
    Request k has pk ``first_pk + k`` (the orchestrator checks); every request that a frame shows
    for the first time on this socket becomes one ``<marker><k:04d>`` message, stamped by the
    worker on arrival. A request whose own push was lost still counts when a later frame shows it.
    """

    def __init__(self, ws: Any, marker: str, first_pk: int, count: int) -> None:
        self.ws = ws
        self.needles = [f'id="req-{first_pk + k}"' for k in range(count)]
        self.lines = [f"{marker}{k:04d}" for k in range(count)]
        self.seen = 0  # requests 0 .. seen-1 are on this socket's screen

    @property
    def close_code(self) -> int | None:
        return self.ws.close_code

    @property
    def close_reason(self) -> str | None:
        return self.ws.close_reason

    async def recv(self) -> Any:  # the snapshot
        return await self.ws.recv()

    async def close(self) -> None:
        await self.ws.close()

    def __aiter__(self) -> Any:
        return self._new_requests()

    async def _new_requests(self) -> Any:
        async for frame in self.ws:
            while self.seen < len(self.needles) and self.needles[self.seen] in frame:
                yield self.lines[self.seen]
                self.seen += 1


def run_desk_worker(raw: str) -> None:
    """bench/push_latency.py's client worker, with one session per socket and DeskSocket around each."""
    import websockets.asyncio.client as ws_client

    cfg = json.loads(raw)
    real_connect = ws_client.connect
    cookies = iter(cfg["sessions"])

    async def desk_connect(uri: str, **kwargs: Any) -> DeskSocket:
        kwargs["additional_headers"] = [("Cookie", f"sessionid={next(cookies)}")]
        return DeskSocket(await real_connect(uri, **kwargs), cfg["marker"], cfg["first_pk"], cfg["updates"])

    ws_client.connect = desk_connect  # type: ignore[assignment,misc]  # read by push_latency._worker at run time
    push_latency.run_worker(raw)


def start_desk_workers(
    sessions: list[str], procs: int, requests: int, cfg: dict[str, Any], logdir: Path
) -> list[tuple[subprocess.Popen[str], LineReader]]:
    """One client process per slice of the sessions (this script's ``--worker`` mode)."""
    started = []
    for i in range(procs):
        mine = sessions[i::procs]
        if not mine:
            continue
        wcfg = {**cfg, "count": len(mine), "updates": requests, "sessions": mine}
        proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(wcfg)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=open(logdir / f"desk-worker-{i}.log", "a"),  # noqa: SIM115 - closed with the process
            text=True,
            cwd=ROOT,
        )
        started.append((proc, LineReader(proc)))
    return started


# --- fixture (orchestrator, Django) -----------------------------------------------------------


@dataclass
class DeskFixture:
    location_id: int
    midwife_session: str
    staff_sessions: list[str]  # one logged-in session per screen
    accounts: int
    frame_sizes: list[int]  # the desk frame (nl) with 1 .. M requests on it

    @property
    def mean_frame(self) -> int:
        return round(sum(self.frame_sizes) / len(self.frame_sizes))


def prepare_desk_fixture(screens: int, accounts: int, requests: int) -> DeskFixture:
    """Region, hospital, one location with a delivery suite, its staff (logged in), a midwife; frame sizes."""
    import django

    django.setup()
    from django.conf import settings
    from django.db import connections
    from django.test import Client
    from django.utils import timezone, translation

    from capacity.models import Unit
    from hospitals.models import Location, Organisation, Region, User
    from placements import live, services

    region, _ = Region.objects.get_or_create(code=REGION, defaults={"name": "Benchmark region (requests)"})
    hospital, _ = Organisation.objects.get_or_create(
        name="Benchmark hospital (requests)", defaults={"kind": Organisation.Kind.HOSPITAL, "region": region}
    )
    practice, _ = Organisation.objects.get_or_create(
        name="Benchmark practice (requests)",
        defaults={"kind": Organisation.Kind.MIDWIFERY_PRACTICE, "region": region},
    )
    location, _ = Location.objects.get_or_create(
        slug="bench-requests-hospital",
        defaults={
            "name": "Benchmark Ziekenhuis (verzoeken)",
            "organisation": hospital,
            "region": region,
            "city": "Utrecht",
            "latitude": 52.09,
            "longitude": 5.12,
            "neonatal_level": Location.NeonatalLevel.NICU,
        },
    )
    Unit.objects.get_or_create(
        location=location, kind=Unit.Kind.DELIVERY_SUITE, defaults={"staffed_total": 10, "available": 4}
    )
    midwife, _ = User.objects.get_or_create(username="bench-req-midwife", defaults={"email": "mw@example.org"})
    midwife.role, midwife.organisation, midwife.is_active = User.Role.MIDWIFE, practice, True
    midwife.set_unusable_password()
    midwife.save()

    names = [f"bench-req-staff-{i:04d}" for i in range(accounts)]
    existing = set(User.objects.filter(username__in=names).values_list("username", flat=True))
    fresh = []
    for name in names:
        if name not in existing:
            user = User(username=name, email=f"{name}@example.org", role=User.Role.HOSPITAL_STAFF)
            user.organisation = hospital
            user.set_unusable_password()
            fresh.append(user)
    User.objects.bulk_create(fresh, batch_size=500)
    staff = list(User.objects.filter(username__in=names).order_by("username"))
    links = User.locations.through
    links.objects.bulk_create(
        [links(user_id=u.pk, location_id=location.pk) for u in staff], ignore_conflicts=True, batch_size=500
    )
    started = time.monotonic()
    sessions = []
    for i in range(screens):
        client = Client()
        client.force_login(staff[i % len(staff)])
        sessions.append(client.cookies[settings.SESSION_COOKIE_NAME].value)
    client = Client()
    client.force_login(midwife)
    midwife_session = client.cookies[settings.SESSION_COOKIE_NAME].value
    log(
        f"fixture: {len(staff)} staff accounts ({len(fresh)} new), "
        f"{screens} sessions in {time.monotonic() - started:.1f}s"
    )

    # The frames the run will push, measured once: the desk with 1 .. M of these requests on it.
    reset_desk(location.pk)
    sizes = []
    data = services.PlacementInput(
        location_id=location.pk,
        care_type=REQUEST_FORM["care_type"],
        urgency=REQUEST_FORM["urgency"],
        expected_arrival=timezone.now() + timedelta(minutes=30),
        callback_phone=REQUEST_FORM["callback_phone"],
        gestational_weeks=int(REQUEST_FORM["gestational_weeks"]),
    )
    for _k in range(requests):
        services.placement_send(by=midwife, data=data)
        with translation.override(LANG):
            sizes.append(len(live.render_desk(location.pk, oob=True).encode()))
    reset_desk(location.pk)
    connections.close_all()
    return DeskFixture(location.pk, midwife_session, sessions, len(staff), sizes)


def reset_desk(location_id: int) -> int:
    """Empty the location's desk; return the pk its next request gets (ids come from one sequence)."""
    from django.db import connection, connections

    from placements.models import PlacementEvent, PlacementRequest

    PlacementEvent.objects.filter(request__location_id=location_id).delete()
    PlacementRequest.objects.filter(location_id=location_id).delete()
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id'))", [PlacementRequest._meta.db_table])
        taken = cursor.fetchone()[0]
    connections.close_all()
    return taken + 1


def request_pks(location_id: int) -> list[int]:
    from django.db import connections

    from placements.models import PlacementRequest

    pks = list(PlacementRequest.objects.filter(location_id=location_id).order_by("pk").values_list("pk", flat=True))
    connections.close_all()
    return pks


class MidwifeBrowser(StaffBrowser):
    """The midwife's browser: session + CSRF cookies, the request form's POST over keep-alive."""

    def __init__(self, port: int, session: str, location_id: int) -> None:
        super().__init__(port, session, unit_id=0)
        self.location_id = location_id
        self.used = 0.0

    def open_form(self) -> None:
        """(Re)open the keep-alive connection (uvicorn closes idle ones after 5 s) with the form."""
        self.conn.close()
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        status, _html = self._request("GET", f"/requests/new/?location={self.location_id}")
        if status != 200 or "csrftoken" not in self.cookies:
            raise RuntimeError(f"request form answered {status} (csrf cookie: {'csrftoken' in self.cookies})")
        self.used = time.monotonic()

    def send(self) -> int:
        body = urllib.parse.urlencode({"location": self.location_id, **REQUEST_FORM})
        status, _html = self._request(
            "POST",
            "/requests/new/",
            body=body,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-CSRFToken": self.cookies["csrftoken"],
                "Origin": f"http://127.0.0.1:{self.port}",
            },
        )
        self.used = time.monotonic()
        return status


# --- ours -------------------------------------------------------------------------------------


def server_start(channel_socket_timeout: float | None) -> list[str]:
    """``python -m uvicorn``, or (diagnosis) uvicorn with the channel layer's Redis socket timeout changed.

    redis-py 8 reads with a 5 s socket timeout by default, the same as channels-redis's BZPOPMIN
    wait: an inbox idle for 5 s can end in a TimeoutError that ends one consumer (its socket 1006).
    """
    if channel_socket_timeout is None:
        return [sys.executable, "-m", "uvicorn"]
    patch = (
        "import sys, uvicorn; from django.conf import settings; "
        "settings.CHANNEL_LAYERS['default']['CONFIG']['hosts'][0]['socket_timeout'] = float(sys.argv.pop(1)); "
        "sys.exit(uvicorn.main())"
    )
    return [sys.executable, "-c", patch, str(channel_socket_timeout)]


def run_desks(args: argparse.Namespace, fx: DeskFixture, n: int, procs: int, logdir: Path) -> Result:
    from core.ws_protocol import UVICORN_WS_OPTIONS

    result = Result("ours", n, args.requests, expected=n * args.requests)
    first_pk = reset_desk(fx.location_id)
    port = free_port()
    env = {**os.environ, "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING")}
    server_log = logdir / f"uvicorn-{n}.log"
    server: subprocess.Popen[Any] | None = None
    workers: list[tuple[subprocess.Popen[str], LineReader]] = []
    try:
        with open(server_log, "w") as out:
            server = subprocess.Popen(
                [*server_start(args.channel_socket_timeout), "config.asgi:application", "--host", "127.0.0.1",
                 "--port", str(port), *UVICORN_WS_OPTIONS, "--no-access-log", "--log-level", "warning"],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        wait_for_health(port, server)
        midwife = MidwifeBrowser(port, fx.midwife_session, fx.location_id)
        midwife.open_form()
        result.rss_before_kb = settle_rss(server.pid)
        log(f"ours N={n}: server pid {server.pid} up on :{port}, RSS {result.rss_before_kb} KB; connecting")
        cfg = {
            "url": f"ws://127.0.0.1:{port}/ws/requests/desk/?lang={LANG}",
            "origin": f"http://127.0.0.1:{port}",
            "cookie": "",  # DeskSocket sets each socket's own
            "marker": f"bench-{secrets.token_hex(3)}-r",
            "first_pk": first_pk,
            "embedded_ts": False,
            "snapshot_marker": f'id="desk-location-{fx.location_id}"',
            "batch": args.batch,
            "open_timeout": 60,
            "connect_deadline": args.connect_deadline,
        }
        workers = start_desk_workers(fx.staff_sessions[:n], procs, args.requests, cfg, logdir)
        connect_clients(workers, result, args.connect_deadline + 120)
        result.rss_after_kb = settle_rss(server.pid)
        log(
            f"ours N={n}: {result.connected} connected in {result.connect_seconds:.1f}s, "
            f"RSS {result.rss_after_kb} KB; errors {result.connect_errors or 'none'}"
        )
        if args.quiet_wait:
            result.busy_before_pct = wait_for_quiet(args.quiet_wait)
        midwife.open_form()
        time.sleep(0.5)
        t0: dict[int, float] = {}
        machine0 = machine_busy_seconds()
        server_cpu0, client_cpu0, wall0 = cpu_seconds(server.pid), client_cpu(workers), time.monotonic()
        for k in range(args.requests):
            delay = wall0 + k * args.interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if time.monotonic() - midwife.used > 4:
                midwife.open_form()  # before the clock starts: keep-alive would have been closed
            t0[k] = time.monotonic()
            status = midwife.send()
            result.post_ms.append((time.monotonic() - t0[k]) * 1000)
            if status != 302:
                result.notes.append(f"request {k}: HTTP {status}")
        last = time.monotonic()
        answers = collect_clients(workers, args.grace, args.grace + 60)
        wall1 = max(last, time.monotonic() - 0.05)
        result.server_cpu_pct = 100 * (cpu_seconds(server.pid) - server_cpu0) / (wall1 - wall0)
        result.client_cpu_pct = 100 * (client_cpu(workers) - client_cpu0) / (wall1 - wall0)
        result.machine_cpu_pct = 100 * (machine_busy_seconds() - machine0) / (wall1 - wall0)
        pks = request_pks(fx.location_id)
        if pks != list(range(first_pk, first_pk + args.requests)):
            result.notes.append(f"request ids {pks[:3]}… are not {first_pk}…: frames were matched to the wrong request")
        for answer in answers:
            result.dropped += answer["dropped"]
            for row in answer["recv"]:
                for k, t in enumerate(row):
                    if t is not None:
                        result.latencies.append((t - t0[k]) * 1000)
                        result.per_update.setdefault(k, []).append(result.latencies[-1])
        result.received = len(result.latencies)
        result.latencies.sort()
        result.post_ms.sort()
    except Exception as exc:
        result.notes.append(f"aborted: {type(exc).__name__}: {exc}")
        log(f"ours N={n}: aborted: {exc!r}")
    finally:
        for proc, _reader in workers:
            stop_process(proc, 5)
        stop_process(server)
    problems = [
        line for line in server_log.read_text(errors="replace").splitlines() if "Traceback" in line or "ERROR" in line
    ]
    if problems:
        result.notes.append(f"server log has {len(problems)} error lines ({server_log})")
    return result


# --- main -------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--clients", default="10,100,1000", help="comma-separated numbers of desk screens")
    parser.add_argument("--requests", type=int, default=20, help="requests sent per N (the desk grows by one each)")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between requests")
    parser.add_argument(
        "--accounts", type=int, default=0, help="staff accounts the screens' sessions belong to (0: one per screen)"
    )
    parser.add_argument("--batch", type=int, default=100, help="sockets opened concurrently per batch")
    parser.add_argument(
        "--client-procs", type=int, default=0, help="client processes (0: 1 up to 1,000 sockets, else 2)"
    )
    parser.add_argument("--grace", type=float, default=10.0, help="seconds to wait for late frames after the last")
    parser.add_argument("--connect-deadline", type=float, default=300.0, help="max seconds to open all sockets")
    parser.add_argument(
        "--quiet-wait", type=float, default=0.0, help="wait up to this long for an idle machine before the pushes"
    )
    parser.add_argument(
        "--channel-socket-timeout",
        type=float,
        help="diagnosis: start the server with this Redis socket timeout for the channel layer "
        "(the settings give none, so redis-py's 5 s applies)",
    )
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--per-update", action="store_true", help="print the spread of every request's frames")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        run_desk_worker(args.worker)
        return 0
    args.updates = args.requests  # the name push_latency.run_baseline reads

    sizes = [int(x) for x in args.clients.split(",") if x.strip()]
    database_url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    run_id = f"bench-req-{os.getpid()}-{secrets.token_hex(3)}"
    for name, value in BENCH_ENV.items():
        os.environ.setdefault(name, value)
    os.environ.update(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": os.environ.get("REDIS_URL", DEFAULT_REDIS_URL),
            "EMBEDDED_BEAT": "false",
            "LIVE_PUSH_PREFIX": run_id,
            "CHANNEL_PREFIX": f"{run_id}:asgi",
            "CACHE_PREFIX": f"{run_id}:cache",
            "DJANGO_SETTINGS_MODULE": "config.settings",
        }
    )
    fds = raise_fd_limit(max(sizes) * 2 + 1024)
    log(f"machine: {machine_summary()}; open files limit {fds}; code {push_latency.code_version()}")
    try:
        prepare_database(database_url)
        fx = prepare_desk_fixture(max(sizes), args.accounts or max(sizes), args.requests)
    except Exception as exc:
        print(f"setup failed, nothing measured: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    frames = (
        f"frame {fx.frame_sizes[0]:,} B (1 request) to {fx.frame_sizes[-1]:,} B ({args.requests}), "
        f"mean {fx.mean_frame:,} B"
    )
    log(f"fixture: location {fx.location_id}; desk {frames}")
    logdir = Path(tempfile.mkdtemp(prefix="request-push-"))
    log(f"logs in {logdir}")

    pairs: list[tuple[Result, Result | None]] = []
    for n in sizes:
        procs = args.client_procs or (1 if n <= 1000 else 2)
        ours = run_desks(args, fx, n, procs, logdir)
        print(describe(ours), flush=True)
        if args.per_update:
            print(push_latency.describe_updates(ours), flush=True)
        base = None if args.skip_baseline else run_baseline(args, fx.mean_frame, n, procs, logdir)
        if base is not None:
            print(describe(base), flush=True)
            if args.per_update:
                print(push_latency.describe_updates(base), flush=True)
        pairs.append((ours, base))

    print()
    print(
        f"placement request -> desk screens, {args.requests} requests {args.interval}s apart, {frames} "
        f"(baseline: the mean), {fx.accounts} staff accounts, client and server on one machine: {machine_summary()}; "
        f"code {push_latency.code_version()}"
    )
    print(final_table(pairs))
    for ours, _base in pairs:
        print(
            f"N={ours.n:,}: POST /requests/new/ round trip (save, render the desk twice, group_send) p50 "
            f"{fmt(percentile(ours.post_ms, 50), 1)} / p99 {fmt(percentile(ours.post_ms, 99), 1)} ms; "
            f"server CPU during the sends {fmt(ours.server_cpu_pct)}%"
            + (
                f"; request 1 p50 {fmt(request_p50(ours, 0), 1)} ms, request {args.requests} p50 "
                f"{fmt(request_p50(ours, args.requests - 1), 1)} ms"
                if ours.latencies
                else ""
            )
        )
    return 0


def request_p50(result: Result, k: int) -> float:
    """p50 over the screens for request k (the desk frame grows with k)."""
    return percentile(sorted(result.per_update.get(k, [])), 50)


if __name__ == "__main__":
    sys.exit(main())
