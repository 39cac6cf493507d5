"""seed_demo_kraamzorg: synthetic kraamzorg organisations labelled as such in every region, serving every
postcode area, with planners, twelve weeks of intake through the planner's service, and shortages."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from hospitals.models import Organisation, Postcode, Region, User
from kraamzorg.models import IntakeEvent, IntakeWeek, Shortage, WorkArea

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def reference() -> None:
    call_command("load_reference_data", stdout=StringIO())
    call_command("seed_demo", stdout=StringIO())


def seed() -> str:
    out = StringIO()
    call_command("seed_demo_kraamzorg", "--shortages", "5", stdout=out)
    return out.getvalue()


def test_every_region_has_synthetic_kraamzorg_serving_every_postcode(reference: None) -> None:
    assert "synthetic" in seed()
    kraamzorg = Organisation.objects.filter(kind=Organisation.Kind.KRAAMZORG)
    assert set(kraamzorg.values_list("region", flat=True)) == set(Region.objects.values_list("pk", flat=True))
    assert all(o.synthetic and "(synthetisch)" in o.name for o in kraamzorg)  # labelled in the data and the UI
    assert all(o.phone_e164.startswith("+31800") for o in kraamzorg)  # made-up freephone numbers
    served = set(WorkArea.objects.values_list("pc4", flat=True))
    assert served == set(Postcode.objects.values_list("pc4", flat=True))
    # The README's demo planner has an area and weeks too.
    demo = Organisation.objects.get(members__username="kraamzorgplanner")
    assert demo.kraamzorg_areas.filter(pc4="3731").exists() and demo.intake_weeks.count() >= 9


def test_weeks_and_shortages_come_through_the_services_with_history(reference: None) -> None:
    seed()
    organisations = Organisation.objects.filter(kind=Organisation.Kind.KRAAMZORG)
    for organisation in organisations:
        planner = User.objects.get(organisation=organisation, role=User.Role.KRAAMZORG_PLANNER)
        weeks = IntakeWeek.objects.filter(organisation=organisation)
        assert 9 <= weeks.count() <= 12
        assert all(w.updated_by == planner for w in weeks)
    assert IntakeEvent.objects.count() == IntakeWeek.objects.count()
    assert {w.status for w in IntakeWeek.objects.all()} == {"open", "limited", "stop"}
    per_region = Shortage.objects.values("region").distinct().count()
    assert per_region == Region.objects.count() and Shortage.objects.count() == 5 * per_region
    assert all(s.promised_hours < s.indicated_hours and s.events.count() == 1 for s in Shortage.objects.all())


def test_a_second_run_refreshes_and_duplicates_nothing(reference: None) -> None:
    seed()
    counts = (Organisation.objects.count(), WorkArea.objects.count(), User.objects.count(), Shortage.objects.count())
    seed()
    assert (
        Organisation.objects.count(), WorkArea.objects.count(), User.objects.count(), Shortage.objects.count()
    ) == counts  # fmt: skip
    assert max(IntakeWeek.objects.values_list("version", flat=True)) == 2
