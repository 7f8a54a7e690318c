# This file is part of the water utility modules.
"""Paying on the portal through the bank simulator, as a browser does:
choose a gateway for a bill or an invoice, pay (or not) at the bank, come
back through the callback, see the receipt and the bill paid. Nothing
lost, nothing paid twice; a subscriber reaches nothing of another."""
import datetime as dt
import re
import threading
import unittest
from http import HTTPStatus
from unittest.mock import patch
from urllib.parse import parse_qsl, urljoin, urlsplit

import requests
from werkzeug.test import Client

from trytond import backend, config
from trytond.modules.water_crm.cli import learn
from trytond.modules.water_crm.tests import set_water
from trytond.cache import Cache
from trytond.exceptions import UserError
from trytond.modules.water_billing.tests import fixtures
from trytond.pool import Pool
from trytond.protocols.wrappers import Response
from trytond.tests.test_tryton import (
    DB_NAME, activate_module, backup_db_cache, drop_db, restore_db_cache)
from trytond.transaction import Transaction, TransactionError
from trytond.wsgi import app

from .. import lifecycle, payment
from ..simulator import (
    DEMO_MELLAT, DEMO_SADAD, DEMO_ZARINPAL, PAID, REVERSED, SETTLED,
    BankSimulator)
from .payment_tools import _cache_name, _setup
from .test_simulator import forms

PASSWORD = 'blue-water-1421'
OTHER_PASSWORD = 'green-river-2001'
CALLBACK_BASE = 'http://localhost'
NUMBERS = iter(range(3001, 9999))


def csrf(response):
    match = re.search(r'name="csrf_token" value="([^"]+)"', response.text)
    return match.group(1) if match else None


def committed(func):
    "Run func as the admin with his company and commit"
    extras = {'_lock_tables': list(fixtures.LOCKED_TABLES)}
    while True:
        with Transaction().start(DB_NAME, 1, **extras) as transaction:
            try:
                User = Pool().get('res.user')
                with transaction.set_context(
                        User.get_preferences(context_only=True)):
                    result = func()
            except TransactionError as exception:
                transaction.rollback()
                learn(exception, extras)
                continue
            transaction.commit()
            Cache.drop(DB_NAME)
            return result


def read(func):
    "The result of func in a transaction of its own, rolled back"
    with Transaction().start(DB_NAME, 0, context={'company': 1}):
        return func()


def create_gateway_journal():
    "A payment journal of the gateways clearing through its own account"
    pool = Pool()
    Account = pool.get('account.account')
    Journal = pool.get('account.journal')
    PaymentJournal = pool.get('account.payment.journal')
    company = fixtures.get_company()
    cash, = Account.search([('code', '=', '1.1.1')])
    account = Account(company=company, code='1.1.6',
        name="Gateway Clearing", parent=cash.parent, type=cash.type,
        reconcile=True)
    account.save()
    clearing_journal, = Journal.search([('code', '=', 'CASH')])
    journal = PaymentJournal(name="درگاه پرداخت", company=company,
        currency=company.currency, process_method='water_gateway',
        clearing_account=account, clearing_journal=clearing_journal)
    journal.save()
    return journal


def create_gateways(journal, url, timeout=5):
    "A gateway account of each provider at the simulator"
    Gateway = Pool().get('water.payment.gateway')
    company = fixtures.get_company()
    common = {'company': company.id, 'journal': journal.id, 'base_url': url,
        'callback_base_url': CALLBACK_BASE, 'timeout': timeout}
    return Gateway.create([
            dict(common, name="سداد", provider='sadad', sequence=1,
                merchant_id=DEMO_SADAD.merchant_id,
                terminal_id=DEMO_SADAD.terminal_id,
                terminal_key=DEMO_SADAD.terminal_key, verify_window=15),
            dict(common, name="ملت", provider='mellat', sequence=2,
                terminal_id=DEMO_MELLAT.terminal_id,
                user_name=DEMO_MELLAT.user_name,
                user_password=DEMO_MELLAT.user_password, verify_window=20),
            dict(common, name="زرین‌پال", provider='zarinpal', sequence=3,
                zarinpal_merchant=DEMO_ZARINPAL.merchant_id,
                verify_window=30),
            ])


class GatewayDatabase(unittest.TestCase):
    """A committed database with the gateways at a simulator of the
    class, subscribers 1421 and 2001 with posted bills and portal logins"""
    ids = {}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        drop_db()
        if not restore_db_cache(_cache_name()):
            activate_module('water_payment_gateway')
            _setup()
            backup_db_cache(_cache_name())
        # after the set-up: proteus reads the server's configuration again
        # (a TRYTOND_CONFIG of the environment may name another database)
        set_water('database', DB_NAME)
        cls.simulator = BankSimulator().start()
        cls.ids = committed(cls.setUpDatabase)

    @classmethod
    def tearDownClass(cls):
        cls.simulator.stop()
        drop_db()
        config.set('water', 'database', '')
        super().tearDownClass()

    @classmethod
    def setUpDatabase(cls):
        pool = Pool()
        User = pool.get('web.user')
        fixtures.import_tariffs()
        journal = create_gateway_journal()
        gateways = create_gateways(journal, cls.simulator.url)
        s1421 = fixtures.create_subscriber(1421,
            install_date='1397/01/01', initial_reading=100,
            name="حسین رضایی")
        bills = [fixtures.bill([fixtures.read_meter(s1421, d, v)])[0]
            for d, v in [('1397/03/01', 120), ('1397/05/01', 150),
                ('1397/07/01', 175), ('1397/09/01', 200)]]
        fixtures.add_mobile(s1421.party)
        s2001 = fixtures.create_subscriber(2001,
            install_date='1397/01/01', initial_reading=500,
            name="مریم کاظمی")
        other, = fixtures.bill([fixtures.read_meter(
                    s2001, '1397/10/01', 537)])
        users = User.create([
                {'party': s1421.party.id,
                    'password_hash': User.hash_password(PASSWORD)},
                {'party': s2001.party.id,
                    'password_hash': User.hash_password(OTHER_PASSWORD)},
                ])
        return {
            'journal': journal.id,
            'gateways': {g.provider: g.id for g in gateways},
            'bills': [b.id for b in bills],
            'other_bill': other.id,
            'other_invoice': other.invoice.id,
            'party': s1421.party.id,
            'other_party': s2001.party.id,
            'users': [u.id for u in users],
            }

    def setUp(self):
        super().setUp()
        patcher = patch('trytond.modules.water_crm.portal_user.sleep')
        patcher.start()
        self.addCleanup(patcher.stop)
        self.bill_id = committed(self.new_bill)

    def new_bill(self):
        """A posted bill of a new subscription of 1421's, that no other
        test pays"""
        Party = Pool().get('party.party')
        number = next(NUMBERS)
        # invoices are numbered in date order: after those of the class
        subscription = fixtures.create_subscriber(number,
            install_date='1404/10/01', initial_reading=100)
        subscription.party = Party(self.ids['party'])
        subscription.save()
        bill, = fixtures.bill([fixtures.read_meter(
                    subscription, '1404/12/01', 131)])
        return bill.id

    # The browser

    def client(self):
        return Client(app, Response)

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

    def choose(self, client, path, provider):
        """Choose the gateway of provider on the pay page at path: the
        bank page's address (GET) or form (POST) as (url, method, fields)
        """
        page = client.get(path)
        self.assertEqual(page.status_code, HTTPStatus.OK, page.text)
        response = client.post(path, data={
                'csrf_token': csrf(page),
                'gateway': str(self.ids['gateways'][provider]),
                })
        if response.status_code == HTTPStatus.SEE_OTHER:
            location = urlsplit(response.headers['Location'])
            return (location._replace(query='').geturl(), 'GET',
                dict(parse_qsl(location.query)))
        self.assertEqual(response.status_code, HTTPStatus.OK, response.text)
        form, = forms(response.text)
        return form['action'], form['method'], form['fields']

    def at_bank(self, bank, decision, paid_amount=None):
        """Press decision on the bank's page: the forms sending the browser
        back, as (path, method, fields)"""
        url, method, fields = bank
        if method == 'GET':
            page = requests.get(url, params=fields, timeout=5)
        else:
            page = requests.post(url, data=fields, timeout=5)
        page.raise_for_status()
        form, = forms(page.text)
        data = dict(form['fields'], decision=decision)
        if paid_amount is not None:
            data['paid_amount'] = str(paid_amount)
        answer = requests.post(urljoin(page.url, form['action']), data=data,
            timeout=5)
        answer.raise_for_status()
        return [(urlsplit(f['action']).path, f['method'], f['fields'])
            for f in forms(answer.text)]

    def back(self, client, callback):
        "The browser brings the callback back"
        path, method, fields = callback
        if method == 'GET':
            return client.get(path, query_string=fields)
        return client.post(path, data=fields)

    def pay(self, provider, decision='approve', client=None,
            paid_amount=None):
        """Pay the test's bill with provider through decision: the client,
        the callbacks and the response to the first"""
        client = client or self.logged_in()
        bank = self.choose(client, self.bill_path(), provider)
        callbacks = self.at_bank(bank, decision, paid_amount)
        response = self.back(client, callbacks[0]) if callbacks else None
        return client, callbacks, response

    def bill_path(self):
        return f'/portal/bills/{self.bill_id}/pay'

    # The database

    def transactions(self, **domain):
        def search():
            Transaction_ = Pool().get('water.payment.transaction')
            return [{
                    'id': t.id, 'number': t.number, 'state': t.state,
                    'token': t.token, 'rrn': t.rrn, 'amount': t.amount,
                    'review': t.review, 'trace_number': t.trace_number,
                    'payments': [(p.amount, p.state) for p in t.payments],
                    } for t in Transaction_.search(
                    [(k, '=', v) for k, v in domain.items()],
                    order=[('id', 'ASC')])]
        return read(search)

    def steps(self, transaction_id):
        "The steps of the bank's messages of a transaction"
        def search():
            Log = Pool().get('water.payment.transaction.log')
            return [l.step for l in Log.search(
                    [('transaction', '=', transaction_id)])]
        return read(search)

    def last_transaction(self):
        return self.transactions()[-1]

    def payments(self, reference):
        def search():
            Payment = Pool().get('account.payment')
            return [(p.amount, p.state, p.line is not None)
                for p in Payment.search([('reference', '=', reference)])]
        return read(search)

    def bill_paid(self):
        def paid():
            Bill = Pool().get('water.bill')
            return Bill(self.bill_id).paid
        return read(paid)

    def age(self, transaction_id, minutes):
        "Make the transaction minutes older"
        def update():
            Transaction_ = Pool().get('water.payment.transaction')
            table = Transaction_.__table__()
            cursor = Transaction().connection.cursor()
            record = Transaction_(transaction_id)
            delta = dt.timedelta(minutes=minutes)
            cursor.execute(*table.update(
                    [table.create_date, table.redirected_at],
                    [record.create_date - delta,
                        (record.redirected_at or record.create_date)
                        - delta],
                    where=table.id == transaction_id))
        committed(update)

    def recover(self):
        def run():
            Pool().get('water.payment.transaction').recover()
        committed(run)


class PortalPayTestCase(GatewayDatabase):
    "Test paying bills and invoices on the portal"

    def test_bill_page_pay_link(self):
        "The bill page links to its pay page and the menu to the payments"
        client = self.logged_in()
        response = client.get(f'/portal/bills/{self.bill_id}')

        self.assertEqual(response.status_code, HTTPStatus.OK)
        self.assertIn(f'href="/portal/bills/{self.bill_id}/pay"',
            response.text)
        self.assertNotIn('disabled', re.search(
                r'<[^>]*id="pay"[^>]*>', response.text).group(0))
        self.assertIn('href="/portal/payments"', response.text)

    def test_pay_page(self):
        "The pay page shows the amount and the active gateways"
        client = self.logged_in()
        response = client.get(self.bill_path())

        self.assertEqual(response.status_code, HTTPStatus.OK)
        for name in ["سداد", "ملت", "زرین‌پال"]:
            self.assertIn(f'>{name}</label>', response.text)
        self.assertIn('id="pay-amount"', response.text)
        # the browser may follow the form to the bank
        self.assertRegex(response.headers['Content-Security-Policy'],
            "form-action 'self' " + re.escape(self.simulator.url))

    def check_paid(self, response, transaction):
        self.assertEqual(response.status_code, HTTPStatus.SEE_OTHER)
        self.assertEqual(response.headers['Location'],
            f'/portal/payments/{transaction["id"]}')
        self.assertEqual(transaction['state'], lifecycle.SUCCEEDED)
        self.assertEqual(len(transaction['payments']), 1)
        (amount, state), = transaction['payments']
        self.assertEqual((amount, state), (transaction['amount'],
                'succeeded'))
        self.assertTrue(self.bill_paid())

    def test_pay_bill_sadad(self):
        "A bill paid through Sadad: verified, paid, receipt, bill paid"
        client, _, response = self.pay('sadad')

        transaction = self.last_transaction()
        self.check_paid(response, transaction)
        self.assertTrue(transaction['rrn'])
        self.assertTrue(transaction['trace_number'])
        receipt = client.get(response.headers['Location'])
        self.assertEqual(receipt.status_code, HTTPStatus.OK)
        text = receipt.text
        from trytond.modules.water_crm.jalali import to_persian_digits as fa
        for value in [transaction['number'], transaction['rrn'],
                transaction['trace_number']]:
            self.assertIn(fa(value), text)
        self.assertIn('پرداخت با موفقیت انجام و ثبت شد', text)
        self.assertIn(f'{int(transaction["amount"]):,}'.replace(',', '٬')
            .translate(str.maketrans('0123456789', '۰۱۲۳۴۵۶۷۸۹')), text)
        bill = client.get(f'/portal/bills/{self.bill_id}')
        self.assertIn('پرداخت‌شده', bill.text)
        self.assertIsNone(re.search(r'id="pay"', bill.text))
        payments = client.get('/portal/payments')
        self.assertIn(f'id="transaction-{transaction["id"]}"',
            payments.text)
        self.assertIn(fa(transaction['number']), payments.text)
        self.assertIn('<td>پرداخت برخط</td>', payments.text)

        def sms():
            Sms = Pool().get('water.sms')
            return [s.mobile for s in Sms.search([])]
        self.assertIn('09121234567', read(sms))

    def test_pay_bill_mellat(self):
        "A bill paid through Mellat: posted to the bank, verified, settled"
        client, _, response = self.pay('mellat')

        transaction = self.last_transaction()
        self.check_paid(response, transaction)
        self.assertEqual(
            self.simulator.transaction(transaction['token']).state, SETTLED)

    def test_pay_bill_zarinpal(self):
        "A bill paid through Zarinpal: a GET callback, verified"
        client, (callback,), response = self.pay('zarinpal')

        self.assertEqual(callback[1], 'GET')
        transaction = self.last_transaction()
        self.check_paid(response, transaction)

    def test_pay_invoice(self):
        "Any posted invoice of the party pays the same way"
        client = self.logged_in()
        invoice_id = read(lambda: Pool().get('water.bill')(
                self.ids['bills'][3]).invoice.id)
        path = f'/portal/invoices/{invoice_id}/pay'
        bank = self.choose(client, path, 'sadad')
        callback, = self.at_bank(bank, 'approve')
        response = self.back(client, callback)

        transaction = self.last_transaction()
        self.assertEqual(response.status_code, HTTPStatus.SEE_OTHER)
        self.assertEqual(transaction['state'], lifecycle.SUCCEEDED)
        state = read(lambda: Pool().get('account.invoice')(
                invoice_id).state)
        self.assertEqual(state, 'paid')
        again = client.get(path)
        self.assertIn('id="pay-done"', again.text)

    def test_other_subscriber(self):
        "Another subscriber's bill, invoice or receipt gives 404, no data"
        client, _, response = self.pay('sadad', decision='cancel')
        mine = self.last_transaction()
        other = self.logged_in('2001', OTHER_PASSWORD)
        for path in [self.bill_path(),
                f'/portal/payments/{mine["id"]}']:
            with self.subTest(path=path):
                response = other.get(path)
                self.assertEqual(response.status_code, HTTPStatus.NOT_FOUND)
                self.assertNotIn('رضایی', response.text)
        response = client.get(f'/portal/bills/{self.ids["other_bill"]}/pay')
        self.assertEqual(response.status_code, HTTPStatus.NOT_FOUND)
        response = client.get(
            f'/portal/invoices/{self.ids["other_invoice"]}/pay')
        self.assertEqual(response.status_code, HTTPStatus.NOT_FOUND)
        self.assertNotIn('کاظمی', response.text)
        page = client.get(self.bill_path())
        response = client.post(
            f'/portal/bills/{self.ids["other_bill"]}/pay', data={
                'csrf_token': csrf(page),
                'gateway': str(self.ids['gateways']['sadad']),
                })
        self.assertEqual(response.status_code, HTTPStatus.NOT_FOUND)
        self.assertEqual(
            self.transactions(party=self.ids['other_party']), [])
        payments = other.get('/portal/payments')
        self.assertNotIn(mine['number'], payments.text)

    def test_login_required(self):
        "The pay pages need a login; a POST needs the CSRF token"
        response = self.client().get(self.bill_path())
        self.assertEqual(response.status_code, HTTPStatus.SEE_OTHER)
        self.assertIn('/portal/login', response.headers['Location'])
        client = self.logged_in()
        response = client.post(self.bill_path(), data={
                'gateway': str(self.ids['gateways']['sadad'])})
        self.assertEqual(response.status_code, HTTPStatus.FORBIDDEN)

    def test_cancel(self):
        "A cancelled payment pays nothing; the receipt says so"
        client, _, response = self.pay('mellat', decision='cancel')

        transaction = self.last_transaction()
        self.assertEqual(transaction['state'], lifecycle.CANCELLED)
        self.assertEqual(transaction['payments'], [])
        receipt = client.get(response.headers['Location'])
        self.assertIn('پرداخت انجام نشد', receipt.text)

    def test_forged_callback(self):
        "A success callback the bank does not confirm pays nothing"
        client = self.logged_in()
        url, method, fields = self.choose(client, self.bill_path(), 'sadad')
        transaction = self.last_transaction()
        response = client.post(
            f'/portal/gateway/callback/{transaction["number"]}', data={
                'OrderId': transaction['number'], 'Token': fields['Token'],
                'ResCode': '0'})

        transaction = self.last_transaction()
        self.assertEqual(response.status_code, HTTPStatus.SEE_OTHER)
        self.assertEqual(transaction['state'], lifecycle.RETURNED)
        self.assertEqual(transaction['payments'], [])
        self.assertFalse(self.bill_paid())

    def test_token_mismatch(self):
        "A callback with another token or order is refused, nothing changes"
        client = self.logged_in()
        self.choose(client, self.bill_path(), 'sadad')
        transaction = self.last_transaction()
        for fields in [
                {'OrderId': transaction['number'], 'Token': 'FORGED',
                    'ResCode': '0'},
                {'OrderId': '1', 'Token': transaction['token'],
                    'ResCode': '0'}]:
            response = self.client().post(
                f'/portal/gateway/callback/{transaction["number"]}',
                data=fields)
            self.assertEqual(response.status_code, HTTPStatus.BAD_REQUEST)
        self.assertEqual(self.last_transaction()['state'],
            lifecycle.REDIRECTED)
        response = self.client().post('/portal/gateway/callback/999999999')
        self.assertEqual(response.status_code, HTTPStatus.NOT_FOUND)

    def test_double_callback(self):
        "The callback sent twice, then replayed, pays once"
        client, callbacks, response = self.pay('sadad', decision='twice')
        self.assertEqual(len(callbacks), 2)
        second = self.back(client, callbacks[1])
        replay = self.back(self.client(), callbacks[0])

        transaction = self.last_transaction()
        self.assertEqual(transaction['state'], lifecycle.SUCCEEDED)
        for answer in [response, second, replay]:
            self.assertEqual(answer.status_code, HTTPStatus.SEE_OTHER)
        self.assertEqual(len(self.payments(transaction['number'])), 1)

    def test_amount_mismatch_sadad(self):
        """Sadad verifies another amount: no payment, kept for review (its
        protocol has no reversal)"""
        self.pay('sadad', decision='other_amount', paid_amount=1000)

        transaction = self.last_transaction()
        self.assertEqual(transaction['state'], lifecycle.FAILED)
        self.assertTrue(transaction['review'])
        self.assertEqual(transaction['payments'], [])

    def test_amount_mismatch_mellat(self):
        "Mellat took another amount: reversed at the bank, no payment"
        self.pay('mellat', decision='other_amount', paid_amount=1000)

        transaction = self.last_transaction()
        self.assertEqual(transaction['state'], lifecycle.REVERSED)
        self.assertEqual(transaction['payments'], [])
        self.assertEqual(
            self.simulator.transaction(transaction['token']).state, REVERSED)

    def test_amount_mismatch_zarinpal(self):
        "Zarinpal refuses to verify another amount: failed, no payment"
        self.pay('zarinpal', decision='other_amount', paid_amount=1000)

        transaction = self.last_transaction()
        self.assertEqual(transaction['state'], lifecycle.FAILED)
        self.assertEqual(transaction['payments'], [])

    def test_server_error_retried(self):
        "A 500 of the bank's verify is retried at once, paying once"
        client = self.logged_in()
        bank = self.choose(client, self.bill_path(), 'zarinpal')
        callback, = self.at_bank(bank, 'approve')
        self.simulator.fail_next(500)
        self.back(client, callback)

        transaction = self.last_transaction()
        self.assertEqual(transaction['state'], lifecycle.SUCCEEDED)
        self.assertEqual(len(transaction['payments']), 1)

    def test_bank_down_then_cron(self):
        """The bank answers nothing but errors: the transaction waits,
        then the cron verifies it and pays once"""
        client = self.logged_in()
        bank = self.choose(client, self.bill_path(), 'sadad')
        callback, = self.at_bank(bank, 'approve')
        for _ in range(3):
            self.simulator.fail_next(503)
        response = self.back(client, callback)

        transaction = self.last_transaction()
        self.assertEqual(response.status_code, HTTPStatus.SEE_OTHER)
        self.assertEqual(transaction['state'], lifecycle.RETURNED)
        receipt = client.get(response.headers['Location'])
        self.assertIn('هنوز از بانک دریافت نشده', receipt.text)
        self.age(transaction['id'], 3)
        self.recover()
        self.recover()

        transaction = self.last_transaction()
        self.assertEqual(transaction['state'], lifecycle.SUCCEEDED)
        self.assertEqual(len(self.payments(transaction['number'])), 1)

    def set_timeout(self, provider, timeout):
        def write():
            Gateway = Pool().get('water.payment.gateway')
            Gateway.write([Gateway(self.ids['gateways'][provider])],
                {'timeout': timeout})
        committed(write)

    def test_timeout_retried(self):
        """The answer to verify comes too late: the bank verified it, the
        retry gets 'already verified' and pays once"""
        self.set_timeout('sadad', 1)
        self.addCleanup(self.set_timeout, 'sadad', 5)
        client = self.logged_in()
        bank = self.choose(client, self.bill_path(), 'sadad')
        callback, = self.at_bank(bank, 'approve')
        self.simulator.delay_next(1.5)
        self.back(client, callback)

        transaction = self.last_transaction()
        self.assertEqual(transaction['state'], lifecycle.SUCCEEDED)
        self.assertEqual(len(self.payments(transaction['number'])), 1)

    def test_verify_answers_lost_zarinpal(self):
        """Zarinpal verified but every answer was lost: the payment is no
        longer in its unverified list, the cron verifies it anyway (101,
        already verified) and pays once"""
        self.set_timeout('zarinpal', 1)
        self.addCleanup(self.set_timeout, 'zarinpal', 5)
        client = self.logged_in()
        bank = self.choose(client, self.bill_path(), 'zarinpal')
        callback, = self.at_bank(bank, 'approve')
        for _ in range(3):
            self.simulator.delay_next(1.5)
        self.back(client, callback)
        transaction = self.last_transaction()
        self.assertEqual(transaction['state'], lifecycle.RETURNED)
        self.age(transaction['id'], 3)
        self.recover()

        transaction = self.last_transaction()
        self.assertEqual(transaction['state'], lifecycle.SUCCEEDED)
        self.assertEqual(len(self.payments(transaction['number'])), 1)

    def test_mellat_verify_lost_inquiry(self):
        """Mellat verified but its answers were lost: the inquiry tells the
        verify was made, the sale is settled and paid once"""
        self.set_timeout('mellat', 1)
        self.addCleanup(self.set_timeout, 'mellat', 5)
        client = self.logged_in()
        bank = self.choose(client, self.bill_path(), 'mellat')
        callback, = self.at_bank(bank, 'approve')
        for _ in range(3):
            self.simulator.delay_next(1.5)
        self.back(client, callback)

        transaction = self.last_transaction()
        self.assertEqual(transaction['state'], lifecycle.SUCCEEDED)
        self.assertEqual(len(self.payments(transaction['number'])), 1)
        self.assertEqual(self.simulator.transaction(transaction['token'])
            .state, SETTLED)
        self.assertIn('inquiry', self.steps(transaction['id']))

    def test_mellat_verify_unanswered_inquiry(self):
        """Mellat's verify never reached the bank: the inquiry says so, the
        cron verifies, settles and pays once"""
        client = self.logged_in()
        bank = self.choose(client, self.bill_path(), 'mellat')
        callback, = self.at_bank(bank, 'approve')
        for _ in range(3):
            self.simulator.fail_next(503)
        self.back(client, callback)

        transaction = self.last_transaction()
        self.assertEqual(transaction['state'], lifecycle.RETURNED)
        self.assertEqual(self.simulator.transaction(transaction['token'])
            .state, PAID)
        self.age(transaction['id'], 3)
        self.recover()

        transaction = self.last_transaction()
        self.assertEqual(transaction['state'], lifecycle.SUCCEEDED)
        self.assertEqual(len(self.payments(transaction['number'])), 1)

    def test_mellat_unknown_reversed(self):
        """Neither Mellat's verify nor its inquiry answers: the manual's
        reversal gives the money back, nothing is paid"""
        client = self.logged_in()
        bank = self.choose(client, self.bill_path(), 'mellat')
        callback, = self.at_bank(bank, 'approve')
        for _ in range(6):
            self.simulator.fail_next(503)
        self.back(client, callback)

        transaction = self.last_transaction()
        self.assertEqual(transaction['state'], lifecycle.REVERSED)
        self.assertFalse(transaction['review'])
        self.assertEqual(transaction['payments'], [])
        self.assertEqual(self.simulator.transaction(transaction['token'])
            .state, REVERSED)
        self.recover()
        self.assertEqual(self.last_transaction()['state'],
            lifecycle.REVERSED)
        self.assertFalse(self.bill_paid())

    def test_booking_refused_then_cron(self):
        """The accounts refuse the payment of a verified transaction: the
        subscriber sees it paid and being booked, the cron books it"""
        client = self.logged_in()
        bank = self.choose(client, self.bill_path(), 'sadad')
        callback, = self.at_bank(bank, 'approve')
        with patch.object(payment.Bill, 'receive',
                side_effect=UserError("closed period")):
            response = self.back(client, callback)

        transaction = self.last_transaction()
        self.assertEqual(response.status_code, HTTPStatus.SEE_OTHER)
        self.assertEqual(transaction['state'], lifecycle.VERIFIED)
        self.assertEqual(transaction['payments'], [])
        receipt = client.get(response.headers['Location'])
        self.assertIn('در حال ثبت', receipt.text)
        self.recover()

        transaction = self.last_transaction()
        self.assertEqual(transaction['state'], lifecycle.SUCCEEDED)
        self.assertEqual(len(transaction['payments']), 1)

    def test_never_return_sadad(self):
        "A browser that never returns: the cron verifies and pays"
        client, callbacks, _ = self.pay('sadad', decision='never_return')
        self.assertEqual(callbacks, [])
        transaction = self.last_transaction()
        self.assertEqual(transaction['state'], lifecycle.REDIRECTED)
        self.recover()
        # too recent for the cron: the browser may still come
        self.assertEqual(self.last_transaction()['state'],
            lifecycle.REDIRECTED)
        self.age(transaction['id'], 3)
        self.recover()

        transaction = self.last_transaction()
        self.assertEqual(transaction['state'], lifecycle.SUCCEEDED)
        self.assertEqual(len(transaction['payments']), 1)

    def test_never_return_zarinpal(self):
        "Zarinpal's unverified listing lets the cron verify and pay"
        self.pay('zarinpal', decision='never_return')
        transaction = self.last_transaction()
        self.age(transaction['id'], 3)
        self.recover()

        transaction = self.last_transaction()
        self.assertEqual(transaction['state'], lifecycle.SUCCEEDED)
        self.assertEqual(len(transaction['payments']), 1)

    def test_never_return_expired(self):
        """Past the verify window the bank reversed the payment: the cron
        expires the transaction, nothing is paid"""
        for provider in ['sadad', 'mellat']:
            with self.subTest(provider=provider):
                self.pay(provider, decision='never_return')
                transaction = self.last_transaction()
                self.simulator.advance(21 * 60)
                self.age(transaction['id'], 21)
                self.recover()

                transaction = self.last_transaction()
                self.assertEqual(transaction['state'], lifecycle.EXPIRED)
                self.assertEqual(transaction['payments'], [])

    def test_unpaid_not_expired_early(self):
        "A payment not made yet stays pending until its window ends"
        client = self.logged_in()
        self.choose(client, self.bill_path(), 'sadad')
        transaction = self.last_transaction()
        self.age(transaction['id'], 5)
        self.recover()
        self.assertEqual(self.last_transaction()['state'],
            lifecycle.REDIRECTED)
        self.age(transaction['id'], 11)
        self.recover()
        self.assertEqual(self.last_transaction()['state'],
            lifecycle.EXPIRED)


@unittest.skipUnless(backend.name == 'postgresql',
    "SQLite runs one writing transaction at a time: nothing to race")
class ConcurrentCallbackTestCase(GatewayDatabase):
    "Test two callbacks of one transaction at the same time"

    def test_concurrent_callbacks(self):
        "Two callbacks at once on PostgreSQL pay once"
        client = self.logged_in()
        bank = self.choose(client, self.bill_path(), 'sadad')
        callback, = self.at_bank(bank, 'approve')
        # the bank answers slowly, so both wait on the row together
        self.simulator.delay_next(0.5)
        responses = []
        barrier = threading.Barrier(2)

        def send():
            browser = self.client()
            barrier.wait()
            responses.append(self.back(browser, callback).status_code)
        threads = [threading.Thread(target=send) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        transaction = self.last_transaction()
        self.assertEqual(responses, [HTTPStatus.SEE_OTHER] * 2)
        self.assertEqual(transaction['state'], lifecycle.SUCCEEDED)
        self.assertEqual(len(self.payments(transaction['number'])), 1)
