"""API tokens: organisation administrators manage their organisation's, coordinators their region's.

An organisation token reads capacity and, with the write scope, keeps that organisation's
units current; with the answer-requests scope it reads and answers the placement requests to
that organisation's locations (api/placements.py); a kraamzorg organisation's token reads and, with
the write-intake scope, keeps its intake weeks current (api/intake.py). A region token (coordinator of that region,
or a national administrator) reads capacity and the region's refusal statistics. The secret is shown once.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from api.services import api_token_issue, api_token_revoke
from capacity.models import ApiToken
from core.forms import TiedErrorsMixin, form_field
from hospitals.http import AuthenticatedRequest
from hospitals.models import Organisation, Region
from hospitals.permissions import is_org_admin, screen_regions

ORGANISATION_SCOPES = [ApiToken.Scope.READ, ApiToken.Scope.WRITE_CAPACITY, ApiToken.Scope.ANSWER_REQUESTS]
# A kraamzorg organisation has no units and is asked for no place: its planning system keeps its intake weeks.
KRAAMZORG_SCOPES = [ApiToken.Scope.READ, ApiToken.Scope.WRITE_INTAKE]
REGION_SCOPES = [ApiToken.Scope.STATISTICS, ApiToken.Scope.READ]


class ApiTokenForm(TiedErrorsMixin, forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Name"),
        max_length=80,
        help_text=gettext_lazy("Which system uses it, e.g. 'HIS feed'."),
    )
    scope = forms.ChoiceField(label=gettext_lazy("Scope"))
    region: forms.ModelChoiceField[Region] = forms.ModelChoiceField(
        label=gettext_lazy("Region"), queryset=Region.objects.none(), empty_label=None
    )

    def __init__(self, *args: Any, organisation: Organisation | None, regions: QuerySet[Region], **kwargs: Any):
        super().__init__(*args, **kwargs)
        scopes = REGION_SCOPES
        if organisation is not None and organisation.kind == Organisation.Kind.KRAAMZORG:
            scopes = KRAAMZORG_SCOPES
        elif organisation is not None:
            # A midwifery practice has no units to keep current and is asked for no place: it only reads.
            has_units = organisation.locations.filter(active=True).exists()
            scopes = ORGANISATION_SCOPES if has_units else [ApiToken.Scope.READ]
        self.scopes = scopes
        form_field(self, "scope", forms.ChoiceField).choices = [(s.value, s.label) for s in scopes]
        if organisation is not None:
            del self.fields["region"]
        else:
            form_field(self, "region", forms.ModelChoiceField).queryset = regions


def _owner(request: AuthenticatedRequest) -> tuple[Organisation | None, QuerySet[Region]]:
    """Whose tokens this user manages: their organisation's, or the regions they coordinate."""
    user = request.user
    if is_org_admin(user):
        return user.organisation, Region.objects.none()
    regions = screen_regions(user)
    if regions.exists():
        return None, regions
    raise PermissionDenied


def _tokens(organisation: Organisation | None, regions: QuerySet[Region]) -> QuerySet[ApiToken]:
    qs = ApiToken.objects.select_related("organisation", "region", "created_by").order_by("-created_at")
    if organisation is not None:
        return qs.filter(organisation=organisation)
    return qs.filter(region__in=regions)


@require_http_methods(["GET", "POST"])
def api_tokens(request: AuthenticatedRequest) -> HttpResponse:
    organisation, regions = _owner(request)
    form = ApiTokenForm(request.POST or None, organisation=organisation, regions=regions)
    new_secret = ""
    status = 200
    if request.method == "POST":
        if form.is_valid():
            _token, new_secret = api_token_issue(
                name=form.cleaned_data["name"],
                scope=form.cleaned_data["scope"],
                by=request.user,
                organisation_id=organisation.pk if organisation else None,
                region_id=form.cleaned_data["region"].pk if organisation is None else None,
            )
            form = ApiTokenForm(organisation=organisation, regions=regions)
        else:
            status = 400
    return render(
        request,
        "api/tokens.html",
        {
            "form": form,
            "tokens": _tokens(organisation, regions),
            "new_secret": new_secret,
            "organisation": organisation,
            # Only an organisation with locations is asked for places, so only it is offered the scope.
            "answers_requests": ApiToken.Scope.ANSWER_REQUESTS in form.scopes,
            "writes_intake": ApiToken.Scope.WRITE_INTAKE in form.scopes,
        },
        status=status,
    )


@require_POST
def api_token_revoke_view(request: AuthenticatedRequest, token_id: int) -> HttpResponse:
    organisation, regions = _owner(request)
    token = get_object_or_404(_tokens(organisation, regions), pk=token_id)
    api_token_revoke(token_id=token.pk, by=request.user)
    messages.success(request, _("Token %(name)s revoked.") % {"name": token.name})
    return redirect("api:api_tokens")
