"""Recompute the kraamzorg shortage rollup from the shortages table, or check it against it."""

from __future__ import annotations

from types import ModuleType
from typing import ClassVar

from core.rollup_command import RollupCommand
from kraamzorg import aggregation as rollups


class Command(RollupCommand):
    help = (
        "Recompute the kraamzorg shortage rollup and tallies from the shortages table (one transaction). "
        "With --check: change nothing, exit non-zero if the live rollup differs from a fresh count."
    )
    aggregation: ClassVar[ModuleType] = rollups
    items = "shortage(s)"
    rollups = "kraamzorg shortage rollups"
    source = "the shortages"
    rebuilt = (
        "Rebuilt the kraamzorg shortage rollup from {shortages} shortages ({counted} counted, "
        "{withdrawn} withdrawn): {weekly_rows} weekly rows."
    )
    command = "rebuild_kraamzorg_rollups"
