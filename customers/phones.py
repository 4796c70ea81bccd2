"""Phone numbers as people type them, stored as E.164 (+8613800138000)."""

import re
from functools import lru_cache

import phonenumbers
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext as _

_PHONE_LIKE = re.compile(r"^[\s\d+\-().]{4,}$")


def normalize_phone(raw: str | None, region: str = "CN") -> str:
    """Return the E.164 form of `raw`, '' for blank; ValidationError when it is no phone number."""
    text = (raw or "").strip()
    if not text:
        return ""
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, region.upper() or None)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(
            _("“%(value)s” is not a phone number."), code="invalid_phone", params={"value": raw}
        ) from exc
    # Valid, not merely possible: "12345" or a 10-digit mobile would otherwise be stored
    # as +8612345 and count as a new customer. An international number (+44…) is checked
    # against its own country's plan.
    if not phonenumbers.is_valid_number(number):
        raise invalid_phone_error(raw, region)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def invalid_phone_error(raw: str | None, region: str) -> ValidationError:
    return ValidationError(
        _(
            "“%(value)s” is not a valid phone number for %(region)s, nor a valid international "
            "number (+ and the country code)."
        ),
        code="invalid_phone",
        params={"value": raw, "region": (region or "CN").upper()},
    )


def is_valid_phone(stored: str) -> bool:
    """Is a stored (E.164) phone a real number? Blank counts as fine."""
    if not stored:
        return True
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(stored, None))
    except phonenumbers.NumberParseException:
        return False


@lru_cache(maxsize=1 << 14)
def _cn_mobile_block_valid(block: str) -> bool:
    return phonenumbers.is_valid_number(phonenumbers.parse("+86" + block + "0000", None))


def cn_mobile_valid(national: str) -> bool:
    """Is an 11-digit Chinese mobile number (1[3-9]…) real? Its validity depends on its first
    seven digits only (the numbering plan's blocks), so phonenumbers is asked once per block
    in this process: the import and the "phone needs checking" filter share the answer."""
    return _cn_mobile_block_valid(national[:7])


def looks_like_phone(text: str) -> bool:
    return bool(_PHONE_LIKE.match(text or "")) and sum(ch.isdigit() for ch in text) >= 4


def search_forms(term: str, region: str = "CN") -> tuple[str, str]:
    """(E.164 if the term is a whole, valid number, else ''; its digits) for searching."""
    digits = re.sub(r"\D", "", term)
    try:
        number = phonenumbers.parse(term.strip(), region.upper() or None)
    except phonenumbers.NumberParseException:
        return "", digits
    if not phonenumbers.is_valid_number(number):
        return "", digits  # a fragment such as "138 0013" or the last four digits
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), digits


def phone_search_q(term: str, region: str, lookup: str = "phone") -> Q:
    """Match a whole number exactly (index), a fragment anywhere in the stored number."""
    full, digits = search_forms(term, region)
    if full:
        return Q(**{lookup: full})
    return Q(**{f"{lookup}__contains": digits})
