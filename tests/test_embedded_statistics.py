"""The embedded demo (SQLite, nothing else installed) builds and reads the refusal rollups the same
way production does: the monthly rollup migration, the generator, ``--check`` and the coordinator's
figures (statistics, after a refusal, regions compared) for periods that mix whole months and edge days."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

BASE_DIR = Path(settings.BASE_DIR)

READ = """
import django, json
django.setup()
from datetime import date
from django.db import connection
from django.utils import timezone
from hospitals.models import Region
from refusals.models import Refusal, RefusalMonthly
from refusals.benchmark import benchmark
from refusals.outcomes import outcomes
from refusals.statistics import Filters, Period, statistics

region = Region.objects.get(code="midden-nederland")
today = timezone.localdate()
out = {"vendor": connection.vendor, "monthly_rows": RefusalMonthly.objects.count(), "periods": []}
for period in (Period.containing("quarter", today), Period.last_full_quarter(today), Period.containing("week", today)):
    start, end = period.bounds()
    direct = Refusal.objects.filter(
        region=region, occurred_at__gte=start, occurred_at__lt=end, withdrawn_at__isnull=True
    ).count()
    s = statistics(region, period, Filters())
    o = outcomes(region, period, Filters(), suppressed=False)
    b = {r.region.code: r.refusals.count for r in benchmark(period, viewer=None).rows}
    out["periods"].append([period.label, s.total, direct, o.total.count, b[region.code]])
print(json.dumps(out))
"""


def run(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY"}}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", SQLITE_PATH=str(tmp_path / "demo.sqlite3"))
    return subprocess.run(  # noqa: S603 - fixed interpreter and arguments
        [sys.executable, *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_the_embedded_demo_builds_checks_and_reads_the_rollups(tmp_path: Path) -> None:
    for command in (
        ["migrate", "--no-input", "-v0"],
        ["load_reference_data"],
        ["generate_refusals", "--years", "1", "--total", "3000", "--capacity-history"],
        ["rebuild_refusal_rollups", "--check"],
    ):
        result = run(["manage.py", *command], tmp_path)
        assert result.returncode == 0, f"{command}: {result.stdout}\n{result.stderr}"

    result = run(["-c", READ], tmp_path)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["vendor"] == "sqlite"
    assert out["monthly_rows"] > 0
    for label, total, direct, after_refusal, compared in out["periods"]:
        assert total == direct == after_refusal == compared, label
    assert sum(p[2] for p in out["periods"]) > 0  # the periods are not all empty
