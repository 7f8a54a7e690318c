# This file is part of the water utility modules.
"""The local bank simulator: its pages, its verify windows, its test hooks
and the `water bank-simulator` command. Also the browser helpers that the
gateway tests drive it with."""
import os
import re
import signal
import subprocess
import sys
import unittest
from html.parser import HTMLParser
from urllib.parse import urljoin

import requests

from trytond.modules.water_payment_gateway.gateways import (
    MellatClient, ProtocolError, RetryableError, SadadClient, Status,
    ZarinpalClient, mellat, sadad, zarinpal)
from trytond.modules.water_payment_gateway.simulator import (
    DECISIONS, DEMO_MELLAT, DEMO_SADAD, DEMO_ZARINPAL, REVERSED,
    STATE_NAMES, BankSimulator)

CALLBACK_URL = 'http://merchant.test/payment/callback'


class _FormParser(HTMLParser):

    def __init__(self):
        super().__init__()
        self.forms = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == 'form':
            self.forms.append({
                    'action': attrs.get('action', ''),
                    'method': attrs.get('method', 'get').upper(),
                    'fields': {},
                    'buttons': [],
                    })
        elif self.forms and 'name' in attrs:
            if tag == 'input':
                self.forms[-1]['fields'][attrs['name']] = attrs.get(
                    'value', '')
            elif tag == 'button':
                self.forms[-1]['buttons'].append(attrs.get('value'))


def forms(page):
    "The forms of an HTML page: action, method, fields and buttons"
    parser = _FormParser()
    parser.feed(page)
    return parser.forms


def open_page(redirect):
    "What a browser sent to the bank by the merchant gets"
    if redirect.method == 'GET':
        return requests.get(redirect.url, params=redirect.fields, timeout=5)
    return requests.post(redirect.url, data=redirect.fields, timeout=5)


def press(redirect, decision, paid_amount=None):
    "Open the payment page and press the button of decision"
    page = open_page(redirect)
    page.raise_for_status()
    form, = forms(page.text)
    fields = dict(form['fields'], decision=decision)
    if paid_amount is not None:
        fields['paid_amount'] = str(paid_amount)
    return requests.post(urljoin(page.url, form['action']), data=fields,
        timeout=5)


def callbacks(redirect, decision, paid_amount=None):
    "The callbacks a browser would send to the merchant after decision"
    answer = press(redirect, decision, paid_amount)
    answer.raise_for_status()
    return [f['fields'] for f in forms(answer.text)]


class BankSimulatorTestCase(unittest.TestCase):
    "Test the bank simulator"

    @classmethod
    def setUpClass(cls):
        cls.simulator = BankSimulator().start()
        cls.addClassCleanup(cls.simulator.stop)
        cls.sadad = SadadClient(cls.simulator.url, *DEMO_SADAD, timeout=5)
        cls.mellat = MellatClient(cls.simulator.url, *DEMO_MELLAT, timeout=5)
        cls.zarinpal = ZarinpalClient(cls.simulator.url, *DEMO_ZARINPAL,
            timeout=5)
        cls.order_ids = iter(range(500000, 600000))

    def order_id(self):
        return next(self.order_ids)

    def test_loopback_only(self):
        "The simulator refuses to listen on another address than loopback"
        for host in ['0.0.0.0', '192.168.1.10', 'localhost', '::']:
            with self.subTest(host=host):
                with self.assertRaisesRegex(ValueError, 'loopback'):
                    BankSimulator(host)
        self.assertRegex(self.simulator.url, r'^http://127\.0\.0\.1:\d+$')

    def test_ipv6_loopback(self):
        "The simulator also listens on the IPv6 loopback"
        try:
            simulator = BankSimulator('::1').start()
        except OSError:
            self.skipTest("no IPv6 on this machine")
        self.addCleanup(simulator.stop)
        self.assertRegex(simulator.url, r'^http://\[::1\]:\d+$')
        self.assertEqual(
            ZarinpalClient(simulator.url, *DEMO_ZARINPAL).unverified(), [])

    def test_home_page(self):
        """The home page tells where each provider is and lists the
        transactions with their state, the latest first"""
        first = self.sadad.request_payment(self.order_id(), 1000,
            CALLBACK_URL)
        order_id = self.order_id()
        self.zarinpal.request_payment(order_id, 7654321, CALLBACK_URL,
            "test")
        callbacks(first, 'decline')

        page = requests.get(self.simulator.url + '/', timeout=5)

        self.assertEqual(page.status_code, 200)
        self.assertIn('dir="rtl"', page.text)
        for path in [sadad.REQUEST_PATH, mellat.SERVICE_PATH,
                zarinpal.REQUEST_PATH]:
            self.assertIn(path, page.text)
        latest = page.text.index('7,654,321')
        self.assertLess(latest, page.text.index('1,000<'))
        self.assertIn(STATE_NAMES['failed'], page.text)
        self.assertIn(STATE_NAMES['new'], page.text[latest:])

    def test_payment_page(self):
        "The payment page shows the payment and one button per decision"
        redirect = self.sadad.request_payment(self.order_id(), 1250000,
            CALLBACK_URL)
        page = open_page(redirect)

        self.assertEqual(page.status_code, 200)
        self.assertIn('dir="rtl"', page.text)
        self.assertIn('1,250,000 ریال', page.text)
        form, = forms(page.text)
        self.assertEqual(form['method'], 'POST')
        self.assertEqual(form['action'], '/_simulator/decide')
        self.assertEqual(form['fields']['token'], redirect.token)
        self.assertEqual(form['buttons'], list(DECISIONS))

    def test_payment_page_of_each_provider(self):
        "Each provider's payment page is at its real path"
        redirects = [
            self.sadad.request_payment(self.order_id(), 1000, CALLBACK_URL),
            self.mellat.request_payment(self.order_id(), 1000, CALLBACK_URL),
            self.zarinpal.request_payment(self.order_id(), 1000,
                CALLBACK_URL, "قبض آب"),
            ]
        for redirect in redirects:
            with self.subTest(url=redirect.url):
                page = open_page(redirect)
                self.assertEqual(page.status_code, 200)
                self.assertEqual(forms(page.text)[0]['fields']['token'],
                    redirect.token)

    def test_unknown_token(self):
        "The payment page of an unknown token is not found"
        page = requests.get(self.simulator.url + '/Purchase',
            params={'Token': 'UNKNOWN'}, timeout=5)
        self.assertEqual(page.status_code, 404)

    def test_decide_once(self):
        "A payment is decided once: the page and the decision then refuse"
        redirect = self.sadad.request_payment(self.order_id(), 1000,
            CALLBACK_URL)
        page = open_page(redirect)
        form, = forms(page.text)
        self.assertEqual(press(redirect, 'approve').status_code, 200)

        self.assertEqual(open_page(redirect).status_code, 409)
        again = requests.post(self.simulator.url + form['action'],
            data=dict(form['fields'], decision='decline'), timeout=5)
        self.assertEqual(again.status_code, 409)
        self.assertEqual(self.simulator.transaction(redirect.token).state,
            'paid')

    def test_bad_decisions(self):
        "An unknown decision or another amount that is not one is refused"
        redirect = self.sadad.request_payment(self.order_id(), 1000,
            CALLBACK_URL)
        self.assertEqual(press(redirect, 'steal').status_code, 400)
        self.assertEqual(
            press(redirect, 'other_amount', paid_amount='x').status_code,
            400)
        self.assertEqual(self.simulator.transaction(redirect.token).state,
            'new')

    def test_callback_forms(self):
        "The callback goes back with the provider's method and fields"
        cases = [
            (self.sadad.request_payment(self.order_id(), 1000,
                    CALLBACK_URL), 'POST', CALLBACK_URL,
                {'OrderId', 'HashedCardNo', 'PrimaryAccNo', 'SwitchResCode',
                    'ResCode', 'CardHolderFullName', 'Token'}),
            (self.mellat.request_payment(self.order_id(), 1000,
                    CALLBACK_URL), 'POST', CALLBACK_URL,
                {'RefId', 'ResCode', 'SaleOrderId', 'SaleReferenceId',
                    'CardHolderPan', 'FinalAmount'}),
            (self.zarinpal.request_payment(self.order_id(), 1000,
                    CALLBACK_URL + '?bill=7', "قبض آب"), 'GET', CALLBACK_URL,
                {'bill', 'Authority', 'Status'}),
            ]
        for redirect, method, action, names in cases:
            with self.subTest(url=redirect.url):
                answer = press(redirect, 'approve')
                form, = forms(answer.text)
                self.assertEqual(form['method'], method)
                self.assertEqual(form['action'], action)
                self.assertEqual(set(form['fields']), names)
                self.assertIn('.submit()', answer.text)

    def test_zarinpal_callback_keeps_query(self):
        "Zarinpal's GET callback keeps the query of the callback URL"
        redirect = self.zarinpal.request_payment(self.order_id(), 1000,
            CALLBACK_URL + '?bill=7', "قبض آب")
        callback, = callbacks(redirect, 'approve')
        self.assertEqual(callback, {
                'bill': '7', 'Authority': redirect.token, 'Status': 'OK'})

    def test_callback_twice(self):
        "The twice decision sends the same callback two times"
        redirect = self.mellat.request_payment(self.order_id(), 1000,
            CALLBACK_URL)
        first, second = callbacks(redirect, 'twice')
        self.assertEqual(first, second)
        self.assertEqual(first['ResCode'], '0')

    def test_never_return(self):
        "A payment that never returns is paid and can still be verified"
        amount = 33000
        sadad = self.sadad.request_payment(self.order_id(), amount,
            CALLBACK_URL)
        zarinpal = self.zarinpal.request_payment(self.order_id(), amount,
            CALLBACK_URL, "قبض آب")
        for redirect in [sadad, zarinpal]:
            self.assertEqual(callbacks(redirect, 'never_return'), [])

        self.assertEqual(self.sadad.verify(sadad.token, amount).status,
            Status.SUCCESS)
        pending = {r.token: r for r in self.zarinpal.unverified()}
        self.assertEqual(pending[zarinpal.token].amount, amount)
        self.assertEqual(pending[zarinpal.token].status, Status.PENDING)
        self.assertEqual(
            self.zarinpal.verify(zarinpal.token, amount).status,
            Status.SUCCESS)
        self.assertNotIn(zarinpal.token,
            {r.token for r in self.zarinpal.unverified()})

    def test_sadad_window(self):
        "Sadad reverses a payment not verified within 15 minutes"
        in_time = self.sadad.request_payment(self.order_id(), 1000,
            CALLBACK_URL)
        late = self.sadad.request_payment(self.order_id(), 1000,
            CALLBACK_URL)
        for redirect in [in_time, late]:
            press(redirect, 'approve')

        self.simulator.advance(15 * 60 - 10)
        self.assertEqual(self.sadad.verify(in_time.token).status,
            Status.SUCCESS)
        self.simulator.advance(20)
        result = self.sadad.verify(late.token)

        self.assertEqual(result.status, Status.FAILED)
        self.assertEqual(result.code, '101')
        self.assertEqual(self.simulator.transaction(late.token).state,
            REVERSED)

    def test_mellat_window(self):
        "Mellat reverses a sale not verified within 20 minutes"
        redirect = self.mellat.request_payment(self.order_id(), 1000,
            CALLBACK_URL)
        callback = self.mellat.parse_callback(
            callbacks(redirect, 'approve')[0])

        self.simulator.advance(20 * 60 + 1)
        result = self.mellat.verify(callback.order_id,
            callback.sale_reference_id)

        self.assertEqual((result.status, result.code), (Status.FAILED, '48'))

    def test_configurable_window(self):
        "The verify windows are parameters of the simulator"
        simulator = BankSimulator(sadad_window=60).start()
        self.addCleanup(simulator.stop)
        client = SadadClient(simulator.url, *DEMO_SADAD, timeout=5)
        redirect = client.request_payment(1, 1000, CALLBACK_URL)
        press(redirect, 'approve')

        simulator.advance(61)

        self.assertEqual(client.verify(redirect.token).code, '101')

    def test_mellat_settle_inquiry_reversal(self):
        "Mellat settles only verified sales and reverses unsettled ones"
        redirect = self.mellat.request_payment(self.order_id(), 1000,
            CALLBACK_URL)
        callback = self.mellat.parse_callback(
            callbacks(redirect, 'approve')[0])
        sale = (callback.order_id, callback.sale_reference_id)

        with self.assertRaises(ProtocolError) as context:
            self.mellat.settle(*sale)
        self.assertEqual(context.exception.code, '44')
        inquiry = self.mellat.inquiry(*sale)
        self.assertEqual((inquiry.status, inquiry.code),
            (Status.PENDING, '44'))
        self.assertEqual(self.mellat.verify(*sale).status, Status.SUCCESS)
        self.assertEqual(self.mellat.inquiry(*sale).status, Status.SUCCESS)
        self.assertEqual(self.mellat.reversal(*sale).status,
            Status.CANCELLED)
        self.assertEqual(self.mellat.settle(*sale).code, '48')
        self.assertEqual(self.mellat.inquiry(*sale).code, '48')
        self.assertEqual(self.mellat.reversal(*sale).status,
            Status.CANCELLED)

    def test_mellat_no_reversal_after_settle(self):
        "A settled Mellat sale can not be reversed"
        redirect = self.mellat.request_payment(self.order_id(), 1000,
            CALLBACK_URL)
        callback = self.mellat.parse_callback(
            callbacks(redirect, 'approve')[0])
        sale = (callback.order_id, callback.sale_reference_id)
        self.mellat.verify(*sale)
        self.mellat.settle(*sale)

        with self.assertRaises(ProtocolError) as context:
            self.mellat.reversal(*sale)
        self.assertEqual(context.exception.code, '45')

    def test_duplicate_order(self):
        "An order id is accepted once"
        order_id = self.order_id()
        self.sadad.request_payment(order_id, 1000, CALLBACK_URL)
        self.mellat.request_payment(order_id, 1000, CALLBACK_URL)
        for call, code in [
                (self.sadad.request_payment, '1011'),
                (self.mellat.request_payment, '41')]:
            with self.subTest(code=code):
                with self.assertRaises(ProtocolError) as context:
                    call(order_id, 1000, CALLBACK_URL)
                self.assertEqual(context.exception.code, code)

    def test_request_validation(self):
        "Invalid amounts, dates and fields get the provider's code"
        with self.assertRaises(ProtocolError) as context:
            self.sadad.request_payment(self.order_id(), 0, CALLBACK_URL)
        self.assertEqual(context.exception.code, '1101')
        with self.assertRaises(ProtocolError) as context:
            self.mellat.request_payment(self.order_id(), 0, CALLBACK_URL)
        self.assertEqual(context.exception.code, '25')
        with self.assertRaises(ProtocolError) as context:
            self.zarinpal.request_payment(self.order_id(), 1000,
                CALLBACK_URL, '')
        self.assertEqual(context.exception.code, '-9')

    def test_malformed_soap(self):
        "Mellat answers a malformed request with a SOAP client fault"
        answer = requests.post(
            self.simulator.url + '/pgwchannel/services/pgw',
            data=b'<not-xml', headers={'Content-Type': 'text/xml'},
            timeout=5)
        self.assertEqual(answer.status_code, 500)
        self.assertIn('<faultcode>soap:Client</faultcode>', answer.text)

    def test_faults_hit_next_server_call(self):
        "A fault breaks the next server call once, not the pages"
        redirect = self.zarinpal.request_payment(self.order_id(), 1000,
            CALLBACK_URL, "قبض آب")
        self.simulator.fail_next(503)

        self.assertEqual(open_page(redirect).status_code, 200)
        with self.assertRaisesRegex(RetryableError, 'HTTP 503'):
            self.zarinpal.unverified()
        self.zarinpal.unverified()

    def test_fault_hooks_over_http(self):
        "Faults and the clock can be driven over HTTP"
        url = self.simulator.url
        requests.post(url + '/_simulator/fault', data={'status': '502'},
            timeout=5).raise_for_status()
        with self.assertRaisesRegex(RetryableError, 'HTTP 502'):
            self.zarinpal.unverified()

        requests.post(url + '/_simulator/fault', data={'delay': '1'},
            timeout=5).raise_for_status()
        client = ZarinpalClient(url, *DEMO_ZARINPAL, timeout=0.3)
        with self.assertRaisesRegex(RetryableError, 'Timeout'):
            client.unverified()

        redirect = self.sadad.request_payment(self.order_id(), 1000,
            CALLBACK_URL)
        press(redirect, 'approve')
        requests.post(url + '/_simulator/advance', data={'seconds': '901'},
            timeout=5).raise_for_status()
        self.assertEqual(self.sadad.verify(redirect.token).code, '101')

        for path, data in [
                ('/_simulator/fault', {'status': 'x'}),
                ('/_simulator/advance', {})]:
            answer = requests.post(url + path, data=data, timeout=5)
            self.assertEqual(answer.status_code, 400)


class BankSimulatorCommandTestCase(unittest.TestCase):
    "Test the water bank-simulator command"

    def water(self, *args, **kwargs):
        command = os.path.join(os.path.dirname(sys.executable), 'water')
        # the tests before may have left Tryton settings in the environment
        env = {k: v for k, v in os.environ.items()
            if not k.startswith(('TRYTOND_', 'DB_'))}
        return subprocess.Popen([command, 'bank-simulator', *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=env, **kwargs)

    def test_runs_until_interrupted(self):
        "The command prints the URLs and serves until Ctrl-C"
        process = self.water('--port', '0')
        self.addCleanup(process.kill)
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        output = ''.join(lines)
        url = re.search(r'on (http://127\.0\.0\.1:\d+) ', output).group(1)

        self.assertEqual(
            requests.get(url + '/Purchase', params={'Token': 'x'},
                timeout=5).status_code, 404)
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=10)

        self.assertEqual(process.returncode, 0)
        for path in ['/api/v0/Request/PaymentRequest',
                '/pgwchannel/services/pgw', '/pg/v4/payment/request.json']:
            self.assertIn(path, output)

    def test_refuses_other_hosts(self):
        "The command refuses a host that is not a loopback address"
        process = self.water('--host', '0.0.0.0', '--port', '0')
        _, error = process.communicate(timeout=30)
        self.assertEqual(process.returncode, 1)
        self.assertIn('loopback', error)
