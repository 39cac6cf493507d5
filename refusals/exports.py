"""The statistics page as files a coordinator opens in a spreadsheet (docs/refusals.md, "Exports").

One set of tables (``tables``) feeds both formats:

* CSV in the user's language convention: Dutch uses semicolons between fields and decimal commas
  (the list separator and decimal sign of Dutch Excel, which otherwise puts every line in one
  column), English commas and decimal points; both start with a UTF-8 byte-order mark so
  spreadsheet programs read the accents right. Tables are separated by an empty line, each under
  its title.
* XLSX with one sheet per table: the first sheet holds the period (as real dates) and the filters
  with the totals; counts are numbers, hours numbers with one decimal, dates dates.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.utils import formats
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from hospitals.models import VSV, Location
from refusals.benchmark import Benchmark
from refusals.models import Refusal
from refusals.outcomes import Cell, Outcomes
from refusals.statistics import Filters, Period, Statistics

# Field separators per language (the list separator of that language's spreadsheet convention).
CSV_DELIMITERS = {"nl": ";"}
DATE_FORMATS = {"nl": "dd-mm-yyyy"}  # Excel number formats; others get ISO 8601
HOURS_FORMAT = "0.0"
COUNT_FORMAT = "0"


@dataclass
class Table:
    title: str
    header: list[str]
    rows: list[list[Any]] = field(default_factory=list)


def tables(stats: Statistics) -> list[Table]:
    """What the page shows: an overview (period, filters, totals), then one table per chart."""
    period = stats.period
    overview = Table(
        _("Overview"),
        [_("Field"), _("Value")],
        [
            *_scope(stats.region.name, period, stats.filters),
            # A running period says so, and what it is compared with (docs/refusals.md, "Honest periods").
            *([[_("Provisional"), f"{stats.days_done} / {period.days}"]] if stats.provisional else []),
            [_("Refusals"), stats.total],
            [_("Previous period"), stats.compared.title if stats.compared else ""],
            [_("Refusals in the previous period"), stats.previous_total],
            [_("A year earlier"), stats.year_earlier.title if stats.year_earlier else ""],
            [_("Refusals a year earlier"), stats.year_earlier_total],
            [_("While the board showed room"), stats.board_showed_room],
        ],
    )
    return [
        overview,
        Table(
            _("Per location"),
            [_("Location"), _("Refusals"), _("While the board showed room")],
            [[r["name"], r["count"], r["room"]] for r in stats.per_location],
        ),
        Table(
            _("Per VSV"),
            [_("VSV"), _("Refusals"), _("While the board showed room")],
            [[r["name"], r["count"], r["room"]] for r in stats.per_vsv],
        ),
        Table(_("Per reason"), [_("Reason"), _("Refusals")], [[r["name"], r["count"]] for r in stats.per_reason]),
        Table(
            _("Per care type"), [_("Care type"), _("Refusals")], [[r["name"], r["count"]] for r in stats.per_care_type]
        ),
        Table(
            _("Weekday and hour"),
            [_("Weekday"), *[f"{h:02d}" for h in range(24)], _("Total")],
            [[str(row["label"]), *row["counts"], row["total"]] for row in stats.heatmap],
        ),
        Table(
            _("Admission stops"),
            [_("Location"), _("Admission stops started"), _("Hours in admission stop")],
            [[r["name"], r["count"], float(r["hours"])] for r in stats.stops],
        ),
    ]


def _scope(region: str, period: Period, f: Filters) -> list[list[Any]]:
    """The first rows of every overview sheet: region, period (real dates) and the filters in words."""
    location = Location.objects.filter(pk=f.location_id).values_list("name", flat=True).first() if f.location_id else ""
    vsv = VSV.objects.filter(pk=f.vsv_id).values_list("name", flat=True).first() if f.vsv_id else ""
    return [
        [_("Region"), region],
        [_("Period"), period.label],
        [_("From"), period.start],
        [_("To"), period.last_day],
        [_("Location"), location or ""],
        [_("VSV"), vsv or ""],
        [_("Reason"), str(dict(Refusal.Reason.choices).get(f.reason, ""))],
        [_("Care type"), str(dict(Refusal.CareType.choices).get(f.care_type, ""))],
    ]


def _language() -> str:
    return (get_language() or "nl").split("-")[0]


def _csv_cell(value: Any) -> str:
    if isinstance(value, float):
        return formats.number_format(value, decimal_pos=1, use_l10n=True)
    if isinstance(value, date):
        return value.isoformat()  # Excel reads ISO 8601 dates in every language
    return str(value)


def tables_to_csv(sheets: list[Table]) -> str:
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, delimiter=CSV_DELIMITERS.get(_language(), ","))
    for i, table in enumerate(sheets):
        if i:
            writer.writerow([])
        writer.writerow([table.title])
        writer.writerow(table.header)
        writer.writerows([_csv_cell(value) for value in row] for row in table.rows)
    return out.getvalue()


def _sheet_title(title: str) -> str:
    return re.sub(r"[\[\]:*?/\\]", " ", title)[:31]


def tables_to_xlsx(sheets: list[Table]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)
    date_format = DATE_FORMATS.get(_language(), "yyyy-mm-dd")
    for table in sheets:
        sheet = book.create_sheet(_sheet_title(table.title))
        sheet.append(table.header)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in table.rows:
            sheet.append(row)
            for cell in sheet[sheet.max_row]:
                if isinstance(cell.value, date):
                    cell.number_format = date_format
                elif isinstance(cell.value, float):
                    cell.number_format = HOURS_FORMAT
                elif isinstance(cell.value, int):
                    cell.number_format = COUNT_FORMAT
        sheet.freeze_panes = "A2"
        sheet.column_dimensions["A"].width = 40
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def outcome_tables(result: Outcomes) -> list[Table]:
    """The outcomes page as tables; suppressed cells are the text "<5" (docs/refusals.md, "Outcomes")."""
    overview = Table(
        _("Overview"),
        [_("Field"), _("Value")],
        [
            *_scope(result.region.name, result.period, result.filters),
            [_("Refusals"), result.total.value],
            *([[_("Small numbers"), _("counts under 5 are shown as <5")]] if result.suppressed else []),
        ],
    )

    def simple(title: str, head: str, cells: list[Cell]) -> Table:
        return Table(title, [head, _("Refusals")], [[c.name, c.value] for c in cells])

    return [
        overview,
        simple(_("Where the client went"), _("Where the client went"), result.where),
        simple(_("Hospitals called"), _("Hospitals called in all"), result.called),
        Table(
            _("Gestational age and care type"),
            [_("Gestational age"), *[name for _k, name in result.care_types], _("Total")],
            [[row.name, *[c.value for c in row.cells], row.total.value] for row in result.ga],
        ),
        simple(_("Kind of referral"), _("Practice and refusing location"), result.referral),
        simple(_("Distance"), _("Practice to refusing location"), result.distance),
    ]


def benchmark_tables(result: Benchmark) -> list[Table]:
    """The region benchmark as tables: small counts suppressed as "<5" in every row (exports travel)."""
    period = result.period

    def num(value: float | None) -> float | str:
        return "" if value is None else float(value)

    rows = []
    for r in [*result.rows, *([result.national] if result.national else [])]:
        rows.append(
            [
                r.name or _("The Netherlands (all regions)"),
                r.refusals.value,
                r.room.value,
                num(r.room_share),
                float(r.bed_days),
                num(r.per_100_bed_days),
                "" if r.births is None else r.births,
                num(r.per_1000_births),
                r.stops,
                float(r.stop_hours),
            ]
        )
    return [
        Table(
            _("Overview"),
            [_("Field"), _("Value")],
            [
                [_("Period"), period.label],
                [_("From"), period.start],
                [_("To"), period.last_day],
                [_("Small numbers"), _("counts under 5 are shown as <5")],
                [_("Births"), "; ".join(result.births_sources) or _("no births file loaded")],
            ],
        ),
        Table(
            _("Regions"),
            [
                _("Region"),
                _("Refusals"),
                _("While the board showed room"),
                _("Share while the board showed room (%)"),
                _("Staffed bed-days"),
                _("Refusals per 100 staffed bed-days"),
                _("Births"),
                _("Refusals per 1,000 births"),
                _("Admission stops started"),
                _("Unit-hours in admission stop"),
            ],
            rows,
        ),
    ]
