# This file is part of the water utility modules.
"""Tests of the bill ID and payment ID, without a database"""
import unittest

from hypothesis import given
from hypothesis import strategies as st

from trytond.modules.water_billing.billid import (
    BillIdError, barcode, check, check_bill_id, check_digit, make_bill_id,
    make_payment_id, parse_barcode)
from trytond.modules.water_crm.jalali import to_persian_digits

# Standards §2.5: bill ID, payment ID, service type, amount in rials
VECTORS = [
    ('2050327604613', '1070189', 1, 10000),
    ('7748317800142', '1770160', 4, 17000),
    ('1117753200140', '12070160', 4, 120000),
    ]


class BillIdTestCase(unittest.TestCase):
    "Test the bill ID and payment ID"

    def test_check_digit(self):
        "The trace of §2.5"
        self.assertEqual(check_digit('205032760461'), '3')  # sum 173
        self.assertEqual(check_digit('10701'), '8')  # sum 36
        self.assertEqual(check_digit('2050327604613107018'), '9')  # sum 222
        # remainders 0 and 1 give 0: 11 → 1 × 2 + 1 × 3 = 5, r 5 → 6;
        # 5 × 2 + 1 × 3 = 13, r 2 → 9; 1 × 2 + 3 × 3 = 11, r 0 → 0;
        # 1 × 4 + 0 + 4 × 2 = 12, r 1 → 0
        self.assertEqual(check_digit('11'), '6')
        self.assertEqual(check_digit('15'), '9')
        self.assertEqual(check_digit('31'), '0')
        self.assertEqual(check_digit('104'), '0')

    def test_vectors(self):
        "The published vectors are valid and decoded"
        for bill_id, payment_id, service_type, amount in VECTORS:
            with self.subTest(bill_id=bill_id):
                payment = check(bill_id, payment_id)
                self.assertEqual(payment.service_type, service_type)
                self.assertEqual(payment.amount, amount)
                self.assertEqual((payment.year, payment.period), (7, 1))
        payment = check('2050327604613', '1070189')
        self.assertEqual((payment.file_id, payment.company_code),
            (20503276, 46))

    def test_make_vectors(self):
        "make_bill_id and make_payment_id give the published vectors"
        for bill_id, payment_id, service_type, amount in VECTORS:
            with self.subTest(bill_id=bill_id):
                bill = check_bill_id(bill_id)
                self.assertEqual(make_bill_id(bill.file_id,
                        bill.company_code, service_type), bill_id)
                self.assertEqual(make_payment_id(amount, 1397, 1, bill_id),
                    payment_id)

    def test_barcode(self):
        "The barcode is both IDs padded to 13 digits"
        self.assertEqual(barcode('1117753200140', '12070160'),
            '11177532001400000012070160')
        payment = parse_barcode('11177532001400000012070160')
        self.assertEqual((payment.bill_id, payment.payment_id),
            ('1117753200140', '12070160'))
        for code in ['1117753200140000001207016', 'x' * 26]:
            with self.subTest(code=code):
                with self.assertRaises(BillIdError) as context:
                    parse_barcode(code)
                self.assertEqual(context.exception.code, 'barcode')

    def test_negative_vector(self):
        "A bad bill check digit is reported as such"
        with self.assertRaises(BillIdError) as context:
            check('2234322344613', '1070189')
        self.assertEqual(context.exception.code, 'bill_id_check')
        self.assertIn('2234322344613', str(context.exception))

    def test_c1(self):
        "A wrong first check digit of the payment ID"
        with self.assertRaises(BillIdError) as context:
            check('2050327604613', '1070179')
        self.assertEqual(context.exception.code, 'c1')

    def test_c2(self):
        "A payment ID of another bill fails C2 only"
        with self.assertRaises(BillIdError) as context:
            check('7748317800142', '1070189')
        self.assertEqual(context.exception.code, 'c2')
        self.assertIn('does not belong', str(context.exception))

    def test_lengths(self):
        "Both IDs have 6 to 13 digits without leading zeros"
        for bill_id, payment_id, code in [
                ('04613', '1070189', 'bill_id_length'),
                ('20503276046134', '1070189', 'bill_id_length'),
                ('2050327604613', '00089', 'payment_id_length'),
                ('2050327604613', '12345678901234', 'payment_id_length'),
                ('205032760461a', '1070189', 'bill_id_format'),
                ('2050327604613', '', 'payment_id_format'),
                ]:
            with self.subTest(bill_id=bill_id, payment_id=payment_id):
                with self.assertRaises(BillIdError) as context:
                    check(bill_id, payment_id)
                self.assertEqual(context.exception.code, code)
        # padded as in a barcode
        self.assertEqual(check('0002050327604613', '0001070189').bill_id,
            '2050327604613')

    def test_persian_digits(self):
        "Persian digits are read as ASCII digits"
        bill_id, payment_id = map(to_persian_digits, VECTORS[0][:2])
        self.assertEqual(check(bill_id, payment_id).amount, 10000)
        self.assertEqual(make_bill_id(to_persian_digits(20503276), '۰۴۶'),
            '2050327604613')

    def test_make_errors(self):
        "Values that a bill ID or payment ID cannot hold are refused"
        bill_id = '2050327604613'
        for call, code in [
                (lambda: make_payment_id(10500, 1397, 1, bill_id), 'amount'),
                (lambda: make_payment_id(0, 1397, 1, bill_id), 'amount'),
                (lambda: make_payment_id(10 ** 11, 1397, 1, bill_id),
                    'amount'),
                (lambda: make_payment_id(1000, 1397, 100, bill_id),
                    'period'),
                (lambda: make_payment_id(1000, 1397, 1, '2234322344613'),
                    'bill_id_check'),
                (lambda: make_bill_id(0, 46), 'file_id'),
                (lambda: make_bill_id(123456789, 46), 'file_id'),
                (lambda: make_bill_id(1, 1000), 'company_code'),
                (lambda: make_bill_id(1, 46, 10), 'service_type'),
                ]:
            with self.subTest(code=code):
                with self.assertRaises(BillIdError) as context:
                    call()
                self.assertEqual(context.exception.code, code)

    @given(
        st.integers(1, 99_999_999), st.integers(0, 999), st.integers(1, 9),
        st.integers(1, 99_999_999), st.integers(1300, 1499),
        st.integers(0, 99))
    def test_round_trip(self, file_id, company_code, service_type,
            thousands, year, period):
        "What make encodes, check decodes"
        bill_id = make_bill_id(file_id, company_code, service_type)
        payment_id = make_payment_id(thousands * 1000, year, period, bill_id)
        payment = check(bill_id, payment_id)
        self.assertEqual(payment, parse_barcode(barcode(bill_id,
                    payment_id)))
        self.assertEqual(
            (payment.file_id, payment.company_code, payment.service_type,
                payment.amount, payment.year, payment.period),
            (file_id, company_code, service_type, thousands * 1000,
                year % 10, period))
