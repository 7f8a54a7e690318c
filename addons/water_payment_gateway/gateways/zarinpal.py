# This file is part of the water utility modules.
"""Zarinpal, a payment facilitator: its REST API v4 (request, verify and
the list of unverified payments), the StartPay page and the callback."""
from .base import Client, ProtocolError, Redirect, Status, text

URL = 'https://payment.zarinpal.com'
REQUEST_PATH = '/pg/v4/payment/request.json'
VERIFY_PATH = '/pg/v4/payment/verify.json'
UNVERIFIED_PATH = '/pg/v4/payment/unVerified.json'
STARTPAY_PATH = '/pg/StartPay/'

# Zarinpal's list of codes (docs, paymentGateway/errorList)
CODES = {
    '100': "عملیات موفق",
    '101': "تراکنش قبلا یک بار تأیید شده است.",
    '-9': "خطای اعتبارسنجی",
    '-10': "آی‌پی یا مرچنت کد پذیرنده صحیح نیست.",
    '-11': "مرچنت کد فعال نیست؛ پذیرنده مشکل خود را به امور مشتریان "
    "زرین‌پال ارجاع دهد.",
    '-12': "تلاش بیش از دفعات مجاز در یک بازه زمانی کوتاه.",
    '-13': "خطای مربوط به محدودیت تراکنش.",
    '-14': "آدرس بازگشت با دامنه ثبت‌شده درگاه مغایرت دارد.",
    '-15': "درگاه پرداخت به حالت تعلیق در آمده است.",
    '-16': "سطح تأیید پذیرنده پایین‌تر از سطح نقره‌ای است.",
    '-50': "مبلغ پرداخت‌شده با مبلغ ارسالی در تأیید متفاوت است.",
    '-51': "پرداخت ناموفق",
    '-52': "خطای غیرمنتظره؛ با پشتیبانی تماس بگیرید.",
    '-53': "اتوریتی برای این مرچنت کد نیست.",
    '-54': "اتوریتی نامعتبر است.",
    }
# The callback only says OK or NOK: a cancel is a failure like any other
CALLBACK_CODES = {
    'OK': "پرداخت انجام شد.",
    'NOK': "پرداخت ناموفق بود یا خریدار انصراف داد.",
    }
VERIFY_STATUS = {
    '100': Status.SUCCESS,
    '101': Status.ALREADY_VERIFIED,
    '-50': Status.FAILED,
    '-51': Status.FAILED,
    }
AMOUNT_MISMATCH = '-50'


class ZarinpalClient(Client):
    provider = 'zarinpal'
    secret_fields = frozenset({'merchant_id'})

    def __init__(self, base_url, merchant_id, **kwargs):
        super().__init__(base_url, **kwargs)
        self._merchant_id = merchant_id

    def secrets(self):
        return (self._merchant_id,)

    def call(self, operation, path, payload):
        """The code, the data, the provider's message and the whole answer:
        the code is in data on success and in errors otherwise"""
        payload = {'merchant_id': self._merchant_id} | payload
        answer = self.json(operation, self.post(operation, path, payload,
                json=payload, headers={'Accept': 'application/json'}))
        # Zarinpal sends an empty list instead of an empty object
        data = answer.get('data')
        data = data if isinstance(data, dict) else {}
        errors = answer.get('errors')
        errors = errors if isinstance(errors, dict) else {}
        code = text(data.get('code', errors.get('code'))) or ''
        return code, data, errors.get('message'), answer

    def request_payment(self, order_id, amount, callback_url, description,
            mobile=None, email=None):
        "Register the payment and return where to send the payer"
        metadata = {'order_id': str(order_id)}
        if mobile:
            metadata['mobile'] = mobile
        if email:
            metadata['email'] = email
        operation = 'request'
        code, data, message, answer = self.call(operation, REQUEST_PATH, {
                'amount': amount,
                # Explicit, as a terminal may be set to toman
                'currency': 'IRR',
                'callback_url': callback_url,
                'description': description,
                'metadata': metadata,
                })
        if code != '100':
            self.refuse(operation, code, CODES, answer, message)
        authority = text(data.get('authority'))
        if not authority:
            raise ProtocolError(self.provider, operation, "no authority",
                code=code, raw=self.mask(answer))
        return Redirect(token=authority,
            url=self.base_url + STARTPAY_PATH + authority,
            method='GET', fields={})

    def parse_callback(self, fields, amount=None):
        """The query of the redirect to callback_url: only a hint, a paid
        transaction stays pending until verified"""
        code = text(fields.get('Status')) or ''
        status = Status.PENDING if code == 'OK' else Status.FAILED
        return self.result(status, code, CALLBACK_CODES, dict(fields),
            token=text(fields.get('Authority')), expected_amount=amount)

    def verify(self, authority, amount):
        """Confirm the payment of authority for amount, which must come
        from the caller's records: Zarinpal refuses another amount (-50)"""
        operation = 'verify'
        code, data, message, answer = self.call(operation, VERIFY_PATH, {
                'amount': amount,
                'authority': authority,
                })
        status = VERIFY_STATUS.get(code)
        if status is None:
            self.refuse(operation, code, CODES, answer, message)
        paid = status in {Status.SUCCESS, Status.ALREADY_VERIFIED}
        return self.result(status, code, CODES, answer,
            token=authority,
            # Zarinpal confirms the amount it was sent, else says -50
            amount=amount if paid else None,
            expected_amount=amount,
            amount_mismatch=code == AMOUNT_MISMATCH,
            rrn=text(data.get('ref_id')),
            card_pan=text(data.get('card_pan')))

    def unverified(self):
        """The payments made but not verified yet (Zarinpal lists the 100
        latest), as pending results"""
        operation = 'unVerified'
        code, data, message, answer = self.call(
            operation, UNVERIFIED_PATH, {})
        if code != '100':
            self.refuse(operation, code, CODES, answer, message)
        return [
            self.result(Status.PENDING, code, CODES, item,
                token=text(item.get('authority')),
                amount=self.number(operation, 'amount', item.get('amount')))
            for item in data.get('authorities') or []]
