"""The shared shape of a "rebuild the rollups" management command (refusals, kraamzorg shortages).

A subclass names its aggregation module (``rebuild()``, ``pending()``, ``differences()``) and its
words; ``--check`` compares the live rollups with a fresh count and exits non-zero on a difference.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, ClassVar

from django.core.management.base import BaseCommand, CommandError, CommandParser

SHOWN = 20


class RollupCommand(BaseCommand):
    aggregation: ClassVar[ModuleType]
    items: ClassVar[str]  # "refusal(s)", "shortage(s)": what is counted
    rollups: ClassVar[str]  # "refusal rollups": what is rebuilt
    source: ClassVar[str]  # "the refusals": where a fresh count comes from
    rebuilt: ClassVar[str]  # the success line, formatted with rebuild()'s result
    command: ClassVar[str]  # this command's name, for the hint

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--check",
            action="store_true",
            help=f"only compare the live {self.rollups} with a fresh count of {self.source}; exit 1 on a difference",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["check"]:
            self._check()
            return
        result = self.aggregation.rebuild()
        self.stdout.write(self.style.SUCCESS(self.rebuilt.format(**result)))

    def _check(self) -> None:
        pending = self.aggregation.pending().count()
        lines = self.aggregation.differences()
        if pending:
            self.stdout.write(f"{pending} {self.items} not yet aggregated at their current version.")
        if not lines:
            self.stdout.write(self.style.SUCCESS(f"The {self.rollups} match {self.source}."))
            return
        for line in lines[:SHOWN]:
            self.stderr.write(line)
        if len(lines) > SHOWN:
            self.stderr.write(f"... and {len(lines) - SHOWN} more")
        raise CommandError(
            f"the {self.rollups} differ from {self.source} in {len(lines)} row(s); "
            f"run `manage.py {self.command}` (or wait for the sweep if {self.items} are pending)"
        )
