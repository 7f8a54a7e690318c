# This file is part of the water utility modules.
"""Iranian inter-bank bill ID (شناسه قبض) and payment ID (شناسه پرداخت)
of the Banks' Informatics Commission, free of the ORM.

    bill ID    = file id (up to 8 digits) + company code (3 digits)
                 + service type (1 digit, 1 = water) + check digit
    payment ID = amount in thousands of rials (up to 8 digits)
                 + last digit of the Jalali year + period (2 digits)
                 + C1 (over the payment ID body)
                 + C2 (over bill ID + payment ID body + C1)

C2 ties a payment ID to its bill ID. Both IDs are 6 to 13 digits without
leading zeros; the barcode is both padded to 13 digits."""
from typing import NamedTuple

from trytond.modules.water_crm.validators import normalize_digits

# Codes above 6 differ between the published implementations
SERVICE_TYPES = {
    1: 'water',
    2: 'electricity',
    3: 'gas',
    4: 'fixed phone',
    5: 'mobile phone',
    6: 'municipality',
    }
MIN_LENGTH, MAX_LENGTH = 6, 13
BARCODE_LENGTH = 2 * MAX_LENGTH
MAX_AMOUNT = 99_999_999_000  # rials: 8 digits of thousands


class BillIdError(ValueError):
    """A bill ID, payment ID or barcode that is not valid; code says what
    is wrong: bill_id_format, bill_id_length, bill_id_check,
    payment_id_format, payment_id_length, c1, c2, barcode, or the name of
    the bad argument of make_bill_id and make_payment_id"""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


class BillId(NamedTuple):
    bill_id: str
    file_id: int
    company_code: int
    service_type: int


class Payment(NamedTuple):
    bill_id: str
    payment_id: str
    file_id: int
    company_code: int
    service_type: int
    amount: int  # rials
    year: int  # last digit of the Jalali year
    period: int


def check_digit(digits):
    "The mod 11 check digit of a string of digits, weights 2 to 7 from right"
    total = sum(int(digit) * (index % 6 + 2)
        for index, digit in enumerate(reversed(digits)))
    remainder = total % 11
    return '0' if remainder < 2 else str(11 - remainder)


def _identifier(value, name, code):
    "value as ASCII digits without leading zeros, 6 to 13 of them"
    text = normalize_digits(str(value)).strip()
    # str.isdigit alone also accepts digits like '²'
    if not (text.isascii() and text.isdigit()):
        raise BillIdError(f'{code}_format',
            f"{name} must have digits only: {value!r}")
    text = text.lstrip('0')
    if not MIN_LENGTH <= len(text) <= MAX_LENGTH:
        raise BillIdError(f'{code}_length',
            f"{name} {text or 0} must have {MIN_LENGTH} to {MAX_LENGTH} "
            f"digits, not {len(text)}")
    return text


def _integer(value, name, minimum, maximum):
    "value (int or digits) as an int between minimum and maximum"
    text = normalize_digits(str(value)).strip()
    if not (text.isascii() and text.isdigit()):
        raise BillIdError(name, f"{name} must be a whole number: {value!r}")
    number = int(text)
    if not minimum <= number <= maximum:
        raise BillIdError(name,
            f"{name} must be from {minimum} to {maximum}: {number}")
    return number


def check_bill_id(bill_id):
    "Return the decoded BillId or raise BillIdError"
    text = _identifier(bill_id, "bill ID", 'bill_id')
    if check_digit(text[:-1]) != text[-1]:
        raise BillIdError('bill_id_check',
            f"bill ID {text}: the check digit should be "
            f"{check_digit(text[:-1])}, not {text[-1]}")
    return BillId(
        bill_id=text,
        file_id=int(text[:-5]),
        company_code=int(text[-5:-2]),
        service_type=int(text[-2]))


def check(bill_id, payment_id):
    """Return the decoded Payment of a bill ID and payment ID pair or
    raise BillIdError saying what is wrong"""
    bill = check_bill_id(bill_id)
    text = _identifier(payment_id, "payment ID", 'payment_id')
    if check_digit(text[:-2]) != text[-2]:
        raise BillIdError('c1',
            f"payment ID {text}: the first check digit (C1) should be "
            f"{check_digit(text[:-2])}, not {text[-2]}")
    if check_digit(bill.bill_id + text[:-1]) != text[-1]:
        raise BillIdError('c2',
            f"payment ID {text} does not belong to bill ID {bill.bill_id}: "
            f"the second check digit (C2) is wrong")
    return Payment(
        payment_id=text,
        amount=int(text[:-5]) * 1000,
        year=int(text[-5]),
        period=int(text[-4:-2]),
        **bill._asdict())


def make_bill_id(file_id, company_code, service_type=1):
    "The bill ID of a subscriber's file at a company for a service"
    file_id = _integer(file_id, 'file_id', 1, 99_999_999)
    company_code = _integer(company_code, 'company_code', 0, 999)
    service_type = _integer(service_type, 'service_type', 1, 9)
    body = f'{file_id}{company_code:03d}{service_type}'
    return body + check_digit(body)


def make_payment_id(amount_rial, year, period, bill_id):
    """The payment ID of an amount in rials, a multiple of 1000 since the
    ID holds thousands, for a period of a Jalali year (its last digit is
    used) and a bill ID"""
    amount = _integer(amount_rial, 'amount', 1000, MAX_AMOUNT)
    if amount % 1000:
        raise BillIdError('amount',
            f"amount {amount} rials is not a multiple of 1000: a payment ID "
            "holds thousands of rials, round the amount first")
    year = _integer(year, 'year', 0, 9999) % 10
    period = _integer(period, 'period', 0, 99)
    bill_id = check_bill_id(bill_id).bill_id
    body = f'{amount // 1000}{year}{period:02d}'
    body += check_digit(body)
    return body + check_digit(bill_id + body)


def barcode(bill_id, payment_id):
    "The 26 digits that bank channels scan for a valid pair"
    payment = check(bill_id, payment_id)
    return (payment.bill_id.zfill(MAX_LENGTH)
        + payment.payment_id.zfill(MAX_LENGTH))


def parse_barcode(code):
    "Return the decoded Payment of a 26-digit barcode"
    text = normalize_digits(str(code)).strip()
    if not (text.isascii() and text.isdigit()
            and len(text) == BARCODE_LENGTH):
        raise BillIdError('barcode',
            f"a barcode has {BARCODE_LENGTH} digits: {code!r}")
    return check(text[:MAX_LENGTH], text[MAX_LENGTH:])
