# This file is part of the water utility modules.
"""The whole path of a connection application: apply, review, request
documents, approve with its connection-sale invoice from the fee table,
pay the invoice, install, and bill the new subscription; the SMS of each
step and the history of who did what."""
import datetime as dt
import unittest
from decimal import Decimal

from trytond.exceptions import UserError
from trytond.modules.water_billing.application import connection_fee
from trytond.modules.water_crm.tests.test_crm import (
    create_parcel, create_party, create_user, get_usage)
from trytond.pool import Pool
from trytond.transaction import Transaction

from .fixtures import (
    D, BillingTestCase, bill, get_company, import_tariffs, pay, read_meter,
    with_company)


class FeeTestCase(unittest.TestCase):
    "The connection fee of a fee line, without the database"

    class Fee:
        amount = Decimal('12000000')
        unit_amount = Decimal('3500000')
        sewage_percent = Decimal('37.5')

    def test_fee(self):
        self.assertEqual(connection_fee(self.Fee, 2, False),
            (Decimal('19000000'), Decimal(0)))

    def test_sewage_share(self):
        self.assertEqual(connection_fee(self.Fee, 1, True),
            (Decimal('15500000'), Decimal('5812500')))


def create_fees(company):
    "A fee for villas of 1/2 inch and a fee of any other connection"
    Fee = Pool().get('water.application.fee')
    return Fee.create([{
                'company': company.id,
                'usage': get_usage('residential_villa').id,
                'diameter': '1/2',
                'amount': Decimal('12000000'),
                'unit_amount': Decimal('3500000'),
                'sewage_percent': Decimal('40'),
                'sequence': 10,
                }, {
                'company': company.id,
                'amount': Decimal('90000000'),
                'unit_amount': Decimal(0),
                'sewage_percent': Decimal(0),
                'sequence': 20,
                }])


def create_application(zone, party=None, **values):
    Application = Pool().get('water.application')
    if party is None:
        party = create_party("زهرا کریمی", national_code='0499370899')
    application = Application(company=zone.company, party=party,
        first_name="زهرا", last_name="کریمی", national_code='0499370899',
        phone='02612345678', mobile='09121234567',
        address="کرج، دهکده زیتون، کوچه ۳", zone=zone,
        parcel_number='433/12', usage=get_usage('residential_villa'),
        **values)
    application.save()
    return application


def sms_of(application):
    Sms = Pool().get('water.sms')
    return [s.body for s in Sms.search([
                ('origin', '=', str(application)),
                ], order=[('id', 'ASC')])]


class ApplicationTestCase(BillingTestCase):
    "Connection applications from the request to the first bill"

    @with_company
    def test_whole_path(self):
        "apply → review → documents → approve → invoice → pay → install → bill"
        pool = Pool()
        Application = pool.get('water.application')
        Zone = pool.get('water.zone')
        Configuration = pool.get('water.configuration')
        company = get_company()
        zone, = Zone.create([{'name': "دهکده زیتون", 'company': company.id}])
        create_fees(company)
        import_tariffs()
        expert = create_user('expert', company,
            ['group_water', 'group_water_connection_expert'])
        application = create_application(zone, housing_units=2, sewer=True)

        Application.submit([application])
        self.assertEqual(application.state, 'submitted')
        self.assertTrue(application.number.startswith('A'))

        with Transaction().set_user(expert.id):
            Application.review([application])
        self.assertEqual(application.state, 'review')
        self.assertEqual(application.expert, expert)

        with self.assertRaises(UserError):
            Application.request_documents([application])
        application.note = "تصویر سند خوانا نیست؛ دوباره بفرستید."
        application.requested_documents = ['deed']
        application.save()
        Application.request_documents([application])
        self.assertEqual(application.state, 'documents')
        Application.documents_sent([application])
        self.assertEqual(application.state, 'review')

        with self.assertRaises(UserError):
            Application.approve([application])
        application.parcel = create_parcel(zone, '1900433012', '433/12')
        application.save()
        Application.approve([application])
        self.assertEqual(application.state, 'invoiced')
        invoice = application.sale_invoice
        self.assertEqual(invoice.state, 'posted')
        self.assertEqual(invoice.type, 'out')
        self.assertEqual(invoice.party, application.party)
        self.assertEqual(invoice.currency.code, 'IRR')
        # 12,000,000 + 2 × 3,500,000 and 40% of it for the sewage
        self.assertEqual(
            [(l.unit_price, l.account) for l in invoice.lines],
            [(Decimal('19000000'), Configuration(1).water_account),
                (Decimal('7600000'), Configuration(1).sewage_account)])
        self.assertEqual(invoice.total_amount, Decimal('26600000'))
        self.assertEqual(application.portal_payable(), invoice)

        # any payment that pays the invoice pays the application
        invoice = pay(invoice, invoice.total_amount)
        self.assertEqual(invoice.state, 'paid')
        application = Application(application.id)
        self.assertEqual(application.state, 'paid')
        self.assertIsNone(application.portal_payable())

        with self.assertRaises(UserError):
            Application.schedule([application])
        application.installation_date = D('1403/01/15')
        application.save()
        Application.schedule([application])
        self.assertEqual(application.state, 'scheduled')
        with self.assertRaises(UserError):
            Application.install([application])
        application.meter_serial = 'KZ-4412'
        application.initial_reading = 3
        application.save()
        with Transaction().set_user(expert.id), \
                Transaction().set_context(_check_access=True):
            Application.install([application])
        self.assertEqual(application.state, 'installed')
        subscription = application.subscription
        self.assertEqual(subscription.state, 'active')
        self.assertEqual(subscription.party, application.party)
        self.assertEqual(subscription.start_date, D('1403/01/15'))
        connection = subscription.connection
        self.assertEqual(connection.state, 'active')
        self.assertEqual(connection.parcel, application.parcel)
        self.assertEqual(
            (connection.usage, connection.housing_units, connection.sewer,
                connection.diameter),
            (application.usage, 2, True, '1/2'))
        self.assertEqual(connection.meter, application.meter)
        self.assertEqual(application.meter.serial, 'KZ-4412')
        Application.done([application])
        self.assertEqual(application.state, 'done')

        # the new subscription is billed like any other
        reading = read_meter(subscription, '1403/03/15', 43)
        bill_, = bill([reading])
        self.assertEqual(bill_.consumption, 40)
        self.assertEqual(bill_.state, 'posted')
        self.assertGreater(bill_.invoice.total_amount, 0)

        self.assertEqual(
            [(l.action, l.user.login if l.user else None, l.applicant)
                for l in application.logs],
            [('submitted', 'admin', False),
                ('review', 'expert', False),
                ('documents', 'admin', False),
                ('documents_sent', None, True),
                ('approved', 'admin', False),
                ('invoiced', 'admin', False),
                ('paid', 'admin', False),
                ('scheduled', 'admin', False),
                ('installed', 'expert', False),
                ('done', 'admin', False)])
        self.assertEqual(application.logs[2].note,
            "تصویر سند خوانا نیست؛ دوباره بفرستید.")

        messages = sms_of(application)
        self.assertEqual(len(messages), 9)
        self.assertIn(application.number, messages[0])
        self.assertIn("تصویر سند خوانا نیست", messages[2])
        self.assertIn("۲۶٬۶۰۰٬۰۰۰ ریال", messages[4])
        self.assertIn("۱۴۰۳/۰۱/۱۵", messages[6])
        self.assertIn(subscription.number, messages[7])

    @with_company
    def test_fee_by_usage_and_diameter(self):
        "The first fee line matching the usage and the diameter is used"
        pool = Pool()
        Application = pool.get('water.application')
        Zone = pool.get('water.zone')
        company = get_company()
        zone, = Zone.create([{'name': "دهکده زیتون", 'company': company.id}])
        create_fees(company)
        application = create_application(zone, diameter='1')
        application.parcel = create_parcel(zone, '1900433013', '433/13')
        application.save()
        Application.submit([application])
        Application.review([application])
        Application.approve([application])
        self.assertEqual(application.sale_invoice.total_amount,
            Decimal('90000000'))

    @with_company
    def test_no_fee(self):
        "Approval fails, and nothing is kept, without a matching fee"
        pool = Pool()
        Application = pool.get('water.application')
        Zone = pool.get('water.zone')
        Invoice = pool.get('account.invoice')
        company = get_company()
        zone, = Zone.create([{'name': "دهکده زیتون", 'company': company.id}])
        application = create_application(zone)
        application.parcel = create_parcel(zone, '1900433014', '433/14')
        application.save()
        Application.submit([application])
        Application.review([application])
        invoices = Invoice.search([])
        with self.assertRaises(UserError):
            Application.approve([application])
        self.assertEqual(Invoice.search([]), invoices)

    @with_company
    def test_reject_and_cancel(self):
        "Rejecting or cancelling needs a reason, which the applicant gets"
        pool = Pool()
        Application = pool.get('water.application')
        Zone = pool.get('water.zone')
        company = get_company()
        zone, = Zone.create([{'name': "دهکده زیتون", 'company': company.id}])
        first = create_application(zone)
        second = create_application(zone, party=first.party)
        Application.submit([first, second])

        for method in [Application.reject, Application.cancel]:
            with self.assertRaises(UserError):
                method([first])
        first.reason = "قطعه خارج از محدوده خدمات است."
        first.save()
        Application.reject([first])
        second.reason = "به درخواست متقاضی"
        second.save()
        Application.cancel([second])

        self.assertEqual((first.state, second.state),
            ('rejected', 'cancelled'))
        self.assertIn("قطعه خارج از محدوده خدمات است.", sms_of(first)[-1])
        self.assertIn("به درخواست متقاضی", sms_of(second)[-1])
        self.assertEqual(first.portal_timeline()[-1][2],
            "قطعه خارج از محدوده خدمات است.")

    @with_company
    def test_cancel_invoiced(self):
        "Cancelling an invoiced application cancels its unpaid invoice"
        pool = Pool()
        Application = pool.get('water.application')
        Zone = pool.get('water.zone')
        company = get_company()
        company.cancel_invoice_out = True
        company.save()
        zone, = Zone.create([{'name': "دهکده زیتون", 'company': company.id}])
        create_fees(company)
        application = create_application(zone)
        application.parcel = create_parcel(zone, '1900433015', '433/15')
        application.save()
        Application.submit([application])
        Application.review([application])
        Application.approve([application])
        self.assertEqual(application.state, 'invoiced')

        application.reason = "متقاضی از خرید ملک منصرف شد."
        application.save()
        Application.cancel([application])
        self.assertEqual(application.state, 'cancelled')
        self.assertEqual(application.sale_invoice.state, 'cancelled')
        self.assertIsNone(application.portal_payable())

    @with_company
    def test_bill_templates(self):
        "The templates of the billing SMS exist and render"
        Template = Pool().get('water.sms.template')
        text = Template.render('bill_issued', name="حسین رضایی",
            subscription='1421', amount=Decimal('1234000'),
            due_date=dt.date(2024, 3, 20), bill_id='1234', payment_id='5678',
            portal_url='https://example.com/portal/')
        self.assertIn("۱٬۲۳۴٬۰۰۰ ریال", text)
        self.assertIn("۱۴۰۳/۰۱/۰۱", text)
        self.assertIsNotNone(Template.render('bill_paid', name="حسین رضایی",
                amount=1000, date=dt.date(2024, 3, 20), reference='X'))

