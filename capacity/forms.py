from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from capacity.models import Unit
from capacity.services import MAX_BEDS, CapacityChange, validate_change
from core.forms import TiedErrorsMixin, form_field
from core.time import ZONE
from hospitals.models import Region

# One-tap ends of a stop, turned into a time by the server when the form is saved.
HOURS_AHEAD = {"2h": 2, "4h": 4}
CLOCK_TIMES = {"08": time(8), "17": time(17)}
END_UNKNOWN, END_OTHER = "unknown", "other"
STOP_END_CHOICES = [
    ("2h", _("+2 h")),
    ("4h", _("+4 h")),
    ("08", _("until 08:00")),
    ("17", _("until 17:00")),
    (END_UNKNOWN, _("unknown")),
    (END_OTHER, _("other time")),
]


def quick_stop_end(choice: str, now: datetime) -> datetime | None:
    """The expected end a quick choice means at ``now``; None for "unknown" (and "other").

    +2 h and +4 h are elapsed time; "until 08:00" and "until 17:00" are the next such wall-clock
    time in Dutch local time (today, or tomorrow once it has passed), built from the local date so a
    change to or from summer time in between does not shift it. Cut to the minute, so the end
    survives a round trip through the datetime-local field unchanged.
    """
    # In UTC: Python adds to and compares datetimes of one zone by their wall clocks.
    now = now.astimezone(UTC)
    if choice in HOURS_AHEAD:
        return (now + timedelta(hours=HOURS_AHEAD[choice])).replace(second=0, microsecond=0)
    if choice in CLOCK_TIMES:
        today = now.astimezone(ZONE).date()
        end = datetime.combine(today, CLOCK_TIMES[choice], tzinfo=ZONE).astimezone(UTC)
        if end <= now:
            end = datetime.combine(today + timedelta(days=1), CLOCK_TIMES[choice], tzinfo=ZONE).astimezone(UTC)
        return end
    return None


class UnitCapacityForm(TiedErrorsMixin, forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    available = forms.IntegerField(label=_("Beds free"), min_value=0, max_value=MAX_BEDS)
    staffed_total = forms.IntegerField(label=_("Beds staffed"), min_value=0, max_value=MAX_BEDS)
    status = forms.ChoiceField(label=_("Status"), choices=Unit.Status.choices, widget=forms.RadioSelect)
    stop_reason = forms.ChoiceField(
        label=_("Reason for the stop"), choices=Unit.StopReason.choices, required=False, widget=forms.RadioSelect
    )
    # Empty (a form posted without it): the date-time field below is taken as it is.
    stop_end_choice = forms.ChoiceField(
        label=_("Expected end"), choices=STOP_END_CHOICES, required=False, widget=forms.RadioSelect
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
                "stop_end_choice": END_OTHER if unit.stop_expected_end else END_UNKNOWN,
                "stop_expected_end": unit.stop_expected_end,
                "note": unit.note,
            },
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        choice = data.get("stop_end_choice")
        if data["status"] == Unit.Status.STOP and choice:
            if choice == END_OTHER and data.get("stop_expected_end") is None:
                self.add_errors_from(
                    ValidationError({"stop_expected_end": _("Enter the expected end, or choose “unknown”.")})
                )
                return data
            if choice != END_OTHER:
                # Computed now, at saving: "+2 h" means two hours from the moment it is saved.
                data["stop_expected_end"] = quick_stop_end(choice, timezone.now())
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


class ConfirmForm(TiedErrorsMixin, forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


VERSION_FIELD = re.compile(r"version-([1-9][0-9]{0,9})")


class ConfirmAllForm(forms.Form):
    """Confirm all unchanged: a ``version-<unit id>`` field per unit, with the version the page showed.

    Each unit's form on the page carries its field (``form="confirm-all"``), so a unit saved on its
    own sends its new version along.
    """

    def __init__(self, data: Mapping[str, Any]) -> None:
        super().__init__(data)
        for name in data:
            if VERSION_FIELD.fullmatch(name):
                self.fields[name] = forms.IntegerField(min_value=1, widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.fields:
            raise ValidationError(_("There are no units to confirm."))
        return data

    def versions(self) -> dict[int, int]:
        """Unit id -> the version the page showed."""
        return {int(name.removeprefix("version-")): version for name, version in self.cleaned_data.items()}


class BoardTokenForm(TiedErrorsMixin, forms.Form):
    label = forms.CharField(label=_("Where the screen hangs"), max_length=80)
    region: forms.ModelChoiceField[Region] = forms.ModelChoiceField(
        label=_("Region"), queryset=Region.objects.none(), empty_label=None
    )

    def __init__(self, *args: Any, regions: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        form_field(self, "region", forms.ModelChoiceField).queryset = regions
