# This file is part of the water utility modules.
"""Clients of the SMS gateways, free of the ORM.

Every provider has the same interface:

- `send(mobile, text)` returns a SendResult,
- `status(message_ids)` returns the Delivery of the messages it knows.

A Delivery's state is one of:

- 'accepted': the provider took the message, delivery is not known yet,
- 'delivered': the handset received it,
- 'failed': it will not be delivered,

with the provider's code and a Persian message.

When the provider does not take a request, RetryableError says that trying
again later may succeed (network error, timeout, HTTP 5xx, "try later" and
rate limits) and PermanentError that it cannot (bad key, bad number, no
credit...). The API key never appears in results nor in exception texts:
it is replaced by MASK in the raw requests and answers kept for support,
and the exceptions of requests, whose texts have the URL, are not chained.
"""
import datetime as dt
import json
from typing import NamedTuple

import requests

MASK = '***'
TIMEOUT = 10  # seconds to connect and between bytes of the answer

MSG_TIMEOUT = "سرویس پیامک در مهلت مقرر پاسخ نداد"
MSG_NETWORK = "ارتباط با سرویس پیامک برقرار نشد"
MSG_UNAVAILABLE = "سرویس پیامک موقتاً در دسترس نیست"
MSG_REFUSED = "سرویس پیامک درخواست را نپذیرفت"
MSG_INVALID = "پاسخ سرویس پیامک قابل خواندن نیست"
MSG_OUTBOX = "در صندوق خروجی نگه داشته شد و ارسال نشد"


class Delivery(NamedTuple):
    "Where a message is, in the words of its provider"
    state: str
    code: str | None = None
    message: str = ''


class SendResult(NamedTuple):
    "The provider's identifier and state of a message it took"
    message_id: str | None
    status: Delivery
    raw: dict


class ProviderError(Exception):
    """The provider did not take the request

    `code` is the provider's code (or 'timeout', 'network', 'invalid', an
    HTTP status), `message` is in Persian and `raw` has the masked request
    and answer."""
    retryable = False

    def __init__(self, code, message, raw=None):
        super().__init__(f'[{code}] {message}')
        self.code = str(code)
        self.message = message
        self.raw = raw or {}


class RetryableError(ProviderError):
    "Trying again later may succeed"
    retryable = True


class PermanentError(ProviderError):
    "Trying again will fail the same way"


def retry_delay(attempts, base=dt.timedelta(minutes=5),
        ceiling=dt.timedelta(hours=6)):
    "Delay before trying again a message that failed attempts times"
    return min(base * 2 ** (attempts - 1), ceiling)


def _http_error(status, raw):
    "The error of an HTTP answer that has no envelope of the provider"
    if status >= 500 or status == 429:
        return RetryableError(status, MSG_UNAVAILABLE, raw)
    if 200 <= status < 300:
        # A proxy's page or a cut answer: the provider may be fine later
        return RetryableError('invalid', MSG_INVALID, raw)
    return PermanentError(status, MSG_REFUSED, raw)


def _chunks(values, size):
    for i in range(0, len(values), size):
        yield values[i:i + size]


class OutboxProvider:
    "Keep messages without sending them, for demonstrations and tests"

    def send(self, mobile, text):
        return SendResult(None, Delivery('accepted', message=MSG_OUTBOX), {
                'request': {'mobile': mobile, 'message': text},
                })

    def status(self, message_ids):
        return {}


class _HTTPProvider:
    default_url = None
    key_header = None

    def __init__(self, api_key, base_url=None, timeout=TIMEOUT):
        self.api_key = api_key or ''
        self.base_url = (base_url or self.default_url).rstrip('/')
        self.timeout = timeout

    def _mask(self, text):
        if self.api_key:
            text = text.replace(self.api_key, MASK)
        return text

    def _call(self, method, url, headers, **kwargs):
        """Return the HTTP status, the decoded JSON answer (None if it is
        not JSON) and the masked raw request and answer"""
        request = {'method': method, 'url': self._mask(url)}
        request['headers'] = {
            k: MASK if k == self.key_header else v
            for k, v in headers.items()}
        for name in ('data', 'json'):
            if name in kwargs:
                request[name] = kwargs[name]
        raw = {'request': request}
        try:
            response = requests.request(method, url, headers=headers,
                timeout=self.timeout, **kwargs)
        except requests.RequestException as exception:
            raw['error'] = self._mask(str(exception))
            timeout = isinstance(exception, requests.Timeout)
            response = None
        if response is None:
            # Raised outside the except clause to keep the exception of
            # requests, whose text has the URL, out of its context
            if timeout:
                raise RetryableError('timeout', MSG_TIMEOUT, raw)
            raise RetryableError('network', MSG_NETWORK, raw)
        body = self._mask(response.content.decode('utf-8', 'replace'))
        try:
            answer = json.loads(body)
        except ValueError:
            answer = None
        raw['response'] = {
            'status': response.status_code,
            'body': answer if answer is not None else body,
            }
        return response.status_code, answer, raw


class KavenegarProvider(_HTTPProvider):
    """Kavenegar's REST API: the key is in the path and every answer is
    {"return": {"status": 200, "message": ...}, "entries": [...]}"""
    default_url = 'https://api.kavenegar.com'
    # Only 409 says to try later; everything else needs someone to act.
    retry_codes = {409}
    errors = {
        400: "پارامترهای درخواست ناقص است",
        401: "حساب کاربری غیرفعال شده است",
        402: "عملیات ناموفق بود",
        403: "کلید API معتبر نیست",
        404: "متد درخواستی وجود ندارد",
        405: "روش فراخوانی (GET یا POST) نادرست است",
        406: "پارامترهای اجباری خالی است",
        407: "دسترسی به این اطلاعات مجاز نیست",
        409: "سرور سرویس پیامک قادر به پاسخ نیست؛ بعداً تلاش کنید",
        411: "شماره گیرنده معتبر نیست",
        412: "شماره فرستنده معتبر نیست",
        413: "متن پیام خالی یا بیش از حد طولانی است",
        414: "تعداد رکوردهای درخواست بیش از حد مجاز است",
        416: "IP سرور با IP مجاز حساب مطابقت ندارد",
        417: "تاریخ ارسال نامعتبر است",
        418: "اعتبار حساب کافی نیست",
        419: "تعداد متن‌ها، گیرنده‌ها و فرستنده‌ها برابر نیست",
        420: "استفاده از پیوند در متن پیام مجاز نیست",
        422: "متن پیام نویسه نامعتبر دارد",
        424: "الگوی پیام یافت نشد یا تأیید نشده است",
        426: "این متد به سرویس پیشرفته نیاز دارد",
        428: "ارسال کد با تماس تلفنی ممکن نیست",
        431: "ساختار کد نادرست است",
        432: "پارامتر کد در متن الگو یافت نشد",
        }
    states = {
        1: ('accepted', "در صف ارسال"),
        2: ('accepted', "زمان‌بندی شده"),
        4: ('accepted', "ارسال شده به مخابرات"),
        5: ('accepted', "ارسال شده به مخابرات"),
        6: ('failed', "ارسال ناموفق"),
        10: ('delivered', "رسیده به گیرنده"),
        11: ('failed', "نرسیده به گیرنده"),
        13: ('failed', "لغو شده"),
        14: ('failed', "مسدود شده توسط گیرنده"),
        100: ('failed', "شناسه پیامک نامعتبر است"),
        }
    # Kavenegar answers the status of at most 500 messages at once.
    status_size = 500

    def __init__(self, api_key, sender, base_url=None, timeout=TIMEOUT):
        super().__init__(api_key, base_url=base_url, timeout=timeout)
        self.sender = sender

    def _post(self, method, data):
        "Return the entries and raw exchange of a call to sms/<method>"
        url = f'{self.base_url}/v1/{self.api_key}/sms/{method}.json'
        status, answer, raw = self._call('POST', url,
            {'Accept': 'application/json'}, data=data)
        try:
            code = int(answer['return']['status'])
            entries = answer.get('entries') or []
        except (TypeError, KeyError, ValueError, AttributeError):
            raise _http_error(status, raw) from None
        if code != 200:
            message = self.errors.get(code) or answer['return'].get(
                'message') or MSG_REFUSED
            if code in self.retry_codes:
                raise RetryableError(code, message, raw)
            raise PermanentError(code, message, raw)
        return entries, raw

    def _delivery(self, entry):
        code = int(entry['status'])
        state, message = self.states.get(
            code, ('accepted', entry.get('statustext') or ''))
        return Delivery(state, str(code), message)

    def send(self, mobile, text):
        data = {'receptor': mobile, 'message': text}
        if self.sender:
            data['sender'] = self.sender
        entries, raw = self._post('send', data)
        try:
            entry, = entries
            return SendResult(
                str(entry['messageid']), self._delivery(entry), raw)
        except (TypeError, KeyError, ValueError):
            raise RetryableError('invalid', MSG_INVALID, raw) from None

    def status(self, message_ids):
        result = {}
        for ids in _chunks(list(message_ids), self.status_size):
            entries, raw = self._post('status', {'messageid': ','.join(ids)})
            try:
                for entry in entries:
                    result[str(entry['messageid'])] = self._delivery(entry)
            except (TypeError, KeyError, ValueError):
                raise RetryableError('invalid', MSG_INVALID, raw) from None
        return result


class SmsIrProvider(_HTTPProvider):
    """SMS.ir's API v1: the key is the X-API-KEY header and every answer is
    {"status": 1, "message": ..., "data": ...}"""
    default_url = 'https://api.sms.ir'
    key_header = 'X-API-KEY'
    # 0 is an unexpected error of the system, 20 too many requests.
    retry_codes = {0, 20}
    errors = {
        0: "خطای داخلی سامانه پیامک",
        10: "کلید API معتبر نیست",
        11: "کلید API غیرفعال است",
        12: "کلید API به IPهای تعریف‌شده محدود است",
        13: "حساب کاربری غیرفعال است",
        14: "حساب کاربری در حالت تعلیق است",
        20: "تعداد درخواست‌ها بیش از حد مجاز است",
        101: "شماره خط نامعتبر است",
        102: "اعتبار حساب کافی نیست",
        103: "متن پیام خالی است",
        104: "شماره موبایل نادرست است",
        105: "تعداد شماره‌ها بیش از حد مجاز است",
        106: "تعداد متن‌ها بیش از حد مجاز است",
        107: "فهرست شماره‌ها خالی است",
        108: "فهرست متن‌ها خالی است",
        109: "زمان ارسال نامعتبر است",
        110: "تعداد شماره‌ها و متن‌ها برابر نیست",
        111: "پیامکی با این شناسه ثبت نشده است",
        112: "رکوردی برای حذف یافت نشد",
        113: "قالب یافت نشد",
        }
    states = {
        None: ('accepted', "در انتظار گزارش تحویل"),
        1: ('delivered', "رسیده به گوشی"),
        2: ('failed', "نرسیده به گوشی"),
        3: ('accepted', "در حال پردازش در مخابرات"),
        4: ('failed', "نرسیده به مخابرات"),
        5: ('accepted', "رسیده به مخابرات"),
        6: ('failed', "خطا در ارسال"),
        7: ('failed', "شماره در فهرست سیاه است"),
        }
    unknown_code = 111

    def __init__(self, api_key, line_number, base_url=None,
            timeout=TIMEOUT):
        super().__init__(api_key, base_url=base_url, timeout=timeout)
        self.line_number = line_number

    def _request(self, method, path, **kwargs):
        "Return the data and raw exchange of a call to /v1/<path>"
        headers = {
            'X-API-KEY': self.api_key,
            'Accept': 'application/json',
            }
        status, answer, raw = self._call(
            method, f'{self.base_url}/v1/{path}', headers, **kwargs)
        try:
            code = int(answer['status'])
        except (TypeError, KeyError, ValueError):
            raise _http_error(status, raw) from None
        if code != 1:
            message = self.errors.get(code) or answer.get(
                'message') or MSG_REFUSED
            if code in self.retry_codes or status >= 500:
                raise RetryableError(code, message, raw)
            raise PermanentError(code, message, raw)
        return answer.get('data'), raw

    def send(self, mobile, text):
        line_number = str(self.line_number or '')
        data, raw = self._request('POST', 'send/bulk', json={
                'lineNumber': (
                    int(line_number) if line_number.isdigit()
                    else line_number),
                'messageText': text,
                'mobiles': [mobile],
                })
        try:
            message_id, = data['messageIds']
        except (TypeError, KeyError, ValueError):
            raise RetryableError('invalid', MSG_INVALID, raw) from None
        return SendResult(str(message_id), Delivery('accepted'), raw)

    def status(self, message_ids):
        "Ask the report of each message, as SMS.ir has no batch of them"
        result = {}
        for message_id in message_ids:
            try:
                data, raw = self._request('GET', f'send/{message_id}')
            except PermanentError as exception:
                if exception.code != str(self.unknown_code):
                    raise
                result[message_id] = Delivery(
                    'failed', exception.code, exception.message)
                continue
            try:
                code = data['deliveryState']
            except (TypeError, KeyError):
                raise RetryableError('invalid', MSG_INVALID, raw) from None
            state, message = self.states.get(code, ('accepted', ''))
            result[message_id] = Delivery(
                state, None if code is None else str(code), message)
        return result
