"""API shapes: regions, locations, a unit's state, a capacity change, history, placement requests (docs/api.md)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Literal, cast, get_args

from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from ninja import Field, Schema
from pydantic import AwareDatetime, ConfigDict, field_validator

from capacity.models import CapacityEvent, Unit
from capacity.selectors import LocationUnits
from capacity.services import MAX_BEDS, MAX_STOP_AHEAD, CapacityChange, UnitWrite
from hospitals.models import CareType
from placements.models import PlacementRequest
from refusals.models import Refusal

# Database ids are 64-bit; a bigger number is "not found", never a database error.
MAX_ID = 2**63 - 1
UnitKind = Literal["delivery_suite", "birth_centre", "nicu", "high_care", "medium_care"]
Status = Literal["open", "limited", "stop"]
StopReason = Literal["beds", "staff", "other"]
Action = Literal["update", "confirm", "stale", "stop_overdue"]
Source = Literal["web", "api", "system", "admin"]
Version = Annotated[int, Field(ge=1, le=2**31 - 1)]
Beds = Annotated[int, Field(ge=0, le=MAX_BEDS)]
# The models store these as text with choices. The Literals above name exactly those choices,
# checked once here at import (not on every unit of every push): reading a stored value back
# as its Literal is then a fact, and a choice added without the Literal stops the API loading.
for _literal, _choices in (
    (UnitKind, Unit.Kind),
    (Status, Unit.Status),
    (StopReason, Unit.StopReason),
    (Action, CapacityEvent.Action),
    (Source, CapacityEvent.Source),
):
    if set(get_args(_literal)) != set(_choices.values):
        raise ImproperlyConfigured(f"api/schemas.py: {_literal} does not match {_choices.__qualname__}")


def plain_text(value: str) -> str:
    """Text the database can store: no NUL characters, no lone surrogates."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("must be valid Unicode text") from exc
    return value


class UnitOut(Schema):
    id: int
    location_id: int
    kind: UnitKind
    kind_label: str
    staffed_total: int = Field(description="Beds staffed now.")
    available: int = Field(description="Beds free now: vacant, staffed and usable.")
    status: Status
    stop_reason: StopReason | None
    stop_expected_end: datetime | None
    note: str
    colour: Literal["green", "orange", "red"] = Field(description="Board rule: green 2+, orange 1, red 0 or stop.")
    version: int = Field(description="Send it back as If-Match (or 'version') with a change.")
    updated_at: datetime
    confirmed_at: datetime = Field(description="When the figures were last set or confirmed unchanged.")
    stale: bool = Field(description="Not confirmed within the configured time (default 4 hours).")
    stale_since: datetime | None
    stop_overdue: bool = Field(description="A stop whose expected end has passed.")

    @staticmethod
    def of(unit: Unit, now: datetime | None = None) -> UnitOut:
        now = now or timezone.now()
        stale_since = unit.stale_since(now)
        return UnitOut(
            id=unit.pk,
            location_id=unit.location_id,
            kind=cast(UnitKind, unit.kind),
            kind_label=str(unit.get_kind_display()),
            staffed_total=unit.staffed_total,
            available=unit.available,
            status=cast(Status, unit.status),
            stop_reason=cast(StopReason, unit.stop_reason) or None,
            stop_expected_end=unit.stop_expected_end,
            note=unit.note,
            colour=unit.colour,
            version=unit.version,
            updated_at=unit.updated_at,
            confirmed_at=unit.confirmed_at,
            stale=stale_since is not None,
            stale_since=stale_since,
            stop_overdue=unit.is_stop_overdue(now),
        )


class RegionOut(Schema):
    id: int
    code: str
    name: str


class LocationOut(Schema):
    id: int
    slug: str
    name: str
    kind: str
    city: str
    region: str
    organisation_id: int
    organisation: str
    neonatal_level: int
    acute_obstetrics: bool
    latitude: float
    longitude: float
    phone: str = Field(description="The delivery suite's number as entered by the organisation; empty if none.")
    phone_e164: str = Field(description="The same number in E.164 form, for dialling; empty if none.")
    units: list[UnitOut]

    @staticmethod
    def of(row: LocationUnits) -> LocationOut:
        now = timezone.now()
        location = row.location
        return LocationOut(
            id=location.pk,
            slug=location.slug,
            name=location.name,
            kind=location.kind,
            city=location.city,
            region=location.region.code,
            organisation_id=location.organisation_id,
            organisation=location.organisation.name,
            neonatal_level=location.neonatal_level,
            acute_obstetrics=location.acute_obstetrics,
            latitude=location.latitude,
            longitude=location.longitude,
            phone=location.phone if location.phone_e164 else "",
            phone_e164=location.phone_e164,
            units=[UnitOut.of(u, now) for u in row.units],
        )


def location_event_frame(row: LocationUnits) -> str | None:
    """The API stream's JSON event for one pushed location row (api/stream.py); inactive ones are not listed."""
    if not row.location.active:
        return None
    return json.dumps({"type": "location", "location": LocationOut.of(row).model_dump(mode="json")})


# Input is taken as the schema says: no "5" for 5, no 0 for a date, no unknown fields
# (a misspelt "nte" must not be dropped silently).
STRICT = ConfigDict(strict=True, extra="forbid")


class CapacityIn(Schema):
    """A unit's figures as the hospital system knows them now (a full snapshot, never a delta)."""

    model_config = STRICT

    staffed_total: Beds
    available: Beds = Field(description="0 <= available <= staffed_total.")
    status: Status
    stop_reason: StopReason | None = Field(None, description="Required when status is 'stop'.")
    stop_expected_end: AwareDatetime | None = Field(
        None, description="Optional, with a time zone; in the future, at most a year ahead.", strict=False
    )
    note: str = Field("", max_length=200)

    @field_validator("note")
    @classmethod
    def _note(cls, value: str) -> str:
        return plain_text(value)

    @field_validator("stop_expected_end", mode="before")
    @classmethod
    def _end_is_text(cls, value: object) -> object:
        # Lax datetime parsing would take a number as a Unix time; the schema says a string.
        if value is not None and not isinstance(value, str):
            raise ValueError("must be a date-time string with a time zone")
        return value

    @field_validator("stop_expected_end")
    @classmethod
    def _end(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        try:
            utc = value.astimezone(UTC)
        except OverflowError as exc:
            raise ValueError("is out of range") from exc
        if utc > timezone.now() + MAX_STOP_AHEAD:
            raise ValueError("lies more than a year ahead")
        return utc

    def change(self) -> CapacityChange:
        return CapacityChange(
            staffed_total=self.staffed_total,
            available=self.available,
            status=self.status,
            stop_reason=self.stop_reason or "",
            stop_expected_end=self.stop_expected_end,
            note=self.note,
        )


class UnitUpdateIn(CapacityIn):
    version: Version | None = Field(None, description="The version you last saw; or send it as If-Match.")


class LocationUnitIn(CapacityIn):
    kind: UnitKind
    version: Version = Field(description="The version of this unit you last saw.")


class LocationUpdateIn(Schema):
    model_config = STRICT

    units: list[LocationUnitIn] = Field(min_length=1, max_length=len(Unit.Kind.values))


class WriteResult(Schema):
    result: Literal["updated", "confirmed"] = Field(
        description="'confirmed' when the figures were already current: only the confirmed time moved."
    )
    unit: UnitOut

    @staticmethod
    def of(written: UnitWrite) -> WriteResult:
        return WriteResult(result="updated" if written.updated else "confirmed", unit=UnitOut.of(written.unit))


class LocationWriteResult(Schema):
    units: list[WriteResult]


class ConfirmIn(Schema):
    model_config = STRICT

    version: Version | None = None


class HistoryEntry(Schema):
    at: datetime
    action: Action
    source: Source
    version: int
    before: dict[str, object]
    after: dict[str, object]
    api_token: str | None = Field(
        description="The name of the API token that made the change: shown to the unit's own organisation only."
    )

    @staticmethod
    def of(event: CapacityEvent, *, own_organisation: bool = False) -> HistoryEntry:
        return HistoryEntry(
            at=event.at,
            action=cast(Action, event.action),
            source=cast(Source, event.source),
            version=event.version,
            before=event.before,
            after=event.after,
            api_token=event.api_token.name if own_organisation and event.api_token is not None else None,
        )


class HistoryPage(Schema):
    count: int
    page: int
    page_size: int
    next_page: int | None
    results: list[HistoryEntry]


# --- placement requests (api/placements.py, docs/api.md "Placement requests") ------------------

RequestState = Literal["sent", "seen", "accepted", "declined", "expired", "withdrawn", "arrived"]
Urgency = Literal["immediate", "urgent", "planned"]
CareTypeCode = Literal["begeleiding", "overdracht"]
DeclineReason = Literal["no_delivery_room", "no_staff", "no_neonatal_bed", "admission_stop", "other"]
for _request_literal, _request_choices in (
    (RequestState, PlacementRequest.State),
    (Urgency, PlacementRequest.Urgency),
    (CareTypeCode, CareType),
    (DeclineReason, Refusal.Reason),
):
    if set(get_args(_request_literal)) != set(_request_choices.values):
        raise ImproperlyConfigured(f"api/schemas.py: {_request_literal} does not match {_request_choices.__qualname__}")


class RequestOut(Schema):
    """A placement request as the asked location's hospital system sees it: the care asked for, never the client."""

    id: int
    location_id: int
    state: RequestState
    version: int = Field(description="Send it back as If-Match (or 'version') with an answer.")
    urgency: Urgency
    care_type: CareTypeCode
    gestational_weeks: int | None = Field(description="Whole weeks (16-44); null for a term birth.")
    required_level: int = Field(description="Neonatal level required: 0 none, 1 medium care, 2 high care, 3 NICU.")
    expected_arrival: datetime
    sent_at: datetime
    deadline: datetime = Field(description="The answer is needed by then; after it the request expires.")
    answered_at: datetime | None
    decline_reason: DeclineReason | None
    callback_phone: str = Field(description="The midwife's own number (E.164), to call her back.")
    midwife_organisation: str | None = Field(description="The midwife's practice; never the midwife's name.")

    @staticmethod
    def of(request: PlacementRequest) -> RequestOut:
        """``request`` with ``midwife__organisation`` selected (placements' ``_with_people`` reads)."""
        organisation = request.midwife.organisation if request.midwife.organisation_id else None
        return RequestOut(
            id=request.pk,
            location_id=request.location_id,
            state=cast(RequestState, request.state),
            version=request.version,
            urgency=cast(Urgency, request.urgency),
            care_type=cast(CareTypeCode, request.care_type),
            gestational_weeks=request.gestational_weeks,
            required_level=request.required_level,
            expected_arrival=request.expected_arrival,
            sent_at=request.sent_at,
            deadline=request.deadline,
            answered_at=request.answered_at,
            decline_reason=cast(DeclineReason, request.decline_reason) or None,
            callback_phone=request.callback_phone,
            midwife_organisation=organisation.name if organisation is not None else None,
        )


class RequestPage(Schema):
    count: int
    page: int
    page_size: int
    next_page: int | None
    results: list[RequestOut]


class AnswerIn(Schema):
    model_config = STRICT

    version: Version | None = Field(None, description="The version you last saw; or send it as If-Match.")


class DeclineIn(AnswerIn):
    reason: DeclineReason = Field(description="Why you cannot take her in: it is registered as a refusal.")


def request_event_frame(request: PlacementRequest) -> str:
    """The API stream's event for one request (api/receivers.py): its full state, never a delta."""
    return json.dumps({"type": "request", "request": RequestOut.of(request).model_dump(mode="json")})
