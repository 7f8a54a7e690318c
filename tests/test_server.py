"""Smoke test: `water setup` builds a working database, the real server
serves the web client at / and the Persian portal at /portal/, and a second
setup adds nothing."""
import unittest

from server import Server


class ServerTestCase(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = Server()
        cls.first_setup = cls.server.setup()
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_web_client(self):
        "The back office answers / with the Tryton web client"
        status, headers, body = self.server.get('/')
        self.assertEqual(status, 200)
        self.assertIn('dist/tryton-sao.js', body)
        status, _, body = self.server.get('/locale/fa.json')
        self.assertEqual(status, 200)

    def test_portal(self):
        "The portal answers /portal/ with a Persian right-to-left page"
        status, headers, body = self.server.get('/portal/')
        self.assertEqual(status, 200)
        self.assertIn('text/html', headers['Content-Type'])
        self.assertIn('<html lang="fa" dir="rtl">', body)
        self.assertIn('سامانه', body)
        for path in [
                '/portal/vendor/bootstrap/css/bootstrap.rtl.min.css',
                '/portal/vendor/vazirmatn/Vazirmatn-font-face.css',
                '/portal/static/water/portal.css']:
            with self.subTest(path=path):
                self.assertEqual(self.server.get(path)[0], 200)

    def test_admin_back_office(self):
        "The admin logs in, speaks Persian, sees the Water menu and groups"
        session = self.server.login()
        preferences = self.server.rpc(
            'model.res.user.get_preferences', False, {}, session=session)
        self.assertEqual(preferences['language'], 'fa')
        languages = self.server.rpc('model.ir.lang.search_read',
            [('translatable', '=', True)], 0, None, None, ['code'], {},
            session=session)
        self.assertIn('fa', {l['code'] for l in languages})
        groups = self.server.rpc('model.res.group.search_read',
            [('users', '=', session[0])], 0, None, None, ['name'],
            {'language': 'en'}, session=session)
        self.assertLessEqual({'Water Administration', 'Customer Service',
                'Meter Reading', 'Billing'}, {g['name'] for g in groups})
        menus = self.server.rpc('model.ir.ui.menu.search_read',
            [('parent', '=', None)], 0, None, None, ['name'],
            {'language': 'en'}, session=session)
        self.assertIn('Water', {m['name'] for m in menus})

    def test_company_accounting(self):
        "The company is in rials without decimals, with a Jalali fiscal year"
        session = self.server.login()
        company, = self.server.rpc('model.company.company.search_read',
            [], 0, None, None, ['currency.code', 'currency.digits'], {},
            session=session)
        self.assertEqual(company['currency.']['code'], 'IRR')
        self.assertEqual(company['currency.']['digits'], 0)
        fiscalyear, = self.server.rpc('model.account.fiscalyear.search_read',
            [], 0, None, None, ['start_date', 'periods'], {},
            session=session)
        self.assertEqual(len(fiscalyear['periods']), 12)
        import jdatetime
        start = fiscalyear['start_date']
        start = jdatetime.date.fromgregorian(
            year=start['year'], month=start['month'], day=start['day'])
        self.assertEqual((start.month, start.day), (1, 1))

    def test_setup_again(self):
        "A second setup keeps the data as it is"
        self.server.setup()
        session = self.server.login()
        for model in ['company.company', 'account.fiscalyear',
                'currency.currency']:
            with self.subTest(model=model):
                self.assertEqual(self.server.rpc(
                        f'model.{model}.search_count', [], {},
                        session=session), 1)
