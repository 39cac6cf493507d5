"""Kraamzorg lookup benchmark: p50/p95 of the midwife's kraamzorg lookup for 1,000 random PC4s,
against the capacity search in the same run.

    python bench/kraamzorg.py --lookups 1000

Against PostgreSQL (``DATABASE_URL``, default ``birthcare_bench_kraamzorg``, created, migrated and
loaded with the real reference data by the script: 4,064 postcodes, 74 active locations). The
kraamzorg data is synthetic (no sourced list of organisations exists, docs/kraamzorg.md), seeded
so that a lookup reads what it would in production:

* every PC4 belongs to the region of its nearest acute obstetric location (the search's home region);
* each region gets ``--per-region`` (default 5) kraamzorg organisations, each serving a seeded 80% of
  the region's PC4s (every PC4 at least one): ~4 organisations per lookup, ~16,000 work-area rows;
* each organisation fills in its twelve weeks: ~15% left empty, ~10% stale, ~10% intake stop, a
  third with only a stated minimum of hours. Written straight to the tables (bench setup only).

Every timed lookup reads PostgreSQL: nothing is cached. For each of ``--lookups`` random PC4s
(seeded), with a random due week in the coming 44 (half within the twelve weeks of the grid), it
times:

* kraamzorg selector: ``kraamzorg.selectors.intake_for`` (two indexed queries);
* ``GET /search/kraamzorg/results/``: the whole Django stack (session, auth, form with its postcode
  check, selector, fingerprint, template), as the live refresh fetches it;

and, in the same run on the same PC4s, the capacity search (``parse_origin`` + ``search_capacity``,
and ``GET /search/results/``) with a random care type and gestational age, as bench/search.py does.

Informational: exits 0 whatever the figures.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]

from bench.search import BENCH_ENV, ensure_database, percentile, timed_each  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/birthcare_bench_kraamzorg"
NAME_PREFIX = "Bench kraamzorg"  # every seeded organisation's name starts so (and says "synthetic")
TARGET_P95_MS = 30.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lookups", "-n", type=int, default=1000, help="random PC4s to look up (default 1000)")
    parser.add_argument("--per-region", type=int, default=5, help="kraamzorg organisations per region (default 5)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed runs first (default 20)")
    parser.add_argument("--seed", type=int, default=15, help="random seed (default 15)")
    args = parser.parse_args()

    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    for name, value in BENCH_ENV.items():
        os.environ.setdefault(name, value)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("EMBEDDED_BEAT", "false")
    os.environ.pop("REDIS_URL", None)  # nothing here pushes
    os.chdir(ROOT)
    ensure_database(os.environ["DATABASE_URL"])
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.test import Client
    from django.utils import timezone

    from hospitals.models import Location, Organisation, Postcode, User
    from kraamzorg.models import IntakeWeek, WorkArea
    from kraamzorg.selectors import due_week_range, intake_for
    from kraamzorg.services import weeks_ahead
    from search.selectors import CareType, home_region_key, parse_origin, search_capacity

    settings.ALLOWED_HOSTS = ["*"]
    call_command("migrate", verbosity=0)
    call_command("load_reference_data", stdout=open(os.devnull, "w"))  # noqa: SIM115

    rng = random.Random(args.seed)
    now = timezone.now()
    postcodes = list(Postcode.objects.order_by("pc4"))
    acute = [
        (loc.latitude, loc.longitude, loc.region)
        for loc in Location.objects.filter(active=True, acute_obstetrics=True).select_related("region")
    ]
    by_region: dict[Any, list[str]] = {}
    for postcode in postcodes:
        region = home_region_key((postcode.latitude, postcode.longitude), acute)
        by_region.setdefault(region, []).append(postcode.pc4)

    with transaction.atomic():
        old = Organisation.objects.filter(name__startswith=NAME_PREFIX)
        IntakeWeek.objects.filter(organisation__in=old).delete()
        WorkArea.objects.filter(organisation__in=old).delete()
        old.delete()
        areas, weeks = [], []
        grid = weeks_ahead(now)
        for region, pc4s in sorted(by_region.items(), key=lambda item: item[0].code):
            orgs = [
                Organisation.objects.create(
                    name=f"{NAME_PREFIX} {region.code} {n + 1} (synthetic)",
                    kind=Organisation.Kind.KRAAMZORG,
                    region=region,
                )
                for n in range(args.per_region)
            ]
            for pc4 in pc4s:
                serving = [org for org in orgs if rng.random() < 0.8] or [rng.choice(orgs)]
                areas.extend(WorkArea(organisation=org, pc4=pc4) for org in serving)
            for org in orgs:
                for week in grid:
                    if rng.random() < 0.15:
                        continue  # never filled in
                    confirmed = now - timedelta(
                        days=rng.choice([8, 10, 14]) if rng.random() < 0.10 else rng.random() * 6
                    )
                    if rng.random() < 0.10:
                        figures: dict[str, Any] = {"families": 0, "hours": "full", "status": "stop", "reason": "staff"}
                    else:
                        limited = rng.random() < 0.3
                        minimum = rng.random() < 0.33
                        figures = {
                            "families": rng.randint(0, 12),
                            "hours": "minimum" if minimum else "full",
                            "minimum_hours": rng.choice([16, 24, 32]) if minimum else None,
                            "status": "limited" if limited else "open",
                            "reason": "staff" if limited else "",
                        }
                    weeks.append(
                        IntakeWeek(organisation=org, week=week, confirmed_at=confirmed, updated_at=confirmed, **figures)
                    )
        WorkArea.objects.bulk_create(areas, batch_size=2000)
        IntakeWeek.objects.bulk_create(weeks, batch_size=2000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE kraamzorg_workarea; ANALYZE kraamzorg_intakeweek;")

    first, last = due_week_range(now)
    due_weeks = [first + timedelta(weeks=n) for n in range((last - first).days // 7 + 1)]
    cases: list[tuple[str, date, str, int | None]] = []
    for postcode in rng.sample(postcodes, min(args.lookups, len(postcodes))):
        week = rng.choice(grid) if rng.random() < 0.5 else rng.choice(due_weeks)
        weeks_pregnant = None if rng.random() < 0.3 else rng.randint(24, 42)
        cases.append((postcode.pc4, week, rng.choice(CareType.values), weeks_pregnant))

    region = next(iter(by_region))
    practice, _ = Organisation.objects.get_or_create(
        name="Bench practice (kraamzorg lookups)",
        defaults={"kind": Organisation.Kind.MIDWIFERY_PRACTICE, "region": region},
    )
    midwife, _ = User.objects.get_or_create(
        username="bench-kraamzorg-midwife", defaults={"role": User.Role.MIDWIFE, "organisation": practice}
    )
    client = Client()
    client.force_login(midwife)

    def lookup(case: tuple[str, date, str, int | None]) -> int:
        return len(intake_for(case[0], case[1]))

    def lookup_page(case: tuple[str, date, str, int | None]) -> None:
        response = client.get(
            "/search/kraamzorg/results/", {"pc4": case[0], "due": (case[1] + timedelta(days=3)).isoformat()}
        )
        assert response.status_code == 200, response.status_code

    def search(case: tuple[str, date, str, int | None]) -> int:
        pc4, _week, care, weeks_pregnant = case
        return len(search_capacity(origin=parse_origin(pc4), care=care, gestational_weeks=weeks_pregnant).results)

    def search_page(case: tuple[str, date, str, int | None]) -> None:
        pc4, _week, care, weeks_pregnant = case
        query = {"where": pc4, "care": care, **({"weeks": str(weeks_pregnant)} if weeks_pregnant is not None else {})}
        response = client.get("/search/results/", query)
        assert response.status_code == 200, response.status_code

    counts = sorted(lookup(case) for case in cases)
    organisations = Organisation.objects.filter(name__startswith=NAME_PREFIX).count()
    print(
        f"PostgreSQL {connection.pg_version}, {len(postcodes)} postcodes in {len(by_region)} regions; "
        f"{organisations} kraamzorg organisations, {len(areas)} work-area rows, {len(weeks)} intake weeks; "
        f"{len(cases)} lookups (seed {args.seed}); organisations per lookup: median {counts[len(counts) // 2]}, "
        f"min {counts[0]}, max {counts[-1]}"
    )
    rows: list[tuple[str, list[float]]] = [
        ("kraamzorg selector (intake_for)", timed_each(lookup, cases, args.warmup)),
        ("GET /search/kraamzorg/results/ (whole stack)", timed_each(lookup_page, cases, args.warmup)),
        ("capacity search selector (parse_origin + search_capacity)", timed_each(search, cases, args.warmup)),
        ("GET /search/results/ (capacity, whole stack)", timed_each(search_page, cases, args.warmup)),
    ]
    search_p50 = percentile(rows[2][1], 50)
    print(f"{'':58} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'p50 / search':>13}")
    for name, times in rows:
        p50 = percentile(times, 50)
        print(f"{name:58} {p50:8.2f} {percentile(times, 95):8.2f} {times[-1]:8.2f} {p50 / search_p50:12.2f}x")
    for name, times in rows[:2]:
        p95 = percentile(times, 95)
        print(f"{'PASS' if p95 <= TARGET_P95_MS else 'FAIL'}: {name} p95 {p95:.2f} ms (target <= {TARGET_P95_MS:g} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
