"""The reference data: ROAZ regions, obstetric locations and PC4 postcodes from the CSV files in hospitals/data.

Parsing checks every row before anything is written. Loading is idempotent: regions,
organisations and locations are matched on their stable keys (code, name, slug) and
updated; postcodes are replaced by the file's (matched on pc4). Units are not reference
data of this app: the ``load_reference_data`` command (capacity) creates them from the
bed columns. See hospitals/data/SOURCE.md and hospitals/data/nl_pc4.SOURCE.md.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from hospitals.models import Location, Organisation, Postcode, Region


class ReferenceDataError(ValueError):
    """A reference-data file cannot be loaded; the message names the file, line and problem."""


# The Netherlands with a small margin: catches swapped or mistyped coordinates.
LATITUDE_RANGE = (50.7, 53.6)
LONGITUDE_RANGE = (3.3, 7.3)
MAX_BEDS = 100

REGION_COLUMNS = ("code", "name", "lead_hospital")
# Beds per unit kind (the unit kinds of capacity.models.Unit, by value: the loader there creates them).
BED_COLUMNS: dict[str, str] = {
    "delivery_suite": "beds_delivery_suite",
    "birth_centre": "beds_birth_centre",
    "nicu": "beds_nicu",
    "high_care": "beds_high_care",
    "medium_care": "beds_medium_care",
}
LOCATION_COLUMNS = (
    "slug",
    "name",
    "organisation",
    "city",
    "pc4",
    "lat",
    "lon",
    "roaz_region",
    "acute_obstetrics_24_7",
    "nicu",
    "kind",
    "neonatal_level",
    "source",
    *BED_COLUMNS.values(),
)
# A neonatal unit cannot exist below the location's neonatal level.
NEONATAL_UNIT_LEVEL: dict[str, int] = {
    "nicu": Location.NeonatalLevel.NICU,
    "high_care": Location.NeonatalLevel.HIGH_CARE,
    "medium_care": Location.NeonatalLevel.MEDIUM_CARE,
}
POSTCODE_COLUMNS = ("pc4", "place", "municipality", "province", "lat", "lon")
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
PC4_RE = re.compile(r"^[1-9][0-9]{3}$")


@dataclass(frozen=True)
class RegionRow:
    code: str
    name: str
    lead_hospital: str


@dataclass(frozen=True)
class LocationRow:
    slug: str
    name: str
    organisation: str
    region_name: str
    kind: str
    city: str
    pc4: str
    latitude: float
    longitude: float
    acute_obstetrics: bool
    neonatal_level: int
    source: str
    beds: dict[str, int]

    @property
    def active(self) -> bool:
        # Closed delivery wards stay in the data so closures remain visible, but they
        # take no clients; a stand-alone birth centre is open without 24/7 obstetrics.
        return self.acute_obstetrics or self.kind == Location.Kind.BIRTH_CENTRE


class RowError(Exception):
    """A bad value in one CSV row; the caller adds the file and line."""


def _read_csv(path: Path, required: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """Rows with their line number in the file (the header is line 1)."""
    if not path.is_file():
        raise ReferenceDataError(f"{path}: file not found")
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [column for column in required if column not in (reader.fieldnames or [])]
        if missing:
            raise ReferenceDataError(f"{path.name}: missing columns {', '.join(missing)}")
        return [(line, row) for line, row in enumerate(reader, start=2)]


def _text(row: dict[str, str], column: str, *, required: bool = True) -> str:
    value = (row.get(column) or "").strip()
    if required and not value:
        raise RowError(f"{column} is empty")
    return value


def _yes_no(row: dict[str, str], column: str) -> bool:
    value = _text(row, column)
    if value not in ("yes", "no"):
        raise RowError(f"{column} must be yes or no, not {value!r}")
    return value == "yes"


def _int(row: dict[str, str], column: str, low: int, high: int) -> int:
    value = _text(row, column)
    try:
        number = int(value)
    except ValueError:
        raise RowError(f"{column} is not a whole number: {value!r}") from None
    if not low <= number <= high:
        raise RowError(f"{column} must be between {low} and {high}, not {number}")
    return number


def _coordinate(row: dict[str, str], column: str, bounds: tuple[float, float]) -> float:
    value = _text(row, column)
    try:
        number = float(value)
    except ValueError:
        raise RowError(f"{column} is not a number: {value!r}") from None
    if not bounds[0] <= number <= bounds[1]:
        raise RowError(f"{column} {number} lies outside the Netherlands ({bounds[0]}–{bounds[1]})")
    return number


def parse_regions(path: Path) -> list[RegionRow]:
    regions: list[RegionRow] = []
    codes: set[str] = set()
    names: set[str] = set()
    for line, row in _read_csv(path, REGION_COLUMNS):
        try:
            region = RegionRow(
                code=_text(row, "code"),
                name=_text(row, "name"),
                lead_hospital=_text(row, "lead_hospital", required=False),
            )
            if not SLUG_RE.match(region.code):
                raise RowError(f"code {region.code!r} is not a lower-case slug")
            if region.code in codes or region.name in names:
                raise RowError(f"region {region.code!r} / {region.name!r} appears twice")
        except RowError as error:
            raise ReferenceDataError(f"{path.name} line {line}: {error}") from None
        codes.add(region.code)
        names.add(region.name)
        regions.append(region)
    return regions


def _location(row: dict[str, str], region_names: set[str]) -> LocationRow:
    slug = _text(row, "slug")
    if not SLUG_RE.match(slug):
        raise RowError(f"slug {slug!r} is not a lower-case slug")
    region_name = _text(row, "roaz_region")
    if region_name not in region_names:
        raise RowError(f"unknown region {region_name!r}")
    kind = _text(row, "kind")
    if kind not in Location.Kind.values:
        raise RowError(f"kind must be one of {', '.join(Location.Kind.values)}, not {kind!r}")
    pc4 = _text(row, "pc4", required=False)
    if pc4 and not PC4_RE.match(pc4):
        raise RowError(f"pc4 must be four digits, not {pc4!r}")
    level = _int(row, "neonatal_level", Location.NeonatalLevel.NONE, Location.NeonatalLevel.NICU)
    if _yes_no(row, "nicu") != (level == Location.NeonatalLevel.NICU):
        raise RowError("nicu = yes and neonatal_level = 3 must go together")
    beds = {kind_: _int(row, column, 0, MAX_BEDS) for kind_, column in BED_COLUMNS.items()}
    for unit_kind, min_level in NEONATAL_UNIT_LEVEL.items():
        if beds[unit_kind] and level < min_level:
            raise RowError(f"{BED_COLUMNS[unit_kind]} > 0 needs neonatal_level {min_level} or higher")
    if level == Location.NeonatalLevel.NICU and not beds["nicu"]:
        raise RowError("a NICU site needs beds_nicu > 0")
    return LocationRow(
        slug=slug,
        name=_text(row, "name"),
        organisation=_text(row, "organisation"),
        region_name=region_name,
        kind=kind,
        city=_text(row, "city"),
        pc4=pc4,
        latitude=_coordinate(row, "lat", LATITUDE_RANGE),
        longitude=_coordinate(row, "lon", LONGITUDE_RANGE),
        acute_obstetrics=_yes_no(row, "acute_obstetrics_24_7"),
        neonatal_level=level,
        source=_text(row, "source", required=False),
        beds=beds,
    )


def parse_locations(path: Path, region_names: set[str]) -> list[LocationRow]:
    locations: list[LocationRow] = []
    slugs: set[str] = set()
    for line, row in _read_csv(path, LOCATION_COLUMNS):
        try:
            location = _location(row, region_names)
            if location.slug in slugs:
                raise RowError(f"slug {location.slug!r} appears twice")
        except RowError as error:
            raise ReferenceDataError(f"{path.name} line {line}: {error}") from None
        slugs.add(location.slug)
        locations.append(location)
    return locations


@dataclass(frozen=True)
class PostcodeRow:
    pc4: str
    place: str
    municipality: str
    province: str
    latitude: float
    longitude: float


def parse_postcodes(path: Path) -> list[PostcodeRow]:
    postcodes: list[PostcodeRow] = []
    seen: set[str] = set()
    for line, row in _read_csv(path, POSTCODE_COLUMNS):
        try:
            postcode = PostcodeRow(
                pc4=_text(row, "pc4"),
                place=_text(row, "place"),
                municipality=_text(row, "municipality"),
                province=_text(row, "province"),
                latitude=_coordinate(row, "lat", LATITUDE_RANGE),
                longitude=_coordinate(row, "lon", LONGITUDE_RANGE),
            )
            if not PC4_RE.match(postcode.pc4):
                raise RowError(f"pc4 must be four digits, not {postcode.pc4!r}")
            if postcode.pc4 in seen:
                raise RowError(f"pc4 {postcode.pc4} appears twice")
        except RowError as error:
            raise ReferenceDataError(f"{path.name} line {line}: {error}") from None
        seen.add(postcode.pc4)
        postcodes.append(postcode)
    if not postcodes:
        raise ReferenceDataError(f"{path.name}: no postcodes")
    return postcodes


def load_postcodes(rows: list[PostcodeRow]) -> None:
    """Make the table equal to the file: insert or update every row, drop postcodes no longer in it."""
    Postcode.objects.bulk_create(
        [
            Postcode(
                pc4=row.pc4,
                place=row.place,
                municipality=row.municipality,
                province=row.province,
                latitude=row.latitude,
                longitude=row.longitude,
            )
            for row in rows
        ],
        update_conflicts=True,
        unique_fields=["pc4"],
        update_fields=["place", "municipality", "province", "latitude", "longitude"],
        batch_size=1000,
    )
    Postcode.objects.exclude(pc4__in=[row.pc4 for row in rows]).delete()


@dataclass(frozen=True)
class ReferenceData:
    regions: list[RegionRow]
    locations: list[LocationRow]
    postcodes: list[PostcodeRow]


def parse(data_dir: Path) -> ReferenceData:
    """Read and check all three files; raises ReferenceDataError before anything is written."""
    regions = parse_regions(data_dir / "regions.csv")
    locations = parse_locations(data_dir / "locations.csv", {region.name for region in regions})
    return ReferenceData(regions, locations, parse_postcodes(data_dir / "nl_pc4.csv"))


def load(data: ReferenceData) -> list[tuple[Location, LocationRow]]:
    """Write regions, organisations, locations and postcodes (inside the caller's transaction).

    Returns each location with its row, for the caller to create the units the row lists.
    """
    regions: dict[str, Region] = {}
    for region_row in data.regions:
        regions[region_row.name], _ = Region.objects.update_or_create(
            code=region_row.code,
            defaults={"name": region_row.name, "lead_hospital": region_row.lead_hospital},
        )
    organisations: dict[str, Organisation] = {}
    loaded: list[tuple[Location, LocationRow]] = []
    for row in data.locations:
        region = regions[row.region_name]
        organisation = organisations.get(row.organisation)
        if organisation is None:
            # An organisation takes its kind and region from its first location.
            organisation, _ = Organisation.objects.update_or_create(
                name=row.organisation,
                defaults={
                    "kind": (
                        Organisation.Kind.BIRTH_CENTRE
                        if row.kind == Location.Kind.BIRTH_CENTRE
                        else Organisation.Kind.HOSPITAL
                    ),
                    "region": region,
                },
            )
            organisations[row.organisation] = organisation
        location, _ = Location.objects.update_or_create(
            slug=row.slug,
            defaults={
                "name": row.name,
                "organisation": organisation,
                "region": region,
                "kind": row.kind,
                "city": row.city,
                "pc4": row.pc4,
                "latitude": row.latitude,
                "longitude": row.longitude,
                "acute_obstetrics": row.acute_obstetrics,
                "neonatal_level": row.neonatal_level,
                "source": row.source,
                "active": row.active,
            },
        )
        loaded.append((location, row))
    load_postcodes(data.postcodes)
    return loaded
