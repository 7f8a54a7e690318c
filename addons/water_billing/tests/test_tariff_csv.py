# This file is part of the water utility modules.
"""Tests of tariff tables as CSV, without a database"""
import datetime as dt
import io
import os
import unittest
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from trytond.modules.water_billing.engine import Band, Levy, Tariff
from trytond.modules.water_billing.tariff_csv import (
    TariffCsvError, read, write)
from trytond.modules.water_crm.jalali import parse_date

HERE = os.path.dirname(__file__)
HEADER = ('usage,valid_from,water_rial_per_m3,fixed_rial_per_month,'
    'service_rial_per_month,sewage_share_percent,duty_percent,tax_percent')
EXTENDED = HEADER + ',bands,pattern_m3_per_month,above_pattern_bands,levies'


def parse(text):
    return read(io.StringIO(text, newline=''))


def dump(tariffs):
    file = io.StringIO(newline='')
    write(file, tariffs)
    return file.getvalue()


class TariffCsvTestCase(unittest.TestCase):
    "Test tariff tables as CSV"

    def test_seed(self):
        "seed_tariffs.csv is read and written back unchanged"
        path = os.path.join(HERE, 'seed_tariffs.csv')
        with open(path, newline='') as file:
            text = file.read()
        old, new = parse(text)
        # the values of the file's two rows
        self.assertEqual(old, Tariff(
                usage='residential_villa', start=parse_date('1395/01/01'),
                bands=(Band(0, None, 3600),), fixed=20000, service=50000,
                sewage_percent=0, duty_percent=3, tax_percent=6))
        self.assertEqual(
            (new.start, new.bands, new.fixed, new.service),
            (parse_date('1396/07/01'), (Band(0, None, 4300),), 24000, 47850))
        self.assertEqual(dump([old, new]), text)

    def test_extended(self):
        "Bands, pattern, the table above it and levies"
        tariff, = parse(EXTENDED + '\n'
            'residential,1403/01/01,,24000,47850,70,3,7,'
            '0-5:3600;5-10:4300;10-:9000,15,'
            '0-15:5000; 15-:12000,budget:250;note 3:100\n')
        self.assertEqual(tariff.bands, (Band(0, 5, 3600),
                Band(5, 10, 4300), Band(10, None, 9000)))
        self.assertEqual(tariff.pattern, 15)
        self.assertEqual(tariff.pattern_bands,
            (Band(0, 15, 5000), Band(15, None, 12000)))
        self.assertEqual(tariff.levies,
            (Levy('budget', 250), Levy('note 3', 100)))
        self.assertEqual(tariff.tax_percent, 7)
        self.assertEqual(parse(dump([tariff])), [tariff])

    def test_persian_digits(self):
        "Cells may have Persian digits"
        tariff, = parse(EXTENDED + '\n'
            'residential,۱۳۹۶/۰۷/۰۱,,۲۴۰۰۰,47850,0,3,6,۰-۵:۳۶۰۰;۵-:۴۳۰۰,,,\n')
        self.assertEqual(tariff.start, parse_date('1396/07/01'))
        self.assertEqual(tariff.fixed, 24000)
        self.assertEqual(tariff.bands,
            (Band(0, 5, 3600), Band(5, None, 4300)))

    def test_blank_rows(self):
        "Rows left blank by a spreadsheet are skipped"
        tariffs = parse(HEADER + '\n,,,,,,,\n'
            'residential,1396/07/01,4300,24000,47850,0,3,6\n')
        self.assertEqual(len(tariffs), 1)

    def test_errors(self):
        "Errors name the line and the column"
        row = 'residential,1396/07/01,4300,24000,47850,0,3,6'
        for text, line, column in [
                (HEADER + '\n' + row.replace('4300', '43OO'), 2,
                    'water_rial_per_m3'),
                (HEADER + '\n' + row + '\n' + row.replace('24000', '-1'),
                    3, 'fixed_rial_per_month'),
                (HEADER + '\n' + row.replace('1396/07/01', '1396/13/01'), 2,
                    'valid_from'),
                (HEADER + '\n' + row.replace('1396/07/01', 'today'), 2,
                    'valid_from'),
                (HEADER + '\n' + row.replace('residential', ''), 2, 'usage'),
                (HEADER + '\n' + row.replace(',4300,', ',,'), 2,
                    'water_rial_per_m3'),
                (HEADER + '\n' + row + '\n' + row, 3, 'valid_from'),
                (HEADER + '\n' + row + ',1', 2, None),
                (HEADER.replace(',tax_percent', '') + '\n' + row, 1, None),
                (HEADER + ',band\n' + row + ',', 1, None),
                (EXTENDED + '\n' + row + ',0-5:1,,,', 2,
                    'water_rial_per_m3'),
                (EXTENDED + '\n' + row.replace('4300', '') + ',0-5:1,,,', 2,
                    'bands'),
                (EXTENDED + '\n' + row.replace('4300', '')
                    + ',0-5:1;6-:2,,,', 2, 'bands'),
                (EXTENDED + '\n' + row.replace('4300', '') + ',0-5,,,', 2,
                    'bands'),
                (EXTENDED + '\n' + row + ',,15,,', 2,
                    'pattern_m3_per_month'),
                (EXTENDED + '\n' + row + ',,15,0-:x,', 2,
                    'above_pattern_bands'),
                (EXTENDED + '\n' + row + ',,,,budget', 2, 'levies'),
                (EXTENDED + '\n' + row + ',,,,a:1;a:2', 2, 'levies'),
                ]:
            with self.subTest(text=text):
                with self.assertRaises(TariffCsvError) as context:
                    parse(text)
                self.assertEqual(context.exception.line, line)
                self.assertEqual(context.exception.column, column)
                self.assertIn(f'line {line}', str(context.exception))
                if column:
                    self.assertIn(column, str(context.exception))

    def test_write_levy_name(self):
        "A levy name that the format cannot hold is refused"
        tariff = Tariff(usage='residential', start=dt.date(2020, 1, 1),
            bands=(Band(0, None, 1),), fixed=0, service=0, sewage_percent=0,
            duty_percent=0, tax_percent=0, levies=(Levy('a;b', 1),))
        with self.assertRaises(ValueError):
            dump([tariff])


numbers = st.decimals(0, 10 ** 6, places=2)


@st.composite
def band_tables(draw):
    limits = sorted(draw(st.sets(st.decimals(1, 100, places=1), max_size=4)))
    return tuple(Band(lower, upper, draw(numbers))
        for lower, upper in zip([Decimal(0)] + limits, limits + [None]))


@st.composite
def tariffs(draw):
    pattern = draw(st.none() | st.decimals(1, 60, places=1))
    return Tariff(
        usage=draw(st.sampled_from(['residential', 'ویلا باغ و مسکونی',
                    'commercial, public'])),
        start=draw(st.dates(dt.date(1990, 1, 1), dt.date(2060, 1, 1))),
        bands=draw(band_tables()),
        fixed=draw(numbers),
        service=draw(numbers),
        sewage_percent=draw(numbers),
        duty_percent=draw(numbers),
        tax_percent=draw(numbers),
        pattern=pattern,
        pattern_bands=() if pattern is None else draw(band_tables()),
        levies=tuple(Levy(f'levy {i}', price)
            for i, price in enumerate(draw(st.lists(numbers, max_size=3)))))


class TariffCsvPropertiesTestCase(unittest.TestCase):
    "Test invariants of tariff tables as CSV"

    @given(st.lists(tariffs(), max_size=4, unique_by=lambda t: (
                    t.usage, t.start)))
    def test_round_trip(self, tariffs):
        "Writing then reading gives the same tariffs"
        self.assertEqual(parse(dump(tariffs)), tariffs)
