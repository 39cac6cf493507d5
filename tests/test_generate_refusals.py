"""The synthetic-data command: counts, validity, shape (night peak, uneven hospitals), birth centres, rollups,
clearing."""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Count, F
from django.db.models.functions import ExtractHour
from django.utils import timezone

from capacity.models import CapacityEvent, Unit
from hospitals.models import Location, User
from refusals import aggregation
from refusals.management.commands.generate_refusals import NOTE, USERNAME_PREFIX
from refusals.models import Refusal, RefusalEvent, RefusalTally
from refusals.services import RefusalInput, validate_refusal
from refusals.statistics import Filters, Period, statistics
from tests.conftest import World

pytestmark = pytest.mark.django_db

ZONE = aggregation.ZONE


def generate(*args: str) -> str:
    out = StringIO()
    call_command("generate_refusals", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def many(world: World) -> World:
    """More locations in the region, so the spread over hospitals can be seen."""
    for i in range(8):
        loc = Location.objects.create(
            slug=f"extra-{i}",
            name=f"Ziekenhuis {i}",
            organisation=world.hospital,
            region=world.region if i < 5 else world.other_region,
            city="Stad",
            latitude=52.0 + i * 0.05,
            longitude=5.0 + i * 0.05,
            neonatal_level=1,
        )
        Unit.objects.create(location=loc, kind=Unit.Kind.DELIVERY_SUITE, staffed_total=8, available=2)
    # Not part of the generation: inactive, or without obstetrics.
    Location.objects.create(
        slug="closed",
        name="Gesloten",
        organisation=world.hospital,
        region=world.region,
        city="Stad",
        latitude=52.0,
        longitude=5.0,
        active=False,
    )
    return world


def test_counts_accounts_and_history(many: World) -> None:
    out = generate("--years", "1", "--total", "500", "--seed", "7", "--batch", "120")
    assert "500 synthetic refusals" in out
    assert "100%" in out
    assert Refusal.objects.count() == 500
    assert not Refusal.objects.filter(location__slug="closed").exists()
    assert RefusalEvent.objects.filter(action=RefusalEvent.Action.REGISTER).count() == 500
    withdrawn = Refusal.objects.filter(withdrawn_at__isnull=False).count()
    assert RefusalEvent.objects.filter(action=RefusalEvent.Action.WITHDRAW).count() == withdrawn
    # Every event is attributed to the refusal's own (synthetic) account.
    assert not RefusalEvent.objects.exclude(by=F("refusal__registered_by")).exists()
    accounts = User.objects.filter(username__startswith=USERNAME_PREFIX)
    assert {u.username for u in accounts} == {f"{USERNAME_PREFIX}midden", f"{USERNAME_PREFIX}west"}
    for user in accounts:
        assert user.role == User.Role.MIDWIFE
        assert not user.has_usable_password()
        assert user.organisation is not None
        assert user.organisation.region.code == user.username.removeprefix(USERNAME_PREFIX)
    # Each refusal's account is its region's.
    for r in Refusal.objects.select_related("registered_by", "region")[:100]:
        assert r.registered_by.username == f"{USERNAME_PREFIX}{r.region.code}"
        assert r.practice_id == r.registered_by.organisation_id
        assert r.region_id == r.location.region_id


def test_every_refusal_is_valid(many: World) -> None:
    generate("--years", "2", "--total", "500", "--seed", "3")
    now = timezone.now()
    for r in Refusal.objects.all():
        r.full_clean()
        assert r.gestational_weeks is None or 16 <= r.gestational_weeks <= 44
        if r.outcome == Refusal.Outcome.LOCATION:
            assert r.outcome_location_id is not None
            assert r.outcome_location_id != r.location_id
        else:
            assert r.outcome_location_id is None
        assert r.hospitals_called is None or 1 <= r.hospitals_called <= 5
        assert r.occurred_at <= r.registered_at <= now
        assert r.occurred_at >= now - timedelta(days=2 * 366)
        assert r.version == (2 if r.withdrawn_at else 1)
        snap = r.board_snapshot
        assert set(snap) == {"at", "units"} and snap["units"]
        assert {"kind", "status", "available", "staffed_total", "stale", "minutes_since_confirmed"} <= set(
            snap["units"][0]
        )
        room = any(
            u["kind"] in ("delivery_suite", "birth_centre")
            and u["status"] != "stop"
            and u["available"] >= 1
            and not u["stale"]
            for u in snap["units"]
        )
        assert room == r.board_showed_room
    share = Refusal.objects.filter(board_showed_room=True).count() / 500
    assert 0.12 <= share <= 0.28
    weeks = [w for w in Refusal.objects.values_list("gestational_weeks", flat=True) if w is not None]
    assert sum(37 <= w <= 42 for w in weeks) / len(weeks) > 0.75
    assert any(w < 37 for w in weeks)
    outcomes = Counter(Refusal.objects.values_list("outcome", flat=True))
    assert outcomes["location"] > outcomes["unknown"] > 0
    # Mostly taken in by another location of the same region.
    moved = Refusal.objects.filter(outcome=Refusal.Outcome.LOCATION).select_related("outcome_location")
    same = sum(r.outcome_location.region_id == r.region_id for r in moved)  # type: ignore[union-attr]
    assert same / moved.count() > 0.6


def test_night_peak_and_uneven_hospitals(many: World) -> None:
    generate("--years", "1", "--total", "1000", "--seed", "11")
    per_hour = dict(
        Refusal.objects.annotate(h=ExtractHour("occurred_at", tzinfo=ZONE))
        .values_list("h")
        .annotate(n=Count("id"))
        .values_list("h", "n")
    )
    night = sum(per_hour.get(h, 0) for h in range(0, 7)) / 7
    midday = sum(per_hour.get(h, 0) for h in range(10, 16)) / 6
    assert night > 1.5 * midday
    per_location = sorted(Counter(Refusal.objects.values_list("location_id", flat=True)).values())
    assert len(per_location) >= 8
    assert per_location[-1] > 2 * per_location[0]


def test_rollups_match_a_direct_count(many: World) -> None:
    generate("--years", "1", "--total", "500", "--seed", "5")
    assert aggregation.differences() == []
    assert aggregation.daily_from_rollups() == aggregation.daily_from_refusals()
    assert RefusalTally.objects.count() == 500
    assert not aggregation.pending().exists()
    counted = Refusal.objects.filter(withdrawn_at__isnull=True).count()
    assert sum(n for n, _room in aggregation.daily_from_rollups().values()) == counted


def test_capacity_history_leaves_units_alone(many: World) -> None:
    units_before = {u.pk: u.snapshot() for u in Unit.objects.all()}
    real = CapacityEvent.objects.create(
        unit=many.unit, action="update", source="web", by=many.staff, version=1, before={}, after={}
    )
    generate("--years", "1", "--total", "50", "--capacity-history", "--seed", "9")
    assert {u.pk: u.snapshot() for u in Unit.objects.all()} == units_before
    events = CapacityEvent.objects.exclude(pk=real.pk).order_by("unit_id", "at")
    assert events.count() > 0 and events.count() % 2 == 0
    assert not events.exclude(source=CapacityEvent.Source.SYSTEM).exists()
    assert not events.filter(by__isnull=False).exists()
    # Per unit: alternating open -> stop, stop -> open, all closed before the unit's real history.
    by_unit: dict[int, list[CapacityEvent]] = {}
    for e in events:
        by_unit.setdefault(e.unit_id, []).append(e)
    for unit_id, evs in by_unit.items():
        for start, end in zip(evs[::2], evs[1::2], strict=True):
            assert start.before["status"] == "open" and start.after["status"] == "stop"
            assert end.before["status"] == "stop" and end.after["status"] == "open"
            assert start.at < end.at
        if unit_id == many.unit.pk:
            assert evs[-1].at < real.at


def test_clear_synthetic_keeps_real_refusals(many: World) -> None:
    now = timezone.now()
    real = Refusal.objects.create(
        occurred_at=now - timedelta(hours=1),
        location=many.location,
        region=many.region,
        care_type=Refusal.CareType.OVERDRACHT,
        reason=Refusal.Reason.NO_STAFF,
        outcome=Refusal.Outcome.HOME,
        registered_by=many.midwife,
        practice=many.practice,
    )
    RefusalEvent.objects.create(refusal=real, action="register", by=many.midwife, version=1, after={})
    real_event = CapacityEvent.objects.create(
        unit=many.unit, action="update", source="web", by=many.staff, version=1, before={}, after={}
    )
    aggregation.aggregate(real.pk)
    generate("--years", "1", "--total", "300", "--capacity-history", "--seed", "1")
    assert Refusal.objects.count() == 301
    # Running again with --clear-synthetic replaces, never doubles.
    generate("--years", "1", "--total", "200", "--clear-synthetic", "--seed", "2")
    assert Refusal.objects.count() == 201
    out = generate("--total", "0", "--clear-synthetic")
    assert "Removed 200" in out
    assert list(Refusal.objects.all()) == [real]
    assert RefusalEvent.objects.filter(refusal=real).count() == 1
    assert RefusalEvent.objects.count() == 1
    assert list(CapacityEvent.objects.all()) == [real_event]
    assert RefusalTally.objects.get(refusal=real).day is not None
    assert aggregation.differences() == []


def test_no_patient_identifiers_in_notes(many: World) -> None:
    generate("--years", "1", "--total", "500", "--seed", "4")
    notes = set(Refusal.objects.values_list("note", flat=True))
    assert notes == {NOTE}
    for note in notes:
        assert not re.search(r"\d", note)  # no BSN, date of birth, postcode or phone number
    for event in RefusalEvent.objects.all()[:200]:
        assert event.after["note"] == NOTE


# --- birth centres --------------------------------------------------------------------------


@pytest.fixture
def reference(db: None) -> Location:
    """The reference data (79 locations); its one stand-alone birth centre, Bevalcentrum Zuid."""
    call_command("load_reference_data", stdout=StringIO())
    return Location.objects.get(kind=Location.Kind.BIRTH_CENTRE)


def birth_centre_can_take(r: Refusal) -> bool:
    """The search's rule for a birth centre: begeleiding at term; from 42 weeks care passes to the hospital."""
    return r.care_type == Refusal.CareType.BEGELEIDING and (
        r.gestational_weeks is None or 37 <= r.gestational_weeks <= 41
    )


def test_birth_centres_get_refusals_they_could_be_asked_for(reference: Location) -> None:
    birth_centre = reference
    generate("--years", "1", "--total", "4000", "--seed", "2026", "--capacity-history")
    at_centre = list(Refusal.objects.filter(location=birth_centre))
    # Its 3 rooms weigh as 3 delivery-suite beds: 0.28% of the refusals with this seed's factor.
    assert 0.001 <= len(at_centre) / 4000 <= 0.02
    for r in at_centre:
        r.full_clean()
        # What the refusal form accepts (its age limit aside: judged when it was registered).
        validate_refusal(
            RefusalInput(
                occurred_at=r.occurred_at,
                location_id=r.location_id,
                care_type=r.care_type,
                reason=r.reason,
                outcome=r.outcome,
                gestational_weeks=r.gestational_weeks,
                outcome_location_id=r.outcome_location_id,
                hospitals_called=r.hospitals_called,
                note=r.note,
            ),
            now=r.registered_at,
        )
        assert birth_centre_can_take(r), (r.care_type, r.gestational_weeks)
        assert r.reason != Refusal.Reason.NO_NEONATAL_BED
        assert {u["kind"] for u in r.board_snapshot["units"]} == {Unit.Kind.BIRTH_CENTRE}
    # Nobody a birth centre cannot take was taken in at one instead.
    for r in Refusal.objects.filter(outcome_location__kind=Location.Kind.BIRTH_CENTRE):
        assert birth_centre_can_take(r), (r.care_type, r.gestational_weeks)

    # The coordinator's statistics show them, quarter by quarter.
    counted = sum(r.withdrawn_at is None for r in at_centre)
    assert counted > 0
    today = timezone.localdate()
    quarter = Period.containing("quarter", today - timedelta(days=370))
    shown = 0
    while quarter.start <= today:
        shown += statistics(birth_centre.region, quarter, Filters(location_id=birth_centre.pk)).total
        quarter = Period.containing("quarter", quarter.end)
    assert shown == counted

    # Its rooms get admission stops in the capacity history too.
    stops = CapacityEvent.objects.filter(unit__location=birth_centre, after__status=Unit.Status.STOP)
    assert stops.exists()
    assert {e.unit.kind for e in stops} == {Unit.Kind.BIRTH_CENTRE}


def test_a_birth_centre_without_rooms_gets_no_refusals(many: World) -> None:
    def centre(slug: str, **extra: object) -> Location:
        return Location.objects.create(
            slug=slug,
            name=f"Geboortecentrum {slug}",
            organisation=many.hospital,
            region=many.region,
            kind=Location.Kind.BIRTH_CENTRE,
            acute_obstetrics=False,
            city="Stad",
            latitude=52.09,
            longitude=5.12,
            **extra,
        )

    with_rooms = centre("met-kamers")
    Unit.objects.create(location=with_rooms, kind=Unit.Kind.BIRTH_CENTRE, staffed_total=4, available=1)
    centre("zonder-kamers")  # no unit: not on the board, not in the refusal form
    closed = centre("gesloten", active=False)
    Unit.objects.create(location=closed, kind=Unit.Kind.BIRTH_CENTRE, staffed_total=4, available=1)
    generate("--years", "1", "--total", "1500", "--seed", "8")
    per_location = Counter(Refusal.objects.values_list("location__slug", flat=True))
    assert per_location["met-kamers"] > 0
    assert per_location["zonder-kamers"] == per_location["gesloten"] == 0
    for r in Refusal.objects.filter(location=with_rooms):
        assert birth_centre_can_take(r)
