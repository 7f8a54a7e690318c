# This file is part of the water utility modules.
from trytond.model import (
    DeactivableMixin, ModelSQL, ModelView, Unique, fields)
from trytond.transaction import Transaction

from .common import NormalizeMixin


class Zone(DeactivableMixin, NormalizeMixin, ModelSQL, ModelView):
    "Zone"
    __name__ = 'water.zone'
    _normalize_text = ('name', 'code')

    name = fields.Char("Name", required=True, translate=False)
    code = fields.Char("Code")
    company = fields.Many2One('company.company', "Company", required=True)
    parcels = fields.One2Many('water.parcel', 'zone', "Parcels")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('name_unique', Unique(t, t.company, t.name),
                'water_crm.msg_zone_name_unique'),
            ]
        cls._order.insert(0, ('name', 'ASC'))

    @staticmethod
    def default_company():
        return Transaction().context.get('company')


class Usage(DeactivableMixin, NormalizeMixin, ModelSQL, ModelView):
    "Usage"
    __name__ = 'water.usage'
    _normalize_text = ('name',)

    name = fields.Char("Name", required=True, translate=True)
    code = fields.Char("Code", required=True,
        help="Identifies the usage in tariff tables and imports.")
    residential = fields.Boolean("Residential",
        help="Residential usages share 70% of the water charge as sewage "
        "charge in the national tables, others 100%.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('code_unique', Unique(t, t.code),
                'water_crm.msg_usage_code_unique'),
            ]
        cls._order.insert(0, ('name', 'ASC'))
