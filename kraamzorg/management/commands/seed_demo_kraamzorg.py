"""Synthetic kraamzorg organisations in every region, their planners, intake weeks and shortages.

No public, licensed list of kraamzorg organisations and their work areas could be sourced
(docs/kraamzorg.md), so none ships: these are made up, named "(synthetisch)" and marked
``Organisation.synthetic`` so the data and the UI say so. Every postcode area (PC4) is served by
the organisation of its nearest city with a delivery location, and some by a neighbour as well.
Idempotent: run it again and it refreshes the figures, never duplicates the organisations.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from core.geo import distance_km
from hospitals.models import Location, Organisation, Postcode, Region, User
from kraamzorg.models import IntakeWeek, Shortage, WorkArea
from kraamzorg.services import IntakeChange, intake_week_set, weeks_ahead
from kraamzorg.shortages import ShortageInput, shortage_register

PER_REGION = 3  # organisations per region (fewer where the region has fewer cities)
PLANNER_PASSWORD = "demo-wachtwoord-2026"  # noqa: S105 - the demo password (seed_demo), never used in production


# seed_demo's organisation serves the postcode areas within this distance of its base.
NEAR_BASE_KM = 9


class Command(BaseCommand):
    help = "Synthetic kraamzorg organisations, planners, intake weeks and shortages in every region (demo)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--seed", type=int, default=2026)
        parser.add_argument("--shortages", type=int, default=40, help="shortage registrations per region")

    def handle(self, *args: Any, seed: int, shortages: int, **options: Any) -> None:
        rng = random.Random(seed)  # noqa: S311 - demo data, not security
        postcodes = list(Postcode.objects.values_list("pc4", "latitude", "longitude"))
        if not postcodes or not Region.objects.exists():
            raise CommandError("Load the reference data first: python manage.py load_reference_data")
        centres = self._centres()
        organisations = self._organisations(centres)
        self._work_areas(postcodes, centres, organisations, rng)
        planners = self._planners(organisations)
        self._demo_account_organisations(postcodes, organisations, planners)
        for organisation in organisations.values():
            self._fill_weeks(organisation, planners[organisation.pk], rng)
        registered = self._shortages(organisations, planners, shortages, rng)
        self.stdout.write(
            self.style.SUCCESS(
                f"Kraamzorg (synthetic): {len(organisations)} organisations in {Region.objects.count()} regions, "
                f"{WorkArea.objects.filter(organisation__synthetic=True).count()} work areas, "
                f"{len(planners)} planners (kraamzorgplanner-<region>-<n>), {registered} shortages"
            )
        )

    def _centres(self) -> list[tuple[Region, str, tuple[float, float]]]:
        """Per region the cities with an active delivery location, biggest first, up to PER_REGION."""
        by_region: dict[int, dict[str, list[tuple[float, float]]]] = defaultdict(lambda: defaultdict(list))
        regions = {r.pk: r for r in Region.objects.all()}
        for region_id, city, lat, lon in Location.objects.filter(active=True).values_list(
            "region_id", "city", "latitude", "longitude"
        ):
            by_region[region_id][city].append((lat, lon))
        centres = []
        for region_id, cities in sorted(by_region.items()):
            ranked = sorted(cities.items(), key=lambda item: (-len(item[1]), item[0]))[:PER_REGION]
            for city, points in ranked:
                lat = sum(p[0] for p in points) / len(points)
                lon = sum(p[1] for p in points) / len(points)
                centres.append((regions[region_id], city, (lat, lon)))
        return centres

    def _organisations(self, centres: list[tuple[Region, str, tuple[float, float]]]) -> dict[str, Organisation]:
        organisations = {}
        for n, (region, city, _point) in enumerate(centres):
            name = f"Kraamzorg {city} (synthetisch)"
            organisation, _ = Organisation.objects.update_or_create(
                name=name,
                defaults={
                    "kind": Organisation.Kind.KRAAMZORG,
                    "region": region,
                    "synthetic": True,
                    # A made-up freephone-style number, labelled synthetic with the organisation.
                    "phone": f"0800 0000 {100 + n:03d}",
                    "phone_e164": f"+3180000{100 + n:03d}",
                },
            )
            organisations[city] = organisation
        return organisations

    def _work_areas(
        self,
        postcodes: list[tuple[str, float, float]],
        centres: list[tuple[Region, str, tuple[float, float]]],
        organisations: dict[str, Organisation],
        rng: random.Random,
    ) -> None:
        areas: set[tuple[int, str]] = set()
        for pc4, lat, lon in postcodes:
            ranked = sorted(centres, key=lambda c: distance_km(lat, lon, *c[2]))
            areas.add((organisations[ranked[0][1]].pk, pc4))
            # Some areas are served by a neighbouring organisation too, as in practice.
            if len(ranked) > 1 and rng.random() < 0.35:
                areas.add((organisations[ranked[1][1]].pk, pc4))
        with transaction.atomic():
            ids = [o.pk for o in organisations.values()]
            WorkArea.objects.filter(organisation_id__in=ids).delete()
            WorkArea.objects.bulk_create(WorkArea(organisation_id=o, pc4=pc4) for o, pc4 in sorted(areas))

    def _planners(self, organisations: dict[str, Organisation]) -> dict[int, User]:
        planners: dict[int, User] = {}
        counter: dict[str, int] = defaultdict(int)
        for organisation in sorted(organisations.values(), key=lambda o: o.name):
            counter[organisation.region.code] += 1
            username = f"kraamzorgplanner-{organisation.region.code}-{counter[organisation.region.code]}"
            user, created = User.objects.update_or_create(
                username=username,
                defaults={
                    "role": User.Role.KRAAMZORG_PLANNER,
                    "organisation": organisation,
                    "email": f"{username}@example.org",
                },
            )
            if created:
                user.set_password(PLANNER_PASSWORD)
                user.save(update_fields=["password"])
            planners[organisation.pk] = user
        return planners

    def _demo_account_organisations(
        self,
        postcodes: list[tuple[str, float, float]],
        organisations: dict[str, Organisation],
        planners: dict[int, User],
    ) -> None:
        """seed_demo's own synthetic organisation (the README's ``kraamzorgplanner``) serves the
        postcode areas around its base, so the demo planner and midwife see it in the lookup."""
        where = {pc4: (lat, lon) for pc4, lat, lon in postcodes}
        for organisation in Organisation.objects.filter(kind=Organisation.Kind.KRAAMZORG, synthetic=True).exclude(
            pk__in=[o.pk for o in organisations.values()]
        ):
            planner = User.objects.filter(organisation=organisation, role=User.Role.KRAAMZORG_PLANNER).first()
            if planner is None or organisation.pc4 not in where:
                continue
            base = where[organisation.pc4]
            near = [pc4 for pc4, point in where.items() if distance_km(*base, *point) < NEAR_BASE_KM]
            WorkArea.objects.bulk_create(
                [WorkArea(organisation=organisation, pc4=pc4) for pc4 in near], ignore_conflicts=True
            )
            if not organisation.phone:
                phone = {"phone": "0800 0000 099", "phone_e164": "+318000000099"}
                Organisation.objects.filter(pk=organisation.pk).update(**phone)
            organisations[organisation.name] = organisation
            planners[organisation.pk] = planner

    def _fill_weeks(self, organisation: Organisation, planner: User, rng: random.Random) -> None:
        """Twelve weeks through the planner's own service: mostly room, less further ahead and some
        stops; some organisations forget to confirm (stale), a few weeks are never filled in."""
        now = timezone.now()
        stored = {row.week: row.version for row in IntakeWeek.objects.filter(organisation=organisation)}
        tight = rng.random()  # how short of staff this organisation is
        for n, week in enumerate(weeks_ahead(now)):
            if n > 8 and rng.random() < 0.3:
                continue  # not planned that far ahead yet
            roll = rng.random() + tight * 0.5
            if roll > 1.25:
                change = IntakeChange(families=0, hours="full", status="stop", reason=rng.choice(["staff", "full"]))
            elif roll > 0.9:
                change = IntakeChange(
                    families=rng.randint(1, 4), hours="minimum", minimum_hours=rng.choice([24, 32, 40]),
                    status="limited", reason="staff",
                )  # fmt: skip
            else:
                change = IntakeChange(families=rng.randint(2, 12), hours="full", status="open")
            intake_week_set(
                by=planner, organisation_id=organisation.pk, week=week, change=change,
                expected_version=stored.get(week, 0), now=now,
            )  # fmt: skip
        if rng.random() < 0.2:  # this one has not confirmed for ten days
            IntakeWeek.objects.filter(organisation=organisation).update(confirmed_at=now - timedelta(days=10))

    def _shortages(
        self, organisations: dict[str, Organisation], planners: dict[int, User], per_region: int, rng: random.Random
    ) -> int:
        """Registrations by the planners over the last three months, once: a second run adds none."""
        if Shortage.objects.filter(organisation__synthetic=True).exists():
            return 0
        now = timezone.now()
        registered = 0
        by_region: dict[int, list[Organisation]] = defaultdict(list)
        for organisation in organisations.values():
            by_region[organisation.region_id].append(organisation)
        areas: dict[int, list[str]] = defaultdict(list)
        for organisation_id, pc4 in WorkArea.objects.filter(organisation__in=list(organisations.values())).values_list(
            "organisation_id", "pc4"
        ):
            areas[organisation_id].append(pc4)
        for members in by_region.values():
            for _n in range(per_region):
                organisation = rng.choice(members)
                if not areas[organisation.pk]:
                    continue
                at = now - timedelta(days=rng.randint(0, 80), hours=rng.randint(0, 23))
                promised = rng.choice([0, 16, 24, 24, 32, 40])
                reason = "no_intake" if promised == 0 else rng.choice(["staff", "staff", "late", "area", "other"])
                shortage_register(
                    by=planners[organisation.pk],
                    data=ShortageInput(
                        pc4=rng.choice(areas[organisation.pk]),
                        due_week=(at + timedelta(days=rng.randint(-5, 30))).date(),
                        indicated_hours=49,
                        promised_hours=promised,
                        reason=reason,
                        # Families in vulnerable situations get fewer hours more often (domain.md).
                        vulnerable=rng.choices(["yes", "no", "unknown"], weights=[3 if promised < 24 else 1, 5, 2])[0],
                    ),
                    now=at,
                )
                registered += 1
        return registered
