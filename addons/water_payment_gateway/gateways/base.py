# This file is part of the water utility modules.
"""What the gateway clients share: the neutral result of a payment step,
the redirect to the bank, the two kinds of errors and the HTTP transport
that keeps credentials out of results, logs and exceptions."""
import datetime as dt
import enum
import logging
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import requests

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10
MASK = '********'
# The banks expect the merchant's local time, whatever the server's zone
TEHRAN = ZoneInfo('Asia/Tehran')


def tehran_now():
    return dt.datetime.now(TEHRAN)


class Status(enum.StrEnum):
    SUCCESS = 'success'
    FAILED = 'failed'
    CANCELLED = 'cancelled'
    # Paid at the bank but not yet verified by the merchant's server
    PENDING = 'pending'
    # Verified (or settled) by an earlier call: success for a caller that
    # has not recorded it yet, a duplicate otherwise
    ALREADY_VERIFIED = 'already_verified'


@dataclass(frozen=True)
class Result:
    """The outcome of a callback, a verify or another server call.

    token is the provider's handle of the payment (Sadad Token, Mellat
    RefId, Zarinpal Authority). amount is what the bank says was paid, None
    when it does not say; expected_amount is the one the caller passed.
    rrn is the reference number (Sadad RetrivalRefNo, Zarinpal ref_id),
    trace_number Sadad's SystemTraceNo, card_pan the masked card number.
    raw is the provider's message without credentials."""
    provider: str
    status: Status
    code: str
    message: str | None = None
    order_id: int | None = None
    token: str | None = None
    amount: int | None = None
    expected_amount: int | None = None
    amount_mismatch: bool = False
    rrn: str | None = None
    trace_number: str | None = None
    card_pan: str | None = None
    sale_reference_id: str | None = None
    raw: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Redirect:
    """Where to send the browser to pay: the fields are the query of a GET
    or the form of a POST."""
    token: str
    url: str
    method: str
    fields: dict


class GatewayError(Exception):
    "A gateway call that did not give an answer about the payment"

    def __init__(self, provider, operation, message, code=None, raw=None):
        self.provider = provider
        self.operation = operation
        self.code = code
        self.message = message
        self.raw = raw or {}
        detail = f"{code}: {message}" if code is not None else message
        super().__init__(f"{provider} {operation}: {detail}")


class RetryableError(GatewayError):
    """The network failed, timed out or the provider had a server error:
    the call may have been processed, so repeat it (verify is idempotent)
    or inquire."""


class ProtocolError(GatewayError):
    "The provider refused the call; repeating it as is will not help"


def text(value):
    "A reference of a provider as text, None when absent or empty"
    if value is None or str(value).strip() == '':
        return None
    return str(value).strip()


class Client:
    "The transport shared by the providers' clients"
    provider = None
    # Request fields holding credentials or values derived from them
    secret_fields = frozenset()

    def __init__(self, base_url, timeout=DEFAULT_TIMEOUT, session=None):
        self.base_url = base_url.rstrip('/')
        self.timeout = timeout
        self.session = session or requests.Session()

    def secrets(self):
        "The credential values that must never leave the client"
        return ()

    def mask(self, value):
        "A copy of value without credentials, fit for results and logs"
        if isinstance(value, dict):
            return {k: MASK if k in self.secret_fields else self.mask(v)
                for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.mask(v) for v in value]
        if isinstance(value, str):
            # Also catches a credential echoed in an unexpected place
            for secret in self.secrets():
                if secret:
                    value = value.replace(secret, MASK)
        return value

    def message(self, table, code, default=None):
        "The Persian text of code, else the provider's own (masked)"
        return table.get(code) or self.mask(default)

    def post(self, operation, path, log_payload, **kwargs):
        """POST to the provider and return the response, raising
        RetryableError when no answer came back"""
        logger.debug("%s %s request: %s", self.provider, operation,
            self.mask(log_payload))
        try:
            response = self.session.post(self.base_url + path,
                timeout=self.timeout, **kwargs)
        except requests.RequestException as exception:
            # The exception's text is left out: it may quote the request
            raise RetryableError(self.provider, operation,
                f"no answer ({type(exception).__name__})") from None
        logger.debug("%s %s response: HTTP %s %s", self.provider, operation,
            response.status_code, self.mask(response.text))
        return response

    def number(self, operation, name, value):
        "An integer field of an answer or a callback, None when absent"
        value = text(value)
        if value is None:
            return None
        try:
            return int(value)
        except ValueError:
            raise ProtocolError(self.provider, operation,
                f"{name} is not a number") from None

    def server_error(self, operation, response):
        raise RetryableError(self.provider, operation,
            f"HTTP {response.status_code}")

    def json(self, operation, response):
        "The JSON body of a response to a JSON API"
        if response.status_code >= 500:
            self.server_error(operation, response)
        try:
            data = response.json()
        except ValueError:
            raise ProtocolError(self.provider, operation,
                "the answer is not JSON",
                code=f'HTTP {response.status_code}') from None
        if not isinstance(data, dict):
            raise ProtocolError(self.provider, operation,
                "unexpected answer", code=f'HTTP {response.status_code}')
        return data

    def result(self, status, code, table, raw, **values):
        """A result with the Persian message of code and amount_mismatch
        set from amount and expected_amount when both are known"""
        amount = values.get('amount')
        expected = values.get('expected_amount')
        if amount is not None and expected is not None:
            values.setdefault('amount_mismatch', amount != expected)
        return Result(provider=self.provider, status=status, code=code,
            message=self.message(table, code), raw=self.mask(raw), **values)

    def refuse(self, operation, code, table, raw, default=None):
        raise ProtocolError(self.provider, operation,
            self.message(table, code, default) or "refused", code=code,
            raw=self.mask(raw))
