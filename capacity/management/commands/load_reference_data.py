"""Load the reference data (hospitals/reference.py) and create the units its locations list.

Safe to run again: reference data is matched on stable keys and updated; units are only
ever created, so live figures entered by a hospital are never overwritten by reference data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from capacity.models import Unit
from hospitals import reference


class Command(BaseCommand):
    help = (
        "Load ROAZ regions, organisations, locations, their initial units and the PC4 postcodes "
        "from hospitals/data (idempotent)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--data-dir",
            type=Path,
            default=Path(apps.get_app_config("hospitals").path) / "data",
            help="Directory holding regions.csv, locations.csv and nl_pc4.csv (default: hospitals/data).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        data_dir: Path = options["data_dir"]
        try:
            # Parse and check everything before touching the database.
            data = reference.parse(data_dir)
        except reference.ReferenceDataError as error:
            raise CommandError(str(error)) from None
        unknown = {kind for row in data.locations for kind in row.beds} - set(Unit.Kind.values)
        if unknown:
            raise CommandError(f"unknown unit kinds in the bed columns: {', '.join(sorted(unknown))}")

        units_created = 0
        with transaction.atomic():
            for location, row in reference.load(data):
                if not row.active:
                    continue
                for kind, total in row.beds.items():
                    if total <= 0:
                        continue
                    # get_or_create, never update: an existing unit holds live figures.
                    _, created = Unit.objects.get_or_create(
                        location=location,
                        kind=kind,
                        defaults={"staffed_total": total, "available": total // 2, "status": Unit.Status.OPEN},
                    )
                    units_created += created

        self.stdout.write(
            self.style.SUCCESS(
                f"{len(data.regions)} regions, {len(data.locations)} locations, {units_created} units created, "
                f"{len(data.postcodes)} postcodes"
            )
        )
