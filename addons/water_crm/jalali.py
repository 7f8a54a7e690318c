# This file is part of the water utility modules.
"""Solar Hijri (Jalali) dates and Persian digits, free of the ORM."""
import datetime as dt
import re

import jdatetime

PERSIAN_DIGITS = '۰۱۲۳۴۵۶۷۸۹'
_TO_PERSIAN = str.maketrans('0123456789', PERSIAN_DIGITS)
_JALALI_RE = re.compile(r'^\s*(\d{4})\s*[/\-.]\s*(\d{1,2})\s*[/\-.]\s*(\d{1,2})\s*$', re.ASCII)


def to_jalali(date):
    "Return the jdatetime.date of a Gregorian date"
    if isinstance(date, dt.datetime):
        date = date.date()
    return jdatetime.date.fromgregorian(date=date)


def format_date(date, persian_digits=False):
    "Format a Gregorian date as a Jalali YYYY/MM/DD string"
    if date is None:
        return ''
    text = to_jalali(date).strftime('%Y/%m/%d')
    return to_persian_digits(text) if persian_digits else text


def parse_date(text):
    """Parse a Jalali date written YYYY/MM/DD (any digits, / - or .)
    and return the Gregorian datetime.date"""
    from .validators import normalize_digits
    match = _JALALI_RE.match(normalize_digits(text or ''))
    if not match:
        raise ValueError(f"not a Jalali date (YYYY/MM/DD): {text!r}")
    year, month, day = map(int, match.groups())
    return jdatetime.date(year, month, day).togregorian()


def to_persian_digits(value):
    "Write the ASCII digits of value with Persian digits"
    return str(value).translate(_TO_PERSIAN)


def year_bounds(jalali_year):
    "First and last Gregorian day of a Jalali year"
    start = jdatetime.date(jalali_year, 1, 1).togregorian()
    end = jdatetime.date(jalali_year + 1, 1, 1).togregorian() - dt.timedelta(days=1)
    return start, end


def month_bounds(jalali_year):
    "The 12 (start, end) Gregorian pairs of the months of a Jalali year"
    months = []
    for month in range(1, 13):
        start = jdatetime.date(jalali_year, month, 1).togregorian()
        if month == 12:
            end = jdatetime.date(jalali_year + 1, 1, 1).togregorian()
        else:
            end = jdatetime.date(jalali_year, month + 1, 1).togregorian()
        months.append((start, end - dt.timedelta(days=1)))
    return months


def month_name(month):
    "Persian name of a Jalali month (1-12)"
    return jdatetime.date.j_months_fa[month - 1]
