# This file is part of the water utility modules.
"""The bank's settlement file of bill ID / payment ID payments (ATMs,
internet and mobile banks, branches), read and checked without the ORM.

A UTF-8 CSV file (a byte order mark is allowed) with a header row and one
row per payment. Columns, in any order:

    bill_id       شناسه قبض, 6 to 13 digits
    payment_id    شناسه پرداخت, 6 to 13 digits, tied to the bill ID by
                  its second check digit
    amount        rials paid, a whole number; thousands separators
                  (, ٬ or spaces) are allowed
    date          the day paid: Jalali YYYY/MM/DD (e.g. 1397/08/05) or
                  Gregorian YYYY-MM-DD (e.g. 2018-10-27); - / and . may
                  separate, and YYYYMMDD is read too; a year before 1700
                  is Jalali
    trace_number  the bank's trace number (شماره پیگیری), letters, digits
                  and - (40 at most)
    channel       optional: ATM, internet bank, branch... as the bank
                  writes it

Digits may be Persian or Arabic-Indic. The same trace number and bill ID
twice in a file is a duplicate row: the second is reported, not paid."""
import datetime as dt
import re
from dataclasses import dataclass

import jdatetime

from trytond.modules.water_billing import billid
from trytond.modules.water_crm import validators
from trytond.modules.water_crm.subscriber_csv import (
    Parsed, Rejection, clean_cells, read_rows)

__all__ = ['REQUIRED', 'OPTIONAL', 'Row', 'Parsed', 'Rejection', 'parse',
    'parse_date']

REQUIRED = ['bill_id', 'payment_id', 'amount', 'date', 'trace_number']
OPTIONAL = ['channel']
GREGORIAN_FROM = 1700
_DATE_RE = re.compile(
    r'(\d{4})(?:[/\-.](\d{1,2})[/\-.](\d{1,2})|(\d{2})(\d{2}))', re.ASCII)
_SEPARATORS = re.compile(r'[,٬\s]')


@dataclass
class Row:
    line: int
    bill_id: str
    payment_id: str
    amount: int
    date: dt.date
    trace_number: str
    # the amount the payment ID asks for, in rials
    payment_amount: int
    channel: str = None
    # the line of the same trace number and bill ID earlier in the file
    duplicate_of: int = None

    @property
    def key(self):
        return (self.trace_number, self.bill_id)


def parse_date(text):
    """The Gregorian date of a Jalali (year before 1700) or Gregorian
    YYYY/MM/DD, YYYY-MM-DD or YYYYMMDD"""
    match = _DATE_RE.fullmatch(validators.normalize_digits(text).strip())
    if not match:
        raise ValueError(f"not a date (YYYY/MM/DD or YYYY-MM-DD): {text!r}")
    year = int(match.group(1))
    month, day = (int(g) for g in (
            match.group(2, 3) if match.group(2) else match.group(4, 5)))
    try:
        if year >= GREGORIAN_FROM:
            return dt.date(year, month, day)
        return jdatetime.date(year, month, day).togregorian()
    except ValueError:
        calendar = 'Gregorian' if year >= GREGORIAN_FROM else 'Jalali'
        raise ValueError(f"no such {calendar} day: {text!r}") from None


def _amount(value):
    value = _SEPARATORS.sub('', value)
    if not re.fullmatch(r'[0-9]+', value, re.ASCII):
        raise ValueError(f"not a whole number of rials: {value!r}")
    amount = int(value)
    if not amount:
        raise ValueError("must be more than 0")
    return amount


def _trace_number(value):
    if not re.fullmatch(r'[0-9A-Za-z\-]{1,40}', value, re.ASCII):
        raise ValueError("letters, digits and - only (40 at most)")
    return value


CONVERTERS = {
    'amount': _amount,
    'date': parse_date,
    'trace_number': _trace_number,
    }


def parse(text):
    """Read the CSV text; return the rows that are valid and a rejection
    for each problem, with its line and column"""
    result = Parsed()
    lines = {}
    for line, values in read_rows(text, REQUIRED, OPTIONAL, result):
        row, rejections = _parse_row(line, values)
        if rejections:
            result.rejections.extend(rejections)
            continue
        row.duplicate_of = lines.setdefault(row.key, line)
        if row.duplicate_of == line:
            row.duplicate_of = None
        result.rows.append(row)
    return result


def _parse_row(line, values):
    cleaned, rejections = clean_cells(line, values, REQUIRED, OPTIONAL,
        CONVERTERS, free_text={'channel'})
    if 'bill_id' in cleaned and 'payment_id' in cleaned:
        try:
            payment = billid.check(cleaned['bill_id'], cleaned['payment_id'])
        except billid.BillIdError as exception:
            column = ('bill_id' if exception.code.startswith('bill_id')
                else 'payment_id')
            rejections.append(Rejection(line, column, str(exception)))
        else:
            cleaned['bill_id'] = payment.bill_id
            cleaned['payment_id'] = payment.payment_id
            cleaned['payment_amount'] = payment.amount
    if rejections:
        return None, rejections
    return Row(line=line, **cleaned), []
