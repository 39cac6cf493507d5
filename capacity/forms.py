from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from capacity.models import Unit
from capacity.services import CapacityChange, validate_change
from core.forms import TiedErrorsMixin, form_field
from hospitals.models import Region


class UnitCapacityForm(TiedErrorsMixin, forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    available = forms.IntegerField(label=_("Beds free"), min_value=0, max_value=999)
    staffed_total = forms.IntegerField(label=_("Beds staffed"), min_value=0, max_value=999)
    status = forms.ChoiceField(label=_("Status"), choices=Unit.Status.choices, widget=forms.RadioSelect)
    stop_reason = forms.ChoiceField(
        label=_("Reason for the stop"),
        choices=[("", _("— choose —")), *Unit.StopReason.choices],
        required=False,
    )
    stop_expected_end = forms.DateTimeField(
        label=_("Expected end of the stop"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    note = forms.CharField(label=_("Note"), max_length=200, required=False)

    def __init__(self, *args: Any, unit: Unit, **kwargs: Any) -> None:
        self.unit = unit
        kwargs.setdefault("auto_id", f"unit{unit.pk}-%s")
        super().__init__(*args, **kwargs)

    @classmethod
    def for_unit(cls, unit: Unit) -> UnitCapacityForm:
        return cls(
            unit=unit,
            initial={
                "version": unit.version,
                "available": unit.available,
                "staffed_total": unit.staffed_total,
                "status": unit.status,
                "stop_reason": unit.stop_reason,
                "stop_expected_end": unit.stop_expected_end,
                "note": unit.note,
            },
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        try:
            validate_change(self.change())
        except ValidationError as exc:
            self.add_errors_from(exc)
        return data

    def change(self) -> CapacityChange:
        data = self.cleaned_data
        return CapacityChange(
            staffed_total=data["staffed_total"],
            available=data["available"],
            status=data["status"],
            stop_reason=data.get("stop_reason") or "",
            stop_expected_end=data.get("stop_expected_end"),
            note=data.get("note") or "",
        )


class ConfirmForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class BoardTokenForm(TiedErrorsMixin, forms.Form):
    label = forms.CharField(label=_("Where the screen hangs"), max_length=80)
    region: forms.ModelChoiceField[Region] = forms.ModelChoiceField(
        label=_("Region"), queryset=Region.objects.none(), empty_label=None
    )

    def __init__(self, *args: Any, regions: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        form_field(self, "region", forms.ModelChoiceField).queryset = regions
