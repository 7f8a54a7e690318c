# This file is part of the water utility modules.
"""A gateway account: the contract of the company with one PSP (its
terminal, merchant and credentials, where the bank and the callbacks are)
and the payment journal its payments go to.

Credentials are write-only: the client gets a mask, the columns holding
them are closed to every user by field access, and they never reach a
log or a stored message (the clients mask them)."""
import datetime as dt

from trytond.model import (
    DeactivableMixin, ModelSQL, ModelView, fields, sequence_ordered)
from trytond.pyson import Eval
from trytond.transaction import Transaction, without_check_access

from .gateways import MellatClient, SadadClient, ZarinpalClient
from .gateways import mellat, sadad, zarinpal
from .gateways.base import MASK

PROVIDERS = [
    ('sadad', "Sadad (Bank Melli)"),
    ('mellat', "Behpardakht Mellat"),
    ('zarinpal', "Zarinpal"),
    ]
DEFAULT_URLS = {
    'sadad': sadad.URL,
    'mellat': mellat.URL,
    'zarinpal': zarinpal.URL,
    }
# The minutes a PSP waits for the verify before it gives the money back
# (Sadad manual v1.10, Mellat manual v1.29, Zarinpal's 30-minute reverse)
VERIFY_WINDOWS = {
    'sadad': 15,
    'mellat': 20,
    'zarinpal': 30,
    }
# Which credential each provider needs
SECRETS = {
    'sadad': ['terminal_key'],
    'mellat': ['user_name', 'user_password'],
    'zarinpal': ['zarinpal_merchant'],
    }
SECRET_FIELDS = ['terminal_key', 'user_name', 'user_password',
    'zarinpal_merchant']
CALLBACK_PATH = '/portal/gateway/callback/'


def _secret(string, provider, help=''):
    "A write-only credential shown for provider only"
    return fields.Function(fields.Char(string, help=help,
            states={'invisible': Eval('provider') != provider}),
        'get_secret', setter='set_secret')


class Gateway(DeactivableMixin, sequence_ordered(), ModelSQL, ModelView):
    "Payment Gateway"
    __name__ = 'water.payment.gateway'
    name = fields.Char("Name", required=True, translate=True,
        help="What subscribers see when they choose how to pay.")
    company = fields.Many2One('company.company', "Company", required=True)
    provider = fields.Selection(PROVIDERS, "Provider", required=True)
    journal = fields.Many2One('account.payment.journal', "Payment Journal",
        required=True,
        domain=[
            ('process_method', '=', 'water_gateway'),
            ('company', '=', Eval('company', -1)),
            ],
        help="The journal of the payments received through the gateway.")
    base_url = fields.Char("Bank URL", required=True,
        help="The address of the PSP's services and payment page.")
    callback_base_url = fields.Char("Callback Base URL", required=True,
        help="The public address of this server as the cardholder's "
        "browser reaches it, e.g. https://water.example.ir; the bank sends "
        "the browser back to <this>/portal/gateway/callback/<order>.")
    merchant_id = fields.Char("Merchant ID",
        states={'invisible': Eval('provider') != 'sadad'})
    terminal_id = fields.Char("Terminal ID",
        states={'invisible': ~Eval('provider').in_(['sadad', 'mellat'])})
    terminal_key = _secret("Terminal Key", 'sadad',
        help="The merchant key in Base64 as Sadad hands it out.")
    user_name = _secret("User Name", 'mellat')
    user_password = _secret("User Password", 'mellat')
    zarinpal_merchant = _secret("Merchant Code", 'zarinpal',
        help="The 36-character merchant code of Zarinpal.")
    # The stored credentials: closed to every user (field access)
    terminal_key_secret = fields.Char("Terminal Key Secret")
    user_name_secret = fields.Char("User Name Secret")
    user_password_secret = fields.Char("User Password Secret")
    zarinpal_merchant_secret = fields.Char("Merchant Code Secret")
    verify_window = fields.Integer("Verify Window", required=True,
        domain=[('verify_window', '>', 0)],
        help="Minutes the bank waits for the verify of a payment before it "
        "gives the money back: past it an unverified transaction expires.")
    timeout = fields.Integer("Timeout", required=True,
        domain=[('timeout', '>', 0)],
        help="Seconds to wait for an answer of the bank.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order.insert(1, ('name', 'ASC'))

    @staticmethod
    def default_company():
        return Transaction().context.get('company')

    @staticmethod
    def default_provider():
        return 'sadad'

    @staticmethod
    def default_timeout():
        return 10

    @staticmethod
    def default_verify_window():
        return VERIFY_WINDOWS['sadad']

    @fields.depends('provider', 'base_url')
    def on_change_provider(self):
        if self.provider:
            if not self.base_url or self.base_url in DEFAULT_URLS.values():
                self.base_url = DEFAULT_URLS[self.provider]
            self.verify_window = VERIFY_WINDOWS[self.provider]

    @classmethod
    def get_secret(cls, gateways, name):
        return {g.id: MASK if getattr(g, f'{name}_secret') else ''
            for g in gateways}

    @classmethod
    def set_secret(cls, gateways, name, value):
        # the client sends back the mask it was given: keep the secret
        if value == MASK:
            return
        with without_check_access():
            cls.write(gateways, {f'{name}_secret': value or None})

    @property
    def window(self):
        return dt.timedelta(minutes=self.verify_window)

    def client(self):
        "The wire-protocol client of the gateway"
        kwargs = {'timeout': self.timeout}
        if self.provider == 'sadad':
            return SadadClient(self.base_url, self.merchant_id or '',
                self.terminal_id or '', self.terminal_key_secret or '',
                **kwargs)
        elif self.provider == 'mellat':
            return MellatClient(self.base_url, self.terminal_id or '',
                self.user_name_secret or '', self.user_password_secret or '',
                **kwargs)
        elif self.provider == 'zarinpal':
            return ZarinpalClient(self.base_url,
                self.zarinpal_merchant_secret or '', **kwargs)
        raise ValueError(self.provider)

    def callback_url(self, transaction):
        return (self.callback_base_url.rstrip('/') + CALLBACK_PATH
            + str(transaction.bank_order))

    @classmethod
    def portal_gateways(cls, company):
        "The active gateways subscribers may choose, in their order"
        return cls.search([('company', '=', company.id)])

    @classmethod
    def copy(cls, gateways, default=None):
        default = default.copy() if default is not None else {}
        for name in SECRET_FIELDS:
            default.setdefault(f'{name}_secret', None)
        return super().copy(gateways, default=default)

