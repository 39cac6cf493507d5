"""Current capacity as HL7 FHIR R4: Location resources and SANER MeasureReports.

Built and validated with ``fhir.resources`` (its R4B models: for Location and
MeasureReport, R4B is R4 with no structural change; fhir.resources dropped its R4
package when it moved to pydantic 2). Per location:

* a ``Location`` for the site, and one per unit (type: a CDC NHSN HSLOC code, partOf the
  site, status ``suspended`` during an admission stop);
* a ``MeasureReport`` profiled as SANER's PublicHealthMeasureReport: summary, complete,
  subject = the site Location (with identifier), date and period to the second with a
  time zone, one group per unit (SANER ``Beds`` + the unit's HSLOC code) with the
  populations total / occupied / available beds (SANER MeasuredValues codes).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fhir.resources.R4B.bundle import Bundle

from api.exports.common import BASE, LOCATION_SYSTEM, ORGANISATION_SYSTEM, UNIT_SYSTEM
from capacity.models import Unit
from capacity.selectors import LocationUnits
from core.time import ZONE
from hospitals.models import Location

SANER_PROFILE = "http://hl7.org/fhir/uv/saner/StructureDefinition/PublicHealthMeasureReport"
SANER_GROUPS = "http://hl7.org/fhir/uv/saner/CodeSystem/MeasureGroupSystem"
SANER_VALUES = "http://hl7.org/fhir/uv/saner/CodeSystem/MeasuredValues"
HSLOC = "https://www.cdc.gov/nhsn/cdaportal/terminology/codesystem/hsloc.html"
ROLE_CODE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
PHYSICAL_TYPE = "http://terminology.hl7.org/CodeSystem/location-physical-type"
MEASURE = f"{BASE}/fhir/Measure/birth-care-beds"

# CDC NHSN healthcare service location codes: the nearest fit for each Dutch unit type.
HSLOC_CODES: dict[str, tuple[str, str]] = {  # keyed by Unit.Kind value
    Unit.Kind.DELIVERY_SUITE: ("1058-7", "Labor and Delivery Ward"),
    Unit.Kind.BIRTH_CENTRE: ("1059-5", "Labor, Delivery, Recovery, Postpartum Suite"),
    Unit.Kind.NICU: ("1040-5", "Neonatal Critical Care (Level III)"),
    Unit.Kind.HIGH_CARE: ("1039-7", "Neonatal Critical Care (Level II/III)"),
    Unit.Kind.MEDIUM_CARE: ("1041-3", "Step down Neonatal Nursery (Level II)"),
}
UNIT_NAMES: dict[str, str] = {
    Unit.Kind.DELIVERY_SUITE: "Verloskamers (delivery suite)",
    Unit.Kind.BIRTH_CENTRE: "Geboortecentrum (birth centre)",
    Unit.Kind.NICU: "NICU",
    Unit.Kind.HIGH_CARE: "Neonatale high care",
    Unit.Kind.MEDIUM_CARE: "Neonatale medium care",
}


def precise(moment: datetime) -> str:
    """A FHIR dateTime to the second with the Dutch time zone offset (SANER's PreciseDateTime)."""
    return moment.astimezone(ZONE).replace(microsecond=0).isoformat()


def _urn(kind: str, key: object) -> str:
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{BASE}/{kind}/{key}')}"


def _site(location: Location) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Location",
        "id": f"loc-{location.pk}",
        "identifier": [{"system": LOCATION_SYSTEM, "value": location.slug}],
        "status": "active",
        "name": location.name,
        "mode": "instance",
        "type": [{"coding": [{"system": ROLE_CODE, "code": "HOSP", "display": "Hospital"}]}],
        "physicalType": {"coding": [{"system": PHYSICAL_TYPE, "code": "si", "display": "Site"}]},
        "address": {"city": location.city, "country": "NL", **({"postalCode": location.pc4} if location.pc4 else {})},
        "position": {"latitude": location.latitude, "longitude": location.longitude},
        "managingOrganization": {
            "identifier": {"system": ORGANISATION_SYSTEM, "value": str(location.organisation_id)},
            "display": location.organisation.name,
        },
    }
    if location.phone:
        resource["telecom"] = [{"system": "phone", "value": location.phone}]
    return resource


def _unit_location(location: Location, unit: Unit) -> dict[str, Any]:
    code, display = HSLOC_CODES[unit.kind]
    resource: dict[str, Any] = {
        "resourceType": "Location",
        "id": f"unit-{unit.pk}",
        "identifier": [{"system": UNIT_SYSTEM, "value": str(unit.pk)}],
        # A unit in an admission stop is temporarily not operational.
        "status": "suspended" if unit.status == Unit.Status.STOP else "active",
        "name": f"{location.name} – {UNIT_NAMES[unit.kind]}",
        "mode": "instance",
        "type": [{"coding": [{"system": HSLOC, "code": code, "display": display}]}],
        "physicalType": {"coding": [{"system": PHYSICAL_TYPE, "code": "wa", "display": "Ward"}]},
        "partOf": {"reference": _urn("location", location.pk), "display": location.name},
    }
    if unit.status == Unit.Status.STOP:
        end = f", expected end {precise(unit.stop_expected_end)}" if unit.stop_expected_end else ""
        resource["description"] = f"Admission stop ({unit.stop_reason}){end}"
    return resource


def _population(code: str, display: str, count: int) -> dict[str, Any]:
    return {"code": {"coding": [{"system": SANER_VALUES, "code": code, "display": display}]}, "count": count}


def _measure_report(row: LocationUnits, now: datetime) -> dict[str, Any]:
    location = row.location
    at = precise(now)
    groups = []
    for unit in row.units:
        code, display = HSLOC_CODES[unit.kind]
        groups.append(
            {
                "code": {
                    "coding": [
                        {"system": SANER_GROUPS, "code": "Beds", "display": "Beds"},
                        {"system": HSLOC, "code": code, "display": display},
                    ],
                    "text": UNIT_NAMES[unit.kind],
                },
                "population": [
                    _population("numTotBeds", "All Hospital Beds", unit.staffed_total),
                    _population("numTotBedsOcc", "Hospital Beds Occupied", unit.staffed_total - unit.available),
                    _population("numTotBedsAvail", "Hospital Beds Available", unit.available),
                ],
            }
        )
    return {
        "resourceType": "MeasureReport",
        "id": f"beds-{location.pk}",
        "meta": {"profile": [SANER_PROFILE]},
        "status": "complete",
        "type": "summary",
        "measure": MEASURE,
        "subject": {
            "reference": _urn("location", location.pk),
            "identifier": {"system": LOCATION_SYSTEM, "value": location.slug},
            "display": location.name,
        },
        "date": at,
        "reporter": {
            "identifier": {"system": ORGANISATION_SYSTEM, "value": str(location.organisation_id)},
            "display": location.organisation.name,
        },
        # The figures hold at one moment: the period is that moment, to the second.
        "period": {"start": at, "end": at},
        "group": groups,
    }


def capacity_bundle(rows: list[LocationUnits], *, now: datetime) -> Bundle:
    """A ``collection`` Bundle: per location its site, its units and its MeasureReport."""
    entries: list[dict[str, Any]] = []
    for row in rows:
        location = row.location
        entries.append({"fullUrl": _urn("location", location.pk), "resource": _site(location)})
        for unit in row.units:
            entries.append({"fullUrl": _urn("unit", unit.pk), "resource": _unit_location(location, unit)})
        entries.append({"fullUrl": _urn("measure-report", location.pk), "resource": _measure_report(row, now)})
    # model_validate checks every resource against the FHIR structure (types, cardinality).
    return Bundle.model_validate(
        {"resourceType": "Bundle", "type": "collection", "timestamp": precise(now), "entry": entries}
    )
