"""kraamzorg.selectors.intake_for: who serves a postcode area, ranked for a family due in one week."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from hospitals.models import Organisation, User
from kraamzorg.models import IntakeWeek, Team, WorkArea
from kraamzorg.selectors import (
    IntakeOption,
    IntakeState,
    due_week_range,
    intake_fingerprint,
    intake_for,
)
from kraamzorg.services import IntakeChange, intake_week_set, weeks_ahead
from tests.conftest import World

pytestmark = pytest.mark.django_db


def organisation(world: World, name: str, *pc4s: str) -> Organisation:
    org = Organisation.objects.create(name=name, kind=Organisation.Kind.KRAAMZORG, region=world.region)
    WorkArea.objects.bulk_create([WorkArea(organisation=org, pc4=pc4) for pc4 in pc4s])
    return org


def planner_of(org: Organisation) -> User:
    user, _created = User.objects.get_or_create(
        username=f"planner-{org.pk}", defaults={"role": User.Role.KRAAMZORG_PLANNER, "organisation": org}
    )
    return user


def fill(org: Organisation, week: date, **figures: object) -> IntakeWeek:
    values: dict[str, object] = {"families": 3, "hours": "full", "status": "open", **figures}
    change = IntakeChange(**values)  # type: ignore[arg-type]
    return intake_week_set(by=planner_of(org), organisation_id=org.pk, week=week, change=change, expected_version=0)


def names(options: list[IntakeOption]) -> list[str]:
    return [option.name for option in options]


def test_the_ranking_full_hours_then_a_minimum_then_unknown_then_stop(world: World) -> None:
    week = weeks_ahead()[3]
    stop = organisation(world, "A stop", "3584")
    fill(stop, week, families=0, status="stop", reason="staff")
    unknown = organisation(world, "B never filled in", "3584")
    minimum_low = organisation(world, "C minimum 24", "3584")
    fill(minimum_low, week, families=9, hours="minimum", minimum_hours=24)
    minimum_high = organisation(world, "D minimum 32", "3584")
    fill(minimum_high, week, families=1, hours="minimum", minimum_hours=32)
    full_few = organisation(world, "E full, one family", "3584")
    fill(full_few, week, families=1, status="limited", reason="full")
    full_many = organisation(world, "F full, five families", "3584")
    fill(full_many, week, families=5)
    no_room = organisation(world, "G open, no room", "3584")
    fill(no_room, week, families=0)

    options = intake_for("3584", week)
    assert names(options) == [
        "F full, five families",  # full hours, more families first
        "E full, one family",  # limited still takes her in with the full hours
        "D minimum 32",  # a higher minimum first, whatever the families
        "C minimum 24",
        "B never filled in",
        "A stop",  # no room and stops last, by families then name
        "G open, no room",
    ]
    assert [o.state for o in options] == [
        IntakeState.FULL, IntakeState.FULL, IntakeState.MINIMUM, IntakeState.MINIMUM,
        IntakeState.UNKNOWN, IntakeState.STOP, IntakeState.NO_ROOM,
    ]  # fmt: skip
    assert [o.rank for o in options] == [0, 0, 1, 1, 2, 3, 3]
    assert options[4].row is None and options[4].stale
    assert unknown.pk == options[4].organisation_id


def test_ties_go_to_more_families_then_the_name(world: World) -> None:
    week = weeks_ahead()[0]
    for name, families in (("b", 2), ("A", 2), ("c", 4)):
        fill(organisation(world, name, "3584"), week, families=families)
    assert names(intake_for("3584", week)) == ["c", "A", "b"]


def test_only_organisations_whose_work_area_holds_the_postcode(world: World) -> None:
    week = weeks_ahead()[1]
    here = organisation(world, "Here", "3584", "3511")
    elsewhere = organisation(world, "Elsewhere", "3511")
    fill(here, week)
    fill(elsewhere, week)
    # A hospital with a (stray) work area row is not a kraamzorg organisation.
    WorkArea.objects.create(organisation=world.hospital, pc4="3584")
    assert names(intake_for("3584", week)) == ["Here"]
    assert names(intake_for("3511", week)) == ["Elsewhere", "Here"]
    assert intake_for("9999", week) == []


def test_the_due_weeks_figures_count_not_another_weeks(world: World) -> None:
    weeks = weeks_ahead()
    org = organisation(world, "Grid", "3584")
    fill(org, weeks[0], families=0, status="stop", reason="staff")
    fill(org, weeks[1], families=2)
    assert intake_for("3584", weeks[0])[0].state == IntakeState.STOP
    assert intake_for("3584", weeks[1])[0].state == IntakeState.FULL
    [later] = intake_for("3584", weeks[5])
    assert (later.state, later.row, later.rank) == (IntakeState.UNKNOWN, None, 2)


def test_stale_figures_rank_with_the_unknown_and_say_so(world: World) -> None:
    week = weeks_ahead()[2]
    stale = organisation(world, "A stale full", "3584")
    fill(stale, week, families=8)
    IntakeWeek.objects.filter(organisation=stale).update(confirmed_at=timezone.now() - timedelta(days=8))
    fresh_minimum = organisation(world, "B fresh minimum", "3584")
    fill(fresh_minimum, week, families=1, hours="minimum", minimum_hours=12)
    fresh_stop = organisation(world, "C fresh stop", "3584")
    fill(fresh_stop, week, families=0, status="stop", reason="full")
    options = intake_for("3584", week)
    assert names(options) == ["B fresh minimum", "A stale full", "C fresh stop"]
    stale_option = options[1]
    # The figures are still shown, flagged: the midwife phones to check.
    assert (stale_option.stale, stale_option.state, stale_option.rank) == (True, IntakeState.FULL, 2)
    # Seven days exactly is not stale yet; a moment later it is.
    confirmed = IntakeWeek.objects.get(organisation=stale).confirmed_at
    assert not intake_for("3584", week, now=confirmed + timedelta(days=7))[0].stale
    assert intake_for("3584", week, now=confirmed + timedelta(days=7, seconds=1))[1].stale


def test_none_filled_in_all_unknown_by_name(world: World) -> None:
    week = weeks_ahead()[4]
    for name in ("Zeist", "Amersfoort", "bilthoven"):
        organisation(world, name, "3731")
    options = intake_for("3731", week)
    assert names(options) == ["Amersfoort", "bilthoven", "Zeist"]
    assert {(o.state, o.rank, o.row) for o in options} == {(IntakeState.UNKNOWN, 2, None)}


def test_the_entry_names_the_team_and_whether_it_is_synthetic(world: World) -> None:
    week = weeks_ahead()[0]
    team = Team.objects.create(organisation=world.kraamzorg, name="Noord")
    WorkArea.objects.create(organisation=world.kraamzorg, pc4="3584", team=team)
    organisation(world, "Kraamzorg Echt", "3584")
    by_name = {o.name: o for o in intake_for("3584", week)}
    assert (by_name["Kraamzorg Synthetisch Utrecht"].team, by_name["Kraamzorg Synthetisch Utrecht"].synthetic) == (
        "Noord",
        True,
    )
    assert (by_name["Kraamzorg Echt"].team, by_name["Kraamzorg Echt"].synthetic) == ("", False)
    # The call link is the organisation's intake number, when it has one.
    assert by_name["Kraamzorg Echt"].phone_href == ""
    world.kraamzorg.phone = "030 250 9111"
    world.kraamzorg.full_clean()
    world.kraamzorg.save()
    by_name = {o.name: o for o in intake_for("3584", week)}
    option = by_name["Kraamzorg Synthetisch Utrecht"]
    assert (option.phone, option.phone_href) == ("030 250 9111", "tel:+31302509111")


def test_one_lookup_is_two_queries_however_many_organisations(world: World) -> None:
    week = weeks_ahead()[0]
    for n in range(12):
        fill(organisation(world, f"Org {n:02}", "3584"), week, families=n % 4)
    with CaptureQueriesContext(connection) as queries:
        options = intake_for("3584", week)
        [(o.state, o.rank, o.synthetic) for o in options]
    assert len(options) == 12 and len(queries) == 2


def test_the_fingerprint_changes_with_the_weeks_figures_only(world: World) -> None:
    weeks = weeks_ahead()
    org = organisation(world, "Print", "3584")
    before = intake_fingerprint([org.pk], weeks[0])
    fill(org, weeks[1])  # another week
    assert intake_fingerprint([org.pk], weeks[0]) == before
    fill(org, weeks[0])
    assert intake_fingerprint([org.pk], weeks[0]) != before


def test_the_due_weeks_answered_are_this_dutch_week_and_43_more() -> None:
    sunday_late = datetime(2026, 12, 6, 22, 30, tzinfo=UTC)  # Sunday 23:30 in Amsterdam
    assert due_week_range(sunday_late) == (date(2026, 11, 30), date(2026, 11, 30) + timedelta(weeks=43))
    assert due_week_range(sunday_late + timedelta(hours=1))[0] == date(2026, 12, 7)
