"""Generate realistic synthetic refusals (and optionally admission-stop history) for demos and benchmarks.

Assumptions (documented, not measured):

* About 165,000 births a year in the Netherlands (CBS 2023: 164,487), about 70% of them in
  hospital; a refusal is registered for a few percent of those (default 4%), i.e. about
  4,600 refusals a year nationally. ``--total`` overrides this (the benchmark asks for
  1,000,000 over ten years).
* Births per region follow a rough population share of each ROAZ region (``BIRTH_SHARE``
  below, from the provinces' populations); a region not in that table is weighted by its
  number of locations. Within a region, a location's weight is its rooms (a hospital's
  delivery-suite beds, a birth centre's birth-centre rooms) times a per-location factor drawn
  from a seeded log-normal RNG, so some hospitals refuse far more than others.
* Birth centres: a location without 24/7 obstetrics (or of kind birth centre) that has a
  birth-centre unit is one (``Unit.obstetric_filter``), weighted by its rooms like a hospital
  by its beds: a room is a room, whoever leads the birth. It is asked, and refuses, only what
  a birth centre takes (search.selectors.requirement_for): begeleiding at term, from the
  care-level rules' term threshold (default 37 weeks) to 41 weeks (from 42 weeks care passes
  to the hospital). Its reasons are a full house, no staff, an admission stop or other, never
  "no neonatal bed". With the reference data the one stand-alone centre, Bevalcentrum Zuid,
  has 3 of the 111 rooms of Noord-Holland/Flevoland (18.5% of births): about 0.5% of the
  refusals nationally before its per-location factor, 0.28% (some 13 of the 4,600 a year)
  with the factor the default seed draws; other seeds give 0.24-0.89%. A birth centre inside
  a hospital is that hospital's location and counts there. Clients a birth centre cannot
  take (overdracht, preterm, post-term) are never sent on to one.
* More refusals at night (00:00-07:00) and in the evening, more in summer, a slight upward
  trend over the years (shortages grow).

Generated rows bypass ``refusals.services`` on purpose (bulk_create in batches, no per-row
validation, snapshot or Celery task) so a million rows load in minutes. They are marked:
they are registered by one synthetic midwife account per region (``synthetic-<region code>``,
unusable password, a synthetic practice per region) and their note reads "synthetic demo
data". Each refusal gets a "register" history event by that account (and a "withdraw" event
when it is withdrawn). At the end ``refusals.aggregation.rebuild()`` recomputes tallies and
rollups, so they match the refusals exactly. Synthetic capacity events carry
``"synthetic": true`` in their before/after snapshots. Current Unit rows are never changed.
"""

from __future__ import annotations

import math
import random
import time
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import accumulate
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from capacity.models import CapacityEvent, Unit
from core.time import ZONE
from hospitals.models import CareLevelRules, Location, Organisation, Region, User
from refusals import aggregation
from refusals.models import Refusal, RefusalEvent, RefusalTally
from refusals.services import refusal_state

USERNAME_PREFIX = "synthetic-"
PRACTICE_SUFFIX = " (synthetic)"
NOTE = "synthetic demo data"

BIRTHS_PER_YEAR = 165_000
HOSPITAL_SHARE = 0.70
REFUSAL_RATE = 0.04

# Rough share of births per ROAZ region, from the population of the provinces they cover.
BIRTH_SHARE = {
    "noord-nederland": 9.5,
    "zwolle": 5.5,
    "euregio": 4.0,
    "oost": 10.0,
    "midden-nederland": 10.5,
    "noord-holland-flevoland": 18.5,
    "west": 12.0,
    "zuidwest": 13.0,
    "brabant": 13.0,
    "limburg": 5.5,
}

# Relative refusal rate per local hour: high at night (00-07) and in the evening, low mid-day.
HOUR_WEIGHT = [1.7, 1.8, 1.9, 1.9, 1.8, 1.6, 1.4, 1.1, 0.8, 0.7, 0.65, 0.65,
               0.65, 0.7, 0.75, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6]  # fmt: skip
REASONS = [
    (Refusal.Reason.NO_STAFF, 38),
    (Refusal.Reason.NO_DELIVERY_ROOM, 30),
    (Refusal.Reason.ADMISSION_STOP, 15),
    (Refusal.Reason.NO_NEONATAL_BED, 7),
    (Refusal.Reason.OTHER, 10),
]
# A birth centre has no neonatal unit: it refuses when its rooms are full or its midwives and
# maternity nurses are busy (illustrative weights).
BIRTH_CENTRE_REASONS = [
    (Refusal.Reason.NO_DELIVERY_ROOM, 45),
    (Refusal.Reason.NO_STAFF, 30),
    (Refusal.Reason.ADMISSION_STOP, 15),
    (Refusal.Reason.OTHER, 10),
]
CARE_TYPES = [(Refusal.CareType.OVERDRACHT, 55), (Refusal.CareType.BEGELEIDING, 45)]
# Mostly term (37-42), a preterm tail down to 24 weeks.
WEEKS = [(w, 0.3 + (w - 24) * 0.15) for w in range(24, 37)] + [
    (37, 8), (38, 15), (39, 22), (40, 25), (41, 20), (42, 8), (43, 0.5)
]  # fmt: skip
# From 42 weeks (post-term) birth is induced in hospital: the last week a birth centre takes.
BIRTH_CENTRE_LAST_WEEK = 41
HOSPITALS_CALLED = [(1, 8), (2, 40), (3, 30), (4, 14), (5, 8)]


def _table(pairs: Sequence[tuple[Any, float]]) -> tuple[list[Any], list[float]]:
    return [v for v, _ in pairs], list(accumulate(w for _, w in pairs))


@dataclass(frozen=True)
class Asked:
    """What a kind of location is asked for and the reasons it gives, as cumulative tables."""

    reasons: list[str]
    reason_cum: list[float]
    cares: list[str]
    care_cum: list[float]
    weeks: list[int]
    week_cum: list[float]
    # Gestational ages (inclusive) at which a birth centre could take a begeleiding client instead.
    term: tuple[int, int]

    @classmethod
    def build(
        cls,
        reasons: Sequence[tuple[str, float]],
        cares: Sequence[tuple[str, float]],
        weeks: Sequence[tuple[int, float]],
        term: tuple[int, int],
    ) -> Asked:
        return cls(*_table(reasons), *_table(cares), *_table(weeks), term)

    def birth_centre_can_take(self, care: str, gestational: int | None) -> bool:
        low, high = self.term
        return care == Refusal.CareType.BEGELEIDING and (gestational is None or low <= gestational <= high)


@dataclass
class Site:
    location: Location
    weight: float
    units: list[dict[str, Any]]
    birth_centre: bool = False
    # Other locations to take her to: (location id, weight), nearby ones of the same region first;
    # ``onward_hospital`` leaves birth centres out, for clients a birth centre cannot take.
    onward: list[int] = field(default_factory=list)
    onward_cum: list[float] = field(default_factory=list)
    onward_hospital: list[int] = field(default_factory=list)
    onward_hospital_cum: list[float] = field(default_factory=list)


def _onward(site: Site, others: list[Site]) -> tuple[list[int], list[float]]:
    """Where she goes instead: the nearest four of the region, then the nearest three beyond it."""
    same = [o for o in others if o.location.region_id == site.location.region_id][:4]
    near = [o for o in others if o not in same][:3]
    pairs = [(o.location.pk, 6.0 / (i + 1)) for i, o in enumerate(same)]
    pairs += [(o.location.pk, 1.0 / (i + 1)) for i, o in enumerate(near)]
    return _table(pairs)


def _distance(a: Location, b: Location) -> float:
    dx = (a.longitude - b.longitude) * math.cos(math.radians((a.latitude + b.latitude) / 2))
    return math.hypot(dx, a.latitude - b.latitude)


class Progress:
    def __init__(self, label: str, total: int, stream: Any) -> None:
        self.label, self.total, self.stream, self.done, self.shown = label, max(total, 1), stream, 0, -1

    def add(self, n: int) -> None:
        self.done += n
        pct = min(100, self.done * 100 // self.total)
        if pct != self.shown:
            self.shown = pct
            self.stream.write(f"\r{self.label}: {pct:3d}% ({self.done:,}/{self.total:,})", ending="")
            self.stream.flush()

    def close(self) -> None:
        self.stream.write("")


class Command(BaseCommand):
    help = (__doc__ or "").split("\n\n")[0] + (
        " Default volume: 165,000 births/year x 70% in hospital x 4% refused, spread over regions by births "
        "(population share) and over locations by rooms (delivery-suite beds; a birth centre's rooms, for "
        "begeleiding at term only) x a seeded per-location factor; night/evening and summer peaks. Rows bypass "
        "the services on purpose and are marked as synthetic "
        "(accounts synthetic-<region>, note 'synthetic demo data'); rollups are rebuilt at the end."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--years", type=float, default=1.0, help="period to cover, ending now (default 1)")
        parser.add_argument("--total", type=int, default=None, help="number of refusals (default: from births)")
        parser.add_argument("--seed", type=int, default=2026)
        parser.add_argument("--batch", type=int, default=10_000, help="rows per bulk insert")
        parser.add_argument(
            "--capacity-history", action="store_true", help="also generate admission stops (capacity history)"
        )
        parser.add_argument(
            "--clear-synthetic", action="store_true", help="first remove previously generated synthetic data"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.monotonic()
        years: float = options["years"]
        if years <= 0:
            raise CommandError("--years must be positive")
        total: int = options["total"]
        if total is None:
            total = round(BIRTHS_PER_YEAR * HOSPITAL_SHARE * REFUSAL_RATE * years)
        if total < 0:
            raise CommandError("--total cannot be negative")
        batch = max(1, options["batch"])
        rng = random.Random(options["seed"])  # noqa: S311 - synthetic data, not security
        now = timezone.now()
        period_start = now - timedelta(days=round(365.25 * years))

        cleared = 0
        if options["clear_synthetic"]:
            cleared = clear_synthetic()
            self.stdout.write(f"Removed {cleared:,} synthetic refusals and their history.")

        sites = self._sites(rng)
        if not sites:
            raise CommandError("No active locations with obstetrics: run load_reference_data first")
        accounts = self._accounts({s.location.region_id for s in sites})

        refusals = self._refusals(rng, sites, accounts, total, batch, period_start, now)
        stops = 0
        if options["capacity_history"]:
            stops = self._capacity_history(rng, sites, batch, period_start, now)
        result = aggregation.rebuild()
        seconds = time.monotonic() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"Generated {refusals:,} synthetic refusals over {years:g} year(s) at {len(sites)} locations, "
                f"{stops:,} capacity events; rollups rebuilt ({result['counted']:,} counted, "
                f"{result['daily_rows']:,} daily rows); {seconds:.1f} s."
            )
        )

    # --- set-up -------------------------------------------------------------------------

    def _sites(self, rng: random.Random) -> list[Site]:
        rooms = Unit.objects.filter(location=OuterRef("pk"), kind=Unit.Kind.BIRTH_CENTRE)
        candidates = (
            Location.objects.filter(active=True)
            .filter(Q(acute_obstetrics=True) | Q(kind=Location.Kind.BIRTH_CENTRE) | Exists(rooms))
            .select_related("region")
            .order_by("pk")
        )
        units: dict[int, list[Unit]] = {}
        for unit in Unit.objects.filter(location__in=candidates).order_by("location_id", "kind"):
            units.setdefault(unit.location_id, []).append(unit)
        # A birth centre is one by kind, or a location without 24/7 obstetrics that has birth-centre
        # rooms (Unit.obstetric_filter); without rooms it is on no board and in no refusal form.
        birth_centre = {
            loc.pk: loc.kind == Location.Kind.BIRTH_CENTRE or not loc.acute_obstetrics for loc in candidates
        }
        locations = [
            loc
            for loc in candidates
            if not birth_centre[loc.pk] or any(u.kind == Unit.Kind.BIRTH_CENTRE for u in units.get(loc.pk, []))
        ]
        per_region: dict[int, list[Location]] = {}
        for loc in locations:
            per_region.setdefault(loc.region_id, []).append(loc)
        known = all(loc.region.code in BIRTH_SHARE for loc in locations)
        region_share: dict[int, float] = {}
        for region_id, locs in per_region.items():
            code = locs[0].region.code
            region_share[region_id] = BIRTH_SHARE[code] if known else float(len(locs))
        share_sum = sum(region_share.values())
        sites: list[Site] = []
        for region_id, locs in per_region.items():
            raw = []
            for loc in locs:
                kind = Unit.Kind.BIRTH_CENTRE if birth_centre[loc.pk] else Unit.Kind.DELIVERY_SUITE
                beds = next((u.staffed_total for u in units.get(loc.pk, []) if u.kind == kind), 8)
                raw.append(max(beds, 2) * rng.lognormvariate(0, 0.7))
            raw_sum = sum(raw)
            for loc, w in zip(locs, raw, strict=True):
                sites.append(
                    Site(
                        location=loc,
                        weight=region_share[region_id] / share_sum * w / raw_sum,
                        units=[
                            {"kind": u.kind, "staffed_total": u.staffed_total, "version": u.version}
                            for u in units.get(loc.pk, [])
                        ]
                        or [{"kind": Unit.Kind.DELIVERY_SUITE, "staffed_total": 8, "version": 1}],
                        birth_centre=birth_centre[loc.pk],
                    )
                )
        for site in sites:
            others = sorted((o for o in sites if o is not site), key=lambda o: _distance(site.location, o.location))
            site.onward, site.onward_cum = _onward(site, others)
            site.onward_hospital, site.onward_hospital_cum = _onward(site, [o for o in others if not o.birth_centre])
        return sites

    def _accounts(self, region_ids: set[int]) -> dict[int, tuple[int, int]]:
        """One synthetic midwife and practice per region: region id -> (user id, practice id)."""
        out: dict[int, tuple[int, int]] = {}
        with transaction.atomic():
            for region in Region.objects.filter(pk__in=region_ids):
                # Based at the postcode of the region's first location (by name), so that the
                # statistics' distance bands and VSV referral kinds have something to show.
                pc4 = (
                    Location.objects.filter(region=region, active=True)
                    .exclude(pc4="")
                    .order_by("name")
                    .values_list("pc4", flat=True)
                    .first()
                )
                practice, _ = Organisation.objects.get_or_create(
                    name=f"Verloskundigenpraktijk {region.name}{PRACTICE_SUFFIX}",
                    defaults={"kind": Organisation.Kind.MIDWIFERY_PRACTICE, "region": region, "pc4": pc4 or ""},
                )
                user = User.objects.filter(username=f"{USERNAME_PREFIX}{region.code}").first()
                if user is None:
                    user = User(username=f"{USERNAME_PREFIX}{region.code}", role=User.Role.MIDWIFE)
                    user.set_unusable_password()
                user.role, user.organisation, user.first_name = User.Role.MIDWIFE, practice, "Synthetic"
                user.save()
                out[region.pk] = (user.pk, practice.pk)
        return out

    # --- refusals -------------------------------------------------------------------------

    def _refusals(
        self,
        rng: random.Random,
        sites: list[Site],
        accounts: dict[int, tuple[int, int]],
        total: int,
        batch: int,
        start: datetime,
        now: datetime,
    ) -> int:
        site_cum = list(accumulate(s.weight for s in sites))
        # Days weighted by season (summer peak, mid-July) and a slight upward trend.
        first = start.astimezone(ZONE).date()
        last = now.astimezone(ZONE).date()
        days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        span = max(len(days), 1)
        day_cum = list(
            accumulate(
                (1 + 0.25 * math.cos(2 * math.pi * (d.timetuple().tm_yday - 196) / 365.25)) * (1 + 0.3 * i / span)
                for i, d in enumerate(days)
            )
        )
        hour_cum = list(accumulate(HOUR_WEIGHT))
        term_from = CareLevelRules.current().term_from_weeks
        term = (term_from, max(term_from, BIRTH_CENTRE_LAST_WEEK))
        hospital = Asked.build(REASONS, CARE_TYPES, WEEKS, term)
        birth_centre = Asked.build(
            BIRTH_CENTRE_REASONS,
            [(Refusal.CareType.BEGELEIDING, 1)],
            [(w, n) for w, n in WEEKS if term[0] <= w <= term[1]],
            term,
        )
        called, called_cum = _table(HOSPITALS_CALLED)
        stale_minutes = int(settings.CAPACITY_STALE_AFTER.total_seconds() // 60)

        progress = Progress("refusals", total, self.stdout)
        made = 0
        while made < total:
            n = min(batch, total - made)
            chosen = rng.choices(sites, cum_weights=site_cum, k=n)
            chosen_days = rng.choices(days, cum_weights=day_cum, k=n)
            hours = rng.choices(range(24), cum_weights=hour_cum, k=n)
            rows: list[Refusal] = []
            for site, day, hour in zip(chosen, chosen_days, hours, strict=True):
                rows.append(
                    self._one(
                        rng,
                        site,
                        day,
                        hour,
                        accounts,
                        start,
                        now,
                        stale_minutes,
                        birth_centre if site.birth_centre else hospital,
                        called,
                        called_cum,
                    )
                )
            with transaction.atomic():
                Refusal.objects.bulk_create(rows, batch_size=batch)
                events = []
                for r in rows:
                    state = refusal_state(r)
                    events.append(
                        RefusalEvent(
                            refusal_id=r.pk,
                            action=RefusalEvent.Action.REGISTER,
                            by_id=r.registered_by_id,
                            at=r.registered_at,
                            version=1,
                            before=None,
                            after={**state, "withdrawn": False, "version": 1},
                        )
                    )
                    if r.withdrawn_at is not None:
                        events.append(
                            RefusalEvent(
                                refusal_id=r.pk,
                                action=RefusalEvent.Action.WITHDRAW,
                                by_id=r.registered_by_id,
                                at=r.withdrawn_at,
                                version=2,
                                before={**state, "withdrawn": False, "version": 1},
                                after=state,
                            )
                        )
                RefusalEvent.objects.bulk_create(events, batch_size=batch)
            made += n
            progress.add(n)
        progress.close()
        return made

    def _one(
        self,
        rng: random.Random,
        site: Site,
        day: date,
        hour: int,
        accounts: dict[int, tuple[int, int]],
        start: datetime,
        now: datetime,
        stale_minutes: int,
        asked: Asked,
        called: list[int],
        called_cum: list[float],
    ) -> Refusal:
        loc = site.location
        occurred = datetime(day.year, day.month, day.day, hour, rng.randrange(60), rng.randrange(60), tzinfo=ZONE)
        if occurred >= now - timedelta(minutes=30) or occurred < start:
            occurred = start + (now - timedelta(minutes=30) - start) * rng.random()
        registered = min(occurred + timedelta(seconds=rng.randint(30, 1800)), now)
        gestational: int | None = None
        if rng.random() > 0.08:
            gestational = asked.weeks[bisect_right(asked.week_cum, rng.random() * asked.week_cum[-1])]
        reason = asked.reasons[bisect_right(asked.reason_cum, rng.random() * asked.reason_cum[-1])]
        if gestational is not None and gestational < 34 and rng.random() < 0.5:
            reason = Refusal.Reason.NO_NEONATAL_BED
        care = asked.cares[bisect_right(asked.care_cum, rng.random() * asked.care_cum[-1])]
        if asked.birth_centre_can_take(care, gestational):
            onward, onward_cum = site.onward, site.onward_cum
        else:
            onward, onward_cum = site.onward_hospital, site.onward_hospital_cum
        roll = rng.random()
        outcome_location: int | None = None
        if roll < 0.80 and onward:
            outcome = Refusal.Outcome.LOCATION
            outcome_location = onward[bisect_right(onward_cum, rng.random() * onward_cum[-1])]
        elif roll < 0.86:
            outcome = Refusal.Outcome.HOME
        else:
            outcome = Refusal.Outcome.UNKNOWN
        hospitals: int | None = None
        if rng.random() > 0.1:
            hospitals = called[bisect_right(called_cum, rng.random() * called_cum[-1])]
            if outcome == Refusal.Outcome.LOCATION:
                hospitals = max(hospitals, 2)
        room = rng.random() < 0.20
        snapshot = _snapshot(rng, site, registered, room, reason, stale_minutes)
        user_id, practice_id = accounts[loc.region_id]
        withdrawn = registered + timedelta(minutes=rng.randint(2, 600)) if rng.random() < 0.01 else None
        if withdrawn is not None and withdrawn > now:
            withdrawn = now
        return Refusal(
            occurred_at=occurred,
            location_id=loc.pk,
            region_id=loc.region_id,
            care_type=care,
            reason=reason,
            gestational_weeks=gestational,
            outcome=outcome,
            outcome_location_id=outcome_location,
            hospitals_called=hospitals,
            note=NOTE,
            registered_by_id=user_id,
            practice_id=practice_id,
            registered_at=registered,
            withdrawn_at=withdrawn,
            version=2 if withdrawn else 1,
            board_snapshot=snapshot,
            board_showed_room=room,
        )

    # --- capacity history ---------------------------------------------------------------------

    def _capacity_history(
        self, rng: random.Random, sites: list[Site], batch: int, start: datetime, now: datetime
    ) -> int:
        """Admission stops on obstetric units (delivery suites, birth centres): start (open -> stop) and
        end (stop -> open) events.

        Stops on a unit never overlap and all end before the unit's first real history event
        (or before now), so the stop report never sees a synthetic stop left open.
        """
        units = list(Unit.objects.filter(Unit.obstetric_filter(), location__in=[s.location for s in sites]))
        factor = {s.location.pk: s.weight * len(sites) for s in sites}
        first_real: dict[int, datetime] = {}
        for unit_id, at in (
            CapacityEvent.objects.filter(unit__in=units).order_by("unit_id", "at").values_list("unit_id", "at")
        ):
            first_real.setdefault(unit_id, at)
        years = (now - start).total_seconds() / (365.25 * 86400)
        hour_cum = list(accumulate(HOUR_WEIGHT))
        plan: list[CapacityEvent] = []
        for unit in units:
            end_limit = min(first_real.get(unit.pk, now), now)
            # About 12 stops a year for an average location, more where refusals are frequent.
            count = int(rng.gauss(12, 3) * years * min(max(factor[unit.location_id], 0.2), 4))
            starts = sorted(start + (end_limit - start) * rng.random() for _ in range(max(count, 0)))
            busy_until = start
            for s in starts:
                local = s.astimezone(ZONE)
                hour = rng.choices(range(24), cum_weights=hour_cum)[0]
                s = local.replace(hour=hour).astimezone(ZONE)
                if s <= busy_until:
                    continue
                # Night stops last longer (until the morning shift): 1-12 hours.
                hours = rng.uniform(4, 12) if hour < 7 or hour >= 22 else rng.uniform(1, 6)
                e = s + timedelta(hours=hours)
                if e >= end_limit:
                    continue
                busy_until = e + timedelta(hours=1)
                base = {
                    "staffed_total": unit.staffed_total,
                    "available": max(1, unit.staffed_total // 3),
                    "status": Unit.Status.OPEN,
                    "stop_reason": "",
                    "stop_expected_end": None,
                    "note": "",
                    "version": 0,
                    "synthetic": True,
                }
                stop = {
                    **base,
                    "available": 0,
                    "status": Unit.Status.STOP,
                    "stop_reason": rng.choice([Unit.StopReason.BEDS, Unit.StopReason.STAFF, Unit.StopReason.STAFF]),
                    "stop_expected_end": (s + timedelta(hours=round(hours))).isoformat(),
                }
                plan.append(self._event(unit, s, base, stop))
                plan.append(self._event(unit, e, stop, {**base, "available": 1}))
        progress = Progress("capacity history", len(plan), self.stdout)
        for i in range(0, len(plan), batch):
            chunk = plan[i : i + batch]
            CapacityEvent.objects.bulk_create(chunk)
            progress.add(len(chunk))
        progress.close()
        return len(plan)

    @staticmethod
    def _event(unit: Unit, at: datetime, before: dict[str, Any], after: dict[str, Any]) -> CapacityEvent:
        return CapacityEvent(
            unit=unit,
            action=CapacityEvent.Action.UPDATE,
            source=CapacityEvent.Source.SYSTEM,
            by=None,
            at=at,
            version=0,
            before=before,
            after=after,
        )


def _snapshot(
    rng: random.Random, site: Site, at: datetime, room: bool, reason: str, stale_minutes: int
) -> dict[str, Any]:
    """Shaped like refusals.services.board_snapshot: what the board showed for the location."""
    units = []
    # When the board showed room, an obstetric unit was fresh, open and had a bed free.
    stale_board = not room and rng.random() < 0.15
    for u in site.units:
        obstetric = u["kind"] in (Unit.Kind.DELIVERY_SUITE, Unit.Kind.BIRTH_CENTRE)
        minutes = (
            rng.randint(stale_minutes + 1, stale_minutes * 3) if stale_board else rng.randint(0, stale_minutes - 1)
        )
        total = u["staffed_total"]
        if obstetric and room:
            status, free = (
                rng.choice([Unit.Status.OPEN, Unit.Status.OPEN, Unit.Status.LIMITED]),
                rng.randint(1, max(1, min(3, total))),
            )
        elif obstetric:
            stop = reason == Refusal.Reason.ADMISSION_STOP
            status = Unit.Status.STOP if stop else Unit.Status.LIMITED
            free = 0 if stop or stale_board is False else rng.randint(0, max(0, min(2, total)))
        else:
            status, free = Unit.Status.OPEN, rng.randint(0, max(0, min(3, total)))
        free = min(free, total)
        if obstetric and room:
            minutes = min(minutes, stale_minutes - 1)
        confirmed = at - timedelta(minutes=minutes)
        units.append(
            {
                "kind": u["kind"],
                "status": status,
                "available": free,
                "staffed_total": total,
                "confirmed_at": confirmed.isoformat(),
                "minutes_since_confirmed": minutes,
                "stale": minutes >= stale_minutes,
                "version": u["version"],
            }
        )
    return {"at": at.isoformat(), "units": units}


def synthetic_users() -> QuerySet[User]:
    return User.objects.filter(username__startswith=USERNAME_PREFIX, role=User.Role.MIDWIFE)


def clear_synthetic() -> int:
    """Remove refusals registered by the synthetic accounts, their history and tallies,
    and the synthetic capacity events; then rebuild the rollups. Returns refusals removed."""
    with transaction.atomic():
        refusals = Refusal.objects.filter(registered_by__in=synthetic_users())
        RefusalTally.objects.filter(refusal__in=refusals)._raw_delete(RefusalTally.objects.db)
        RefusalEvent.objects.filter(refusal__in=refusals)._raw_delete(RefusalEvent.objects.db)
        count = refusals.count()
        Refusal.objects.filter(registered_by__in=synthetic_users())._raw_delete(Refusal.objects.db)
        CapacityEvent.objects.filter(after__synthetic=True)._raw_delete(CapacityEvent.objects.db)
    aggregation.rebuild()
    return count
