"""The load_reference_data management command and the data files it reads."""

from __future__ import annotations

import csv
import shutil
from io import StringIO
from pathlib import Path

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError

from capacity.models import Unit
from hospitals.models import Location, Organisation, Region

DATA_DIR = Path(apps.get_app_config("hospitals").path) / "data"

# Counts of the versioned data files (hospitals/data/SOURCE.md).
REGIONS = 10
LOCATIONS = 79
ACTIVE_LOCATIONS = 74  # 73 hospital sites with 24/7 obstetrics + 1 stand-alone birth centre
NICU_SITES = 9
UNITS = 198


def load(data_dir: Path = DATA_DIR) -> str:
    out = StringIO()
    call_command("load_reference_data", "--data-dir", str(data_dir), stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_loads_regions_locations_and_units() -> None:
    output = load()

    assert f"{REGIONS} regions, {LOCATIONS} locations, {UNITS} units created" in output
    assert Region.objects.count() == REGIONS
    assert Location.objects.count() == LOCATIONS
    assert Location.objects.filter(active=True).count() == ACTIVE_LOCATIONS
    assert Unit.objects.count() == UNITS

    nicu_sites = Location.objects.filter(neonatal_level=Location.NeonatalLevel.NICU)
    assert nicu_sites.count() == NICU_SITES
    for site in nicu_sites:
        assert site.units.filter(kind=Unit.Kind.NICU).exists(), site.slug

    # Closed delivery wards are kept, inactive and without units.
    vumc = Location.objects.get(slug="amsterdam-umc-locatie-vumc")
    assert (vumc.active, vumc.acute_obstetrics, vumc.units.count()) == (False, False, 0)

    birth_centre = Location.objects.get(slug="bevalcentrum-zuid")
    assert birth_centre.kind == Location.Kind.BIRTH_CENTRE
    assert birth_centre.organisation.kind == Organisation.Kind.BIRTH_CENTRE
    assert list(birth_centre.units.values_list("kind", flat=True)) == [Unit.Kind.BIRTH_CENTRE]

    # Known sizes from domain.md; a new unit starts half full and open.
    mumc = {unit.kind: unit for unit in Unit.objects.filter(location__slug="mumc")}
    assert {kind: unit.staffed_total for kind, unit in mumc.items() if kind != Unit.Kind.DELIVERY_SUITE} == {
        Unit.Kind.NICU: 13,
        Unit.Kind.HIGH_CARE: 4,
        Unit.Kind.MEDIUM_CARE: 10,
    }
    assert (mumc[Unit.Kind.NICU].available, mumc[Unit.Kind.NICU].status) == (6, Unit.Status.OPEN)
    assert Unit.objects.get(location__slug="umc-utrecht-wkz", kind=Unit.Kind.NICU).staffed_total == 24


@pytest.mark.django_db
def test_second_run_creates_nothing_and_keeps_live_figures() -> None:
    load()
    unit = Unit.objects.get(location__slug="umcg", kind=Unit.Kind.DELIVERY_SUITE)
    Unit.objects.filter(pk=unit.pk).update(available=1, status=Unit.Status.LIMITED)

    output = load()

    assert f"{REGIONS} regions, {LOCATIONS} locations, 0 units created" in output
    assert Region.objects.count() == REGIONS
    assert Location.objects.count() == LOCATIONS
    assert Unit.objects.count() == UNITS
    unit.refresh_from_db()
    assert (unit.available, unit.status) == (1, Unit.Status.LIMITED)


def _copy_with_change(tmp_path: Path, slug: str, column: str, value: str) -> Path:
    shutil.copy(DATA_DIR / "regions.csv", tmp_path / "regions.csv")
    with (DATA_DIR / "locations.csv").open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        fieldnames = list(reader.fieldnames or [])
        rows = list(reader)
    for row in rows:
        if row["slug"] == slug:
            row[column] = value
    with (tmp_path / "locations.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fieldnames)
        writer.writeheader()
        writer.writerows(rows)
    return tmp_path


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        (
            "roaz_region",
            "Acute Zorgregio Atlantis",
            r"locations\.csv line 3: unknown region 'Acute Zorgregio Atlantis'",
        ),
        ("lat", "5.2", r"locations\.csv line 3: lat 5\.2 lies outside the Netherlands"),
        ("slug", "umcg", r"locations\.csv line 3: slug 'umcg' appears twice"),
        ("beds_nicu", "8", r"locations\.csv line 3: beds_nicu > 0 needs neonatal_level 3"),
    ],
)
def test_invalid_row_raises_with_line_and_writes_nothing(tmp_path: Path, column: str, value: str, message: str) -> None:
    # Line 3 is the second data row: Martini Ziekenhuis.
    data_dir = _copy_with_change(tmp_path, "martini-ziekenhuis-groningen", column, value)

    with pytest.raises(CommandError, match=message):
        load(data_dir)

    assert not Region.objects.exists()
    assert not Location.objects.exists()
