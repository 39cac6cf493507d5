from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms.boundfield import BoundWidget
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from capacity.selectors import obstetric_locations
from core.forms import TiedErrorsMixin, form_field
from hospitals.models import MAX_WEEKS, MIN_WEEKS, Location, User
from refusals.models import Refusal
from refusals.selectors import location_label, locations_matching, taken_in_choices
from refusals.services import RefusalInput, validate_refusal

OTHER = "other"  # the taken-in choice "another location": the type-ahead names it


class LocationChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Location) -> str:
        return location_label(obj)


class TakenInField(forms.ChoiceField):
    """One tap on a suggested location, or "another location"; any location id is accepted
    (a correction, or a client that posts one): the form resolves and validates it."""

    def valid_value(self, value: Any) -> bool:
        return value == OTHER or str(value).isdigit()


@dataclass(frozen=True)
class ChoiceGroup:
    legend: str
    radios: list[BoundWidget]


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
    # Not required here: tapping a location that took her in answers it (clean()).
    outcome = forms.ChoiceField(
        label=_("Where did the client go?"), choices=Refusal.Outcome.choices, widget=forms.RadioSelect, required=False
    )
    outcome_location = TakenInField(label=_("Location that took her in"), required=False, widget=forms.RadioSelect)
    outcome_location_other = forms.CharField(
        label=_("Name or town of the other location"),
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"list": "taken-in-options", "autocomplete": "off"}),
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

    def __init__(self, *args: Any, user: User, near: Sequence[int] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        form_field(self, "location", LocationChoiceField).queryset = obstetric_locations().order_by("name")
        if not self.is_bound and "occurred_at" not in self.initial:
            self.initial["occurred_at"] = timezone.localtime().replace(second=0, microsecond=0)
        self.taken_in = taken_in_choices(user, near=near, refused_id=self._refused_id())
        offered = self.taken_in.near + self.taken_in.in_region
        form_field(self, "outcome_location", TakenInField).choices = [
            *((str(x.pk), location_label(x)) for x in offered),
            (OTHER, _("Another location")),
        ]
        chosen = self.initial.get("outcome_location")
        if chosen is not None and chosen not in {x.pk for x in offered}:
            # A correction whose location is not among the suggestions: shown in the type-ahead.
            location = next((x for x in self.taken_in.everywhere if x.pk == chosen), None)
            self.initial["outcome_location"] = OTHER
            self.initial["outcome_location_other"] = location_label(location) if location else ""

    def _refused_id(self) -> int | None:
        raw = str(self.data.get("location", "") if self.is_bound else self.initial.get("location", ""))
        return int(raw) if raw.isdigit() else None

    def taken_in_groups(self) -> list[ChoiceGroup]:
        """The one-tap choices in their groups: from the search, her region, then "another location"."""
        radios = {str(radio.data["value"]): radio for radio in self["outcome_location"]}
        groups = []
        if self.taken_in.near:
            near = [radios[str(x.pk)] for x in self.taken_in.near]
            groups.append(ChoiceGroup(str(_("Near the client (your search), nearest first")), near))
        if self.taken_in.in_region and self.taken_in.region is not None:
            names = {"region": self.taken_in.region.name}
            legend = _("Other locations in %(region)s") if self.taken_in.near else _("Locations in %(region)s")
            groups.append(ChoiceGroup(str(legend) % names, [radios[str(x.pk)] for x in self.taken_in.in_region]))
        return groups

    def other_radio(self) -> BoundWidget:
        return next(radio for radio in self["outcome_location"] if radio.data["value"] == OTHER)

    def _taken_in(self, raw: str) -> Location | None:
        """The location chosen with one tap, or the one the type-ahead text names (errors on its field)."""
        typed = (self.cleaned_data.get("outcome_location_other") or "").strip()
        if raw.isdigit():
            location = next((x for x in self.taken_in.everywhere if x.pk == int(raw)), None)
            if location is None:
                self.add_error("outcome_location", _("Choose a location with obstetrics."))
            return location
        if raw != OTHER and not typed:
            return None
        if not typed:
            self.add_error("outcome_location_other", _("Type the name or town of the location that took her in."))
            return None
        matches = locations_matching(typed, self.taken_in.everywhere)
        if len(matches) == 1:
            return matches[0]
        if matches:
            message = _("“%(text)s” matches more than one location: %(names)s. Choose one from the list.") % {
                "text": typed,
                "names": "; ".join(location_label(x) for x in matches[:5]),
            }
        else:
            message = _("No location matches “%(text)s”. Choose one from the list.") % {"text": typed}
        self.add_error("outcome_location_other", message)
        return None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if "outcome_location" in data:
            # A location matters only when she went to one (or the outcome was left to that tap).
            went = data.get("outcome") in ("", None, Refusal.Outcome.LOCATION)
            data["outcome_location"] = self._taken_in(data["outcome_location"] or "") if went else None
        if "outcome" in data and not data["outcome"]:
            if data.get("outcome_location") is not None:
                data["outcome"] = Refusal.Outcome.LOCATION  # one tap on where she went answers both
            elif not self.has_error("outcome_location") and not self.has_error("outcome_location_other"):
                self.add_error("outcome", _("Choose where the client went."))
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
