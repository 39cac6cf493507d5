"""API endpoints for the standard exports of current capacity (FHIR R4, EDXL-HAVE 1.0) and of a placement
request (a FHIR R4 Task, for the asked organisation's answer-requests token only)."""

from __future__ import annotations

from typing import Annotated

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Path, Query, Router

from api.base import Problem, not_found, only_query, request_token
from api.exports import edxl, fhir, fhir_requests
from api.exports.common import export_locations
from api.placements import request_of
from api.schemas import MAX_ID
from capacity.selectors import LocationUnits
from hospitals import audit
from hospitals.models import AccessLog, Region
from placements.models import PlacementEvent

router = Router(tags=["standard exports"])

ERRORS = {401: Problem, 404: Problem, 422: Problem, 429: Problem}
RegionCode = Annotated[
    str | None,
    Query(pattern=r"^[a-z0-9-]{1,40}$", description="A region code from /regions; leave out for the whole country."),
]


def _locations(request: HttpRequest, region_code: str | None) -> list[LocationUnits]:
    only_query(request, "region")
    region = None
    if region_code is not None:
        region = Region.objects.filter(code=region_code).first()
        if region is None:
            raise not_found(_("There is no region %(code)s.") % {"code": region_code})
    locations = export_locations(region)
    if not locations:
        raise not_found(_("This region has no locations."))
    return locations


def _log(request: HttpRequest, region_code: str | None, fmt: str) -> None:
    """The export in the access log, as the person who issued the token, with the token's id."""
    token = request_token(request)
    audit.record(
        action=AccessLog.Action.EXPORT,
        what="capacity export",
        request=request,
        user=token.created_by,
        object_id=region_code or "",
        scope=audit.scope_of(region=region_code or "all", format=fmt, token=token.pk),
    )


@router.get(
    "/fhir",
    response={200: None, **ERRORS},
    summary="Current capacity as a FHIR R4 Bundle (Location + SANER MeasureReport)",
    openapi_extra={
        "responses": {
            200: {
                "description": "A FHIR Bundle of type collection.",
                "content": {"application/fhir+json": {"schema": {"type": "object"}}},
            }
        }
    },
)
def fhir_export(request: HttpRequest, region: RegionCode = None) -> HttpResponse:
    bundle = fhir.capacity_bundle(_locations(request, region), now=timezone.now())
    _log(request, region, "fhir")
    return HttpResponse(bundle.model_dump_json(), content_type="application/fhir+json")


@router.get(
    "/edxl-have",
    response={200: None, **ERRORS},
    summary="Current capacity as OASIS EDXL-HAVE 1.0 XML",
    openapi_extra={
        "responses": {
            200: {
                "description": "A HospitalStatus document.",
                "content": {"application/xml": {"schema": {"type": "string"}}},
            }
        }
    },
)
def edxl_export(request: HttpRequest, region: RegionCode = None) -> HttpResponse:
    document = edxl.hospital_status(_locations(request, region), now=timezone.now())
    _log(request, region, "edxl-have")
    return HttpResponse(document, content_type="application/xml; charset=utf-8")


@router.get(
    "/fhir/requests/{request_id}",
    response={200: None, 401: Problem, 403: Problem, 404: Problem, 422: Problem, 429: Problem},
    summary="A placement request as a FHIR R4 Task (answer-requests token of the asked organisation)",
    openapi_extra={
        "responses": {
            200: {
                "description": "A FHIR Task: status, priority, deadline, owner and inputs; no patient.",
                "content": {"application/fhir+json": {"schema": {"type": "object"}}},
            }
        }
    },
)
def fhir_request_export(request: HttpRequest, request_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> HttpResponse:
    only_query(request)
    token = request_token(request)
    placement = request_of(token, request_id)
    last = PlacementEvent.objects.filter(request=placement).order_by("-at", "-id").values_list("at", flat=True).first()
    task = fhir_requests.request_task(placement, last_modified=last or placement.sent_at)
    audit.record(
        action=AccessLog.Action.EXPORT,
        what="placement request export",
        request=request,
        user=token.created_by,
        object_id=placement.pk,
        scope=audit.scope_of(format="fhir", token=token.pk),
    )
    return HttpResponse(task.model_dump_json(), content_type="application/fhir+json")
