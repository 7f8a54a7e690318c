# This file is part of the water utility modules.
"""Tests of tariffs and bills on the database: tariff import and export,
subscriber 1421's history billed to the rial and posted as invoices,
proration, VAT from the taxes, previous debt, bill ID and payment ID, and
what lands in the accounts."""
import csv
import io
import json
from decimal import Decimal
from fractions import Fraction

from trytond.modules.water_billing import billid, tariff_csv
from trytond.modules.water_billing.engine import round_half_up
from trytond.modules.water_billing.tariff import (
    TariffValidationError, export_tariffs)
from trytond.modules.water_billing.tariff import (
    import_tariffs as import_text)
from trytond.modules.water_billing.tariff_csv import TariffCsvError
from trytond.pool import Pool

from .fixtures import (
    COMPANY_CODE, D, BillingTestCase, account_credit, bill, create_subscriber,
    import_tariffs, pay, read, read_meter, receivable_balance, with_company)

LINES = ['water', 'fixed', 'sewage', 'service', 'duty', 'tax', 'total']
BANDED = (
    'usage,valid_from,water_rial_per_m3,fixed_rial_per_month,'
    'service_rial_per_month,sewage_share_percent,duty_percent,tax_percent,'
    'bands,pattern_m3_per_month,above_pattern_bands,levies\n'
    'residential,1395/01/01,,20000,30000,70,3,6,'
    '0-5:2500;5-10:3500;10-:15000,25,0-:20000,\n'
    'residential,1403/01/01,,36000,45000,70,3,7,'
    '0-5:4000;5-:24000,,,budget:300;note3:100\n'
    'commercial,1395/01/01,9000,60000,80000,100,3,6,,,,\n')


def csv_rows(name):
    return list(csv.DictReader(io.StringIO(read(name))))


def history_1421():
    """Subscriber 1421 with the readings of seed_readings.csv, accepted as
    the legacy system billed them"""
    Reading = Pool().get('water.reading')
    subscription = create_subscriber(1421)
    readings = []
    for row in csv_rows('seed_readings.csv')[1:]:
        reading = read_meter(subscription, row['reading_date'],
            int(row['meter_value_m3']))
        Reading.accept([reading] if reading.state == 'flagged' else [])
        readings.append(reading)
    return subscription, readings


def accounts():
    "The revenue account of each line and the duty and tax accounts"
    Configuration = Pool().get('water.configuration')
    configuration = Configuration(1)
    revenue = {n: getattr(configuration, n + '_account')
        for n in ['water', 'fixed', 'sewage', 'service', 'levies']}
    duty, = {c.invoice_account for c in configuration.duty_tax.childs}
    tax, = {c.invoice_account for c in configuration.vat_tax.childs}
    return revenue, duty, tax


class TariffTestCase(BillingTestCase):
    "Test the import and export of tariffs"

    @with_company
    def test_import_seed(self):
        "seed_tariffs.csv gives two versions; importing again updates them"
        Tariff = Pool().get('water.tariff')

        self.assertEqual(import_tariffs(), (2, 0))

        old, new = Tariff.search([], order=[('start_date', 'ASC')])
        self.assertEqual(
            [(t.usage.code, t.start_date_jalali, t.fixed, t.service,
                    t.sewage_percent, [(b.lower, b.upper, b.price)
                        for b in t.bands]) for t in [old, new]],
            [('residential_villa', '1395/01/01', 20000, 50000, 0,
                    [(0, None, 3600)]),
                ('residential_villa', '1396/07/01', 24000, 47850, 0,
                    [(0, None, 4300)])])

        text = read('seed_tariffs.csv').replace('4300', '4400')
        self.assertEqual(import_text(text), (0, 2))
        tariffs = Tariff.search([], order=[('start_date', 'ASC')])
        self.assertEqual(len(tariffs), 2)
        self.assertEqual([t.bands[0].price for t in tariffs], [3600, 4400])
        self.assertEqual(Pool().get('water.tariff.band').search(
                [], count=True), 2)

    @with_company
    def test_import_bad_file(self):
        "A bad row names its line and column, and nothing is written"
        pool = Pool()
        Tariff = pool.get('water.tariff')
        Import = pool.get('water.tariff.import', type='wizard')
        good = read('seed_tariffs.csv')

        for text, line, column in [
                (good.replace('24000', '24 000'), 3,
                    'fixed_rial_per_month'),
                (good + 'swimming_pool,1396/07/01,9000,0,0,0,3,6\n', 4,
                    'usage'),
                (good.replace('1396/07/01', '1396/13/01'), 3, 'valid_from'),
                ]:
            with self.subTest(line=line, column=column):
                with self.assertRaises(TariffCsvError) as context:
                    import_text(text)
                self.assertEqual(
                    (context.exception.line, context.exception.column),
                    (line, column))
                self.assertIn(f"line {line}, column {column}",
                    str(context.exception))
                self.assertEqual(Tariff.search([]), [])

        session_id, _, _ = Import.create()
        with self.assertRaises(TariffValidationError) as context:
            Import.execute(session_id, {'start': {
                        'file': good.replace('24000', 'x').encode()}},
                'import_')
        self.assertIn("line 3, column fixed_rial_per_month",
            context.exception.message)
        self.assertEqual(Tariff.search([]), [])

    @with_company
    def test_export(self):
        "Exported tariffs read back as the versions imported"
        pool = Pool()
        Tariff = pool.get('water.tariff')
        TariffCsv = pool.get('water.tariff.csv', type='report')
        import_tariffs()

        text = export_tariffs(Tariff.search([]))

        self.assertEqual(text, read('seed_tariffs.csv'))
        import_text(BANDED)
        tariffs = Tariff.search([('usage.code', '!=', 'residential_villa')])
        exported = export_tariffs(tariffs)

        def versions(text):
            return sorted(tariff_csv.read(io.StringIO(text, newline='')),
                key=lambda t: (t.usage, t.start))
        self.assertEqual(versions(exported), versions(BANDED))
        self.assertEqual(len(versions(exported)), 3)
        # importing the export changes nothing
        self.assertEqual(import_text(exported), (0, 3))
        self.assertEqual(export_tariffs(Tariff.search([
                        ('usage.code', '!=', 'residential_villa')])),
            exported)

        ext, content, _, name = TariffCsv.execute(
            [t.id for t in Tariff.search([
                        ('usage.code', '=', 'residential_villa')])], {})
        self.assertEqual((ext, name), ('csv', 'tariffs'))
        self.assertEqual(content.decode('utf-8'), read('seed_tariffs.csv'))


class BillTestCase(BillingTestCase):
    "Test bills and their invoices"

    @with_company
    def test_history_1421(self):
        """Subscriber 1421's history billed by the ORM gives the bills of
        the legacy system to the rial, each posted as an invoice of the
        same total with a line per charge"""
        import_tariffs()
        _, readings = history_1421()
        revenue, duty_account, tax_account = accounts()

        bills = bill(readings)

        by_period = {(b.period_start, b.period_end): b for b in bills}
        rows = csv_rows('seed_bills.csv')
        self.assertEqual(len(rows), 3)
        for row in rows:
            with self.subTest(period=row['previous_date']):
                current = by_period[
                    D(row['previous_date']), D(row['current_date'])]
                self.assertEqual(
                    {n: getattr(current, n) for n in LINES},
                    {n: Decimal(row[n]) for n in LINES})
                self.assertEqual((current.days, current.consumption),
                    (int(row['days']), int(row['consumption_m3'])))
                self.assertEqual(current.average_monthly,
                    Decimal(row['avg_monthly_m3']))
        for current in bills:
            with self.subTest(period=current.period_end_jalali):
                invoice = current.invoice
                self.assertEqual(current.state, 'posted')
                self.assertEqual(invoice.state, 'posted')
                self.assertEqual(invoice.type, 'out')
                self.assertEqual(invoice.party, current.party)
                self.assertEqual(invoice.currency.code, 'IRR')
                self.assertEqual(invoice.invoice_date, current.period_end)
                self.assertEqual(invoice.total_amount, current.total)
                self.assertEqual(
                    [(l.account, l.amount, l.origin) for l in invoice.lines],
                    [(revenue[n], getattr(current, n), current)
                        for n in ['water', 'fixed', 'service']])
                self.assertEqual(invoice.lines[0].description,
                    f"Water charge ({current.consumption} m³)")
                self.assertEqual(
                    sorted((t.account, t.amount) for t in invoice.taxes),
                    sorted([(duty_account, current.duty),
                            (tax_account, current.tax)]))

    @with_company
    def test_proration(self):
        "A period across the tariff change of 1396/07/01 is prorated"
        import_tariffs()
        _, readings = history_1421()
        reading, = [r for r in readings if r.date == D('1397/01/31')]

        current, = bill([reading])

        # 10 m³ over 341 days: 131 days at the first tariff, 210 at the
        # second; (10×131×3600 + 10×210×4300) / 341 = 40,310.85, fixed
        # (131×20,000 + 210×24,000) / 30 = 255,333.33, service
        # (131×50,000 + 210×47,850) / 30 = 553,283.33
        self.assertEqual(
            [current.days, current.water, current.fixed, current.service,
                current.duty, current.tax, current.total],
            [341, 40311, 255333, 553283, 25468, 50936, 925331])
        self.assertEqual(
            [(s['tariff_start'], s['days'])
                for s in json.loads(current.segments)],
            [('2016-03-20', 131), ('2017-09-23', 210)])
        self.assertEqual(current.invoice.total_amount, 925331)

    @with_company
    def test_vat_from_taxes(self):
        "The tax is 6% until 1402/12/29 and 7% from 1403/01/01"
        import_tariffs()
        subscription = create_subscriber(9001, install_date='1402/10/01',
            initial_reading=0)
        readings = [read_meter(subscription, '1402/12/20', 20),
            read_meter(subscription, '1403/02/20', 40)]
        _, duty_account, tax_account = accounts()

        before, after = bill(readings)

        for current, rate in [(before, 6), (after, 7)]:
            with self.subTest(rate=rate):
                base = sum(getattr(current, n)
                    for n in ['water', 'fixed', 'sewage', 'service',
                        'levies'])
                self.assertEqual(current.duty,
                    round_half_up(Fraction(int(base) * 3, 100)))
                self.assertEqual(current.tax,
                    round_half_up(Fraction(int(base) * rate, 100)))
                self.assertEqual(
                    Decimal(json.loads(current.engine_input)['tax_percent']),
                    rate)
                tax_line, = [t for t in current.invoice.taxes
                    if t.account == tax_account]
                self.assertEqual(tax_line.tax.rate * 100, rate)
                self.assertEqual(tax_line.amount, current.tax)
                self.assertEqual(current.invoice.total_amount, current.total)
        self.assertGreater(after.tax, after.duty * 2)

    @with_company
    def test_previous_debt(self):
        """Each bill carries what the earlier bills still owe; the payable
        is rounded down to 1000 rials and the rest stays due"""
        import_tariffs()
        subscription, readings = history_1421()
        readings.append(read_meter(subscription, '1397/09/30', 230))
        Reading = Pool().get('water.reading')
        Reading.accept([r for r in readings if r.state == 'flagged'])

        # nothing paid: each bill owes all the earlier ones
        unpaid = bill(readings[:2])
        self.assertEqual([b.previous_debt for b in unpaid],
            [0, unpaid[0].total])
        self.assertEqual(unpaid[1].total_payable,
            unpaid[0].total + unpaid[1].total)
        # as the legacy system showed: all paid but 17 rials
        pay(unpaid[0].invoice, unpaid[0].total)
        pay(unpaid[1].invoice, unpaid[1].total)
        third, fourth = bill(readings[2:4])
        pay(third.invoice, third.total)
        pay(fourth.invoice, fourth.total - 17)

        latest, = bill(readings[4:5])

        self.assertEqual(latest.total, 362327)
        self.assertEqual(latest.previous_debt, 17)
        self.assertEqual(latest.total_payable, 362344)
        self.assertEqual(latest.payable, 362000)
        payment = billid.check(latest.bill_id, latest.payment_id)
        self.assertEqual(payment.amount, 362000)
        self.assertEqual((payment.year, payment.period), (7, 7))

        # the bank pays the payable: the old 17 rials, then the new bill
        pay(fourth.invoice, 17)
        invoice = pay(latest.invoice, 362000 - 17)
        self.assertEqual(invoice.amount_to_pay, 344)
        following, = bill(readings[5:])
        self.assertEqual(following.previous_debt, 344)
        self.assertEqual(following.total_payable, following.total + 344)
        self.assertEqual(following.payable,
            (following.total + 344) // 1000 * 1000)

    @with_company
    def test_bill_id(self):
        """The bill ID is the subscription's for ever; each payment ID is
        valid, encodes the payable and belongs to that bill ID only"""
        import_tariffs()
        _, readings = history_1421()
        other = create_subscriber(1422, initial_reading=10)
        readings.append(read_meter(other, '1395/10/06', 40))

        bills = bill(readings)

        ids = {b.bill_id for b in bills if b.subscription.number == '1421'}
        self.assertEqual(ids, {billid.make_bill_id('1421', COMPANY_CODE)})
        other_id = bills[-1].bill_id
        self.assertEqual(other_id, billid.make_bill_id('1422', COMPANY_CODE))
        for current in bills:
            with self.subTest(bill=current.period_end_jalali):
                payment = billid.check(current.bill_id, current.payment_id)
                self.assertEqual(payment.amount, current.payable)
                self.assertEqual(payment.file_id,
                    int(current.subscription.number))
                self.assertEqual(current.barcode, billid.barcode(
                        current.bill_id, current.payment_id))
                wrong = (other_id if current.bill_id != other_id
                    else bills[0].bill_id)
                with self.assertRaises(billid.BillIdError):
                    billid.check(wrong, current.payment_id)

    @with_company
    def test_accounts(self):
        """Each subscriber's receivable is what its unpaid bills owe, and
        the duty and tax accounts hold exactly the bills' duty and tax"""
        import_tariffs()
        subscription, readings = history_1421()
        other = create_subscriber(1422, initial_reading=10)
        others = [read_meter(other, '1395/10/06', 40),
            read_meter(other, '1396/02/24', 60)]
        _, duty_account, tax_account = accounts()
        Bill = Pool().get('water.bill')

        bills = bill(readings + others)
        paid = [b for b in bills if b.period_end == D('1396/02/24')]
        for current in paid:
            self.assertEqual(
                pay(current.invoice, current.total).state, 'paid')
        bills = Bill.browse(bills)

        for party in [subscription.party, other.party]:
            with self.subTest(party=party.name):
                unpaid = [b for b in bills
                    if b.party == party and b not in paid]
                self.assertEqual(receivable_balance(party),
                    sum(b.total for b in unpaid))
                self.assertTrue(all(not b.paid for b in unpaid))
        self.assertTrue(all(b.paid for b in paid))
        self.assertEqual(account_credit(duty_account),
            sum(b.duty for b in bills))
        self.assertEqual(account_credit(tax_account),
            sum(b.tax for b in bills))
