"""The midwife's request form and the staff's answer forms (docs/requests.md, "Screens")."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.forms import TiedErrorsMixin, form_field
from hospitals.models import MAX_WEEKS, MIN_WEEKS, CareType, Location
from placements.models import PlacementRequest
from placements.services import PlacementInput
from refusals.models import Refusal
from search.selectors import requirement_for

# The neonatal level the search's gestational-age band asks for (search.selectors.requirement_for).
LEVEL_OF_BAND = {
    "nicu": Location.NeonatalLevel.NICU,
    "high_care": Location.NeonatalLevel.HIGH_CARE,
    "medium_care": Location.NeonatalLevel.MEDIUM_CARE,
    "term": Location.NeonatalLevel.NONE,
}
ARRIVAL_CHOICES = [
    ("10", _("in 10 minutes")),
    ("20", _("in 20 minutes")),
    ("30", _("in 30 minutes")),
    ("45", _("in 45 minutes")),
    ("60", _("in 1 hour")),
    ("90", _("in 1½ hours")),
    ("120", _("in 2 hours")),
    ("240", _("in 4 hours")),
]


class PlacementForm(TiedErrorsMixin, forms.Form):
    """Pre-filled from the search (location, care, weeks, where from); she chooses the urgency and sends."""

    location = forms.IntegerField(widget=forms.HiddenInput)
    # Pre-filled from the search, still visible and changeable (from a board row she chooses).
    care_type = forms.ChoiceField(label=_("Care needed"), choices=CareType.choices, widget=forms.RadioSelect)
    gestational_weeks = forms.IntegerField(
        label=_("Gestational age in weeks (optional)"),
        required=False,
        min_value=MIN_WEEKS,
        max_value=MAX_WEEKS,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )
    where = forms.CharField(required=False, max_length=80, widget=forms.HiddenInput)
    ask = forms.UUIDField(required=False, widget=forms.HiddenInput)
    urgency = forms.ChoiceField(
        label=_("How urgent is it?"), choices=PlacementRequest.Urgency.choices, widget=forms.RadioSelect
    )
    arrival_in = forms.ChoiceField(
        label=_("Expected arrival"), choices=ARRIVAL_CHOICES, initial="30", widget=forms.RadioSelect
    )
    callback_phone = forms.CharField(
        label=_("Your call-back number"),
        max_length=32,
        help_text=_("The delivery suite calls you back on this number. It is kept for your next request."),
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel", "inputmode": "tel"}),
    )
    also = forms.TypedMultipleChoiceField(
        label=_("Also ask at the same time"),
        required=False,
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("The first location to accept gets her; the others are withdrawn at once."),
    )

    def __init__(self, *args: Any, also_choices: list[tuple[int, str]] | None = None, extra: int = 0, **kw: Any):
        super().__init__(*args, **kw)
        self.extra = extra
        if also_choices:
            form_field(self, "also", forms.TypedMultipleChoiceField).choices = also_choices
        else:  # one location at a time (the region's setting), or nothing else in her search
            del self.fields["also"]

    def clean_also(self) -> list[int]:
        chosen: list[int] = self.cleaned_data.get("also") or []
        if len(chosen) > self.extra:
            raise forms.ValidationError(
                _("Ask at most %(count)s locations at once.") % {"count": self.extra + 1}, code="too_many"
            )
        return chosen

    def requirement(self) -> Any:
        data = self.cleaned_data
        return requirement_for(care=data["care_type"], weeks=data.get("gestational_weeks"))

    def to_input(self) -> PlacementInput:
        data = self.cleaned_data
        return PlacementInput(
            location_id=data["location"],
            care_type=data["care_type"],
            urgency=data["urgency"],
            expected_arrival=timezone.now() + timedelta(minutes=int(data["arrival_in"])),
            callback_phone=data["callback_phone"],
            gestational_weeks=data.get("gestational_weeks"),
            required_level=LEVEL_OF_BAND[self.requirement().band],
            search_origin=data.get("where") or "",
            ask=data.get("ask"),
        )


class VersionForm(forms.Form):
    """Every answer carries the version the screen showed: a stale one is refused with the request as it is."""

    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)


class DeclineForm(VersionForm):
    reason = forms.ChoiceField(label=_("Reason"), choices=Refusal.Reason.choices)
