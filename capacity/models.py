"""Units, their current state, and the append-only history of every change."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.models import AppendOnlyModel
from hospitals.models import Location, Region


class Unit(models.Model):
    class Kind(models.TextChoices):
        DELIVERY_SUITE = "delivery_suite", _("delivery suite")
        BIRTH_CENTRE = "birth_centre", _("birth centre")
        NICU = "nicu", _("NICU")
        HIGH_CARE = "high_care", _("neonatal high care")
        MEDIUM_CARE = "medium_care", _("neonatal medium care")

    class Status(models.TextChoices):
        OPEN = "open", _("open")
        LIMITED = "limited", _("limited")
        STOP = "stop", _("admission stop")

    class StopReason(models.TextChoices):
        BEDS = "beds", _("no beds")
        STAFF = "staff", _("no staff")
        OTHER = "other", _("other")

    # Display order on the board: obstetric units first, then neonatology by level.
    KIND_ORDER = [Kind.DELIVERY_SUITE, Kind.BIRTH_CENTRE, Kind.NICU, Kind.HIGH_CARE, Kind.MEDIUM_CARE]

    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="units", verbose_name=_("location"))
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    staffed_total = models.PositiveSmallIntegerField(_("beds staffed"))
    available = models.PositiveSmallIntegerField(_("beds free"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    stop_reason = models.CharField(_("stop reason"), max_length=10, choices=StopReason.choices, blank=True)
    stop_expected_end = models.DateTimeField(_("expected end of stop"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    version = models.PositiveIntegerField(_("version"), default=1)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("updated by"),
    )
    confirmed_at = models.DateTimeField(_("figures confirmed at"), default=timezone.now)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("figures confirmed by"),
    )
    # Bookkeeping for the periodic task: set once when it pushed the stale flag or
    # sent the reminder, cleared by the next update or confirmation.
    stale_flagged_at = models.DateTimeField(null=True, blank=True, editable=False)
    stop_overdue_flagged_at = models.DateTimeField(null=True, blank=True, editable=False)
    reminder_sent_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["location__name", "kind"]
        verbose_name = _("unit")
        verbose_name_plural = _("units")
        constraints = [
            models.UniqueConstraint(fields=["location", "kind"], name="unit_one_per_kind_per_location"),
            models.CheckConstraint(
                condition=models.Q(available__lte=models.F("staffed_total")), name="unit_available_lte_total"
            ),
            models.CheckConstraint(
                condition=~models.Q(status="stop") | ~models.Q(stop_reason=""), name="unit_stop_has_reason"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.location} – {self.get_kind_display()}"

    # --- the obstetric rule: the one place that decides it (board, search, refusals, alerts) ---
    @staticmethod
    def obstetric_filter(prefix: str = "") -> models.Q:
        """Units a client in labour can be brought to: a birth centre, or a delivery suite where the
        location offers 24/7 obstetrics. ``is_obstetric_at`` is the same rule in Python."""
        return models.Q(**{f"{prefix}kind": Unit.Kind.BIRTH_CENTRE}) | models.Q(
            **{f"{prefix}kind": Unit.Kind.DELIVERY_SUITE, f"{prefix}location__acute_obstetrics": True}
        )

    def is_obstetric_at(self, location: Location) -> bool:
        """``obstetric_filter`` for a unit whose location is already loaded."""
        return self.kind == self.Kind.BIRTH_CENTRE or (
            self.kind == self.Kind.DELIVERY_SUITE and location.acute_obstetrics
        )

    def stale_since(self, now: datetime | None = None) -> datetime | None:
        """When the figures became out of date, or None while they are fresh."""
        deadline = self.confirmed_at + settings.CAPACITY_STALE_AFTER
        return deadline if (now or timezone.now()) >= deadline else None

    def is_stale(self, now: datetime | None = None) -> bool:
        return self.stale_since(now) is not None

    def needs_confirmation(self, now: datetime | None = None) -> bool:
        """Within the reminder window before going stale, or already stale."""
        due = self.confirmed_at + settings.CAPACITY_STALE_AFTER - settings.CAPACITY_REMIND_BEFORE
        return (now or timezone.now()) >= due

    def is_stop_overdue(self, now: datetime | None = None) -> bool:
        return (
            self.status == self.Status.STOP
            and self.stop_expected_end is not None
            and self.stop_expected_end <= (now or timezone.now())
        )

    @property
    def colour(self) -> Literal["green", "orange", "red"]:
        """Traffic-light rule of the Gelderse Vallei pilot: green 2+, orange 1, red 0 or stop."""
        if self.status == self.Status.STOP or self.available == 0:
            return "red"
        if self.available == 1:
            return "orange"
        return "green"

    def snapshot(self) -> dict[str, object]:
        """The state as recorded in history (before/after)."""
        return {
            "staffed_total": self.staffed_total,
            "available": self.available,
            "status": self.status,
            "stop_reason": self.stop_reason,
            "stop_expected_end": self.stop_expected_end.isoformat() if self.stop_expected_end else None,
            "note": self.note,
            "version": self.version,
        }


class CapacityEvent(AppendOnlyModel):
    """Append-only history: who changed which unit, how, when and through which interface."""

    class Action(models.TextChoices):
        UPDATE = "update", _("update")
        CONFIRM = "confirm", _("confirmed unchanged")
        STALE = "stale", _("flagged out of date")
        STOP_OVERDUE = "stop_overdue", _("stop past expected end")

    class Source(models.TextChoices):
        WEB = "web", _("web page")
        API = "api", _("API")
        SYSTEM = "system", _("system")
        ADMIN = "admin", _("administration")

    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="events", verbose_name=_("unit"))
    action = models.CharField(_("action"), max_length=16, choices=Action.choices)
    source = models.CharField(_("source"), max_length=10, choices=Source.choices)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="capacity_events",
        verbose_name=_("by"),
    )
    at = models.DateTimeField(_("at"), default=timezone.now, db_index=True)
    version = models.PositiveIntegerField(_("version after"))
    before = models.JSONField(_("before"))
    after = models.JSONField(_("after"))
    # The API token that made the change (source=api); ``by`` is then the account that issued it.
    api_token = models.ForeignKey(
        "capacity.ApiToken",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="capacity_events",
        verbose_name=_("API token"),
    )

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("capacity change")
        verbose_name_plural = _("capacity history")
        indexes = [models.Index(fields=["unit", "at"])]

    def __str__(self) -> str:
        return f"{self.unit} v{self.version} {self.action} {self.at:%Y-%m-%d %H:%M}"


class BoardToken(models.Model):
    """A revocable link for a read-only wall screen showing one region's (or the national) board."""

    label = models.CharField(
        _("label"), max_length=80, help_text=_("Where the screen hangs, e.g. 'Delivery suite desk'.")
    )
    region = models.ForeignKey(
        "hospitals.Region",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="board_tokens",
        verbose_name=_("region"),
        help_text=_("Leave empty for the national board."),
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+", verbose_name=_("created by")
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("revoked by"),
    )

    class Meta:
        verbose_name = _("wall-screen link")
        verbose_name_plural = _("wall-screen links")

    def __str__(self) -> str:
        return self.label

    @staticmethod
    def hash(raw: str) -> str:
        import hashlib

        return hashlib.sha256(raw.encode()).hexdigest()

    def issue_raw(self) -> str:
        """Give this link a new secret; the raw value is shown once and only its hash is stored."""
        import secrets

        raw = secrets.token_urlsafe(32)
        self.token_hash = self.hash(raw)
        return raw

    @classmethod
    def issue(cls, *, label: str, region: Region | None, created_by: Any) -> tuple[BoardToken, str]:
        token = cls(label=label, region=region, created_by=created_by)
        raw = token.issue_raw()
        token.save()
        return token, raw

    @classmethod
    def lookup(cls, raw: str) -> BoardToken | None:
        return cls.objects.filter(token_hash=cls.hash(raw), revoked_at__isnull=True).select_related("region").first()


class ApiToken(models.Model):
    """A hospital system's (or a coordinator's) key to the API: shown once, only its hash is kept.

    Either an organisation token (issued by that organisation's administrator; it reads
    capacity and, with the write scope, changes that organisation's units, or with the
    answer-requests scope reads and answers its placement requests; a kraamzorg
    organisation's, with the write-intake scope, keeps its intake weeks) or a region
    token (issued by the region's coordinator or a national administrator; it reads
    capacity and the region's refusal statistics). Never deleted: revoked, so the
    history keeps pointing at the token that made a change.
    """

    class Scope(models.TextChoices):
        READ = "read", _("read capacity")
        WRITE_CAPACITY = "write-capacity", _("read and write capacity")
        STATISTICS = "statistics", _("read capacity and refusal statistics")
        # A hospital system's desk: its organisation's placement requests, read and answered (api/placements.py).
        ANSWER_REQUESTS = "answer-requests", _("read capacity and answer placement requests")
        # A kraamzorg planning system: its organisation's intake weeks, read and kept current (api/intake.py).
        WRITE_INTAKE = "write-intake", _("read capacity and write intake weeks")

    PREFIX = "bcap_"

    name = models.CharField(_("name"), max_length=80, help_text=_("Which system uses it, e.g. 'HIS feed'."))
    scope = models.CharField(_("scope"), max_length=16, choices=Scope.choices)
    organisation = models.ForeignKey(
        "hospitals.Organisation",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="api_tokens",
        verbose_name=_("organisation"),
    )
    region = models.ForeignKey(
        "hospitals.Region",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="api_tokens",
        verbose_name=_("region"),
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("created by")
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("revoked by"),
    )

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        constraints = [
            # Exactly one owner: an organisation's tokens read/write or answer requests, a region's read statistics.
            models.CheckConstraint(
                condition=(
                    models.Q(
                        organisation__isnull=False,
                        region__isnull=True,
                        scope__in=["read", "write-capacity", "answer-requests", "write-intake"],
                    )
                    | models.Q(organisation__isnull=True, region__isnull=False, scope__in=["read", "statistics"])
                ),
                name="api_token_one_owner_and_fitting_scope",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def can_write_capacity(self) -> bool:
        return self.scope == self.Scope.WRITE_CAPACITY and self.organisation_id is not None

    @property
    def can_answer_requests(self) -> bool:
        return self.scope == self.Scope.ANSWER_REQUESTS and self.organisation_id is not None

    @property
    def can_write_intake(self) -> bool:
        return self.scope == self.Scope.WRITE_INTAKE and self.organisation_id is not None

    @staticmethod
    def hash(raw: str) -> str:
        import hashlib

        return hashlib.sha256(raw.encode()).hexdigest()

    @classmethod
    def new_raw(cls) -> str:
        import secrets

        return cls.PREFIX + secrets.token_urlsafe(32)

    @classmethod
    def lookup(cls, raw: str) -> ApiToken | None:
        """The active token with this secret, or None."""
        if not raw.startswith(cls.PREFIX) or len(raw) > 100:
            return None
        return (
            cls.objects.filter(token_hash=cls.hash(raw), revoked_at__isnull=True)
            .select_related("organisation", "region", "created_by")
            .first()
        )
