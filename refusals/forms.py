from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from capacity.selectors import obstetric_locations
from core.forms import TiedErrorsMixin, form_field
from hospitals.models import MAX_WEEKS, MIN_WEEKS, Location
from refusals.models import Refusal
from refusals.services import RefusalInput, validate_refusal


class LocationChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Location) -> str:
        return f"{obj.name} ({obj.city})"


class RefusalForm(TiedErrorsMixin, forms.Form):
    location = LocationChoiceField(label=_("Location that refused"), queryset=Location.objects.none())
    occurred_at = forms.DateTimeField(
        label=_("When"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    care_type = forms.ChoiceField(label=_("Care"), choices=Refusal.CareType.choices, widget=forms.RadioSelect)
    reason = forms.ChoiceField(label=_("Reason given"), choices=Refusal.Reason.choices, widget=forms.RadioSelect)
    gestational_weeks = forms.IntegerField(
        label=_("Gestational age in weeks (optional)"),
        required=False,
        min_value=MIN_WEEKS,
        max_value=MAX_WEEKS,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )
    outcome = forms.ChoiceField(
        label=_("Where did the client go?"), choices=Refusal.Outcome.choices, widget=forms.RadioSelect
    )
    outcome_location = LocationChoiceField(
        label=_("Location that took her in"), queryset=Location.objects.none(), required=False
    )
    hospitals_called = forms.IntegerField(
        label=_("Hospitals called in all (optional)"),
        required=False,
        min_value=1,
        max_value=30,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )
    note = forms.CharField(
        label=_("Note (optional)"),
        required=False,
        max_length=280,
        help_text=_("No name, BSN, date of birth or address: this record must not identify the client."),
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        locations = obstetric_locations().order_by("name")
        form_field(self, "location", LocationChoiceField).queryset = locations
        form_field(self, "outcome_location", LocationChoiceField).queryset = locations
        if not self.is_bound and "occurred_at" not in self.initial:
            self.initial["occurred_at"] = timezone.localtime().replace(second=0, microsecond=0)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        try:
            validate_refusal(self.to_input())
        except ValidationError as exc:
            self.add_errors_from(exc)
        return data

    def to_input(self) -> RefusalInput:
        data = self.cleaned_data
        outcome_location = data.get("outcome_location")
        return RefusalInput(
            occurred_at=data["occurred_at"],
            location_id=data["location"].pk,
            care_type=data["care_type"],
            reason=data["reason"],
            outcome=data["outcome"],
            gestational_weeks=data.get("gestational_weeks"),
            outcome_location_id=outcome_location.pk if outcome_location else None,
            hospitals_called=data.get("hospitals_called"),
            note=(data.get("note") or "").strip(),
        )

    @classmethod
    def initial_for(cls, refusal: Refusal) -> dict[str, Any]:
        return {
            "location": refusal.location_id,
            "occurred_at": timezone.localtime(refusal.occurred_at),
            "care_type": refusal.care_type,
            "reason": refusal.reason,
            "gestational_weeks": refusal.gestational_weeks,
            "outcome": refusal.outcome,
            "outcome_location": refusal.outcome_location_id,
            "hospitals_called": refusal.hospitals_called,
            "note": refusal.note,
        }
