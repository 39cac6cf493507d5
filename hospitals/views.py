"""Account management for organisation administrators: their own organisation only."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from hospitals.forms import MemberCreateForm
from hospitals.http import AuthenticatedRequest
from hospitals.models import Organisation, User
from hospitals.permissions import is_org_admin
from hospitals.services import member_create, member_set_active


def _organisation(request: AuthenticatedRequest) -> Organisation:
    if not is_org_admin(request.user):
        raise PermissionDenied
    organisation = request.user.organisation
    if organisation is None:  # is_org_admin saw an organisation_id: not reached
        raise PermissionDenied
    return organisation


@require_http_methods(["GET", "POST"])
def members(request: AuthenticatedRequest) -> HttpResponse:
    organisation = _organisation(request)
    form = MemberCreateForm(request.POST or None, organisation=organisation)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            user = member_create(form=form, by=request.user)
            messages.success(request, _("Account %(name)s created.") % {"name": user.username})
            return redirect("hospitals:members")
        status = 400
    people = User.objects.filter(organisation=organisation).prefetch_related("locations").order_by("username")
    return render(
        request, "hospitals/members.html", {"organisation": organisation, "people": people, "form": form}, status=status
    )


@require_POST
def member_toggle(request: AuthenticatedRequest, user_id: int) -> HttpResponse:
    organisation = _organisation(request)
    member = get_object_or_404(User, pk=user_id, organisation=organisation)
    if member.pk == request.user.pk:
        messages.error(request, _("You cannot deactivate your own account."))
    else:
        member_set_active(member=member, active=not member.is_active, by=request.user)
    return redirect("hospitals:members")
