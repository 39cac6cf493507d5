"""The standard exports validate against the standards: FHIR (fhir.resources) and EDXL-HAVE (XSD)."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.location import Location as FhirLocation
from fhir.resources.R4B.measurereport import MeasureReport
from lxml import etree

from api.exports import edxl
from api.exports.fhir import SANER_PROFILE
from capacity.models import ApiToken, Unit
from capacity.services import CapacityChange, unit_update_capacity
from tests.api_support import Api, org_token
from tests.conftest import World

PRECISE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")  # SANER: to the second, with a time zone
HAVE = "{urn:oasis:names:tc:emergency:EDXL:HAVE:1.0}"


@pytest.fixture
def reader(world: World) -> Api:
    return Api(org_token(world.hospital, world.org_admin, scope=ApiToken.Scope.READ))


def _stop_delivery_suite(world: World) -> None:
    unit_update_capacity(
        unit_id=world.unit.pk,
        by=world.staff,
        change=CapacityChange(
            staffed_total=10,
            available=0,
            status=Unit.Status.STOP,
            stop_reason=Unit.StopReason.STAFF,
            stop_expected_end=timezone.now() + timedelta(hours=3),
        ),
        expected_version=1,
    )


def test_fhir_bundle_validates_and_follows_saner(world: World, reader: Api) -> None:
    _stop_delivery_suite(world)
    response = reader.get("/exports/fhir?region=midden")
    assert response.status_code == 200 and response["Content-Type"] == "application/fhir+json"
    bundle = Bundle.model_validate_json(response.content)  # the independent library's own validation
    assert bundle.type == "collection"
    resources: list[Any] = [entry.resource for entry in bundle.entry or []]
    locations = [r for r in resources if r.get_resource_type() == "Location"]
    reports = [r for r in resources if r.get_resource_type() == "MeasureReport"]
    for resource in locations:
        FhirLocation.model_validate(resource.model_dump())
    assert len(reports) == 2  # WKZ and Diakonessenhuis; LUMC is in another region
    raw = json.loads(response.content)
    by_url = {e["fullUrl"]: e["resource"] for e in raw["entry"]}
    for report in reports:
        MeasureReport.model_validate(report.model_dump())
    wkz = next(e["resource"] for e in raw["entry"] if e["resource"].get("id") == f"beds-{world.location.pk}")
    assert wkz["meta"]["profile"] == [SANER_PROFILE]
    assert (wkz["status"], wkz["type"]) == ("complete", "summary")
    assert PRECISE.match(wkz["date"]) and PRECISE.match(wkz["period"]["start"]) and PRECISE.match(wkz["period"]["end"])
    subject = by_url[wkz["subject"]["reference"]]
    assert subject["resourceType"] == "Location" and wkz["subject"]["identifier"]["value"] == "wkz"
    assert wkz["reporter"]["display"] == "UMC Utrecht"
    groups = {g["code"]["coding"][1]["code"]: g for g in wkz["group"]}
    assert set(groups) == {"1058-7", "1040-5"}  # HSLOC: labour and delivery ward, NICU level III
    suite = {p["code"]["coding"][0]["code"]: p["count"] for p in groups["1058-7"]["population"]}
    assert suite == {"numTotBeds": 10, "numTotBedsOcc": 10, "numTotBedsAvail": 0}
    nicu = {p["code"]["coding"][0]["code"]: p["count"] for p in groups["1040-5"]["population"]}
    assert nicu == {"numTotBeds": 24, "numTotBedsOcc": 22, "numTotBedsAvail": 2}
    unit_locations = [r for r in raw["entry"] if r["resource"].get("id") == f"unit-{world.unit.pk}"]
    assert unit_locations[0]["resource"]["status"] == "suspended"
    assert by_url[unit_locations[0]["resource"]["partOf"]["reference"]]["name"] == "WKZ Utrecht"


def test_fhir_export_of_the_whole_country(world: World, reader: Api) -> None:
    bundle = Bundle.model_validate_json(reader.get("/exports/fhir").content)
    types = [e.resource.get_resource_type() for e in bundle.entry or [] if e.resource is not None]
    assert types.count("MeasureReport") == 3


def test_edxl_have_validates_against_the_xsd(world: World, reader: Api) -> None:
    _stop_delivery_suite(world)
    world.other_location.phone = "030 000 0000"
    response = reader.get("/exports/edxl-have?region=midden")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/xml")
    edxl.validate(response.content)
    root = etree.fromstring(response.content)
    hospitals = root.findall(f"{HAVE}Hospital")
    assert len(hospitals) == 2
    wkz = next(h for h in hospitals if "WKZ" in "".join(h.itertext()))
    assert wkz.findtext(f"{HAVE}EmergencyDepartmentStatus/{HAVE}EMSTraffic/{HAVE}EMSTrafficStatus") == "Closed"
    assert "no staff" in wkz.findtext(f"{HAVE}EmergencyDepartmentStatus/{HAVE}EMSTraffic/{HAVE}EMSTrafficReason")
    beds = wkz.findall(f"{HAVE}HospitalBedCapacityStatus/{HAVE}BedCapacity")
    summary = [
        (
            b.findtext(f"{HAVE}BedType"),
            b.findtext(f"{HAVE}SubCategoryBedType"),
            b.findtext(f"{HAVE}Capacity/{HAVE}CapacityStatus"),
            b.findtext(f"{HAVE}Capacity/{HAVE}AvailableCount"),
            b.findtext(f"{HAVE}Capacity/{HAVE}BaselineCount"),
        )
        for b in beds
    ]
    assert summary == [
        ("MedicalSurgical", "DeliverySuite", "NotAvailable", "0", "10"),
        ("NeonatalICU", None, "Vacant/Available", "2", "24"),
    ]
    assert PRECISE.match(wkz.findtext(f"{HAVE}LastUpdateTime") or "")


def test_edxl_schema_rejects_what_it_should() -> None:
    """The vendored schema really validates: a wrong bed type is refused."""
    bad = (
        b'<HospitalStatus xmlns="urn:oasis:names:tc:emergency:EDXL:HAVE:1.0" xmlns:xnl="urn:oasis:names:tc:ciq:xnl:3">'
        b"<Hospital><Organization><OrganizationInformation><xnl:OrganisationName><xnl:NameElement>X</xnl:NameElement>"
        b"</xnl:OrganisationName></OrganizationInformation></Organization><HospitalBedCapacityStatus><BedCapacity>"
        b"<BedType>DeliverySuite</BedType></BedCapacity></HospitalBedCapacityStatus>"
        b"<LastUpdateTime>2026-01-01T12:00:00+01:00</LastUpdateTime></Hospital></HospitalStatus>"
    )
    with pytest.raises(etree.DocumentInvalid):
        edxl.validate(bad)


def test_exports_need_a_token_and_a_known_region(world: World, reader: Api) -> None:
    assert Api(None).get("/exports/fhir").status_code == 401
    assert Api(None).get("/exports/edxl-have").status_code == 401
    assert reader.get("/exports/fhir?region=nowhere").status_code == 404
    assert reader.get("/exports/edxl-have?region=BAD!").status_code == 422
