"""Refusals: a hospital could not take a community midwife's client.

A refusal is a fact about capacity, not a medical record: no name, BSN, date of
birth or address, nor any field that could hold them except a short note that
the form warns about (docs/refusals.md).
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.models import AppendOnlyModel
from hospitals.models import MAX_WEEKS, MIN_WEEKS, CareType, Location, Organisation, Region

# A phone's clock may run a little ahead of the server's: a refusal "from the future" within
# this margin is accepted, and alerts count it.
CLOCK_SKEW = timedelta(minutes=5)


class Refusal(models.Model):
    CareType = CareType

    class Reason(models.TextChoices):
        NO_DELIVERY_ROOM = "no_delivery_room", _("no delivery room")
        NO_STAFF = "no_staff", _("no staff")
        NO_NEONATAL_BED = "no_neonatal_bed", _("no neonatal bed")
        ADMISSION_STOP = "admission_stop", _("admission stop")
        OTHER = "other", _("other")

    class Outcome(models.TextChoices):
        LOCATION = "location", _("another location")
        HOME = "home", _("birth at home")
        UNKNOWN = "unknown", _("unknown")

    occurred_at = models.DateTimeField(_("when it happened"), default=timezone.now, db_index=True)
    location = models.ForeignKey(
        Location, on_delete=models.PROTECT, related_name="refusals", verbose_name=_("location that refused")
    )
    # Copied from the location at registration, so statistics keep the region it had then.
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="refusals", verbose_name=_("region"))
    care_type = models.CharField(_("care type"), max_length=16, choices=CareType.choices)
    reason = models.CharField(_("reason given"), max_length=20, choices=Reason.choices)
    gestational_weeks = models.PositiveSmallIntegerField(_("gestational age (weeks)"), null=True, blank=True)
    outcome = models.CharField(_("where the client went"), max_length=10, choices=Outcome.choices)
    outcome_location = models.ForeignKey(
        Location,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("location that took her in"),
    )
    hospitals_called = models.PositiveSmallIntegerField(_("hospitals called in all"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=280, blank=True)

    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="refusals", verbose_name=_("registered by")
    )
    practice = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("practice")
    )
    registered_at = models.DateTimeField(_("registered at"), default=timezone.now)
    withdrawn_at = models.DateTimeField(_("withdrawn at"), null=True, blank=True)
    version = models.PositiveIntegerField(_("version"), default=1)

    class Source(models.TextChoices):
        MANUAL = "manual", _("registered by the midwife")
        REQUEST = "request", _("a placement request declined or unanswered")

    # How it came in: by hand, or from a placement request's "no" (placements/services.py).
    source = models.CharField(_("source"), max_length=10, choices=Source.choices, default=Source.MANUAL)

    # What the board showed for this location when the refusal was registered.
    board_snapshot = models.JSONField(_("board at registration"), default=dict)
    board_showed_room = models.BooleanField(_("board showed room"), default=False)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("refusal")
        verbose_name_plural = _("refusals")
        indexes = [models.Index(fields=["region", "occurred_at"]), models.Index(fields=["location", "occurred_at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(gestational_weeks__isnull=True)
                | models.Q(gestational_weeks__gte=MIN_WEEKS, gestational_weeks__lte=MAX_WEEKS),
                name="refusal_gestational_weeks_16_44",
            ),
            models.CheckConstraint(
                condition=~models.Q(outcome="location") | models.Q(outcome_location__isnull=False),
                name="refusal_outcome_location_given",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.location} {self.occurred_at:%Y-%m-%d %H:%M} {self.reason}"


class RefusalEvent(AppendOnlyModel):
    """Append-only history of registrations, corrections and withdrawals."""

    class Action(models.TextChoices):
        REGISTER = "register", _("registered")
        CORRECT = "correct", _("corrected")
        WITHDRAW = "withdraw", _("withdrawn")

    refusal = models.ForeignKey(Refusal, on_delete=models.PROTECT, related_name="events", verbose_name=_("refusal"))
    action = models.CharField(_("action"), max_length=10, choices=Action.choices)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("by"))
    at = models.DateTimeField(_("at"), default=timezone.now)
    version = models.PositiveIntegerField(_("version after"))
    before = models.JSONField(_("before"), null=True)
    after = models.JSONField(_("after"))

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("refusal change")
        verbose_name_plural = _("refusal history")

    def __str__(self) -> str:
        return f"refusal {self.refusal_id} v{self.version} {self.action}"


# --- Rollups (refusals/aggregation.py keeps them; docs/refusals.md) ---------------------------


class RefusalDaily(models.Model):
    """Refusals per day (Europe/Amsterdam) × region × location × care type × reason; withdrawn ones excluded."""

    day = models.DateField()
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    care_type = models.CharField(max_length=16, choices=Refusal.CareType.choices)
    reason = models.CharField(max_length=20, choices=Refusal.Reason.choices)
    count = models.PositiveIntegerField(default=0)
    count_board_showed_room = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("refusals per day")
        verbose_name_plural = _("refusals per day")
        constraints = [
            models.UniqueConstraint(
                fields=["day", "region", "location", "care_type", "reason"], name="refusal_daily_key"
            ),
        ]
        indexes = [models.Index(fields=["region", "day"])]

    def __str__(self) -> str:
        return f"{self.day} {self.location_id} {self.care_type} {self.reason}: {self.count}"


class RefusalMonthly(models.Model):
    """RefusalDaily summed per calendar month (``month`` is its first day): what long periods read.

    A quarter reads three of these rows per location × care type × reason instead of ~90 daily
    ones, a ten-year trend 120; the days at either edge of a period that does not start or end
    on a month boundary still come from RefusalDaily (refusals/statistics.py ``rollup_rows``).
    """

    month = models.DateField()
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    care_type = models.CharField(max_length=16, choices=Refusal.CareType.choices)
    reason = models.CharField(max_length=20, choices=Refusal.Reason.choices)
    count = models.PositiveIntegerField(default=0)
    count_board_showed_room = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("refusals per month")
        verbose_name_plural = _("refusals per month")
        constraints = [
            models.UniqueConstraint(
                fields=["month", "region", "location", "care_type", "reason"], name="refusal_monthly_key"
            ),
        ]
        indexes = [models.Index(fields=["region", "month"])]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.location_id} {self.care_type} {self.reason}: {self.count}"


class RefusalHourly(models.Model):
    """Refusals per weekday (0 = Monday) × hour of day (Europe/Amsterdam) × region × location, all time."""

    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    weekday = models.PositiveSmallIntegerField()
    hour = models.PositiveSmallIntegerField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("refusals per hour of the week")
        verbose_name_plural = _("refusals per hour of the week")
        constraints = [
            models.UniqueConstraint(fields=["region", "location", "weekday", "hour"], name="refusal_hourly_key"),
            models.CheckConstraint(
                condition=models.Q(weekday__lte=6, hour__lte=23), name="refusal_hourly_weekday_hour_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.location_id} day {self.weekday} {self.hour:02d}h: {self.count}"


class RefusalTally(models.Model):
    """Where one refusal is currently counted in the rollups, and at which version of it.

    All key fields are null when the refusal is counted nowhere (withdrawn). Aggregation
    compares this with what the refusal says now and moves the count only on a difference,
    so running it twice or out of order never counts a refusal twice.
    """

    refusal = models.OneToOneField(Refusal, on_delete=models.PROTECT, primary_key=True, related_name="tally")
    version = models.PositiveIntegerField()
    day = models.DateField(null=True)
    weekday = models.PositiveSmallIntegerField(null=True)
    hour = models.PositiveSmallIntegerField(null=True)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, null=True, related_name="+")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, null=True, related_name="+")
    care_type = models.CharField(max_length=16, blank=True)
    reason = models.CharField(max_length=20, blank=True)
    board_showed_room = models.BooleanField(default=False)
    aggregated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("refusal tally")
        verbose_name_plural = _("refusal tallies")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(
                    day__isnull=True,
                    weekday__isnull=True,
                    hour__isnull=True,
                    region__isnull=True,
                    location__isnull=True,
                    care_type="",
                    reason="",
                )
                | models.Q(
                    day__isnull=False,
                    weekday__isnull=False,
                    hour__isnull=False,
                    region__isnull=False,
                    location__isnull=False,
                )
                & ~models.Q(care_type="")
                & ~models.Q(reason=""),
                name="refusal_tally_key_all_or_nothing",
            ),
        ]

    def __str__(self) -> str:
        return f"refusal {self.refusal_id} v{self.version} {'counted' if self.day else 'not counted'}"


# --- Alerts (refusals/alerts.py raises them; docs/refusals.md) ---------------------------------


class Alert(models.Model):
    """A spike the beat task noticed, raised once per episode and acknowledged by a coordinator.

    An episode is open (``ended_at`` null) while its condition holds; the partial unique
    constraint on ``key`` allows one open alert per subject, so overlapping beat runs raise
    it once. Raised by the system (no account); acknowledging is attributed to a coordinator.
    """

    class Kind(models.TextChoices):
        LOCATION_SPIKE = "location_spike", _("many refusals at one location")
        REGION_STOPS = "region_stops", _("several locations in admission stop")
        # An event, not a condition: raised once when a placement request expires unanswered.
        REQUEST_EXPIRED = "request_expired", _("a placement request expired without an answer")

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    key = models.CharField(max_length=80, editable=False)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="alerts", verbose_name=_("region"))
    location = models.ForeignKey(
        Location, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("location")
    )
    count = models.PositiveIntegerField(_("count when raised"))
    # What triggered it: refusal ids (spike) or location ids in stop, and the thresholds then in force.
    detail = models.JSONField(_("detail"), default=dict)
    raised_at = models.DateTimeField(_("raised at"), default=timezone.now, db_index=True)
    ended_at = models.DateTimeField(_("condition ended at"), null=True, blank=True)
    emailed_at = models.DateTimeField(_("e-mailed at"), null=True, blank=True)
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("acknowledged by"),
    )

    class Meta:
        ordering = ["-raised_at", "-id"]
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        constraints = [
            models.UniqueConstraint(
                fields=["key"], condition=models.Q(ended_at__isnull=True), name="alert_one_open_per_key"
            ),
            models.CheckConstraint(
                condition=models.Q(acknowledged_at__isnull=True, acknowledged_by__isnull=True)
                | models.Q(acknowledged_at__isnull=False, acknowledged_by__isnull=False),
                name="alert_acknowledged_by_someone",
            ),
        ]
        indexes = [models.Index(fields=["region", "raised_at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.key} {self.raised_at:%Y-%m-%d %H:%M}"
