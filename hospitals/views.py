"""Account management for organisation administrators (their own organisation only), and unlocking
accounts locked after failed logins (national administrators: anyone)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from core.http import local_path
from hospitals.forms import MemberCreateForm
from hospitals.http import AuthenticatedRequest
from hospitals.lockout import locked_usernames
from hospitals.models import Organisation, User
from hospitals.permissions import can_unlock, has_role, is_org_admin
from hospitals.services import member_create, member_set_active, member_unlock


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
    locked = locked_usernames([person.username for person in people], request)
    return render(
        request,
        "hospitals/members.html",
        {"organisation": organisation, "people": people, "form": form, "locked": locked},
        status=status,
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


@require_http_methods(["GET"])
def locked_accounts(request: AuthenticatedRequest) -> HttpResponse:
    """Accounts locked after failed logins: national administrators see everyone's, organisation
    administrators their own members' (who they also see on the members page)."""
    user = request.user
    if not has_role(user):
        raise PermissionDenied
    candidates = User.objects.select_related("organisation").order_by("username")
    if user.role != User.Role.NATIONAL_ADMIN and not user.is_superuser:
        if not is_org_admin(user):
            raise PermissionDenied
        candidates = candidates.filter(organisation=user.organisation)
    people = list(candidates.filter(username__in=locked_usernames(None, request)))
    return render(request, "hospitals/locked.html", {"people": people})


@require_POST
def member_unlock_view(request: AuthenticatedRequest, user_id: int) -> HttpResponse:
    member = get_object_or_404(User, pk=user_id)
    if not can_unlock(request.user, member):
        raise PermissionDenied
    member_unlock(member=member, by=request.user)
    messages.success(request, _("Account %(name)s unlocked.") % {"name": member.username})
    back = local_path(request, request.POST.get("next", ""))
    return redirect(back or reverse("hospitals:members"))
