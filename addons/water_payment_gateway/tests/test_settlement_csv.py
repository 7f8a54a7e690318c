# This file is part of the water utility modules.
"Tests of the parser of the bank's settlement file, without a database"
import datetime as dt
import unittest

from trytond.modules.water_billing import billid
from trytond.modules.water_payment_gateway import settlement_csv
from trytond.modules.water_payment_gateway.settlement_csv import parse

BILL_ID = billid.make_bill_id(1421, 939)
PAYMENT_ID = billid.make_payment_id(362000, 1397, 7, BILL_ID)
OTHER_ID = billid.make_bill_id(1422, 939)
OTHER_PAYMENT_ID = billid.make_payment_id(95000, 1397, 7, OTHER_ID)
HEADER = 'bill_id,payment_id,amount,date,trace_number\n'
PERSIAN = str.maketrans('0123456789', '۰۱۲۳۴۵۶۷۸۹')
ARABIC = str.maketrans('0123456789', '٠١٢٣٤٥٦٧٨٩')


class SettlementCsvTestCase(unittest.TestCase):
    "Test the settlement file parser"

    def test_valid(self):
        "Jalali and Gregorian dates, separators and any digits are read"
        text = HEADER + (
            f'{BILL_ID},{PAYMENT_ID},362000,1397/08/05,111\n'
            f'{OTHER_ID},{OTHER_PAYMENT_ID},"95,000",2018-10-28,T-222\n'
            f'{BILL_ID.translate(PERSIAN)},{PAYMENT_ID.translate(ARABIC)},'
            f'{"۳۶۲٬۰۰۰"},{"۱۳۹۷/۰۸/۰۷"},{"۳۳۳"}\n'
            '\n'
            f'{BILL_ID},{PAYMENT_ID},362000,13970808,444\n')

        parsed = parse('\ufeff' + text)

        self.assertEqual(parsed.rejections, [])
        self.assertEqual([(r.line, r.bill_id, r.payment_id, r.amount,
                    r.date, r.trace_number, r.payment_amount)
                for r in parsed.rows], [
                (2, BILL_ID, PAYMENT_ID, 362000, dt.date(2018, 10, 27),
                    '111', 362000),
                (3, OTHER_ID, OTHER_PAYMENT_ID, 95000,
                    dt.date(2018, 10, 28), 'T-222', 95000),
                (4, BILL_ID, PAYMENT_ID, 362000, dt.date(2018, 10, 29),
                    '333', 362000),
                (6, BILL_ID, PAYMENT_ID, 362000, dt.date(2018, 10, 30),
                    '444', 362000),
                ])
        self.assertEqual([r.duplicate_of for r in parsed.rows],
            [None] * 4)

    def test_columns(self):
        "Missing and unknown columns are named on line 1; order is free"
        parsed = parse('amount,bill_id,date,trace,payment_id\n')
        self.assertEqual([str(r) for r in parsed.rejections], [
                "line 1: missing columns: trace_number",
                "line 1: unknown columns: trace"])
        parsed = parse('TRACE_NUMBER,channel,amount,date,payment_id,bill_id\n'
            f'9,ATM,362000,1397/08/05,{PAYMENT_ID},{BILL_ID}\n')
        row, = parsed.rows
        self.assertEqual((row.channel, row.trace_number), ('ATM', '9'))

    def test_rejections(self):
        "Each bad cell is named by its line and column"
        bad_check = BILL_ID[:-1] + str((int(BILL_ID[-1]) + 1) % 10)
        text = HEADER + (
            f'{BILL_ID},{PAYMENT_ID},362000,1397/08/05,1\n'
            f'{bad_check},{PAYMENT_ID},362000,1397/08/05,2\n'
            f'{OTHER_ID},{PAYMENT_ID},362000,1397/08/05,3\n'
            f'{BILL_ID},{PAYMENT_ID},36.2,1397/08/05,4\n'
            f'{BILL_ID},{PAYMENT_ID},0,1397/08/05,5\n'
            f'{BILL_ID},{PAYMENT_ID},362000,1397/13/05,6\n'
            f'{BILL_ID},{PAYMENT_ID},362000,2018-02-30,7\n'
            f'{BILL_ID},{PAYMENT_ID},362000,05/08/1397,8\n'
            f'{BILL_ID},{PAYMENT_ID},362000,1397/08/05,9 9\n'
            f'{BILL_ID},,362000,1397/08/05,10\n'
            f'{BILL_ID},{PAYMENT_ID},362000,1397/08/05,11,extra\n')

        parsed = parse(text)

        self.assertEqual([r.line for r in parsed.rows], [2])
        self.assertEqual([(r.line, r.column) for r in parsed.rejections], [
                (3, 'bill_id'), (4, 'payment_id'), (5, 'amount'),
                (6, 'amount'), (7, 'date'), (8, 'date'), (9, 'date'),
                (10, 'trace_number'), (11, 'payment_id'), (12, None)])
        self.assertIn("does not belong to bill ID",
            parsed.rejections[1].reason)
        self.assertIn("no such Jalali day", parsed.rejections[4].reason)
        self.assertIn("no such Gregorian day", parsed.rejections[5].reason)

    def test_duplicates(self):
        """The same trace number and bill ID again is a duplicate of the
        first; another bill with the same trace number is not"""
        text = HEADER + (
            f'{BILL_ID},{PAYMENT_ID},362000,1397/08/05,77\n'
            f'{OTHER_ID},{OTHER_PAYMENT_ID},95000,1397/08/05,77\n'
            f'{BILL_ID},{PAYMENT_ID},362000,1397/08/05,77\n')

        parsed = parse(text)

        self.assertEqual([r.duplicate_of for r in parsed.rows],
            [None, None, 2])

    def test_parse_date(self):
        "The year says the calendar"
        self.assertEqual(settlement_csv.parse_date('1403-01-01'),
            dt.date(2024, 3, 20))
        self.assertEqual(settlement_csv.parse_date('2024.03.20'),
            dt.date(2024, 3, 20))
        with self.assertRaises(ValueError):
            settlement_csv.parse_date('1403/1/1/1')
