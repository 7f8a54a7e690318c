# This file is part of the water utility modules.
"""The workflow of a connection application in the back office without
billing: who may press which button, the history, what the applicant
sees of it, and that nothing is kept by a refused step."""
import datetime as dt
import unittest

from trytond.exceptions import UserError
from trytond.model.exceptions import AccessError, ValidationError
from trytond.model.modelview import AccessButtonError
from trytond.modules.company.tests import create_company, set_company
from trytond.pool import Pool
from trytond.tests.test_tryton import activate_module, with_transaction
from trytond.transaction import Transaction

from .test_sms import as_user, create_user


def create_application(company):
    pool = Pool()
    Zone = pool.get('water.zone')
    Party = pool.get('party.party')
    Usage = pool.get('water.usage')
    Application = pool.get('water.application')
    zone, = Zone.create([{'name': "دهکده زیتون", 'company': company.id}])
    party, = Party.create([{'name': "زهرا کریمی"}])
    usage, = Usage.search([('code', '=', 'residential_villa')])
    application, = Application.create([{
                'company': company.id, 'party': party.id,
                'first_name': "زهرا", 'last_name': "کریمی",
                'national_code': '۰۴۹۹۳۷۰۸۹۹', 'phone': '026 1234 5678',
                'mobile': '+98 912 123 4567', 'address': "کرج",
                'zone': zone.id, 'usage': usage.id,
                }])
    return application


class ApplicationWorkflowTestCase(unittest.TestCase):
    "Test the workflow of water.application"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        activate_module('water_crm')

    @with_transaction()
    def test_normalised(self):
        "The applicant's numbers are stored in their canonical form"
        company = create_company()
        with set_company(company):
            application = create_application(company)
        self.assertEqual(
            (application.national_code, application.phone,
                application.mobile),
            ('0499370899', '02612345678', '09121234567'))
        self.assertEqual(application.rec_name, "زهرا کریمی")

    @with_transaction()
    def test_invalid_values(self):
        "A wrong value typed in the back office is refused with its reason"
        pool = Pool()
        Application = pool.get('water.application')
        company = create_company()
        with set_company(company):
            application = create_application(company)
            for name, value, message in [
                    ('national_code', '0499370898', 'check digit'),
                    ('mobile', '0812345678', '09'),
                    ('phone', '12345678', 'area code'),
                    ('postal_code', '31587', '10 digits'),
                    ('email', 'zahra@', 'E-mail address'),
                    ]:
                with self.subTest(name=name):
                    with self.assertRaisesRegex(ValidationError, message):
                        Application.write([application], {name: value})
            self.assertEqual(Application(application.id).national_code,
                '0499370899')

    @with_transaction()
    def test_buttons_per_group(self):
        "Customer service submits and assigns; only experts review further"
        pool = Pool()
        Application = pool.get('water.application')
        company = create_company()
        with set_company(company):
            application = create_application(company)
            service = create_user('service', company,
                ['group_water', 'group_water_customer_service'])
            expert = create_user('expert', company,
                ['group_water', 'group_water_connection_expert'])
            reader = create_user('reader', company,
                ['group_water', 'group_water_meter_reading'])

        with as_user(reader):
            self.assertEqual(len(Application.search([])), 1)
            with self.assertRaises(AccessButtonError):
                Application.submit([Application(application.id)])
        with as_user(service):
            Application.submit([Application(application.id)])
            Application.review([Application(application.id)])
            with self.assertRaises(AccessButtonError):
                Application.approve([Application(application.id)])
            with self.assertRaises(AccessButtonError):
                Application.request_documents([Application(application.id)])
        with as_user(expert):
            record = Application(application.id)
            record.note = "تصویر سند را بفرستید."
            record.save()
            Application.request_documents([record])

        application = Application(application.id)
        self.assertEqual(application.state, 'documents')
        self.assertEqual(application.expert, service)
        self.assertEqual(
            [(l.action, l.user) for l in application.logs],
            [('submitted', service), ('review', service),
                ('documents', expert)])
        self.assertEqual(application.portal_timeline()[-1][1:],
            ('documents', "تصویر سند را بفرستید."))

    @with_transaction()
    def test_history_in_company_zone(self):
        "The history shows the company's local date and time"
        pool = Pool()
        Application = pool.get('water.application')
        Log = pool.get('water.application.log')
        company = create_company()
        company.timezone = 'Asia/Tehran'
        company.save()
        with set_company(company):
            application = create_application(company)
            Application.submit([application])
        log, = Log.search([('application', '=', application.id)])
        # 21:00 UTC on 1403/12/30 is 00:30 of 1404/01/01 in Tehran
        table = Log.__table__()
        Transaction().connection.cursor().execute(*table.update(
                [table.date], [dt.datetime(2025, 3, 20, 21, 0)],
                where=table.id == log.id))
        application = Application(application.id)
        log, = application.logs
        self.assertEqual(log.date_jalali, '1404/01/01 00:30')
        (date, action, _), = application.portal_timeline()
        self.assertEqual(action, 'submitted')
        self.assertEqual((date.year, date.month, date.day, date.hour),
            (2025, 3, 21, 0))

    @with_transaction()
    def test_refused_step_keeps_nothing(self):
        "A step refused for a missing value changes and sends nothing"
        pool = Pool()
        Application = pool.get('water.application')
        Sms = pool.get('water.sms')
        company = create_company()
        with set_company(company):
            application = create_application(company)
            Application.submit([application])
            Application.review([application])
            messages = Sms.search([])
            for method in [Application.request_documents,
                    Application.approve, Application.reject,
                    Application.cancel]:
                with self.subTest(method=method.__name__):
                    with self.assertRaises(UserError):
                        method([application])
                    self.assertEqual(application.state, 'review')
        self.assertEqual(Sms.search([]), messages)
        self.assertEqual([l.action for l in application.logs],
            ['submitted', 'review'])

    @with_transaction()
    def test_inactive_template_sends_nothing(self):
        "Staff can silence a step by deactivating its template"
        pool = Pool()
        Application = pool.get('water.application')
        Template = pool.get('water.sms.template')
        Sms = pool.get('water.sms')
        template, = Template.search([('code', '=', 'application_review')])
        template.active = False
        template.save()
        company = create_company()
        with set_company(company):
            application = create_application(company)
            Application.submit([application])
            Application.review([application])
        self.assertEqual(len(Sms.search([])), 1)
        self.assertEqual(application.logs[-1].action, 'review')

    @with_transaction()
    def test_history_read_only(self):
        "Nobody changes the history through the client"
        pool = Pool()
        Application = pool.get('water.application')
        Log = pool.get('water.application.log')
        company = create_company()
        with set_company(company):
            application = create_application(company)
            Application.submit([application])
            admin = create_user('boss', company,
                ['group_water', 'group_water_admin'])
        log, = application.logs
        with as_user(admin):
            with self.assertRaises(AccessError):
                Log.write([Log(log.id)], {'note': "x"})
            with self.assertRaises(AccessError):
                Application.delete([Application(application.id)])
