"""Demo accounts for every role and a lively board, on top of the reference data."""

from __future__ import annotations

import base64
import random
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from capacity.models import Unit
from capacity.services import CapacityChange, unit_update_capacity
from hospitals import mfa
from hospitals.models import VSV, Location, Organisation, Region, User

DEMO_PASSWORD = "demo-wachtwoord-2026"  # noqa: S105 - printed for the demo; never used in production
DEMO_REGION = "midden-nederland"
DEMO_LOCATION = "umc-utrecht-wkz"
# The authenticator secret (base32) of every demo account that needs a second factor when MFA is
# enforced (docs/security.md): add it to an authenticator app by hand or with the printed otpauth URI.
DEMO_TOTP_SECRET = "GEBOORTEZORGDEMOGEBOORTEZORGDEMO"  # noqa: S105 - printed for the demo; never used in production


class Command(BaseCommand):
    help = "Create one demo account per role and give every unit plausible current figures."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--seed", type=int, default=2026)

    def handle(self, *args: Any, seed: int, **options: Any) -> None:
        rng = random.Random(seed)  # noqa: S311 - demo data, not security
        region = Region.objects.filter(code=DEMO_REGION).first()
        location = (
            Location.objects.filter(slug=DEMO_LOCATION).first()
            or Location.objects.filter(region=region, neonatal_level=Location.NeonatalLevel.NICU).first()
        )
        if region is None or location is None:
            raise CommandError("Load the reference data first: python manage.py load_reference_data")
        with transaction.atomic():
            practice, _ = Organisation.objects.get_or_create(
                name="Verloskundigenpraktijk De Bilt (demo)",
                defaults={"kind": Organisation.Kind.MIDWIFERY_PRACTICE, "region": region, "pc4": "3731"},
            )
            # A synthetic kraamzorg organisation (no sourced list of kraamzorg organisations ships:
            # docs/kraamzorg.md), labelled as such, serving the practice's own postcode area.
            kraamzorg, _ = Organisation.objects.get_or_create(
                name="Kraamzorg De Bilt (synthetisch)",
                defaults={"kind": Organisation.Kind.KRAAMZORG, "region": region, "pc4": "3731", "synthetic": True},
            )
            # Demo VSVs, one per city of the demo region, marked as such: no list of the VSVs and
            # their hospitals could be sourced, so none ships with the reference data.
            for loc in Location.objects.filter(region=region, vsv__isnull=True, active=True):
                vsv, _ = VSV.objects.get_or_create(name=f"VSV {loc.city} (demo)", defaults={"region": region})
                loc.vsv = vsv
                loc.save(update_fields=["vsv"])
            accounts: list[tuple[str, str, dict[str, Any]]] = [
                ("verpleegkundige", User.Role.HOSPITAL_STAFF, {"organisation": location.organisation}),
                ("verloskundige", User.Role.MIDWIFE, {"organisation": practice}),
                ("praktijkbeheerder", User.Role.ORG_ADMIN, {"organisation": practice}),
                ("coordinator", User.Role.COORDINATOR, {"region": region}),
                ("beheerder", User.Role.ORG_ADMIN, {"organisation": location.organisation}),
                ("landelijk", User.Role.NATIONAL_ADMIN, {"is_staff": True, "is_superuser": True}),
                ("kraamzorgplanner", User.Role.KRAAMZORG_PLANNER, {"organisation": kraamzorg}),
            ]
            for username, role, extra in accounts:
                user, _ = User.objects.update_or_create(
                    username=username, defaults={"role": role, "email": f"{username}@example.org", **extra}
                )
                user.set_password(DEMO_PASSWORD)
                user.save()
                if role == User.Role.HOSPITAL_STAFF:
                    user.locations.set([location])
            demo_users = User.objects.filter(username__in=[username for username, _role, _extra in accounts])
            with_second_factor = [user for user in demo_users.order_by("pk") if mfa.is_required(user)]
            devices = [demo_device(user) for user in with_second_factor]
        self._liven_units(rng)
        self.stdout.write(self.style.SUCCESS(f"Demo accounts (password for all: {DEMO_PASSWORD}):"))
        for username, role, _extra in accounts:
            self.stdout.write(f"  {username:16} {User.Role(role).label}")
        if devices:
            names = ", ".join(user.username for user in with_second_factor)
            self.stdout.write(self.style.SUCCESS(f"Second factor (MFA_ENFORCED) for {names}:"))
            self.stdout.write(f"  authenticator secret for all: {DEMO_TOTP_SECRET}")
            for device in devices:
                self.stdout.write(f"  {device.config_url}")
        elif not settings.MFA_ENFORCED:
            self.stdout.write("No second factor: MFA_ENFORCED is off (embedded demo).")

    def _liven_units(self, rng: random.Random) -> None:
        """Plausible figures: mostly room, some full, a few stops; some figures hours old."""
        now = timezone.now()
        for unit in Unit.objects.all():
            roll = rng.random()
            if roll < 0.08:
                change = CapacityChange(
                    staffed_total=unit.staffed_total,
                    available=0,
                    status=Unit.Status.STOP,
                    stop_reason=rng.choice([Unit.StopReason.BEDS, Unit.StopReason.STAFF]),
                    stop_expected_end=now + timedelta(hours=rng.randint(1, 8)),
                )
            else:
                free = 0 if roll < 0.25 else (1 if roll < 0.45 else rng.randint(2, max(2, unit.staffed_total)))
                free = min(free, unit.staffed_total)
                status = Unit.Status.LIMITED if roll < 0.3 else Unit.Status.OPEN
                change = CapacityChange(staffed_total=unit.staffed_total, available=free, status=status)
            unit_update_capacity(unit_id=unit.pk, by=None, change=change, expected_version=None, source="system")
            # Some hospitals enter figures by hand and forget: leave those hours old.
            if rng.random() < 0.12:
                Unit.objects.filter(pk=unit.pk).update(confirmed_at=now - timedelta(hours=rng.randint(5, 12)))


def demo_device(user: User) -> TOTPDevice:
    """The demo account's authenticator, always with the documented demo secret."""
    key = base64.b32decode(DEMO_TOTP_SECRET).hex()
    device = TOTPDevice.objects.filter(user=user, confirmed=True, key=key).first()
    if device is None:
        TOTPDevice.objects.filter(user=user).delete()
        device = TOTPDevice.objects.create(user=user, name="demo", key=key, confirmed=True)
    return device
