"""Delivery-suite phone numbers, kept by the people who know them: organisation administrators
for their own locations, national administrators for any (docs/search.md, "Phone numbers")."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from hospitals.forms import LocationPhoneForm
from hospitals.http import AuthenticatedRequest
from hospitals.models import Location
from hospitals.permissions import can_manage_phones, can_set_location_phone
from hospitals.selectors import phone_book, phone_history
from hospitals.services import PhoneConflict, location_set_phone


@require_GET
def phones(request: AuthenticatedRequest) -> HttpResponse:
    if not can_manage_phones(request.user):
        raise PermissionDenied
    return render(request, "hospitals/phones.html", {"locations": phone_book(request.user)})


@require_http_methods(["GET", "POST"])
def phone_edit(request: AuthenticatedRequest, location_id: int) -> HttpResponse:
    location = get_object_or_404(Location, pk=location_id, active=True)
    if not can_set_location_phone(request.user, location):
        raise PermissionDenied
    form = LocationPhoneForm(request.POST or None, initial={"phone": location.phone, "seen": location.phone})
    status = 200
    conflict = False
    if request.method == "POST":
        if form.is_valid():
            try:
                location = location_set_phone(
                    location_id=location.pk,
                    by=request.user,
                    phone=form.cleaned_data["phone"],
                    # Without the number the page showed, the last word wins (e.g. a script).
                    expected=form.cleaned_data["seen"] if "seen" in request.POST else None,
                )
            except PhoneConflict as exc:
                location = exc.current
                form = LocationPhoneForm(initial={"phone": location.phone, "seen": location.phone})
                status, conflict = 409, True
            except ValidationError as exc:  # a rule the form did not know of
                form.add_errors_from(exc)
                status = 400
            else:
                if location.phone:
                    text = _("Phone number of %(location)s saved: %(phone)s.")
                else:
                    text = _("Phone number of %(location)s removed.")
                messages.success(request, text % {"location": location.name, "phone": location.phone})
                return redirect("hospitals:phones")
        else:
            status = 400
    return render(
        request,
        "hospitals/phone_edit.html",
        {"location": location, "form": form, "conflict": conflict, "history": phone_history(location)},
        status=status,
    )
