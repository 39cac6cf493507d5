"""Reconnect storm: N boards (re)connecting at once to ONE uvicorn process while updates go on.

    python bench/reconnect_storm.py --clients 5000 --rate 5

Measures, from the moment the clients start connecting, when each socket has its snapshot
(p50 / p100), and checks that every socket's first frame was the snapshot (two rows: the
bench region has two locations), that no socket ever saw a location go back to an older
update, and that every socket ends on the last update. Updates go through the real view
(POST /units/<id>/ as hospital staff) at --rate per second during the whole storm.

Baseline in the same run: a bare ``websockets`` server (bench/push_latency.py's) accepting N
connections and sending each one frame of the snapshot's size. Same client code for both.
Informational: prints a table and PASS/FAIL against the target (all correct within 3 s at
5,000); exits 1 only when setup failed. Helpers and environment as bench/push_latency.py.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.push_latency import (
    BENCH_ENV,
    DEFAULT_DATABASE_URL,
    DEFAULT_REDIS_URL,
    ROOT,
    LineReader,
    StaffBrowser,
    free_port,
    log,
    machine_summary,
    percentile,
    prepare_database,
    raise_fd_limit,
    stop_process,
    wait_for_health,
)

TARGET_N = 5000
TARGET_P100_S = 3.0
REGION = "bench-storm"


# --- client worker (a separate process; no Django here) -----------------------------------


async def _worker(cfg: dict[str, Any]) -> None:
    import asyncio

    from websockets.asyncio.client import connect

    marker: str = cfg["marker"]
    pattern = re.compile(re.escape(marker) + r"(\d{4})")
    headers = [("Cookie", cfg["cookie"])] if cfg.get("cookie") else []
    sockets: list[dict[str, Any]] = []
    errors: dict[str, int] = {}
    print(json.dumps({"event": "ready"}), flush=True)
    loop = asyncio.get_running_loop()
    go = json.loads(await loop.run_in_executor(None, sys.stdin.readline))
    t0: float = go["t0"]
    stopping = asyncio.Event()

    async def one() -> None:
        state: dict[str, Any] = {"first": None, "snapshot_first": False, "last": -1, "regressions": 0}
        try:
            ws = await connect(
                cfg["url"],
                origin=cfg["origin"],
                additional_headers=headers,
                compression=None,
                proxy=None,
                open_timeout=120,
                ping_interval=None,
                close_timeout=2,
                max_size=None,
            )
        except Exception as exc:
            key = f"{type(exc).__name__}: {str(exc)[:60]}"
            errors[key] = errors.get(key, 0) + 1
            return
        sockets.append(state)
        try:
            while not stopping.is_set():
                try:
                    msg = await asyncio.wait_for(ws.recv(), 0.5)
                except TimeoutError:
                    continue
                if state["first"] is None:
                    state["first"] = time.monotonic() - t0
                    state["snapshot_first"] = msg.count("<article") == cfg["rows"] or msg.startswith("snapshot")
                for match in pattern.finditer(msg):
                    k = int(match.group(1))
                    if k < state["last"]:
                        state["regressions"] += 1
                    state["last"] = max(state["last"], k)
        except Exception:  # noqa: S110 - a closed socket ends its reader
            pass
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 2)

    tasks = [asyncio.create_task(one()) for _ in range(cfg["count"])]
    await loop.run_in_executor(None, sys.stdin.readline)  # "stop"
    stopping.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    print(json.dumps({"event": "result", "sockets": sockets, "errors": errors}), flush=True)


def run_worker(raw: str) -> None:
    cfg = json.loads(raw)
    raise_fd_limit(cfg["count"] + 256)
    try:
        import uvloop

        uvloop.run(_worker(cfg))
    except ImportError:
        import asyncio

        asyncio.run(_worker(cfg))


# --- orchestrator ---------------------------------------------------------------------------


def prepare_fixture() -> dict[str, Any]:
    """Region bench-storm with two locations (so a snapshot is told from a row), staff, a midwife."""
    import django

    django.setup()
    from django.conf import settings
    from django.db import connections
    from django.test import Client

    from capacity.models import Unit
    from capacity.selectors import locations_with_units
    from hospitals.models import Location, Organisation, Region, User

    region, _ = Region.objects.get_or_create(code=REGION, defaults={"name": "Benchmark region (storm)"})
    hospital, _ = Organisation.objects.get_or_create(
        name="Benchmark hospital (storm)", defaults={"kind": Organisation.Kind.HOSPITAL, "region": region}
    )
    practice, _ = Organisation.objects.get_or_create(
        name="Benchmark practice (storm)", defaults={"kind": Organisation.Kind.MIDWIFERY_PRACTICE, "region": region}
    )
    units = []
    for i in (1, 2):
        location, _ = Location.objects.get_or_create(
            slug=f"bench-storm-{i}",
            defaults={
                "name": f"Storm Ziekenhuis {i}",
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
        units.append(unit)

    def account(username: str, **fields: Any) -> User:
        user, _ = User.objects.get_or_create(username=username, defaults={"email": f"{username}@example.org"})
        for key, value in fields.items():
            setattr(user, key, value)
        user.is_active = True
        user.set_unusable_password()
        user.save()
        return user

    staff = account("bench-storm-staff", role=User.Role.HOSPITAL_STAFF, organisation=hospital)
    staff.locations.set([units[0].location])
    midwife = account("bench-storm-midwife", role=User.Role.MIDWIFE, organisation=practice)

    def session_for(user: User) -> str:
        client = Client()
        client.force_login(user)
        return client.cookies[settings.SESSION_COOKIE_NAME].value

    rows = locations_with_units(region=region)
    size = sum(len(render_nl(row).encode()) for row in rows)
    fixture = {
        "unit_id": units[0].pk,
        "staff": session_for(staff),
        "midwife": session_for(midwife),
        "snapshot_size": size,
        "rows": len(rows),
    }
    connections.close_all()
    return fixture


def render_nl(row: Any) -> str:
    from django.utils import translation

    from capacity.live import render_row

    with translation.override("nl"):
        return render_row(row)


class Updater(threading.Thread):
    """Posts capacity updates at a steady rate through the real view until stopped."""

    def __init__(self, port: int, fx: dict[str, Any], marker: str, rate: float) -> None:
        super().__init__(daemon=True)
        self.browser = StaffBrowser(port, fx["staff"], fx["unit_id"])
        self.browser.open_staff_page()
        self.marker, self.rate = marker, rate
        self.stop = threading.Event()
        self.last_ok = -1
        self.failed = 0

    def run(self) -> None:
        k = 0
        started = time.monotonic()
        while not self.stop.is_set() and k < 10_000:
            delay = started + k / self.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            try:
                status = self.browser.update(k % 7, f"{self.marker}{k:04d}")
            except OSError:
                self.browser.open_staff_page()
                status = 0
            if status == 200:
                self.last_ok = k
            else:
                self.failed += 1
            k += 1


def storm(
    args: argparse.Namespace,
    setup: str,
    url: str,
    origin: str,
    cookie: str,
    fx: dict[str, Any],
    marker: str,
    logdir: Path,
    before_stop: Any = None,
) -> dict[str, Any]:
    procs = args.client_procs or (1 if args.clients <= 1000 else 2)
    counts = [args.clients // procs + (1 if i < args.clients % procs else 0) for i in range(procs)]
    workers = []
    for i, count in enumerate(counts):
        cfg = {"url": url, "origin": origin, "cookie": cookie, "marker": marker, "count": count, "rows": fx["rows"]}
        proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(cfg)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=open(logdir / f"{setup}-worker-{i}.log", "a"),  # noqa: SIM115 - closed with the process
            text=True,
            cwd=ROOT,
        )
        workers.append((proc, LineReader(proc)))
    try:
        for _proc, reader in workers:
            reader.next_json(60)
        t0 = time.monotonic()
        for proc, _reader in workers:
            assert proc.stdin is not None
            proc.stdin.write(json.dumps({"t0": t0}) + "\n")
            proc.stdin.flush()
        time.sleep(args.duration)
        if before_stop is not None:
            before_stop()
        for proc, _reader in workers:
            assert proc.stdin is not None
            proc.stdin.write("stop\n")
            proc.stdin.flush()
        answers = [reader.next_json(120) for _proc, reader in workers]
    finally:
        for proc, _reader in workers:
            stop_process(proc, 5)
    sockets = [s for a in answers for s in a["sockets"]]
    errors: dict[str, int] = {}
    for a in answers:
        for key, n in a["errors"].items():
            errors[key] = errors.get(key, 0) + n
    firsts = sorted(s["first"] for s in sockets if s["first"] is not None)
    return {
        "setup": setup,
        "connected": len(sockets),
        "errors": errors,
        "snapshots": len(firsts),
        "p50": percentile(firsts, 50),
        "p100": percentile(firsts, 100),
        "not_snapshot_first": sum(1 for s in sockets if s["first"] is not None and not s["snapshot_first"]),
        "regressions": sum(s["regressions"] for s in sockets),
        "last": [s["last"] for s in sockets],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=5000, help="boards reconnecting at once")
    parser.add_argument("--rate", type=float, default=5.0, help="capacity updates per second during the storm")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds the storm is watched")
    parser.add_argument("--client-procs", type=int, default=0, help="client processes (0: 1 up to 1,000, else 2)")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        run_worker(args.worker)
        return 0
    database_url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    redis_url = os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)
    prefix = f"storm-{os.getpid()}-{secrets.token_hex(4)}"
    for name, value in BENCH_ENV.items():
        os.environ.setdefault(name, value)
    os.environ.update(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "EMBEDDED_BEAT": "false",
            "LIVE_PUSH_PREFIX": prefix,
            "DJANGO_SETTINGS_MODULE": "config.settings",
        }
    )
    raise_fd_limit(args.clients * 2 + 1024)
    log(f"machine: {machine_summary()}")
    try:
        prepare_database(database_url)
        fx = prepare_fixture()
    except Exception as exc:
        print(f"setup failed, nothing measured: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    logdir = Path(tempfile.mkdtemp(prefix="reconnect-storm-"))
    log(f"fixture: snapshot {fx['snapshot_size']} B, {fx['rows']} rows; logs in {logdir}")
    results = []

    from core.ws_protocol import UVICORN_WS_OPTIONS  # here: the client processes need no Django

    port = free_port()
    env = {**os.environ, "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"), "ALLOWED_HOSTS": "127.0.0.1,localhost"}
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "config.asgi:application",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        *UVICORN_WS_OPTIONS,
        "--no-access-log",
        "--log-level",
        "warning",
        "--backlog",
        "8192",
    ]
    server = None
    updater = None
    marker = f"storm-{secrets.token_hex(3)}-u"
    try:
        with open(logdir / "uvicorn.log", "w") as out:
            server = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        wait_for_health(port, server)
        updater = Updater(port, fx, marker, args.rate)
        updater.start()
        time.sleep(1.0)  # updates are flowing when the storm starts
        stopped = updater

        def stop_updates() -> None:
            stopped.stop.set()
            stopped.join(10)
            time.sleep(2.0)  # the last update reaches every board

        ours = storm(
            args,
            "ours",
            f"ws://127.0.0.1:{port}/ws/board/{REGION}/?lang=nl",
            f"http://127.0.0.1:{port}",
            f"sessionid={fx['midwife']}",
            fx,
            marker,
            logdir,
            stop_updates,
        )
        ours["final_wrong"] = sum(1 for k in ours.pop("last") if k != updater.last_ok)
        ours["updates"] = updater.last_ok + 1
        results.append(ours)
    finally:
        if updater is not None:
            updater.stop.set()
        stop_process(server, 10)

    if not args.skip_baseline:
        bport = free_port()
        bcfg = {"port": bport, "frame_size": fx["snapshot_size"], "fds": args.clients + 1024}
        base = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "push_latency.py"), "--baseline-server", json.dumps(bcfg)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=open(logdir / "baseline.log", "w"),  # noqa: SIM115 - closed with the process
            text=True,
            cwd=ROOT,
        )
        try:
            LineReader(base).next_json(30)
            result = storm(
                args, "baseline", f"ws://127.0.0.1:{bport}/", f"http://127.0.0.1:{bport}", "", fx, marker, logdir
            )
            result.pop("last")
            result["final_wrong"] = 0
            result["updates"] = 0
            results.append(result)
        finally:
            if base.stdin is not None:
                with contextlib.suppress(OSError):
                    base.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
                    base.stdin.flush()
            stop_process(base, 5)

    print()
    print(
        f"reconnect storm, N={args.clients}, updates {args.rate}/s, snapshot {fx['snapshot_size']} B, "
        f"one server process, clients on the same machine: {machine_summary()}"
    )
    print(
        "| setup | connected | snapshot p50 / p100 (s) | first frame not the snapshot | went back in time "
        "| not on the last update | connect errors |"
    )
    print("|" + " --- |" * 7)
    for r in results:
        print(
            f"| {r['setup']} | {r['connected']:,} / {args.clients:,} | {r['p50']:.2f} / {r['p100']:.2f} | "
            f"{r['not_snapshot_first']} | {r['regressions']} | {r['final_wrong']} | {r['errors'] or 0} |"
        )
    ours = results[0]
    ok = (
        ours["connected"] == args.clients
        and ours["p100"] <= TARGET_P100_S
        and not ours["not_snapshot_first"]
        and not ours["regressions"]
        and not ours["final_wrong"]
    )
    print(
        f"first frame always the snapshot: {'PASS' if not ours['not_snapshot_first'] else 'FAIL'}; "
        f"target ({TARGET_N:,} boards, all correct within {TARGET_P100_S:.0f} s) at N={args.clients:,}: "
        f"{'PASS' if ok else 'FAIL'} ({ours['updates']} updates posted during the storm)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
