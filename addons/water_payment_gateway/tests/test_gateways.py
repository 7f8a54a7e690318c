# This file is part of the water utility modules.
"""The gateway clients: their requests against the providers' manuals, and
whole payments through the local bank simulator."""
import base64
import datetime as dt
import io
import json
import traceback
import unittest
import xml.etree.ElementTree as ET

import requests
from Crypto.Cipher import DES3
from Crypto.Util.Padding import pad

from trytond.modules.water_payment_gateway.gateways import (
    MellatClient, ProtocolError, Redirect, RetryableError, SadadClient,
    Status, ZarinpalClient, mellat, sadad, zarinpal)
from trytond.modules.water_payment_gateway.simulator import (
    DEMO_MELLAT, DEMO_SADAD, DEMO_ZARINPAL, BankSimulator)

from .test_simulator import CALLBACK_URL, callbacks

LOGGER = 'trytond.modules.water_payment_gateway.gateways'
SADAD_KEY = base64.b64encode(b'water-utility-sadad-key!').decode()
MELLAT_USER, MELLAT_PASSWORD = 'merchant-user-7', 'p4ss-w0rd-SECRET'
ZARINPAL_MERCHANT = 'xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx'
# The manual's own sample time: 2009-10-08 10:20:03
SAMPLE_TIME = dt.datetime(2009, 10, 8, 10, 20, 3)


class Bank(requests.adapters.BaseAdapter):
    "A transport that records the requests and gives canned answers"

    def __init__(self, *answers):
        super().__init__()
        self.answers = list(answers)
        self.requests = []

    def send(self, request, **kwargs):
        self.requests.append(request)
        status, body = self.answers.pop(0)
        response = requests.Response()
        response.status_code = status
        response.raw = io.BytesIO(body.encode('utf-8'))
        response.url = request.url
        response.request = request
        return response

    def close(self):
        pass


def session(*answers):
    bank = Bank(*answers)
    session = requests.Session()
    session.mount('https://', bank)
    return session, bank


def soap(operation, value):
    return (200,
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/'
        'envelope/"><soap:Body><ns2:' + operation + 'Response xmlns:ns2='
        '"http://interfaces.core.sw.bps.com/"><return>' + value
        + '</return></ns2:' + operation + 'Response></soap:Body>'
        '</soap:Envelope>')


def soap_call(request):
    "The operation and the parameters, in order, of a SOAP request"
    root = ET.fromstring(request.body)
    body = root.find('{http://schemas.xmlsoap.org/soap/envelope/}Body')
    call, = body
    return call.tag, [(c.tag, c.text) for c in call]


def triple_des(key, data):
    cipher = DES3.new(base64.b64decode(key), DES3.MODE_ECB)
    return base64.b64encode(cipher.encrypt(pad(data.encode(), 8))).decode()


class SadadProtocolTestCase(unittest.TestCase):
    "Test the Sadad client against the manual v1.10"

    def client(self, *answers):
        http, bank = session(*answers)
        return SadadClient(sadad.URL, '000000140330000', '24000000',
            SADAD_KEY, session=http), bank

    def test_payment_request(self):
        "PaymentRequest sends the manual's fields, signed"
        client, bank = self.client((200, json.dumps({
                        'ResCode': 0, 'Token': '000122F7DC9B3FB4B1A6',
                        'Description': "عملیات با موفقیت انجام شد"})))

        redirect = client.request_payment(10, 1000,
            'http://www.mysite.com/callback', now=SAMPLE_TIME)

        request, = bank.requests
        self.assertEqual(request.method, 'POST')
        self.assertEqual(request.url,
            'https://sadad.shaparak.ir/api/v0/Request/PaymentRequest')
        self.assertEqual(request.headers['Content-Type'], 'application/json')
        self.assertEqual(json.loads(request.body), {
                'MerchantId': '000000140330000',
                'TerminalId': '24000000',
                'Amount': 1000,
                'OrderId': 10,
                'LocalDateTime': '10/08/2009 10:20:03 am',
                'ReturnUrl': 'http://www.mysite.com/callback',
                'SignData': triple_des(SADAD_KEY, '24000000;10;1000'),
                })
        self.assertEqual(redirect, Redirect(token='000122F7DC9B3FB4B1A6',
                url='https://sadad.shaparak.ir/Purchase', method='GET',
                fields={'Token': '000122F7DC9B3FB4B1A6'}))

    def test_sign_data_not_logged(self):
        "The log of a request shows no SignData"
        client, _ = self.client((200, '{"ResCode": 0, "Token": "T"}'))
        with self.assertLogs(LOGGER, 'DEBUG') as logs:
            client.request_payment(12, 3000, 'http://www.mysite.com/cb')
        log = '\n'.join(logs.output)
        self.assertIn("'SignData': '********'", log)
        self.assertNotIn(triple_des(SADAD_KEY, '24000000;12;3000'), log)

    def test_local_date_time(self):
        "LocalDateTime is on a 12 hours clock"
        for time, text in [
                (dt.datetime(2024, 3, 1, 0, 5, 9), '03/01/2024 12:05:09 am'),
                (dt.datetime(2024, 3, 1, 12, 0, 0), '03/01/2024 12:00:00 pm'),
                (dt.datetime(2024, 3, 1, 23, 59, 59),
                    '03/01/2024 11:59:59 pm')]:
            self.assertEqual(sadad.local_date_time(time), text)

    def test_additional_data(self):
        "AdditionalData is sent only when given"
        client, bank = self.client((200, '{"ResCode": 0, "Token": "T"}'))
        client.request_payment(11, 2000, 'http://www.mysite.com/callback',
            additional_data='bill1421')
        self.assertEqual(json.loads(bank.requests[0].body)['AdditionalData'],
            'bill1421')

    def test_payment_request_refused(self):
        "A refused PaymentRequest raises its code and Persian text"
        client, _ = self.client((200, json.dumps({
                        'ResCode': 1025, 'Token': None,
                        'Description': "Invalid sign"})))
        with self.assertRaises(ProtocolError) as context:
            client.request_payment(10, 1000, 'http://www.mysite.com/cb')
        self.assertEqual(context.exception.code, '1025')
        self.assertEqual(context.exception.message,
            "امضای تراکنش نامعتبر است.")

    def test_verify(self):
        "Verify sends the token signed and reads the manual's fields"
        client, bank = self.client((200, json.dumps({
                        'ResCode': 0, 'Amount': 1000,
                        'Description': "", 'RetrivalRefNo': '722805215011',
                        'SystemTraceNo': '301286', 'OrderId': 10,
                        'TransactionDate': '2009/10/08 10:21:00',
                        'CardHolderFullName': "آزمایشی"})))

        result = client.verify('000122F7DC9B3FB4B1A6', 1000)

        request, = bank.requests
        self.assertEqual(request.url,
            'https://sadad.shaparak.ir/api/v0/Advice/Verify')
        self.assertEqual(json.loads(request.body), {
                'Token': '000122F7DC9B3FB4B1A6',
                'SignData': triple_des(SADAD_KEY, '000122F7DC9B3FB4B1A6'),
                })
        self.assertEqual(result.status, Status.SUCCESS)
        self.assertEqual(result.order_id, 10)
        self.assertEqual(result.amount, 1000)
        self.assertFalse(result.amount_mismatch)
        self.assertEqual(result.rrn, '722805215011')
        self.assertEqual(result.trace_number, '301286')

    def test_verify_codes(self):
        "Verify's codes of table 7.2"
        for code, status in [
                (100, Status.ALREADY_VERIFIED), (101, Status.FAILED)]:
            client, _ = self.client((200, json.dumps({'ResCode': code})))
            with self.subTest(code=code):
                self.assertEqual(client.verify('T').status, status)
        client, _ = self.client((200, '{"ResCode": -1}'))
        with self.assertRaises(ProtocolError) as context:
            client.verify('T')
        self.assertEqual(context.exception.code, '-1')

    def test_callback(self):
        "The callback is read in any case and only pending when paid"
        client, _ = self.client()
        result = client.parse_callback({
                'OrderId': '10', 'token': 'T', 'ResCode': '0',
                'PrimaryAccNo': '603799******1234', 'SwitchResCode': '00'},
            amount=1000)
        self.assertEqual(result.status, Status.PENDING)
        self.assertEqual((result.order_id, result.token, result.card_pan),
            (10, 'T', '603799******1234'))
        self.assertEqual(result.expected_amount, 1000)
        failed = client.parse_callback({'OrderId': '10', 'ResCode': '-1'})
        self.assertEqual(failed.status, Status.FAILED)
        with self.assertRaises(ProtocolError):
            client.parse_callback({'OrderId': '10 OR 1=1', 'ResCode': '0'})

    def test_invalid_key(self):
        "A key that is not Base64 TripleDES is refused without showing it"
        for key in ['not base64!', base64.b64encode(b'short').decode()]:
            with self.subTest(key=key):
                with self.assertRaises(ValueError) as context:
                    SadadClient(sadad.URL, '1', '2', key)
                self.assertNotIn(key, str(context.exception))

    def test_server_errors(self):
        "HTTP 5xx is retryable, an answer that is not JSON is not"
        client, _ = self.client((502, 'Bad Gateway'), (404, 'Not Found'))
        with self.assertRaisesRegex(RetryableError, 'HTTP 502'):
            client.verify('T')
        with self.assertRaises(ProtocolError) as context:
            client.verify('T')
        self.assertEqual(context.exception.code, 'HTTP 404')


class MellatProtocolTestCase(unittest.TestCase):
    "Test the Mellat client against the manual v1.29"

    def client(self, *answers):
        http, bank = session(*answers)
        return MellatClient(mellat.URL, 1234, MELLAT_USER, MELLAT_PASSWORD,
            session=http), bank

    def test_pay_request(self):
        "bpPayRequest with the manual's sample values and its sample answer"
        client, bank = self.client(
            soap('bpPayRequest', '0, AF82041a2Bf6989c7fF9'))

        redirect = client.request_payment(10, 1,
            'http://www.mysite.com/myfolder/callbackmellat.aspx',
            now=SAMPLE_TIME)

        request, = bank.requests
        self.assertEqual(request.url,
            'https://bpm.shaparak.ir/pgwchannel/services/pgw')
        self.assertEqual(request.headers['Content-Type'],
            'text/xml; charset=utf-8')
        self.assertEqual(soap_call(request), (
                '{http://interfaces.core.sw.bps.com/}bpPayRequest', [
                    ('terminalId', '1234'),
                    ('userName', MELLAT_USER),
                    ('userPassword', MELLAT_PASSWORD),
                    ('orderId', '10'),
                    ('amount', '1'),
                    ('localDate', '20091008'),
                    ('localTime', '102003'),
                    ('additionalData', None),
                    ('callBackUrl',
                        'http://www.mysite.com/myfolder/callbackmellat.aspx'),
                    ('payerId', '0'),
                    ]))
        # The manual's form: RefId posted to startpay.mellat
        self.assertEqual(redirect, Redirect(token='AF82041a2Bf6989c7fF9',
                url='https://bpm.shaparak.ir/pgwchannel/startpay.mellat',
                method='POST', fields={'RefId': 'AF82041a2Bf6989c7fF9'}))

    def test_pay_request_refused(self):
        "A refused bpPayRequest raises its code and Persian text"
        client, _ = self.client(soap('bpPayRequest', '24'))
        with self.assertRaises(ProtocolError) as context:
            client.request_payment(10, 1, 'http://www.mysite.com/cb')
        self.assertEqual(context.exception.code, '24')
        self.assertEqual(context.exception.message,
            "اطلاعات کاربری پذیرنده نامعتبر است")

    def test_follow_up_requests(self):
        "Verify, settle, inquiry and reversal with the manual's samples"
        client, bank = self.client(*(soap(o, '0') for o in [
                    'bpVerifyRequest', 'bpSettleRequest', 'bpInquiryRequest',
                    'bpReversalRequest']))
        calls = [
            (client.verify, 11, 'bpVerifyRequest', Status.SUCCESS),
            (client.settle, 21, 'bpSettleRequest', Status.SUCCESS),
            (client.inquiry, 13, 'bpInquiryRequest', Status.SUCCESS),
            (client.reversal, 14, 'bpReversalRequest', Status.CANCELLED),
            ]
        for call, order_id, operation, status in calls:
            with self.subTest(operation=operation):
                result = call(10, 127926981246, order_id=order_id)
                self.assertEqual(soap_call(bank.requests[-1]), (
                        '{http://interfaces.core.sw.bps.com/}' + operation, [
                            ('terminalId', '1234'),
                            ('userName', MELLAT_USER),
                            ('userPassword', MELLAT_PASSWORD),
                            ('orderId', str(order_id)),
                            ('saleOrderId', '10'),
                            ('saleReferenceId', '127926981246'),
                            ]))
                self.assertEqual(result.status, status)
                self.assertEqual(result.order_id, 10)
                self.assertEqual(result.sale_reference_id, '127926981246')

    def test_follow_up_order_id(self):
        "The request number of a follow-up is the sale's by default"
        client, bank = self.client(soap('bpVerifyRequest', '0'))
        client.verify(10, 127926981246)
        self.assertIn(('orderId', '10'), soap_call(bank.requests[0])[1])

    def test_follow_up_codes(self):
        "The codes of table 11 that tell the state of the sale"
        cases = [
            ('bpVerifyRequest', 'verify', '43', Status.ALREADY_VERIFIED),
            ('bpVerifyRequest', 'verify', '48', Status.FAILED),
            ('bpSettleRequest', 'settle', '45', Status.ALREADY_VERIFIED),
            ('bpInquiryRequest', 'inquiry', '42', Status.FAILED),
            ('bpInquiryRequest', 'inquiry', '44', Status.PENDING),
            ('bpReversalRequest', 'reversal', '48', Status.CANCELLED),
            ]
        for operation, method, code, status in cases:
            with self.subTest(operation=operation, code=code):
                client, _ = self.client(soap(operation, code))
                result = getattr(client, method)(10, 127926981246)
                self.assertEqual((result.status, result.code), (status, code))
        client, _ = self.client(soap('bpVerifyRequest', '21'))
        with self.assertRaises(ProtocolError) as context:
            client.verify(10, 127926981246)
        self.assertEqual(context.exception.code, '21')

    def test_callback(self):
        "The manual's sample callback (table 10)"
        client, _ = self.client()
        result = client.parse_callback({
                'RefId': 'AF82041a2Bf6989c7fF9',
                'ResCode': '0',
                'SaleOrderId': '10',
                'SaleReferenceId': '127926981246',
                'CardHolderPan': '610433*****5689',
                'CreditCardSaleResponseDetail': '',
                'FinalAmount': '480000',
                }, amount=480000)
        self.assertEqual(result.status, Status.PENDING)
        self.assertEqual(result.token, 'AF82041a2Bf6989c7fF9')
        self.assertEqual(result.order_id, 10)
        self.assertEqual(result.sale_reference_id, '127926981246')
        self.assertEqual(result.card_pan, '610433*****5689')
        self.assertEqual(result.amount, 480000)
        self.assertFalse(result.amount_mismatch)
        for code, status in [('17', Status.CANCELLED), ('12', Status.FAILED)]:
            with self.subTest(code=code):
                result = client.parse_callback({
                        'RefId': 'AF82041a2Bf6989c7fF9', 'ResCode': code,
                        'SaleOrderId': '10'})
                self.assertEqual(result.status, status)
                self.assertEqual(result.message, mellat.CODES[code])

    def test_soap_faults(self):
        "A client fault is a protocol error, a server fault is retryable"
        def fault(code):
            return (500,
                '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/'
                'envelope/"><soap:Body><soap:Fault><faultcode>' + code
                + '</faultcode><faultstring>Unmarshalling Error: For input '
                'string: "x"</faultstring></soap:Fault></soap:Body>'
                '</soap:Envelope>')
        client, _ = self.client(fault('soap:Client'), fault('soap:Server'),
            (503, 'Service Unavailable'))
        with self.assertRaises(ProtocolError) as context:
            client.verify(10, 127926981246)
        self.assertEqual(context.exception.code, 'soap:Client')
        self.assertIn('Unmarshalling Error', context.exception.message)
        with self.assertRaises(RetryableError):
            client.verify(10, 127926981246)
        with self.assertRaisesRegex(RetryableError, 'HTTP 503'):
            client.verify(10, 127926981246)


class ZarinpalProtocolTestCase(unittest.TestCase):
    "Test the Zarinpal client against the documentation of its API v4"

    def client(self, *answers):
        http, bank = session(*answers)
        return ZarinpalClient(zarinpal.URL, ZARINPAL_MERCHANT,
            session=http), bank

    def test_request(self):
        "request.json with the documentation's sample and answer"
        client, bank = self.client((200, '{"data":{"code":100,"message":'
                '"Success","authority":"A0000000000000000000000000000wwOGYpd",'
                '"fee_type":"Merchant","fee":100},"errors":[]}'))

        redirect = client.request_payment(10, 1100,
            'http://example.com/verify', 'Transaction description.',
            mobile='09121234567', email='info.test@example.com')

        request, = bank.requests
        self.assertEqual(request.url,
            'https://payment.zarinpal.com/pg/v4/payment/request.json')
        self.assertEqual(json.loads(request.body), {
                'merchant_id': ZARINPAL_MERCHANT,
                'amount': 1100,
                'currency': 'IRR',
                'callback_url': 'http://example.com/verify',
                'description': 'Transaction description.',
                'metadata': {
                    'order_id': '10',
                    'mobile': '09121234567',
                    'email': 'info.test@example.com',
                    },
                })
        self.assertEqual(redirect, Redirect(
                token='A0000000000000000000000000000wwOGYpd',
                url='https://payment.zarinpal.com/pg/StartPay/'
                'A0000000000000000000000000000wwOGYpd',
                method='GET', fields={}))

    def test_request_refused(self):
        "An error answer raises its code and Persian text"
        client, _ = self.client((200, '{"data":[],"errors":{"code":-9,'
                '"message":"The input params invalid, validation error.",'
                '"validations":[{"amount":"The amount is required."}]}}'))
        with self.assertRaises(ProtocolError) as context:
            client.request_payment(10, 0, 'http://example.com/verify', "x")
        self.assertEqual(context.exception.code, '-9')
        self.assertEqual(context.exception.message, "خطای اعتبارسنجی")

    def test_verify(self):
        "verify.json with the documentation's sample answer"
        client, bank = self.client((200, '{"data":{"code":100,"message":'
                '"Verified","card_hash":"1EBE3EBEBE35C7EC0F8D6EE4F2F859107A'
                '87822CA179BC9528767EA7B5489B69",'
                '"card_pan":"502229******5995","ref_id":201,'
                '"fee_type":"Merchant","fee":0},"errors":[]}'))

        result = client.verify('A0000000000000000000000000000wwOGYpd', 1100)

        self.assertEqual(json.loads(bank.requests[0].body), {
                'merchant_id': ZARINPAL_MERCHANT,
                'amount': 1100,
                'authority': 'A0000000000000000000000000000wwOGYpd',
                })
        self.assertEqual(result.status, Status.SUCCESS)
        self.assertEqual(result.rrn, '201')
        self.assertEqual(result.card_pan, '502229******5995')
        self.assertEqual(result.amount, 1100)

    def test_verify_codes(self):
        "101 is already verified, -50 an amount mismatch, -54 refused"
        answers = [
            (200, '{"data":{"code":101,"message":"Verified","ref_id":201},'
                '"errors":[]}'),
            (200, '{"data":[],"errors":{"code":-50,"message":"Session is '
                'not valid, amounts values is not the same."}}'),
            (200, '{"data":[],"errors":{"code":-54,"message":"Authority is '
                'invalid."}}'),
            ]
        client, _ = self.client(*answers)
        self.assertEqual(client.verify('A1', 1100).status,
            Status.ALREADY_VERIFIED)
        mismatch = client.verify('A1', 1100)
        self.assertEqual((mismatch.status, mismatch.code),
            (Status.FAILED, '-50'))
        self.assertTrue(mismatch.amount_mismatch)
        with self.assertRaises(ProtocolError) as context:
            client.verify('A1', 1100)
        self.assertEqual(context.exception.code, '-54')

    def test_unverified(self):
        "unVerified.json with the documentation's sample answer"
        client, bank = self.client((200, json.dumps({'data': {
                            'code': '100', 'message': 'Success',
                            'authorities': [{
                                    'authority':
                                    'A0000000000000000000000000000wwOGYpd',
                                    'amount': 50500,
                                    'callback_url': 'https://test.com/vpay',
                                    'referer':
                                    'https://example.com/test-form/',
                                    'date': '2020-07-01 17:33:25',
                                    }, {
                                    'authority':
                                    'A00000000000000000000000000207296508',
                                    'amount': 11100,
                                    'callback_url': 'zarin_link',
                                    'referer': '/',
                                    'date': '2020-06-27 10:22:02',
                                    }]}})))

        results = client.unverified()

        self.assertEqual(json.loads(bank.requests[0].body),
            {'merchant_id': ZARINPAL_MERCHANT})
        self.assertEqual(bank.requests[0].url,
            'https://payment.zarinpal.com/pg/v4/payment/unVerified.json')
        self.assertEqual([(r.status, r.token, r.amount) for r in results], [
                (Status.PENDING, 'A0000000000000000000000000000wwOGYpd',
                    50500),
                (Status.PENDING, 'A00000000000000000000000000207296508',
                    11100)])

    def test_callback(self):
        "The callback's Status OK is pending, NOK failed"
        client, _ = self.client()
        for value, status in [('OK', Status.PENDING), ('NOK', Status.FAILED)]:
            with self.subTest(status=value):
                result = client.parse_callback(
                    {'Authority': 'A1', 'Status': value})
                self.assertEqual((result.status, result.token, result.code),
                    (status, 'A1', value))


class PaymentFlowTestCase(unittest.TestCase):
    "Test whole payments through the bank simulator"

    @classmethod
    def setUpClass(cls):
        cls.simulator = BankSimulator().start()
        cls.addClassCleanup(cls.simulator.stop)
        cls.order_ids = iter(range(100000, 200000))

    def order_id(self):
        return next(self.order_ids)

    def sadad(self, timeout=5):
        return SadadClient(self.simulator.url, *DEMO_SADAD, timeout=timeout)

    def mellat(self, timeout=5):
        return MellatClient(self.simulator.url, *DEMO_MELLAT,
            timeout=timeout)

    def zarinpal(self, timeout=5):
        return ZarinpalClient(self.simulator.url, *DEMO_ZARINPAL,
            timeout=timeout)

    def pay(self, client, amount, decision, paid_amount=None):
        "Request a payment, decide it and return the callbacks, parsed"
        if isinstance(client, ZarinpalClient):
            redirect = client.request_payment(self.order_id(), amount,
                CALLBACK_URL, "پرداخت قبض آب")
        else:
            redirect = client.request_payment(self.order_id(), amount,
                CALLBACK_URL)
        return redirect, [client.parse_callback(c, amount)
            for c in callbacks(redirect, decision, paid_amount)]

    def test_sadad_approve(self):
        client = self.sadad()
        redirect, (callback,) = self.pay(client, 120000, 'approve')
        self.assertEqual(callback.status, Status.PENDING)
        self.assertEqual(callback.token, redirect.token)

        result = client.verify(callback.token, 120000)

        self.assertEqual(result.status, Status.SUCCESS)
        self.assertEqual(result.order_id, callback.order_id)
        self.assertEqual(result.amount, 120000)
        self.assertFalse(result.amount_mismatch)
        self.assertRegex(result.rrn, r'^\d{12}$')
        self.assertRegex(result.trace_number, r'^\d{6}$')

    def test_mellat_approve(self):
        client = self.mellat()
        redirect, (callback,) = self.pay(client, 120000, 'approve')
        self.assertEqual(callback.status, Status.PENDING)
        self.assertEqual(callback.token, redirect.token)
        self.assertRegex(callback.sale_reference_id, r'^\d{12}$')
        sale = (callback.order_id, callback.sale_reference_id)

        self.assertEqual(client.verify(*sale).status, Status.SUCCESS)
        self.assertEqual(client.settle(*sale).status, Status.SUCCESS)
        self.assertEqual(client.settle(*sale).status,
            Status.ALREADY_VERIFIED)
        self.assertEqual(client.inquiry(*sale).status, Status.SUCCESS)

    def test_zarinpal_approve(self):
        client = self.zarinpal()
        redirect, (callback,) = self.pay(client, 120000, 'approve')
        self.assertEqual(callback.status, Status.PENDING)
        self.assertEqual(callback.token, redirect.token)

        result = client.verify(callback.token, 120000)

        self.assertEqual(result.status, Status.SUCCESS)
        self.assertEqual(result.amount, 120000)
        self.assertRegex(result.card_pan, r'^\d{6}\*{6}\d{4}$')
        self.assertIsNotNone(result.rrn)

    def test_decline(self):
        "A declined payment fails at the callback and at verify"
        sadad_client, mellat_client = self.sadad(), self.mellat()
        zarinpal_client = self.zarinpal()

        _, (callback,) = self.pay(sadad_client, 5000, 'decline')
        self.assertEqual((callback.status, callback.code),
            (Status.FAILED, '-1'))
        with self.assertRaises(ProtocolError) as context:
            sadad_client.verify(callback.token)
        self.assertEqual(context.exception.code, '-1')

        _, (callback,) = self.pay(mellat_client, 5000, 'decline')
        self.assertEqual(callback.status, Status.FAILED)
        self.assertIsNone(callback.sale_reference_id)
        self.assertEqual(mellat_client.verify(callback.order_id, '0').status,
            Status.FAILED)

        _, (callback,) = self.pay(zarinpal_client, 5000, 'decline')
        self.assertEqual((callback.status, callback.code),
            (Status.FAILED, 'NOK'))
        result = zarinpal_client.verify(callback.token, 5000)
        self.assertEqual((result.status, result.code), (Status.FAILED, '-51'))

    def test_cancel(self):
        "Only Mellat tells a cancel from a failure"
        expected = [
            (self.sadad(), Status.FAILED, '-1'),
            (self.mellat(), Status.CANCELLED, '17'),
            (self.zarinpal(), Status.FAILED, 'NOK'),
            ]
        for client, status, code in expected:
            with self.subTest(provider=client.provider):
                _, (callback,) = self.pay(client, 5000, 'cancel')
                self.assertEqual((callback.status, callback.code),
                    (status, code))

    def test_double_callback_and_verify(self):
        "A callback sent twice verifies once, then already verified"
        cases = [
            (self.sadad(), lambda c, r: c.verify(r.token, 7000)),
            (self.mellat(),
                lambda c, r: c.verify(r.order_id, r.sale_reference_id)),
            (self.zarinpal(), lambda c, r: c.verify(r.token, 7000)),
            ]
        for client, verify in cases:
            with self.subTest(provider=client.provider):
                _, (first, second) = self.pay(client, 7000, 'twice')
                self.assertEqual(first, second)
                statuses = [verify(client, first).status,
                    verify(client, second).status]
                self.assertEqual(statuses,
                    [Status.SUCCESS, Status.ALREADY_VERIFIED])

    def test_amount_mismatch(self):
        "A payment of another amount is visible in the result"
        sadad_client = self.sadad()
        _, (callback,) = self.pay(sadad_client, 9000, 'other_amount', 8000)
        result = sadad_client.verify(callback.token, 9000)
        self.assertEqual(result.status, Status.SUCCESS)
        self.assertEqual((result.amount, result.expected_amount),
            (8000, 9000))
        self.assertTrue(result.amount_mismatch)

        _, (callback,) = self.pay(self.mellat(), 9000, 'other_amount', 8000)
        self.assertEqual(callback.amount, 8000)
        self.assertTrue(callback.amount_mismatch)

        zarinpal_client = self.zarinpal()
        _, (callback,) = self.pay(zarinpal_client, 9000, 'other_amount',
            8000)
        result = zarinpal_client.verify(callback.token, 9000)
        self.assertEqual((result.status, result.code), (Status.FAILED, '-50'))
        self.assertTrue(result.amount_mismatch)

    def test_server_error_is_retryable(self):
        "HTTP 500 raises a retryable error and the retry goes through"
        for client in [self.sadad(), self.mellat(), self.zarinpal()]:
            with self.subTest(provider=client.provider):
                self.simulator.fail_next(500)
                with self.assertRaisesRegex(RetryableError, 'HTTP 500'):
                    self.pay(client, 3000, 'approve')
                self.pay(client, 3000, 'approve')

    def test_timeout_is_retryable(self):
        """A verify answered too late is retryable; repeated, it tells the
        first one went through"""
        cases = [
            (self.sadad(timeout=0.3), lambda c, r: c.verify(r.token, 4000)),
            (self.mellat(timeout=0.3),
                lambda c, r: c.verify(r.order_id, r.sale_reference_id)),
            (self.zarinpal(timeout=0.3), lambda c, r: c.verify(r.token, 4000)),
            ]
        for client, verify in cases:
            with self.subTest(provider=client.provider):
                _, (callback,) = self.pay(client, 4000, 'approve')
                self.simulator.delay_next(1)
                with self.assertRaisesRegex(RetryableError, 'Timeout'):
                    verify(client, callback)
                self.assertEqual(verify(client, callback).status,
                    Status.ALREADY_VERIFIED)

    def test_connection_refused_is_retryable(self):
        "No bank at the address is retryable"
        simulator = BankSimulator().start()
        url = simulator.url
        simulator.stop()
        with self.assertRaisesRegex(RetryableError, 'ConnectionError'):
            SadadClient(url, *DEMO_SADAD).verify('T')

    def test_wrong_credentials(self):
        "Wrong credentials get the provider's code"
        url = self.simulator.url
        wrong_key = base64.b64encode(b'another-sadad-key-123456').decode()
        cases = [
            (lambda: SadadClient(url, DEMO_SADAD.merchant_id,
                    DEMO_SADAD.terminal_id, wrong_key).request_payment(
                    self.order_id(), 1000, CALLBACK_URL), '1025'),
            (lambda: SadadClient(url, '1', DEMO_SADAD.terminal_id,
                    DEMO_SADAD.terminal_key).request_payment(
                    self.order_id(), 1000, CALLBACK_URL), '1037'),
            (lambda: MellatClient(url, DEMO_MELLAT.terminal_id,
                    DEMO_MELLAT.user_name, 'wrong').request_payment(
                    self.order_id(), 1000, CALLBACK_URL), '24'),
            (lambda: MellatClient(url, 1, DEMO_MELLAT.user_name,
                    DEMO_MELLAT.user_password).request_payment(
                    self.order_id(), 1000, CALLBACK_URL), '21'),
            (lambda: ZarinpalClient(url, ZARINPAL_MERCHANT).request_payment(
                    self.order_id(), 1000, CALLBACK_URL, "قبض"), '-10'),
            ]
        for call, code in cases:
            with self.subTest(code=code):
                with self.assertRaises(ProtocolError) as context:
                    call()
                self.assertEqual(context.exception.code, code)

        # Verify with another key than the payment's
        _, (callback,) = self.pay(self.sadad(), 1000, 'approve')
        with self.assertRaises(ProtocolError) as context:
            SadadClient(url, *DEMO_SADAD[:2], wrong_key).verify(
                callback.token)
        self.assertEqual(context.exception.code, '-1')

    def test_secrets_stay_out(self):
        "Credentials appear in no result, log or exception"
        url = self.simulator.url
        sadad_key = base64.b64encode(b'secret-sadad-key-0987654').decode()
        clients = [
            (SadadClient(url, *DEMO_SADAD[:2], sadad_key), [sadad_key]),
            (MellatClient(url, DEMO_MELLAT.terminal_id, MELLAT_USER,
                    MELLAT_PASSWORD), [MELLAT_USER, MELLAT_PASSWORD]),
            (ZarinpalClient(url, ZARINPAL_MERCHANT), [ZARINPAL_MERCHANT]),
            ]
        demo = [DEMO_SADAD.terminal_key, DEMO_MELLAT.user_name,
            DEMO_MELLAT.user_password, DEMO_ZARINPAL.merchant_id]
        texts = []
        with self.assertLogs(LOGGER, 'DEBUG') as logs:
            # Refused: the credentials are not the simulator's
            for client, _ in clients:
                with self.assertRaises(ProtocolError) as context:
                    self.pay(client, 1000, 'approve')
                texts.append(''.join(
                        traceback.format_exception(context.exception)))
                texts.append(repr(context.exception.raw))
            # Accepted: the simulator's own credentials
            for client in [self.sadad(), self.mellat(), self.zarinpal()]:
                _, (callback,) = self.pay(client, 1000, 'approve')
                if isinstance(client, MellatClient):
                    result = client.verify(callback.order_id,
                        callback.sale_reference_id)
                else:
                    result = client.verify(callback.token, 1000)
                texts.extend([repr(callback), repr(result)])
        texts.extend(logs.output)
        text = '\n'.join(texts)

        self.assertIn('userPassword', text)
        self.assertIn('merchant_id', text)
        self.assertIn('SignData', text)
        for client, secrets in clients:
            for secret in secrets:
                self.assertNotIn(secret, text)
        for secret in demo:
            self.assertNotIn(secret, text)
