# This file is part of the water utility modules.
"""The portal's connection application form, free of the ORM: the fields
with their checks, and the uploaded documents checked by content with
their file names made safe.

Errors are codes that the portal's templates say in Persian."""
import re
import unicodedata

from . import validators

# name, required, maximum length, validator
TEXT_FIELDS = [
    ('first_name', True, 64, None),
    ('last_name', True, 64, None),
    ('father_name', False, 64, None),
    ('birth_certificate_number', False, 16, None),
    ('national_code', True, 32, validators.national_code),
    ('phone', True, 32, validators.phone),
    ('mobile', True, 32, validators.mobile),
    ('email', False, 128, validators.email),
    ('address', True, 512, None),
    ('postal_code', False, 32, validators.postal_code),
    ('description', False, 2000, None),
    ('parcel_number', True, 32, None),
    ]
NAME_FIELDS = {'first_name', 'last_name', 'father_name'}
MAX_HOUSING_UNITS = 500
# The documents of the form; required ones first
DOCUMENTS = [
    ('national_card', True),
    ('birth_certificate', False),
    ('purchase_document', False),
    ('deed', False),
    ('building_permit', False),
    ]
FILE_TYPES = [
    (b'\xff\xd8\xff', 'image/jpeg', '.jpg'),
    (b'\x89PNG\r\n\x1a\n', 'image/png', '.png'),
    (b'%PDF-', 'application/pdf', '.pdf'),
    ]
DEFAULT_UPLOAD_SIZE = 5 * 1024 * 1024
_UNSAFE = re.compile(r'[^\w.\- ]+')


def clean(form, zones, usages):
    """Return the values and the errors of a posted form

    form maps names to the typed strings; zones and usages are the ids
    that may be chosen. Values keep what was typed where it is wrong, so
    that the form can show it again."""
    values, errors = {}, {}
    for name, required, size, validator in TEXT_FIELDS:
        value = form.get(name) or ''
        if not isinstance(value, str):
            value = ''
        value = value.strip()
        if name not in {'address', 'description'}:
            value = ' '.join(value.split())
        values[name] = value[:size]
        if len(value) > size:
            errors[name] = 'too_long'
        elif not value:
            if required:
                errors[name] = 'required'
        elif validator:
            try:
                values[name] = validator(value)
            except validators.InvalidValue as exception:
                errors[name] = f'{name}_{exception.code}'
        elif name in NAME_FIELDS and any(c.isdigit() for c in value):
            errors[name] = 'name_digits'
        else:
            values[name] = validators.normalize_text(value) if (
                name not in {'address', 'description'}) else value
    for name, choices in [('zone', zones), ('usage', usages)]:
        values[name] = _choice(form.get(name), choices)
        if values[name] is None:
            errors[name] = 'choose'
            values[name] = form.get(name) or ''
    units = validators.normalize_digits(form.get('housing_units') or '')
    units = units.strip()
    values['housing_units'] = units[:8]
    if not units:
        errors['housing_units'] = 'required'
    elif not (units.isascii() and units.isdigit()
            and 1 <= int(units) <= MAX_HOUSING_UNITS):
        errors['housing_units'] = 'housing_units'
    else:
        values['housing_units'] = int(units)
    return values, errors


def _choice(value, choices):
    "The id of value when it is one of choices, else None"
    try:
        value = int(value)
    except (TypeError, ValueError):
        return None
    return value if value in choices else None


def file_type(data):
    "The MIME type and extension of a JPEG, PNG or PDF by content, or None"
    for magic, mimetype, extension in FILE_TYPES:
        if data.startswith(magic):
            return mimetype, extension
    return None


def check_file(data, size):
    "The error code of an uploaded file's content, or None"
    if not data:
        return 'file_empty'
    if len(data) > size:
        return 'file_size'
    if not file_type(data):
        return 'file_type'
    return None


def safe_filename(name, kind, data):
    """A file name to store: the base name without folders, control or
    direction characters, nor anything but letters, digits, dots, dashes
    and spaces, cut short, with the extension of its content"""
    _, extension = file_type(data)
    name = (name or '').replace('\\', '/').rsplit('/', 1)[-1]
    name = unicodedata.normalize('NFC', name)
    name = ''.join(c for c in name
        if unicodedata.category(c)[0] not in {'C', 'Z'} or c == ' ')
    # the extension typed goes, even from a name that is nothing else
    stem = name.rpartition('.')[0] if '.' in name else name
    stem = _UNSAFE.sub('_', stem).strip(' ._-')[:60].strip(' ._-')
    return (stem or kind) + extension
