"""A placement request in the demo, after ``seed_demo``: the demo midwife asks the demo hospital.

So that the staff's desk (``verpleegkundige``: *Verzoeken*, and above *Mijn afdelingen*) and the
midwife's *Mijn verzoeken* (``verloskundige``) show one, live. It is planned (an hour to answer):
answer it, or let it expire and see the coordinator's alert.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from hospitals.models import Location, User
from placements.models import PlacementRequest
from placements.services import PlacementInput, placement_send

DEMO_MIDWIFE = "verloskundige"
DEMO_LOCATION = "umc-utrecht-wkz"
DEMO_CALLBACK = "06 1234 5678"


class Command(BaseCommand):
    help = "Send one demo placement request from the demo midwife to the demo hospital (after seed_demo)."

    def handle(self, *args: Any, **options: Any) -> None:
        midwife = User.objects.filter(username=DEMO_MIDWIFE, role=User.Role.MIDWIFE).first()
        location = Location.objects.filter(slug=DEMO_LOCATION).first()
        if midwife is None or location is None:
            raise CommandError("Run seed_demo first.")
        if PlacementRequest.objects.filter(midwife=midwife, state__in=("sent", "seen")).exists():
            self.stdout.write("The demo midwife has an open placement request already.")
            return
        request = placement_send(
            by=midwife,
            data=PlacementInput(
                location_id=location.pk,
                care_type="overdracht",
                urgency=PlacementRequest.Urgency.PLANNED,
                expected_arrival=timezone.now() + timedelta(minutes=90),
                callback_phone=DEMO_CALLBACK,
                gestational_weeks=39,
            ),
        )
        self.stdout.write(
            self.style.SUCCESS(f"Demo placement request to {location.name}: answer it as verpleegkundige.")
        )
        self.stdout.write(f"  answer needed by {timezone.localtime(request.deadline):%H:%M}")
