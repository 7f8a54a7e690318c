# This file is part of the water utility modules.
"""Tests of the printed bill: subscriber 1421's history billed by the
engine, printed to PDF and read back with poppler's pdftotext."""
import os
import re
import subprocess
import tempfile
import unittest
from decimal import Decimal
from unittest.mock import patch

import trytond.config as config
from trytond.modules.company.tests import create_company, set_company
from trytond.modules.water_crm import jalali
from trytond.pool import Pool
from trytond.tests.test_tryton import (
    TestCase, activate_module, drop_db, with_transaction)

from .. import bill_run, billid
from ..bill_report import (
    amount_in_words, barcode_svg, consumption_chart, fa_number, font_dir)
from ..bill_run import BillRunPrintError

FOLDER = os.path.dirname(__file__)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(FOLDER)))
COMPANY = "شرکت آب دهکده زیتون"
SEED_READINGS = [('1395/10/06', 120), ('1396/02/24', 130),
    ('1397/01/31', 140), ('1397/06/03', 175), ('1397/07/30', 220)]


def fa(text):
    return jalali.to_persian_digits(text)


# pdftotext marks right-to-left and left-to-right runs with these
BIDI_MARKS = dict.fromkeys(map(ord, '\u202a\u202b\u202c\u202d\u202e'))


def pdf_text(pdf, first=None, last=None):
    """The text of a PDF (or of its pages first to last) by pdftotext, as
    laid out: each printed line left to right, without bidi marks"""
    with tempfile.NamedTemporaryFile(suffix='.pdf') as file:
        file.write(pdf)
        file.flush()
        pages = []
        if first:
            pages = ['-f', str(first), '-l', str(last or first)]
        text = subprocess.run(
            ['pdftotext', '-layout', *pages, file.name, '-'],
            check=True, capture_output=True, text=True).stdout
    return text.translate(BIDI_MARKS)


def extracted(text):
    """The words of text as pdftotext gives them back: the lam-alef
    ligature the font draws for «لا» comes out reversed, and zero-width
    non-joiners are lost"""
    return text.replace('لا', 'ال').replace('\u200c', '').split()


def on_a_line(*texts):
    "A regex of texts side by side on a printed line, left to right"
    return r'[ \t]+'.join(r'[ \t]*'.join(map(re.escape, extracted(t)))
        for t in texts)


def pdf_command(command, pdf):
    with tempfile.NamedTemporaryFile(suffix='.pdf') as file:
        file.write(pdf)
        file.flush()
        return subprocess.run([command, file.name],
            check=True, capture_output=True, text=True).stdout


def page_count(pdf):
    return int(re.search(r'^Pages:\s+(\d+)', pdf_command('pdfinfo', pdf),
            re.M).group(1))


def create_billing(company):
    """Accounts, the 3% duty and 6% tax, the bill ID company code and the
    reference customer's tariffs"""
    from trytond.modules.account.tests import create_chart

    from ..tariff import import_tariffs
    pool = Pool()
    Account = pool.get('account.account')
    Tax = pool.get('account.tax')
    Configuration = pool.get('water.configuration')
    create_chart(company)
    account, = Account.search([
            ('company', '=', company.id),
            ('type.statement', '=', 'balance'),
            ('closed', '!=', True),
            ], limit=1)

    def tax(name, rate):
        tax = Tax(name=name, description=name, company=company,
            type='percentage', rate=Decimal(rate), invoice_account=account,
            credit_note_account=account)
        tax.save()
        return tax
    revenue, = Account.search([
            ('company', '=', company.id),
            ('type.revenue', '=', True),
            ('closed', '!=', True),
            ], limit=1)
    configuration = Configuration(1)
    for name in ['water', 'fixed', 'sewage', 'service', 'levies']:
        setattr(configuration, name + '_account', revenue)
    configuration.duty_tax = tax("Duty", '0.03')
    configuration.vat_tax = tax("Tax", '0.06')
    configuration.bill_company_code = '939'
    configuration.save()
    with open(os.path.join(FOLDER, 'seed_tariffs.csv'),
            encoding='utf-8') as fp:
        import_tariffs(fp.read())


def create_subscription(company, zone, number, geographic_code,
        parcel_number, party_name, meter_serial, initial_reading):
    pool = Pool()
    Parcel = pool.get('water.parcel')
    Connection = pool.get('water.connection')
    Usage = pool.get('water.usage')
    Meter = pool.get('water.meter')
    Installation = pool.get('water.meter.installation')
    Party = pool.get('party.party')
    Subscription = pool.get('water.subscription')
    usage, = Usage.search([('code', '=', 'residential_villa')])
    parcel = Parcel(zone=zone, company=company, number=parcel_number,
        geographic_code=geographic_code, address=f"قطعه {parcel_number}")
    parcel.save()
    connection = Connection(parcel=parcel, company=company, usage=usage,
        housing_units=1, state='active')
    connection.save()
    meter = Meter(serial=meter_serial, company=company)
    meter.save()
    Installation(meter=meter, connection=connection,
        install_date=jalali.parse_date('1395/01/29'),
        initial_reading=initial_reading).save()
    party, = Party.create([{'name': party_name}])
    subscription = Subscription(connection=connection, party=party,
        company=company, number=number, bill_file_id=number,
        start_date=jalali.parse_date('1395/01/29'))
    subscription.save()
    return subscription


def bill_readings(subscription, readings, run=None):
    "Bills of each (Jalali date, meter value), oldest first"
    pool = Pool()
    Reading = pool.get('water.reading')
    Bill = pool.get('water.bill')
    bills = []
    for date, value in readings:
        reading = Reading(subscription=subscription,
            meter=subscription.meter, company=subscription.company,
            date=jalali.parse_date(date), kind='reader', value=value)
        reading.save()
        Reading.confirm([reading])
        Reading.accept([r for r in [reading] if r.state == 'flagged'])
        bill, = Bill.compute([reading], reading.date)
        Bill.set_debt([bill])
        bill.run = run
        bill.save()
        bills.append(bill)
    return bills


def carry_debt(bill, debt):
    """Give bill a previous debt, as the engine does from unpaid posted
    bills (posting needs fiscal years the print does not)"""
    bill.previous_debt = Decimal(debt)
    bill.total_payable = bill.total + bill.previous_debt
    bill.payable = bill.total_payable - bill.total_payable % 1000
    date = jalali.to_jalali(bill.date)
    bill.payment_id = billid.make_payment_id(
        int(bill.payable), date.year, date.month, bill.bill_id)
    bill.save()


class BillReportTestCase(TestCase):
    "Test the printed water bill"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        drop_db()
        activate_module('water_billing')
        if not os.path.isfile(
                os.path.join(font_dir(), 'Vazirmatn-Regular.ttf')):
            # run outside `make`, without its web root: the same fonts,
            # where `make install` fetched them into the checkout
            if not config.has_section('water'):
                config.add_section('water')
            config.set('water', 'font_dir', os.path.join(ROOT, 'web',
                    'node_modules', 'vazirmatn', 'fonts', 'ttf'))
        cls.render()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        drop_db()

    @classmethod
    @with_transaction()
    def render(cls):
        "Print subscriber 1421's latest bill, and a bill run of two bills"
        pool = Pool()
        Zone = pool.get('water.zone')
        BillRun = pool.get('water.bill.run')
        Bill = pool.get('water.bill')
        BillReport = pool.get('water.bill', type='report')
        BillRunReport = pool.get('water.bill.run', type='report')
        company = create_company(COMPANY)
        with set_company(company):
            create_billing(company)
            zone = Zone(name="دهکده زیتون", company=company)
            zone.save()
            run = BillRun(company=company, zone=zone,
                date=jalali.parse_date('1397/07/30'),
                bill_date=jalali.parse_date('1397/07/30'))
            run.save()
            s1421 = create_subscription(company, zone, '1421',
                '1900420071', '420/71', "حسین رضایی", 'ZT-1421', 98)
            bills = bill_readings(s1421, SEED_READINGS[:-1])
            latest, = bill_readings(s1421, SEED_READINGS[-1:], run)
            carry_debt(latest, 17)
            s987 = create_subscription(company, zone, '987',
                '1900310052', '310/52', "مریم کاظمی", 'ZT-0987', 500)
            other, = bill_readings(s987, [('1397/07/30', 530)], run)
            cls.latest = Bill.read([latest.id], [
                    'bill_id', 'payment_id', 'barcode'])[0]
            cls.earlier_total = bills[-1].total

            _, cls.pdf, _, cls.name = BillReport.execute(
                [latest.id], {'model': 'water.bill'})
            _, cls.run_pdf, _, _ = BillRunReport.execute(
                [run.id], {'model': 'water.bill.run'})
            cls.two_pdf = BillReport.render_pdf([latest, other])
            cls.print_in_chunks(run)
        cls.text = pdf_text(cls.pdf)

    @classmethod
    def print_in_chunks(cls, run):
        """Print the run in chunks of one bill through the task queue,
        twice, the report tried before the tasks ran"""
        pool = Pool()
        BillRun = pool.get('water.bill.run')
        BillRunReport = pool.get('water.bill.run', type='report')
        Attachment = pool.get('ir.attachment')
        Queue = pool.get('ir.queue')
        with patch.object(bill_run, 'PRINT_CHUNK', 1):
            for _ in range(2):
                BillRun.print_bills([run])
                tasks = Queue.search([('finished_at', '=', None)],
                    order=[('id', 'ASC')])
                cls.print_tasks = [(t.data['method'], t.data['args'][0])
                    for t in tasks]
                try:
                    BillRunReport.execute([run.id], {})
                except BillRunPrintError as exception:
                    cls.not_printed = exception.message
                for task in tasks:
                    task.run()
            cls.attachments = [a.name for a in Attachment.search(
                    [('resource', '=', str(run))], order=[('name', 'ASC')])]
            _, cls.chunked_pdf, _, _ = BillRunReport.execute(
                [run.id], {'model': 'water.bill.run'})

    def assertInText(self, fragment):
        "fragment is printed, white space aside (it moves where the "
        "direction changes)"
        self.assertIn(''.join(extracted(fragment)),
            ''.join(extracted(self.text)))

    def assertOnALine(self, *texts):
        "texts are printed side by side on a line, from left to right"
        self.assertRegex(self.text, on_a_line(*texts))

    def test_pdf(self):
        "The bill is a one-page PDF with the Vazirmatn font embedded"
        self.assertTrue(self.pdf.startswith(b'%PDF-'))
        self.assertEqual(page_count(self.pdf), 1)
        fonts = pdf_command('pdffonts', self.pdf)
        names = re.findall(r'^\w+\+(\S+)\s.*\byes\b', fonts, re.M)
        self.assertEqual(sorted(names), ['Vazirmatn', 'Vazirmatn-Bold'])

    def test_header_and_subscriber(self):
        "The company, the title, the subscriber and the parcel"
        for fragment in [COMPANY, "صورتحساب فروش آب", "شماره اشتراک",
                fa('1421'), "کد جغرافیایی", fa('1900420071'), "نام مشترک",
                "حسین رضایی", "منطقه", "دهکده زیتون", "نشانی",
                "قطعه " + fa('420/71'), "کاربری", "تعداد واحد",
                "شماره بدنه کنتور", 'ZT-1421']:
            with self.subTest(fragment=fragment):
                self.assertInText(fragment)

    def test_period(self):
        "Jalali dates, meter values, days, consumption and average"
        self.assertOnALine("میانگین مصرف ماهانه (مترمکعب)",
            "مصرف دوره (مترمکعب)", "مدت دوره (روز)", "شماره کنتور",
            "تاریخ قرائت")
        self.assertOnALine(fa('23') + '\u066b' + fa('28'), fa('45'),
            fa('58'))
        self.assertOnALine(fa('175'), fa('1397/06/03'), "قرائت قبلی")
        self.assertOnALine(fa('220'), fa('1397/07/30'), "قرائت فعلی")

    def test_lines(self):
        "Each line by its Persian name with its amount in Persian digits"
        for name, amount in [("آب بها", '193,500'), ("آبونمان", '46,400'),
                ("کارمزد دفع فاضلاب", '0'),
                ("جبران بخشی از هزینه خدمات", '92,510'),
                ("عوارض", '9,972'), ("مالیات", '19,945'),
                ("مبلغ دوره جاری", '362,327')]:
            with self.subTest(line=name):
                self.assertOnALine(fa(amount.replace(',', '\u066c')), name)

    def test_debt_and_payable(self):
        "Current bill, previous debt, total debt and the payable amount"
        self.assertOnALine(fa('362\u066c344') + "ریال", "کل بدهی",
            fa('17') + "ریال", "بدهی قبلی",
            fa('362\u066c327') + "ریال", "مبلغ دوره جاری")
        self.assertOnALine(fa('362\u066c000') + "ریال", "مبلغ قابل پرداخت")

    def test_amount_in_words(self):
        "The payable amount in Persian words, in rials"
        self.assertInText("به حروف: سیصد و شصت و دو هزار ریال")

    def test_ids(self):
        "The bill ID, payment ID and the barcode's 26 digits"
        self.assertTrue(self.latest['bill_id'])
        self.assertTrue(self.latest['payment_id'])
        self.assertEqual(
            billid.check(self.latest['bill_id'], self.latest['payment_id'])
            .amount, 362000)
        for label, value in [("شناسه قبض", self.latest['bill_id']),
                ("شناسه پرداخت", self.latest['payment_id'])]:
            with self.subTest(label=label):
                self.assertOnALine(fa(value), label)
        self.assertInText(fa(self.latest['barcode']))

    def test_history(self):
        "The periods of the subscription with consumption and amount"
        self.assertInText("سوابق مصرف")
        self.assertOnALine(fa_number(self.earlier_total), fa('35'),
            fa('1397/01/31') + "تا", fa('1397/06/03'))
        self.assertOnALine(fa('729\u066c792'), fa('22'),
            fa('1395/01/29') + "تا", fa('1395/10/06'))
        self.assertOnALine(fa('362\u066c327'), fa('45'),
            fa('1397/06/03') + "تا", fa('1397/07/30'))
        self.assertInText("میانگین مصرف ماهانه هر دوره")

    def test_run(self):
        "A bill run prints its bills, one per page, by subscription number"
        self.assertEqual(page_count(self.run_pdf), 2)
        first, second = (pdf_text(self.run_pdf, p) for p in [1, 2])
        self.assertIn("مریم کاظمی", first)
        self.assertIn(fa('987'), first)
        self.assertIn("حسین رضایی", second)
        self.assertNotIn("حسین رضایی", first)

    def test_run_in_chunks(self):
        """A run bigger than a print chunk is rendered by the task queue, a
        PDF per chunk attached to the run, which the report merges"""
        self.assertEqual(self.print_tasks, [
                ('print_chunk', 'bills-0001-of-0002.pdf'),
                ('print_chunk', 'bills-0002-of-0002.pdf')])
        self.assertIn("are not printed yet", self.not_printed)
        # printed twice: the files of the first time are replaced
        self.assertEqual(self.attachments,
            ['bills-0001-of-0002.pdf', 'bills-0002-of-0002.pdf'])
        self.assertEqual(page_count(self.chunked_pdf), 2)
        self.assertIn("مریم کاظمی", pdf_text(self.chunked_pdf, 1))
        self.assertIn("حسین رضایی", pdf_text(self.chunked_pdf, 2))

    def test_render_pdf(self):
        "The renderer of the portal prints bills in the order given"
        self.assertEqual(page_count(self.two_pdf), 2)
        self.assertIn("حسین رضایی", pdf_text(self.two_pdf, 1))
        self.assertIn("مریم کاظمی", pdf_text(self.two_pdf, 2))

    def test_report_name(self):
        "The file is named after the report and the bill"
        self.assertTrue(self.name.startswith("Water Bill-1421 "))


class BillPrintTestCase(unittest.TestCase):
    "Test the helpers of the printed bill"

    def test_fa_number(self):
        self.assertEqual(fa_number(Decimal('362344')), '۳۶۲٬۳۴۴')
        self.assertEqual(fa_number(Decimal('23.275'), 2), '۲۳٫۲۸')
        self.assertEqual(fa_number(0), '۰')

    def test_amount_in_words(self):
        self.assertEqual(amount_in_words(Decimal('362000')),
            "سیصد و شصت و دو هزار ریال")
        self.assertEqual(amount_in_words(0), "صفر ریال")

    def test_barcode(self):
        "The barcode encodes the digits as Code 128 bars"
        import barcode
        code = '11177532001400000012070160'
        svg = barcode_svg(code)
        self.assertTrue(svg.startswith('<svg'))
        modules = barcode.get('code128')(code).build()[0]
        # one rect for the background, one per run of dark modules
        bars = len(re.findall(r'1+', modules))
        self.assertEqual(svg.count('<rect'), bars + 1)
        self.assertNotIn('<text', svg)

    def test_chart(self):
        "One bar per period, the billed one highlighted, values labelled"
        rows = [{'label': '۱۳۹۷/۰۶', 'average': Decimal('8.27')},
            {'label': '۱۳۹۷/۰۷', 'average': Decimal('23.28')}]
        svg = consumption_chart(rows)
        self.assertEqual(svg.count('<rect'), 2)
        self.assertEqual(svg.count('#0b5e8e'), 1)
        self.assertIn('۲۳٫۳', svg)
        self.assertIn('۱۳۹۷/۰۶', svg)
