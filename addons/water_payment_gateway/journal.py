# This file is part of the water utility modules.
"""The gateway process method of payment journals: a payment of such a
journal records money a bank gateway has already received and verified,
so processing it asks nothing of the bank; it clears through the
journal's clearing account (account_payment_clearing) when it succeeds."""
from trytond.model import fields
from trytond.pool import PoolMeta
from trytond.pyson import Eval


class Journal(metaclass=PoolMeta):
    __name__ = 'account.payment.journal'
    water_gateways = fields.One2Many('water.payment.gateway', 'journal',
        "Gateways", readonly=True,
        states={'invisible': Eval('process_method') != 'water_gateway'})

    @classmethod
    def __setup__(cls):
        super().__setup__()
        process_method = ('water_gateway', "Water Gateway")
        if process_method not in cls.process_method.selection:
            cls.process_method.selection.append(process_method)


class Payment(metaclass=PoolMeta):
    __name__ = 'account.payment'

    @classmethod
    def _get_origin(cls):
        return super()._get_origin() + ['water.payment.transaction']

    def process_water_gateway(self):
        "The gateway received the money before the payment existed"
        pass
