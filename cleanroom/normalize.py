"""Normalization of identifiers before they are hashed (cleanroom.pseudonym hashes them).

- ``email``: surrounding whitespace stripped, lower-cased; nothing provider-specific (dots and
  ``+tags`` are kept). Unusable unless some ``@`` has text on both sides.
- ``phone``: E.164, ``+`` and 6 to 15 digits. ``(0)`` is dropped, then everything but ASCII
  digits. A ``+`` before the first digit or a ``00`` prefix means international; anything else
  is a national number of ``default_region``: trunk prefix (US ``1``, GB ``0``) dropped, length
  checked against the region, calling code put in front. Not a validator.
- ``raw``: the value exactly as given, no trimming.

Null stays null; an unusable value (empty, no digits, no ``@``...) becomes null.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Literal, get_args

import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc

Kind = Literal["email", "phone", "raw"]
KINDS: tuple[str, ...] = get_args(Kind)

# The characters str.strip() removes from ASCII text: the vectorized email path must match it.
_ASCII_SPACE = " \t\n\x0b\x0c\r\x1c\x1d\x1e\x1f"
_EMAIL_SHAPE = r"(?s).@."  # some "@" with a character on each side
_TRUNK_IN_BRACKETS = "(0)"  # as in "+44 (0)20 7946 0958"
_NON_DIGITS = r"[^0-9]+"
_LEADING_PLUS = r"^[^0-9+]*\+"
# E.164 allows at most 15 digits; the shortest real numbers (Austria, Germany) have 6.
_E164_DIGITS = r"^[1-9][0-9]{5,14}$"
_NON_DIGITS_RE = re.compile(_NON_DIGITS)
_LEADING_PLUS_RE = re.compile(_LEADING_PLUS)
_E164_DIGITS_RE = re.compile(_E164_DIGITS)
_NULL_TEXT = pa.scalar(None, pa.string())


def normalize(value: str, kind: Kind, *, default_region: str = "US") -> str | None:
    """Normalize one identifier by kind; None when it is unusable.

    This is the reference definition; ``normalize_array`` is its vectorized twin.

    >>> normalize("  Jane.Doe+news@Example.COM ", "email")
    'jane.doe+news@example.com'
    >>> normalize("1 (415) 555-0123", "phone")
    '+14155550123'
    >>> normalize("07911 123456", "phone", default_region="GB")
    '+447911123456'
    >>> normalize("0044 7911 123456", "phone"), normalize("n/a", "phone")
    ('+447911123456', None)
    """
    if kind == "email":
        return _normalize_email(value)
    if kind == "phone":
        return _normalize_phone(value, default_region)
    if kind == "raw":
        return value or None
    raise unknown_kind(kind)


def _normalize_email(value: str) -> str | None:
    email = value.strip().lower()
    return email if "@" in email[1:-1] else None


def _normalize_phone(value: str, region: str) -> str | None:
    rules = phone_region(region)
    value = value.replace(_TRUNK_IN_BRACKETS, "")
    digits = _NON_DIGITS_RE.sub("", value)
    if _LEADING_PLUS_RE.match(value):
        number = digits
    elif digits.startswith("00"):
        number = digits[2:]
    else:
        national = digits.removeprefix(rules.trunk)
        if not rules.min_length <= len(national) <= rules.max_length:
            return None
        number = rules.country_code + national
    return "+" + number if _E164_DIGITS_RE.match(number) else None


@dataclass(frozen=True)
class PhoneRegion:
    """What phone normalization needs to know about the default region."""

    country_code: str  # calling code, e.g. "44"
    trunk: str  # national (trunk) prefix, e.g. "0"; "" when the region has none
    min_length: int  # shortest and longest national significant number
    max_length: int


@cache
def phone_region(region: str) -> PhoneRegion:
    """The default region's calling code, trunk prefix and national number lengths.

    Looked up once per region: parsing each value with phonenumbers would be far too slow.

    >>> phone_region("GB")
    PhoneRegion(country_code='44', trunk='0', min_length=7, max_length=10)
    >>> phone_region("IT").trunk
    ''
    """
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region.upper())
    if metadata is None or not metadata.country_code:
        raise ValueError(f"unknown phone region {region!r}: use a two-letter code such as 'US'")
    desc = metadata.general_desc
    lengths = [n for n in (desc.possible_length if desc else ()) if n > 0] or [1, 15]
    return PhoneRegion(
        str(metadata.country_code), metadata.national_prefix or "", min(lengths), max(lengths)
    )


def normalize_array(values: pa.Array, kind: Kind, *, default_region: str = "US") -> pa.Array:
    """Vectorized ``normalize`` over an Arrow string array; nulls stay null.

    >>> values = pa.array(["020 7946 0958", None, "-"])
    >>> normalize_array(values, "phone", default_region="GB").to_pylist()
    ['+442079460958', None, None]
    """
    if kind == "email":
        return _email_array(values)
    if kind == "phone":
        return _phone_array(values, default_region)
    if kind == "raw":
        return _null_unless(values, pc.not_equal(values, ""))
    raise unknown_kind(kind)


def _email_array(values: pa.Array) -> pa.Array:
    if not pc.all(pc.string_is_ascii(values), min_count=0).as_py():
        # Python's Unicode strip() and lower() are the reference; Arrow's differ at the edges.
        normalized = [None if v is None else _normalize_email(v) for v in values.to_pylist()]
        return pa.array(normalized, pa.string())
    lowered = pc.ascii_lower(pc.utf8_trim(values, characters=_ASCII_SPACE))
    return _null_unless(lowered, pc.match_substring_regex(lowered, _EMAIL_SHAPE))


def _phone_array(values: pa.Array, region: str) -> pa.Array:
    rules = phone_region(region)
    values = pc.replace_substring(values, _TRUNK_IN_BRACKETS, "")
    digits = pc.replace_substring_regex(values, _NON_DIGITS, "")
    cases = pc.make_struct(
        pc.match_substring_regex(values, _LEADING_PLUS), pc.starts_with(digits, "00")
    )
    number = pc.case_when(
        cases, digits, pc.utf8_slice_codeunits(digits, 2), _national_number(digits, rules)
    )
    usable = pc.match_substring_regex(number, _E164_DIGITS)
    return _null_unless(pc.binary_join_element_wise("+", number, ""), usable)


def _national_number(digits: pa.Array, rules: PhoneRegion) -> pa.Array:
    """Calling code + national number, or null when its length does not fit the region."""
    national = digits
    if rules.trunk:
        without_trunk = pc.utf8_slice_codeunits(digits, len(rules.trunk))
        national = pc.if_else(pc.starts_with(digits, rules.trunk), without_trunk, digits)
    length = pc.utf8_length(national)
    fits = pc.and_(
        pc.greater_equal(length, rules.min_length), pc.less_equal(length, rules.max_length)
    )
    return _null_unless(pc.binary_join_element_wise(rules.country_code, national, ""), fits)


def _null_unless(values: pa.Array, usable: pa.Array) -> pa.Array:
    return pc.if_else(usable, values, _NULL_TEXT)


def unknown_kind(kind: object) -> ValueError:
    return ValueError(f"unknown identifier kind {kind!r}: expected one of {', '.join(KINDS)}")
