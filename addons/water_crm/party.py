# This file is part of the water utility modules.
from trytond.model import Unique, fields
from trytond.pool import PoolMeta

from . import validators
from .common import NormalizeMixin


class Party(NormalizeMixin, metaclass=PoolMeta):
    __name__ = 'party.party'
    _normalize_text = ('name', 'father_name', 'birth_certificate_number')
    _validators = {
        'national_code': validators.national_code,
        'mobile': validators.mobile,
        'phone': validators.phone,
        }

    national_code = fields.Char("National Code", size=10,
        help="The 10-digit national identifier of a person.")
    father_name = fields.Char("Father's Name")
    birth_certificate_number = fields.Char("Birth Certificate Number")
    mobile = fields.Char("Mobile",
        help="Written 09XXXXXXXXX; receives the SMS of the utility.")
    phone = fields.Char("Phone")
    subscriptions = fields.One2Many(
        'water.subscription', 'party', "Water Subscriptions", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('national_code_unique', Unique(t, t.national_code),
                'water_crm.msg_party_national_code_unique'),
            ]

    @classmethod
    def search_rec_name(cls, name, clause):
        domain = super().search_rec_name(name, clause)
        _, operator, operand, *extra = clause
        if operator.startswith('!') or operator.startswith('not '):
            return domain
        return ['OR', domain,
            ('national_code', operator, operand, *extra),
            ('mobile', operator, operand, *extra),
            ('subscriptions.number', operator, operand, *extra),
            ]


class Address(NormalizeMixin, metaclass=PoolMeta):
    __name__ = 'party.address'
    _normalize_text = ('street', 'city')
    _validators = {
        'postal_code': validators.postal_code,
        }
