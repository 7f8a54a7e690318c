# This file is part of the water utility modules.
from trytond.i18n import gettext
from trytond.model import Unique, fields
from trytond.pool import Pool, PoolMeta

from . import validators
from .common import InvalidFieldValue, NormalizeMixin


class Party(NormalizeMixin, metaclass=PoolMeta):
    __name__ = 'party.party'
    _normalize_text = ('name', 'father_name', 'birth_certificate_number')
    _validators = {
        'national_code': validators.national_code,
        }

    national_code = fields.Char("National Code", size=10,
        help="The 10-digit national identifier of a person.")
    father_name = fields.Char("Father's Name")
    birth_certificate_number = fields.Char("Birth Certificate Number")
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
            ('contact_mechanisms.value', operator, operand, *extra),
            ('subscriptions.number', operator, operand, *extra),
            ]


class Address(NormalizeMixin, metaclass=PoolMeta):
    __name__ = 'party.address'
    _normalize_text = ('street', 'city')
    _validators = {
        'postal_code': validators.postal_code,
        }


class ContactMechanism(metaclass=PoolMeta):
    __name__ = 'party.contact_mechanism'
    _validators = {
        'mobile': validators.mobile,
        'phone': validators.phone,
        }

    def format_value(self, value=None, type_=None):
        value = super().format_value(value=value, type_=type_)
        if type_ in self._validators and value:
            try:
                value = self._validators[type_](value)
            except validators.InvalidValue:
                pass
        return value

    def compute_fields(self, field_names=None):
        values = super().compute_fields(field_names=field_names)
        validator = self._validators.get(self.type)
        if validator and self.value:
            try:
                value = validator(self.value)
            except validators.InvalidValue:
                # validate_fields refuses it with the reason
                return values
            if value != self.value:
                values['value'] = values['value_compact'] = value
        return values

    @classmethod
    def validate_fields(cls, mechanisms, field_names):
        super().validate_fields(mechanisms, field_names)
        if field_names and not (field_names & {'type', 'value'}):
            return
        for mechanism in mechanisms:
            validator = cls._validators.get(mechanism.type)
            if not validator or not mechanism.value:
                continue
            try:
                validator(mechanism.value)
            except validators.InvalidValue as exception:
                raise InvalidFieldValue(gettext(
                        'water_crm.msg_invalid_' + exception.code,
                        field=mechanism.type_string,
                        model=mechanism.party.rec_name,
                        value=mechanism.value,
                        reason=exception.reason)) from exception


class PartyReplace(metaclass=PoolMeta):
    __name__ = 'party.replace'

    @classmethod
    def fields_to_replace(cls):
        return super().fields_to_replace() + [
            ('water.subscription', 'party'),
            ('water.application', 'party'),
            ('water.sms', 'party'),
            ]


class PartyErase(metaclass=PoolMeta):
    __name__ = 'party.erase'

    def to_erase(self, party_id):
        pool = Pool()
        Party = pool.get('party.party')
        Sms = pool.get('water.sms')
        Application = pool.get('water.application')
        return super().to_erase(party_id) + [
            (Party, [('id', '=', party_id)], True,
                ['national_code', 'father_name', 'birth_certificate_number'],
                [None, None, None]),
            (Sms, [('party', '=', party_id)], True,
                ['mobile', 'body'],
                ['****', '****']),
            # the applicant's person as typed, and the documents attached
            (Application, [('party', '=', party_id)], True,
                ['first_name', 'last_name', 'father_name',
                    'birth_certificate_number', 'national_code', 'phone',
                    'mobile', 'email', 'address', 'postal_code',
                    'description'],
                ['****', '****', None, None, '****', '****', '****', None,
                    '****', None, None]),
            ]
