# This file is part of the water utility modules.
from trytond.model import ModelSQL, ModelView, Unique, fields
from trytond.pyson import Eval
from trytond.transaction import Transaction

from . import validators
from .common import NormalizeMixin


class Parcel(NormalizeMixin, ModelSQL, ModelView):
    "Parcel"
    __name__ = 'water.parcel'
    _rec_name = 'number'
    _normalize_text = ('number', 'address')
    _validators = {
        'geographic_code': validators.geographic_code,
        'postal_code': validators.postal_code,
        }

    number = fields.Char("Parcel Number", required=True,
        help="As written on the deed, e.g. 420/71.")
    geographic_code = fields.Char("Geographic Code", required=True,
        size=10, help="The 10-digit location code of the parcel.")
    zone = fields.Many2One('water.zone', "Zone", required=True,
        ondelete='RESTRICT',
        domain=[('company', '=', Eval('company', -1))])
    company = fields.Many2One('company.company', "Company", required=True)
    land_area = fields.Numeric("Land Area", digits=(16, 2),
        domain=['OR', ('land_area', '=', None), ('land_area', '>=', 0)],
        help="In square metres.")
    building_area = fields.Numeric("Building Area", digits=(16, 2),
        domain=['OR',
            ('building_area', '=', None), ('building_area', '>=', 0)],
        help="In square metres.")
    address = fields.Text("Address")
    postal_code = fields.Char("Postal Code", size=10)
    connections = fields.One2Many('water.connection', 'parcel', "Connections")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('geographic_code_unique', Unique(t, t.geographic_code),
                'water_crm.msg_parcel_geographic_code_unique'),
            ]
        cls._order.insert(0, ('geographic_code', 'ASC'))

    @staticmethod
    def default_company():
        return Transaction().context.get('company')

    @fields.depends('zone', '_parent_zone.company')
    def on_change_zone(self):
        if self.zone:
            self.company = self.zone.company

    def get_rec_name(self, name):
        return f'{self.zone.rec_name} - {self.number}'

    @classmethod
    def search_rec_name(cls, name, clause):
        _, operator, operand, *extra = clause
        if operator.startswith('!') or operator.startswith('not '):
            bool_op = 'AND'
        else:
            bool_op = 'OR'
        return [bool_op,
            ('number', operator, operand, *extra),
            ('geographic_code', operator, operand, *extra),
            ('zone.name', operator, operand, *extra),
            ]
