"""Account management for organisation administrators: their own organisation only."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from hospitals.forms import MemberCreateForm
from hospitals.models import Organisation, User
from hospitals.permissions import is_org_admin
from hospitals.services import member_create, member_set_active


def _organisation(request: HttpRequest) -> Organisation:
    if not is_org_admin(request.user):
        raise PermissionDenied
    return request.user.organisation  # type: ignore[union-attr,return-value]


@require_http_methods(["GET", "POST"])
def members(request: HttpRequest) -> HttpResponse:
    organisation = _organisation(request)
    form = MemberCreateForm(request.POST or None, organisation=organisation)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            user = member_create(form=form, by=request.user)  # type: ignore[arg-type]
            messages.success(request, _("Account %(name)s created.") % {"name": user.username})
            return redirect("hospitals:members")
        status = 400
    people = User.objects.filter(organisation=organisation).prefetch_related("locations").order_by("username")
    return render(
        request, "hospitals/members.html", {"organisation": organisation, "people": people, "form": form}, status=status
    )


@require_POST
def member_toggle(request: HttpRequest, user_id: int) -> HttpResponse:
    organisation = _organisation(request)
    member = get_object_or_404(User, pk=user_id, organisation=organisation)
    if member.pk == request.user.pk:
        messages.error(request, _("You cannot deactivate your own account."))
    else:
        member_set_active(member=member, active=not member.is_active, by=request.user)  # type: ignore[arg-type]
    return redirect("hospitals:members")
