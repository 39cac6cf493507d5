"""Dutch phone numbers as people type them, checked and normalised with Google's libphonenumber.

Pure helpers, no database: hospitals.services.location_set_phone and the migration that
introduced Location.phone_e164 use them.
"""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

NL_COUNTRY_CODE = 31
# Longest input worth parsing: "+31 (0)30 - 250 91 11" and the like fit easily.
MAX_INPUT_LENGTH = 32


@dataclass(frozen=True)
class DutchPhone:
    display: str  # national format, as Dutch people write it: "030 250 9111"
    e164: str  # for the tel: link: "+31302509111"


def parse_dutch_phone(text: str) -> DutchPhone:
    """Accept 030-250 9111, +31 30 250 9111, 0031 30 250 9111, (030) 250 91 11, 0302509111 and the like.

    Raises ValidationError with a message for the user when the text is not a valid Dutch number.
    """
    text = text.strip()
    example = {"example": "030 250 9111"}
    if len(text) > MAX_INPUT_LENGTH:
        raise ValidationError(
            _("That is too long for a phone number. Enter it like %(example)s.") % example, code="too_long"
        )
    try:
        number = phonenumbers.parse(text, "NL")
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise ValidationError(
            _("This is not a valid Dutch phone number. Enter it with the area code, like %(example)s.") % example,
            code="invalid",
        )
    if number.country_code != NL_COUNTRY_CODE:
        raise ValidationError(
            _("Enter a Dutch phone number (+31), like %(example)s.") % example,
            code="not_dutch",
        )
    if number.extension:
        # A tel: link cannot dial an extension: a midwife at 3 a.m. needs the direct line.
        raise ValidationError(_("Enter the direct number of the delivery suite, without an extension."), code="ext")
    if phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.PREMIUM_RATE:
        raise ValidationError(_("A paid information number (090x) cannot be the delivery suite's."), code="premium")
    return DutchPhone(
        display=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL),
        e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
    )
