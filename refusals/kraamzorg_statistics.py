"""The region's kraamzorg figures as shown and exported (docs/kraamzorg.md, "The region's view").

The counts come from ``kraamzorg.regional``; this module decides what may be shown, with the
refusals' small-number rule (``refusals.outcomes``: the same threshold, the same "<5", the same
audience rule ``must_suppress``): exact only for the region's own coordinators; for everyone else
every shortage count from 1 to 4 is "<5", the hours short of a suppressed count are left out, the
vulnerable share is left out when it would be computed from a suppressed count, and where a line
of the table shows its total (each area's row, each week's column, the totals row and column) one
suppressed cell could be worked out from it, so the next smallest one is suppressed too, until no
line has a single suppressed cell. The coverage map counts organisations, not families: it is
never suppressed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.utils.translation import gettext as _

from hospitals.models import VSV, Region
from kraamzorg.models import Shortage, monday_of
from kraamzorg.regional import UNKNOWN_MUNICIPALITY, Coverage, CoverageCell, coverage, shortage_grid, vsv_pc4s
from refusals.exports import Table
from refusals.outcomes import Cell, is_small, suppress
from refusals.statistics import Period


@dataclass
class Figure:
    """Shortages in one cell and their hours short (left out when the count is suppressed)."""

    cell: Cell
    hours: int

    @property
    def hours_shown(self) -> int | None:
        return None if self.cell.suppressed else self.hours

    @property
    def hours_value(self) -> int | str:
        """For exports: the hours, or empty when left out."""
        return "" if self.cell.suppressed else self.hours


@dataclass
class AreaRow:
    area: str  # the key: a municipality name or a PC4
    name: str  # as shown
    cells: list[Figure]
    total: Figure


@dataclass
class KraamzorgFigures:
    region: Region
    first: date
    last: date
    weeks: list[date]
    municipality: str | None
    suppressed: bool
    vsv: str = ""  # the VSV whose postcode areas alone are shown, or "" for the whole region
    rows: list[AreaRow] = field(default_factory=list)
    week_totals: list[Figure] = field(default_factory=list)
    total: Figure = field(default_factory=lambda: Figure(Cell("total", "", 0), 0))
    vulnerable: list[Cell] = field(default_factory=list)
    vulnerable_share: int | None = None  # percent of "yes" among yes + no
    reasons: list[Cell] = field(default_factory=list)
    coverage: Coverage | None = None

    @property
    def week_totals_shown(self) -> bool:
        """The region's total per week: only with exact figures (see ``suppress_grid``)."""
        return not self.suppressed

    @property
    def average_hours_short(self) -> float | None:
        """Hours short per registered shortage, one decimal; left out when the total is suppressed."""
        if self.total.cell.suppressed or not self.total.cell.count:
            return None
        return round(self.total.hours / self.total.cell.count, 1)

    @property
    def shown_key(self) -> str:
        """Changes when what the page shows changes (the live refresh says so only then, static/js/stats.js)."""
        cells = [(c.room, c.no_room, c.unknown) for r in (self.coverage.rows if self.coverage else []) for c in r.cells]
        shown = (self.total.cell.shown, self.total.hours_shown, [r.total.cell.shown for r in self.rows], cells)
        return hashlib.sha256(repr(shown).encode()).hexdigest()[:16]

    @property
    def columns(self) -> list[tuple[date, str]]:
        return [(w, week_label(w)) for w in self.weeks]

    @property
    def coverage_columns(self) -> list[tuple[date, str]]:
        return [(w, week_label(w)) for w in self.coverage.weeks] if self.coverage else []

    @property
    def first_label(self) -> str:
        return week_label(self.first)

    @property
    def last_label(self) -> str:
        return week_label(self.last)

    @property
    def area_label(self) -> str:
        return _("Postcode area") if self.municipality is not None else _("Municipality")


def area_name(area: str) -> str:
    return area if area != UNKNOWN_MUNICIPALITY else _("postcode not in the reference data")


def suppress_grid(rows: list[AreaRow], total: Figure) -> None:
    """Suppress the shortage table of someone outside the region's coordinators.

    The area totals, under the shown grand total: 1-4 hidden, and one more where a single hidden
    one could be worked out (``suppress``). An area whose total is hidden has every non-zero cell
    hidden, or its cells would add up to it; an area whose total is shown has its cells suppressed
    the same way against that total. No week totals are shown then: a column total beside the row
    totals would let a hidden cell be worked out across areas.
    """
    total.cell.suppressed = is_small(total.cell.count)
    suppress([r.total.cell for r in rows], total_shown=not total.cell.suppressed)
    for r in rows:
        if r.total.cell.suppressed:
            for f in r.cells:
                f.cell.suppressed = f.cell.count > 0
        else:
            suppress([f.cell for f in r.cells], total_shown=True)


def kraamzorg_figures(
    region: Region,
    first: date,
    last: date,
    *,
    municipality: str | None = None,
    vsv: VSV | None = None,
    suppressed: bool,
) -> KraamzorgFigures:
    within = vsv_pc4s(region, vsv.pk) if vsv is not None else None
    grid = shortage_grid(region, first, last, municipality, within)
    result = KraamzorgFigures(
        region=region, first=first, last=last, weeks=grid.weeks, municipality=municipality, suppressed=suppressed,
        vsv=vsv.name if vsv is not None else "",
    )  # fmt: skip
    for area in grid.areas:
        pairs = [grid.counts.get((area, w), (0, 0)) for w in grid.weeks]
        figures = [Figure(Cell(str(w), "", n), hours) for w, (n, hours) in zip(grid.weeks, pairs, strict=True)]
        result.rows.append(
            AreaRow(
                area=area,
                name=area_name(area),
                cells=figures,
                total=Figure(Cell("total", "", sum(f.cell.count for f in figures)), sum(f.hours for f in figures)),
            )
        )
    for i, w in enumerate(grid.weeks):
        result.week_totals.append(
            Figure(
                Cell(str(w), "", sum(r.cells[i].cell.count for r in result.rows)),
                sum(r.cells[i].hours for r in result.rows),
            )
        )
    result.total = Figure(
        Cell("total", str(_("Shortages")), sum(f.cell.count for f in result.week_totals)),
        sum(f.hours for f in result.week_totals),
    )
    result.vulnerable = [
        Cell(value, str(label), grid.vulnerable.get(value, 0)) for value, label in Shortage.Vulnerable.choices
    ]
    result.reasons = [Cell(value, str(label), grid.reasons.get(value, 0)) for value, label in Shortage.Reason.choices]
    if suppressed:
        suppress_grid(result.rows, result.total)
        suppress(result.vulnerable, total_shown=not result.total.cell.suppressed)
        suppress(result.reasons, total_shown=not result.total.cell.suppressed)
    yes, no = result.vulnerable[0], result.vulnerable[1]
    if yes.count + no.count and not (yes.suppressed or no.suppressed):
        result.vulnerable_share = round(100 * yes.count / (yes.count + no.count))
    result.coverage = coverage(region, municipality, within=within)
    return result


def quarter_weeks(period: Period) -> tuple[date, date]:
    """The due weeks of a period: those whose Monday lies in it (each week in exactly one quarter)."""
    first = period.start + timedelta(days=(7 - period.start.weekday()) % 7)
    return first, monday_of(period.last_day)


def report_figures(region: Region, period: Period, *, suppressed: bool) -> KraamzorgFigures:
    """The kraamzorg section of the quarterly report: the quarter's due weeks, and coverage now."""
    first, last = quarter_weeks(period)
    return kraamzorg_figures(region, first, last, suppressed=suppressed)


# --- As files (refusals/exports.py: Dutch Excel CSV, XLSX) ------------------------------------------


def week_label(week: date) -> str:
    return f"{week:%G-W%V}"


def coverage_text(cell: CoverageCell) -> str:
    """A coverage cell in words, for files: "2/3" (room / organisations), "(1?)" for the unknown ones."""
    text = f"{cell.room}/{cell.organisations}"
    return f"{text} ({cell.unknown}?)" if cell.unknown else text


def tables(result: KraamzorgFigures) -> list[Table]:
    overview = Table(
        _("Overview"),
        [_("Field"), _("Value")],
        [
            [_("Region"), result.region.name],
            [_("From due week"), result.first],
            [_("To due week (its Monday)"), result.last],
            [_("Municipality"), result.municipality if result.municipality is not None else ""],
            [_("VSV"), result.vsv],
            [_("Shortages"), result.total.cell.value],
            [_("Hours short"), result.total.hours_value],
            [_("Hours short per shortage"), "" if result.average_hours_short is None else result.average_hours_short],
            [
                _("Vulnerable situation, percentage of yes and no"),
                "" if result.vulnerable_share is None else result.vulnerable_share,
            ],
            *([[_("Small numbers"), _("counts under 5 are shown as <5")]] if result.suppressed else []),
        ],
    )
    weeks = [week_label(w) for w in result.weeks]
    shortages = Table(
        _("Shortages per week"),
        [result.area_label, *weeks, _("Total")],
        [[r.name, *[f.cell.value for f in r.cells], r.total.cell.value] for r in result.rows]
        + [
            [
                _("Total"),
                *[f.cell.value if result.week_totals_shown else "" for f in result.week_totals],
                result.total.cell.value,
            ]
        ],
    )
    hours = Table(
        _("Hours short per week"),
        [result.area_label, *weeks, _("Total")],
        [[r.name, *[f.hours_value for f in r.cells], r.total.hours_value] for r in result.rows]
        + [
            [
                _("Total"),
                *[f.hours_value if result.week_totals_shown else "" for f in result.week_totals],
                result.total.hours_value,
            ]
        ],
    )
    vulnerable = Table(
        _("Vulnerable situation"),
        [_("Vulnerable situation"), _("Shortages")],
        [[c.name, c.value] for c in result.vulnerable],
    )
    reasons = Table(_("Per reason"), [_("Reason"), _("Shortages")], [[c.name, c.value] for c in result.reasons])
    out = [overview, shortages, hours, vulnerable, reasons]
    if result.coverage is not None:
        out.append(coverage_table(result.coverage, result.area_label))
    return out


def coverage_table(cov: Coverage, area_label: str) -> Table:
    """The heat map as numbers: per area and due week, organisations with room / serving (unknown?)."""
    return Table(
        _("Coverage"),
        [area_label, _("Organisations"), *[week_label(w) for w in cov.weeks]],
        [[area_name(r.area), r.organisations, *[coverage_text(c) for c in r.cells]] for r in cov.rows],
    )
