# This file is part of the water utility modules.
"""Tests of the tariff engine, without a database"""
import csv
import dataclasses
import datetime as dt
import os
import unittest
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from trytond.modules.water_billing import tariff_csv
from trytond.modules.water_billing.engine import (
    BASE_LINES, Band, EngineError, Levy, NoTariffError, Tariff, TariffError,
    calculate)
from trytond.modules.water_crm.jalali import parse_date

HERE = os.path.dirname(__file__)
LINES = BASE_LINES + ('duty', 'tax', 'total')
# ABFA Markazi rural 1395, marginal price per band (standards §3.3)
MARKAZI = (
    Band(0, 5, 710), Band(5, 10, 1062), Band(10, 15, 1414),
    Band(15, 20, 1852), Band(20, 25, 2700), Band(25, 30, 4248),
    Band(30, 35, 5790), Band(35, 40, 7722), Band(40, 50, 16731),
    Band(50, None, 33462))
# quc.ir tables with a base price C of 1000 rials and a pattern of 15 m³
# (standards §3.3); the first table ends at the pattern, so its last band
# is left open
BELOW_PATTERN = (Band(0, 5, 250), Band(5, 10, 400), Band(10, None, 700))
ABOVE_PATTERN = (
    Band(0, 5, 700), Band(5, 10, 800), Band(10, 15, 1000),
    Band(15, 22, 2000), Band(22, 30, 3000), Band(30, 45, 3500),
    Band(45, 60, 4000), Band(60, None, 5000))


def seed_tariffs():
    with open(os.path.join(HERE, 'seed_tariffs.csv'), newline='') as file:
        return tariff_csv.read(file)


def tariff(start, price=0, **values):
    "A tariff version with a flat price and nothing else unless given"
    values.setdefault('bands', (Band(0, None, price),))
    for field in ['fixed', 'service', 'sewage_percent', 'duty_percent',
            'tax_percent']:
        values.setdefault(field, 0)
    return Tariff(usage='residential', start=start, **values)


def lines(calculation):
    return {name: getattr(calculation, name) for name in LINES}


def half_up(numerator, denominator):
    "numerator / denominator of non-negative integers rounded half up"
    return (2 * numerator + denominator) // (2 * denominator)


class EngineTestCase(unittest.TestCase):
    "Test the tariff engine"

    def test_seed_bills(self):
        "Every row of seed_bills.csv is reproduced to the rial"
        tariffs = seed_tariffs()
        with open(os.path.join(HERE, 'seed_bills.csv'), newline='') as file:
            rows = list(csv.DictReader(file))
        self.assertTrue(rows)
        for row in rows:
            with self.subTest(previous_date=row['previous_date']):
                calculation = calculate(tariffs,
                    parse_date(row['previous_date']),
                    parse_date(row['current_date']),
                    int(row['consumption_m3']))
                self.assertEqual(calculation.days, int(row['days']))
                average = calculation.average_monthly
                self.assertEqual(
                    (Decimal(average.numerator) / average.denominator
                        ).quantize(Decimal('0.01'), ROUND_HALF_UP),
                    Decimal(row['avg_monthly_m3']))
                self.assertEqual(lines(calculation),
                    {name: int(row.get(name, 0)) for name in LINES})

    def test_tariff_change_mid_period(self):
        "Each day is priced with the tariff in force on that day"
        # 1396/06/02-1396/06/31 (30 days) at the 1395/01/01 tariff,
        # 1396/07/01-1396/08/01 (31 days) at the 1396/07/01 tariff, 1 m³
        # a day:
        # water   30 × 3600 + 31 × 4300                = 241300
        # fixed   20000 × 30/30 + 24000 × 31/30        =  44800
        # service 50000 × 30/30 + 47850 × 31/30        =  99445
        # base 385545, duty 3% 11566.35, tax 6% 23132.7
        calculation = calculate(seed_tariffs(), parse_date('1396/06/01'),
            parse_date('1396/08/01'), 61)
        self.assertEqual(lines(calculation), {
                'water': 241300, 'fixed': 44800, 'sewage': 0,
                'service': 99445, 'levies': 0, 'duty': 11566, 'tax': 23133,
                'total': 420244})
        self.assertEqual([(s.first, s.last, s.days, s.tariff.start)
                for s in calculation.segments], [
                (parse_date('1396/06/02'), parse_date('1396/06/31'), 30,
                    parse_date('1395/01/01')),
                (parse_date('1396/07/01'), parse_date('1396/08/01'), 31,
                    parse_date('1396/07/01')),
                ])
        self.assertEqual([s.consumption for s in calculation.segments],
            [30, 31])

    def test_graduated_bands(self):
        "Each m³ of the monthly consumption per unit at its band's price"
        tariffs = [tariff(dt.date(2016, 3, 20), bands=MARKAZI, fixed=10000,
                service=1000)]
        start = dt.date(2016, 4, 1)
        # 2 units, 48 m³ in 60 days: 12 m³ per month per unit,
        # 5 × 710 + 5 × 1062 + 2 × 1414 = 11688 a month per unit,
        # × 2 units × 60/30 = 46752
        calculation = calculate(tariffs, start,
            start + dt.timedelta(days=60), 48, units=2)
        self.assertEqual(calculation.water, 46752)
        # 10000 and 1000 a month per unit × 2 units × 2 months
        self.assertEqual(calculation.fixed, 40000)
        self.assertEqual(calculation.service, 4000)
        # the same consumption on one unit: 24 m³ a month,
        # 5 × (710 + 1062 + 1414 + 1852) + 4 × 2700 = 35990 × 2 months
        calculation = calculate(tariffs, start,
            start + dt.timedelta(days=60), 48)
        self.assertEqual(calculation.water, 71980)
        # 60 m³ in 30 days reaches the open last band:
        # 5 × (710 + 1062 + 1414 + 1852 + 2700 + 4248 + 5790 + 7722)
        # + 10 × 16731 + 10 × 33462 = 629420
        calculation = calculate(tariffs, start,
            start + dt.timedelta(days=30), 60)
        self.assertEqual(calculation.water, 629420)

    def test_pattern(self):
        "Above the pattern the whole other table applies"
        tariffs = [tariff(dt.date(2016, 3, 20), bands=BELOW_PATTERN,
                pattern=15, pattern_bands=ABOVE_PATTERN)]
        start = dt.date(2016, 4, 1)
        end = start + dt.timedelta(days=30)
        # at the pattern: 5 × 250 + 5 × 400 + 5 × 700 = 6750
        at_pattern = calculate(tariffs, start, end, 15)
        self.assertEqual(at_pattern.water, 6750)
        self.assertFalse(at_pattern.segments[0].above_pattern)
        # 1 m³ above: 5 × 700 + 5 × 800 + 5 × 1000 + 1 × 2000 = 14500
        above = calculate(tariffs, start, end, 16)
        self.assertEqual(above.water, 14500)
        self.assertTrue(above.segments[0].above_pattern)

    def test_sewage(self):
        "The sewage share applies only when the connection has sewer"
        tariffs = [tariff(parse_date('1396/07/01'), 4300, fixed=24000,
                service=47850, sewage_percent=70, duty_percent=3,
                tax_percent=6)]
        previous, current = parse_date('1397/06/03'), parse_date('1397/07/30')
        without = calculate(tariffs, previous, current, 45)
        self.assertEqual(without.sewage, 0)
        self.assertEqual(without.total, 362327)  # the seed bill
        # sewage 70% × 193500 = 135450,
        # base 193500 + 46400 + 135450 + 92510 = 467860,
        # duty 3% 14035.8, tax 6% 28071.6
        with_sewer = calculate(tariffs, previous, current, 45,
            has_sewer=True)
        self.assertEqual(lines(with_sewer), {
                'water': 193500, 'fixed': 46400, 'sewage': 135450,
                'service': 92510, 'levies': 0, 'duty': 14036, 'tax': 28072,
                'total': 509968})

    def test_levies(self):
        "Levies are per m³ and part of the base of duty and tax"
        tariffs = [tariff(parse_date('1396/07/01'), 4300, fixed=24000,
                service=47850, duty_percent=3, tax_percent=6,
                levies=(Levy('budget', 200), Levy('note 3', 50)))]
        calculation = calculate(tariffs, parse_date('1397/06/03'),
            parse_date('1397/07/30'), 45)
        # 45 × (200 + 50) = 11250,
        # base 193500 + 46400 + 92510 + 11250 = 343660,
        # duty 3% 10309.8, tax 6% 20619.6
        self.assertEqual(calculation.levies, 11250)
        self.assertEqual(calculation.duty, 10310)
        self.assertEqual(calculation.tax, 20620)
        self.assertEqual(calculation.total, 374590)

    def test_vat_of_current_date(self):
        "Duty and tax are at the rates in force on the current reading date"
        tariffs = [
            tariff(parse_date('1402/01/01'), 1000, duty_percent=3,
                tax_percent=6),
            tariff(parse_date('1403/01/01'), 1000, duty_percent=3,
                tax_percent=7),
            ]
        calculation = calculate(tariffs, parse_date('1402/12/20'),
            parse_date('1403/01/10'), 10)
        # water 10 × 1000, duty 3% 300, tax 7% 700
        self.assertEqual(len(calculation.segments), 2)
        self.assertEqual(
            (calculation.water, calculation.duty, calculation.tax,
                calculation.total),
            (10000, 300, 700, 11000))

    def test_rounding(self):
        "Lines are summed unrounded over the segments, then rounded half up"
        tariffs = [
            tariff(dt.date(2020, 1, 1), fixed=15),
            tariff(dt.date(2020, 1, 2), fixed=15, service=30),
            ]
        # fixed 15/30 = 0.5 on each of the 2 days: 1, not 2 (rounding each
        # segment) nor 0 (rounding half to even)
        calculation = calculate(tariffs, dt.date(2019, 12, 31),
            dt.date(2020, 1, 2), 0)
        self.assertEqual(calculation.fixed, 1)
        # one day of 15: 0.5 rounds up
        calculation = calculate(tariffs[:1], dt.date(2019, 12, 31),
            dt.date(2020, 1, 1), 0)
        self.assertEqual(calculation.fixed, 1)

    def test_errors(self):
        "Inputs that cannot be billed raise a ValueError"
        tariffs = seed_tariffs()
        previous, current = parse_date('1397/06/03'), parse_date('1397/07/30')
        for args, kwargs, error in [
                ((tariffs, parse_date('1394/12/01'), current, 1), {},
                    NoTariffError),
                (([], previous, current, 1), {}, NoTariffError),
                ((tariffs, current, current, 1), {}, EngineError),
                ((tariffs, current, previous, 1), {}, EngineError),
                ((tariffs, previous, current, -1), {}, EngineError),
                ((tariffs, previous, current, 1), {'units': 0}, EngineError),
                ((tariffs + [tariff(dt.date(2019, 1, 1))], previous,
                        current, 1), {}, EngineError),
                ((tariffs + [tariffs[0]], previous, current, 1), {},
                    EngineError),
                ]:
            with self.subTest(args=args[1:], kwargs=kwargs):
                with self.assertRaises(error) as context:
                    calculate(*args, **kwargs)
                self.assertIsInstance(context.exception, ValueError)
                self.assertTrue(str(context.exception))
        with self.assertRaises(NoTariffError) as context:
            calculate(tariffs, parse_date('1394/12/01'), current, 1)
        # the first day of the period is the day after the reading
        self.assertEqual(context.exception.date, parse_date('1394/12/02'))

    def test_tariff_errors(self):
        "Inconsistent tariff versions are refused, naming the field"
        start = dt.date(2020, 1, 1)
        for values, field in [
                ({'bands': ()}, 'bands'),
                ({'bands': (Band(1, None, 10),)}, 'bands'),
                ({'bands': (Band(0, 5, 10), Band(6, None, 10))}, 'bands'),
                ({'bands': (Band(0, 5, 10), Band(5, 10, 10))}, 'bands'),
                ({'bands': (Band(0, None, 10), Band(5, None, 10))}, 'bands'),
                ({'bands': (Band(0, 0, 10), Band(0, None, 10))}, 'bands'),
                ({'bands': (Band(0, None, -1),)}, 'bands'),
                ({'pattern': 15}, 'pattern'),
                ({'pattern_bands': BELOW_PATTERN}, 'pattern'),
                ({'pattern': 15, 'pattern_bands': (Band(0, 15, 1),)},
                    'pattern_bands'),
                ({'fixed': -1}, 'fixed'),
                ({'tax_percent': -1}, 'tax_percent'),
                ({'levies': (Levy('a', 1), Levy('a', 2))}, 'levies'),
                ({'levies': (Levy('a', -1),)}, 'levies'),
                ]:
            with self.subTest(values=values):
                with self.assertRaises(TariffError) as context:
                    tariff(start, 1, **values)
                self.assertEqual(context.exception.field, field)


prices = st.integers(0, 50000).map(Decimal)
percents = st.integers(0, 100).map(Decimal)


@st.composite
def band_tables(draw):
    limits = sorted(draw(st.sets(st.integers(1, 100), max_size=5)))
    return tuple(
        Band(Decimal(lower), None if upper is None else Decimal(upper),
            draw(prices))
        for lower, upper in zip([0] + limits, limits + [None]))


@st.composite
def tariffs(draw, start):
    bands = draw(band_tables())
    pattern = draw(st.none() | st.integers(1, 60).map(Decimal))
    pattern_bands = ()
    if pattern is not None:
        # Above the pattern, prices are higher: consumption beyond the
        # pattern never costs less
        pattern_bands = tuple(band._replace(price=band.price + draw(prices))
            for band in bands)
    return Tariff(
        usage='residential',
        start=start,
        bands=bands,
        fixed=draw(prices),
        service=draw(prices),
        sewage_percent=draw(percents),
        duty_percent=draw(percents),
        tax_percent=draw(percents),
        pattern=pattern,
        pattern_bands=pattern_bands,
        levies=tuple(Levy(f'levy {i}', price)
            for i, price in enumerate(draw(st.lists(prices, max_size=2)))))


@st.composite
def periods(draw):
    "Tariff versions, previous and current dates"
    previous = draw(st.dates(dt.date(2010, 1, 1), dt.date(2030, 1, 1)))
    current = previous + dt.timedelta(days=draw(st.integers(1, 400)))
    # the first version is in force on the first day, the others start
    # inside or after the period
    starts = {previous - dt.timedelta(days=draw(st.integers(-1, 100)))}
    starts |= draw(st.sets(st.dates(previous + dt.timedelta(days=2),
                current + dt.timedelta(days=10)), max_size=3))
    versions = [draw(tariffs(start)) for start in sorted(starts)]
    return versions, previous, current


consumptions = st.decimals(0, 5000, places=2)
units = st.integers(1, 5)


class EnginePropertiesTestCase(unittest.TestCase):
    "Test invariants of the tariff engine"

    @settings(deadline=None)
    @given(periods(), units, st.booleans())
    def test_zero_consumption(self, period, units, has_sewer):
        "Zero consumption still bills the fixed and service charges"
        versions, previous, current = period
        version = versions[0]
        days = (current - previous).days
        calculation = calculate([version], previous, current, 0,
            units=units, has_sewer=has_sewer)
        self.assertEqual(
            (calculation.water, calculation.sewage, calculation.levies),
            (0, 0, 0))
        self.assertEqual(calculation.fixed,
            half_up(int(version.fixed) * units * days, 30))
        self.assertEqual(calculation.service,
            half_up(int(version.service) * units * days, 30))

    @settings(deadline=None)
    @given(periods(), consumptions, units, st.booleans(), st.data())
    def test_split_version(self, period, consumption, units, has_sewer,
            data):
        "Splitting a version into two identical ones changes nothing"
        versions, previous, current = period
        index = data.draw(st.integers(0, len(versions) - 1))
        version = versions[index]
        if index + 1 < len(versions):
            following = versions[index + 1].start
        else:
            following = max(version.start, current) + dt.timedelta(days=2)
        gap = (following - version.start).days
        assume(gap > 1)
        split = dataclasses.replace(version, start=version.start
            + dt.timedelta(days=data.draw(st.integers(1, gap - 1))))
        before = calculate(versions, previous, current, consumption,
            units=units, has_sewer=has_sewer)
        after = calculate(versions + [split], previous, current,
            consumption, units=units, has_sewer=has_sewer)
        self.assertEqual(lines(after), lines(before))

    @settings(deadline=None)
    @given(periods(), consumptions, units, st.booleans())
    def test_lines(self, period, consumption, units, has_sewer):
        "Lines are non-negative integers and the total is their sum"
        versions, previous, current = period
        calculation = calculate(versions, previous, current, consumption,
            units=units, has_sewer=has_sewer)
        for name in LINES:
            value = getattr(calculation, name)
            self.assertIs(type(value), int)
            self.assertGreaterEqual(value, 0)
        self.assertEqual(calculation.total,
            sum(getattr(calculation, name)
                for name in BASE_LINES + ('duty', 'tax')))
        self.assertEqual(sum(s.days for s in calculation.segments),
            calculation.days)

    @settings(deadline=None)
    @given(periods(), consumptions, consumptions, units)
    def test_more_consumption(self, period, consumption, more, units):
        "More consumption never lowers the water charge"
        versions, previous, current = period
        less = calculate(versions, previous, current, consumption,
            units=units)
        greater = calculate(versions, previous, current, consumption + more,
            units=units)
        self.assertGreaterEqual(greater.water, less.water)
