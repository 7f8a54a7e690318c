# This file is part of the water utility modules.
"""The billing pages of the customer portal through their routes: the
water-sales history, the latest bill, its print, bills by id, and the
self-declared reading; a subscriber reaches nothing of another."""
import io
import os
import re
from http import HTTPStatus
from unittest.mock import patch

from trytond import config
from trytond.modules.water_crm.cli import learn
from trytond.modules.water_crm.tests import set_water
from trytond.modules.company.tests import create_company, set_company
from trytond.modules.water_crm import jalali
from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME, RouteTestCase
from trytond.transaction import Transaction, TransactionError

from ..bill_report import font_dir
from .test_bill_report import (
    ROOT, SEED_READINGS, bill_readings, carry_debt, create_billing,
    create_subscription)

PASSWORD = 'blue-water-1421'
OTHER_PASSWORD = 'green-river-2001'
PNG = b'\x89PNG\r\n\x1a\n' + b'\x00' * 64
JPEG = b'\xff\xd8\xff\xe0' + b'\x00' * 64
GIF = b'GIF89a' + b'\x00' * 64
# The totals of 1421's bills (MISSION.md and the engine's history)
TOTALS = ['۳۶۲٬۳۲۷', '۴۹۵٬۵۸۵', '۷۲۹٬۷۹۲']


def fa(text):
    return jalali.to_persian_digits(text)


def csrf(response):
    match = re.search(r'name="csrf_token" value="([^"]+)"', response.text)
    return match.group(1) if match else None


class PortalBillingTestCase(RouteTestCase):
    "Test the billing pages of the customer portal"
    module = 'water_billing'
    ids = {}

    @classmethod
    def setUpClass(cls):
        set_water('database', DB_NAME)
        if not os.path.isfile(
                os.path.join(font_dir(), 'Vazirmatn-Regular.ttf')):
            set_water('font_dir', os.path.join(ROOT, 'web', 'node_modules',
                    'vazirmatn', 'fonts', 'ttf'))
        # RouteTestCase's set-up without its transaction: creating the
        # chart locks tables, which restarts the transaction
        super(RouteTestCase, cls).setUpClass()
        extras = {}
        while True:
            with Transaction().start(DB_NAME, 1, **extras) as transaction:
                try:
                    cls.setUpDatabase()
                except TransactionError as exception:
                    transaction.rollback()
                    learn(exception, extras)
                    continue
                transaction.commit()
                break

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        config.set('water', 'database', '')

    @classmethod
    def setUpDatabase(cls):
        pool = Pool()
        Zone = pool.get('water.zone')
        Bill = pool.get('water.bill')
        User = pool.get('web.user')
        company = create_company()
        with set_company(company):
            create_billing(company)
            zone = Zone(name="دهکده زیتون", company=company)
            zone.save()
            s1421 = create_subscription(company, zone, '1421',
                '1900420071', '420/71', "حسین رضایی", 'ZT-1421', 98)
            bills = bill_readings(s1421, SEED_READINGS)
            carry_debt(bills[-1], 17)
            s2001 = create_subscription(company, zone, '2001',
                '1900310052', '310/52', "مریم کاظمی", 'ZT-2001', 500)
            other, = bill_readings(s2001, [('1397/07/30', 530)])
            # posting needs fiscal years; the portal shows posted bills
            Bill.write(bills + [other], {'state': 'posted'})
            users = User.create([
                    {'party': s1421.party.id,
                        'password_hash': User.hash_password(PASSWORD)},
                    {'party': s2001.party.id,
                        'password_hash': User.hash_password(
                            OTHER_PASSWORD)},
                    ])
        cls.ids = {
            'subscriptions': {'1421': s1421.id, '2001': s2001.id},
            'bills': [b.id for b in bills],
            'other_bill': other.id,
            'users': [u.id for u in users],
            }

    def setUp(self):
        super().setUp()
        patcher = patch('trytond.modules.water_crm.portal_user.sleep')
        patcher.start()
        self.addCleanup(patcher.stop)
        with Transaction().start(DB_NAME, 0):
            Attempt = Pool().get('web.user.authenticate.attempt')
            Attempt.delete(Attempt.search([]))

    def tearDown(self):
        # each test declares its own readings
        with Transaction().start(DB_NAME, 0) as transaction:
            Reading = Pool().get('water.reading')
            Reading.delete(Reading.search([('kind', '=', 'self')]))
            transaction.commit()
        super().tearDown()

    def logged_in(self, identifier='1421', password=PASSWORD):
        client = self.client()
        form = client.get('/portal/login')
        response = client.post('/portal/login', data={
                'csrf_token': csrf(form),
                'identifier': identifier,
                'password': password,
                })
        self.assertEqual(response.status_code, HTTPStatus.SEE_OTHER)
        return client

    def subscription(self, number='1421'):
        return self.ids['subscriptions'][number]

    def latest(self):
        return self.ids['bills'][-1]

    def self_readings(self):
        with Transaction().start(DB_NAME, 0):
            Reading = Pool().get('water.reading')
            return [(r.value, r.state, bytes(r.photo or b''))
                for r in Reading.search([('kind', '=', 'self')])]

    def test_dashboard_history(self):
        "The dashboard shows each bill of the history with its amounts"
        client = self.logged_in()
        response = client.get(f'/portal/subscriptions/{self.subscription()}')

        self.assertEqual(response.status_code, HTTPStatus.OK)
        text = response.text
        self.assertIn('سوابق فروش آب', text)
        rows = re.findall(r'<tr id="bill-row-(\d+)">(.*?)</tr>', text, re.S)
        self.assertEqual(
            [int(i) for i, _ in rows], list(reversed(self.ids['bills'])))
        latest = rows[0][1]
        # 1397/06/03 → 1397/07/30: 175 → 220, 58 days, 45 m³
        for value in ['۱۷۵', '۲۲۰', '۱۳۹۷/۰۶/۰۳', '۱۳۹۷/۰۷/۳۰', '۵۸',
                '۴۵', '۲۳٫۲۸', '۱۹۳٬۵۰۰', '۴۶٬۴۰۰', '۹۲٬۵۱۰', '۹٬۹۷۲',
                '۱۹٬۹۴۵', '۳۶۲٬۳۲۷']:
            self.assertIn(f'>{value}<', latest)
        for label in ['آب بها', 'آبونمان', 'کارمزد دفع فاضلاب',
                'جبران بخشی از هزینه خدمات', 'عوارض', 'مالیات',
                'شماره صورتحساب', 'میانگین مصرف ماهانه']:
            self.assertIn(f'>{label}</th>', text)
        for total in TOTALS:
            self.assertIn(total, text)
        # the cards, the chart and the link to the latest bill
        self.assertRegex(text,
            r'id="card-last-reading">\s*<div class="card-body">\s*'
            r'<div class="info-label">[^<]+</div>\s*'
            r'<div class="info-value">۱۳۹۷/۰۷/۳۰</div>')
        self.assertIn('<svg class="consumption-chart"', text)
        self.assertEqual(text.count('<rect '), 5)
        self.assertIn(
            f'/portal/subscriptions/{self.subscription()}/bills/latest', text)
        self.assertIsNone(re.search('[0-9]', re.sub(
                    r'<[^>]*>', '', latest)))

    def test_latest_bill(self):
        "The latest bill shows the debt, the bill, the total and Pay/Print"
        client = self.logged_in()
        response = client.get(
            f'/portal/subscriptions/{self.subscription()}/bills/latest')

        self.assertEqual(response.status_code, HTTPStatus.OK)
        text = response.text

        def item(id_):
            match = re.search(rf'id="bill-{id_}">.*?<span class="[^"]*">'
                r'[^<]*</span>\s*<span class="[^"]*">([^<]*)</span>',
                text, re.S)
            return match.group(1) if match else None
        self.assertEqual(item('previous-debt'), '۱۷')
        self.assertEqual(item('total'), '۳۶۲٬۳۲۷')
        self.assertEqual(item('total-payable'), '۳۶۲٬۳۴۴')
        self.assertEqual(item('payable'), '۳۶۲٬۰۰۰')
        self.assertEqual(item('geographic-code'), '۱۹۰۰۴۲۰۰۷۱')
        self.assertEqual(item('zone'), 'دهکده زیتون')
        self.assertEqual(item('previous-date'), '۱۳۹۷/۰۶/۰۳')
        self.assertEqual(item('current-value'), '۲۲۰')
        with Transaction().start(DB_NAME, 0):
            bill = Pool().get('water.bill')(self.latest())
            self.assertEqual(item('bill-id'), fa(bill.bill_id))
            self.assertEqual(item('payment-id'), fa(bill.payment_id))
        self.assertIn(f'href="/portal/bills/{self.latest()}/print"', text)
        self.assertRegex(text, r'<button[^>]*id="pay" disabled')
        self.assertIn('پرداخت برخط به‌زودی', text)

    def test_bills_list(self):
        "All bills are listed with their paid state, another's are not"
        client = self.logged_in()
        response = client.get(
            f'/portal/subscriptions/{self.subscription()}/bills')

        self.assertEqual(response.status_code, HTTPStatus.OK)
        for bill_id in self.ids['bills']:
            self.assertIn(f'id="bill-{bill_id}"', response.text)
        self.assertEqual(response.text.count('پرداخت‌نشده'), 5)
        self.assertNotIn(f'id="bill-{self.ids["other_bill"]}"',
            response.text)

        response = client.get(
            f'/portal/subscriptions/{self.subscription("2001")}/bills')
        self.assertEqual(response.status_code, HTTPStatus.NOT_FOUND)
        self.assertNotIn('مریم', response.text)

    def test_bill_by_id(self):
        "A bill of one's own opens; another subscriber's id gives 404"
        client = self.logged_in()
        response = client.get(f'/portal/bills/{self.ids["bills"][0]}')
        self.assertEqual(response.status_code, HTTPStatus.OK)
        self.assertIn('۷۲۹٬۷۹۲', response.text)

        for url in [f'/portal/bills/{self.ids["other_bill"]}',
                f'/portal/bills/{self.ids["other_bill"]}/print',
                f'/portal/subscriptions/{self.subscription("2001")}'
                '/bills/latest',
                f'/portal/subscriptions/{self.subscription("2001")}'
                '/reading',
                '/portal/bills/999999']:
            with self.subTest(url=url):
                response = client.get(url)
                self.assertEqual(response.status_code, HTTPStatus.NOT_FOUND)
                self.assertNotIn('مریم', response.text)
                self.assertNotIn('۱۹۰۰۳۱۰۰۵۲', response.text)
                self.assertNotIn(b'%PDF', response.data)

    def test_logged_out(self):
        "The billing pages ask for the login"
        response = self.client().get(f'/portal/bills/{self.latest()}')
        self.assertEqual(response.status_code, HTTPStatus.SEE_OTHER)
        self.assertIn('/portal/login', response.location)

    def test_print(self):
        "Print gives the PDF of one's own bill, inline"
        client = self.logged_in()
        response = client.get(f'/portal/bills/{self.latest()}/print')

        self.assertEqual(response.status_code, HTTPStatus.OK)
        self.assertEqual(response.mimetype, 'application/pdf')
        self.assertTrue(response.data.startswith(b'%PDF-'))
        self.assertTrue(response.headers['Content-Disposition'].startswith(
                'inline'))
        self.assertEqual(response.headers['Cache-Control'], 'no-store')

        other = self.logged_in('2001', OTHER_PASSWORD)
        response = other.get(f'/portal/bills/{self.latest()}/print')
        self.assertEqual(response.status_code, HTTPStatus.NOT_FOUND)
        self.assertFalse(response.data.startswith(b'%PDF'))

    def post_reading(self, client, value, photo=PNG, token=True,
            subscription=None):
        url = f'/portal/subscriptions/{subscription or self.subscription()}'\
            '/reading'
        form = client.get(url)
        data = {'value': value}
        if token:
            data['csrf_token'] = csrf(form)
        if photo is not None:
            data['photo'] = (io.BytesIO(photo), 'meter.png')
        return client.post(url, data=data,
            content_type='multipart/form-data')

    def test_reading_accepted(self):
        "A plausible value with a photo creates an accepted reading"
        client = self.logged_in()
        response = self.post_reading(client, '۲۶۰')

        self.assertEqual(response.status_code, HTTPStatus.SEE_OTHER)
        self.assertEqual(self.self_readings(), [(260, 'accepted', PNG)])
        response = client.get(response.location)
        self.assertIn('پذیرفته شد', response.text)
        self.assertIn('۲۶۰', response.text)

    def test_reading_jpeg(self):
        "A JPEG photo is accepted too"
        response = self.post_reading(self.logged_in(), '260', photo=JPEG)
        self.assertEqual(response.status_code, HTTPStatus.SEE_OTHER)
        self.assertEqual(len(self.self_readings()), 1)

    def test_reading_below_previous(self):
        "A value below the previous one is refused beside the field"
        response = self.post_reading(self.logged_in(), '210')

        self.assertEqual(response.status_code, HTTPStatus.BAD_REQUEST)
        self.assertRegex(response.text,
            r'id="e-value" class="invalid-feedback">[^<]*'
            r'کمتر از شماره قرائت پیشین \(۲۲۰\)')
        self.assertIn('value="210"', response.text)
        self.assertEqual(self.self_readings(), [])

    def test_reading_photo_type(self):
        "A photo that is no JPEG or PNG by its content is refused"
        response = self.post_reading(self.logged_in(), '260', photo=GIF)

        self.assertEqual(response.status_code, HTTPStatus.BAD_REQUEST)
        self.assertIn('id="e-photo"', response.text)
        self.assertIn('JPEG یا PNG', response.text)
        self.assertIn('value="260"', response.text)
        self.assertEqual(self.self_readings(), [])

    def test_reading_photo_required(self):
        response = self.post_reading(self.logged_in(), '260', photo=None)
        self.assertEqual(response.status_code, HTTPStatus.BAD_REQUEST)
        self.assertIn('id="e-photo"', response.text)
        self.assertEqual(self.self_readings(), [])

    def test_reading_size_limit(self):
        "A photo over the configured limit is refused"
        set_water('portal_upload_size', '1000')
        self.addCleanup(set_water, 'portal_upload_size', str(5 << 20))
        client = self.logged_in()
        response = self.post_reading(client, '260', photo=PNG + b'0' * 2000)
        self.assertEqual(response.status_code, HTTPStatus.BAD_REQUEST)
        self.assertIn('id="e-photo"', response.text)

        response = self.post_reading(
            client, '260', photo=PNG + b'0' * 100_000)
        self.assertEqual(
            response.status_code, HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
        self.assertEqual(self.self_readings(), [])

    def test_reading_csrf(self):
        "A declaration without the CSRF token is refused, nothing created"
        response = self.post_reading(self.logged_in(), '260', token=False)

        self.assertEqual(response.status_code, HTTPStatus.FORBIDDEN)
        self.assertEqual(self.self_readings(), [])

    def test_reading_other_subscription(self):
        "Nobody declares a reading of another's subscription"
        response = self.post_reading(self.logged_in(), '600',
            subscription=self.subscription('2001'))
        self.assertEqual(response.status_code, HTTPStatus.NOT_FOUND)
        self.assertEqual(self.self_readings(), [])

    def test_reading_outcome(self):
        "A doubtful value waits for the staff; the subscriber sees their word"
        client = self.logged_in()
        response = self.post_reading(client, '220')

        self.assertEqual(response.status_code, HTTPStatus.SEE_OTHER)
        self.assertEqual(self.self_readings(), [(220, 'flagged', PNG)])
        url = f'/portal/subscriptions/{self.subscription()}/reading'
        response = client.get(url)
        self.assertIn('در انتظار بررسی کارشناس', response.text)

        with Transaction().start(DB_NAME, 0) as transaction:
            Reading = Pool().get('water.reading')
            Reading.reject(Reading.search([('kind', '=', 'self')]))
            transaction.commit()
        response = client.get(url)
        self.assertIn('پذیرفته نشد', response.text)
        self.assertNotIn('در انتظار بررسی کارشناس', response.text)
