# This file is part of the water utility modules.
"""A local bank for development and tests.

It speaks Sadad, Mellat and Zarinpal at the paths of the real gateways,
checks the credentials it is given, keeps its transactions in memory and
shows a payment page whose buttons decide the outcome. It only listens on
a loopback address.

From a test::

    simulator = BankSimulator().start()   # an ephemeral port
    client = SadadClient(simulator.url, *DEMO_SADAD)
    ...
    simulator.stop()

The payment page is a form posted to /_simulator/decide with the token and
a decision among DECISIONS; the answer is the page that sends the browser
back to the merchant, one form per callback. fail_next(), delay_next() and
advance() (also POST /_simulator/fault and /_simulator/advance) break the
next server-to-server call or move the clock past the verify windows."""
import base64
import binascii
import collections
import dataclasses
import html
import ipaddress
import json
import logging
import secrets
import socket
import threading
import time
import typing
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit, urlunsplit
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape

from Crypto.Cipher import DES3
from Crypto.Util.Padding import unpad

from .gateways import mellat, sadad, zarinpal

logger = logging.getLogger(__name__)


class SadadTerminal(typing.NamedTuple):
    merchant_id: str
    terminal_id: str
    terminal_key: str


class MellatTerminal(typing.NamedTuple):
    terminal_id: str
    user_name: str
    user_password: str


class ZarinpalMerchant(typing.NamedTuple):
    merchant_id: str


# Test credentials of the simulator, never valid at a real bank
DEMO_SADAD = SadadTerminal('000000140335555', '24035555',
    'ZGVtby1zYWRhZC10ZXJtaW5hbC1rZXkh')
DEMO_MELLAT = MellatTerminal('5555', 'demo-user', 'demo-password')
DEMO_ZARINPAL = ZarinpalMerchant('00000000-0000-4000-8000-000000005555')

DECISIONS = {
    'approve': "پرداخت",
    'decline': "رد تراکنش توسط بانک",
    'cancel': "انصراف",
    'never_return': "پرداخت بدون بازگشت به سایت پذیرنده",
    'twice': "پرداخت و ارسال دوبار نتیجه",
    'other_amount': "پرداخت مبلغ دیگر",
    }
PROVIDER_NAMES = {
    'sadad': "سداد (بانک ملی ایران)",
    'mellat': "به‌پرداخت ملت",
    'zarinpal': "زرین‌پال",
    }

NEW, PAID, FAILED, CANCELLED = 'new', 'paid', 'failed', 'cancelled'
VERIFIED, SETTLED, REVERSED = 'verified', 'settled', 'reversed'
STATE_NAMES = {
    NEW: "در انتظار پرداخت",
    PAID: "پرداخت شده، تأیید نشده",
    FAILED: "ناموفق",
    CANCELLED: "انصراف",
    VERIFIED: "تأیید شده",
    SETTLED: "تسویه شده",
    REVERSED: "برگشت خورده",
    }

# Mellat's answer to each follow-up call by state of the sale: the code and
# the new state; any other state (no successful sale) answers 42
MELLAT_ANSWERS = {
    'bpVerifyRequest': {
        PAID: ('0', VERIFIED),
        VERIFIED: ('43', VERIFIED),
        SETTLED: ('43', SETTLED),
        REVERSED: ('48', REVERSED),
        },
    'bpSettleRequest': {
        PAID: ('44', PAID),
        VERIFIED: ('0', SETTLED),
        SETTLED: ('45', SETTLED),
        REVERSED: ('48', REVERSED),
        },
    'bpInquiryRequest': {
        PAID: ('44', PAID),
        VERIFIED: ('0', VERIFIED),
        SETTLED: ('0', SETTLED),
        REVERSED: ('48', REVERSED),
        },
    'bpReversalRequest': {
        PAID: ('0', REVERSED),
        VERIFIED: ('0', REVERSED),
        SETTLED: ('45', SETTLED),
        REVERSED: ('48', REVERSED),
        },
    }
# The code of the callback for a failed or cancelled payment
FAILURE_CODES = {
    'sadad': {FAILED: '-1', CANCELLED: '-1'},
    'mellat': {FAILED: '12', CANCELLED: mellat.CANCELLED},
    'zarinpal': {FAILED: 'NOK', CANCELLED: 'NOK'},
    }
SOAP_ANSWER = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
    '<soap:Body>{}</soap:Body></soap:Envelope>')


@dataclasses.dataclass
class Transaction:
    provider: str
    token: str
    order_id: int | None
    amount: int
    callback_url: str
    state: str = NEW
    paid_amount: int | None = None
    paid_at: float | None = None
    paid_on: str | None = None
    rrn: str | None = None
    trace_number: str | None = None
    card_pan: str | None = None
    card_hash: str | None = None
    sale_reference_id: str | None = None


@dataclasses.dataclass
class Request:
    path: str
    query: dict
    body: bytes

    def form(self):
        return dict(parse_qsl(self.body.decode('utf-8', 'replace')))

    def json(self):
        try:
            data = json.loads(self.body)
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}


class Answer(typing.NamedTuple):
    status: int
    content_type: str
    body: bytes


def json_answer(data):
    return Answer(200, 'application/json; charset=utf-8',
        json.dumps(data, ensure_ascii=False).encode('utf-8'))


def html_answer(title, content, status=200):
    page = (
        '<!DOCTYPE html>\n<html lang="fa" dir="rtl"><head>'
        '<meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{html.escape(title)}</title>'
        '<style>body{font-family:Vazirmatn,Tahoma,sans-serif;max-width:36em;'
        'margin:2em auto;padding:0 1em}button{display:block;width:100%;'
        'margin:.4em 0;padding:.6em}pre{overflow-x:auto}'
        'table{border-collapse:collapse;width:100%}'
        'td,th{border:1px solid #ccc;padding:.3em}</style></head><body>'
        f'<h1>{html.escape(title)}</h1>{content}</body></html>')
    return Answer(status, 'text/html; charset=utf-8', page.encode('utf-8'))


def soap_answer(content, status=200):
    return Answer(status, 'text/xml; charset=utf-8',
        SOAP_ANSWER.format(content).encode('utf-8'))


def soap_fault(message):
    return soap_answer('<soap:Fault><faultcode>soap:Client</faultcode>'
        f'<faultstring>{escape(message)}</faultstring></soap:Fault>', 500)


def hidden(fields):
    return ''.join(
        f'<input type="hidden" name="{html.escape(name)}" '
        f'value="{html.escape(str(value))}">'
        for name, value in fields.items())


def digits(count):
    return ''.join(secrets.choice('0123456789') for _ in range(count))


def check_loopback(host):
    "The address to listen on, refused unless it is a loopback"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is None or not address.is_loopback:
        raise ValueError(
            f"the bank simulator only listens on a loopback address, "
            f"not {host!r}")
    return address


class _Server(ThreadingHTTPServer):
    daemon_threads = True


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    server_version = 'BankSimulator'

    def do_GET(self):
        self.server.simulator.handle(self, 'GET')

    def do_POST(self):
        self.server.simulator.handle(self, 'POST')

    def log_message(self, format, *args):
        logger.info("%s %s", self.address_string(), format % args)


class BankSimulator:
    """The local bank; windows are the seconds a paid transaction waits
    for its verify before the bank reverses it (None: never)."""

    def __init__(self, host='127.0.0.1', port=0, *,
            sadad_terminal=DEMO_SADAD, mellat_terminal=DEMO_MELLAT,
            zarinpal_merchant=DEMO_ZARINPAL,
            sadad_window=15 * 60, mellat_window=20 * 60):
        address = check_loopback(host)
        self.sadad_terminal = sadad_terminal
        self.mellat_terminal = mellat_terminal
        self.zarinpal_merchant = zarinpal_merchant
        self.windows = {
            'sadad': sadad_window,
            'mellat': mellat_window,
            'zarinpal': None,
            }
        self._sadad_key = base64.b64decode(sadad_terminal.terminal_key)
        self._lock = threading.Lock()
        self._transactions = {}
        self._faults = collections.deque()
        self._offset = 0
        self._thread = None
        server_class = _Server6 if address.version == 6 else _Server
        self._server = server_class((host, port), _Handler)
        self._server.simulator = self
        port = self._server.server_address[1]
        host = f'[{host}]' if address.version == 6 else host
        self.url = f'http://{host}:{port}'
        self._routes = {
            ('POST', sadad.REQUEST_PATH): self.sadad_request,
            ('POST', sadad.VERIFY_PATH): self.sadad_verify,
            ('POST', mellat.SERVICE_PATH): self.mellat_service,
            ('POST', zarinpal.REQUEST_PATH): self.zarinpal_request,
            ('POST', zarinpal.VERIFY_PATH): self.zarinpal_verify,
            ('POST', zarinpal.UNVERIFIED_PATH): self.zarinpal_unverified,
            ('GET', '/'): self.home,
            ('GET', sadad.PURCHASE_PATH): self.sadad_page,
            ('POST', mellat.STARTPAY_PATH): self.mellat_page,
            ('POST', '/_simulator/decide'): self.decide,
            ('POST', '/_simulator/fault'): self.fault,
            ('POST', '/_simulator/advance'): self.advance_request,
            }
        # The merchant's server-to-server calls, the ones faults break
        self._api = {
            self.sadad_request, self.sadad_verify, self.mellat_service,
            self.zarinpal_request, self.zarinpal_verify,
            self.zarinpal_unverified,
            }

    def describe(self):
        "Lines telling where each provider is and its test credentials"
        url = self.url
        s, m = self.sadad_terminal, self.mellat_terminal
        return [
            f"Bank simulator on {url} (test credentials only)",
            f"Sadad     base URL {url}: {sadad.REQUEST_PATH}, "
            f"{sadad.PURCHASE_PATH}, {sadad.VERIFY_PATH}",
            f"          merchant {s.merchant_id}, terminal "
            f"{s.terminal_id}, key {s.terminal_key}",
            f"Mellat    base URL {url}: {mellat.SERVICE_PATH}, "
            f"{mellat.STARTPAY_PATH}",
            f"          terminal {m.terminal_id}, user {m.user_name}, "
            f"password {m.user_password}",
            f"Zarinpal  base URL {url}: {zarinpal.REQUEST_PATH}, "
            f"{zarinpal.STARTPAY_PATH}<authority>",
            f"          merchant {self.zarinpal_merchant.merchant_id}",
            ]

    # Running

    def serve_forever(self):
        "Serve in this thread until stop() or an interrupt"
        try:
            self._server.serve_forever(poll_interval=0.1)
        finally:
            self._server.server_close()

    def start(self):
        "Serve in a background thread"
        self._thread = threading.Thread(target=self.serve_forever,
            name='bank-simulator', daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._server.shutdown()
        self._thread.join()

    # Test hooks

    def fail_next(self, status=500):
        "The next server-to-server call answers status, unprocessed"
        with self._lock:
            self._faults.append(('status', status))

    def delay_next(self, seconds):
        "The next server-to-server call is processed but answers late"
        with self._lock:
            self._faults.append(('delay', seconds))

    def advance(self, seconds):
        "Move the simulator's clock forward"
        with self._lock:
            self._offset += seconds

    def transaction(self, token):
        "A copy of the transaction of token, None if unknown"
        with self._lock:
            self._expire()
            transaction = self._transactions.get(token)
            return dataclasses.replace(transaction) if transaction else None

    def now(self):
        return time.monotonic() + self._offset

    def _expire(self):
        "Reverse the paid transactions whose verify window has passed"
        now = self.now()
        for transaction in self._transactions.values():
            window = self.windows[transaction.provider]
            if (transaction.state == PAID and window is not None
                    and now - transaction.paid_at > window):
                transaction.state = REVERSED

    def _create(self, provider, token, order_id, amount, callback_url):
        self._transactions[token] = Transaction(provider=provider,
            token=token, order_id=order_id, amount=amount,
            callback_url=callback_url)

    def _find(self, provider, token):
        transaction = self._transactions.get(token)
        if transaction and transaction.provider == provider:
            return transaction

    def _order_exists(self, provider, order_id):
        return any(t.provider == provider and t.order_id == order_id
            for t in self._transactions.values())

    # HTTP

    def handle(self, handler, method):
        url = urlsplit(handler.path)
        length = int(handler.headers.get('Content-Length') or 0)
        request = Request(path=url.path, query=dict(parse_qsl(url.query)),
            body=handler.rfile.read(length))
        route = self._routes.get((method, url.path))
        if (route is None and method == 'GET'
                and url.path.startswith(zarinpal.STARTPAY_PATH)):
            route = self.zarinpal_page
        if route is None:
            answer = html_answer("یافت نشد", '', 404)
        else:
            fault = None
            if route in self._api:
                with self._lock:
                    fault = self._faults.popleft() if self._faults else None
            if fault and fault[0] == 'status':
                answer = Answer(fault[1], 'text/plain', b'Server Error')
            else:
                answer = route(request)
                if fault:
                    time.sleep(fault[1])
        try:
            handler.send_response(answer.status)
            handler.send_header('Content-Type', answer.content_type)
            handler.send_header('Content-Length', str(len(answer.body)))
            handler.end_headers()
            handler.wfile.write(answer.body)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up waiting, as a delayed answer wants
            pass

    # Sadad

    def _sadad_signed(self, sign_data, data):
        "Whether sign_data is data encrypted with the terminal's key"
        try:
            cipher = DES3.new(self._sadad_key, DES3.MODE_ECB)
            plain = unpad(cipher.decrypt(base64.b64decode(sign_data)),
                DES3.block_size)
        except (binascii.Error, ValueError, TypeError):
            return False
        return plain == data.encode('utf-8')

    def _sadad_refusal(self, code):
        return json_answer({
                'ResCode': int(code),
                'Token': None,
                'Description': sadad.REQUEST_CODES[code],
                })

    def sadad_request(self, request):
        data = request.json()
        required = ['MerchantId', 'TerminalId', 'Amount', 'OrderId',
            'LocalDateTime', 'ReturnUrl', 'SignData']
        if any(data.get(name) in (None, '') for name in required):
            return self._sadad_refusal('1001')
        if (str(data['MerchantId']) != self.sadad_terminal.merchant_id
                or str(data['TerminalId']) != self.sadad_terminal.terminal_id):
            return self._sadad_refusal('1037')
        try:
            order_id, amount = int(data['OrderId']), int(data['Amount'])
        except (TypeError, ValueError):
            return self._sadad_refusal('1001')
        signed = (f"{data['TerminalId']};{data['OrderId']};"
            f"{data['Amount']}")
        if not self._sadad_signed(data['SignData'], signed):
            return self._sadad_refusal('1025')
        if amount <= 0:
            return self._sadad_refusal('1101')
        with self._lock:
            if self._order_exists('sadad', order_id):
                return self._sadad_refusal('1011')
            token = secrets.token_hex(18).upper()
            self._create('sadad', token, order_id, amount,
                data['ReturnUrl'])
        return json_answer({
                'ResCode': 0,
                'Token': token,
                'Description': "عملیات با موفقیت انجام شد",
                })

    def sadad_verify(self, request):
        data = request.json()
        token = str(data.get('Token') or '')
        code = '-1'
        with self._lock:
            self._expire()
            transaction = self._find('sadad', token)
            if transaction and self._sadad_signed(
                    data.get('SignData'), token):
                if transaction.state == PAID:
                    transaction.state = VERIFIED
                    code = '0'
                elif transaction.state == VERIFIED:
                    code = '100'
                elif transaction.state == REVERSED:
                    code = '101'
            answer = {
                'ResCode': int(code),
                'Description': sadad.VERIFY_CODES[code],
                }
            if code in {'0', '100'}:
                answer.update({
                        'Amount': transaction.paid_amount,
                        'RetrivalRefNo': transaction.rrn,
                        'SystemTraceNo': transaction.trace_number,
                        'OrderId': transaction.order_id,
                        'TransactionDate': transaction.paid_on,
                        'CardHolderFullName': "دارنده کارت آزمایشی",
                        })
        return json_answer(answer)

    def sadad_page(self, request):
        return self._page('sadad', request.query.get('Token', ''))

    # Mellat

    def mellat_service(self, request):
        try:
            root = ET.fromstring(request.body)
        except ET.ParseError as exception:
            return soap_fault(f"Unmarshalling Error: {exception}")
        call = root.find(f'{{{mellat.SOAP_ENV}}}Body/*')
        operation = (call.tag.rpartition('}')[2]
            if call is not None else '')
        if operation != 'bpPayRequest' and operation not in MELLAT_ANSWERS:
            return soap_fault(f"Unknown operation {operation!r}")
        params = {c.tag.rpartition('}')[2]: (c.text or '').strip()
            for c in call}
        terminal = self.mellat_terminal
        try:
            if params.get('terminalId') != terminal.terminal_id:
                code = '21'
            elif (params.get('userName'), params.get('userPassword')) != (
                    terminal.user_name, terminal.user_password):
                code = '24'
            elif operation == 'bpPayRequest':
                code = self._mellat_pay(params)
            else:
                code = self._mellat_follow_up(operation, params)
        except ValueError as exception:
            return soap_fault(f"Unmarshalling Error: {exception}")
        return soap_answer(
            f'<ns2:{operation}Response xmlns:ns2="{mellat.NAMESPACE}">'
            f'<return>{escape(code)}</return></ns2:{operation}Response>')

    def _mellat_pay(self, params):
        order_id = int(params.get('orderId', ''))
        amount = int(params.get('amount', ''))
        date, time_ = params.get('localDate', ''), params.get('localTime', '')
        if amount <= 0:
            return '25'
        if not (len(date) == 8 and date.isdigit()
                and len(time_) == 6 and time_.isdigit()):
            return '35'
        if urlsplit(params.get('callBackUrl', '')).scheme not in {
                'http', 'https'}:
            return '62'
        with self._lock:
            if self._order_exists('mellat', order_id):
                return '41'
            ref_id = secrets.token_hex(10).upper()
            self._create('mellat', ref_id, order_id, amount,
                params['callBackUrl'])
        return f'0,{ref_id}'

    def _mellat_follow_up(self, operation, params):
        sale_order_id = int(params.get('saleOrderId', ''))
        sale_reference_id = params.get('saleReferenceId')
        with self._lock:
            self._expire()
            transaction = next((t for t in self._transactions.values()
                    if t.provider == 'mellat'
                    and t.order_id == sale_order_id
                    and t.sale_reference_id == sale_reference_id), None)
            if transaction is None:
                return '42'
            code, state = MELLAT_ANSWERS[operation].get(
                transaction.state, ('42', transaction.state))
            transaction.state = state
        return code

    def mellat_page(self, request):
        return self._page('mellat', request.form().get('RefId', ''))

    # Zarinpal

    def _zarinpal_error(self, code, message, validations=()):
        return json_answer({
                'data': [],
                'errors': {
                    'code': code,
                    'message': message,
                    'validations': list(validations),
                    },
                })

    def _zarinpal_merchant(self, data):
        return data.get('merchant_id') == self.zarinpal_merchant.merchant_id

    def zarinpal_request(self, request):
        data = request.json()
        if not self._zarinpal_merchant(data):
            return self._zarinpal_error(-10, "Terminal is not valid, please "
                "check merchant_id or ip address.")
        amount = data.get('amount')
        validations = [
            {name: f"The {name} field is required."}
            for name in ['callback_url', 'description']
            if not data.get(name)]
        if not isinstance(amount, int) or amount < 1000:
            validations.append(
                {'amount': "The amount must be at least 1000."})
        if validations:
            return self._zarinpal_error(-9,
                "The input params invalid, validation error.", validations)
        metadata = data.get('metadata')
        order_id = (metadata.get('order_id')
            if isinstance(metadata, dict) else None)
        with self._lock:
            authority = 'A' + digits(35)
            self._create('zarinpal', authority,
                int(order_id) if str(order_id).isdigit() else None,
                amount, data['callback_url'])
        return json_answer({
                'data': {
                    'code': 100,
                    'message': "Success",
                    'authority': authority,
                    'fee_type': "Merchant",
                    'fee': 0,
                    },
                'errors': [],
                })

    def zarinpal_verify(self, request):
        data = request.json()
        if not self._zarinpal_merchant(data):
            return self._zarinpal_error(-10, "Terminal is not valid, please "
                "check merchant_id or ip address.")
        with self._lock:
            transaction = self._find('zarinpal', str(data.get('authority')))
            if transaction is None:
                return self._zarinpal_error(-54, "Authority is invalid.")
            if transaction.state not in {PAID, VERIFIED}:
                return self._zarinpal_error(-51,
                    "Session is not valid, session is not active paid try.")
            if data.get('amount') != transaction.paid_amount:
                return self._zarinpal_error(-50,
                    "Session is not valid, amounts values is not the same.")
            code, message = 101, "Verified"
            if transaction.state == PAID:
                transaction.state = VERIFIED
                code, message = 100, "Paid"
            return json_answer({
                    'data': {
                        'code': code,
                        'message': message,
                        'card_hash': transaction.card_hash,
                        'card_pan': transaction.card_pan,
                        'ref_id': int(transaction.rrn),
                        'fee_type': "Merchant",
                        'fee': 0,
                        },
                    'errors': [],
                    })

    def zarinpal_unverified(self, request):
        if not self._zarinpal_merchant(request.json()):
            return self._zarinpal_error(-10, "Terminal is not valid, please "
                "check merchant_id or ip address.")
        with self._lock:
            authorities = [{
                    'authority': t.token,
                    'amount': t.amount,
                    'callback_url': t.callback_url,
                    'referer': '',
                    'date': t.paid_on,
                    } for t in self._transactions.values()
                if t.provider == 'zarinpal' and t.state == PAID]
        return json_answer({
                'data': {
                    'code': 100,
                    'message': "Success",
                    'authorities': authorities,
                    },
                })

    def zarinpal_page(self, request):
        return self._page('zarinpal',
            request.path[len(zarinpal.STARTPAY_PATH):])

    # The home page

    def home(self, request):
        """What the simulator is, where each provider is with its test
        credentials, and the transactions it saw, the latest first"""
        with self._lock:
            self._expire()
            transactions = [dataclasses.replace(t)
                for t in reversed(self._transactions.values())]
        rows = ''.join(
            '<tr>'
            f'<td>{PROVIDER_NAMES[t.provider]}</td>'
            f'<td>{html.escape(str(t.order_id or ""))}</td>'
            f'<td>{t.amount:,}</td>'
            f'<td>{STATE_NAMES[t.state]}</td>'
            f'<td dir="ltr">{html.escape(t.paid_on or "")}</td>'
            '</tr>' for t in transactions)
        table = ('<table><tr><th>درگاه</th><th>شماره سفارش</th>'
            '<th>مبلغ (ریال)</th><th>وضعیت</th><th>زمان پرداخت</th></tr>'
            f'{rows}</table>' if transactions
            else '<p>هنوز تراکنشی نیامده است.</p>')
        return html_answer("بانک آزمایشی",
            '<p>این شبیه‌ساز درگاه‌های سداد، به‌پرداخت ملت و زرین‌پال است؛ '
            'پولی جابه‌جا نمی‌شود و فقط روی همین رایانه در دسترس است.</p>'
            f'<pre dir="ltr">{html.escape(chr(10).join(self.describe()))}'
            '</pre>' + table)

    # The payment page and its decisions

    def _page(self, provider, token):
        with self._lock:
            transaction = self._find(provider, token)
            state = transaction.state if transaction else None
        if transaction is None:
            return html_answer("تراکنش نامعتبر است", '', 404)
        if state != NEW:
            return html_answer("این تراکنش قبلا انجام شده است", '', 409)
        buttons = ''.join(
            f'<button type="submit" name="decision" value="{value}">'
            f'{label}</button>' for value, label in DECISIONS.items())
        return html_answer(f"درگاه آزمایشی {PROVIDER_NAMES[provider]}",
            '<p>این درگاه شبیه‌ساز است و پولی جابه‌جا نمی‌شود.</p>'
            f'<p>شماره سفارش: {html.escape(str(transaction.order_id))}</p>'
            f'<p>مبلغ: {transaction.amount:,} ریال</p>'
            '<form method="post" action="/_simulator/decide">'
            + hidden({'token': token})
            + '<label>مبلغ دیگر (ریال): <input type="number" '
            f'name="paid_amount" value="{transaction.amount}"></label>'
            + buttons + '</form>')

    def decide(self, request):
        form = request.form()
        decision = form.get('decision')
        if decision not in DECISIONS:
            return html_answer("تصمیم نامعتبر است", '', 400)
        with self._lock:
            transaction = self._transactions.get(form.get('token', ''))
            if transaction is None:
                return html_answer("تراکنش نامعتبر است", '', 404)
            if transaction.state != NEW:
                return html_answer("این تراکنش قبلا انجام شده است", '', 409)
            if decision == 'decline':
                transaction.state = FAILED
            elif decision == 'cancel':
                transaction.state = CANCELLED
            else:
                paid_amount = transaction.amount
                if decision == 'other_amount':
                    try:
                        paid_amount = int(form.get('paid_amount', ''))
                    except ValueError:
                        paid_amount = 0
                    if paid_amount <= 0:
                        return html_answer("مبلغ نامعتبر است", '', 400)
                self._pay(transaction, paid_amount)
            transaction = dataclasses.replace(transaction)
        if decision == 'never_return':
            return html_answer("پرداخت انجام شد",
                f'<p>شماره مرجع: {transaction.rrn}</p>'
                f'<p>شماره پیگیری: {transaction.trace_number}</p>')
        return self._callback_page(transaction,
            2 if decision == 'twice' else 1)

    def _pay(self, transaction, paid_amount):
        transaction.state = PAID
        transaction.paid_amount = paid_amount
        transaction.paid_at = self.now()
        transaction.paid_on = time.strftime('%Y-%m-%d %H:%M:%S')
        transaction.rrn = digits(12)
        transaction.trace_number = digits(6)
        transaction.card_pan = '603799******' + digits(4)
        transaction.card_hash = secrets.token_hex(32).upper()
        transaction.sale_reference_id = digits(12)

    def _callback_fields(self, transaction):
        "The provider's fields of the callback"
        paid = transaction.state == PAID
        code = ('0' if paid
            else FAILURE_CODES[transaction.provider][transaction.state])
        if transaction.provider == 'sadad':
            return {
                'OrderId': transaction.order_id,
                'HashedCardNo': transaction.card_hash or '',
                'PrimaryAccNo': transaction.card_pan or '',
                'SwitchResCode': '00' if paid else '',
                'ResCode': code,
                'CardHolderFullName': "دارنده کارت آزمایشی" if paid else '',
                'Token': transaction.token,
                }
        if transaction.provider == 'mellat':
            fields = {
                'RefId': transaction.token,
                'ResCode': code,
                'SaleOrderId': transaction.order_id,
                }
            if paid:
                fields.update({
                        'SaleReferenceId': transaction.sale_reference_id,
                        'CardHolderPan': transaction.card_pan,
                        'FinalAmount': transaction.paid_amount,
                        })
            return fields
        return {
            'Authority': transaction.token,
            'Status': 'OK' if paid else code,
            }

    def _callback_page(self, transaction, count):
        """The page sending the browser back to the merchant, with count
        forms: a script sends all but the last in the background"""
        fields = self._callback_fields(transaction)
        url = urlsplit(transaction.callback_url)
        if transaction.provider == 'zarinpal':
            # Zarinpal redirects with a GET: a GET form drops the query of
            # its action, so the callback URL's own query rides along
            method = 'get'
            fields = dict(parse_qsl(url.query)) | fields
            action = urlunsplit(url._replace(query=''))
        else:
            method, action = 'post', transaction.callback_url
        form = (f'<form method="{method}" action="{html.escape(action)}">'
            + hidden(fields)
            + '<button type="submit">بازگشت به سایت پذیرنده</button>'
            '</form>')
        script = (
            '<script>(async () => {const forms = [...document.forms];'
            'for (const form of forms.slice(0, -1)) {'
            'const data = new URLSearchParams(new FormData(form));'
            "await (form.method === 'get'"
            " ? fetch(form.action + '?' + data, {mode: 'no-cors'})"
            " : fetch(form.action, {method: 'POST', body: data,"
            " mode: 'no-cors'})).catch(() => null);}"
            'forms.at(-1).submit();})();</script>')
        return html_answer("بازگشت به سایت پذیرنده",
            form * count + script)

    # Test hooks over HTTP

    def fault(self, request):
        form = request.form()
        try:
            if 'delay' in form:
                self.delay_next(float(form['delay']))
            else:
                self.fail_next(int(form.get('status', 500)))
        except ValueError:
            return Answer(400, 'text/plain', b'Bad Request')
        return Answer(200, 'text/plain', b'OK')

    def advance_request(self, request):
        try:
            self.advance(float(request.form()['seconds']))
        except (KeyError, ValueError):
            return Answer(400, 'text/plain', b'Bad Request')
        return Answer(200, 'text/plain', b'OK')
