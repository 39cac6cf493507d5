"""Shared personas and a small region to test against (healthchecks' hc/test.py in spirit)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from pytest_django import DjangoDbBlocker, Settings

from capacity import live
from capacity.models import Unit
from hospitals.models import Location, Organisation, Region, User

PASSWORD = "correct-horse-battery-staple"


@dataclass
class World:
    region: Region
    other_region: Region
    hospital: Organisation
    location: Location
    other_location: Location
    far_location: Location
    unit: Unit
    nicu: Unit
    other_unit: Unit
    far_unit: Unit
    practice: Organisation
    staff: User
    other_staff: User
    midwife: User
    coordinator: User
    org_admin: User
    national_admin: User
    no_role: User
    kraamzorg: Organisation  # synthetic
    planner: User

    def personas(self) -> dict[str, User]:
        return {
            "staff": self.staff,
            "other_staff": self.other_staff,
            "midwife": self.midwife,
            "coordinator": self.coordinator,
            "org_admin": self.org_admin,
            "national_admin": self.national_admin,
            "no_role": self.no_role,
            "planner": self.planner,
        }


def make_world() -> World:
    region = Region.objects.create(code="midden", name="Midden-Nederland")
    other_region = Region.objects.create(code="west", name="ROAZ West")
    hospital = Organisation.objects.create(name="UMC Utrecht", kind=Organisation.Kind.HOSPITAL, region=region)
    other_hospital = Organisation.objects.create(name="Diakonessenhuis", kind=Organisation.Kind.HOSPITAL, region=region)
    far_hospital = Organisation.objects.create(name="LUMC", kind=Organisation.Kind.HOSPITAL, region=other_region)
    practice = Organisation.objects.create(
        name="Praktijk De Bilt", kind=Organisation.Kind.MIDWIFERY_PRACTICE, region=region, pc4="3731"
    )

    def loc(slug: str, name: str, org: Organisation, reg: Region, level: int, lat: float, lon: float) -> Location:
        return Location.objects.create(
            slug=slug,
            name=name,
            organisation=org,
            region=reg,
            city=name.split()[-1],
            latitude=lat,
            longitude=lon,
            neonatal_level=level,
        )

    location = loc("wkz", "WKZ Utrecht", hospital, region, 3, 52.087, 5.18)
    other_location = loc("diak", "Diakonessenhuis Utrecht", other_hospital, region, 1, 52.08, 5.14)
    far_location = loc("lumc", "LUMC Leiden", far_hospital, other_region, 3, 52.166, 4.478)
    unit = Unit.objects.create(location=location, kind=Unit.Kind.DELIVERY_SUITE, staffed_total=10, available=4)
    nicu = Unit.objects.create(location=location, kind=Unit.Kind.NICU, staffed_total=24, available=2)
    other_unit = Unit.objects.create(
        location=other_location, kind=Unit.Kind.DELIVERY_SUITE, staffed_total=6, available=1
    )
    far_unit = Unit.objects.create(location=far_location, kind=Unit.Kind.DELIVERY_SUITE, staffed_total=8, available=3)

    def user(username: str, role: str, **extra: object) -> User:
        return User.objects.create_user(
            username=username, password=PASSWORD, role=role, email=f"{username}@example.org", **extra
        )

    staff = user("staff", User.Role.HOSPITAL_STAFF, organisation=hospital)
    staff.locations.set([location])
    other_staff = user("other_staff", User.Role.HOSPITAL_STAFF, organisation=other_hospital)
    other_staff.locations.set([other_location])
    kraamzorg = Organisation.objects.create(
        name="Kraamzorg Synthetisch Utrecht", kind=Organisation.Kind.KRAAMZORG, region=region, synthetic=True
    )
    return World(
        region=region,
        other_region=other_region,
        hospital=hospital,
        location=location,
        other_location=other_location,
        far_location=far_location,
        unit=unit,
        nicu=nicu,
        other_unit=other_unit,
        far_unit=far_unit,
        practice=practice,
        staff=staff,
        other_staff=other_staff,
        midwife=user("midwife", User.Role.MIDWIFE, organisation=practice),
        coordinator=user("coordinator", User.Role.COORDINATOR, region=region),
        org_admin=user("org_admin", User.Role.ORG_ADMIN, organisation=hospital),
        national_admin=user("national_admin", User.Role.NATIONAL_ADMIN, is_staff=True),
        no_role=user("no_role", ""),
        kraamzorg=kraamzorg,
        planner=user("planner", User.Role.KRAAMZORG_PLANNER, organisation=kraamzorg),
    )


@pytest.fixture(autouse=True)
def fast_passwords(settings: Settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def fresh_channel_layer() -> None:
    """A new channel-layer instance per test.

    Each async test runs on its own event loop, while Channels keeps one layer object per
    process. channels-redis binds locks inside that object to the loop that first used
    them, so a test that inherits the layer of an earlier test can fail with "Lock is
    bound to a different event loop" (seen now and then on the alert sockets).
    """
    from channels.layers import channel_layers

    channel_layers.backends.clear()


@pytest.fixture(autouse=True)
def private_cache(settings: Settings) -> None:
    """A fresh in-process cache per test: API rate-limit counters never leak between tests."""
    import uuid

    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": uuid.uuid4().hex}
    }


@pytest.fixture(autouse=True)
def no_outage_carried_over() -> None:
    """Outage logs (core/logs.py) keep state per process: a test's Redis outage must not silence the next."""
    from core.logs import reset_outage_logs

    reset_outage_logs()


@pytest.fixture(autouse=True)
def default_language() -> Iterator[None]:
    """Each test starts in the site's default language: a request through the test client leaves the
    language it negotiated active in this thread (LocaleMiddleware does not reset it)."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def second_factor_off(settings: Settings) -> None:
    """The suite runs with DATABASE_URL set, where MFA_ENFORCED defaults to on: off here (and for the
    live servers, tests/live_server.py), so tests log in with a password alone. The second factor's own
    tests turn it on (tests/test_security_mfa.py, tests/test_e2e_mfa.py)."""
    settings.MFA_ENFORCED = False


@pytest.fixture
def world(db: None) -> World:
    return make_world()


@pytest.fixture
def client_for(client: Client) -> Callable[[User], Client]:
    def login(user: User) -> Client:
        client.force_login(user)
        return client

    return login


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every event handed to the hub, in order (the transport itself is tested in test_consumers)."""
    events: list[dict[str, Any]] = []
    original = live.hub.publish

    def record(event: dict[str, Any]) -> None:
        events.append(event)
        original(event)

    monkeypatch.setattr(live.hub, "publish", record)
    return events


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: DjangoDbBlocker) -> Iterator[None]:
    """Let the test database be dropped at the end.

    Consumers run ORM code in asgiref's worker threads (database_sync_to_async); those
    threads outlive the tests and keep their connections, so PostgreSQL refuses to drop
    the database and the next run finds it still there.
    """
    yield
    with django_db_blocker.unblock():
        from django.db import connection

        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )


# How many access-log entries the suite wrote in this process (docs/security.md, "Access log"): counted
# as they are written, since every test's database is rolled back or flushed afterwards.
ACCESS_LOG_WRITES = {"count": 0}


def _count_access_log(sender: Any, created: bool = False, **kwargs: Any) -> None:
    if created:
        ACCESS_LOG_WRITES["count"] += 1


def pytest_configure(config: pytest.Config) -> None:
    # tests/test_topology.py: HAProxy + three uvicorn processes (tools/topology.py); `-m topology` selects them.
    config.addinivalue_line("markers", "topology: runs against the HAProxy topology of tools/topology.py")


def pytest_sessionstart(session: pytest.Session) -> None:
    from django.db.models.signals import post_save

    from hospitals.models import AccessLog

    post_save.connect(_count_access_log, sender=AccessLog, weak=False, dispatch_uid="count-access-log")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    terminalreporter.write_line(f"access-log entries written by this run's test process: {ACCESS_LOG_WRITES['count']}")


@dataclass
class Kraamzorg:
    organisation: Organisation
    planner: User
    other_planner: User  # of another kraamzorg organisation


@pytest.fixture
def kz(world: World) -> Kraamzorg:
    """The world's kraamzorg organisation (synthetic), its planner, and another organisation's planner."""
    other = Organisation.objects.create(
        name="Kraamzorg Synthetisch Amersfoort", kind=Organisation.Kind.KRAAMZORG, region=world.region, synthetic=True
    )
    other_planner = User.objects.create_user(
        username="other_planner", role=User.Role.KRAAMZORG_PLANNER, organisation=other
    )
    return Kraamzorg(world.kraamzorg, world.planner, other_planner)
