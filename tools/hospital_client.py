#!/usr/bin/env python3
"""Reference client: plays a hospital information system that keeps its units current.

Every few seconds it sends the figures of every unit of a location in one call
(PUT /api/v1/locations/{id}/units), with the versions it last saw, exactly as a
hospital system should: a 409 (someone changed a unit on the web page meanwhile)
is answered by taking the current versions from the problem document and sending
again; a 429 waits for Retry-After. Standard library only, so an integrator can
read it as documentation. As a load generator, run it with several locations
(one thread each) and a short interval; it prints p50/p99 round-trip times.

    python tools/hospital_client.py --base-url http://127.0.0.1:8000 \\
        --token "$BIRTHCARE_API_TOKEN" --location 12 --interval 5

The figures are simulated (a random walk of free beds, now and then a short
admission stop): point it at a demo or test installation, never at production.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any


class Api:
    def __init__(self, base_url: str, token: str) -> None:
        self.base = base_url.rstrip("/") + "/api/v1"
        self.token = token

    def call(self, method: str, path: str, body: object = None) -> tuple[int, dict[str, str], Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)  # noqa: S310 - URL from the operator
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                return response.status, dict(response.headers), json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), json.loads(error.read() or b"null")
        except (urllib.error.URLError, TimeoutError) as error:  # no answer at all: status 0
            reason = error.reason if isinstance(error, urllib.error.URLError) else error
            return 0, {}, {"detail": f"{self.base}: {reason}"}


def simulate(unit: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """Next figures for a unit: free beds drift by one, and a stop starts or ends now and then."""
    total = unit["staffed_total"]
    available = max(0, min(total, unit["available"] + rng.choice((-1, 0, 0, 1))))
    figures: dict[str, Any] = {
        "kind": unit["kind"],
        "staffed_total": total,
        "available": available,
        "status": "open" if available > 1 else "limited",
        "version": unit["version"],
    }
    stopped = unit["status"] == "stop"
    if (stopped and rng.random() < 0.7) or (not stopped and rng.random() < 0.03):
        figures.update(
            status="stop",
            available=0,
            stop_reason=rng.choice(("beds", "staff")),
            stop_expected_end=(datetime.now(UTC) + timedelta(hours=2)).isoformat(timespec="seconds"),
        )
    return figures


def run_location(
    api: Api, location_id: int, interval: float, count: int, times: list[float], quiet: bool, failed: list[int]
) -> None:
    """Push the location's units until ``count`` pushes are done; on an error it cannot handle, add it to ``failed``."""
    rng = random.Random(location_id)  # noqa: S311 - simulated figures, not secrets
    status, _headers, location = api.call("GET", f"/locations/{location_id}")
    if status != 200:
        print(f"location {location_id}: {status} {location.get('detail') if location else ''}", file=sys.stderr)
        failed.append(location_id)
        return
    units = {u["kind"]: u for u in location["units"]}
    sent = 0
    while count == 0 or sent < count:
        body = {"units": [simulate(unit, rng) for unit in units.values()]}
        started = time.perf_counter()
        status, headers, answer = api.call("PUT", f"/locations/{location_id}/units", body)
        elapsed = time.perf_counter() - started
        if status == 200:
            times.append(elapsed)
            units = {r["unit"]["kind"]: r["unit"] for r in answer["units"]}
            if not quiet:
                summary = ", ".join(
                    f"{k} {u['available']}/{u['staffed_total']} {u['status']}" for k, u in units.items()
                )
                print(f"{location['name']}: {summary} ({elapsed * 1000:.0f} ms)")
        elif status == 409:
            # Changed on the web page meanwhile: take the current state and versions, send again next round.
            units = {u["kind"]: u for u in answer["current"]}
            print(f"{location['name']}: version conflict, re-read", file=sys.stderr)
            continue
        elif status == 429:
            time.sleep(float(headers.get("Retry-After", "5")))
            continue
        elif status == 0:
            # No answer (network, server restarting): send the current figures again next round.
            print(f"{location['name']}: {answer['detail']}", file=sys.stderr)
            time.sleep(interval)
            continue
        else:
            print(f"{location['name']}: {status} {answer.get('detail') if answer else ''}", file=sys.stderr)
            failed.append(location_id)
            return
        sent += 1
        time.sleep(interval * rng.uniform(0.8, 1.2))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--token", default=os.environ.get("BIRTHCARE_API_TOKEN", ""), help="a write-capacity token")
    parser.add_argument("--location", type=int, action="append", required=True, help="location id (repeatable)")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between pushes per location")
    parser.add_argument("--count", type=int, default=0, help="pushes per location (0: until interrupted)")
    parser.add_argument("--quiet", action="store_true", help="print only the summary")
    args = parser.parse_args()
    if not args.token:
        parser.error("give --token or set BIRTHCARE_API_TOKEN")
    api = Api(args.base_url, args.token)
    times: list[float] = []
    failed: list[int] = []
    threads = [
        threading.Thread(
            target=run_location, args=(api, loc, args.interval, args.count, times, args.quiet, failed), daemon=True
        )
        for loc in args.location
    ]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join()
    except KeyboardInterrupt:
        pass
    if times:
        ordered = sorted(times)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        print(
            f"{len(times)} pushes: p50 {statistics.median(ordered) * 1000:.1f} ms, "
            f"p99 {p99 * 1000:.1f} ms, max {ordered[-1] * 1000:.1f} ms"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
