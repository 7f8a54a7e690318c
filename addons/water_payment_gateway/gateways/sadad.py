# This file is part of the water utility modules.
"""Sadad, the PSP of Bank Melli: the purchase protocol of its manual v1.10
(PaymentRequest, the purchase page, the callback and Advice/Verify)."""
import base64
import binascii

from Crypto.Cipher import DES3
from Crypto.Util.Padding import pad

from .base import Client, ProtocolError, Redirect, Status, tehran_now, text

URL = 'https://sadad.shaparak.ir'
REQUEST_PATH = '/api/v0/Request/PaymentRequest'
PURCHASE_PATH = '/Purchase'
VERIFY_PATH = '/api/v0/Advice/Verify'

_CONTACT = "لطفا مسئول فنی پذیرنده با بانک تماس حاصل فرمایند."
# Manual v1.10, table 7.1
REQUEST_CODES = {
    '0': "تراکنش موفق",
    '3': "پذیرنده کارت فعال نیست. لطفا با بخش امور پذیرندگان تماس حاصل "
    "فرمایید.",
    '23': "پذیرنده کارت نامعتبر است. لطفا با بخش امور پذیرندگان تماس حاصل "
    "فرمایید.",
    '58': "انجام تراکنش مربوطه توسط پایانه‌ی انجام‌دهنده مجاز نمی‌باشد.",
    '61': "مبلغ تراکنش از حد مجاز بالاتر است.",
    '1000': "ترتیب پارامترهای ارسالی اشتباه می‌باشد. " + _CONTACT,
    '1001': "پارامترهای پرداخت اشتباه می‌باشد. " + _CONTACT,
    '1002': "خطا در سیستم - تراکنش ناموفق",
    '1003': "IP پذیرنده اشتباه است. " + _CONTACT,
    '1004': "شماره پذیرنده اشتباه است. " + _CONTACT,
    '1005': "خطای دسترسی: لطفا بعدا تلاش فرمایید.",
    '1006': "خطا در سیستم",
    '1011': "درخواست تکراری - شماره سفارش تکراری می‌باشد.",
    '1012': "اطلاعات پذیرنده صحیح نیست؛ یکی از موارد تاریخ، زمان یا کلید "
    "تراکنش اشتباه است. " + _CONTACT,
    '1015': "پاسخ خطای نامشخص از سمت مرکز",
    '1017': "مبلغ درخواستی شما جهت پرداخت از حد مجاز تعریف‌شده برای این "
    "پذیرنده بیشتر است.",
    '1018': "اشکال در تاریخ و زمان سیستم. لطفا تاریخ و زمان سرور خود را با "
    "بانک هماهنگ نمایید.",
    '1019': "امکان پرداخت از طریق سیستم شتاب برای این پذیرنده امکان‌پذیر "
    "نیست.",
    '1020': "پذیرنده غیرفعال شده است. لطفا جهت فعال‌سازی با بانک تماس "
    "بگیرید.",
    '1023': "آدرس بازگشت پذیرنده نامعتبر است.",
    '1024': "مهر زمانی پذیرنده نامعتبر است.",
    '1025': "امضای تراکنش نامعتبر است.",
    '1026': "شماره سفارش تراکنش نامعتبر است.",
    '1027': "شماره پذیرنده نامعتبر است.",
    '1028': "شماره ترمینال پذیرنده نامعتبر است.",
    '1029': "آدرس IP پرداخت در محدوده آدرس‌های معتبر اعلام‌شده توسط "
    "پذیرنده نیست. " + _CONTACT,
    '1030': "آدرس Domain پرداخت در محدوده آدرس‌های معتبر اعلام‌شده توسط "
    "پذیرنده نیست. " + _CONTACT,
    '1031': "مهلت زمانی شما جهت پرداخت به پایان رسیده است. لطفا مجددا سعی "
    "بفرمایید.",
    '1032': "پرداخت با این کارت برای پذیرنده مورد نظر شما امکان‌پذیر نیست. "
    "لطفا از کارت‌های مجاز که توسط پذیرنده معرفی شده است استفاده نمایید.",
    '1033': "به علت مشکل در سایت پذیرنده، پرداخت برای این پذیرنده غیرفعال "
    "شده است. " + _CONTACT,
    '1036': "اطلاعات اضافی ارسال نشده یا دارای اشکال است.",
    '1037': "شماره پذیرنده یا شماره ترمینال پذیرنده صحیح نمی‌باشد.",
    '1040': "شناسه وارد شده معتبر نمی‌باشد.",
    '1053': "خطا: درخواست معتبر، از سمت پذیرنده صورت نگرفته است. لطفا "
    "اطلاعات پذیرنده خود را چک کنید.",
    '1055': "مقدار غیرمجاز در ورود اطلاعات",
    '1056': "سیستم موقتا قطع می‌باشد. لطفا بعدا تلاش فرمایید.",
    '1058': "سرویس پرداخت اینترنتی خارج از سرویس می‌باشد. لطفا بعدا سعی "
    "بفرمایید.",
    '1061': "اشکال در تولید کد یکتا. لطفا مرورگر خود را بسته و با اجرای "
    "مجدد مرورگر عملیات پرداخت را انجام دهید.",
    '1064': "لطفا مجددا سعی بفرمایید.",
    '1065': "ارتباط ناموفق. لطفا چند لحظه دیگر مجددا سعی کنید.",
    '1066': "سیستم سرویس‌دهی پرداخت موقتا غیرفعال شده است.",
    '1068': "با عرض پوزش به علت بروزرسانی، سیستم موقتا قطع می‌باشد.",
    '1072': "خطا در پردازش پارامترهای اختیاری پذیرنده",
    '1101': "مبلغ تراکنش نامعتبر است.",
    '1103': "توکن ارسالی نامعتبر است.",
    '1104': "اطلاعات تسهیم صحیح نیست.",
    '1105': "تراکنش بازگشت داده شده است (مهلت زمانی به پایان رسیده است).",
    }
# Table 7.2. The text extraction of the manual reads 100 as "010": the PDF
# says 100.
VERIFY_CODES = {
    '0': "نتیجه تراکنش موفق است.",
    '100': "درخواست تکراری است (قبلا در سیستم با موفقیت ثبت شده است).",
    '-1': "پارامترهای ارسالی صحیح نیست و یا تراکنش در سیستم وجود ندارد.",
    '101': "مهلت ارسال تراکنش به پایان رسیده است.",
    }
# Table 7.3: the only two results of the callback, so a cancel by the
# cardholder is a failure like any other
CALLBACK_CODES = {
    '0': "نتیجه تراکنش موفق است.",
    '-1': "نتیجه تراکنش ناموفق است.",
    }
VERIFY_STATUS = {
    '0': Status.SUCCESS,
    '100': Status.ALREADY_VERIFIED,
    '101': Status.FAILED,
    }


def sign(key, data):
    "SignData: data in TripleDES (ECB, PKCS7 padding) as Base64"
    cipher = DES3.new(key, DES3.MODE_ECB)
    return base64.b64encode(
        cipher.encrypt(pad(data.encode('utf-8'), DES3.block_size))
        ).decode('ascii')


def local_date_time(now):
    "LocalDateTime as in Sadad's own samples: m/d/Y g:i:s a"
    hour = now.hour % 12 or 12
    meridiem = 'am' if now.hour < 12 else 'pm'
    return f'{now:%m/%d/%Y} {hour}:{now:%M:%S} {meridiem}'


class SadadClient(Client):
    """Sadad's REST protocol; terminal_key is the merchant key in Base64
    as Sadad hands it out."""
    provider = 'sadad'
    secret_fields = frozenset({'SignData'})

    def __init__(self, base_url, merchant_id, terminal_id, terminal_key,
            **kwargs):
        super().__init__(base_url, **kwargs)
        self.merchant_id = str(merchant_id)
        self.terminal_id = str(terminal_id)
        self._terminal_key = terminal_key
        try:
            self._key = base64.b64decode(terminal_key, validate=True)
            DES3.new(self._key, DES3.MODE_ECB)
        except (binascii.Error, ValueError):
            raise ValueError(
                "the Sadad terminal key is not a Base64 TripleDES key"
                ) from None

    def secrets(self):
        return (self._terminal_key,)

    def sign(self, data):
        return sign(self._key, data)

    def request_payment(self, order_id, amount, callback_url,
            additional_data=None, now=None):
        "Register the payment and return where to send the cardholder"
        payload = {
            'MerchantId': self.merchant_id,
            'TerminalId': self.terminal_id,
            'Amount': amount,
            'OrderId': order_id,
            'LocalDateTime': local_date_time(now or tehran_now()),
            'ReturnUrl': callback_url,
            'SignData': self.sign(f'{self.terminal_id};{order_id};{amount}'),
            }
        if additional_data:
            payload['AdditionalData'] = additional_data
        operation = 'PaymentRequest'
        data = self.json(operation,
            self.post(operation, REQUEST_PATH, payload, json=payload))
        code = str(data.get('ResCode'))
        if code != '0':
            self.refuse(operation, code, REQUEST_CODES, data,
                data.get('Description'))
        token = text(data.get('Token'))
        if not token:
            raise ProtocolError(self.provider, operation, "no Token",
                code=code, raw=self.mask(data))
        return Redirect(token=token, url=self.base_url + PURCHASE_PATH,
            method='GET', fields={'Token': token})

    def parse_callback(self, fields, amount=None):
        """The result posted to ReturnUrl through the browser: only a hint,
        a paid transaction stays pending until verified"""
        # Some integrations receive the token as "token": accept any case
        values = {k.lower(): v for k, v in fields.items()}
        code = text(values.get('rescode')) or ''
        status = Status.PENDING if code == '0' else Status.FAILED
        return self.result(status, code, CALLBACK_CODES, dict(fields),
            order_id=self.number('callback', 'OrderId',
                values.get('orderid')),
            token=text(values.get('token')),
            card_pan=text(values.get('primaryaccno')),
            expected_amount=amount)

    def verify(self, token, amount=None):
        """Confirm the payment of token; amount, the one the caller
        expects, is compared with the one Sadad reports"""
        payload = {'Token': token, 'SignData': self.sign(token)}
        operation = 'Verify'
        data = self.json(operation,
            self.post(operation, VERIFY_PATH, payload, json=payload))
        code = str(data.get('ResCode'))
        status = VERIFY_STATUS.get(code)
        if status is None:
            self.refuse(operation, code, VERIFY_CODES, data,
                data.get('Description'))
        return self.result(status, code, VERIFY_CODES, data,
            order_id=self.number(operation, 'OrderId', data.get('OrderId')),
            token=token,
            amount=self.number(operation, 'Amount', data.get('Amount')),
            expected_amount=amount,
            rrn=text(data.get('RetrivalRefNo')),
            trace_number=text(data.get('SystemTraceNo')))
