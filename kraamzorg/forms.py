"""The planner's week form: one per week of the grid, prefixed by the week so twelve fit one page."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from core.forms import TiedErrorsMixin
from kraamzorg.models import INDICATED_HOURS, MAX_FAMILIES, IntakeWeek
from kraamzorg.selectors import GridWeek
from kraamzorg.services import IntakeChange


class IntakeWeekForm(TiedErrorsMixin, forms.Form):
    version = forms.IntegerField(min_value=0, widget=forms.HiddenInput)
    status = forms.ChoiceField(label=_("Intake"), choices=IntakeWeek.Status.choices, widget=forms.RadioSelect)
    families = forms.IntegerField(
        label=_("New families you can take in"),
        min_value=0,
        max_value=MAX_FAMILIES,
        error_messages={"required": _("Fill in how many new families you can take in (0 or more).")},
    )
    hours = forms.ChoiceField(label=_("Hours per family"), choices=IntakeWeek.Hours.choices, widget=forms.RadioSelect)
    minimum_hours = forms.IntegerField(
        label=_("Minimum hours you can deliver"), required=False, min_value=1, max_value=INDICATED_HOURS - 1
    )
    reason = forms.ChoiceField(
        label=_("Reason"), choices=IntakeWeek.StopReason.choices, widget=forms.RadioSelect, required=False
    )

    def __init__(self, *args: Any, week: GridWeek, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", f"w{week.week:%Y%m%d}")
        super().__init__(*args, **kwargs)
        self.week = week

    @classmethod
    def for_week(cls, week: GridWeek) -> IntakeWeekForm:
        row = week.row
        initial: dict[str, object] = {"version": week.version, "status": "open", "families": None, "hours": "full"}
        if row is not None:
            initial.update(
                status=row.status,
                families=row.families,
                hours=row.hours,
                minimum_hours=row.minimum_hours,
                reason=row.reason,
            )
        return cls(initial=initial, week=week)

    def change(self) -> IntakeChange:
        data = self.cleaned_data
        return IntakeChange(
            families=data["families"],
            hours=data["hours"],
            status=data["status"],
            minimum_hours=data.get("minimum_hours"),
            reason=data.get("reason") or "",
        )
