"""Recompute the refusal rollups from the refusals table, or check them against it."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from refusals import aggregation

SHOWN = 20


class Command(BaseCommand):
    help = (
        "Recompute all refusal rollups and tallies from the refusals table (one transaction). "
        "With --check: change nothing, exit non-zero if the live rollups differ from a fresh count."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--check",
            action="store_true",
            help="only compare the live rollups with a fresh count of the refusals; exit 1 on a difference",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["check"]:
            self._check()
            return
        result = aggregation.rebuild()
        self.stdout.write(
            self.style.SUCCESS(
                "Rebuilt refusal rollups from {refusals} refusals ({counted} counted, {withdrawn} withdrawn): "
                "{daily_rows} daily rows, {monthly_rows} monthly rows, {hourly_rows} hourly rows.".format(**result)
            )
        )

    def _check(self) -> None:
        pending = aggregation.pending().count()
        lines = aggregation.differences()
        if pending:
            self.stdout.write(f"{pending} refusal(s) not yet aggregated at their current version.")
        if not lines:
            self.stdout.write(self.style.SUCCESS("Refusal rollups match the refusals."))
            return
        for line in lines[:SHOWN]:
            self.stderr.write(line)
        if len(lines) > SHOWN:
            self.stderr.write(f"... and {len(lines) - SHOWN} more")
        raise CommandError(
            f"refusal rollups differ from the refusals in {len(lines)} row(s); "
            "run `manage.py rebuild_refusal_rollups` (or wait for the sweep if refusals are pending)"
        )
