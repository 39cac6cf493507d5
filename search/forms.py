"""The search form (where, what care, how far) and the national care-level rules form."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from core.forms import TiedErrorsMixin
from hospitals.models import MAX_RULE_WEEKS, MAX_WEEKS, MIN_RULE_WEEKS, MIN_WEEKS, CareType, User
from hospitals.services import validate_care_rules
from search.selectors import (
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
