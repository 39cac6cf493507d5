"""Statistics benchmark: the coordinator's figures through the rollups vs straight from the refusals.

    python bench/statistics.py --repeat 30

For the busiest region (most refusals) it times, over R repetitions, p50 and p95 of:

* quarter: the last full quarter's total, board-showed-room count, previous quarter's total,
  and refusals per location, per reason and per care type.
  - rollup: ``refusals.statistics.rollup_rows`` and ``rollup_total``, the selectors the page
    uses (whole months from ``RefusalMonthly``, edge days from ``RefusalDaily``).
  - direct: the same answers with GROUP BY on the refusals table (non-withdrawn, local
    Europe/Amsterdam period bounds on ``occurred_at``).
* trend: refusals per month over ten years, rollup (``refusals.statistics.monthly_counts`` on
  ``RefusalMonthly``) vs direct (refusals by month of ``occurred_at`` in Europe/Amsterdam).
* page: the whole ``statistics()`` selector as the page calls it (rollups, heatmap from the
  refusals table, admission stops from the capacity history) for each kind of period (full and
  running quarter, month, running week) and each filter (location, reason, care type); the
  worst p95 is printed against the 50 ms target.
* benchmark: ``refusals.benchmark.benchmark`` (regions compared: every region's refusals from the
  rollups, staffed bed-days and admission stops from the capacity history), last full quarter.
* pages over HTTP (Django's test client, as a bench coordinator of the region): the statistics
  page (last full and running quarter), the after-a-refusal page and the regions-compared page,
  with the permission check, the access-log write and the template rendering.
* outcomes: ``refusals.outcomes.outcomes`` (the after-a-refusal page), last full and running
  quarter, read from the refusals table itself (there is no faster path to compare it with).

Both paths must give identical numbers: it prints MATCH or MISMATCH per query. Informational:
exits 0 whatever the figures (1 only if there is no data and --generate was not given).
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/birthcare_gen_big"
# What the production settings require (docs/security.md), set for benchmark runs only.
BENCH_ENV = {
    "SECRET_KEY": "bench-only-secret-key-not-for-production-0123456789",
    "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
    "BEHIND_HTTPS": "false",
    "MFA_ENFORCED": "false",
}
GENERATE = "python manage.py generate_refusals --years 10 --total 1000000 --capacity-history --clear-synthetic"


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return math.nan
    rank = max(0, math.ceil(p / 100 * len(sorted_values)) - 1)
    return sorted_values[rank]


def timed(fn: Callable[[], Any], repeat: int, warmup: int) -> tuple[Any, list[float]]:
    """Run fn warmup + repeat times; return its last result and the repeat timings in ms, sorted."""
    result = None
    for _ in range(warmup):
        result = fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t) * 1000)
    return result, sorted(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", "-r", type=int, default=30, help="timed repetitions per query (default 30)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed runs first (default 2)")
    parser.add_argument("--min-rows", type=int, default=1_000_000, help="refusals needed (default 1,000,000)")
    parser.add_argument("--generate", action="store_true", help=f"if too few refusals, run: {GENERATE}")
    parser.add_argument("--skip-page", action="store_true", help="do not time the whole statistics() selector")
    parser.add_argument("--skip-http", action="store_true", help="do not time the pages through the test client")
    parser.add_argument("--page-repeat", type=int, default=20, help="timed runs of the page selectors (default 20)")
    args = parser.parse_args()

    os.environ.setdefault("DATABASE_URL", DEFAULT_DATABASE_URL)
    # Production settings fail closed without these (docs/security.md); a benchmark is not production.
    for name, value in BENCH_ENV.items():
        os.environ.setdefault(name, value)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    # This file is called statistics.py: keep bench/ off the path so it cannot shadow the stdlib module.
    sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
    os.chdir(ROOT)
    import django

    django.setup()
    from django.db import connection
    from django.db.models import Count, Q
    from django.db.models.functions import TruncMonth
    from django.utils import timezone

    from hospitals.models import Region
    from refusals.aggregation import ZONE
    from refusals.benchmark import benchmark
    from refusals.models import Refusal, RefusalDaily, RefusalMonthly
    from refusals.outcomes import outcomes
    from refusals.statistics import (
        Filters,
        Period,
        admission_stops,
        heatmap,
        monthly_counts,
        rollup_rows,
        rollup_total,
        statistics,
    )

    database = connection.settings_dict["NAME"]
    if connection.vendor == "postgresql":
        # Fresh planner statistics, as autovacuum keeps them in a running system: right after the
        # generator's bulk inserts the planner still thinks the tables are empty.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    n = Refusal.objects.count()
    if n < args.min_rows:
        if not args.generate:
            print(f"{database}: {n:,} refusals, fewer than --min-rows {args.min_rows:,}. Create them with:")
            print(f"    DATABASE_URL={os.environ['DATABASE_URL']} {GENERATE}")
            print("or rerun this script with --generate.")
            return 1
        print(f"{database}: {n:,} refusals; generating: {GENERATE}", flush=True)
        subprocess.run(GENERATE.split()[1:], executable=sys.executable, cwd=ROOT, check=True)
        connection.close()
        n = Refusal.objects.count()

    busiest = (
        Refusal.objects.order_by().values("region_id").annotate(n=Count("id")).order_by("-n").values_list("region_id")
    )[0][0]
    region = Region.objects.get(pk=busiest)
    period = Period.last_full_quarter(timezone.localdate())
    previous = period.previous()
    filters = Filters()
    first = RefusalDaily.objects.filter(region=region).order_by("day").values_list("day", flat=True).first()
    trend_start = date(period.end.year - 10, period.end.month, 1)
    span = Refusal.objects.filter(region=region).order_by("occurred_at").values_list("occurred_at", flat=True)
    withdrawn = Refusal.objects.filter(withdrawn_at__isnull=False).count()

    # --- (a) one quarter ------------------------------------------------------------------

    def quarter_rollup() -> dict[str, Any]:
        rows = rollup_rows(region, period, filters)
        prev = rollup_total(region, previous, filters)
        total = room = 0
        per_location: dict[int, tuple[int, int]] = {}
        per_reason: dict[str, int] = {}
        per_care: dict[str, int] = {}
        for (loc, care, reason), (c, r) in rows.items():
            total, room = total + c, room + r
            before = per_location.get(loc, (0, 0))
            per_location[loc] = (before[0] + c, before[1] + r)
            per_reason[reason] = per_reason.get(reason, 0) + c
            per_care[care] = per_care.get(care, 0) + c
        return _clean(total, room, prev, per_location, per_reason, per_care)

    def live(p: Period) -> Any:
        start, end = p.bounds()
        return Refusal.objects.filter(
            region=region, occurred_at__gte=start, occurred_at__lt=end, withdrawn_at__isnull=True
        ).order_by()

    room_q = Q(board_showed_room=True)

    def quarter_direct() -> dict[str, Any]:
        qs = live(period)
        row = qs.aggregate(n=Count("id"), room=Count("id", filter=room_q))
        prev = live(previous).count()
        per_location = {
            loc: (c, r)
            for loc, c, r in qs.values_list("location_id").annotate(n=Count("id"), room=Count("id", filter=room_q))
        }
        per_reason = dict(qs.values_list("reason").annotate(n=Count("id")))
        per_care = dict(qs.values_list("care_type").annotate(n=Count("id")))
        return _clean(row["n"], row["room"], prev, per_location, per_reason, per_care)

    # --- (c) ten-year monthly trend ---------------------------------------------------------

    def trend_rollup() -> dict[date, int]:
        return monthly_counts(region, trend_start, period.end, filters)

    def trend_direct() -> dict[date, int]:
        start = Period.containing("month", trend_start).bounds()[0]
        end = period.bounds()[1]
        rows = (
            Refusal.objects.filter(
                region=region, occurred_at__gte=start, occurred_at__lt=end, withdrawn_at__isnull=True
            )
            .annotate(month=TruncMonth("occurred_at", tzinfo=ZONE))
            .values_list("month")
            .annotate(n=Count("id"))
            .order_by("month")
        )
        return {m.date(): c for m, c in rows if c}

    print(f"database {database}: {n:,} refusals ({withdrawn:,} withdrawn), PostgreSQL {connection.pg_version}")
    print(
        f"region {region.code} (id {region.pk}, the busiest): {Refusal.objects.filter(region=region).count():,}"
        f" refusals, {span.first():%Y-%m-%d} .. {span.last():%Y-%m-%d}; rollup from {first}"
    )
    print(
        f"rollups: {RefusalDaily.objects.count():,} daily rows, {RefusalMonthly.objects.count():,} monthly rows"
        f" ({RefusalMonthly.objects.filter(region=region).count():,} for this region)"
    )
    print(f"quarter {period.label} ({period.start} .. {period.last_day}), previous {previous.label}")
    print(f"trend {trend_start} .. {period.last_day} by month; {args.repeat} timed runs, {args.warmup} warm-up")
    print()

    cases = [("quarter", quarter_rollup, quarter_direct), ("10-year monthly trend", trend_rollup, trend_direct)]
    rows = []
    all_match = True
    for name, rollup_fn, direct_fn in cases:
        a, ta = timed(rollup_fn, args.repeat, args.warmup)
        b, tb = timed(direct_fn, args.repeat, args.warmup)
        match = a == b
        all_match &= match
        rows.append((name, ta, tb, match))
        print(f"{name}: {'MATCH' if match else 'MISMATCH'}  {_summary(a)}")
        if not match:
            for line in _diff(a, b)[:20]:
                print(f"    {line}")

    extra: list[tuple[str, list[float]]] = []
    if not args.skip_page:
        now = timezone.now()
        reps = args.page_repeat
        today = timezone.localdate(now)
        top_location = (
            Refusal.objects.filter(region=region, occurred_at__gte=period.bounds()[0])
            .order_by()
            .values_list("location_id")
            .annotate(n=Count("id"))
            .order_by("-n")
        )[0][0]
        # Any period, any filter: the page's kinds of period (full and running) and each filter.
        scenarios = [
            ("last full quarter", period, filters),
            ("running quarter (provisional)", Period.containing("quarter", today), filters),
            ("last full month", Period.containing("month", period.last_day), filters),
            ("running week", Period.containing("week", today), filters),
            ("last full quarter, one location", period, Filters(location_id=top_location)),
            ("last full quarter, one reason", period, Filters(reason=Refusal.Reason.NO_DELIVERY_ROOM)),
            ("last full quarter, one care type", period, Filters(care_type=Refusal.CareType.choices[0][0])),
        ]
        extra.append(("heatmap() alone (refusals table)", timed(lambda: heatmap(region, period, filters), reps, 1)[1]))
        extra.append(
            (
                "admission_stops() alone (capacity history)",
                timed(lambda: admission_stops(region, period, now=now), reps, 1)[1],
            )
        )
        extra.append(
            (
                "outcomes() (after a refusal), last full quarter",
                timed(lambda: outcomes(region, period, filters, suppressed=True), reps, 1)[1],
            )
        )
        extra.append(
            (
                "outcomes() (after a refusal), running quarter",
                timed(lambda: outcomes(region, Period.containing("quarter", today), filters, suppressed=True), reps, 1)[
                    1
                ],
            )
        )
        extra.append(
            (
                "benchmark() (regions compared), last full quarter",
                timed(lambda: benchmark(period, viewer=None, now=now), reps, 1)[1],
            )
        )
        for label, p, f in scenarios:
            extra.append(
                (
                    f"whole statistics(), {label}",
                    timed(lambda p=p, f=f: statistics(region, p, f, now=now), reps, 1)[1],
                )
            )
        if not args.skip_http:
            # The pages themselves through Django's test client: the view, its permission check,
            # the access-log write and the template rendering included (one bench coordinator).
            from django.test import Client

            from hospitals.models import User

            user, _created = User.objects.get_or_create(
                username="bench-coordinator", defaults={"role": User.Role.COORDINATOR, "region": region}
            )
            client = Client()
            client.force_login(user)

            def page(url: str) -> Callable[[], Any]:
                def get() -> int:
                    response = client.get(url)
                    assert response.status_code == 200, (url, response.status_code)
                    return response.status_code

                return get

            base = f"/statistics/{region.code}/"
            for label, url in (
                ("statistics page (HTTP), last full quarter", base),
                ("statistics page (HTTP), running quarter", f"{base}?start={today.isoformat()}"),
                ("after-a-refusal page (HTTP), last full quarter", f"{base}outcomes/"),
                ("regions-compared page (HTTP), last full quarter", "/statistics/benchmark/"),
                # Baseline: the same page for a week without refusals, i.e. what does not grow with them.
                ("statistics page (HTTP), an empty week (fixed cost)", f"{base}?period=week&start=2010-01-04"),
            ):
                extra.append((label, timed(page(url), reps, 1)[1]))

    print()
    print("| query | rollup p50 / p95 (ms) | direct p50 / p95 (ms) | direct / rollup (p50) | same numbers |")
    print("| --- | --- | --- | --- | --- |")
    for name, ta, tb, match in rows:
        a50, a95, b50, b95 = (percentile(ta, 50), percentile(ta, 95), percentile(tb, 50), percentile(tb, 95))
        print(
            f"| {name} | {a50:.1f} / {a95:.1f} | {b50:.1f} / {b95:.1f} | {b50 / a50:.1f}× |"
            f" {'MATCH' if match else 'MISMATCH'} |"
        )
    for name, t in extra:
        print(f"| {name} ({len(t)} runs) | {percentile(t, 50):.1f} / {percentile(t, 95):.1f} | | | |")
    print()
    if extra:
        page = [t for name, t in extra if name.startswith(("whole", "outcomes", "benchmark"))]
        http = [t for name, t in extra if "(HTTP)" in name and "fixed cost" not in name]
        worst = max(percentile(t, 95) for t in page)
        print(
            f"coordinator pages, worst p95 over {len(page)} views, periods and filters: {worst:.1f} ms (target 50 ms)"
        )
        if http:
            worst_http = max(percentile(t, 95) for t in http)
            print(f"the pages over HTTP, worst p95 of {len(http)}: {worst_http:.1f} ms (with rendering and access log)")
    print("all MATCH" if all_match else "MISMATCH: rollups and refusals disagree")
    return 0


def _clean(total: int, room: int, prev: int, per_location: dict, per_reason: dict, per_care: dict) -> dict[str, Any]:
    """One comparable shape; rollup rows whose count dropped to 0 are the same as no row."""
    return {
        "total": total or 0,
        "room": room or 0,
        "previous_total": prev or 0,
        "per_location": {k: v for k, v in per_location.items() if v[0]},
        "per_reason": {k: v for k, v in per_reason.items() if v},
        "per_care_type": {k: v for k, v in per_care.items() if v},
    }


def _summary(result: dict) -> str:
    if "total" in result:
        return (
            f"total {result['total']:,}, room {result['room']:,}, previous {result['previous_total']:,},"
            f" {len(result['per_location'])} locations"
        )
    return f"{len(result)} months, {sum(result.values()):,} refusals"


def _diff(a: dict, b: dict) -> list[str]:
    out = []
    for key in sorted(set(a) | set(b), key=repr):
        if a.get(key) != b.get(key):
            out.append(f"{key}: rollup {a.get(key)!r}, direct {b.get(key)!r}")
    return out


if __name__ == "__main__":
    sys.exit(main())
