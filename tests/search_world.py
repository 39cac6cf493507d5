"""A small map for the capacity-search tests: postcodes and locations at known distances and levels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from capacity.models import Unit
from hospitals.models import Location, Organisation, Postcode, Region


@dataclass
class SearchWorld:
    region: Region
    other_region: Region
    nicu: Location  # NICU centre, in region, 8 km from the origin
    high_care: Location  # high care, in region, 4 km
    medium_care: Location  # medium care only, in region, 2 km
    with_birth_centre: Location  # medium care + a birth centre on site, in region, 12 km
    birth_centre: Location  # stand-alone birth centre, in region, 1 km
    no_neonatal: Location  # delivery suite without neonatology, in region, 20 km
    far_nicu: Location  # NICU centre in the other region, 50 km

    def units(self, location: Location) -> dict[str, Unit]:
        return {u.kind: u for u in Unit.objects.filter(location=location)}


# Origin: postcode 3731 (De Bilt). One degree of latitude is ~111.2 km, so locations due
# north of it lie at the given distance.
ORIGIN = (52.11, 5.18)


def _north(km: float) -> tuple[float, float]:
    return ORIGIN[0] + km / 111.195, ORIGIN[1]


def make_postcodes() -> None:
    rows = [
        ("3731", "De Bilt", "De Bilt", "Utrecht", 52.11, 5.18),
        ("3584", "Utrecht", "Utrecht", "Utrecht", 52.0851, 5.1615),
        ("3511", "Utrecht", "Utrecht", "Utrecht", 52.0927, 5.1155),
        ("2333", "Leiden", "Leiden", "Zuid-Holland", 52.166, 4.478),
        ("7551", "Hengelo", "Hengelo", "Overijssel", 52.2658, 6.7931),
        ("7255", "Hengelo", "Bronckhorst", "Gelderland", 52.05, 6.31),
        ("7256", "Hengelo (Gld)", "Bronckhorst", "Gelderland", 52.06, 6.30),
    ]
    Postcode.objects.bulk_create(
        [
            Postcode(pc4=pc4, place=place, municipality=mun, province=prov, latitude=lat, longitude=lon)
            for pc4, place, mun, prov, lat, lon in rows
        ]
    )


def make_search_world(region: Region | None = None, other_region: Region | None = None) -> SearchWorld:
    make_postcodes()
    region = region or Region.objects.create(code="midden", name="Midden-Nederland")
    other_region = other_region or Region.objects.create(code="west", name="ROAZ West")
    org = Organisation.objects.create(name="Search test hospitals", kind=Organisation.Kind.HOSPITAL, region=region)

    def loc(
        slug: str, km: float, level: int, units: dict[str, tuple[int, int]], in_region: Region = region, **extra: Any
    ) -> Location:
        lat, lon = _north(km)
        location = Location.objects.create(
            slug=slug,
            name=f"Search {slug}",
            organisation=org,
            region=in_region,
            city="Testdorp",
            latitude=lat,
            longitude=lon,
            neonatal_level=level,
            **extra,
        )
        for kind, (total, available) in units.items():
            Unit.objects.create(location=location, kind=kind, staffed_total=total, available=available)
        return location

    K = Unit.Kind
    return SearchWorld(
        region=region,
        other_region=other_region,
        nicu=loc(
            "s-nicu", 8, 3, {K.DELIVERY_SUITE: (10, 3), K.NICU: (20, 2), K.HIGH_CARE: (8, 2), K.MEDIUM_CARE: (10, 2)}
        ),
        high_care=loc("s-high", 4, 2, {K.DELIVERY_SUITE: (8, 2), K.HIGH_CARE: (6, 2), K.MEDIUM_CARE: (8, 2)}),
        medium_care=loc("s-medium", 2, 1, {K.DELIVERY_SUITE: (6, 2), K.MEDIUM_CARE: (6, 2)}),
        with_birth_centre=loc(
            "s-bc-hospital", 12, 1, {K.DELIVERY_SUITE: (6, 2), K.BIRTH_CENTRE: (4, 2), K.MEDIUM_CARE: (6, 2)}
        ),
        birth_centre=loc(
            "s-birth-centre",
            1,
            0,
            {K.BIRTH_CENTRE: (4, 2)},
            kind=Location.Kind.BIRTH_CENTRE,
            acute_obstetrics=False,
        ),
        no_neonatal=loc("s-no-neo", 20, 0, {K.DELIVERY_SUITE: (4, 2)}),
        far_nicu=loc("s-far-nicu", 50, 3, {K.DELIVERY_SUITE: (10, 3), K.NICU: (20, 2)}, in_region=other_region),
    )
