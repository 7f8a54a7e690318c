# This file is part of the water utility modules.
"""The customer portal through its routes: login, sessions, one-time
codes, dashboard, profile, announcements, and that a subscriber reaches
nothing of another."""
import datetime as dt
import re
from decimal import Decimal
from http import HTTPStatus
from unittest.mock import patch

from trytond import backend, config
from trytond.exceptions import UserError
from trytond.modules.company.tests import create_company
from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME, RouteTestCase
from trytond.transaction import Transaction

from . import set_water

PASSWORD = 'blue-water-1421'
OTHER_PASSWORD = 'green-river-2001'
PDF = b'%PDF-1.4\n% demo\n%%EOF\n'
PERSIAN_DIGITS = re.compile('[۰-۹]')


def csrf(response):
    "The CSRF token of the first form of a page"
    match = re.search(r'name="csrf_token" value="([^"]+)"', response.text)
    return match.group(1) if match else None


def hidden(response, name):
    match = re.search(rf'name="{name}" value="([^"]*)"', response.text)
    return match.group(1) if match else None


class PortalTestCase(RouteTestCase):
    "Test the customer portal"
    module = 'water_crm'
    ids = {}

    @classmethod
    def setUpClass(cls):
        set_water('database', DB_NAME)
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        config.set('water', 'database', '')

    @classmethod
    def setUpDatabase(cls):
        pool = Pool()
        Zone = pool.get('water.zone')
        Parcel = pool.get('water.parcel')
        Connection = pool.get('water.connection')
        Subscription = pool.get('water.subscription')
        Party = pool.get('party.party')
        User = pool.get('web.user')
        Announcement = pool.get('water.announcement')
        ModelData = pool.get('ir.model.data')
        Date = pool.get('ir.date')

        company = create_company()
        today = Date.today()
        with Transaction().set_context(company=company.id):
            zitoun, sample = Zone.create([
                    {'name': 'دهکده زیتون', 'company': company.id},
                    {'name': 'دهکده نمونه', 'company': company.id},
                    ])
            usage = ModelData.get_id('water_crm', 'usage_residential_villa')
            parties = Party.create([
                    {'name': 'حسین رضایی', 'contact_mechanisms': [
                            ('create', [{
                                        'type': 'mobile',
                                        'value': '09121234567'}])]},
                    {'name': 'مریم کریمی', 'contact_mechanisms': [
                            ('create', [{
                                        'type': 'mobile',
                                        'value': '09120000002'}])]},
                    {'name': 'سارا نوری', 'contact_mechanisms': [
                            ('create', [{
                                        'type': 'mobile',
                                        'value': '09120000003'}])]},
                    {'name': 'امیر کاظمی', 'contact_mechanisms': [
                            ('create', [{
                                        'type': 'mobile',
                                        'value': '09125555555'}])]},
                    {'name': 'لیلا کاظمی', 'contact_mechanisms': [
                            ('create', [{
                                        'type': 'mobile',
                                        'value': '09125555555'}])]},
                    {'name': 'نرگس صادقی', 'contact_mechanisms': [
                            ('create', [{
                                        'type': 'mobile',
                                        'value': '09120000006'}])]},
                    ])
            hossein, maryam, sara, amir, leila, narges = parties
            rows = [
                ('1421', hossein, zitoun, '1900420071', '420/71',
                    'قطعه 420/71'),
                ('1422', hossein, zitoun, '1900420072', '420/72', None),
                ('2001', maryam, sample, '1900500001', '100/1',
                    'دهکده نمونه، قطعه 100/1'),
                ('2002', sara, sample, '1900500002', '100/2', None),
                ('2003', amir, sample, '1900500003', '100/3', None),
                ('2004', leila, sample, '1900500004', '100/4', None),
                ('2005', narges, sample, '1900500005', '100/5', None),
                ]
            parcels = Parcel.create([{
                        'number': number,
                        'geographic_code': code,
                        'zone': zone.id,
                        'company': company.id,
                        'land_area': Decimal('478.50'),
                        'building_area': Decimal('100.00'),
                        'address': address,
                        } for _, _, zone, code, number, address in rows])
            connections = Connection.create([{
                        'parcel': parcel.id,
                        'company': company.id,
                        'diameter': '1/2',
                        'usage': usage,
                        'housing_units': 1,
                        } for parcel in parcels])
            subscriptions = Subscription.create([{
                        'number': row[0],
                        'party': row[1].id,
                        'connection': connection.id,
                        'company': company.id,
                        'start_date': dt.date(2016, 4, 17),
                        } for row, connection in zip(rows, connections)])
            users = User.create([
                    {'party': hossein.id}, {'party': maryam.id},
                    {'party': sara.id}, {'party': amir.id},
                    {'party': leila.id}, {'party': narges.id},
                    ])
            User.write([users[0]], {
                    'password_hash': User.hash_password(PASSWORD)})
            User.write([users[1], users[3], users[4], users[5]], {
                    'password_hash': User.hash_password(OTHER_PASSWORD)})
            day = dt.timedelta(days=1)
            announcements = Announcement.create([
                    {'title': 'Public notice', 'kind': 'notice',
                        'publish_date': today - day, 'body': 'Line 1421'},
                    {'title': 'Future notice', 'kind': 'notice',
                        'publish_date': today + day},
                    {'title': 'Expired notice', 'kind': 'notice',
                        'publish_date': today - 10 * day,
                        'expire_date': today - day},
                    {'title': 'Zitoun schedule', 'kind': 'schedule',
                        'publish_date': today,
                        'zones': [('add', [zitoun.id])]},
                    {'title': 'Sample schedule', 'kind': 'schedule',
                        'publish_date': today,
                        'zones': [('add', [sample.id])]},
                    {'title': 'Application form', 'kind': 'form',
                        'publish_date': today, 'document': PDF,
                        'document_name': 'form.pdf'},
                    {'title': 'Future form', 'kind': 'form',
                        'publish_date': today + day, 'document': PDF,
                        'document_name': 'future.pdf'},
                    {'title': 'Sample rules', 'kind': 'rules',
                        'publish_date': today, 'document': PDF,
                        'document_name': 'rules.pdf',
                        'zones': [('add', [sample.id])]},
                    ])
        cls.ids = {
            'subscriptions': {s.number: s.id for s in subscriptions},
            'users': [u.id for u in users],
            'parties': [p.id for p in parties],
            'announcements': {a.title: a.id for a in announcements},
            }

    def setUp(self):
        super().setUp()
        patcher = patch('trytond.modules.water_crm.portal_user.sleep')
        self.sleep = patcher.start()
        self.addCleanup(patcher.stop)
        with Transaction().start(DB_NAME, 0):
            Attempt = Pool().get('web.user.authenticate.attempt')
            Attempt.delete(Attempt.search([]))

    def subscription_id(self, number):
        return self.ids['subscriptions'][number]

    def login(self, identifier='1421', password=PASSWORD, client=None):
        client = client or self.client()
        form = client.get('/portal/login')
        response = client.post('/portal/login', data={
                'csrf_token': csrf(form),
                'identifier': identifier,
                'password': password,
                })
        return client, response

    def logged_in(self, identifier='1421', password=PASSWORD):
        client, response = self.login(identifier, password)
        self.assertEqual(response.status_code, HTTPStatus.SEE_OTHER)
        return client

    def session_key(self, client):
        cookie = client.get_cookie('water_portal', path='/portal')
        return cookie.value if cookie else None

    def sms(self, mobile):
        "Bodies of the SMS sent to mobile, the latest first"
        with Transaction().start(DB_NAME, 0):
            Sms = Pool().get('water.sms')
            return [s.body for s in Sms.search(
                    [('mobile', '=', mobile)],
                    order=[('id', 'DESC')])]

    def code(self, mobile):
        return re.search(r'[0-9]{6}', self.sms(mobile)[0]).group(0)

    def test_home_persian_structure(self):
        "Home is Persian, right to left, with the public announcements"
        response = self.client().get('/portal/')

        self.assertEqual(response.status_code, HTTPStatus.OK)
        self.assertIn('<html lang="fa" dir="rtl">', response.text)
        self.assertIn('Vazirmatn', response.text)
        self.assertIn('Public notice', response.text)
        self.assertIn('Application form', response.text)
        self.assertIn('۱۴۲۱', response.text)
        policy = response.headers['Content-Security-Policy']
        self.assertIn("default-src 'self'", policy)
        self.assertIn("form-action 'self';", policy + ';')
        self.assertNotIn('unsafe-inline', policy)
        self.assertNotIn(' style="', response.text)
        for title in ['Future notice', 'Expired notice', 'Zitoun schedule',
                'Sample schedule', 'Future form', 'Sample rules']:
            self.assertNotIn(title, response.text)

    def test_company_name(self):
        "Pages show the company's name, a new name as soon as it changes"
        with Transaction().start(DB_NAME, 0):
            Company = Pool().get('company.company')
            company, = Company.search([])
            party_id, name = company.party.id, company.party.name
        client = self.client()
        self.assertIn(name, client.get('/portal/').text)

        def rename(new):
            with Transaction().start(DB_NAME, 0) as transaction:
                Party = Pool().get('party.party')
                Party.write([Party(party_id)], {'name': new})
                transaction.commit()
        rename('آبفای دهکده')
        self.addCleanup(rename, name)

        text = client.get('/portal/').text
        self.assertIn('آبفای دهکده', text)
        self.assertNotIn(name, text)

    def test_home_zone_announcements(self):
        "A logged-in subscriber sees the announcements of his zones only"
        client = self.logged_in()
        response = client.get('/portal/')

        self.assertIn('Zitoun schedule', response.text)
        self.assertNotIn('Sample schedule', response.text)
        self.assertNotIn('Sample rules', response.text)
        self.assertIn('Public notice', response.text)
        self.assertEqual(response.headers['Cache-Control'], 'no-store')

    def test_document_download(self):
        "A published document downloads; others answer 404"
        ids = self.ids['announcements']
        client = self.client()

        response = client.get(
            f'/portal/announcements/{ids["Application form"]}/document')
        self.assertEqual(response.status_code, HTTPStatus.OK)
        self.assertEqual(response.data, PDF)
        self.assertEqual(response.mimetype, 'application/pdf')
        self.assertTrue(response.headers['Content-Disposition'].startswith(
                'attachment'))

        for title in ['Future form', 'Sample rules', 'Public notice']:
            with self.subTest(title=title):
                response = client.get(
                    f'/portal/announcements/{ids[title]}/document')
                self.assertEqual(response.status_code, HTTPStatus.NOT_FOUND)
                self.assertNotIn(PDF, response.data)
                self.assertIn('lang="fa"', response.text)

    def test_document_of_zone(self):
        "A subscriber of a zone downloads its documents, others do not"
        rules = self.ids['announcements']['Sample rules']
        url = f'/portal/announcements/{rules}/document'

        response = self.logged_in().get(url)
        self.assertEqual(response.status_code, HTTPStatus.NOT_FOUND)

        response = self.logged_in('2001', OTHER_PASSWORD).get(url)
        self.assertEqual(response.status_code, HTTPStatus.OK)
        self.assertEqual(response.data, PDF)

    def test_login_subscription_number(self):
        "Login by subscription number, in Persian digits too"
        client, response = self.login('۱۴۲۱')

        self.assertEqual(response.status_code, HTTPStatus.SEE_OTHER)
        self.assertEqual(response.location, '/portal/dashboard')
        cookie = [h for h in response.headers.getlist('Set-Cookie')
            if h.startswith('water_portal=')][0]
        for flag in ['HttpOnly', 'Secure', 'SameSite=Lax', 'Path=/portal']:
            self.assertIn(flag, cookie)
        with Transaction().start(DB_NAME, 0):
            Session = Pool().get('web.user.session')
            session, = Session.search(
                [('key', '=', self.session_key(client))])
            self.assertEqual(session.user.id, self.ids['users'][0])

    def test_login_mobile(self):
        "Login by mobile number written in any usual way"
        for mobile in ['09121234567', '۰۹۱۲ ۱۲۳ ۴۵۶۷', '+989121234567']:
            with self.subTest(mobile=mobile):
                _, response = self.login(mobile)
                self.assertEqual(response.status_code, HTTPStatus.SEE_OTHER)

    def test_login_shared_mobile(self):
        "A mobile of two subscribers logs in neither; their numbers do"
        _, response = self.login('09125555555', OTHER_PASSWORD)
        self.assertEqual(response.status_code, HTTPStatus.FORBIDDEN)

        _, response = self.login('2003', OTHER_PASSWORD)
        self.assertEqual(response.status_code, HTTPStatus.SEE_OTHER)

    def test_login_wrong_password(self):
        "A wrong password gives the form again with a Persian error"
        client, response = self.login('1421', 'wrong-password')

        self.assertEqual(response.status_code, HTTPStatus.FORBIDDEN)
        self.assertIn('شماره یا رمز عبور درست نیست', response.text)
        self.assertIn('value="1421"', response.text)
        self.assertNotIn('wrong-password', response.text)
        self.assertIsNone(self.session_key(client))

    def test_login_required_fields(self):
        "Empty fields are shown beside their label"
        _, response = self.login('', '')

        self.assertEqual(response.status_code, HTTPStatus.BAD_REQUEST)
        self.assertIn('id="e-identifier"', response.text)
        self.assertIn('id="e-password"', response.text)
        self.assertIn('<label for="f-identifier"', response.text)

    def test_login_lock_out(self):
        "Too many failures answer 429, even with the right password"
        max_attempt = config.getint('session', 'max_attempt', default=5)
        for _ in range(max_attempt + 1):
            _, response = self.login('2001', 'wrong-password')
            self.assertEqual(response.status_code, HTTPStatus.FORBIDDEN)
        # the same user through another number
        _, response = self.login('09120000002', 'wrong-password')
        self.assertEqual(
            response.status_code, HTTPStatus.TOO_MANY_REQUESTS)
        self.assertIn('تلاش‌های ناموفق', response.text)

        _, response = self.login('2001', OTHER_PASSWORD)
        self.assertEqual(
            response.status_code, HTTPStatus.TOO_MANY_REQUESTS)
        self.assertEqual(
            [c.args[0] for c in self.sleep.call_args_list][:3], [0, 1, 3])

    def test_login_csrf(self):
        "Login without or with a wrong CSRF token is refused"
        client = self.client()
        client.get('/portal/login')
        for token in [None, 'wrong']:
            with self.subTest(token=token):
                data = {'identifier': '1421', 'password': PASSWORD}
                if token:
                    data['csrf_token'] = token
                response = client.post('/portal/login', data=data)
                self.assertEqual(response.status_code, HTTPStatus.FORBIDDEN)
                self.assertIsNone(self.session_key(client))

    def test_login_next(self):
        "After login the subscriber goes back to the page he asked for"
        client = self.client()
        url = f'/portal/subscriptions/{self.subscription_id("1422")}'
        response = client.get(url)
        self.assertEqual(response.status_code, HTTPStatus.SEE_OTHER)
        self.assertTrue(response.location.startswith('/portal/login?next='))

        form = client.get(response.location)
        response = client.post('/portal/login', data={
                'csrf_token': csrf(form),
                'identifier': '1421',
                'password': PASSWORD,
                'next': hidden(form, 'next'),
                })
        self.assertEqual(response.location, url)

        client = self.client()
        form = client.get('/portal/login')
        response = client.post('/portal/login', data={
                'csrf_token': csrf(form),
                'identifier': '1421',
                'password': PASSWORD,
                'next': '//evil.example/portal/',
                })
        self.assertEqual(response.location, '/portal/dashboard')

    def test_dashboard_cards(self):
        "The dashboard cards show the subscription in Persian digits"
        client = self.logged_in()
        response = client.get('/portal/dashboard')
        self.assertEqual(response.status_code, HTTPStatus.SEE_OTHER)
        response = client.get(response.location)

        self.assertEqual(response.status_code, HTTPStatus.OK)
        text = response.text
        self.assertIn('<html lang="fa" dir="rtl">', text)
        for card, value in [
                ('number', '۱۴۲۱'),
                ('geographic-code', '۱۹۰۰۴۲۰۰۷۱'),
                ('name', 'حسین رضایی'),
                ('zone', 'دهکده زیتون'),
                ('address', 'قطعه ۴۲۰/۷۱'),
                ('land-area', '۴۷۸٫۵۰'),
                ('building-area', '۱۰۰٫۰۰'),
                ('start-date', '۱۳۹۵/۰۱/۲۹'),
                ]:
            with self.subTest(card=card):
                match = re.search(
                    rf'id="card-{card}">.*?class="info-value">([^<]*)<',
                    text, re.S)
                self.assertEqual(match.group(1), value)
        cards = re.findall(r'class="info-value">([^<]*)<', text)
        self.assertFalse(any(re.search('[0-9]', c) for c in cards))
        self.assertEqual(response.headers['Cache-Control'], 'no-store')

    def test_switch_subscription(self):
        "A subscriber switches between his subscriptions"
        client = self.logged_in()
        url = f'/portal/subscriptions/{self.subscription_id("1422")}'
        response = client.get(url)
        self.assertEqual(response.status_code, HTTPStatus.OK)
        self.assertIn('اشتراک ۱۴۲۱', response.text)
        self.assertIn('۱۹۰۰۴۲۰۰۷۲', response.text)

        response = client.get('/portal/dashboard')
        self.assertEqual(response.location, url)

    def test_other_subscription(self):
        "Another subscriber's subscription answers 404 without its data"
        client = self.logged_in()
        response = client.get(
            f'/portal/subscriptions/{self.subscription_id("2001")}')

        self.assertEqual(response.status_code, HTTPStatus.NOT_FOUND)
        for value in ['2001', '۲۰۰۱', 'مریم کریمی', '۱۹۰۰۵۰۰۰۰۱',
                '1900500001', 'دهکده نمونه']:
            self.assertNotIn(value, response.text)
        self.assertIn('صفحه پیدا نشد', response.text)

        response = client.get('/portal/subscriptions/999999')
        self.assertEqual(response.status_code, HTTPStatus.NOT_FOUND)
        response = client.get('/portal/dashboard')
        self.assertEqual(response.location,
            f'/portal/subscriptions/{self.subscription_id("1421")}')

    def test_not_logged_in(self):
        "Pages of subscribers send visitors to the login page"
        client = self.client()
        for url in ['/portal/dashboard', '/portal/profile',
                f'/portal/subscriptions/{self.subscription_id("1421")}']:
            with self.subTest(url=url):
                response = client.get(url)
                self.assertEqual(response.status_code, HTTPStatus.SEE_OTHER)
                self.assertTrue(response.location.startswith('/portal/login'))
                self.assertNotIn('1421', response.text)
        response = client.post('/portal/profile/password', data={
                'current': PASSWORD, 'password': 'x' * 12,
                'confirm': 'x' * 12})
        self.assertEqual(response.status_code, HTTPStatus.SEE_OTHER)

    def test_logout(self):
        "Logout ends the session on the server"
        client = self.logged_in()
        key = self.session_key(client)
        page = client.get('/portal/profile')

        response = client.post('/portal/logout', data={})
        self.assertEqual(response.status_code, HTTPStatus.FORBIDDEN)
        response = client.post('/portal/logout',
            data={'csrf_token': 'wrong'})
        self.assertEqual(response.status_code, HTTPStatus.FORBIDDEN)
        with Transaction().start(DB_NAME, 0):
            Session = Pool().get('web.user.session')
            self.assertTrue(Session.search([('key', '=', key)]))

        response = client.post('/portal/logout',
            data={'csrf_token': csrf(page)})
        self.assertEqual(response.status_code, HTTPStatus.SEE_OTHER)
        self.assertEqual(response.location, '/portal/login?out=1')
        with Transaction().start(DB_NAME, 0):
            self.assertFalse(Session.search([('key', '=', key)]))

        other = self.client()
        other.set_cookie('water_portal', key, path='/portal')
        response = other.get('/portal/dashboard')
        self.assertEqual(response.status_code, HTTPStatus.SEE_OTHER)
        self.assertTrue(response.location.startswith('/portal/login'))

    def test_idle_timeout(self):
        "A session idle for longer than the timeout has ended"
        client = self.logged_in()
        key = self.session_key(client)

        def idle(minutes):
            with Transaction().start(DB_NAME, 0) as transaction:
                Session = Pool().get('web.user.session')
                table = Session.__table__()
                when = dt.datetime.now() - dt.timedelta(minutes=minutes)
                transaction.connection.cursor().execute(*table.update(
                        [table.create_date, table.write_date],
                        [when, when], where=table.key == key))

        idle(10)
        response = client.get('/portal/profile')
        self.assertEqual(response.status_code, HTTPStatus.OK)
        with Transaction().start(DB_NAME, 0):
            Session = Pool().get('web.user.session')
            session, = Session.search([('key', '=', key)])
            self.assertLess(dt.datetime.now() - session.last_modified_at,
                dt.timedelta(minutes=1))

        idle(31)
        response = client.get('/portal/profile')
        self.assertEqual(response.status_code, HTTPStatus.SEE_OTHER)
        self.assertIn('expired=1', response.location)
        with Transaction().start(DB_NAME, 0):
            self.assertFalse(Session.search([('key', '=', key)]))
        response = client.get(response.location)
        self.assertIn('نشست شما', response.text)

    def test_first_access(self):
        "First access: a code by SMS, then a password, then logged in"
        client = self.client()
        form = client.get('/portal/password')
        response = client.post('/portal/password', data={
                'csrf_token': csrf(form), 'identifier': '۲۰۰۲'})
        self.assertEqual(response.status_code, HTTPStatus.OK)
        key = hidden(response, 'key')
        code = self.code('09120000003')

        answer = client.post('/portal/password/set', data={
                'csrf_token': csrf(response), 'key': key, 'code': code,
                'password': 'short', 'confirm': 'short'})
        self.assertEqual(answer.status_code, HTTPStatus.BAD_REQUEST)
        self.assertIn('id="e-password"', answer.text)

        answer = client.post('/portal/password/set', data={
                'csrf_token': csrf(response), 'key': key,
                'code': ''.join('۰۱۲۳۴۵۶۷۸۹'[int(d)] for d in code),
                'password': 'my new long password',
                'confirm': 'my new long password'})
        self.assertEqual(answer.status_code, HTTPStatus.SEE_OTHER)
        self.assertEqual(answer.location, '/portal/dashboard')
        self.assertTrue(self.session_key(client))

        # the code is spent
        answer = client.post('/portal/password/set', data={
                'csrf_token': csrf(response), 'key': key, 'code': code,
                'password': 'another long password',
                'confirm': 'another long password'})
        self.assertEqual(answer.status_code, HTTPStatus.BAD_REQUEST)

        _, response = self.login('09120000003', 'my new long password')
        self.assertEqual(response.status_code, HTTPStatus.SEE_OTHER)

    def test_code_attempts(self):
        "A code is void after too many wrong entries"
        client = self.client()
        form = client.get('/portal/password')
        response = client.post('/portal/password', data={
                'csrf_token': csrf(form), 'identifier': '2004'})
        key = hidden(response, 'key')
        code = self.code('09125555555')
        wrong = f'{(int(code) + 1) % 10 ** 6:06d}'
        data = {'csrf_token': csrf(response), 'key': key,
            'password': 'a long new password',
            'confirm': 'a long new password'}
        for _ in range(5):
            answer = client.post('/portal/password/set',
                data={**data, 'code': wrong})
            self.assertEqual(answer.status_code, HTTPStatus.BAD_REQUEST)
            self.assertIn('کد نادرست است', answer.text)
        answer = client.post('/portal/password/set',
            data={**data, 'code': code})
        self.assertEqual(answer.status_code, HTTPStatus.BAD_REQUEST)
        self.assertIsNone(self.session_key(client))

    def test_code_expired(self):
        "An expired code does not set the password"
        client = self.client()
        form = client.get('/portal/password')
        response = client.post('/portal/password', data={
                'csrf_token': csrf(form), 'identifier': '2003'})
        key = hidden(response, 'key')
        code = self.code('09125555555')
        with Transaction().start(DB_NAME, 0):
            Code = Pool().get('water.portal.code')
            records = Code.search([('key', '=', key)])
            Code.write(records, {
                    'expire': dt.datetime.now() - dt.timedelta(seconds=1)})

        answer = client.post('/portal/password/set', data={
                'csrf_token': csrf(response), 'key': key, 'code': code,
                'password': 'a long new password',
                'confirm': 'a long new password'})
        self.assertEqual(answer.status_code, HTTPStatus.BAD_REQUEST)

    def test_code_interval(self):
        "Codes are not sent again within a minute"
        client = self.client()
        form = client.get('/portal/password')
        data = {'csrf_token': csrf(form), 'identifier': '1422'}
        response = client.post('/portal/password', data=data)
        self.assertEqual(response.status_code, HTTPStatus.OK)
        response = client.post('/portal/password', data=data)
        self.assertEqual(
            response.status_code, HTTPStatus.TOO_MANY_REQUESTS)
        self.assertEqual(len(self.sms('09121234567')), 1)

        # asking for a code changes nothing until it is entered
        _, response = self.login('1421', PASSWORD)
        self.assertEqual(response.status_code, HTTPStatus.SEE_OTHER)

    def test_password_request_unknown(self):
        "An unknown number gets the same answer and no SMS"
        client = self.client()
        form = client.get('/portal/password')
        response = client.post('/portal/password', data={
                'csrf_token': csrf(form), 'identifier': '09129999999'})

        self.assertEqual(response.status_code, HTTPStatus.OK)
        self.assertTrue(hidden(response, 'key'))
        self.assertEqual(self.sms('09129999999'), [])

    def test_change_password(self):
        "Changing the password needs the current one and the CSRF token"
        client = self.logged_in('2001', OTHER_PASSWORD)
        other = self.logged_in('2001', OTHER_PASSWORD)
        page = client.get('/portal/profile')
        new = 'a brand new password'

        response = client.post('/portal/profile/password', data={
                'current': OTHER_PASSWORD, 'password': new, 'confirm': new})
        self.assertEqual(response.status_code, HTTPStatus.FORBIDDEN)

        response = client.post('/portal/profile/password', data={
                'csrf_token': csrf(page), 'current': 'wrong',
                'password': new, 'confirm': new})
        self.assertEqual(response.status_code, HTTPStatus.BAD_REQUEST)
        self.assertIn('رمز عبور کنونی درست نیست', response.text)

        _, response = self.login('2001', new)
        self.assertEqual(response.status_code, HTTPStatus.FORBIDDEN)

        response = client.post('/portal/profile/password', data={
                'csrf_token': csrf(page), 'current': OTHER_PASSWORD,
                'password': new, 'confirm': new})
        self.assertEqual(response.status_code, HTTPStatus.SEE_OTHER)

        self.assertEqual(
            client.get('/portal/profile').status_code, HTTPStatus.OK)
        self.assertEqual(
            other.get('/portal/profile').status_code, HTTPStatus.SEE_OTHER)
        _, response = self.login('2001', new)
        self.assertEqual(response.status_code, HTTPStatus.SEE_OTHER)

        with Transaction().start(DB_NAME, 0):
            User = Pool().get('web.user')
            user = User(self.ids['users'][1])
            user.password_hash = User.hash_password(OTHER_PASSWORD)
            user.save()

    def test_change_mobile(self):
        "A new mobile must be free and needs the password and CSRF token"
        client = self.logged_in('1421')
        page = client.get('/portal/profile')

        response = client.post('/portal/profile/mobile', data={
                'csrf_token': csrf(page), 'mobile': '09120000002',
                'current': PASSWORD})
        self.assertEqual(response.status_code, HTTPStatus.BAD_REQUEST)
        self.assertIn('مشترک دیگری', response.text)
        self.assertIn('value="09120000002"', response.text)

        response = client.post('/portal/profile/mobile', data={
                'csrf_token': csrf(page), 'mobile': '0913',
                'current': 'wrong'})
        self.assertEqual(response.status_code, HTTPStatus.BAD_REQUEST)
        self.assertIn('id="e-mobile-mobile"', response.text)
        self.assertIn('id="e-mobile-current"', response.text)
        self.assertNotIn('id="e-current"', response.text)
        self.assertEqual(self.sms('0913'), [])

        response = client.post('/portal/profile/mobile', data={
                'csrf_token': csrf(page), 'mobile': '۰۹۱۳۰۰۰۰۰۰۱',
                'current': PASSWORD})
        self.assertEqual(response.status_code, HTTPStatus.OK)
        code = self.code('09130000001')

        response = client.post('/portal/profile/mobile/confirm', data={
                'key': hidden(response, 'key'), 'code': code})
        self.assertEqual(response.status_code, HTTPStatus.FORBIDDEN)
        with Transaction().start(DB_NAME, 0):
            Party = Pool().get('party.party')
            party = Party(self.ids['parties'][0])
            self.assertEqual(party.mobile, '09121234567')

    def test_change_mobile_confirm(self):
        "The confirmed mobile replaces the old one, who is told by SMS"
        client = self.logged_in('2005', OTHER_PASSWORD)
        page = client.get('/portal/profile')
        response = client.post('/portal/profile/mobile', data={
                'csrf_token': csrf(page), 'mobile': '09130000004',
                'current': OTHER_PASSWORD})
        key = hidden(response, 'key')
        code = self.code('09130000004')

        response = client.post('/portal/profile/mobile/confirm', data={
                'csrf_token': csrf(page), 'key': key, 'code': code})
        self.assertEqual(response.status_code, HTTPStatus.SEE_OTHER)
        self.assertEqual(response.location, '/portal/profile?done=mobile')

        with Transaction().start(DB_NAME, 0):
            Party = Pool().get('party.party')
            party = Party(self.ids['parties'][5])
            self.assertEqual(party.mobile, '09130000004')
        self.assertIn('۰۹۱۳۰۰۰۰۰۰۴', client.get('/portal/profile').text)
        self.assertIn('0913***0004', self.sms('09120000006')[0])
        _, response = self.login('09130000004', OTHER_PASSWORD)
        self.assertEqual(response.status_code, HTTPStatus.SEE_OTHER)

    def test_unknown_page(self):
        "Unknown portal addresses give a Persian page naming nothing"
        client = self.client()
        for url in ['/portal/nothing', '/portal/subscriptions/abc']:
            with self.subTest(url=url):
                response = client.get(url)
                self.assertEqual(response.status_code, HTTPStatus.NOT_FOUND)
                self.assertIn('lang="fa"', response.text)
                self.assertNotIn('Traceback', response.text)
                self.assertNotIn('werkzeug', response.text.lower())

    def test_database_not_listed(self):
        "The configured database serves even when the listing misses it"
        client = self.client()
        # a listing whose connection test failed once for the database
        Pool.stop(DB_NAME)
        with patch.object(backend.Database, 'list', return_value=[]):
            response = client.get('/portal/login')
        self.assertEqual(response.status_code, HTTPStatus.OK)
        self.assertIn(DB_NAME, Pool.database_list())

    def test_database_missing(self):
        "A configured database that is not there: a Persian 503"
        client = self.client()
        config.set('water', 'database', 'water_no_such_database')
        try:
            response = client.get('/portal/login')
        finally:
            config.set('water', 'database', DB_NAME)
        self.assertEqual(
            response.status_code, HTTPStatus.SERVICE_UNAVAILABLE)
        self.assertIn('lang="fa"', response.text)
        self.assertNotIn('water_no_such_database', response.text)

    def test_give_portal_access(self):
        "Staff give portal access: a login and an SMS, never two logins"
        with Transaction().start(DB_NAME, 0) as transaction:
            pool = Pool()
            Party = pool.get('party.party')
            User = pool.get('web.user')
            Sms = pool.get('water.sms')
            party, nobody = Party.create([{
                        'name': 'بهرام یزدانی',
                        'contact_mechanisms': [('create', [{
                                        'type': 'mobile',
                                        'value': '09350000007'}])]},
                    {'name': 'No Mobile'}])
            Party.give_portal_access([party])
            Party.give_portal_access([party])
            users = User.search([('party', '=', party.id)])
            self.assertEqual(len(users), 1)
            User.write(users, {'active': False})
            Party.give_portal_access([party])
            self.assertEqual(User.search([('party', '=', party.id)]), users)

            messages = Sms.search([('mobile', '=', '09350000007')])
            self.assertEqual(len(messages), 3)
            self.assertIn('/portal/', messages[0].body)
            self.assertEqual(messages[0].party, party)

            with self.assertRaises(UserError):
                Party.give_portal_access([nobody])
            transaction.rollback()
