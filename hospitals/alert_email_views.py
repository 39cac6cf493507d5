"""One's own alert e-mails, on or off: for ROAZ coordinators and national administrators, who get them
(refusals.alerts.notify; docs/refusals.md, "Alerts")."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from hospitals.forms import AlertEmailsForm
from hospitals.http import AuthenticatedRequest
from hospitals.permissions import receives_alerts
from hospitals.services import user_set_alert_emails


@require_http_methods(["GET", "POST"])
def alert_emails(request: AuthenticatedRequest) -> HttpResponse:
    user = request.user
    if not receives_alerts(user):
        raise PermissionDenied
    # Bound on every POST: an unticked box sends nothing, and an empty POST still means "off".
    data = request.POST if request.method == "POST" else None
    form = AlertEmailsForm(data, initial={"alert_emails": user.alert_emails})
    if request.method == "POST" and form.is_valid():
        on = form.cleaned_data["alert_emails"]
        user_set_alert_emails(user=user, on=on, by=user)
        if on:
            messages.success(request, _("Alert e-mails are on."))
        else:
            messages.success(request, _("Alert e-mails are off. You still see the alert banner on your pages."))
        return redirect("hospitals:alert_emails")
    return render(request, "hospitals/alert_emails.html", {"form": form})
