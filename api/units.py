"""API endpoints for units: current state, history, and writes by a hospital system.

Writes go through the same service functions as the staff page (capacity/services.py):
same validation, history (source=api, with the token), optimistic concurrency, the
retry-as-confirmation rule (``retry_confirms``) and live push.
"""

from __future__ import annotations

from typing import Annotated

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import Header, Path, Query, Router

from api.base import ApiProblem, Problem, expected_version, forbidden, not_found, only_query, request_token
from api.schemas import (
    MAX_ID,
    CapacityIn,
    ConfirmIn,
    HistoryEntry,
    HistoryPage,
    LocationUpdateIn,
    LocationWriteResult,
    UnitOut,
    UnitUpdateIn,
    WriteResult,
)
from capacity.models import ApiToken, CapacityEvent, Unit
from capacity.services import (
    CapacityChange,
    LocationChangeInvalid,
    LocationVersionConflict,
    UnknownUnitKinds,
    VersionConflict,
    location_update_capacity,
    unit_confirm_unchanged,
    unit_update_capacity,
)
from hospitals.models import Location

router = Router(tags=["units"])

Id = Annotated[int, Path(ge=1, le=MAX_ID)]
READ_ERRORS = {401: Problem, 404: Problem, 422: Problem, 429: Problem}
WRITE_ERRORS = {**READ_ERRORS, 400: Problem, 403: Problem, 409: Problem, 428: Problem}


def _unit(unit_id: int) -> Unit:
    unit = Unit.objects.select_related("location").filter(pk=unit_id, location__active=True).first()
    if unit is None:
        raise not_found(_("There is no unit %(id)s.") % {"id": unit_id})
    return unit


def _etag(unit: Unit) -> str:
    return f'"{unit.version}"'


def _require_writer(token: ApiToken, location: Location) -> None:
    if not token.can_write_capacity:
        raise forbidden(_("This token may only read. Ask your organisation administrator for a write-capacity token."))
    if token.organisation_id != location.organisation_id:
        raise forbidden(_("This token may only change the units of its own organisation."))


def _expected_version(if_match: str | None, body_version: int | None) -> int:
    return expected_version(
        if_match, body_version, bad_header=_('If-Match must be the unit version you last saw, e.g. If-Match: "12".')
    )


def _invalid(errors: dict[str, list[str]], prefix: str = "") -> list[dict[str, str]]:
    return [
        {"in": "body", "pointer": f"{prefix}/{field}", "detail": message}
        for field, messages in errors.items()
        for message in messages
    ]


def _invalid_problem(errors: list[dict[str, str]]) -> ApiProblem:
    return ApiProblem(
        422, "invalid-capacity", _("Invalid capacity"), _("The figures were not saved: see errors."), errors=errors
    )


def _conflict(current: list[Unit]) -> ApiProblem:
    return ApiProblem(
        409,
        "version-conflict",
        _("Version conflict"),
        _("The unit was changed since the version you sent. Nothing was saved; the current state is included."),
        current=[UnitOut.of(u).model_dump(mode="json") for u in current],
    )


@router.get("/units/{unit_id}", response={200: UnitOut, **READ_ERRORS}, summary="A unit's current state")
def unit_detail(request: HttpRequest, response: HttpResponse, unit_id: Id) -> UnitOut:
    only_query(request)
    unit = _unit(unit_id)
    response["ETag"] = _etag(unit)
    return UnitOut.of(unit)


@router.put(
    "/units/{unit_id}",
    response={200: WriteResult, **WRITE_ERRORS},
    summary="Set a unit's figures",
    description=(
        "Send the unit's full current figures with the version you last saw (If-Match header or "
        "'version'). Sending the figures it already has changes only the confirmed time "
        "(result 'confirmed'). A stale version gets 409 with the current state, unless the figures "
        "you send are exactly the current ones (a retried request): that confirms them."
    ),
)
def unit_update(
    request: HttpRequest,
    response: HttpResponse,
    unit_id: Id,
    payload: UnitUpdateIn,
    if_match: Annotated[str | None, Header(alias="If-Match")] = None,
) -> WriteResult:
    token = request_token(request)
    unit = _unit(unit_id)
    _require_writer(token, unit.location)
    try:
        written = unit_update_capacity(
            unit_id=unit.pk,
            by=token.created_by,
            change=payload.change(),
            expected_version=_expected_version(if_match, payload.version),
            source=CapacityEvent.Source.API,
            api_token=token,
            # A retry of a request that did get through confirms instead of answering 409.
            retry_confirms=True,
        )
    except ValidationError as exc:
        raise _invalid_problem(_invalid(exc.message_dict)) from exc
    except VersionConflict as conflict:
        raise _conflict([conflict.current]) from conflict
    response["ETag"] = _etag(written.unit)
    return WriteResult.of(written)


@router.post(
    "/units/{unit_id}/confirm",
    response={200: WriteResult, **WRITE_ERRORS},
    summary="Confirm a unit's figures unchanged",
)
def unit_confirm(
    request: HttpRequest,
    response: HttpResponse,
    unit_id: Id,
    payload: ConfirmIn | None = None,
    if_match: Annotated[str | None, Header(alias="If-Match")] = None,
) -> WriteResult:
    token = request_token(request)
    unit = _unit(unit_id)
    _require_writer(token, unit.location)
    version = _expected_version(if_match, payload.version if payload else None)
    try:
        saved = unit_confirm_unchanged(
            unit_id=unit.pk,
            by=token.created_by,
            expected_version=version,
            source=CapacityEvent.Source.API,
            api_token=token,
        )
    except VersionConflict as conflict:
        raise _conflict([conflict.current]) from conflict
    response["ETag"] = _etag(saved)
    return WriteResult(result="confirmed", unit=UnitOut.of(saved))


@router.put(
    "/locations/{location_id}/units",
    response={200: LocationWriteResult, **WRITE_ERRORS},
    summary="Set several units of a location at once",
    description=(
        "All or nothing: if one unit is invalid or stale, nothing is saved. Each unit is "
        "named by its kind and carries the version you last saw. Units you leave out are untouched. "
        "A stale version gets 409 with the current state of every unit of the location, unless the "
        "stale units already hold exactly the figures you send (a retried request): that confirms them."
    ),
)
def location_update(
    request: HttpRequest, location_id: Annotated[int, Path(ge=1, le=MAX_ID)], payload: LocationUpdateIn
) -> LocationWriteResult:
    token = request_token(request)
    location = Location.objects.filter(pk=location_id, active=True).first()
    if location is None:
        raise not_found(_("There is no location %(id)s.") % {"id": location_id})
    _require_writer(token, location)
    seen: set[str] = set()
    errors: list[dict[str, str]] = []
    for i, item in enumerate(payload.units):
        if item.kind in seen:
            errors.append({"in": "body", "pointer": f"/units/{i}/kind", "detail": _("This unit is listed twice.")})
        seen.add(item.kind)
    if errors:
        raise _invalid_problem(errors)
    index: dict[str, int] = {item.kind: i for i, item in enumerate(payload.units)}
    changes: dict[str, tuple[CapacityChange, int | None]] = {
        item.kind: (CapacityIn.change(item), item.version) for item in payload.units
    }
    try:
        written = location_update_capacity(
            location_id=location.pk,
            by=token.created_by,
            changes=changes,
            source=CapacityEvent.Source.API,
            api_token=token,
            # A retry of a request that did get through (its stale units already hold exactly
            # the figures sent) confirms those units instead of answering 409.
            retry_confirms=True,
        )
    except LocationChangeInvalid as exc:
        raise _invalid_problem(
            [
                error
                for kind, kind_errors in exc.errors.items()
                for error in _invalid(kind_errors.message_dict, prefix=f"/units/{index[kind]}")
            ]
        ) from exc
    except UnknownUnitKinds as exc:
        raise _invalid_problem(
            [
                {
                    "in": "body",
                    "pointer": f"/units/{index[kind]}/kind",
                    "detail": _("This location has no unit of this kind."),
                }
                for kind in exc.kinds
                if kind in index
            ]
        ) from exc
    except LocationVersionConflict as conflict:
        raise _conflict(conflict.current) from conflict
    return LocationWriteResult(units=[WriteResult.of(w) for w in written])


@router.get(
    "/units/{unit_id}/history",
    response={200: HistoryPage, **READ_ERRORS},
    summary="A unit's capacity history, newest first",
)
def unit_history(
    request: HttpRequest,
    unit_id: Id,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> HistoryPage:
    only_query(request, "page", "page_size")
    unit = _unit(unit_id)
    events = CapacityEvent.objects.filter(unit=unit).order_by("-at", "-id")
    count = events.count()
    start = (page - 1) * page_size
    rows = list(events.select_related("api_token")[start : start + page_size])
    own = request_token(request).organisation_id == unit.location.organisation_id
    return HistoryPage(
        count=count,
        page=page,
        page_size=page_size,
        next_page=page + 1 if start + page_size < count else None,
        results=[HistoryEntry.of(e, own_organisation=own) for e in rows],
    )
