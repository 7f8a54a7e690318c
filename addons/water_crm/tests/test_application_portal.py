# This file is part of the water utility modules.
"""The connection application on the portal: the form with its checks
beside each field, the uploads checked by content with safe names, the
first access of a new applicant, the tracking page and its uploads, and
that an applicant reaches only his own applications."""
import io
import re
import unittest
from http import HTTPStatus
from unittest.mock import patch

from trytond import config
from trytond.modules.company.tests import create_company
from trytond.modules.water_crm import application_form
from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME, RouteTestCase
from trytond.transaction import Transaction

from . import set_water
from .test_portal import csrf, hidden

PASSWORD = 'blue-water-1421'
PNG = b'\x89PNG\r\n\x1a\n' + b'\x00' * 64
JPEG = b'\xff\xd8\xff\xe0' + b'\x00' * 64
PDF = b'%PDF-1.4\n% demo\n%%EOF\n'


def national_code(prefix):
    "A valid national code of 9 digits and its check digit"
    remainder = sum(int(d) * (10 - i) for i, d in enumerate(prefix)) % 11
    return prefix + str(remainder if remainder < 2 else 11 - remainder)


class FormTestCase(unittest.TestCase):
    "The checks of the form and of the files, without the database"

    def form(self, **values):
        form = {
            'first_name': "زهرا", 'last_name': "کریمی",
            'national_code': national_code('049937089'),
            'phone': '02612345678', 'mobile': '09121110001',
            'address': "کرج، دهکده زیتون", 'parcel_number': '433/12',
            'zone': '1', 'usage': '2', 'housing_units': '۲',
            }
        form.update(values)
        return application_form.clean(form, {1}, {2})

    def test_valid(self):
        values, errors = self.form(mobile='۰۹۱۲ ۱۱۱ ۰۰۰۱', email='A@B.IR')
        self.assertEqual(errors, {})
        self.assertEqual(values['mobile'], '09121110001')
        self.assertEqual(values['email'], 'a@b.ir')
        self.assertEqual(values['housing_units'], 2)
        self.assertEqual((values['zone'], values['usage']), (1, 2))

    def test_file_type_by_content(self):
        self.assertEqual(application_form.file_type(PNG),
            ('image/png', '.png'))
        self.assertEqual(application_form.file_type(JPEG),
            ('image/jpeg', '.jpg'))
        self.assertEqual(application_form.file_type(PDF),
            ('application/pdf', '.pdf'))
        self.assertIsNone(application_form.file_type(b'GIF89a'))
        self.assertIsNone(application_form.file_type(b'MZ\x90\x00'))
        self.assertEqual(application_form.check_file(PNG, 10), 'file_size')
        self.assertEqual(application_form.check_file(b'', 10), 'file_empty')

    def test_safe_filename(self):
        safe = application_form.safe_filename
        self.assertEqual(safe('../../etc/passwd.png', 'deed', PNG),
            'passwd.png')
        self.assertEqual(safe('C:\\Users\\x\\کارت ملی.jpg', 'deed', JPEG),
            'کارت ملی.jpg')
        # the content decides the extension; direction marks are dropped
        self.assertEqual(safe('scan\u202egnp.exe', 'deed', PDF),
            'scangnp.pdf')
        self.assertEqual(safe('<script>.png', 'deed', PNG), 'script.png')
        self.assertEqual(safe('....', 'deed', PNG), 'deed.png')
        self.assertEqual(safe('../.png', 'deed', PNG), 'deed.png')
        self.assertEqual(safe('scan.tar.gz', 'deed', PDF), 'scan.tar.pdf')
        self.assertEqual(safe(None, 'national_card', PDF),
            'national_card.pdf')
        self.assertEqual(len(safe('a' * 300 + '.png', 'deed', PNG)), 64)


class ApplicationPortalTestCase(RouteTestCase):
    "Test the connection application pages of the portal"
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
        Party = pool.get('party.party')
        User = pool.get('web.user')
        ModelData = pool.get('ir.model.data')
        company = create_company()
        with Transaction().set_context(company=company.id):
            zone, = Zone.create([
                    {'name': 'دهکده زیتون', 'company': company.id}])
            parties = Party.create([{
                        'name': name,
                        'national_code': code,
                        'contact_mechanisms': [('create', [{
                                        'type': 'mobile', 'value': mobile}])],
                        } for name, code, mobile in [
                        ("حسین رضایی", national_code('001234567'),
                            '09121234567'),
                        ("مریم کریمی", national_code('001234568'),
                            '09120000002'),
                        ]])
            users = User.create([{'party': p.id} for p in parties])
            User.write(users, {'password_hash': User.hash_password(PASSWORD)})
        cls.ids = {
            'zone': zone.id,
            'usage': ModelData.get_id('water_crm', 'usage_residential_villa'),
            'parties': [p.id for p in parties],
            'codes': [p.national_code for p in parties],
            }

    def setUp(self):
        super().setUp()
        patcher = patch('trytond.modules.water_crm.portal_user.sleep')
        patcher.start()
        self.addCleanup(patcher.stop)
        with Transaction().start(DB_NAME, 0):
            Attempt = Pool().get('web.user.authenticate.attempt')
            Attempt.delete(Attempt.search([]))

    def login(self, mobile='09121234567'):
        client = self.client()
        form = client.get('/portal/login')
        response = client.post('/portal/login', data={
                'csrf_token': csrf(form), 'identifier': mobile,
                'password': PASSWORD})
        self.assertEqual(response.status_code, HTTPStatus.SEE_OTHER)
        return client

    def data(self, prefix, mobile_number, **values):
        "A valid form of a new applicant"
        data = {
            'first_name': "زهرا", 'last_name': "کریمی",
            'father_name': "علی", 'birth_certificate_number': '1234',
            'national_code': national_code(prefix),
            'phone': '02612345678', 'mobile': mobile_number,
            'email': 'zahra@example.com', 'address': "کرج، دهکده زیتون",
            'postal_code': '3158713541', 'description': "ویلای دو واحدی",
            'zone': str(self.ids['zone']), 'parcel_number': '433/12',
            'usage': str(self.ids['usage']), 'housing_units': '2',
            'national_card': (io.BytesIO(PNG), 'کارت ملی.png'),
            'deed': (io.BytesIO(PDF), '../../سند.pdf'),
            }
        data.update(values)
        return data

    def post(self, client, data):
        form = client.get('/portal/applications/new')
        self.assertEqual(form.status_code, HTTPStatus.OK)
        data.setdefault('csrf_token', csrf(form))
        return client.post('/portal/applications/new', data=data,
            content_type='multipart/form-data')

    def count(self):
        "The applications, parties and attachments of the database"
        with Transaction().start(DB_NAME, 0):
            pool = Pool()
            return tuple(len(pool.get(m).search([])) for m in [
                    'water.application', 'party.party', 'ir.attachment'])

    def sms(self, mobile):
        with Transaction().start(DB_NAME, 0):
            Sms = Pool().get('water.sms')
            return [s.body for s in Sms.search(
                    [('mobile', '=', mobile)], order=[('id', 'DESC')])]

    def application(self, number):
        "The stored values of the application numbered number"
        with Transaction().start(DB_NAME, 0):
            Application = Pool().get('water.application')
            application, = Application.search([('number', '=', number)])
            return {
                'id': application.id,
                'state': application.state,
                'party': application.party.id,
                'national_code': application.party.national_code,
                'party_mobile': application.party.mobile,
                'mobile': application.mobile,
                'zone': application.zone.id,
                'units': application.housing_units,
                'documents': sorted(
                    (d.application_document, d.name, bytes(d.data))
                    for d in application.documents),
                'logs': [(l.action, l.applicant) for l in application.logs],
                }

    def test_form_page(self):
        "The form is Persian with every field, its label and today's date"
        response = self.client().get('/portal/applications/new')
        self.assertEqual(response.status_code, HTTPStatus.OK)
        self.assertIn('<html lang="fa" dir="rtl">', response.text)
        for name in ['first_name', 'last_name', 'father_name',
                'birth_certificate_number', 'national_code', 'phone',
                'mobile', 'email', 'address', 'postal_code', 'description',
                'zone', 'parcel_number', 'usage', 'housing_units',
                'national_card', 'birth_certificate', 'purchase_document',
                'deed', 'building_permit']:
            self.assertIn(f'<label for="f-{name}"', response.text)
            self.assertIn(f'name="{name}"', response.text)
        self.assertIn('id="f-request_date"', response.text)
        self.assertRegex(response.text,
            r'value="۱۴[۰-۹]{2}/[۰-۹]{2}/[۰-۹]{2}"')
        self.assertIn('enctype="multipart/form-data"', response.text)
        self.assertNotIn(' style="', response.text)

    def test_new_applicant(self):
        "A visitor applies, gets a tracking code and portal access by SMS"
        client = self.client()
        before = self.count()
        response = self.post(client, self.data('013579246', '09131110001'))

        self.assertEqual(response.status_code, HTTPStatus.OK)
        number = re.search(r'id="tracking-code">([^<]+)<',
            response.text).group(1)
        stored = self.application(number)
        self.assertEqual(stored['state'], 'submitted')
        self.assertEqual(stored['national_code'], national_code('013579246'))
        self.assertEqual(stored['party_mobile'], '09131110001')
        self.assertEqual(stored['units'], 2)
        self.assertEqual(stored['documents'], [
                ('deed', 'سند.pdf', PDF),
                ('national_card', 'کارت ملی.png', PNG)])
        self.assertEqual(stored['logs'], [('submitted', True)])
        self.assertEqual(self.count(),
            (before[0] + 1, before[1] + 1, before[2] + 2))
        messages = self.sms('09131110001')
        self.assertEqual(len(messages), 2)
        self.assertIn(number, messages[1])
        code = re.search(r'[0-9]{6}', messages[0]).group(0)

        wrong = client.post('/portal/applications/access', data={
                'csrf_token': csrf(response),
                'key': hidden(response, 'key'),
                'number': number,
                'code': f'{(int(code) + 1) % 10 ** 6:06d}',
                'password': 'a-long-new-password',
                'confirm': 'a-long-new-password',
                })
        self.assertEqual(wrong.status_code, HTTPStatus.BAD_REQUEST)
        self.assertIn('کد نادرست است', wrong.text)
        self.assertEqual(hidden(wrong, 'number'), number)
        self.assertEqual(hidden(wrong, 'key'), hidden(response, 'key'))

        response = client.post('/portal/applications/access', data={
                'csrf_token': csrf(response),
                'key': hidden(response, 'key'),
                'number': number,
                'code': code,
                'password': 'a-long-new-password',
                'confirm': 'a-long-new-password',
                })
        self.assertEqual(response.status_code, HTTPStatus.SEE_OTHER)
        self.assertEqual(response.location,
            f'/portal/applications/{stored["id"]}')
        page = client.get(response.location)
        self.assertEqual(page.status_code, HTTPStatus.OK)
        self.assertIn(number, page.text)
        self.assertIn('درخواست ثبت شد', page.text)
        self.assertIn('کارت ملی.png', page.text)
        # the logged-in pages work for a user without subscriptions
        for url in ['/portal/dashboard', '/portal/applications',
                '/portal/profile', '/portal/']:
            with self.subTest(url=url):
                self.assertEqual(client.get(url).status_code, HTTPStatus.OK)

        # later, he logs in with his mobile and the password
        client = self.client()
        form = client.get('/portal/login')
        response = client.post('/portal/login', data={
                'csrf_token': csrf(form), 'identifier': '09131110001',
                'password': 'a-long-new-password'})
        self.assertEqual(response.status_code, HTTPStatus.SEE_OTHER)

    def test_bad_fields(self):
        "Each wrong field gives its Persian error beside it, nothing saved"
        cases = [
            ('first_name', '', 'این خانه را پر کنید'),
            ('first_name', 'زهرا2', 'نام نباید رقم داشته باشد'),
            ('last_name', '', 'این خانه را پر کنید'),
            ('father_name', 'علی۳', 'نام نباید رقم داشته باشد'),
            ('national_code', '', 'این خانه را پر کنید'),
            ('national_code', '0499370898', 'کد ملی درست نیست'),
            ('national_code', '12345', 'کد ملی ۱۰ رقم است'),
            ('national_code', '11111111111'[:10], 'همه رقم‌های آن یکسان'),
            ('national_code', '04993708a9', 'کد ملی فقط رقم دارد'),
            ('phone', '', 'این خانه را پر کنید'),
            ('phone', '12345678', 'شماره تلفن را با کد شهر بنویسید'),
            ('mobile', '', 'این خانه را پر کنید'),
            ('mobile', '0812345678', 'شماره همراه باید با ۰۹ آغاز شود'),
            ('email', 'zahra@', 'نشانی رایانامه درست نیست'),
            ('address', '  ', 'این خانه را پر کنید'),
            ('postal_code', '31587', 'کد پستی ۱۰ رقم است'),
            ('postal_code', '31587x3541', 'کد پستی فقط رقم دارد'),
            ('zone', '', 'یکی از گزینه‌ها را برگزینید'),
            ('zone', '999999', 'یکی از گزینه‌ها را برگزینید'),
            ('usage', 'abc', 'یکی از گزینه‌ها را برگزینید'),
            ('parcel_number', '', 'این خانه را پر کنید'),
            ('housing_units', '0', 'تعداد واحد باید عددی از ۱ تا ۵۰۰'),
            ('housing_units', 'دو', 'تعداد واحد باید عددی از ۱ تا ۵۰۰'),
            ('description', 'x' * 2001, 'متن بیش از اندازه بلند است'),
            ]
        before = self.count()
        client = self.client()
        for name, value, message in cases:
            with self.subTest(name=name, value=value):
                response = self.post(client, self.data(
                        '024681357', '09132220001', **{name: value}))
                self.assertEqual(response.status_code, HTTPStatus.BAD_REQUEST)
                error = re.search(rf'<div id="e-{name}" '
                    r'class="invalid-feedback">([^<]*)</div>', response.text)
                self.assertIsNotNone(error)
                self.assertIn(message, error.group(1))
                self.assertIn('aria-invalid="true"', response.text)
                # the other typed values are kept
                self.assertIn('value="3158713541"' if name != 'postal_code'
                    else 'value="09132220001"', response.text)
                if name not in {'zone', 'usage', 'description', 'address'}:
                    self.assertIn(f'value="{value[:64]}"', response.text)
        self.assertEqual(self.count(), before)
        self.assertEqual(self.sms('09132220001'), [])

    def test_bad_uploads(self):
        "Files of the wrong type by content, empty or too large are refused"
        before = self.count()
        client = self.client()
        cases = [
            ('national_card', None, 'فایل را برگزینید'),
            ('national_card', (io.BytesIO(b'GIF89a....'), 'card.png'),
                'فایل باید تصویر JPEG یا PNG یا سند PDF باشد'),
            ('deed', (io.BytesIO(b'MZ\x90\x00 not a pdf'), 'deed.pdf'),
                'فایل باید تصویر JPEG یا PNG یا سند PDF باشد'),
            ('building_permit', (io.BytesIO(b''), 'permit.pdf'),
                'فایل خالی است'),
            ('building_permit', (io.BytesIO(PDF + b'x' * 2048), 'big.pdf'),
                'فایل بزرگ‌تر از'),
            ]
        config.set('water', 'application_upload_size', '2048')
        self.addCleanup(config._config.remove_option, 'water',
            'application_upload_size')
        for name, upload, message in cases:
            with self.subTest(name=name, message=message):
                data = self.data('035792468', '09133330001')
                if upload is None:
                    del data[name]
                else:
                    data[name] = upload
                response = self.post(client, data)
                self.assertEqual(response.status_code, HTTPStatus.BAD_REQUEST)
                error = re.search(rf'<div id="e-{name}" '
                    r'class="invalid-feedback">([^<]*)</div>', response.text)
                self.assertIsNotNone(error)
                self.assertIn(message, error.group(1))
                # the typed fields are kept
                self.assertIn(f'value="{national_code("035792468")}"',
                    response.text)
        self.assertEqual(self.count(), before)

    def test_odd_file_names(self):
        """Folders, direction marks, markup and long names are dropped from
        the names kept; the content gives the extension"""
        long_name = '/home/zahra/' + 'پ' * 200 + '.jpeg'
        data = self.data('079135824', '09137770001',
            national_card=(io.BytesIO(PNG), 'scan\u202egnp.exe'),
            deed=(io.BytesIO(PDF), '<img src=x onerror=alert(1)>.pdf'),
            birth_certificate=(io.BytesIO(PDF), 'photo.png'),
            building_permit=(io.BytesIO(JPEG), long_name),
            purchase_document=(io.BytesIO(PNG), '../../.png'))
        client = self.client()
        response = self.post(client, data)
        self.assertEqual(response.status_code, HTTPStatus.OK)
        number = re.search(r'id="tracking-code">([^<]+)<',
            response.text).group(1)
        stored = self.application(number)
        self.assertEqual(stored['documents'], [
                ('birth_certificate', 'photo.pdf', PDF),
                ('building_permit', 'پ' * 60 + '.jpg', JPEG),
                ('deed', 'img src_x onerror_alert_1.pdf', PDF),
                ('national_card', 'scangnp.png', PNG),
                ('purchase_document', 'purchase_document.png', PNG),
                ])

    def test_request_too_large(self):
        "A request larger than all the documents is refused before reading"
        config.set('water', 'application_upload_size', '1024')
        self.addCleanup(config._config.remove_option, 'water',
            'application_upload_size')
        before = self.count()
        data = self.data('046813579', '09134440001')
        data['deed'] = (io.BytesIO(PDF + b'x' * 2 * 1024 * 1024), 'big.pdf')
        response = self.post(self.client(), data)
        self.assertEqual(response.status_code,
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
        self.assertIn('lang="fa"', response.text)
        self.assertEqual(self.count(), before)

    def test_known_national_code_or_mobile(self):
        "A visitor cannot apply with another's national code or mobile"
        before = self.count()
        client = self.client()
        response = self.post(client, self.data(
                self.ids['codes'][0][:9], '09135550001'))
        self.assertEqual(response.status_code, HTTPStatus.BAD_REQUEST)
        self.assertIn('id="e-national_code"', response.text)
        response = self.post(client, self.data('057924681', '09120000002'))
        self.assertEqual(response.status_code, HTTPStatus.BAD_REQUEST)
        self.assertIn('id="e-mobile"', response.text)
        self.assertEqual(self.count(), before)

    def test_known_applicant_without_login(self):
        """A known person applying without logging in gets the application
        on his party and is asked to log in, without a new code"""
        client = self.client()
        response = self.post(client, self.data(
                self.ids['codes'][1][:9], '09120000002',
                first_name="مریم", last_name="کریمی"))
        self.assertEqual(response.status_code, HTTPStatus.OK)
        self.assertIsNone(hidden(response, 'key'))
        self.assertIn('/portal/login?next=', response.text)
        number = re.search(r'id="tracking-code">([^<]+)<',
            response.text).group(1)
        self.assertEqual(self.application(number)['party'],
            self.ids['parties'][1])
        messages = self.sms('09120000002')
        self.assertEqual(len(messages), 1)
        self.assertIn(number, messages[0])

    def test_csrf(self):
        "A form posted without its token is refused"
        before = self.count()
        client = self.client()
        client.get('/portal/applications/new')
        data = self.data('068135792', '09136660001', csrf_token='forged')
        response = client.post('/portal/applications/new', data=data,
            content_type='multipart/form-data')
        self.assertEqual(response.status_code, HTTPStatus.FORBIDDEN)
        self.assertEqual(self.count(), before)

    def test_logged_in_applies_and_uploads(self):
        """A subscriber applies for another parcel with his login, sends
        requested documents; another applicant gets 404 for it"""
        client = self.login()
        form = client.get('/portal/applications/new')
        self.assertIn('value="حسین"', form.text)
        self.assertIn(f'value="{self.ids["codes"][0]}"', form.text)
        data = self.data(self.ids['codes'][0][:9], '09121234567',
            first_name="حسین", last_name="رضایی")
        response = self.post(client, data)
        self.assertEqual(response.status_code, HTTPStatus.SEE_OTHER)
        application_id = int(re.search(r'/applications/([0-9]+)',
                response.location).group(1))
        with Transaction().start(DB_NAME, 0):
            Application = Pool().get('water.application')
            application = Application(application_id)
            number = application.number
            self.assertEqual(application.party.id, self.ids['parties'][0])
            application.note = "تصویر پروانه ساختمان را بفرستید."
            application.requested_documents = ['building_permit']
            application.state = 'documents'
            application.expert = 1
            application.save()
            Transaction().commit()

        page = client.get(f'/portal/applications/{application_id}')
        self.assertIn('تصویر پروانه ساختمان را بفرستید.', page.text)
        self.assertIn('name="building_permit"', page.text)
        self.assertIn(number, client.get('/portal/applications').text)

        # another applicant sees nothing of it
        other = self.login('09120000002')
        for method, url in [
                ('get', f'/portal/applications/{application_id}'),
                ('post', f'/portal/applications/{application_id}/documents'),
                ]:
            with self.subTest(url=url):
                response = getattr(other, method)(url, data={
                        'csrf_token': csrf(other.get('/portal/profile')),
                        'building_permit': (io.BytesIO(PNG), 'x.png'),
                        } if method == 'post' else None)
                self.assertEqual(response.status_code, HTTPStatus.NOT_FOUND)
                self.assertNotIn(number, response.text)
                self.assertNotIn('پروانه ساختمان را بفرستید', response.text)
        self.assertNotIn(number, other.get('/portal/applications').text)

        # a wrong file is refused beside its field, nothing kept
        response = client.post(
            f'/portal/applications/{application_id}/documents', data={
                'csrf_token': csrf(page),
                'building_permit': (io.BytesIO(b'text'), 'permit.png'),
                'other': (io.BytesIO(PNG), 'other.png'),
                }, content_type='multipart/form-data')
        self.assertEqual(response.status_code, HTTPStatus.BAD_REQUEST)
        self.assertIn('id="e-building_permit"', response.text)
        self.assertEqual(len(self.application(number)['documents']), 2)

        response = client.post(
            f'/portal/applications/{application_id}/documents', data={
                'csrf_token': csrf(page),
                'building_permit': (io.BytesIO(JPEG), 'permit.jpeg'),
                }, content_type='multipart/form-data')
        self.assertEqual(response.status_code, HTTPStatus.SEE_OTHER)
        stored = self.application(number)
        self.assertEqual(stored['state'], 'review')
        self.assertIn(('building_permit', 'permit.jpg', JPEG),
            stored['documents'])
        self.assertEqual(stored['logs'][-1], ('documents_sent', True))
        page = client.get(response.location)
        self.assertIn('مدارک فرستاده شد', page.text)
        self.assertNotIn('id="pay"', page.text)

    def test_tracking_needs_login(self):
        "The tracking page sends visitors to the login page"
        response = self.client().get('/portal/applications/1')
        self.assertEqual(response.status_code, HTTPStatus.SEE_OTHER)
        self.assertTrue(response.location.startswith('/portal/login'))
