"""seed_demo_requests: the demo has one placement request waiting on the demo hospital's desk, once."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from capacity.models import Unit
from hospitals.models import Location
from placements.models import PlacementRequest
from placements.selectors import desk
from tests.test_seed_demo import reference  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db


def test_the_demo_midwife_asks_the_demo_hospital_once(reference: None) -> None:  # noqa: F811
    location = Location.objects.get()
    Unit.objects.create(location=location, kind=Unit.Kind.DELIVERY_SUITE, staffed_total=8, available=2)
    with pytest.raises(CommandError):
        call_command("seed_demo_requests", stdout=StringIO())  # before seed_demo: says what to run
    call_command("seed_demo", stdout=StringIO())
    call_command("seed_demo_requests", stdout=StringIO())
    call_command("seed_demo_requests", stdout=StringIO())
    request = PlacementRequest.objects.get()
    assert (request.midwife.username, request.state, request.urgency) == ("verloskundige", "sent", "planned")
    assert [r.pk for r in desk(location.pk).waiting] == [request.pk]
