# This file is part of the water utility modules.
"""Behpardakht Mellat: the SOAP web service of its manual v1.29 (pay,
verify, settle, inquiry and reversal), the payment page and the callback.

The envelopes are built with the standard library: the service takes
flat, unqualified parameters that need no SOAP toolkit."""
import xml.etree.ElementTree as ET

from .base import (
    Client, ProtocolError, Redirect, RetryableError, Status, tehran_now, text)

URL = 'https://bpm.shaparak.ir'
SERVICE_PATH = '/pgwchannel/services/pgw'
STARTPAY_PATH = '/pgwchannel/startpay.mellat'
SOAP_ENV = 'http://schemas.xmlsoap.org/soap/envelope/'
NAMESPACE = 'http://interfaces.core.sw.bps.com/'

# Manual v1.29, table 11
CODES = {
    '0': "تراکنش با موفقیت انجام شد",
    '11': "شماره کارت نامعتبر است",
    '12': "موجودی کافی نیست",
    '13': "رمز نادرست است",
    '14': "تعداد دفعات وارد کردن رمز بیش از حد مجاز است",
    '15': "کارت نامعتبر است",
    '16': "دفعات برداشت وجه بیش از حد مجاز است",
    '17': "کاربر از انجام تراکنش منصرف شده است",
    '18': "تاریخ انقضای کارت گذشته است",
    '19': "مبلغ برداشت وجه بیش از حد مجاز است",
    '111': "صادرکننده کارت نامعتبر است",
    '112': "خطای سوییچ صادرکننده کارت",
    '113': "پاسخی از صادرکننده کارت دریافت نشد",
    '114': "دارنده کارت مجاز به انجام این تراکنش نیست",
    '21': "پذیرنده نامعتبر است",
    '23': "خطای امنیتی رخ داده است",
    '24': "اطلاعات کاربری پذیرنده نامعتبر است",
    '25': "مبلغ نامعتبر است",
    '31': "پاسخ نامعتبر است",
    '32': "فرمت اطلاعات وارد شده صحیح نمی‌باشد",
    '33': "حساب نامعتبر است",
    '34': "خطای سیستمی",
    '35': "تاریخ نامعتبر است",
    '41': "شماره درخواست تکراری است",
    '42': "تراکنش Sale یافت نشد",
    '43': "قبلا درخواست Verify داده شده است",
    '44': "درخواست Verify یافت نشد",
    '45': "تراکنش Settle شده است",
    '46': "تراکنش Settle نشده است",
    '47': "تراکنش Settle یافت نشد",
    '48': "تراکنش Reverse شده است",
    '412': "شناسه قبض نادرست است",
    '413': "شناسه پرداخت نادرست است",
    '414': "سازمان صادرکننده قبض نامعتبر است",
    '415': "زمان جلسه کاری به پایان رسیده است",
    '416': "خطا در ثبت اطلاعات",
    '417': "شناسه پرداخت‌کننده نامعتبر است",
    '418': "اشکال در تعریف اطلاعات مشتری",
    '419': "تعداد دفعات ورود اطلاعات از حد مجاز گذشته است",
    '421': "IP نامعتبر است",
    '51': "تراکنش تکراری است",
    '54': "تراکنش مرجع موجود نیست",
    '55': "تراکنش نامعتبر است",
    '61': "خطا در واریز",
    '62': "مسیر بازگشت به سایت در دامنه ثبت‌شده برای پذیرنده قرار ندارد",
    '98': "سقف استفاده از رمز ایستا به پایان رسیده است",
    '995': "تعلق کارت بانکی به مشتری احراز نشد",
    }
# The codes that tell the state of the sale; any other is a refusal of the
# call itself (credentials, parameters, order) and raises ProtocolError
OUTCOMES = {
    'bpVerifyRequest': {
        '0': Status.SUCCESS,
        '43': Status.ALREADY_VERIFIED,
        '42': Status.FAILED,
        '48': Status.FAILED,
        },
    'bpSettleRequest': {
        '0': Status.SUCCESS,
        '45': Status.ALREADY_VERIFIED,
        '48': Status.FAILED,
        },
    'bpInquiryRequest': {
        '0': Status.SUCCESS,
        # the sale is paid, its verify never reached the bank
        '44': Status.PENDING,
        '42': Status.FAILED,
        '48': Status.FAILED,
        },
    # The money goes back to the cardholder
    'bpReversalRequest': {
        '0': Status.CANCELLED,
        '48': Status.CANCELLED,
        },
    }
CANCELLED = '17'


def envelope(operation, params):
    "A SOAP 1.1 request of operation with params in their order"
    root = ET.Element(f'{{{SOAP_ENV}}}Envelope')
    body = ET.SubElement(root, f'{{{SOAP_ENV}}}Body')
    call = ET.SubElement(body, f'{{{NAMESPACE}}}{operation}')
    for name, value in params.items():
        ET.SubElement(call, name).text = str(value)
    return ET.tostring(root, encoding='utf-8', xml_declaration=True)


class MellatClient(Client):
    provider = 'mellat'
    secret_fields = frozenset({'userName', 'userPassword'})

    def __init__(self, base_url, terminal_id, user_name, user_password,
            **kwargs):
        super().__init__(base_url, **kwargs)
        self.terminal_id = str(terminal_id)
        self._user_name = user_name
        self._user_password = user_password

    def secrets(self):
        return (self._user_name, self._user_password)

    def credentials(self):
        return {
            'terminalId': self.terminal_id,
            'userName': self._user_name,
            'userPassword': self._user_password,
            }

    def call(self, operation, params):
        "The return value of operation"
        response = self.post(operation, SERVICE_PATH, params,
            data=envelope(operation, params),
            headers={
                'Content-Type': 'text/xml; charset=utf-8',
                'SOAPAction': '""',
                })
        try:
            root = ET.fromstring(response.content)
        except ET.ParseError:
            root = None
        body = f'{{{SOAP_ENV}}}Body'
        fault = (root.find(f'{body}/{{{SOAP_ENV}}}Fault')
            if root is not None else None)
        if fault is not None:
            code = fault.findtext('{*}faultcode', '').strip()
            message = self.mask(fault.findtext('{*}faultstring', ''))
            # A Client fault is about our request: sending it again fails
            # the same way
            if code.endswith('Client'):
                raise ProtocolError(self.provider, operation, message,
                    code=code)
            raise RetryableError(self.provider, operation, message,
                code=code)
        if response.status_code >= 500:
            self.server_error(operation, response)
        value = (root.findtext(f'{body}/{{*}}{operation}Response/{{*}}return')
            if root is not None else None)
        if value is None:
            raise ProtocolError(self.provider, operation,
                "no return value", code=f'HTTP {response.status_code}')
        return value.strip()

    def request_payment(self, order_id, amount, callback_url,
            additional_data='', payer_id='0', now=None):
        """Register the payment (bpPayRequest) and return the form to post
        to the payment page"""
        now = now or tehran_now()
        operation = 'bpPayRequest'
        value = self.call(operation, self.credentials() | {
                'orderId': order_id,
                'amount': amount,
                'localDate': f'{now:%Y%m%d}',
                'localTime': f'{now:%H%M%S}',
                'additionalData': additional_data,
                'callBackUrl': callback_url,
                'payerId': payer_id,
                })
        # "ResCode,RefId"; the manual's own sample has a space after the comma
        code, _, ref_id = (p.strip() for p in value.partition(','))
        raw = {'return': value}
        if code != '0':
            self.refuse(operation, code, CODES, raw)
        if not ref_id:
            raise ProtocolError(self.provider, operation, "no RefId",
                code=code, raw=raw)
        return Redirect(token=ref_id, url=self.base_url + STARTPAY_PATH,
            method='POST', fields={'RefId': ref_id})

    def parse_callback(self, fields, amount=None):
        """The result posted to callBackUrl through the browser: only a
        hint, a paid transaction stays pending until verified. The caller
        must check that RefId and SaleOrderId are its own before verifying.
        """
        code = text(fields.get('ResCode')) or ''
        if code == '0':
            status = Status.PENDING
        elif code == CANCELLED:
            status = Status.CANCELLED
        else:
            status = Status.FAILED
        return self.result(status, code, CODES, dict(fields),
            order_id=self.number('callback', 'SaleOrderId',
                fields.get('SaleOrderId')),
            token=text(fields.get('RefId')),
            amount=self.number('callback', 'FinalAmount',
                fields.get('FinalAmount')),
            expected_amount=amount,
            card_pan=text(fields.get('CardHolderPan')),
            sale_reference_id=text(fields.get('SaleReferenceId')))

    def verify(self, sale_order_id, sale_reference_id, order_id=None):
        """Confirm the sale; without it the gateway reverses the sale
        after 20 minutes"""
        return self._follow_up('bpVerifyRequest', sale_order_id,
            sale_reference_id, order_id)

    def settle(self, sale_order_id, sale_reference_id, order_id=None):
        "Ask for the deposit of a verified sale: without it none is made"
        return self._follow_up('bpSettleRequest', sale_order_id,
            sale_reference_id, order_id)

    def inquiry(self, sale_order_id, sale_reference_id, order_id=None):
        "The state of the sale when the answer to verify was lost"
        return self._follow_up('bpInquiryRequest', sale_order_id,
            sale_reference_id, order_id)

    def reversal(self, sale_order_id, sale_reference_id, order_id=None):
        "Give the money back to the cardholder of a sale not settled"
        return self._follow_up('bpReversalRequest', sale_order_id,
            sale_reference_id, order_id)

    def _follow_up(self, operation, sale_order_id, sale_reference_id,
            order_id):
        # The manual allows the request number of these calls to be the
        # sale's own
        if order_id is None:
            order_id = sale_order_id
        code = self.call(operation, self.credentials() | {
                'orderId': order_id,
                'saleOrderId': sale_order_id,
                'saleReferenceId': sale_reference_id,
                })
        raw = {'return': code}
        status = OUTCOMES[operation].get(code)
        if status is None:
            self.refuse(operation, code, CODES, raw)
        return self.result(status, code, CODES, raw,
            order_id=int(sale_order_id),
            sale_reference_id=str(sale_reference_id))
