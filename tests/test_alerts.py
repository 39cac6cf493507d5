"""Spike alerts: raised once per episode, ended when over, recorded, e-mailed (and who may opt out), acknowledged."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.core.mail.backends import locmem
from django.db import IntegrityError, connections, transaction
from django.utils import timezone

from capacity.models import Unit
from hospitals.models import AccessLog, Location, User
from hospitals.services import user_set_alert_emails
from refusals import alerts
from refusals.models import Alert, Refusal
from tests.conftest import World


def refuse(world: World, minutes_ago: int, **kw: Any) -> Refusal:
    values: dict[str, Any] = {
        "occurred_at": timezone.now() - timedelta(minutes=minutes_ago),
        "location": world.location,
        "region": world.location.region,
        "care_type": "overdracht",
        "reason": "no_delivery_room",
        "outcome": "home",
        "registered_by": world.midwife,
    }
    values.update(kw)
    return Refusal.objects.create(**values)


@pytest.fixture
def run(django_capture_on_commit_callbacks: Any) -> Callable[..., dict[str, int]]:
    """One beat tick, with its after-commit notifications executed."""

    def tick(**kw: Any) -> dict[str, int]:
        with django_capture_on_commit_callbacks(execute=True):
            return alerts.run(**kw)

    return tick


def test_three_refusals_at_one_location_within_six_hours_raise_one_alert(world: World, run) -> None:
    refuse(world, 300)
    refuse(world, 60)
    refuse(world, 20, location=world.other_location)  # another location of the region
    assert run() == {"raised": 0, "ended": 0}
    third = refuse(world, 5)

    assert run()["raised"] == 1
    alert = Alert.objects.get()
    assert (alert.kind, alert.location, alert.count) == ("location_spike", world.location, 3)
    assert alert.region == world.region
    assert third.pk in alert.detail["refusals"] and alert.detail["threshold"] == 3
    assert alert.acknowledged_at is None and alert.ended_at is None and alert.emailed_at is not None
    # One e-mail, to the region's coordinator and the national administrator (both in Bcc), in Dutch.
    [message] = mail.outbox
    assert message.to == [] and message.bcc == [world.coordinator.email, world.national_admin.email]
    assert "WKZ Utrecht" in message.subject and "3 weigeringen" in message.subject
    assert "/statistics/midden/" in message.body

    # The next ticks, and a fourth refusal in the same episode, raise nothing more.
    refuse(world, 1)
    assert run()["raised"] == 0
    assert run()["raised"] == 0
    assert Alert.objects.count() == 1 and len(mail.outbox) == 1


def test_withdrawn_and_old_refusals_do_not_count(world: World, run) -> None:
    refuse(world, 10)
    refuse(world, 10, withdrawn_at=timezone.now())
    refuse(world, 7 * 60)  # outside the 6-hour window
    assert run()["raised"] == 0
    assert not Alert.objects.exists() and mail.outbox == []


def test_thresholds_are_configurable(world: World, run, settings) -> None:
    settings.REFUSAL_ALERT_SPIKE_COUNT = 2
    settings.REFUSAL_ALERT_SPIKE_WINDOW = timedelta(hours=1)
    refuse(world, 90)
    refuse(world, 10)
    assert run()["raised"] == 0  # the first lies outside the hour
    refuse(world, 5)
    assert run()["raised"] == 1
    assert Alert.objects.get().detail["window_hours"] == 1.0
    settings.REFUSAL_ALERT_SPIKE_COUNT = 0  # off: the open episode ends, nothing new is raised
    assert run() == {"raised": 0, "ended": 1}


def test_spike_episode_ends_after_a_quiet_window_and_can_be_raised_again(world: World, run) -> None:
    for minutes in (30, 20, 10):
        refuse(world, minutes)
    later = timezone.now() + timedelta(hours=5, minutes=45)
    assert run()["raised"] == 1
    # 5¾ hours on, one refusal of the episode still lies in the window: it stays open.
    assert run(now=later) == {"raised": 0, "ended": 0}
    # Six quiet hours after the last refusal: over.
    assert run(now=timezone.now() + timedelta(hours=6, minutes=1))["ended"] == 1
    first = Alert.objects.get()
    assert first.ended_at is not None
    # A new spike later is a new episode, raised and e-mailed again.
    Refusal.objects.all().delete()
    for minutes in (3, 2, 1):
        refuse(world, minutes)
    assert run()["raised"] == 1
    assert Alert.objects.count() == 2 and len(mail.outbox) == 2


def stop(unit: Unit) -> None:
    Unit.objects.filter(pk=unit.pk).update(status=Unit.Status.STOP, stop_reason=Unit.StopReason.STAFF, available=0)


def test_several_locations_of_a_region_in_admission_stop(world: World, run) -> None:
    stop(world.unit)
    stop(world.far_unit)  # another region: does not add up with this one
    assert run()["raised"] == 0
    stop(world.other_unit)
    assert run()["raised"] == 1
    alert = Alert.objects.get()
    assert (alert.kind, alert.region, alert.location, alert.count) == ("region_stops", world.region, None, 2)
    assert sorted(alert.detail["locations"]) == sorted([world.location.pk, world.other_location.pk])
    [message] = mail.outbox
    assert "Diakonessenhuis Utrecht" in message.body and "WKZ Utrecht" in message.body
    assert run()["raised"] == 0
    # One location reopens: the episode is over.
    Unit.objects.filter(pk=world.unit.pk).update(status=Unit.Status.OPEN, stop_reason="")
    assert run() == {"raised": 0, "ended": 1}


def test_a_neonatal_stop_alone_does_not_count(world: World, run) -> None:
    stop(world.nicu)
    stop(world.other_unit)
    assert run()["raised"] == 0


def test_a_delivery_suite_without_24_7_obstetrics_does_not_count(world: World, run) -> None:
    """The one obstetric rule (Unit.obstetric_filter), as on the board and in the search."""
    Location.objects.filter(pk=world.other_location.pk).update(acute_obstetrics=False)
    stop(world.unit)
    stop(world.other_unit)
    assert run()["raised"] == 0


def test_one_open_alert_per_subject_is_a_database_rule(world: World) -> None:
    Alert.objects.create(kind="location_spike", key="spike:location:1", region=world.region, count=3)
    with pytest.raises(IntegrityError), transaction.atomic():
        Alert.objects.create(kind="location_spike", key="spike:location:1", region=world.region, count=4)
    Alert.objects.update(ended_at=timezone.now())
    Alert.objects.create(kind="location_spike", key="spike:location:1", region=world.region, count=5)  # a new episode


def test_no_e_mail_without_address_and_no_other_recipients(world: World, run) -> None:
    world.coordinator.email = ""
    world.coordinator.save()
    for minutes in (3, 2, 1):
        refuse(world, minutes)
    assert run()["raised"] == 1
    [message] = mail.outbox  # nobody else (midwife, staff, organisation administrator) is written to
    assert message.bcc == [world.national_admin.email]
    User.objects.filter(pk=world.national_admin.pk).update(email="")
    alerts.notify(raise_other_alert(world).pk)
    assert len(mail.outbox) == 1  # nobody with an address: nothing sent


def raise_other_alert(world: World) -> Alert:
    """An open alert in the other region (ROAZ West), not yet e-mailed."""
    return Alert.objects.create(
        kind=Alert.Kind.LOCATION_SPIKE,
        key=alerts.spike_key(world.far_location.pk),
        region=world.other_region,
        location=world.far_location,
        count=3,
        detail={"refusals": [], "threshold": 3, "window_hours": 6},
    )


def test_national_admin_gets_the_e_mail_of_an_alert_in_any_region(world: World) -> None:
    alert = raise_other_alert(world)
    alerts.notify(alert.pk)
    [message] = mail.outbox
    # Not the coordinator of Midden-Nederland: the alert is West's, which has no coordinator here.
    assert message.bcc == [world.national_admin.email]
    assert "ROAZ West" in message.subject and "LUMC Leiden" in message.subject


def test_coordinators_of_another_region_are_not_written_to(world: World) -> None:
    west = User.objects.create_user(
        username="west", password="x" * 14, role=User.Role.COORDINATOR, region=world.other_region, email="w@example.org"
    )
    alerts.notify(raise_other_alert(world).pk)
    assert [m.bcc for m in mail.outbox] == [[world.national_admin.email, west.email]]


def test_every_active_national_admin_who_wants_it(world: World) -> None:
    def admin(username: str, **kw: object) -> User:
        return User.objects.create_user(
            username=username, password="x" * 14, role=User.Role.NATIONAL_ADMIN, email=f"{username}@example.org", **kw
        )

    admin("second")
    admin("opted_out", alert_emails=False)
    admin("gone", is_active=False)
    User.objects.create_user(username="super", password="x" * 14, is_superuser=True, email="super@example.org")
    alerts.notify(raise_other_alert(world).pk)
    assert [m.bcc for m in mail.outbox] == [["national_admin@example.org", "second@example.org"]]


def test_opted_out_national_admin_and_coordinator_get_no_e_mail_but_keep_the_banner(
    world: World, run, published_alerts: list[int]
) -> None:
    User.objects.filter(pk__in=[world.national_admin.pk, world.coordinator.pk]).update(alert_emails=False)
    for minutes in (3, 2, 1):
        refuse(world, minutes)
    assert run()["raised"] == 1
    assert mail.outbox == []
    assert published_alerts == [world.region.pk]  # the banner is pushed regardless
    User.objects.filter(pk=world.coordinator.pk).update(alert_emails=True)
    alerts.notify(raise_other_alert(world).pk)
    assert mail.outbox == []  # West's alert: the coordinator of Midden is not written to either


def test_recipients_do_not_see_each_other(world: World) -> None:
    alerts.notify(raise_alert_in_midden(world).pk)
    [message] = mail.outbox
    assert message.to == [] and message.cc == []
    assert sorted(message.recipients()) == sorted([world.coordinator.email, world.national_admin.email])
    sent = message.message()
    assert sent["To"] == "undisclosed-recipients:;" and sent["Bcc"] is None and sent["Cc"] is None
    text = sent.as_string()
    assert world.coordinator.email not in text and world.national_admin.email not in text


def raise_alert_in_midden(world: World) -> Alert:
    return Alert.objects.create(
        kind=Alert.Kind.LOCATION_SPIKE,
        key=alerts.spike_key(world.location.pk),
        region=world.region,
        location=world.location,
        count=3,
        detail={"refusals": [], "threshold": 3, "window_hours": 6},
    )


@pytest.fixture
def published_alerts(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The regions whose banner notify pushed (the push itself: tests/test_consumers_refusals.py)."""
    regions: list[int] = []
    monkeypatch.setattr(alerts.live, "alerts_changed", regions.append)
    return regions


def test_failed_e_mail_is_logged_and_can_be_retried(world: World, run, monkeypatch, caplog) -> None:
    def broken(*_a: object, **_k: object) -> None:
        raise OSError("smtp down")

    monkeypatch.setattr(locmem.EmailBackend, "send_messages", broken)
    for minutes in (3, 2, 1):
        refuse(world, minutes)
    assert run()["raised"] == 1
    alert = Alert.objects.get()
    assert alert.emailed_at is None and "e-mail for alert" in caplog.text
    monkeypatch.undo()
    alerts.notify(alert.pk)
    assert len(mail.outbox) == 1
    alerts.notify(alert.pk)  # claimed: not sent twice
    assert len(mail.outbox) == 1


def test_switching_alert_emails_off_and_on_is_recorded(world: World) -> None:
    def changes() -> list[AccessLog]:
        return list(AccessLog.objects.filter(action=AccessLog.Action.ACCOUNT_CHANGE).order_by("at", "id"))

    user = user_set_alert_emails(user=world.national_admin, on=False, by=world.national_admin)
    world.national_admin.refresh_from_db()
    assert user.alert_emails is False and world.national_admin.alert_emails is False
    [entry] = changes()
    assert (entry.user, entry.username, entry.role, entry.what, entry.object_id) == (
        world.national_admin,
        "national_admin",
        "national_admin",
        "account",
        str(world.national_admin.pk),
    )
    assert entry.scope == "change=changed username=national_admin alert_emails=True->False"
    user_set_alert_emails(user=world.national_admin, on=False, by=world.national_admin)
    assert len(changes()) == 1  # already off: nothing happened, nothing to record
    user_set_alert_emails(user=world.coordinator, on=False, by=world.coordinator)
    user_set_alert_emails(user=world.coordinator, on=True, by=world.coordinator)
    assert [e.scope.split()[-1] for e in changes()] == [
        "alert_emails=True->False",
        "alert_emails=True->False",
        "alert_emails=False->True",
    ]
    assert [e.username for e in changes()] == ["national_admin", "coordinator", "coordinator"]


@pytest.mark.parametrize(
    ("by", "account"),
    [
        ("coordinator", "national_admin"),  # someone else's inbox
        ("national_admin", "coordinator"),
        ("midwife", "midwife"),  # roles that get no alerts
        ("staff", "staff"),
        ("org_admin", "org_admin"),
        ("no_role", "no_role"),
    ],
)
def test_only_the_owner_with_an_alert_role_may_switch(world: World, by: str, account: str) -> None:
    people = world.personas()
    with pytest.raises(PermissionDenied):
        user_set_alert_emails(user=people[account], on=False, by=people[by])
    assert User.objects.get(pk=people[account].pk).alert_emails is True
    assert not AccessLog.objects.filter(action=AccessLog.Action.ACCOUNT_CHANGE).exists()


EMBEDDED_BEAT_SCRIPT = """
import json, time
import config.asgi  # the web process, as uvicorn loads it
from celery.signals import task_prerun
from django.conf import settings
from capacity import staleness
from core import embedded
from hospitals import audit
from refusals import aggregation, alerts
ran = set()
task_prerun.connect(lambda sender=None, **kw: ran.add(sender.name), weak=False)
staleness.run = aggregation.sweep = alerts.run = lambda *a, **k: {}  # the clock only, no database
audit.purge_expired = lambda *a, **k: 0
from placements import services as placement_services
placement_services.placement_expire_due = lambda *a, **k: 0
from kraamzorg import reminders
reminders.run = lambda *a, **k: {}
from kraamzorg import aggregation as kraamzorg_aggregation
kraamzorg_aggregation.sweep = lambda *a, **k: {}
settings.EMBEDDED_BEAT = True
embedded.start_periodic_tasks()
time.sleep(2.5)
print(json.dumps(sorted(ran)))
"""


def test_embedded_beat_runs_every_entry_in_a_fresh_web_process() -> None:
    """In a web process no worker's autodiscovery ran: the embedded beat must still find every task."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        EMBEDDED_BEAT="false",  # started by the script, after the task bodies are stubbed
        STALENESS_CHECK_SECONDS="1",
        REFUSAL_SWEEP_SECONDS="1",
        REFUSAL_ALERT_CHECK_SECONDS="1",
        ACCESS_LOG_PURGE_SECONDS="1",
        PLACEMENT_SWEEP_SECONDS="1",
        KRAAMZORG_REMINDER_CHECK_SECONDS="1",
        KRAAMZORG_SHORTAGE_SWEEP_SECONDS="1",
    )
    out = subprocess.run(  # noqa: S603 - our own interpreter and a fixed script
        [sys.executable, "-c", EMBEDDED_BEAT_SCRIPT], capture_output=True, text=True, env=env, timeout=60
    )
    assert out.returncode == 0, out.stderr[-2000:]
    ran = json.loads(out.stdout.strip().splitlines()[-1])
    assert ran == sorted(str(entry["task"]) for entry in settings.CELERY_BEAT_SCHEDULE.values()), out.stderr[-2000:]
    assert "refusals.tasks.check_alerts" in ran
    assert settings.CELERY_BEAT_SCHEDULE["refusals-alerts"] == {"task": "refusals.tasks.check_alerts", "schedule": 60}


@pytest.mark.django_db(transaction=True)
def test_overlapping_beats_raise_and_mail_once(world: World) -> None:
    """Several beat ticks at the same moment, each on its own PostgreSQL connection."""
    if connections["default"].vendor != "postgresql":
        pytest.skip("needs PostgreSQL: concurrent writers")
    for minutes in (3, 2, 1):
        refuse(world, minutes)
    stop(world.unit)
    stop(world.other_unit)
    barrier = threading.Barrier(4)
    results: list[dict[str, int]] = []
    errors: list[BaseException] = []

    def tick() -> None:
        try:
            barrier.wait()
            results.append(alerts.run())
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=tick) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert sum(r["raised"] for r in results) == 2
    assert sorted(Alert.objects.values_list("kind", flat=True)) == ["location_spike", "region_stops"]
    assert len(mail.outbox) == 2
