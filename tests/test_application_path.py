# This file is part of the water utility modules.
"""A connection application from end to end, as the applicant and the
staff live it: a visitor applies on the portal with his documents and gets
his access by SMS; the expert reviews it in the back office and asks for a
document, which the applicant sends from the tracking page; approval posts
the connection-sale invoice, which the applicant pays through a gateway
from the tracking page; the installation gives him a subscription that is
billed like any other. Another subscriber reaches nothing of it."""
import datetime as dt
import io
import re
from decimal import Decimal
from http import HTTPStatus

from trytond.modules.water_billing.tests import fixtures
from trytond.modules.water_billing.tests.test_application import create_fees
from trytond.modules.water_crm import jalali
from trytond.modules.water_crm.tests.test_application_portal import (
    JPEG, PDF, PNG, national_code)
from trytond.modules.water_crm.tests.test_crm import (
    as_user, create_parcel, create_user, create_zone)
from trytond.modules.water_crm.tests.test_portal import hidden
from trytond.modules.water_payment_gateway.tests.test_portal_pay import (
    OTHER_PASSWORD, GatewayDatabase, committed, csrf, read)
from trytond.pool import Pool

MOBILE = '09151110001'
PASSWORD = 'a-long-new-password'


def fa(value):
    "An amount as the portal writes it"
    return jalali.to_persian_digits(f'{int(value):,}'.replace(',', '٬'))


class ApplicationPathTestCase(GatewayDatabase):
    "apply → review → documents → approve → pay online → install → bill"

    @classmethod
    def setUpDatabase(cls):
        ids = super().setUpDatabase()
        company = fixtures.get_company()
        zone = create_zone(company, "دهکده بید")
        create_fees(company)
        expert = create_user('path-expert', company,
            ['group_water', 'group_water_connection_expert'])
        return dict(ids, zone=zone.id, expert=expert.id,
            usage=Pool().get('ir.model.data').get_id(
                'water_crm', 'usage_residential_villa'))

    def staff(self, action):
        """Run action(application) as the expert, access checked, and
        commit"""
        def run():
            pool = Pool()
            Application = pool.get('water.application')
            User = pool.get('res.user')
            with as_user(User(self.ids['expert'])):
                application, = Application.search([
                        ('mobile', '=', MOBILE)])
                return action(application)
        return committed(run)

    def stored(self):
        def get():
            Application = Pool().get('water.application')
            application, = Application.search([('mobile', '=', MOBILE)])
            return {
                'state': application.state,
                'invoice': (application.sale_invoice.id
                    if application.sale_invoice else None),
                'invoice_state': application.sale_invoice_state,
                'subscription': (application.subscription.id
                    if application.subscription else None),
                'documents': sorted(d.application_document
                    for d in application.documents),
                }
        return read(get)

    def sms(self):
        "The SMS to the applicant's mobile, the first first"
        def get():
            Sms = Pool().get('water.sms')
            return [s.body for s in Sms.search([('mobile', '=', MOBILE)],
                    order=[('id', 'ASC')])]
        return read(get)

    def test_whole_path(self):
        today = committed(lambda: Pool().get('ir.date').today())

        # a visitor applies with two documents
        visitor = self.client()
        form = visitor.get('/portal/applications/new')
        self.assertEqual(form.status_code, HTTPStatus.OK)
        response = visitor.post('/portal/applications/new', data={
                'csrf_token': csrf(form),
                'first_name': "نرگس", 'last_name': "امینی",
                'national_code': national_code('062417358'),
                'phone': '02612345678', 'mobile': MOBILE,
                'address': "کرج، دهکده بید، کوچه ۷",
                'zone': str(self.ids['zone']), 'parcel_number': '512/4',
                'usage': str(self.ids['usage']), 'housing_units': '۲',
                'national_card': (io.BytesIO(PNG), 'کارت.png'),
                'deed': (io.BytesIO(PDF), 'سند.pdf'),
                }, content_type='multipart/form-data')
        self.assertEqual(response.status_code, HTTPStatus.OK)
        number = re.search(r'id="tracking-code">([^<]+)<',
            response.text).group(1)
        self.assertEqual(self.stored()['state'], 'submitted')

        # and gets his access with the code sent to his mobile
        code = re.search(r'\b[0-9]{6}\b', self.sms()[-1]).group(0)
        response = visitor.post('/portal/applications/access', data={
                'csrf_token': csrf(response), 'key': hidden(response, 'key'),
                'number': number, 'code': code,
                'password': PASSWORD, 'confirm': PASSWORD,
                })
        self.assertEqual(response.status_code, HTTPStatus.SEE_OTHER)
        tracking = response.location
        applicant = visitor

        # the expert takes it and asks for the building permit
        def request_documents(application):
            Application = Pool().get('water.application')
            Application.review([application])
            application.note = "تصویر پروانه ساختمان را بفرستید."
            application.requested_documents = ['building_permit']
            application.save()
            Application.request_documents([application])
        self.staff(request_documents)
        self.assertEqual(self.stored()['state'], 'documents')

        page = applicant.get(tracking)
        self.assertIn('id="expert-note"', page.text)
        self.assertIn("تصویر پروانه ساختمان را بفرستید.", page.text)
        response = applicant.post(
            tracking + '/documents', data={
                'csrf_token': csrf(page),
                'building_permit': (io.BytesIO(JPEG), 'پروانه.jpg'),
                }, content_type='multipart/form-data')
        self.assertEqual(response.status_code, HTTPStatus.SEE_OTHER)
        self.assertEqual(self.stored()['state'], 'review')
        self.assertEqual(self.stored()['documents'],
            ['building_permit', 'deed', 'national_card'])

        # the expert names the parcel and approves: the invoice is posted
        def approve(application):
            Application = Pool().get('water.application')
            application.parcel = create_parcel(
                application.zone, '1900512004', '512/4')
            application.sewer = True
            application.save()
            Application.approve([application])
        self.staff(approve)
        stored = self.stored()
        self.assertEqual((stored['state'], stored['invoice_state']),
            ('invoiced', 'posted'))
        # 12,000,000 + 2 × 3,500,000 and 40% of it for the sewage
        total = Decimal('26600000')
        self.assertIn(fa(total), self.sms()[-1])

        # the applicant pays it from the tracking page
        page = applicant.get(tracking)
        self.assertIn('id="invoice"', page.text)
        self.assertIn(fa(total), page.text)
        pay_path = f'/portal/invoices/{stored["invoice"]}/pay'
        self.assertIn(f'href="{pay_path}" id="pay"', page.text)
        # nobody else pays or sees it
        other = self.logged_in('2001', OTHER_PASSWORD)
        for path in [tracking, pay_path]:
            with self.subTest(path=path):
                response = other.get(path)
                self.assertEqual(response.status_code, HTTPStatus.NOT_FOUND)
                self.assertNotIn(number, response.text)
        self.assertNotIn(number, other.get('/portal/applications').text)

        bank = self.choose(applicant, pay_path, 'sadad')
        callback, = self.at_bank(bank, 'approve')
        response = self.back(applicant, callback)
        self.assertEqual(response.status_code, HTTPStatus.SEE_OTHER)
        stored = self.stored()
        self.assertEqual((stored['state'], stored['invoice_state']),
            ('paid', 'paid'))
        self.assertIn("پرداخت صورتحساب فروش انشعاب", self.sms()[-1])
        page = applicant.get(tracking)
        self.assertNotIn('id="pay"', page.text)
        self.assertNotIn('id="invoice"', page.text)

        # the expert schedules and installs it
        installed = today - dt.timedelta(days=60)

        def install(application):
            Application = Pool().get('water.application')
            application.installation_date = installed
            application.save()
            Application.schedule([application])
            application.meter_serial = 'BD-5124'
            application.initial_reading = 7
            application.save()
            Application.install([application])
            Application.done([application])
        self.staff(install)
        stored = self.stored()
        self.assertEqual(stored['state'], 'done')

        def subscription_number():
            return Pool().get('water.subscription')(
                stored['subscription']).number
        subscription = read(subscription_number)
        self.assertIn(subscription, self.sms()[-1])
        page = applicant.get(tracking)
        self.assertIn(jalali.to_persian_digits(subscription), page.text)
        # he is a subscriber now: his dashboard shows the subscription
        response = applicant.get('/portal/dashboard')
        self.assertEqual(response.location,
            f'/portal/subscriptions/{stored["subscription"]}')
        dashboard = applicant.get(response.location)
        self.assertEqual(dashboard.status_code, HTTPStatus.OK)
        self.assertIn(jalali.to_persian_digits(subscription), dashboard.text)

        # and the new subscription is billed like any other
        def bill():
            Subscription = Pool().get('water.subscription')
            record = Subscription(stored['subscription'])
            bill_, = fixtures.bill(
                [fixtures.read_meter(record, today, 37)])
            return (bill_.state, bill_.days, bill_.consumption,
                bill_.invoice.state, bill_.invoice.total_amount,
                bill_.party.id, record.party.id)
        state, days, consumption, invoice_state, amount, party, owner = (
            committed(bill))
        self.assertEqual((state, days, consumption, invoice_state),
            ('posted', 60, 30, 'posted'))
        self.assertGreater(amount, 0)
        self.assertEqual(party, owner)
