"""Reads for the hospitals app's own pages."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from channels.db import database_sync_to_async
from django.db.models import OuterRef, QuerySet, Subquery

from core.geo import distance_km
from hospitals.models import Location, LocationPhoneChange, Organisation, Postcode, Region
from hospitals.permissions import phone_locations


def phone_book(user: Any) -> QuerySet[Location]:
    """The locations whose delivery-suite number this user maintains, with who last changed it and when."""
    latest = LocationPhoneChange.objects.filter(location=OuterRef("pk")).order_by("-at", "-id")
    return (
        phone_locations(user)
        .select_related("region", "organisation")
        .annotate(
            phone_changed_at=Subquery(latest.values("at")[:1]),
            phone_changed_by=Subquery(latest.values("by__username")[:1]),
        )
        .order_by("region__name", "name")
    )


def phone_history(location: Location, *, limit: int = 20) -> QuerySet[LocationPhoneChange]:
    return LocationPhoneChange.objects.filter(location=location).select_related("by")[:limit]


class RegionCodes:
    """Region code -> id for the websockets' handshakes (``/ws/board/<code>/``), without a database
    read per socket: a reconnect storm asks it thousands of times a second.

    All regions are read at once (a dozen rows) and kept until a region is saved or deleted in this
    process (``clear``, connected in hospitals/apps.py), at most ``TTL`` seconds (a change made
    by another process). An unknown code reads them again, at most once per ``MISS_AFTER`` seconds,
    so a region just created elsewhere is found within seconds. Simultaneous reads are one read.
    """

    TTL = 60.0
    MISS_AFTER = 5.0

    def __init__(self) -> None:
        self.reads = 0
        self._ids: dict[str, int] = {}
        self._read_at = float("-inf")
        self._loading: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._cleared = 0

    def clear(self, **_signal: Any) -> None:
        self._read_at = float("-inf")
        self._cleared += 1

    async def id_for(self, code: str) -> int | None:
        age = time.monotonic() - self._read_at
        if age > self.TTL or (code not in self._ids and age > self.MISS_AFTER):
            await self._read()
        return self._ids.get(code)

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop or self._loading is None or self._loading.done():
            self._loop = loop
            self._loading = loop.create_task(self._load())
        await asyncio.shield(self._loading)

    async def _load(self) -> None:
        started, cleared = time.monotonic(), self._cleared
        self.reads += 1
        self._ids = await database_sync_to_async(lambda: dict(Region.objects.values_list("code", "id")))()
        if self._cleared == cleared:  # else a region changed during the read: read again next time
            self._read_at = started


region_codes = RegionCodes()


def practice_points(practice_ids: set[int]) -> dict[int, tuple[float, float]]:
    """{practice id: (latitude, longitude)} of the centroid of each practice's postcode, where known."""
    pc4_of = dict(Organisation.objects.filter(pk__in=practice_ids).exclude(pc4="").values_list("pk", "pc4"))
    centroid = {
        pc4: (lat, lon)
        for pc4, lat, lon in Postcode.objects.filter(pc4__in=set(pc4_of.values())).values_list(
            "pc4", "latitude", "longitude"
        )
    }
    return {pk: centroid[pc4] for pk, pc4 in pc4_of.items() if pc4 in centroid}


def practice_vsv_ids(practice_ids: set[int], *, points: dict[int, tuple[float, float]] | None = None) -> dict[int, int]:
    """{practice id: VSV id} for these midwifery practices (docs/refusals.md, "VSV").

    A practice's VSV is the one its organisation administrator set; until then, the VSV of the
    nearest location with a VSV in the practice's region, measured from the practice's postcode
    centroid (``points``, from ``practice_points`` when not given). A practice with neither has none.
    """
    out: dict[int, int] = {}
    unset: dict[int, int] = {}  # practice id: region id
    for pk, vsv_id, region_id in Organisation.objects.filter(pk__in=practice_ids).values_list(
        "pk", "vsv_id", "region_id"
    ):
        if vsv_id:
            out[pk] = vsv_id
        else:
            unset[pk] = region_id
    if not unset:
        return out
    if points is None:
        points = practice_points(set(unset))
    candidates: dict[int, list[tuple[float, float, int]]] = {}
    for region_id, lat, lon, vsv_id in Location.objects.filter(
        region_id__in=set(unset.values()), vsv__isnull=False, active=True
    ).values_list("region_id", "latitude", "longitude", "vsv_id"):
        candidates.setdefault(region_id, []).append((lat, lon, vsv_id))
    for pk, region_id in unset.items():
        point, places = points.get(pk), candidates.get(region_id)
        if point and places:
            out[pk] = min(places, key=lambda c: distance_km(point[0], point[1], c[0], c[1]))[2]
    return out
