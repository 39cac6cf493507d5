"""Load births per ROAZ region and year from a sourced CSV: the "per 1,000 births" denominator.

    python manage.py load_births births.csv

The file has a header row with the columns ``region`` (the region's code or name, as in
``manage.py load_reference_data``), ``year``, ``births`` and ``source`` (where the figure comes
from: a publication, a table and its date; required on every row). Either every row is valid and
loaded (a region and year already loaded is replaced), or nothing is, and each bad row is named
with its line number. No births file ships with the project (docs/refusals.md, "Region benchmark").
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from hospitals.models import Region, RegionBirths

COLUMNS = ("region", "year", "births", "source")


class Command(BaseCommand):
    help = __doc__.split("\n\n")[0]

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help="CSV with the columns region, year, births, source")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["path"]
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"cannot read {path}: {exc}") from exc
        sample = text.splitlines()[0] if text else ""
        reader = csv.DictReader(text.splitlines(), delimiter=";" if sample.count(";") > sample.count(",") else ",")
        missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise CommandError(f"{path}: missing column(s) {', '.join(missing)}; expected {', '.join(COLUMNS)}")
        regions = {r.code: r for r in Region.objects.all()} | {r.name: r for r in Region.objects.all()}
        rows: dict[tuple[int, int], RegionBirths] = {}
        errors: list[str] = []
        for line, row in enumerate(reader, start=2):
            region = regions.get((row.get("region") or "").strip())
            year, births = (row.get("year") or "").strip(), (row.get("births") or "").strip().replace(".", "")
            source = (row.get("source") or "").strip()
            problems = []
            if region is None:
                problems.append(f"unknown region {row.get('region')!r}")
            if not (year.isdigit() and 2000 <= int(year) <= 2100):
                problems.append(f"year {year!r} is not between 2000 and 2100")
            if not (births.isdigit() and 0 < int(births) <= 1_000_000):
                problems.append(f"births {row.get('births')!r} is not a whole number from 1 to 1,000,000")
            if not source:
                problems.append("no source")
            elif len(source) > 300:
                problems.append("source longer than 300 characters")
            if problems:
                errors.append(f"line {line}: {'; '.join(problems)}")
                continue
            assert region is not None
            key = (region.pk, int(year))
            if key in rows:
                errors.append(f"line {line}: {region.code} {year} appears twice")
                continue
            rows[key] = RegionBirths(region=region, year=int(year), births=int(births), source=source)
        if errors:
            raise CommandError(f"{path}: nothing loaded.\n" + "\n".join(errors))
        if not rows:
            raise CommandError(f"{path}: no rows")
        now = timezone.now()
        with transaction.atomic():
            for (region_id, year), item in rows.items():
                RegionBirths.objects.update_or_create(
                    region_id=region_id,
                    year=year,
                    defaults={"births": item.births, "source": item.source, "loaded_at": now},
                )
        self.stdout.write(f"Loaded births for {len(rows)} region-year(s) from {path}.")
