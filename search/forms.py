"""The search form (where, what care, how far) and the national care-level rules form."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.core.exceptions import ValidationError
from django.utils import formats
from django.utils.translation import gettext_lazy as _

from core.forms import TiedErrorsMixin
from hospitals.models import MAX_RULE_WEEKS, MAX_WEEKS, MIN_RULE_WEEKS, MIN_WEEKS, CareType, Postcode, User
from hospitals.services import validate_care_rules
from kraamzorg.models import monday_of
from kraamzorg.selectors import DUE_WEEKS_AHEAD, due_week_range
from search.selectors import (
    PC4_INPUT_RE,
    OriginError,
    SearchResult,
    parse_origin,
    practice_origin,
    search_capacity,
)


class SearchForm(TiedErrorsMixin, forms.Form):
    """Where the client is, the care she needs and, optionally, how far the pregnancy is."""

    where = forms.CharField(
        label=_("Postcode or place"),
        required=False,
        max_length=80,
        widget=forms.TextInput(attrs={"autocomplete": "off", "list": "place-options", "enterkeyhint": "search"}),
    )
    care = forms.ChoiceField(label=_("Care needed"), choices=CareType.choices, widget=forms.RadioSelect)
    weeks = forms.IntegerField(
        label=_("Gestational age in weeks (optional)"),
        required=False,
        min_value=MIN_WEEKS,
        max_value=MAX_WEEKS,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        self.user = user
        self.practice = practice_origin(user)
        super().__init__(*args, **kwargs)
        if self.practice is not None:
            self.fields["where"].help_text = _("Leave empty to search from your practice: %(place)s.") % {
                "place": self.practice.label
            }
        else:
            self.fields["where"].help_text = _("For example 3584 or Utrecht.")

    def clean_where(self) -> str:
        text: str = self.cleaned_data["where"]
        if not text.strip():
            if self.practice is None:
                raise ValidationError(
                    _("Your account has no practice location we know: enter a postcode or a place."),
                    code="required",
                )
            self.cleaned_data["origin"] = self.practice
            return text
        try:
            self.cleaned_data["origin"] = parse_origin(text)
        except OriginError as error:
            raise ValidationError(str(error), code="invalid") from None
        return text

    def search(self) -> SearchResult:
        """The client's origin decides the home region, never the searching account (docs/search.md)."""
        data = self.cleaned_data
        return search_capacity(origin=data["origin"], care=data["care"], gestational_weeks=data.get("weeks"))

    def summary(self) -> str:
        """The search in one line, for the collapsed form on a phone: '9713 · overdracht · 30 wk'."""
        data = self.cleaned_data
        parts = [data["origin"].pc4 or data["origin"].label, str(CareType(data["care"]).label)]
        if data.get("weeks") is not None:
            parts.append(_("%(weeks)s wk") % {"weeks": data["weeks"]})
        return " · ".join(parts)

    def query(self) -> str:
        """The validated search as a query string (live refresh of the result list)."""
        params = {"where": self.cleaned_data["where"], "care": self.cleaned_data["care"]}
        if self.cleaned_data.get("weeks") is not None:
            params["weeks"] = str(self.cleaned_data["weeks"])
        return urlencode(params)


class CareRulesForm(TiedErrorsMixin, forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    nicu_below_weeks = forms.IntegerField(
        label=_("NICU needed below (weeks)"), min_value=MIN_RULE_WEEKS, max_value=MAX_RULE_WEEKS
    )
    high_care_below_weeks = forms.IntegerField(
        label=_("high care needed below (weeks)"), min_value=MIN_RULE_WEEKS, max_value=MAX_RULE_WEEKS
    )
    term_from_weeks = forms.IntegerField(
        label=_("term from (weeks)"), min_value=MIN_RULE_WEEKS, max_value=MAX_RULE_WEEKS
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        try:
            validate_care_rules(data)
        except ValidationError as exc:
            self.add_errors_from(exc)
        return data


class KraamzorgForm(TiedErrorsMixin, forms.Form):
    """The midwife's kraamzorg lookup: the client's postcode area and her expected due date."""

    pc4 = forms.CharField(
        label=_("Client's postcode"),
        max_length=8,
        help_text=_("The 4 digits are enough, e.g. 3584: kraamzorg work areas are per postcode area."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off", "enterkeyhint": "search"}),
    )
    due = forms.DateField(
        label=_("Expected due date"),
        # The date picker sends ISO dates; without one people type the Dutch way.
        input_formats=["%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
    )

    def __init__(self, *args: Any, now: datetime | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.first_week, self.last_week = due_week_range(now)
        self.last_day = self.last_week + timedelta(days=6)  # the Sunday of the last due week
        self.fields["due"].help_text = _("The due week counts: from this week up to %(n)s weeks ahead.") % {
            "n": DUE_WEEKS_AHEAD
        }

    def clean_pc4(self) -> str:
        text = " ".join(self.cleaned_data["pc4"].split())
        match = PC4_INPUT_RE.match(text)
        if not match:
            raise ValidationError(_("Enter the 4 digits of the client's postcode, like 3584."), code="invalid")
        postcode = Postcode.objects.filter(pk=match.group(1)).first()
        if postcode is None:
            raise ValidationError(
                _("%(pc4)s is not a known Dutch postcode area. Check the number.") % {"pc4": match.group(1)},
                code="unknown",
            )
        self.cleaned_data["postcode"] = postcode
        return postcode.pc4

    def clean_due(self) -> date:
        due: date = self.cleaned_data["due"]
        week = monday_of(due)
        if not self.first_week <= week <= self.last_week:
            raise ValidationError(
                _("Choose a due date from this week up to %(n)s weeks ahead (until %(last)s).")
                % {"n": DUE_WEEKS_AHEAD, "last": formats.date_format(self.last_day)},
                code="range",
            )
        self.cleaned_data["week"] = week
        return due

    def query(self) -> str:
        return urlencode({"pc4": self.cleaned_data["pc4"], "due": self.cleaned_data["due"].isoformat()})
