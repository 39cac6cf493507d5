"""manage.py load_births: births per region and year with a source, all rows or none."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from hospitals.models import RegionBirths
from tests.conftest import World

pytestmark = pytest.mark.django_db


def load(tmp_path: Path, text: str) -> str:
    path = tmp_path / "births.csv"
    path.write_text(text, encoding="utf-8")
    out = StringIO()
    call_command("load_births", str(path), stdout=out)
    return out.getvalue()


def test_loads_and_replaces_by_region_and_year(world: World, tmp_path: Path) -> None:
    load(tmp_path, "region,year,births,source\nmidden,2025,21000,CBS table A\nROAZ West,2025,30000,CBS table A\n")
    assert RegionBirths.objects.count() == 2
    load(tmp_path, "region;year;births;source\nmidden;2025;21.500;CBS table B\n")  # Dutch Excel: semicolons
    row = RegionBirths.objects.get(region=world.region, year=2025)
    assert (row.births, row.source) == (21500, "CBS table B")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("region,year,births\nmidden,2025,21000\n", "missing column(s) source"),
        ("region,year,births,source\nmidden,2025,21000,\n", "line 3: no source"),
        ("region,year,births,source\nnowhere,2025,21000,CBS\n", "unknown region"),
        ("region,year,births,source\nmidden,1890,21000,CBS\n", "year '1890'"),
        ("region,year,births,source\nmidden,2025,-4,CBS\n", "births '-4'"),
        ("region,year,births,source\nmidden,2025,1,CBS\nmidden,2025,2,CBS\n", "line 4: midden 2025 appears twice"),
    ],
)
def test_bad_files_load_nothing_and_say_why(world: World, tmp_path: Path, text: str, message: str) -> None:
    good = "region,year,births,source\nwest,2024,30000,CBS\n"  # a good first row: still nothing is loaded
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load(tmp_path, good + text.split("\n", 1)[1] if "source" in text.split("\n", 1)[0] else text)
    assert not RegionBirths.objects.exists()
