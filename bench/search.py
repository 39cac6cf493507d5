"""Capacity-search benchmark: p50/p95 of the search over all locations for 1,000 random PC4s.

    python bench/search.py --searches 1000

Against PostgreSQL (``DATABASE_URL``, default ``birthcare_bench_search``, created, migrated and
loaded with the real reference data by the script: 74 active locations, 198 units, 4,064
postcodes). Before timing, the live state is shuffled (seeded): random free beds, ~10% of units
in admission stop, ~10% out of date, written straight to the units table (bench setup only).

Every timed search reads the live state from the database: nothing is cached between searches.
For each of ``--searches`` random PC4s (seeded), with a random care type and a random
gestational age (none, or 24–42 weeks), it times (the search decides the home region from the
postcode itself):

* selector: ``parse_origin`` + ``search_capacity`` (what the REST API will call);
* page list: ``GET /search/results/`` through the whole Django stack (session, auth, form,
  selector, template), as the live refresh fetches it;
* json: ``GET /search/results.json``.

Baselines in the same run, same number of repetitions: a bare query of every unit with its
location (``list(Unit.objects.select_related("location"))``), and the national board selector
(``locations_with_units(region=None)``), which reads the same rows the search reads.

Informational: exits 0 whatever the figures.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/birthcare_bench_search"
# What the production settings require (docs/security.md), set for benchmark runs only.
BENCH_ENV = {
    "SECRET_KEY": "bench-only-secret-key-not-for-production-0123456789",
    "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
    "BEHIND_HTTPS": "false",
    "MFA_ENFORCED": "false",
}


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return math.nan
    rank = max(0, math.ceil(p / 100 * len(sorted_values)) - 1)
    return sorted_values[rank]


def timed_each(fn: Callable[[Any], Any], inputs: list[Any], warmup: int) -> list[float]:
    """Run fn over every input (after a few untimed runs); the timings in ms, sorted."""
    for item in inputs[:warmup]:
        fn(item)
    times = []
    for item in inputs:
        t = time.perf_counter()
        fn(item)
        times.append((time.perf_counter() - t) * 1000)
    return sorted(times)


def ensure_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--searches", "-n", type=int, default=1000, help="random PC4s to search from (default 1000)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed runs first (default 20)")
    parser.add_argument("--seed", type=int, default=4, help="random seed (default 4)")
    args = parser.parse_args()

    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    # Production settings fail closed without these (docs/security.md); a benchmark is not production.
    for name, value in BENCH_ENV.items():
        os.environ.setdefault(name, value)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("EMBEDDED_BEAT", "false")
    # No REDIS_URL: nothing here pushes, and the search never touches Redis.
    os.environ.pop("REDIS_URL", None)
    sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
    os.chdir(ROOT)
    ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from datetime import timedelta

    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from capacity.models import Unit
    from capacity.selectors import locations_with_units
    from hospitals.models import Location, Organisation, Postcode, User
    from search.selectors import CareType, distance_km, parse_origin, search_capacity

    settings.ALLOWED_HOSTS = ["*"]
    call_command("migrate", verbosity=0)
    call_command("load_reference_data", stdout=open(os.devnull, "w"))  # noqa: SIM115

    rng = random.Random(args.seed)
    now = timezone.now()
    units = list(Unit.objects.all())
    for unit in units:
        unit.available = rng.randint(0, unit.staffed_total)
        stop = rng.random() < 0.10
        open_statuses = [Unit.Status.OPEN, Unit.Status.OPEN, Unit.Status.LIMITED]
        unit.status = Unit.Status.STOP if stop else rng.choice(open_statuses)
        unit.stop_reason = Unit.StopReason.STAFF if stop else ""
        unit.confirmed_at = now - timedelta(hours=rng.choice([0, 1, 2, 3, 5]) if rng.random() < 0.5 else 0)
    Unit.objects.bulk_update(units, ["available", "status", "stop_reason", "confirmed_at"])

    locations = list(Location.objects.filter(active=True))
    postcodes = list(Postcode.objects.all())
    cases = []
    for postcode in rng.sample(postcodes, min(args.searches, len(postcodes))):
        nearest = min(
            locations, key=lambda loc: distance_km(postcode.latitude, postcode.longitude, loc.latitude, loc.longitude)
        )
        weeks = None if rng.random() < 0.3 else rng.randint(24, 42)
        cases.append((postcode.pc4, rng.choice(CareType.values), weeks, nearest.region))

    practice, _ = Organisation.objects.get_or_create(
        name="Bench search practice",
        defaults={"kind": Organisation.Kind.MIDWIFERY_PRACTICE, "region": locations[0].region, "pc4": "3584"},
    )
    midwife, _ = User.objects.get_or_create(
        username="bench-search-midwife", defaults={"role": User.Role.MIDWIFE, "organisation": practice}
    )
    client = Client()
    client.force_login(midwife)

    def selector(case: tuple[str, str, int | None, Any]) -> int:
        pc4, care, weeks, _region = case
        # The origin decides the home region (issue 10); before, the caller passed the nearest region.
        return len(search_capacity(origin=parse_origin(pc4), care=care, gestational_weeks=weeks).results)

    def get(path: str) -> Callable[[tuple[str, str, int | None, Any]], None]:
        def run(case: tuple[str, str, int | None, Any]) -> None:
            pc4, care, weeks, _region = case
            query = {"where": pc4, "care": care, **({"weeks": str(weeks)} if weeks is not None else {})}
            response = client.get(path, query)
            assert response.status_code == 200, response.status_code

        return run

    def bare_units(_case: object) -> int:
        return len(list(Unit.objects.select_related("location")))

    def board(_case: object) -> int:
        return len(locations_with_units(region=None))

    counts = [selector(case) for case in cases]
    print(
        f"PostgreSQL {connection.pg_version}, {len(locations)} active locations, {len(units)} units, "
        f"{len(postcodes)} postcodes; {len(cases)} searches (seed {args.seed}); "
        f"results per search: median {sorted(counts)[len(counts) // 2]}, max {max(counts)}"
    )
    rows = [
        ("baseline: bare query of all units", timed_each(bare_units, cases, args.warmup)),
        ("baseline: national board selector", timed_each(board, cases, args.warmup)),
        ("search selector (parse_origin + search_capacity)", timed_each(selector, cases, args.warmup)),
        ("GET /search/results/ (HTML list, whole stack)", timed_each(get("/search/results/"), cases, args.warmup)),
        ("GET /search/results.json (whole stack)", timed_each(get("/search/results.json"), cases, args.warmup)),
    ]
    board_p50 = percentile(rows[1][1], 50)
    print(f"{'':52} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'p50 / board':>12}")
    for name, times in rows:
        p50 = percentile(times, 50)
        print(f"{name:52} {p50:8.2f} {percentile(times, 95):8.2f} {times[-1]:8.2f} {p50 / board_p50:11.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
