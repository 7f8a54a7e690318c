# This file is part of the water utility modules.
"""Tests of the `water simulate` and `water billid` commands, without a
database"""
import contextlib
import csv
import io
import json
import os
import tempfile
import unittest

from trytond.modules.water_crm.cli import main

HERE = os.path.dirname(__file__)
TARIFFS = os.path.join(HERE, 'seed_tariffs.csv')
LINES = ['days', 'water', 'fixed', 'sewage', 'service', 'duty', 'tax',
    'total']


def run(*args):
    "Return the exit code, standard output and error of `water args`"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), \
            contextlib.redirect_stderr(stderr):
        code = main(list(args))
    return code, stdout.getvalue(), stderr.getvalue()


def simulate(*args, tariffs=TARIFFS):
    return run('simulate', '--tariffs', tariffs,
        '--usage', 'residential_villa', *args)


class CommandsTestCase(unittest.TestCase):
    "Test the water_billing commands"

    def test_simulate_seed_bills(self):
        "simulate --json gives the bills of seed_bills.csv"
        with open(os.path.join(HERE, 'seed_bills.csv'), newline='') as file:
            rows = list(csv.DictReader(file))
        self.assertTrue(rows)
        for row in rows:
            with self.subTest(previous_date=row['previous_date']):
                code, output, _ = simulate(
                    '--from', row['previous_date'],
                    '--to', row['current_date'],
                    '--consumption', row['consumption_m3'], '--json')
                self.assertEqual(code, 0)
                result = json.loads(output)
                self.assertEqual({k: result[k] for k in LINES},
                    {k: int(row[k]) for k in LINES})
                self.assertEqual(result['consumption'],
                    int(row['consumption_m3']))
                self.assertEqual(result['average_monthly'],
                    float(row['avg_monthly_m3']))

    def test_simulate_table(self):
        "Without --json, a table of the lines"
        code, output, _ = simulate('--from', '1397/06/03',
            '--to', '۱۳۹۷/۰۷/۳۰', '--consumption', '۴۵')
        self.assertEqual(code, 0)
        # the first row of seed_bills.csv
        self.assertRegex(output, r'Water charge +193,500\n')
        self.assertRegex(output, r'Tax 6% +19,945\n')
        self.assertRegex(output, r'Total \(rials\) +362,327\n')

    def test_simulate_sewer_units(self):
        "--sewer and --units reach the engine"
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, 'tariffs.csv')
            with open(path, 'w', encoding='utf-8') as file:
                file.write(
                    'usage,valid_from,water_rial_per_m3,fixed_rial_per_month'
                    ',service_rial_per_month,sewage_share_percent'
                    ',duty_percent,tax_percent\n'
                    'residential_villa,1396/07/01,4300,24000,0,70,0,0\n')
            args = ('--from', '1397/06/03', '--to', '1397/07/30',
                '--consumption', '45', '--json')
            code, output, _ = simulate(*args, tariffs=path)
            self.assertEqual(json.loads(output)['sewage'], 0)
            code, output, _ = simulate(*args, '--sewer', '--units', '2',
                tariffs=path)
        result = json.loads(output)
        # 70% of 45 × 4300 = 135450; 2 units × 24000 × 58/30 = 92800
        self.assertEqual((code, result['sewage'], result['fixed']),
            (0, 135450, 92800))

    def test_simulate_errors(self):
        "Errors exit 1 with one line on standard error"
        good = ['--from', '1397/06/03', '--to', '1397/07/30',
            '--consumption', '45']
        for args, message in [
                (['--tariffs', 'missing.csv', '--usage', 'residential_villa',
                        *good], 'missing.csv'),
                (['--tariffs', TARIFFS, '--usage', 'commercial', *good],
                    'unknown usage'),
                (['--tariffs', TARIFFS, '--usage', 'residential_villa',
                        *good[:1], '1397/06/32', *good[2:]], '--from'),
                (['--tariffs', TARIFFS, '--usage', 'residential_villa',
                        *good[:2], '--to', '1397/06/03', *good[4:]],
                    'not after'),
                (['--tariffs', TARIFFS, '--usage', 'residential_villa',
                        *good[:4], '--consumption', '-5'], '--consumption'),
                (['--tariffs', TARIFFS, '--usage', 'residential_villa',
                        *good, '--units', '0'], 'units'),
                (['--tariffs', TARIFFS, '--usage', 'residential_villa',
                        '--from', '1394/12/28', *good[2:]],
                    'no tariff for residential_villa in force on 1394/12/29'),
                (['--tariffs', os.path.join(HERE, 'seed_bills.csv'),
                        '--usage', 'residential_villa', *good],
                    'line 1: missing column'),
                ]:
            with self.subTest(args=args):
                code, output, error = run('simulate', *args)
                self.assertEqual(code, 1)
                self.assertEqual(output, '')
                self.assertIn(message, error)
                self.assertEqual(error.count('\n'), 1)

    def test_billid_check(self):
        "billid check exits 0 for a valid pair and says what it decoded"
        # standards §2.5
        code, output, _ = run('billid', 'check', '2050327604613', '1070189')
        self.assertEqual(code, 0)
        for text in ['20503276', '046', '10,000 rials', 'water']:
            self.assertIn(text, output)
        for bill_id, payment_id, message in [
                ('2234322344613', '1070189', 'check digit'),
                ('7748317800142', '1070189', 'does not belong'),
                ('2050327604613', '1070179', 'C1'),
                ]:
            with self.subTest(bill_id=bill_id, payment_id=payment_id):
                code, output, error = run(
                    'billid', 'check', bill_id, payment_id)
                self.assertEqual(code, 1)
                self.assertIn(message, error)

    def test_billid_make(self):
        "billid make prints the IDs and barcode, or refuses"
        code, output, _ = run('billid', 'make', '--file-id', '11177532',
            '--company', '001', '--service-type', '4', '--amount', '120000',
            '--year', '1397', '--period', '1')
        # standards §2.5
        self.assertEqual(code, 0)
        self.assertIn('1117753200140', output)
        self.assertIn('12070160', output)
        self.assertIn('11177532001400000012070160', output)
        code, output, error = run('billid', 'make', '--file-id', '11177532',
            '--company', '1', '--amount', '120500', '--year', '1397',
            '--period', '1')
        self.assertEqual((code, output), (1, ''))
        self.assertIn('not a multiple of 1000', error)
