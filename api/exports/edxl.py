"""Current capacity as OASIS EDXL-HAVE 1.0 (Hospital AVailability Exchange) XML.

One ``Hospital`` per location. Each unit is a ``BedCapacity``: NICU as ``NeonatalICU``;
neonatal high and medium care under ``NurseryBeds`` ("neonatal or newborn care beds
other than neonatal ICU") and delivery suite and birth centre under ``MedicalSurgical``
(HAVE has no obstetric bed type), each as a named ``SubCategoryBedType``. An admission
stop is ``CapacityStatus`` NotAvailable with its reason in ``CommentText``; a stop of the
delivery suite also sets the EMS traffic status to Closed (ambulances go elsewhere).
The schema files, with their notices, are in ``edxl-have/`` beside this module.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path

from lxml import etree

from api.exports.fhir import precise
from capacity.models import Unit
from capacity.selectors import LocationUnits

HAVE = "urn:oasis:names:tc:emergency:EDXL:HAVE:1.0"
XNL = "urn:oasis:names:tc:ciq:xnl:3"
GML = "http://www.opengis.net/gml"
NSMAP = {None: HAVE, "xnl": XNL, "gml": GML}
SCHEMA = Path(__file__).parent / "edxl-have" / "have.xsd"

BED_TYPES: dict[str, tuple[str, str | None]] = {
    Unit.Kind.NICU: ("NeonatalICU", None),
    Unit.Kind.HIGH_CARE: ("NurseryBeds", "NeonatalHighCare"),
    Unit.Kind.MEDIUM_CARE: ("NurseryBeds", "NeonatalMediumCare"),
    Unit.Kind.DELIVERY_SUITE: ("MedicalSurgical", "DeliverySuite"),
    Unit.Kind.BIRTH_CENTRE: ("MedicalSurgical", "BirthCentre"),
}
STOP_REASONS = {"beds": "no beds", "staff": "no staff", "other": "other"}


def _el(parent: etree._Element, tag: str, text: str | None = None, ns: str = HAVE) -> etree._Element:
    element = etree.SubElement(parent, f"{{{ns}}}{tag}")
    if text is not None:
        element.text = text
    return element


def _stop_text(unit: Unit) -> str:
    text = f"Admission stop: {STOP_REASONS.get(unit.stop_reason, unit.stop_reason)}"
    if unit.stop_expected_end:
        text += f"; expected end {precise(unit.stop_expected_end)}"
    return text


def _hospital(root: etree._Element, row: LocationUnits, now: datetime) -> None:
    location, units = row.location, row.units
    hospital = _el(root, "Hospital")
    organization = _el(hospital, "Organization")
    info = _el(organization, "OrganizationInformation")
    name = _el(info, "OrganisationName", ns=XNL)
    _el(name, "NameElement", location.name, ns=XNL)
    geo = _el(organization, "OrganizationGeoLocation")
    point = _el(geo, "Point", ns=GML)
    _el(point, "pos", f"{location.latitude} {location.longitude}", ns=GML)

    suite = next((u for u in units if u.kind == Unit.Kind.DELIVERY_SUITE), None)
    stopped = [u for u in units if u.status == Unit.Status.STOP]
    emergency = _el(hospital, "EmergencyDepartmentStatus")
    traffic = _el(emergency, "EMSTraffic")
    if suite is not None and suite.status == Unit.Status.STOP:
        _el(traffic, "EMSTrafficStatus", "Closed")
        _el(traffic, "EMSTrafficReason", f"Delivery suite: {_stop_text(suite)}")
    elif stopped or any(u.status == Unit.Status.LIMITED for u in units):
        _el(traffic, "EMSTrafficStatus", "Advisory")
        reasons = [f"{BED_TYPES[u.kind][1] or BED_TYPES[u.kind][0]}: {_stop_text(u)}" for u in stopped]
        if reasons:
            _el(traffic, "EMSTrafficReason", "; ".join(reasons))
    else:
        _el(traffic, "EMSTrafficStatus", "Normal")

    if units:
        beds = _el(hospital, "HospitalBedCapacityStatus")
        for unit in units:
            bed_type, sub = BED_TYPES[unit.kind]
            capacity = _el(beds, "BedCapacity")
            _el(capacity, "BedType", bed_type)
            if sub:
                _el(capacity, "SubCategoryBedType", sub)
            figures = _el(capacity, "Capacity")
            open_now = unit.status != Unit.Status.STOP and unit.available > 0
            _el(figures, "CapacityStatus", "Vacant/Available" if open_now else "NotAvailable")
            _el(figures, "AvailableCount", str(unit.available))
            _el(figures, "BaselineCount", str(unit.staffed_total))
            if unit.status == Unit.Status.STOP:
                _el(capacity, "CommentText", _stop_text(unit))
            elif unit.status == Unit.Status.LIMITED:
                _el(capacity, "CommentText", "Limited admissions")
            if unit.note:
                _el(capacity, "CommentText", unit.note)
    # Figures count as updated when they were last set or confirmed unchanged.
    confirmed = max((u.confirmed_at for u in units), default=None)
    _el(hospital, "LastUpdateTime", precise(confirmed or now))


def hospital_status(rows: list[LocationUnits], *, now: datetime) -> bytes:
    """A ``HospitalStatus`` document for the given locations (the schema wants at least one)."""
    root = etree.Element(f"{{{HAVE}}}HospitalStatus", nsmap=NSMAP)
    for row in rows:
        _hospital(root, row, now)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


@cache
def schema() -> etree.XMLSchema:
    """The HAVE 1.0 schema set, loaded offline from the vendored files."""
    return etree.XMLSchema(etree.parse(str(SCHEMA)))


def validate(document: bytes) -> None:
    """Raise ``etree.DocumentInvalid`` with the first error when the document breaks the schema."""
    schema().assertValid(etree.fromstring(document))
