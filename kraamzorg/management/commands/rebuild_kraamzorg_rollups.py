"""Recompute the kraamzorg shortage rollup from the shortages table, or check it against it."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from kraamzorg import aggregation

SHOWN = 20


class Command(BaseCommand):
    help = (
        "Recompute the kraamzorg shortage rollup and tallies from the shortages table (one transaction). "
        "With --check: change nothing, exit non-zero if the live rollup differs from a fresh count."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--check",
            action="store_true",
            help="only compare the live rollup with a fresh count of the shortages; exit 1 on a difference",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["check"]:
            self._check()
            return
        result = aggregation.rebuild()
        self.stdout.write(
            self.style.SUCCESS(
                "Rebuilt the kraamzorg shortage rollup from {shortages} shortages ({counted} counted, "
                "{withdrawn} withdrawn): {weekly_rows} weekly rows.".format(**result)
            )
        )

    def _check(self) -> None:
        pending = aggregation.pending().count()
        lines = aggregation.differences()
        if pending:
            self.stdout.write(f"{pending} shortage(s) not yet aggregated at their current version.")
        if not lines:
            self.stdout.write(self.style.SUCCESS("The kraamzorg shortage rollup matches the shortages."))
            return
        for line in lines[:SHOWN]:
            self.stderr.write(line)
        if len(lines) > SHOWN:
            self.stderr.write(f"... and {len(lines) - SHOWN} more")
        raise CommandError(
            f"the kraamzorg shortage rollup differs from the shortages in {len(lines)} row(s); "
            "run `manage.py rebuild_kraamzorg_rollups` (or wait for the sweep if shortages are pending)"
        )
