# This file is part of the water utility modules.
"""Tests of the SMS provider clients against a local HTTP server that
answers like Kavenegar and SMS.ir; no database needed."""
import datetime as dt
import itertools
import json
import re
import socket
import threading
import time
import unittest
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import NamedTuple
from urllib.parse import parse_qs

from trytond.modules.water_crm.sms_providers import (
    MASK, Delivery, KavenegarProvider, OutboxProvider, PermanentError,
    RetryableError, SmsIrProvider, retry_delay)

API_KEY = '6A2B3C4D5E6F7A8B9C0D1E2F3A4B5C6D7E8F9A0B1C2D3E4F5A6B='
LINE_NUMBER = '30004505000017'
MOBILE = '09121234567'
TEXT = "قبض آب شما صادر شد.\nمبلغ: ۱۲۳٬۰۰۰ ریال"
_KAVENEGAR = re.compile(
    r'/v1/(?P<key>[^/]+)/sms/(?P<method>send|status)\.json')
_SMSIR_REPORT = re.compile(r'/v1/send/(?P<id>[0-9]+)')
_MOBILE = re.compile(r'09[0-9]{9}', re.ASCII)


class Request(NamedTuple):
    "A request the gateway received"
    method: str
    path: str
    headers: dict
    form: dict
    json: object


class FakeGateway:
    """A local HTTP server that answers like Kavenegar and SMS.ir

    It takes the key API_KEY (and the SMS.ir line LINE_NUMBER), keeps every
    request in `requests` and answers as the real services do, with their
    error answers:

    - `failures` maps a mobile to 'busy' (try later), 'http5xx' (an error
      page of a proxy), 'slow' (answers after `delay` seconds) or
      'rejected' (the provider refuses the number),
    - `credit` is the number of messages the account can still pay,
    - `delivery` maps a message id to the provider's delivery code."""
    delay = 1

    def __init__(self):
        self.server = ThreadingHTTPServer(('127.0.0.1', 0), _Handler)
        self.server.daemon_threads = True
        self.server.gateway = self
        self.server.handle_error = lambda request, address: None
        self.url = 'http://127.0.0.1:%s' % self.server.server_address[1]
        self.reset()

    def reset(self):
        self.requests = []
        self.failures = {}
        self.credit = 100
        self.delivery = {}
        self.messages = {}
        self._ids = itertools.count(8792343)

    def start(self):
        threading.Thread(target=self.server.serve_forever, daemon=True
            ).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def _failure(self, mobile):
        failure = self.failures.get(mobile)
        if failure == 'slow':
            time.sleep(self.delay)
            return None
        return failure

    def kavenegar(self, request, key, method):
        "Return the HTTP status and JSON answer of Kavenegar"
        def error(status, message):
            return status, {
                'return': {'status': status, 'message': message},
                'entries': None,
                }
        if request.method != 'POST':
            return error(405, "متد فراخوانی Get یا Post اشتباه است")
        if key != API_KEY:
            return error(403, "API-Key شما معتبر نمی‌باشد")
        form = {k: v[0] for k, v in request.form.items()}
        if method == 'status':
            entries = []
            for message_id in form['messageid'].split(','):
                if message_id in self.messages:
                    status = self.delivery.get(message_id, 1)
                else:
                    status = 100
                entries.append({
                        'messageid': int(message_id),
                        'status': status,
                        'statustext': "وضعیت %s" % status,
                        })
            return 200, {
                'return': {'status': 200, 'message': "تایید شد"},
                'entries': entries,
                }
        if not form.get('receptor') or not form.get('message'):
            return error(400, "پارامترها ناقص هستند")
        receptor = form['receptor']
        failure = self._failure(receptor)
        if failure == 'http5xx':
            return 502, None
        elif failure == 'busy':
            return error(409, "سرور قادر به پاسخگوئی نیست بعدا تلاش کنید")
        elif failure == 'rejected' or not _MOBILE.fullmatch(receptor):
            return error(411, "گیرنده نامعتبر است")
        elif self.credit <= 0:
            return error(418, "اعتبار حساب شما کافی نیست")
        self.credit -= 1
        message_id = str(next(self._ids))
        self.messages[message_id] = receptor
        return 200, {
            'return': {'status': 200, 'message': "تایید شد"},
            'entries': [{
                    'messageid': int(message_id),
                    'message': form['message'],
                    'status': 1,
                    'statustext': "در صف ارسال",
                    'sender': form.get('sender', '10004346'),
                    'receptor': receptor,
                    'date': int(time.time()),
                    'cost': 120,
                    }],
            }

    def smsir(self, request):
        "Return the HTTP status and JSON answer of SMS.ir"
        def error(http_status, status, message):
            return http_status, {
                'status': status, 'message': message, 'data': None}
        if request.headers.get('X-API-KEY') != API_KEY:
            return error(401, 10, "کلید وب سرویس نامعتبر است")
        if request.path == '/v1/send/bulk' and request.method == 'POST':
            body = request.json
            if body.get('lineNumber') != int(LINE_NUMBER):
                return error(400, 101, "شماره خط نامعتبر میباشد")
            if not body.get('messageText'):
                return error(400, 103, "درخواست شما دارای متن خالی است")
            mobiles = body.get('mobiles') or []
            if not mobiles:
                return error(400, 107, "لیست موبایل ها خالی میباشد")
            failures = {self._failure(m) for m in mobiles}
            if 'http5xx' in failures:
                return 500, None
            elif 'busy' in failures:
                return error(429, 20, "تعداد درخواست بیشتر از حد مجاز است")
            elif ('rejected' in failures
                    or not all(map(_MOBILE.fullmatch, mobiles))):
                return error(400, 104,
                    "درخواست شما دارای موبایل های نادرست است")
            elif self.credit < len(mobiles):
                return error(400, 102, "اعتبار کافی نمیباشد")
            self.credit -= len(mobiles)
            ids = []
            for mobile in mobiles:
                ids.append(next(self._ids))
                self.messages[str(ids[-1])] = mobile
            return 200, {
                'status': 1,
                'message': "موفق",
                'data': {
                    'packId': str(uuid.uuid4()),
                    'messageIds': ids,
                    'cost': len(ids),
                    },
                }
        match = _SMSIR_REPORT.fullmatch(request.path)
        if match and request.method == 'GET':
            message_id = match.group('id')
            if message_id not in self.messages:
                return error(400, 111, "با این شناسه ارسالی ثبت نشده است")
            return 200, {
                'status': 1,
                'message': "موفق",
                'data': {
                    'messageId': int(message_id),
                    'mobile': int(self.messages[message_id]),
                    'messageText': TEXT,
                    'sendDateTime': int(time.time()),
                    'lineNumber': int(LINE_NUMBER),
                    'cost': 1,
                    'deliveryState': self.delivery.get(message_id),
                    'deliveryDateTime': None,
                    },
                }
        return 404, None


class _Handler(BaseHTTPRequestHandler):

    def log_message(self, format, *args):
        pass

    def do_GET(self):
        self._answer()

    def do_POST(self):
        self._answer()

    def _answer(self):
        gateway = self.server.gateway
        length = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(length).decode('utf-8')
        content_type = self.headers.get('Content-Type', '')
        request = Request(self.command, self.path, dict(self.headers),
            parse_qs(body) if 'x-www-form-urlencoded' in content_type
            else {},
            json.loads(body) if 'json' in content_type else None)
        gateway.requests.append(request)
        match = _KAVENEGAR.fullmatch(self.path)
        if match:
            status, answer = gateway.kavenegar(request, **match.groupdict())
        else:
            status, answer = gateway.smsir(request)
        if answer is None:
            content = b'<html><body>Bad Gateway</body></html>'
            content_type = 'text/html'
        else:
            content = json.dumps(answer, ensure_ascii=False).encode('utf-8')
            content_type = 'application/json; charset=utf-8'
        self.send_response(status)
        self.send_header('Content-Type', content_type)
        self.send_header('Content-Length', str(len(content)))
        self.end_headers()
        self.wfile.write(content)


class GatewayTestMixin:

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.gateway = FakeGateway()
        cls.gateway.start()
        cls.addClassCleanup(cls.gateway.stop)

    def setUp(self):
        super().setUp()
        self.gateway.reset()

    def assertNoKey(self, *values):
        "Assert that the API key is in none of the values"
        for value in values:
            self.assertNotIn(API_KEY,
                json.dumps(value, ensure_ascii=False, default=str))
            self.assertNotIn(API_KEY, str(value))


class KavenegarProviderTestCase(GatewayTestMixin, unittest.TestCase):
    "Test Kavenegar's client"

    def provider(self, **kwargs):
        kwargs.setdefault('base_url', self.gateway.url)
        return KavenegarProvider(API_KEY, '10004346', **kwargs)

    def test_send(self):
        "Send posts receptor, sender and message to send.json"
        result = self.provider().send(MOBILE, TEXT)

        request, = self.gateway.requests
        self.assertEqual(request.method, 'POST')
        self.assertEqual(request.path, f'/v1/{API_KEY}/sms/send.json')
        self.assertEqual(request.headers['Accept'], 'application/json')
        self.assertEqual(request.headers['Content-Type'],
            'application/x-www-form-urlencoded')
        self.assertEqual(request.form, {
                'receptor': [MOBILE],
                'sender': ['10004346'],
                'message': [TEXT],
                })
        self.assertEqual(result.message_id, '8792343')
        self.assertEqual(result.status,
            Delivery('accepted', '1', "در صف ارسال"))
        self.assertEqual(result.raw['request']['url'],
            f'{self.gateway.url}/v1/{MASK}/sms/send.json')
        self.assertEqual(result.raw['response']['status'], 200)
        self.assertEqual(
            result.raw['response']['body']['entries'][0]['messageid'],
            8792343)
        self.assertNoKey(result)

    def test_send_default_sender(self):
        "Without a sender, Kavenegar uses the account's line"
        provider = KavenegarProvider(API_KEY, None, self.gateway.url)

        provider.send(MOBILE, TEXT)

        request, = self.gateway.requests
        self.assertNotIn('sender', request.form)

    def test_default_url(self):
        "The real address is used when no base URL is given"
        self.assertEqual(KavenegarProvider(API_KEY, None).base_url,
            'https://api.kavenegar.com')

    def assertError(self, error, code, mobile=MOBILE, provider=None):
        provider = provider or self.provider()
        with self.assertRaises(error) as context:
            provider.send(mobile, TEXT)
        exception = context.exception
        self.assertEqual(exception.code, code)
        self.assertTrue(exception.message)
        self.assertEqual(exception.retryable, error is RetryableError)
        self.assertNoKey(exception, exception.raw, exception.args)
        if code in {'timeout', 'network'}:
            self.assertIsNone(exception.__context__)
        return exception

    def test_bad_key(self):
        "A wrong key is a permanent error"
        provider = KavenegarProvider('0BAD' + API_KEY, None,
            self.gateway.url)
        exception = self.assertError(PermanentError, '403',
            provider=provider)
        self.assertEqual(exception.message, "کلید API معتبر نیست")
        self.assertEqual(exception.raw['response']['status'], 403)

    def test_invalid_receptor(self):
        "A number Kavenegar refuses is a permanent error"
        exception = self.assertError(PermanentError, '411', '0912')
        self.assertEqual(exception.message, "شماره گیرنده معتبر نیست")

    def test_no_credit(self):
        "An empty account is a permanent error"
        self.gateway.credit = 0
        exception = self.assertError(PermanentError, '418')
        self.assertEqual(exception.message, "اعتبار حساب کافی نیست")

    def test_try_later(self):
        "409 asks to try later"
        self.gateway.failures[MOBILE] = 'busy'
        self.assertError(RetryableError, '409')

    def test_http_5xx(self):
        "An error page of a server or proxy can be retried"
        self.gateway.failures[MOBILE] = 'http5xx'
        exception = self.assertError(RetryableError, '502')
        self.assertEqual(exception.raw['response']['body'],
            '<html><body>Bad Gateway</body></html>')

    def test_timeout(self):
        "A slow answer is a timeout that can be retried"
        self.gateway.failures[MOBILE] = 'slow'
        exception = self.assertError(RetryableError, 'timeout',
            provider=self.provider(timeout=0.2))
        self.assertIn('error', exception.raw)

    def test_network_error(self):
        "No server listening is a network error that can be retried"
        with socket.socket() as sock:
            sock.bind(('127.0.0.1', 0))
            port = sock.getsockname()[1]
        provider = self.provider(base_url=f'http://127.0.0.1:{port}')
        exception = self.assertError(RetryableError, 'network',
            provider=provider)
        self.assertIn(MASK, exception.raw['error'])

    def test_status(self):
        "status.json gives delivered, failed and pending messages"
        provider = self.provider()
        ids = [provider.send(m, TEXT).message_id
            for m in ['09121111111', '09122222222', '09123333333']]
        self.gateway.delivery.update({ids[0]: 10, ids[1]: 11})
        self.gateway.requests.clear()

        statuses = provider.status(ids + ['1'])

        request, = self.gateway.requests
        self.assertEqual(request.path, f'/v1/{API_KEY}/sms/status.json')
        self.assertEqual(request.form, {'messageid': [','.join(ids + ['1'])]})
        self.assertEqual(statuses, {
                ids[0]: Delivery('delivered', '10', "رسیده به گیرنده"),
                ids[1]: Delivery('failed', '11', "نرسیده به گیرنده"),
                ids[2]: Delivery('accepted', '1', "در صف ارسال"),
                '1': Delivery('failed', '100', "شناسه پیامک نامعتبر است"),
                })

    def test_status_batches(self):
        "Kavenegar is asked the status of a limited number at once"
        provider = self.provider()
        provider.status_size = 2
        ids = [provider.send(MOBILE, TEXT).message_id for _ in range(3)]
        self.gateway.requests.clear()

        statuses = provider.status(ids)

        self.assertEqual(
            [r.form['messageid'] for r in self.gateway.requests],
            [[','.join(ids[:2])], [ids[2]]])
        self.assertEqual(set(statuses), set(ids))

    def test_status_bad_key(self):
        "A wrong key stops the delivery reports"
        provider = KavenegarProvider('0BAD', None, self.gateway.url)
        with self.assertRaises(PermanentError):
            provider.status(['8792343'])

    def test_error_with_http_200(self):
        "The code of the envelope counts even when HTTP says 200"
        provider = self.provider()
        provider._call = lambda *a, **k: (200, {
                'return': {'status': 418, 'message': "..."},
                'entries': None}, {})
        with self.assertRaises(PermanentError) as context:
            provider.send(MOBILE, TEXT)
        self.assertEqual(context.exception.code, '418')


class SmsIrProviderTestCase(GatewayTestMixin, unittest.TestCase):
    "Test SMS.ir's client"

    def provider(self, **kwargs):
        kwargs.setdefault('base_url', self.gateway.url)
        return SmsIrProvider(API_KEY, LINE_NUMBER, **kwargs)

    def test_send(self):
        "Send posts the line, the text and the mobile to send/bulk"
        result = self.provider().send(MOBILE, TEXT)

        request, = self.gateway.requests
        self.assertEqual(request.method, 'POST')
        self.assertEqual(request.path, '/v1/send/bulk')
        self.assertEqual(request.headers['X-API-KEY'], API_KEY)
        self.assertEqual(request.headers['Accept'], 'application/json')
        self.assertEqual(request.headers['Content-Type'], 'application/json')
        self.assertEqual(request.json, {
                'lineNumber': 30004505000017,
                'messageText': TEXT,
                'mobiles': [MOBILE],
                })
        self.assertEqual(result.message_id, '8792343')
        self.assertEqual(result.status, Delivery('accepted'))
        self.assertEqual(result.raw['request']['url'],
            f'{self.gateway.url}/v1/send/bulk')
        self.assertEqual(result.raw['request']['headers']['X-API-KEY'], MASK)
        self.assertEqual(
            result.raw['response']['body']['data']['messageIds'], [8792343])
        self.assertNoKey(result)

    def test_default_url(self):
        "The real address is used when no base URL is given"
        self.assertEqual(SmsIrProvider(API_KEY, LINE_NUMBER).base_url,
            'https://api.sms.ir')

    def assertError(self, error, code, mobile=MOBILE, provider=None):
        provider = provider or self.provider()
        with self.assertRaises(error) as context:
            provider.send(mobile, TEXT)
        exception = context.exception
        self.assertEqual(exception.code, code)
        self.assertTrue(exception.message)
        self.assertEqual(exception.retryable, error is RetryableError)
        self.assertNoKey(exception, exception.raw, exception.args)
        if code in {'timeout', 'network'}:
            self.assertIsNone(exception.__context__)
        return exception

    def test_bad_key(self):
        "A wrong key is refused with 401 and is permanent"
        exception = self.assertError(PermanentError, '10',
            provider=SmsIrProvider('BAD', LINE_NUMBER, self.gateway.url))
        self.assertEqual(exception.raw['response']['status'], 401)

    def test_bad_line(self):
        "A line that is not the account's is permanent"
        self.assertError(PermanentError, '101',
            provider=SmsIrProvider(API_KEY, '3000', self.gateway.url))

    def test_invalid_mobile(self):
        "A mobile SMS.ir refuses is permanent"
        self.gateway.failures[MOBILE] = 'rejected'
        exception = self.assertError(PermanentError, '104')
        self.assertEqual(exception.message, "شماره موبایل نادرست است")

    def test_no_credit(self):
        "An empty account is permanent"
        self.gateway.credit = 0
        exception = self.assertError(PermanentError, '102')
        self.assertEqual(exception.message, "اعتبار حساب کافی نیست")

    def test_too_many_requests(self):
        "429 with status 20 can be retried"
        self.gateway.failures[MOBILE] = 'busy'
        exception = self.assertError(RetryableError, '20')
        self.assertEqual(exception.raw['response']['status'], 429)

    def test_http_5xx(self):
        "500 without an envelope can be retried"
        self.gateway.failures[MOBILE] = 'http5xx'
        self.assertError(RetryableError, '500')

    def test_timeout(self):
        "A slow answer is a timeout that can be retried"
        self.gateway.failures[MOBILE] = 'slow'
        self.assertError(RetryableError, 'timeout',
            provider=self.provider(timeout=0.2))

    def test_status(self):
        "Each message's report gives its delivery state"
        provider = self.provider()
        ids = [provider.send(m, TEXT).message_id
            for m in ['09121111111', '09122222222', '09123333333']]
        self.gateway.delivery.update({ids[0]: 1, ids[1]: 7})
        self.gateway.requests.clear()

        statuses = provider.status(ids + ['1'])

        self.assertEqual(
            [(r.method, r.path, r.headers['X-API-KEY'])
                for r in self.gateway.requests],
            [('GET', f'/v1/send/{i}', API_KEY) for i in ids + ['1']])
        self.assertEqual(statuses, {
                ids[0]: Delivery('delivered', '1', "رسیده به گوشی"),
                ids[1]: Delivery('failed', '7', "شماره در فهرست سیاه است"),
                ids[2]: Delivery('accepted', None, "در انتظار گزارش تحویل"),
                '1': Delivery('failed', '111',
                    "پیامکی با این شناسه ثبت نشده است"),
                })

    def test_status_bad_key(self):
        "A wrong key stops the delivery reports"
        provider = SmsIrProvider('BAD', LINE_NUMBER, self.gateway.url)
        with self.assertRaises(PermanentError):
            provider.status(['8792343'])


class OutboxProviderTestCase(unittest.TestCase):
    "Test the outbox"

    def test_send(self):
        "The outbox keeps the message and sends nothing"
        result = OutboxProvider().send(MOBILE, TEXT)

        self.assertIsNone(result.message_id)
        self.assertEqual(result.status.state, 'accepted')
        self.assertEqual(result.raw,
            {'request': {'mobile': MOBILE, 'message': TEXT}})

    def test_status(self):
        "The outbox knows no delivery"
        self.assertEqual(OutboxProvider().status(['1']), {})


class RetryDelayTestCase(unittest.TestCase):
    "Test the delay between tries"

    def test_doubles(self):
        "The delay doubles after each failure"
        self.assertEqual(
            [retry_delay(n) for n in range(1, 5)],
            [dt.timedelta(minutes=m) for m in [5, 10, 20, 40]])

    def test_ceiling(self):
        "The delay stops growing"
        self.assertEqual(retry_delay(30), dt.timedelta(hours=6))
