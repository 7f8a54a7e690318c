# This file is part of the water utility modules.
from trytond.pool import PoolMeta


class PartyReplace(metaclass=PoolMeta):
    __name__ = 'party.replace'

    @classmethod
    def fields_to_replace(cls):
        return super().fields_to_replace() + [
            ('water.payment.transaction', 'party'),
            ]
