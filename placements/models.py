"""Placement requests: a midwife asks a location for a place, its staff answer (docs/requests.md).

A request is about capacity, like a refusal: it holds the care asked for and who asked, never who
the client is. There is deliberately no free-text field, so nothing meant for a name, a citizen
service number (BSN), a date of birth or an address exists to be filled in
(``tests/test_placement_services.py`` pins the fields).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.models import AppendOnlyModel
from hospitals.models import MAX_WEEKS, MIN_WEEKS, CareType, Location, Region
from refusals.models import Refusal


class PlacementRequest(models.Model):
    class State(models.TextChoices):
        SENT = "sent", _("sent")
        SEEN = "seen", _("seen")
        ACCEPTED = "accepted", _("accepted")
        DECLINED = "declined", _("declined")
        EXPIRED = "expired", _("expired: no answer in time")
        WITHDRAWN = "withdrawn", _("withdrawn")
        ARRIVED = "arrived", _("arrived")

    class Urgency(models.TextChoices):
        # The words each level means are shown beside it (docs/requests.md, "Urgency").
        IMMEDIATE = "immediate", _("immediate: in labour, on the way within minutes")
        URGENT = "urgent", _("urgent: needs a place within the hour")
        PLANNED = "planned", _("planned: a place later today")

    class Withdrawn(models.TextChoices):
        MIDWIFE = "midwife", _("withdrawn by the midwife")
        TAKEN_ELSEWHERE = "taken_elsewhere", _("withdrawn: another location took her in")

    class Via(models.TextChoices):
        WEB = "web", _("web page")
        API = "api", _("API")
        SYSTEM = "system", _("system")

    location = models.ForeignKey(
        Location, on_delete=models.PROTECT, related_name="placement_requests", verbose_name=_("location asked")
    )
    # One client's search for a place: the requests sent at once (parallel asking) and the ones
    # sent after a "no" (escalation) share it. The first acceptance withdraws the others.
    ask = models.UUIDField(_("ask"), default=uuid.uuid4, db_index=True)
    # Where the midwife searched from (a PC4 postcode or a place name, validated as a search
    # origin; never an address), so that a "no" can offer the next location of the same ranking.
    search_origin = models.CharField(_("searched from"), max_length=80, blank=True)
    # Copied from the location when sent, like a refusal's region.
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="+", verbose_name=_("region"))
    care_type = models.CharField(_("care type"), max_length=16, choices=CareType.choices)
    gestational_weeks = models.PositiveSmallIntegerField(
        _("gestational age (weeks)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(MIN_WEEKS), MaxValueValidator(MAX_WEEKS)],
    )
    required_level = models.PositiveSmallIntegerField(
        _("neonatal level required"), choices=Location.NeonatalLevel.choices, default=Location.NeonatalLevel.NONE
    )
    urgency = models.CharField(_("urgency"), max_length=10, choices=Urgency.choices)
    expected_arrival = models.DateTimeField(_("expected arrival"))
    # The midwife's own number, to call her back: not the client's.
    callback_phone = models.CharField(_("call-back number (E.164)"), max_length=16)

    midwife = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="placement_requests", verbose_name=_("midwife")
    )
    sent_at = models.DateTimeField(_("sent at"), default=timezone.now)
    deadline = models.DateTimeField(_("answer needed by"), db_index=True)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.SENT)
    version = models.PositiveIntegerField(_("version"), default=1)
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    decline_reason = models.CharField(_("reason declined"), max_length=20, choices=Refusal.Reason.choices, blank=True)
    withdrawn_why = models.CharField(_("why withdrawn"), max_length=16, choices=Withdrawn.choices, blank=True)

    # What the board showed for the location when she asked: a "no" becomes a refusal with it.
    board_snapshot = models.JSONField(_("board when sent"), default=dict)
    board_showed_room = models.BooleanField(_("board showed room"), default=False)
    # The refusal a decline or an expiry registered (refusals.services.refusal_register_from_request).
    refusal = models.OneToOneField(
        Refusal,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="placement_request",
        verbose_name=_("refusal"),
    )

    class Meta:
        ordering = ["-sent_at", "-id"]
        verbose_name = _("placement request")
        verbose_name_plural = _("placement requests")
        indexes = [models.Index(fields=["location", "state"]), models.Index(fields=["state", "deadline"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(gestational_weeks__isnull=True)
                | models.Q(gestational_weeks__gte=MIN_WEEKS, gestational_weeks__lte=MAX_WEEKS),
                name="placement_gestational_weeks_16_44",
            ),
            models.CheckConstraint(
                condition=~models.Q(state="declined") | ~models.Q(decline_reason=""),
                name="placement_declined_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"request {self.pk} to {self.location_id}: {self.state}"


class PlacementEvent(AppendOnlyModel):
    """Every transition of a request: from what to what, who, when and from where (web, API, system)."""

    request = models.ForeignKey(
        PlacementRequest, on_delete=models.PROTECT, related_name="events", verbose_name=_("placement request")
    )
    before = models.CharField(_("state before"), max_length=10, choices=PlacementRequest.State.choices, blank=True)
    after = models.CharField(_("state after"), max_length=10, choices=PlacementRequest.State.choices)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    via = models.CharField(_("via"), max_length=10, choices=PlacementRequest.Via.choices)
    # The API token an answer came with (via=api); ``by`` is then the account that issued it.
    api_token = models.ForeignKey(
        "capacity.ApiToken",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("API token"),
    )
    at = models.DateTimeField(_("at"), default=timezone.now)
    version = models.PositiveIntegerField(_("version after"))

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("placement request change")
        verbose_name_plural = _("placement request history")

    def __str__(self) -> str:
        return f"request {self.request_id} v{self.version}: {self.before or '-'} -> {self.after}"
