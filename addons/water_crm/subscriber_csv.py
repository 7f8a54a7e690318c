# This file is part of the water utility modules.
"""The legacy system's subscriber export, read and checked without the ORM.

One row per subscription. Required columns: subscription, geographic_code,
zone, usage, units; the others may be missing or empty:

    parcel, address, postal_code, land_area_m2, building_area_m2,
    diameter, sewer, name, national_code, father_name,
    birth_certificate_number, mobile, phone, meter_serial, meter_digits,
    meter_reading, reading_date

`parcel` defaults to the number in an address written «قطعه 420/71»;
`reading_date` is Jalali (YYYY/MM/DD); `sewer` is 1/0, yes/no or بله/خیر.
The reference customer's file (seed_subscriber.csv) is a valid file.
"""
import csv
import io
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from . import jalali, validators

REQUIRED = ['subscription', 'geographic_code', 'zone', 'usage', 'units']
OPTIONAL = [
    'parcel', 'address', 'postal_code', 'land_area_m2', 'building_area_m2',
    'diameter', 'sewer', 'name', 'national_code', 'father_name',
    'birth_certificate_number', 'mobile', 'phone', 'meter_serial',
    'meter_digits', 'meter_reading', 'reading_date']
_PARCEL = re.compile(r'قطعه\s*([0-9][0-9/\-]*)')
_TRUE = {'1', 'yes', 'true', 'y', 'بله', 'دارد'}
_FALSE = {'0', 'no', 'false', 'n', 'خیر', 'ندارد', ''}


@dataclass
class Row:
    line: int
    subscription: str
    geographic_code: str
    zone: str
    usage: str
    units: int
    parcel: str = None
    address: str = None
    postal_code: str = None
    land_area_m2: Decimal = None
    building_area_m2: Decimal = None
    diameter: str = None
    sewer: bool = None
    name: str = None
    national_code: str = None
    father_name: str = None
    birth_certificate_number: str = None
    mobile: str = None
    phone: str = None
    meter_serial: str = None
    meter_digits: int = None
    meter_reading: int = None
    reading_date: object = None


@dataclass
class Rejection:
    line: int
    column: str
    reason: str

    def __str__(self):
        if self.column:
            return f'line {self.line}, {self.column}: {self.reason}'
        return f'line {self.line}: {self.reason}'


@dataclass
class Parsed:
    rows: list = field(default_factory=list)
    rejections: list = field(default_factory=list)


def _decimal(value):
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ValueError("not a number") from None
    if number < 0 or not number.is_finite():
        raise ValueError("must be zero or more")
    return number


def _integer(minimum):
    def convert(value):
        if not re.fullmatch(r'[0-9]+', value, re.ASCII):
            raise ValueError("not a whole number")
        number = int(value)
        if number < minimum:
            raise ValueError(f"must be at least {minimum}")
        return number
    return convert


def _boolean(value):
    value = value.lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError("write 1 or 0")


def _subscription(value):
    if not re.fullmatch(r'[0-9A-Za-z/\-]{1,20}', value, re.ASCII):
        raise ValueError("letters, digits, / and - only (20 at most)")
    return value


CONVERTERS = {
    'subscription': _subscription,
    'geographic_code': validators.geographic_code,
    'units': _integer(1),
    'postal_code': validators.postal_code,
    'land_area_m2': _decimal,
    'building_area_m2': _decimal,
    'sewer': _boolean,
    'national_code': validators.national_code,
    'mobile': validators.mobile,
    'phone': validators.phone,
    'meter_digits': _integer(3),
    'meter_reading': _integer(0),
    'reading_date': jalali.parse_date,
    }


def read_rows(text, required, optional, result):
    """Yield (line, cells) of each row of the CSV text that is not blank,
    under its normalised lower-case header; a bad header or CSV syntax is
    added to result.rejections with its line"""
    if text.startswith('\ufeff'):
        text = text[1:]
    reader = csv.DictReader(io.StringIO(text, newline=''))
    try:
        columns = [validators.normalize_text(c or '').lower()
            for c in reader.fieldnames or []]
    except csv.Error as exception:
        result.rejections.append(Rejection(1, None, str(exception)))
        return
    reader.fieldnames = columns
    missing = [c for c in required if c not in columns]
    unknown = [c for c in columns if c not in required + optional]
    if missing:
        result.rejections.append(Rejection(1, None,
                "missing columns: " + ', '.join(missing)))
    if unknown:
        result.rejections.append(Rejection(1, None,
                "unknown columns: " + ', '.join(unknown)))
    if missing or unknown:
        return
    try:
        for values in reader:
            if any((v or '').strip() for v in values.values()
                    if isinstance(v, str)):
                yield reader.line_num, values
    except csv.Error as exception:
        result.rejections.append(
            Rejection(reader.line_num, None, str(exception)))


def clean_cells(line, values, required, optional, converters,
        free_text=()):
    """The cells of a row normalised and converted by column, and a
    rejection for each that is missing or wrong; free_text columns only
    lose their surrounding spaces"""
    cleaned, rejections = {}, []
    for column in required + optional:
        value = values.get(column) or ''
        value = (value.strip() if column in free_text
            else validators.normalize_text(value))
        if not value:
            if column in required:
                rejections.append(Rejection(line, column, "is required"))
            continue
        converter = converters.get(column)
        try:
            cleaned[column] = converter(value) if converter else value
        except ValueError as exception:
            rejections.append(Rejection(line, column, str(exception)))
    if values.get(None):
        rejections.append(Rejection(line, None, "more cells than columns"))
    return cleaned, rejections


def parse(text):
    """Read the CSV text; return the rows that are valid and a rejection
    for each problem found, with its line and column"""
    result = Parsed()
    seen = {}
    for line, values in read_rows(text, REQUIRED, OPTIONAL, result):
        row, rejections = _parse_row(line, values)
        for key in ['subscription', 'geographic_code', 'meter_serial']:
            value = getattr(row, key, None) if row else None
            if value:
                if (key, value) in seen:
                    rejections.append(Rejection(line, key,
                            f"{value} is already on line "
                            f"{seen[key, value]}"))
                else:
                    seen[key, value] = line
        if rejections:
            result.rejections.extend(rejections)
        else:
            result.rows.append(row)
    return result


def _parse_row(line, values):
    cleaned, rejections = clean_cells(
        line, values, REQUIRED, OPTIONAL, CONVERTERS)
    if rejections:
        return None, rejections
    if not cleaned.get('parcel') and cleaned.get('address'):
        match = _PARCEL.search(cleaned['address'])
        if match:
            cleaned['parcel'] = match.group(1)
    if not cleaned.get('parcel'):
        cleaned['parcel'] = cleaned['geographic_code']
    return Row(line=line, **cleaned), []
