"""kraamzorg.reminders: planners are e-mailed about stale intake weeks, once per interval, claimed once."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.conf import settings
from django.core import mail
from django.core.mail import EmailMessage
from django.core.mail.backends.locmem import EmailBackend
from django.utils import timezone
from pytest_django import Settings

from hospitals.models import Organisation, User
from kraamzorg import reminders
from kraamzorg.models import IntakeReminder, IntakeWeek
from kraamzorg.services import IntakeChange, intake_week_set, weeks_ahead
from tests.conftest import Kraamzorg, World
from tests.test_concurrency import run_together

OPEN = IntakeChange(families=3, hours="full", status="open")


class SlowBackend(EmailBackend):
    """Takes a while, as a real mail server does: a second run overlapping the first has time to try."""

    def send_messages(self, messages: Sequence[EmailMessage]) -> int:
        time.sleep(0.5)
        return super().send_messages(messages)


class RefusingBackend(EmailBackend):
    def send_messages(self, messages: Sequence[EmailMessage]) -> int:
        raise ConnectionRefusedError("mail server down")


@pytest.fixture(autouse=True)
def in_english(settings: Settings) -> None:
    settings.LANGUAGE_CODE = "en"  # the e-mail's words below (it is written in the platform's language)
    settings.KRAAMZORG_REMINDER_INTERVAL = timedelta(hours=24)


def fill(organisation: Organisation, by: User, weeks: list[Any] | None = None, now: datetime | None = None) -> None:
    for week in weeks if weeks is not None else weeks_ahead(now):
        intake_week_set(by=by, organisation_id=organisation.pk, week=week, change=OPEN, expected_version=0, now=now)


@pytest.mark.django_db
def test_one_reminder_then_none_within_the_interval_then_again(
    world: World, kz: Kraamzorg, mailoutbox: list[EmailMessage]
) -> None:
    now = timezone.now()
    weeks = weeks_ahead(now)
    fill(kz.organisation, kz.planner, weeks[:11], now)  # the twelfth never filled in
    assert reminders.run(now) == {"organisations": 1, "recipients": 1}
    [message] = mailoutbox
    assert message.bcc == ["planner@example.org"] and message.to == []
    assert message.subject == "Please update the intake weeks of Kraamzorg Synthetisch Utrecht"
    assert f"Week {weeks[11]:%V}" in message.body and "not filled in yet" in message.body
    assert "1 of the coming 12 weeks" in message.body
    assert f"{settings.PUBLIC_BASE_URL}/kraamzorg/plan/" in message.body
    [reminder] = IntakeReminder.objects.all()
    assert (reminder.organisation, reminder.sent_at, reminder.weeks, reminder.recipients) == (
        kz.organisation,
        now,
        [weeks[11].isoformat()],
        1,
    )

    assert reminders.run(now + timedelta(hours=23, minutes=59)) == {"organisations": 0, "recipients": 0}
    assert len(mailoutbox) == 1 and IntakeReminder.objects.count() == 1

    later = now + timedelta(hours=24, minutes=1)
    assert reminders.run(later)["organisations"] == 1
    assert len(mailoutbox) == 2 and IntakeReminder.objects.count() == 2


@pytest.mark.django_db
def test_nothing_when_every_week_is_fresh_and_a_week_unconfirmed_for_eight_days_counts(
    world: World, kz: Kraamzorg, mailoutbox: list[EmailMessage]
) -> None:
    now = timezone.now()
    fill(kz.organisation, kz.planner, now=now)
    fill(kz.other_planner.organisation, kz.other_planner, now=now)  # type: ignore[arg-type]
    assert reminders.run(now) == {"organisations": 0, "recipients": 0}
    assert mailoutbox == [] and not IntakeReminder.objects.exists()

    old = weeks_ahead(now)[4]
    IntakeWeek.objects.filter(organisation=kz.organisation, week=old).update(confirmed_at=now - timedelta(days=8))
    assert reminders.run(now)["organisations"] == 1
    [message] = mailoutbox
    assert f"Week {old:%V}" in message.body and "not confirmed for more than 7 days" in message.body
    assert IntakeReminder.objects.get().weeks == [old.isoformat()]


@pytest.mark.django_db
def test_only_that_organisations_active_planners_with_an_address(
    world: World, kz: Kraamzorg, mailoutbox: list[EmailMessage]
) -> None:
    org = kz.organisation

    def person(username: str, role: str, organisation: Organisation, **extra: Any) -> User:
        return User.objects.create_user(
            username=username, role=role, organisation=organisation, email=f"{username}@example.org", **extra
        )

    person("second_planner", User.Role.KRAAMZORG_PLANNER, org)
    person("gone_planner", User.Role.KRAAMZORG_PLANNER, org, is_active=False)
    person("kz_admin", User.Role.ORG_ADMIN, org)
    User.objects.create_user(username="no_address", role=User.Role.KRAAMZORG_PLANNER, organisation=org)
    other = kz.other_planner.organisation
    assert other is not None
    User.objects.filter(pk=kz.other_planner.pk).update(email="other_planner@example.org")
    fresh = Organisation.objects.create(name="Kraamzorg Synthetisch Vers", kind="kraamzorg", region=world.region)
    fill(fresh, person("fresh_planner", User.Role.KRAAMZORG_PLANNER, fresh))
    # A kraamzorg organisation without an active planner with an address: nobody to write to.
    lonely = Organisation.objects.create(name="Kraamzorg Synthetisch Leeg", kind="kraamzorg", region=world.region)
    person("lonely_admin", User.Role.ORG_ADMIN, lonely)

    assert reminders.run() == {"organisations": 2, "recipients": 3}
    sent = {m.subject.rsplit(" of ", 1)[1]: sorted(m.bcc) for m in mailoutbox}
    assert sent == {
        "Kraamzorg Synthetisch Utrecht": ["planner@example.org", "second_planner@example.org"],
        "Kraamzorg Synthetisch Amersfoort": ["other_planner@example.org"],
    }
    assert set(IntakeReminder.objects.values_list("organisation__name", "recipients")) == {
        ("Kraamzorg Synthetisch Utrecht", 2),
        ("Kraamzorg Synthetisch Amersfoort", 1),
    }


@pytest.mark.django_db
def test_a_mail_server_that_refuses_claims_nothing_and_the_next_run_sends(
    world: World, kz: Kraamzorg, settings: Settings, mailoutbox: list[EmailMessage]
) -> None:
    settings.EMAIL_BACKEND = f"{__name__}.RefusingBackend"
    assert reminders.run() == {"organisations": 0, "recipients": 0}
    assert not IntakeReminder.objects.exists()
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert reminders.run() == {"organisations": 1, "recipients": 1}
    assert len(mailoutbox) == 1 and IntakeReminder.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_send_one_reminder(world: World, kz: Kraamzorg, settings: Settings) -> None:
    """Real PostgreSQL, each run on its own connection, released together; the mail takes half a second."""
    settings.EMAIL_BACKEND = f"{__name__}.SlowBackend"
    mail.outbox = []
    now = timezone.now()
    results = run_together(lambda _i: reminders.run(now), n=4)
    assert sorted(r["organisations"] for r in results if isinstance(r, dict)) == [0, 0, 0, 1], results
    assert len(mail.outbox) == 1
    assert IntakeReminder.objects.count() == 1
