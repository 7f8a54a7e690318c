# This file is part of the water utility modules.
"""The export of a meter reader's handheld, read and checked without the
ORM.

One row per meter read. Required columns:

    subscription    the subscription number
    reading_date    Jalali YYYY/MM/DD
    value           the meter value, a whole number of m³ as the register
                    shows it (leading zeros allowed: 00150)

Optional columns, which may be missing or empty:

    meter_serial    the serial of the meter read, checked against the
                    meter installed on the subscription's connection
    kind            reader (default), self, estimated or control, or their
                    English or Persian names
    note            the reader's remark

Digits may be Persian or Arabic-Indic; a subscription appears once in a
file."""
import re
from dataclasses import dataclass

from trytond.modules.water_crm import jalali
from trytond.modules.water_crm.subscriber_csv import (
    Parsed, Rejection, clean_cells, read_rows)

__all__ = ['REQUIRED', 'OPTIONAL', 'KINDS', 'Row', 'Parsed', 'Rejection',
    'parse']

REQUIRED = ['subscription', 'reading_date', 'value']
OPTIONAL = ['meter_serial', 'kind', 'note']
# The kind codes of water.reading and the words readers write for them
KINDS = {
    'reader': 'reader',
    'meter reader': 'reader',
    'مامور قرائت': 'reader',
    'مأمور قرائت': 'reader',
    'قرائت': 'reader',
    'self': 'self',
    'self-declared': 'self',
    'اعلام مشترک': 'self',
    'اعلام کارکرد کنتور': 'self',
    'estimated': 'estimated',
    'برآوردی': 'estimated',
    'علی‌الحساب': 'estimated',
    'control': 'control',
    'کنترل': 'control',
    'کنترلی': 'control',
    }


@dataclass
class Row:
    line: int
    subscription: str
    date: object
    value: int
    meter_serial: str = None
    kind: str = 'reader'
    note: str = None


def _subscription(value):
    if not re.fullmatch(r'[0-9A-Za-z/\-]{1,20}', value, re.ASCII):
        raise ValueError("letters, digits, / and - only (20 at most)")
    return value


def _value(value):
    if not re.fullmatch(r'[0-9]+', value, re.ASCII):
        raise ValueError(f"not a whole number of m³: {value!r}")
    return int(value)


def _kind(value):
    kind = KINDS.get(value.lower())
    if kind is None:
        raise ValueError(f"unknown kind {value!r}; "
            "write reader, self, estimated or control")
    return kind


CONVERTERS = {
    'subscription': _subscription,
    'reading_date': jalali.parse_date,
    'value': _value,
    'kind': _kind,
    }


def parse(text):
    """Read the CSV text; return the rows that are valid and a rejection
    for each problem found, with its line and column"""
    result = Parsed()
    lines = {}
    for line, values in read_rows(text, REQUIRED, OPTIONAL, result):
        row, rejections = _parse_row(line, values)
        if row:
            if row.subscription in lines:
                rejections.append(Rejection(line, 'subscription',
                        f"{row.subscription} is already on line "
                        f"{lines[row.subscription]}"))
            else:
                lines[row.subscription] = line
        if rejections:
            result.rejections.extend(rejections)
        else:
            result.rows.append(row)
    return result


def _parse_row(line, values):
    # a note is free text: only its surrounding spaces go
    cleaned, rejections = clean_cells(line, values, REQUIRED, OPTIONAL,
        CONVERTERS, free_text={'note'})
    if rejections:
        return None, rejections
    cleaned['date'] = cleaned.pop('reading_date')
    return Row(line=line, **cleaned), []
