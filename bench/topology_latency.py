"""Push latency through the production-like topology: N board sockets through HAProxy, spread over
three uvicorn processes (tools/topology.py, deploy/haproxy.cfg), against a bare broadcast.

    python bench/topology_latency.py --clients 1000,3000 --updates 20 --interval 0.2

For every N: the topology is started fresh (HAProxy + 3 web processes; no Celery, which plays no
part in a push), N authenticated board sockets are opened through the proxy (HAProxy balances
them by least connections), and M capacity updates are posted through the proxy as hospital
staff, exactly as bench/push_latency.py does against one process. Latency = the moment a socket
receives the row of update k minus the moment just before its POST; a Redis subscriber splits it
into request -> published and published -> frame. The baseline is bench/push_latency.py's bare
``websockets`` server broadcasting a frame of the same size to the same N, one process, no proxy.

Informational only (the client, HAProxy, three servers, PostgreSQL and Redis share the machine's
cores): it prints a table and always exits 0 unless it could not set up at all. Needs the same
services and variables as bench/push_latency.py (bench/README.md).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.push_latency import (  # noqa: E402 - after the path set-up, as a script
    BENCH_ENV,
    DEFAULT_DATABASE_URL,
    DEFAULT_REDIS_URL,
    Fixture,
    LineReader,
    PublishWatcher,
    Result,
    StaffBrowser,
    client_cpu,
    collect_clients,
    connect_clients,
    cpu_seconds,
    describe,
    final_table,
    free_port,
    log,
    machine_busy_seconds,
    machine_summary,
    percentile,
    prepare_database,
    prepare_fixture,
    raise_fd_limit,
    rss_kb,
    run_baseline,
    start_workers,
    stop_process,
    wait_for_quiet,
)
from tools.topology import Topology  # noqa: E402


def topology_pids(topo: Topology) -> list[int]:
    return [pid for name in [*topo.web_names, "haproxy"] if (pid := topo.pid(name)) is not None]


def run_topology(args: argparse.Namespace, fx: Fixture, n: int, procs: int, logdir: Path, prefix: str) -> Result:
    result = Result("proxy+3", n, args.updates, expected=n * args.updates)
    ports = sorted({free_port() for _ in range(8)})[:4]
    env = {
        **os.environ,
        "LIVE_PUSH_PREFIX": prefix,
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING"),
        "TOPOLOGY_MAXCONN": str(n + 1000),
    }
    run_dir = Path(tempfile.mkdtemp(prefix="topo-bench-"))
    topo = Topology(env=env, run_dir=run_dir, proxy_port=ports[0], web_ports=ports[1:], celery=False)
    workers: list[tuple[Any, LineReader]] = []
    watcher: PublishWatcher | None = None
    marker = f"bench-{secrets.token_hex(3)}-u"
    try:
        topo.start()
        staff = StaffBrowser(topo.proxy_port, fx.staff_session, fx.unit_id)
        staff.open_staff_page()
        web_pids = [pid for name in topo.web_names if (pid := topo.pid(name)) is not None]
        time.sleep(1)
        result.rss_before_kb = sum(rss_kb(pid) for pid in web_pids)
        log(f"proxy+3 N={n}: topology up on :{topo.proxy_port} ({run_dir}); connecting")
        cfg = {
            "url": topo.ws_url(f"/ws/board/{fx.region_code}/?lang=nl"),
            "origin": topo.url,
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
        time.sleep(1)
        result.rss_after_kb = sum(rss_kb(pid) for pid in web_pids)
        spread = topo.sessions()
        result.notes.append(f"sockets per process (HAProxy): {spread}")
        log(f"proxy+3 N={n}: {result.connected} connected in {result.connect_seconds:.1f}s; spread {spread}")
        if args.quiet_wait:
            result.busy_before_pct = wait_for_quiet(args.quiet_wait)
        watcher = PublishWatcher(os.environ["REDIS_URL"], f"{prefix}:events", marker)
        staff.open_staff_page()
        time.sleep(0.5)
        t0: dict[int, float] = {}
        pids = topology_pids(topo)
        machine0 = machine_busy_seconds()
        server_cpu0, client_cpu0, wall0 = sum(cpu_seconds(pid) for pid in pids), client_cpu(workers), time.monotonic()
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
        result.server_cpu_pct = 100 * (sum(cpu_seconds(pid) for pid in pids) - server_cpu0) / (wall1 - wall0)
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
                        if k in watcher.stamps:
                            fanout.append((t - watcher.stamps[k]) * 1000)
        result.received = len(latencies)
        result.latencies = sorted(latencies)
        result.fanout_ms = sorted(fanout)
        result.published_ms = sorted((watcher.stamps[k] - t0[k]) * 1000 for k in watcher.stamps if k in t0)
        result.post_ms.sort()
    except Exception as exc:
        result.notes.append(f"aborted: {type(exc).__name__}: {exc}")
        log(f"proxy+3 N={n}: aborted: {exc!r}")
    finally:
        if watcher is not None:
            watcher.close()
        for proc, _reader in workers:
            stop_process(proc, 5)
        topo.stop()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--clients", default="1000", help="comma-separated numbers of board sockets")
    parser.add_argument("--updates", type=int, default=20)
    parser.add_argument("--interval", type=float, default=0.2)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--client-procs", type=int, default=0, help="0: 1 up to 1,000 sockets, else 2")
    parser.add_argument("--grace", type=float, default=10.0)
    parser.add_argument("--connect-deadline", type=float, default=300.0)
    parser.add_argument("--quiet-wait", type=float, default=0.0)
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    sizes = [int(x) for x in args.clients.split(",") if x.strip()]
    prefix = f"bench-{os.getpid()}-{secrets.token_hex(4)}"
    for name, value in BENCH_ENV.items():
        os.environ.setdefault(name, value)
    os.environ.update(
        {
            "DATABASE_URL": os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL),
            "REDIS_URL": os.environ.get("REDIS_URL", DEFAULT_REDIS_URL),
            "EMBEDDED_BEAT": "false",
            "LIVE_PUSH_PREFIX": prefix,
            "DJANGO_SETTINGS_MODULE": "config.settings",
        }
    )
    fds = raise_fd_limit(max(sizes) * 2 + 1024)
    log(f"machine: {machine_summary()}; open files limit {fds}")
    try:
        prepare_database(os.environ["DATABASE_URL"])
        fx = prepare_fixture()
    except Exception as exc:
        print(f"setup failed, nothing measured: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    logdir = Path(tempfile.mkdtemp(prefix="topology-latency-"))
    log(f"fixture: frame {fx.frame_size} B; logs in {logdir}")

    pairs: list[tuple[Result, Result | None]] = []
    for n in sizes:
        procs = args.client_procs or (1 if n <= 1000 else 2)
        ours = run_topology(args, fx, n, procs, logdir, prefix)
        print(describe(ours), flush=True)
        base = None if args.skip_baseline else run_baseline(args, fx.frame_size, n, procs, logdir)
        if base is not None:
            print(describe(base), flush=True)
        pairs.append((ours, base))

    print()
    print(
        f"push latency through HAProxy to 3 processes, {args.updates} updates {args.interval}s apart, "
        f"frame {fx.frame_size} B, everything on one machine: {machine_summary()}"
    )
    print(final_table(pairs).replace("ours", "proxy+3"))
    for ours, _base in pairs:
        print(
            f"N={ours.n:,}: request->published p50 {percentile(ours.published_ms, 50):.1f} ms; "
            f"published->frame p50 {percentile(ours.fanout_ms, 50):.1f} / p99 {percentile(ours.fanout_ms, 99):.1f} ms"
        )
    if args.json:
        args.json.write_text(
            json.dumps(
                [
                    {"setup": r.setup, "n": r.n, "p50_ms": r.p(50), "p99_ms": r.p(99), "lost": r.lost, "notes": r.notes}
                    for pair in pairs
                    for r in pair
                    if r is not None
                ],
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
