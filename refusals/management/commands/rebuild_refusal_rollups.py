"""Recompute the refusal rollups from the refusals table, or check them against it."""

from __future__ import annotations

from types import ModuleType
from typing import ClassVar

from core.rollup_command import RollupCommand
from refusals import aggregation as rollups


class Command(RollupCommand):
    help = (
        "Recompute all refusal rollups and tallies from the refusals table (one transaction). "
        "With --check: change nothing, exit non-zero if the live rollups differ from a fresh count."
    )
    aggregation: ClassVar[ModuleType] = rollups
    items = "refusal(s)"
    rollups = "refusal rollups"
    source = "the refusals"
    rebuilt = (
        "Rebuilt refusal rollups from {refusals} refusals ({counted} counted, {withdrawn} withdrawn): "
        "{daily_rows} daily rows, {monthly_rows} monthly rows, {hourly_rows} hourly rows."
    )
    command = "rebuild_refusal_rollups"
