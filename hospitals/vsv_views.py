"""A midwifery practice's VSV, set by its organisation administrator (docs/refusals.md, "VSV")."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from hospitals.forms import PracticeVsvForm
from hospitals.http import AuthenticatedRequest
from hospitals.models import VSV
from hospitals.permissions import can_set_practice_vsv
from hospitals.selectors import practice_vsv_ids
from hospitals.services import organisation_set_vsv


@require_http_methods(["GET", "POST"])
def practice_vsv(request: AuthenticatedRequest) -> HttpResponse:
    user = request.user
    if not can_set_practice_vsv(user):
        raise PermissionDenied
    practice = user.organisation
    assert practice is not None
    form = PracticeVsvForm(
        request.POST if request.method == "POST" else None,
        region_id=practice.region_id,
        initial={"vsv": practice.vsv_id},
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            chosen = form.cleaned_data["vsv"]
            try:
                organisation_set_vsv(organisation_id=practice.pk, vsv_id=chosen.pk if chosen else None, by=user)
            except ValidationError as exc:
                form.add_error("vsv", exc.message_dict.get("vsv", exc.messages))
            else:
                messages.success(request, _("The VSV of the practice is saved."))
                return redirect("hospitals:practice_vsv")
        status = 400
    effective = practice_vsv_ids({practice.pk}).get(practice.pk)
    context = {
        "form": form,
        "practice": practice,
        "effective": VSV.objects.filter(pk=effective).first() if effective else None,
        "is_default": practice.vsv_id is None,
    }
    return render(request, "hospitals/practice_vsv.html", context, status=status)
