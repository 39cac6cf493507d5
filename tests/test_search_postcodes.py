"""PC4 postcodes in load_reference_data: the origin of every capacity search (hospitals/data/nl_pc4.csv)."""

from __future__ import annotations

import csv
import shutil
from io import StringIO
from pathlib import Path

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError

from hospitals.models import Location, Postcode

DATA_DIR = Path(apps.get_app_config("hospitals").path) / "data"
POSTCODES = 4064  # nl_pc4.SOURCE.md

pytestmark = pytest.mark.django_db


def load(data_dir: Path = DATA_DIR) -> str:
    out = StringIO()
    call_command("load_reference_data", "--data-dir", str(data_dir), stdout=out)
    return out.getvalue()


def copy_data(tmp_path: Path, change: dict[str, dict[str, str]] | None = None, drop: str = "") -> Path:
    for name in ("regions.csv", "locations.csv"):
        shutil.copy(DATA_DIR / name, tmp_path / name)
    with (DATA_DIR / "nl_pc4.csv").open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        fieldnames = list(reader.fieldnames or [])
        rows = [row for row in reader if row["pc4"] != drop]
    for row in rows:
        row.update((change or {}).get(row["pc4"], {}))
    with (tmp_path / "nl_pc4.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fieldnames)
        writer.writeheader()
        writer.writerows(rows)
    return tmp_path


def test_loads_every_postcode_with_the_spot_checks_of_the_source_notes() -> None:
    assert f"{POSTCODES} postcodes" in load()
    assert Postcode.objects.count() == POSTCODES
    for pc4, lat, lon in [("1012", 52.3735, 4.8951), ("3584", 52.0851, 5.1615), ("6229", 50.8298, 5.7082)]:
        postcode = Postcode.objects.get(pk=pc4)
        assert (postcode.latitude, postcode.longitude) == (lat, lon)
    assert Postcode.objects.get(pk="5386").place == "Geffen"  # picked by the address centroid, not Oss


def test_every_location_postcode_is_a_known_area() -> None:
    load()
    unknown = set(Location.objects.exclude(pc4="").values_list("pc4", flat=True)) - set(
        Postcode.objects.values_list("pc4", flat=True)
    )
    assert unknown == set()


def test_second_run_puts_the_file_back(tmp_path: Path) -> None:
    load()
    Postcode.objects.filter(pk="3584").update(place="Elders", latitude=52.5)
    Postcode.objects.create(pk="1000", place="Postbus", municipality="X", province="Y", latitude=52, longitude=5)

    load()

    assert Postcode.objects.count() == POSTCODES
    assert Postcode.objects.get(pk="3584").place == "Utrecht"
    assert not Postcode.objects.filter(pk="1000").exists()
    # A postcode dropped from the file is dropped from the table.
    load(copy_data(tmp_path, drop="3584"))
    assert Postcode.objects.count() == POSTCODES - 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"1012": {"lat": "48.1"}}, r"nl_pc4\.csv line 3: lat 48\.1 lies outside the Netherlands"),
        ({"1012": {"pc4": "1011"}}, r"nl_pc4\.csv line 3: pc4 1011 appears twice"),
        ({"1012": {"pc4": "012"}}, r"nl_pc4\.csv line 3: pc4 must be four digits"),
        ({"1012": {"place": " "}}, r"nl_pc4\.csv line 3: place is empty"),
    ],
)
def test_a_bad_row_stops_the_load_with_its_line_and_writes_nothing(
    tmp_path: Path, change: dict[str, dict[str, str]], message: str
) -> None:
    with pytest.raises(CommandError, match=message):
        load(copy_data(tmp_path, change))
    assert not Postcode.objects.exists()
    assert not Location.objects.exists()
