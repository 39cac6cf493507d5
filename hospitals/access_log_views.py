"""The access log for national administrators: search it, page through it, export what was found."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import date
from typing import Any

from django import forms
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from core.forms import TiedErrorsMixin
from hospitals import audit
from hospitals.http import AuthenticatedRequest
from hospitals.models import AccessLog, User
from hospitals.permissions import has_role

PER_PAGE = 50


class AccessLogFilterForm(TiedErrorsMixin, forms.Form):
    user = forms.CharField(label=gettext_lazy("User"), required=False, max_length=150)
    action = forms.ChoiceField(
        label=gettext_lazy("Action"),
        required=False,
        choices=[("", gettext_lazy("all actions")), *AccessLog.Action.choices],
    )
    what = forms.CharField(
        label=gettext_lazy("What"),
        required=False,
        max_length=60,
        help_text=gettext_lazy("For example: refusal statistics, refusal list, account, api token."),
    )
    organisation = forms.CharField(label=gettext_lazy("Organisation"), required=False, max_length=200)
    since = forms.DateField(label=gettext_lazy("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=gettext_lazy("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since: date | None = data.get("since")
        until: date | None = data.get("until")
        if since is not None and until is not None and until < since:
            self.add_error("until", _("The end date lies before the start date."))
        return data

    def entries(self) -> QuerySet[AccessLog]:
        data = self.cleaned_data
        return audit.entries(
            username=data.get("user") or "",
            action=data.get("action") or "",
            what=data.get("what") or "",
            organisation=data.get("organisation") or "",
            since=data.get("since"),
            until=data.get("until"),
        )

    def scope(self) -> str:
        """The filters in the access-log entry of an export."""
        data = self.cleaned_data
        return audit.scope_of(
            user=data.get("user"),
            action=data.get("action"),
            what=data.get("what"),
            organisation=data.get("organisation"),
            since=data.get("since"),
            until=data.get("until"),
            format="csv",
        )


def _reader(request: AuthenticatedRequest) -> User:
    """National administrators only: the log says who looked at what, across every organisation."""
    user = request.user
    if not has_role(user) or not (user.role == User.Role.NATIONAL_ADMIN or user.is_superuser):
        raise PermissionDenied
    return user


@require_GET
def access_log(request: AuthenticatedRequest) -> HttpResponseBase:
    _reader(request)
    form = AccessLogFilterForm(request.GET or None)
    if request.GET and not form.is_valid():
        return render(request, "hospitals/access_log.html", {"form": form}, status=400)
    if not request.GET:
        form = AccessLogFilterForm({})
        form.is_valid()
    rows = form.entries()
    if request.GET.get("format") == "csv":
        audit.record(action=AccessLog.Action.EXPORT, what="access log", request=request, scope=form.scope())
        return _csv(rows)
    page = Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("format", None)
    return render(
        request,
        "hospitals/access_log.html",
        {"form": form, "page": page, "query": query.urlencode(), "csv_query": _with(query, format="csv")},
    )


def _with(query: Any, **extra: str) -> str:
    copy = query.copy()
    for key, value in extra.items():
        copy[key] = value
    return str(copy.urlencode())


class _Echo:
    """csv.writer writes into this; each row comes back as the string to stream."""

    def write(self, value: str) -> str:
        return value


def _cell(value: object) -> str:
    """Text a spreadsheet never runs as a formula (usernames, labels and paths come from users)."""
    text = "" if value is None else str(value)
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv(rows: QuerySet[AccessLog]) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())
    header = [
        _("When"),
        _("Username"),
        _("Role"),
        _("Organisation"),
        _("Action"),
        _("What"),
        _("Object"),
        _("Scope"),
        _("Client address"),
        _("Path"),
    ]

    def lines() -> Iterator[str]:
        yield "\ufeff"  # so spreadsheet programs read UTF-8
        yield writer.writerow(header)
        for entry in rows.iterator(chunk_size=2000):
            yield writer.writerow(
                [
                    _cell(v)
                    for v in (
                        timezone.localtime(entry.at).isoformat(timespec="seconds"),
                        entry.username,
                        entry.role,
                        entry.organisation,
                        entry.action,
                        entry.what,
                        entry.object_id,
                        entry.scope,
                        entry.ip,
                        entry.path,
                    )
                ]
            )

    stamp = timezone.localdate().isoformat()
    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="access-log-{stamp}.csv"'
    return response
