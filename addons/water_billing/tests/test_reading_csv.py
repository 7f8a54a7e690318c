# This file is part of the water utility modules.
"""Tests of the handheld's reading export, without a database"""
import datetime as dt
import unittest

from trytond.modules.water_billing.reading_csv import parse

HEADER = 'subscription,reading_date,value,meter_serial,kind,note\n'


def rejected(parsed):
    return [(r.line, r.column) for r in parsed.rejections]


class ReadingCsvTestCase(unittest.TestCase):
    "Test the handheld's reading export"

    def test_rows(self):
        "Rows with ASCII or Persian digits, optional columns filled or not"
        parsed = parse(HEADER
            + '1421,1397/07/30,220,ZT-1421,reader,gate locked\n'
            + '۱۴۲۲,۱۳۹۷/۰۷/۳۰,۰۰۱۵۰,,,\n'
            + '1423,1397-7-29,15,,برآوردی,\n')
        self.assertEqual(parsed.rejections, [])
        first, second, third = parsed.rows
        self.assertEqual((first.line, first.subscription, first.date,
                first.value, first.meter_serial, first.kind, first.note),
            (2, '1421', dt.date(2018, 10, 22), 220, 'ZT-1421', 'reader',
                'gate locked'))
        self.assertEqual((second.subscription, second.value, second.kind,
                second.meter_serial, second.note),
            ('1422', 150, 'reader', None, None))
        self.assertEqual((third.date, third.kind),
            (dt.date(2018, 10, 21), 'estimated'))

    def test_required_columns_only(self):
        "The optional columns may be missing; a BOM is ignored"
        parsed = parse('\ufeffSubscription,Reading_Date,Value\n'
            '1421,1397/07/30,220\n')
        self.assertEqual(parsed.rejections, [])
        row, = parsed.rows
        self.assertEqual((row.subscription, row.value, row.kind),
            ('1421', 220, 'reader'))

    def test_header(self):
        "Missing and unknown columns reject the file at line 1"
        parsed = parse('subscription,date,value\n1421,1397/07/30,220\n')
        self.assertEqual(parsed.rows, [])
        self.assertEqual(rejected(parsed), [(1, None), (1, None)])
        self.assertIn('reading_date', parsed.rejections[0].reason)
        self.assertIn('date', parsed.rejections[1].reason)

    def test_bad_cells(self):
        "Each bad cell is rejected with its line and column"
        parsed = parse(HEADER
            + '1421,1397/07/30,220,,,\n'
            + ',1397/07/30,220,,,\n'
            + '1422,1397/13/01,220,,,\n'
            + '1423,30/07/1397,12.5,,,\n'
            + '1424,1397/07/30,-3,,,\n'
            + '1425,1397/07/30,,,,\n'
            + '1426,1397/07/30,7,,guessed,\n'
            + '1427,1397/07/30,7,,,,extra\n'
            + '14 28,1397/07/30,7,,,\n')
        self.assertEqual(rejected(parsed), [
                (3, 'subscription'),
                (4, 'reading_date'),
                (5, 'reading_date'), (5, 'value'),
                (6, 'value'),
                (7, 'value'),
                (8, 'kind'),
                (9, None),
                (10, 'subscription'),
                ])
        self.assertEqual([r.line for r in parsed.rows], [2])
        self.assertEqual(str(parsed.rejections[0]),
            'line 3, subscription: is required')

    def test_subscription_twice(self):
        "A subscription is read once in a file"
        parsed = parse(HEADER
            + '1421,1397/06/03,175,,,\n'
            + '1421,1397/07/30,220,,,\n')
        self.assertEqual(rejected(parsed), [(3, 'subscription')])
        self.assertIn('line 2', parsed.rejections[0].reason)

    def test_blank_lines(self):
        "Rows left blank are separators"
        parsed = parse(HEADER + ',,,,,\n\n1421,1397/07/30,220,,,\n')
        self.assertEqual(parsed.rejections, [])
        self.assertEqual([r.line for r in parsed.rows], [4])

    def test_empty(self):
        "An empty file misses its columns"
        parsed = parse('')
        self.assertEqual(rejected(parsed), [(1, None)])
