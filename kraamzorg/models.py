"""Kraamzorg (maternity home care) intake capacity: a week grid per organisation (docs/kraamzorg.md).

A kraamzorg organisation is a ``hospitals.Organisation`` of kind ``kraamzorg``. It serves a work
area (PC4 postcodes), may have teams, and keeps, for each of the next 12 weeks of expected due
dates, how many new families it can take in, whether it can deliver the full indicated hours or
only a stated minimum, and an intake status with a reason. Only its planners change that, through
``kraamzorg.services``; every change is an ``IntakeEvent`` (who, what, when, how).
"""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.models import AppendOnlyModel, AppendOnlyQuerySet
from hospitals.models import Organisation, Region

# The indicated care after a birth is usually 49 hours (domain.md); the aim is at least 24 for everyone.
INDICATED_HOURS = 49
MAX_FAMILIES = 999
WEEKS_AHEAD = 12


class Team(models.Model):
    """A team of a kraamzorg organisation (a planning unit; its share of the work area is optional)."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="kraamzorg_teams", verbose_name=_("organisation")
    )
    name = models.CharField(_("name"), max_length=120)

    class Meta:
        ordering = ["organisation", "name"]
        verbose_name = _("kraamzorg team")
        verbose_name_plural = _("kraamzorg teams")
        constraints = [models.UniqueConstraint(fields=["organisation", "name"], name="kraamzorg_team_unique_name")]

    def __str__(self) -> str:
        return f"{self.organisation} – {self.name}"


class WorkArea(models.Model):
    """One 4-digit postcode area an organisation takes families in (optionally: which team)."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="kraamzorg_areas", verbose_name=_("organisation")
    )
    pc4 = models.CharField(
        _("postcode (4 digits)"),
        max_length=4,
        validators=[RegexValidator(r"^[1-9][0-9]{3}$", _("Enter the 4 digits of a Dutch postcode, e.g. 3584."))],
    )
    team = models.ForeignKey(
        Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="areas", verbose_name=_("team")
    )

    class Meta:
        ordering = ["organisation", "pc4"]
        verbose_name = _("work area")
        verbose_name_plural = _("work areas")
        constraints = [models.UniqueConstraint(fields=["organisation", "pc4"], name="kraamzorg_area_unique_pc4")]
        indexes = [models.Index(fields=["pc4"], name="kraamzorg_area_pc4")]

    def __str__(self) -> str:
        return f"{self.organisation} {self.pc4}"


class IntakeWeek(models.Model):
    """What an organisation can take in for families due in one ISO week (``week`` is its Monday)."""

    class Status(models.TextChoices):
        OPEN = "open", _("open")
        LIMITED = "limited", _("limited")
        STOP = "stop", _("intake stop")

    class Hours(models.TextChoices):
        FULL = "full", _("the full indicated hours")
        MINIMUM = "minimum", _("only a stated minimum")

    class StopReason(models.TextChoices):
        STAFF = "staff", _("not enough staff")
        FULL = "full", _("fully booked")
        AREA = "area", _("not in this part of the area")
        OTHER = "other", _("other")

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="intake_weeks", verbose_name=_("organisation")
    )
    week = models.DateField(_("due week (its Monday)"))
    families = models.PositiveSmallIntegerField(
        _("new families that can be taken in"), validators=[MaxValueValidator(MAX_FAMILIES)]
    )
    hours = models.CharField(_("hours that can be delivered"), max_length=8, choices=Hours.choices)
    minimum_hours = models.PositiveSmallIntegerField(
        _("minimum hours"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(INDICATED_HOURS - 1)],
    )
    status = models.CharField(_("intake status"), max_length=8, choices=Status.choices)
    reason = models.CharField(_("reason"), max_length=8, choices=StopReason.choices, blank=True)
    version = models.PositiveIntegerField(_("version"), default=1)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("updated by"),
    )
    # The last time a planner said the figures hold (a change or "confirm unchanged"): staleness.
    confirmed_at = models.DateTimeField(_("confirmed at"), default=timezone.now)

    class Meta:
        ordering = ["organisation", "week"]
        verbose_name = _("intake week")
        verbose_name_plural = _("intake weeks")
        constraints = [
            models.UniqueConstraint(fields=["organisation", "week"], name="kraamzorg_week_unique"),
            # The rules services.validate_intake gives in words, kept by the database too.
            models.CheckConstraint(
                condition=Q(hours="full", minimum_hours__isnull=True)
                | Q(
                    hours="minimum",
                    minimum_hours__isnull=False,
                    minimum_hours__gte=1,
                    minimum_hours__lt=INDICATED_HOURS,
                ),
                name="kraamzorg_week_minimum_hours",
            ),
            models.CheckConstraint(condition=~Q(status="stop") | Q(families=0), name="kraamzorg_week_stop_no_intake"),
            models.CheckConstraint(condition=Q(status="open") | ~Q(reason=""), name="kraamzorg_week_reason"),
            models.CheckConstraint(condition=Q(families__lte=MAX_FAMILIES), name="kraamzorg_week_families_max"),
        ]

    def __str__(self) -> str:
        return f"{self.organisation} {self.week:%G-W%V}"

    @property
    def iso_week(self) -> str:
        return f"{self.week:%G-W%V}"

    def as_dict(self) -> dict[str, object]:
        """The figures, for the history (``IntakeEvent.before`` / ``after``)."""
        return {
            "families": self.families,
            "hours": self.hours,
            "minimum_hours": self.minimum_hours,
            "status": self.status,
            "reason": self.reason,
        }


def monday_of(day: date) -> date:
    return date.fromordinal(day.toordinal() - day.weekday())


class IntakeEvent(AppendOnlyModel):
    """Append-only history of the intake grid: who changed or confirmed which week, when, how."""

    class Action(models.TextChoices):
        UPDATE = "update", _("update")
        CONFIRM = "confirm", _("confirmed unchanged")

    class Source(models.TextChoices):
        WEB = "web", _("web page")
        API = "api", _("API")

    week = models.ForeignKey(IntakeWeek, on_delete=models.PROTECT, related_name="events", verbose_name=_("week"))
    action = models.CharField(_("action"), max_length=8, choices=Action.choices)
    source = models.CharField(_("source"), max_length=4, choices=Source.choices)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("by"))
    at = models.DateTimeField(_("at"), default=timezone.now, db_index=True)
    version = models.PositiveIntegerField(_("version after"))
    before = models.JSONField(_("before"), null=True, blank=True)
    after = models.JSONField(_("after"))
    # The API token that made the change (source=api); ``by`` is then the account that issued it.
    api_token = models.ForeignKey(
        "capacity.ApiToken",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="intake_events",
        verbose_name=_("API token"),
    )

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("intake change")
        verbose_name_plural = _("intake changes")

    def __str__(self) -> str:
        return f"{self.week} {self.action} v{self.version}"


class IntakeReminder(AppendOnlyModel):
    """A reminder sent to an organisation's planners about stale weeks (the latest row is the claim)."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="intake_reminders", verbose_name=_("organisation")
    )
    sent_at = models.DateTimeField(_("sent at"), default=timezone.now)
    weeks = models.JSONField(_("stale weeks"), default=list)  # ISO dates of the weeks' Mondays
    recipients = models.PositiveSmallIntegerField(_("recipients"), default=0)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-sent_at", "-id"]
        verbose_name = _("intake reminder")
        verbose_name_plural = _("intake reminders")
        indexes = [models.Index(fields=["organisation", "sent_at"], name="kraamzorg_reminder_org_sent")]

    def __str__(self) -> str:
        return f"{self.organisation} {self.sent_at:%Y-%m-%d %H:%M}"


# Indicated hours a shortage may state: the usual indication is 49, a few families get more.
MAX_INDICATED_HOURS = 80


class Shortage(models.Model):
    """A family that could not get kraamzorg, or got fewer hours than indicated.

    A fact about capacity, not a care record: the 4-digit postcode area, the due week, the hours
    and the reason, and an optional "vulnerable situation" category. No name, BSN, date of birth,
    address or free text (docs/kraamzorg.md, "Privacy").
    """

    class Reason(models.TextChoices):
        NO_INTAKE = "no_intake", _("no organisation had intake room")
        STAFF = "staff", _("fewer hours: not enough staff")
        AREA = "area", _("the postcode area is not served")
        LATE = "late", _("asked late (e.g. early discharge)")
        OTHER = "other", _("other")

    class Vulnerable(models.TextChoices):
        YES = "yes", _("yes")
        NO = "no", _("no")
        UNKNOWN = "unknown", _("unknown")

    class Source(models.TextChoices):
        WEB = "web", _("web page")
        API = "api", _("API")

    # Copied from the registering organisation, so the statistics keep the region it had then.
    region = models.ForeignKey(
        Region, on_delete=models.PROTECT, related_name="kraamzorg_shortages", verbose_name=_("region")
    )
    pc4 = models.CharField(_("postcode (4 digits)"), max_length=4, db_index=True)
    # Copied from the postcode reference data at registration (rollups per municipality).
    municipality = models.CharField(_("municipality"), max_length=80)
    due_week = models.DateField(_("due week (its Monday)"))
    indicated_hours = models.PositiveSmallIntegerField(
        _("indicated hours"), validators=[MinValueValidator(1), MaxValueValidator(MAX_INDICATED_HOURS)]
    )
    promised_hours = models.PositiveSmallIntegerField(_("hours promised"))
    reason = models.CharField(_("reason"), max_length=10, choices=Reason.choices)
    vulnerable = models.CharField(
        _("vulnerable situation"), max_length=8, choices=Vulnerable.choices, default=Vulnerable.UNKNOWN
    )
    # The kraamzorg organisation concerned, when known (a planner's own organisation).
    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="kraamzorg_shortages",
        verbose_name=_("kraamzorg organisation"),
    )
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("registered by")
    )
    # The practice of the midwife or the organisation of the planner who registered it.
    registered_for = models.ForeignKey(
        Organisation,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("registered for"),
    )
    registered_at = models.DateTimeField(_("registered at"), default=timezone.now, db_index=True)
    source = models.CharField(_("source"), max_length=4, choices=Source.choices, default=Source.WEB)
    withdrawn_at = models.DateTimeField(_("withdrawn at"), null=True, blank=True)
    version = models.PositiveIntegerField(_("version"), default=1)

    class Meta:
        ordering = ["-registered_at", "-id"]
        verbose_name = _("kraamzorg shortage")
        verbose_name_plural = _("kraamzorg shortages")
        indexes = [models.Index(fields=["region", "due_week"], name="kraamzorg_shortage_region_week")]
        constraints = [
            models.CheckConstraint(
                condition=Q(indicated_hours__gte=1, indicated_hours__lte=MAX_INDICATED_HOURS),
                name="kraamzorg_shortage_indicated_hours",
            ),
            models.CheckConstraint(
                condition=Q(promised_hours__lt=models.F("indicated_hours")), name="kraamzorg_shortage_fewer_hours"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.pc4} {self.due_week:%G-W%V} {self.reason}"

    @property
    def hours_short(self) -> int:
        return self.indicated_hours - self.promised_hours


class ShortageEvent(AppendOnlyModel):
    """Append-only history of shortage registrations and withdrawals (who, what, when)."""

    class Action(models.TextChoices):
        REGISTER = "register", _("registered")
        WITHDRAW = "withdraw", _("withdrawn")

    shortage = models.ForeignKey(Shortage, on_delete=models.PROTECT, related_name="events", verbose_name=_("shortage"))
    action = models.CharField(_("action"), max_length=10, choices=Action.choices)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("by"))
    at = models.DateTimeField(_("at"), default=timezone.now)
    version = models.PositiveIntegerField(_("version after"))
    before = models.JSONField(_("before"), null=True)
    after = models.JSONField(_("after"))

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("shortage change")
        verbose_name_plural = _("shortage changes")

    def __str__(self) -> str:
        return f"{self.shortage_id} {self.action} v{self.version}"


# --- Rollups of shortages (kraamzorg/aggregation.py keeps them; docs/kraamzorg.md, "Aggregation") ---


class ShortageWeekly(models.Model):
    """Shortages per region × due week × municipality × PC4 × reason × vulnerable; withdrawn ones excluded."""

    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+")
    due_week = models.DateField()
    municipality = models.CharField(max_length=80)
    pc4 = models.CharField(max_length=4)
    reason = models.CharField(max_length=10, choices=Shortage.Reason.choices)
    vulnerable = models.CharField(max_length=8, choices=Shortage.Vulnerable.choices)
    count = models.PositiveIntegerField(default=0)
    hours_short = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("shortages per due week")
        verbose_name_plural = _("shortages per due week")
        constraints = [
            models.UniqueConstraint(
                fields=["region", "due_week", "municipality", "pc4", "reason", "vulnerable"],
                name="kraamzorg_shortage_weekly_key",
            ),
        ]
        indexes = [models.Index(fields=["region", "due_week"], name="kraamzorg_weekly_region_week")]

    def __str__(self) -> str:
        return f"{self.due_week} {self.pc4} {self.reason} {self.vulnerable}: {self.count}"


class ShortageTally(models.Model):
    """Where one shortage is counted in ``ShortageWeekly`` now, and at which version of it.

    The key fields are all empty when it is counted nowhere (withdrawn). Aggregation compares
    this with the shortage as it is and moves the count only on a difference, so running it
    twice or out of order never counts a shortage twice.
    """

    shortage = models.OneToOneField(Shortage, on_delete=models.PROTECT, primary_key=True, related_name="tally")
    version = models.PositiveIntegerField()
    region = models.ForeignKey(Region, on_delete=models.PROTECT, null=True, related_name="+")
    due_week = models.DateField(null=True)
    municipality = models.CharField(max_length=80, blank=True)
    pc4 = models.CharField(max_length=4, blank=True)
    reason = models.CharField(max_length=10, blank=True)
    vulnerable = models.CharField(max_length=8, blank=True)
    hours_short = models.PositiveSmallIntegerField(default=0)
    aggregated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("shortage tally")
        verbose_name_plural = _("shortage tallies")
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    region__isnull=True, due_week__isnull=True, municipality="", pc4="", reason="", vulnerable="",
                    hours_short=0,
                )
                | (Q(region__isnull=False, due_week__isnull=False) & ~Q(pc4="") & ~Q(reason="") & ~Q(vulnerable="")),
                name="kraamzorg_shortage_tally_key_all_or_nothing",
            ),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"shortage {self.shortage_id} v{self.version} {'counted' if self.due_week else 'not counted'}"
