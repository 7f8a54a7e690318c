"""The customer portal end to end: Debian's Chromium, driven by Playwright,
against the real trytond server on a demo database built by
`water setup --demo` (subscriber 1421 exactly as in the demo, and a few
generated subscribers instead of 2,000).

Also the answers to bad addresses, methods and forms over real HTTP: a
Persian page every time, never a traceback or a name of the server's code.

SCREENSHOTS=docs/screenshots writes the README's pictures of the portal
(phone, 360 px wide, and desktop) while the pages are checked."""
import http.client
import io
import os
import re
import unittest
import urllib.parse

from server import Server

CHROMIUM = '/usr/bin/chromium'
SCREENSHOTS = os.environ.get('SCREENSHOTS')
# the generated subscribers of the demo zone built for the tests
DEMO_SIZE = 3
PASSWORD_1421 = 'water-1421'
GENERATED_PASSWORD = 'water-demo'
# failed logins before the lock-out: few, as each waits 2^n - 1 seconds
MAX_ATTEMPT = 2
PHONE = {'width': 360, 'height': 740}
DESKTOP = {'width': 1280, 'height': 900}
WRONG_LOGIN = 'شماره یا رمز عبور درست نیست'
LOCKED_OUT = 'تلاش‌های ناموفق بیش از اندازه بود'
NOT_FOUND = 'صفحه پیدا نشد'
# what a response must never show
INTERNALS = re.compile(
    r'Traceback|File "|\.py\b|trytond|werkzeug|jinja|psycopg|sqlite'
    r'|Exception|Error:|water\.(bill|subscription|reading)|web\.user'
    r'|Internal Server Error|Method Not Allowed|Not Found',
    re.IGNORECASE)

server = None


def setUpModule():
    global server
    server = Server(demo=True, demo_size=DEMO_SIZE, settings={
            'session': {'max_attempt': MAX_ATTEMPT}})
    try:
        server.setup()
        server.start()
    except BaseException:
        server.stop()
        raise


def tearDownModule():
    server.stop()


def fa(value):
    return str(value).translate(str.maketrans('0123456789', '۰۱۲۳۴۵۶۷۸۹'))


def amount(text):
    "The number of an amount in Persian digits and separators"
    return int(text.translate(str.maketrans('۰۱۲۳۴۵۶۷۸۹', '0123456789'))
        .replace('٬', ''))


def meter_photo():
    "A JPEG of a meter dial, as a phone would send it"
    from PIL import Image, ImageDraw
    image = Image.new('RGB', (320, 200), 'white')
    draw = ImageDraw.Draw(image)
    draw.rectangle([40, 70, 280, 130], outline='black', width=4)
    draw.text((70, 90), '0 0 2 6 0', fill='black')
    output = io.BytesIO()
    image.save(output, 'JPEG')
    return output.getvalue()


def admin_search(model, domain, fields):
    "search_read through the back office's API as admin"
    session = server.login()
    return server.rpc(f'model.{model}.search_read', domain, 0, None, None,
        fields, {}, session=session)


@unittest.skipUnless(os.path.exists(CHROMIUM),
    f"{CHROMIUM} is missing: apt-get install chromium")
class BrowserTestCase(unittest.TestCase):
    "A subscriber uses the portal in Chromium"

    @classmethod
    def setUpClass(cls):
        from playwright.sync_api import sync_playwright
        cls.playwright = sync_playwright().start()
        try:
            # Chromium's own words (the file chooser) in Persian where
            # Debian's chromium-l10n is installed
            cls.browser = cls.playwright.chromium.launch(
                executable_path=CHROMIUM,
                env={**os.environ, 'LANGUAGE': 'fa'})
        except BaseException:
            cls.playwright.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.browser.close()
        cls.playwright.stop()

    def setUp(self):
        self.contexts = []

    def tearDown(self):
        for context in self.contexts:
            context.close()

    def new_page(self, viewport=DESKTOP):
        context = self.browser.new_context(viewport=viewport, locale='fa-IR',
            base_url=server.url)
        context.set_default_timeout(30000)
        self.contexts.append(context)
        return context.new_page()

    def screenshot(self, page, name):
        """Keep a picture of the page for the README when asked to; the
        pages are pictured by tests that run before test_self_reading,
        as a first `make run` shows them"""
        if SCREENSHOTS:
            os.makedirs(SCREENSHOTS, exist_ok=True)
            page.screenshot(path=os.path.join(SCREENSHOTS, name + '.png'),
                full_page=True)

    def log_in(self, page, identifier, password):
        page.goto('/portal/login')
        page.get_by_label('شماره اشتراک یا شماره همراه').fill(identifier)
        page.get_by_label('رمز عبور').fill(password)
        with page.expect_navigation():
            page.get_by_role('button', name='ورود').click()

    def assert_no_horizontal_scroll(self, page):
        width = page.evaluate(
            'document.documentElement.scrollWidth')
        self.assertLessEqual(width, page.viewport_size['width'], page.url)

    def test_subscriber_1421(self):
        "1421 logs in, sees his history, opens and prints his latest bill"
        page = self.new_page()
        self.log_in(page, '1421', PASSWORD_1421)

        self.assertRegex(page.url, r'/portal/subscriptions/\d+$')
        self.assertEqual(page.locator('#card-number .info-value')
            .inner_text(), '۱۴۲۱')
        self.assertEqual(page.locator('#card-geographic-code .info-value')
            .inner_text(), '۱۹۰۰۴۲۰۰۷۱')
        self.assertEqual(page.locator('#card-zone .info-value')
            .inner_text(), 'دهکده زیتون')
        rows = page.locator('#history tbody tr')
        self.assertEqual(rows.count(), 5)
        # the latest period first, with the reference figures
        latest = rows.first.inner_text()
        for text in ['۱۳۹۷/۰۶/۰۳', '۱۳۹۷/۰۷/۳۰', '۵۸', '۴۵',
                '۳۶۲٬۳۲۷', '۱۹۳٬۵۰۰']:
            self.assertIn(text, latest)
        self.assertIn('۱۳۹۵/۰۱/۲۹', rows.last.inner_text())

        page.get_by_role('link', name='مشاهده قبض اخیر').click()
        page.wait_for_url('**/bills/latest')
        self.assertIn('قبض اخیر', page.locator('h1').inner_text())
        for id_, text in [
                ('geographic-code', '۱۹۰۰۴۲۰۰۷۱'),
                ('number', '۱۴۲۱'),
                ('zone', 'دهکده زیتون'),
                ('name', 'حسین رضایی'),
                ('usage', 'ویلا باغ و مسکونی'),
                ('previous-date', '۱۳۹۷/۰۶/۰۳'),
                ('current-date', '۱۳۹۷/۰۷/۳۰'),
                ('previous-value', '۱۷۵'),
                ('current-value', '۲۲۰'),
                ('water', '۱۹۳٬۵۰۰'),
                ('fixed', '۴۶٬۴۰۰'),
                ('service', '۹۲٬۵۱۰'),
                ('duty', '۹٬۹۷۲'),
                ('tax', '۱۹٬۹۴۵'),
                ('total', '۳۶۲٬۳۲۷'),
                ]:
            with self.subTest(item=id_):
                self.assertIn(text, page.locator(f'#bill-{id_}').inner_text())
        # what the demo left unpaid of the earlier bills is carried
        debt, total, payable = (amount(page.locator(f'#bill-{id_} .num')
                .inner_text())
            for id_ in ['previous-debt', 'total', 'total-payable'])
        self.assertEqual(payable, debt + total)

        # Print opens the PDF in a new tab; its bytes are fetched again
        # with the tab's cookies, as Chromium's viewer keeps them
        with page.context.expect_page() as opened:
            page.get_by_role('link', name='چاپ قبض').click()
        printed = opened.value
        printed.wait_for_load_state()
        self.assertRegex(printed.url, r'/portal/bills/\d+/print$')
        response = page.request.get(printed.url)
        self.assertEqual(response.status, 200)
        self.assertEqual(response.headers['content-type'], 'application/pdf')
        self.assertTrue(response.body().startswith(b'%PDF'))

    def test_self_reading(self):
        "1421 declares his meter with a photo and sees it in the list"
        page = self.new_page(PHONE)
        self.log_in(page, '1421', PASSWORD_1421)
        page.get_by_role('link', name='اعلام کارکرد کنتور').first.click()
        page.wait_for_url('**/reading')
        self.assertIn('آخرین قرائت پذیرفته‌شده: ۲۲۰',
            page.locator('main').inner_text())

        # below the last reading: the error is beside the field
        page.get_by_label('شماره کنتور (مترمکعب)').fill('۱۵۰')
        page.get_by_label('عکس کنتور').set_input_files(files=[{
                    'name': 'meter.jpg', 'mimeType': 'image/jpeg',
                    'buffer': meter_photo()}])
        with page.expect_navigation():
            page.get_by_role('button', name='ثبت کارکرد').click()
        self.assertIn('نمی‌تواند کمتر از شماره قرائت پیشین (۲۲۰)',
            page.locator('#e-value').inner_text())
        self.assertEqual(
            page.get_by_label('شماره کنتور (مترمکعب)').get_attribute(
                'aria-invalid'), 'true')
        self.screenshot(page, 'portal-reading-error')

        page.get_by_label('شماره کنتور (مترمکعب)').fill('۲۶۰')
        page.get_by_label('عکس کنتور').set_input_files(files=[{
                    'name': 'meter.jpg', 'mimeType': 'image/jpeg',
                    'buffer': meter_photo()}])
        with page.expect_navigation():
            page.get_by_role('button', name='ثبت کارکرد').click()
        self.assertRegex(page.url, r'/reading\?done=(accepted|flagged)$')
        self.assertIn('شماره کنتور شما ثبت', page.locator(
                '.alert[role=status]').inner_text())
        declared = page.locator('#readings li')
        self.assertEqual(declared.count(), 1)
        self.assertIn('شماره ۲۶۰', declared.first.inner_text())
        self.assert_no_horizontal_scroll(page)

    def test_wrong_password(self):
        "A wrong password shows the Persian error and no session starts"
        page = self.new_page(PHONE)
        self.log_in(page, '1421', 'not-the-password')

        self.assertTrue(page.url.endswith('/portal/login'))
        self.assertIn(WRONG_LOGIN, page.get_by_role('alert').inner_text())
        self.assertEqual(page.get_by_label('شماره اشتراک یا شماره همراه')
            .input_value(), '1421')
        self.assertEqual(page.get_by_label('رمز عبور').input_value(), '')
        self.assertNotIn('water_portal',
            {c['name'] for c in page.context.cookies()})
        self.screenshot(page, 'portal-login-error')
        page.goto('/portal/dashboard')
        self.assertIn('/portal/login', page.url)

    def test_empty_login(self):
        "Empty fields: each error beside its field, in Persian"
        page = self.new_page(PHONE)
        page.goto('/portal/login')
        with page.expect_navigation():
            page.get_by_role('button', name='ورود').click()
        for field in ['identifier', 'password']:
            with self.subTest(field=field):
                self.assertEqual(page.locator(f'#e-{field}').inner_text(),
                    'این خانه را پر کنید.')
                self.assertEqual(page.locator(f'#f-{field}').get_attribute(
                        'aria-describedby').split()[0], f'e-{field}')

    def test_locked_out(self):
        "After repeated failures even the right password is refused"
        number = str(10000 + DEMO_SIZE)
        page = self.new_page(PHONE)
        for _ in range(MAX_ATTEMPT + 1):
            self.log_in(page, number, 'not-the-password')
            self.assertIn(WRONG_LOGIN, page.get_by_role('alert').inner_text())
        self.log_in(page, number, 'not-the-password')
        self.assertIn(LOCKED_OUT, page.get_by_role('alert').inner_text())
        self.log_in(page, number, GENERATED_PASSWORD)
        self.assertIn(LOCKED_OUT, page.get_by_role('alert').inner_text())
        self.assertTrue(page.url.endswith('/portal/login'))
        self.assertNotIn('water_portal',
            {c['name'] for c in page.context.cookies()})

    def test_other_subscriber(self):
        "Another subscriber's bill and subscription give 404 and no data"
        other, = admin_search('water.subscription',
            [('number', '=', '10001')], ['id', 'party.name'])
        other_bill, = admin_search('water.bill', [
                ('subscription.number', '=', '10001'),
                ('state', '=', 'posted'),
                ], ['id', 'total'])
        # the generated subscriber sees his own bill
        page = self.new_page()
        self.log_in(page, '10001', GENERATED_PASSWORD)
        response = page.goto(f'/portal/bills/{other_bill["id"]}')
        self.assertEqual(response.status, 200)
        self.assertIn('۱۰۰۰۱', page.locator('#bill-number').inner_text())

        page = self.new_page()
        self.log_in(page, '1421', PASSWORD_1421)
        for path in [
                f'/portal/bills/{other_bill["id"]}',
                f'/portal/bills/{other_bill["id"]}/print',
                f'/portal/subscriptions/{other["id"]}',
                f'/portal/subscriptions/{other["id"]}/bills',
                f'/portal/subscriptions/{other["id"]}/bills/latest',
                f'/portal/subscriptions/{other["id"]}/reading',
                ]:
            with self.subTest(path=path):
                response = page.goto(path)
                self.assertEqual(response.status, 404)
                self.assertIn(NOT_FOUND, page.locator('h1').inner_text())
                text = page.locator('body').inner_text()
                self.assertNotIn('۱۰۰۰۱', text)
                self.assertNotIn(other['party.']['name'], text)
                total = int(other_bill['total']['decimal'])
                self.assertNotIn(fa(f'{total:,}').replace(',', '٬'), text)
        self.screenshot(page, 'portal-not-found')

    def test_phone_width(self):
        "At 360 px no page scrolls sideways; the history table scrolls"
        page = self.new_page(PHONE)
        page.goto('/portal/login')
        self.assert_no_horizontal_scroll(page)
        self.screenshot(page, 'portal-login')
        self.log_in(page, '1421', PASSWORD_1421)
        dashboard = urllib.parse.urlsplit(page.url).path
        pages = [
            ('portal-dashboard', dashboard),
            ('portal-bill', dashboard + '/bills/latest'),
            ('portal-bills', dashboard + '/bills'),
            ('portal-reading', dashboard + '/reading'),
            ('portal-profile', '/portal/profile'),
            ('portal-home', '/portal/'),
            ]
        for name, path in pages:
            with self.subTest(path=path):
                response = page.goto(path)
                self.assertEqual(response.status, 200)
                self.assertEqual(page.evaluate(
                        'getComputedStyle(document.body).direction'), 'rtl')
                self.assertIn('Vazirmatn', page.evaluate(
                        'getComputedStyle(document.body).fontFamily'))
                self.assert_no_horizontal_scroll(page)
                self.screenshot(page, name)
        # the Vazirmatn font is loaded, not only asked for
        self.assertTrue(page.evaluate(
                "document.fonts.check('16px Vazirmatn', 'سلام')"))
        page.goto(dashboard)
        table = page.locator('#history').locator('xpath=..')
        self.assertGreater(
            table.evaluate('e => e.scrollWidth'),
            table.evaluate('e => e.clientWidth'))

    def test_desktop_pages(self):
        "The pages at desktop width, for the README"
        if not SCREENSHOTS:
            self.skipTest("only writes the screenshots (SCREENSHOTS=dir)")
        page = self.new_page()
        self.log_in(page, '1421', PASSWORD_1421)
        dashboard = urllib.parse.urlsplit(page.url).path
        for name, path in [
                ('portal-dashboard-desktop', dashboard),
                ('portal-bill-desktop', dashboard + '/bills/latest'),
                ('portal-bills-desktop', dashboard + '/bills'),
                ('portal-reading-desktop', dashboard + '/reading'),
                ('portal-profile-desktop', '/portal/profile'),
                ('portal-home-desktop', '/portal/'),
                ]:
            page.goto(path)
            self.assert_no_horizontal_scroll(page)
            self.screenshot(page, name)


class ErrorPagesTestCase(unittest.TestCase):
    "Bad addresses, methods and forms get Persian pages, no internals"

    def request(self, method, path, data=None, headers=None):
        connection = http.client.HTTPConnection('127.0.0.1', server.port,
            timeout=60)
        try:
            headers = dict(headers or {})
            if isinstance(data, dict):
                data = urllib.parse.urlencode(data).encode()
                headers.setdefault(
                    'Content-Type', 'application/x-www-form-urlencoded')
            connection.request(method, path, data, headers)
            response = connection.getresponse()
            return (response.status, response.headers,
                response.read().decode('utf-8', 'replace'))
        finally:
            connection.close()

    def log_in(self, identifier='1421', password=PASSWORD_1421):
        "The cookies of a new portal session"
        status, headers, body = self.request('GET', '/portal/login')
        token = re.search(r'name="csrf_token" value="([^"]+)"', body)[1]
        cookie = headers['Set-Cookie'].split(';')[0]
        status, headers, _ = self.request('POST', '/portal/login', {
                'csrf_token': token, 'identifier': identifier,
                'password': password}, {'Cookie': cookie})
        self.assertEqual(status, 303)
        return cookie + '; ' + headers['Set-Cookie'].split(';')[0]

    def assertPersianError(self, status, body, expected):
        self.assertEqual(status, expected, body[:500])
        self.assertIn('<html lang="fa" dir="rtl">', body)
        self.assertIn(f'<p class="display-6 text-body-secondary num mb-2">'
            f'{fa(expected)}</p>', body)
        self.assertIsNone(INTERNALS.search(body), INTERNALS.search(body))

    def test_bad_addresses(self):
        "Ids that are no numbers or too large, unknown pages: 404"
        cookie = self.log_in()
        for path in [
                '/portal/bills/abc',
                '/portal/bills/-1',
                '/portal/bills/0',
                '/portal/bills/99999999999999999999999',
                '/portal/bills/2147483648/print',
                '/portal/subscriptions/1e3',
                '/portal/subscriptions/9223372036854775808',
                '/portal/subscriptions/99999999999999999999/bills',
                '/portal/subscriptions/%00/reading',
                '/portal/announcements/99999999999999999999/document',
                '/portal/announcements/x/document',
                '/portal/%ff%fe',
                "/portal/bills/1'--",
                '/portal/../etc/passwd',
                '/portal/static/water/../../portal.py',
                '/portal/nothing-here',
                ]:
            with self.subTest(path=path):
                status, _, body = self.request('GET', path,
                    headers={'Cookie': cookie})
                self.assertPersianError(status, body, 404)
            with self.subTest(path=path, logged_in=False):
                status, headers, body = self.request('GET', path)
                if status == 303:
                    self.assertTrue(headers['Location'].startswith(
                            '/portal/login?'))
                else:
                    self.assertPersianError(status, body, 404)

    def test_wrong_methods(self):
        "A method a page does not take: a Persian page, never a trace"
        cookie = self.log_in()
        for method, path in [
                ('PUT', '/portal/login'),
                ('DELETE', '/portal/dashboard'),
                ('PATCH', '/portal/profile/password'),
                ('GET', '/portal/logout'),
                ('GET', '/portal/password/set'),
                ('GET', '/portal/profile/mobile/confirm'),
                ]:
            with self.subTest(method=method, path=path):
                status, _, body = self.request(method, path,
                    headers={'Cookie': cookie})
                self.assertIn(status, {404, 405})
                self.assertPersianError(status, body, status)

    def test_missing_csrf(self):
        "A form posted without its token is refused in Persian"
        cookie = self.log_in()
        subscription, = admin_search('water.subscription',
            [('number', '=', '1421')], ['id'])
        for path, data in [
                ('/portal/logout', {}),
                ('/portal/profile/password', {'current': PASSWORD_1421,
                        'password': 'x' * 12, 'confirm': 'x' * 12}),
                ('/portal/profile/mobile', {'mobile': '09120000000'}),
                (f'/portal/subscriptions/{subscription["id"]}/reading',
                    {'value': '300'}),
                ]:
            for token in [None, 'forged']:
                with self.subTest(path=path, token=token):
                    if token:
                        data = {**data, 'csrf_token': token}
                    status, _, body = self.request('POST', path, data,
                        {'Cookie': cookie})
                    self.assertPersianError(status, body, 403)
        # the session went on: nothing was done
        status, _, _ = self.request('GET', '/portal/profile',
            headers={'Cookie': cookie})
        self.assertEqual(status, 200)
        status, _, body = self.request('POST', '/portal/login',
            {'identifier': '1421', 'password': PASSWORD_1421})
        self.assertPersianError(status, body, 403)

    def test_bad_forms(self):
        "Odd form values are errors beside the fields, not failures"
        number = str(10000 + DEMO_SIZE - 1)
        cookie = self.log_in(number, GENERATED_PASSWORD)
        status, _, body = self.request('GET', '/portal/profile',
            headers={'Cookie': cookie})
        token = re.search(r'name="csrf_token" value="([^"]+)"', body)[1]
        subscription, = admin_search('water.subscription',
            [('number', '=', number)], ['id'])
        reading = f'/portal/subscriptions/{subscription["id"]}/reading'
        for path, data in [
                (reading, {'value': '9' * 40}),
                (reading, {'value': '-5'}),
                (reading, {'value': '١٢٫٥'}),
                ('/portal/profile/mobile', {'mobile': '\x00' * 10,
                        'current': 'x'}),
                ('/portal/profile/password', {'current': '',
                        'password': 'ü' * 3000, 'confirm': ''}),
                ]:
            with self.subTest(path=path, data=data):
                status, _, body = self.request('POST', path,
                    {**data, 'csrf_token': token}, {'Cookie': cookie})
                self.assertEqual(status, 400)
                self.assertIn('class="invalid-feedback"', body)
                self.assertIsNone(INTERNALS.search(body))

    def test_foreign_origin(self):
        "A post from another site is refused without a trace"
        status, _, body = self.request('POST', '/portal/login',
            {'identifier': '1421', 'password': 'x'},
            {'Origin': 'https://evil.example'})
        # refused by trytond before the portal's routes, the portal's page
        self.assertEqual(status, 403)
        self.assertIn('lang="fa"', body)
        self.assertNotRegex(body, r'Traceback|File "|\.py\b|trytond')
        self.assertNotIn('1421', body)


if __name__ == '__main__':
    unittest.main()
