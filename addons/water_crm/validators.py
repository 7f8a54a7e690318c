# This file is part of the water utility modules.
"""Normalisation and validation of Iranian input, free of the ORM.

Each validator normalises its value, then returns the canonical form or
raises InvalidValue. Its `code` says which rule failed, so that the ORM
and the portal can show a translated message:

- 'format': characters or a shape the value cannot have,
- 'length': the wrong number of digits,
- 'checksum': the check digit does not match,
- 'repeated': all the digits are the same.

After normalisation, patterns use [0-9] and re.ASCII: `\\d` also matches
Persian and other Unicode digits, which would let values through that are
not ASCII, and store `۰۹۱۲…` and `0912…` as two different numbers.
"""
import re

_DIGITS = str.maketrans(
    '۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩',
    '01234567890123456789')
_LETTERS = str.maketrans({
        'ي': 'ی',  # U+064A Arabic yeh
        'ى': 'ی',  # U+0649 alef maksura
        'ك': 'ک',  # U+0643 Arabic kaf
        })
# People write numbers grouped with spaces, dashes and parentheses, and
# numbers copied from right-to-left text carry invisible direction marks.
_SEPARATORS = re.compile(
    r'[\s()\-\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]')
_ALL_DIGITS = re.compile(r'[0-9]*', re.ASCII)
_MOBILE = re.compile(r'(?:\+98|0098|98|0)?(9[0-9]{9})', re.ASCII)
_PHONE = re.compile(r'(?:\+98|0098|98|0)?([1-9][0-9]{9})', re.ASCII)
_EMAIL = re.compile(
    r"[a-z0-9!#$%&'*+/=?^_`{|}~.-]+"
    r'@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?'
    r'(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+', re.ASCII)


class InvalidValue(ValueError):
    """A value that does not follow the rules of its field

    `field` names the field, `reason` is a short English sentence and
    `code` the rule that failed."""

    def __init__(self, field, reason, code):
        super().__init__(reason)
        self.field = field
        self.reason = reason
        self.code = code


def normalize_digits(text):
    "Replace Persian and Arabic-Indic digits by ASCII digits"
    return text.translate(_DIGITS)


def normalize_text(text):
    """Normalise digits and Arabic letters to their Persian forms and
    collapse surrounding spaces; ZWNJ is kept"""
    if text is None:
        return None
    return ' '.join(normalize_digits(text).translate(_LETTERS).split())


def _clean_number(value):
    "Return value with ASCII digits and without separators"
    return _SEPARATORS.sub('', normalize_digits(value or ''))


def _digits(field, name, value, length):
    "Return the cleaned value when it is made of exactly length digits"
    value = _clean_number(value)
    if not _ALL_DIGITS.fullmatch(value):
        raise InvalidValue(field, f"{name} must contain only digits.",
            'format')
    if len(value) != length:
        raise InvalidValue(field, f"{name} must have {length} digits.",
            'length')
    return value


def national_code(value):
    "Return the 10 digits of a national code (کد ملی)"
    value = _clean_number(value)
    # Spreadsheets and numeric columns drop leading zeros, and many codes
    # start with one or two (persian-tools pads the same way).
    if len(value) in {8, 9}:
        value = value.zfill(10)
    value = _digits('national_code', "National code", value, 10)
    if len(set(value)) == 1:
        # All ten of them pass the check digit but none is issued.
        raise InvalidValue('national_code',
            "National code cannot have all its digits the same.",
            'repeated')
    # The city prefix is not checked: lists of prefixes go stale and
    # reject codes that are really issued.
    remainder = sum(
        int(digit) * (10 - i) for i, digit in enumerate(value[:9])) % 11
    check = remainder if remainder < 2 else 11 - remainder
    if int(value[9]) != check:
        raise InvalidValue('national_code',
            "National code has a wrong check digit.", 'checksum')
    return value


def mobile(value):
    """Return a mobile number as 09XXXXXXXXX

    It may be written with +98, 0098, 98, 0 or no prefix. Only the format
    is checked: lists of operator prefixes go stale."""
    match = _MOBILE.fullmatch(_clean_number(value))
    if not match:
        raise InvalidValue('mobile',
            "Mobile number must be 09 followed by 9 digits.", 'format')
    return '0' + match.group(1)


def phone(value):
    """Return a landline or mobile number as 0 and 10 digits

    In Iran both are 10 digits after the trunk prefix 0: a 2-digit area
    code and 8 digits for a landline, 9 and 9 digits for a mobile. So a
    number without its area code is refused: it cannot be guessed. It may
    be written with +98, 0098, 98, 0 or no prefix."""
    match = _PHONE.fullmatch(_clean_number(value))
    if not match:
        raise InvalidValue('phone',
            "Phone number must be 0, the area code and the number "
            "(11 digits).", 'format')
    return '0' + match.group(1)


def postal_code(value):
    """Return the 10 digits of a postal code

    Only the length is a rule: see postal_code_warnings for the rest."""
    return _digits('postal_code', "Postal code", value, 10)


def postal_code_warnings(value):
    """Return the reasons why a valid postal code looks wrong

    This is the heuristic of persian-tools, not an Iran Post
    specification, so it only warns."""
    value = postal_code(value)
    warnings = []
    if set(value[:5]) & {'0', '2'}:
        warnings.append("The first 5 digits usually have no 0 or 2.")
    if value[4] == '5':
        warnings.append("The 5th digit is usually not 5.")
    if value[5] == '0':
        warnings.append("The 6th digit is usually not 0.")
    if value[6:] == '0000':
        warnings.append("The last 4 digits are usually not 0000.")
    if len(set(value)) == 1:
        warnings.append("All the digits are the same.")
    return warnings


def geographic_code(value):
    "Return the 10 digits of a parcel's geographic code"
    return _digits('geographic_code', "Geographic code", value, 10)


def email(value):
    "Return an e-mail address trimmed and in lower case"
    value = (value or '').strip().lower()
    if not _EMAIL.fullmatch(value):
        raise InvalidValue('email', "E-mail address is not valid.",
            'format')
    return value
