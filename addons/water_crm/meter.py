# This file is part of the water utility modules.
import datetime as dt

from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, ModelSQL, ModelView, Unique, fields)
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction
from trytond.wizard import Button, StateTransition, StateView, Wizard

from .common import JalaliDate, JalaliMixin, NormalizeMixin


class MeterValidationError(ValidationError):
    pass


class Meter(DeactivableMixin, NormalizeMixin, ModelSQL, ModelView):
    "Meter"
    __name__ = 'water.meter'
    _rec_name = 'serial'
    _normalize_text = ('serial', 'make', 'model')

    serial = fields.Char("Serial Number", required=True)
    make = fields.Char("Make")
    model = fields.Char("Model")
    digits = fields.Integer("Digits", required=True,
        domain=[('digits', '>=', 3), ('digits', '<=', 9)],
        help="Number of digits of the register; "
        "past 10^digits - 1 the register rolls over to zero.")
    company = fields.Many2One('company.company', "Company", required=True)
    installations = fields.One2Many(
        'water.meter.installation', 'meter', "Installations", readonly=True)
    connection = fields.Function(
        fields.Many2One('water.connection', "Connection"), 'get_connection',
        searcher='search_connection')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('serial_unique', Unique(t, t.serial),
                'water_crm.msg_meter_serial_unique'),
            ]

    @staticmethod
    def default_digits():
        return 5

    @staticmethod
    def default_company():
        return Transaction().context.get('company')

    @classmethod
    def get_connection(cls, meters, name):
        Installation = Pool().get('water.meter.installation')
        connections = dict.fromkeys(map(int, meters))
        for installation in Installation.search([
                    ('meter', 'in', list(connections)),
                    ('removal_date', '=', None),
                    ]):
            connections[installation.meter.id] = installation.connection.id
        return connections

    @classmethod
    def search_connection(cls, name, clause):
        return [('installations', 'where', [
                    ('connection',) + tuple(clause[1:]),
                    ('removal_date', '=', None),
                    ])]


class Installation(JalaliMixin, ModelSQL, ModelView):
    "Meter Installation"
    __name__ = 'water.meter.installation'

    meter = fields.Many2One('water.meter', "Meter", required=True,
        ondelete='RESTRICT')
    connection = fields.Many2One('water.connection', "Connection",
        required=True, ondelete='CASCADE')
    install_date = fields.Date("Install Date", required=True)
    install_date_jalali = JalaliDate("Install Date (Jalali)")
    initial_reading = fields.Integer("Initial Reading", required=True,
        domain=[('initial_reading', '>=', 0)])
    removal_date = fields.Date("Removal Date",
        domain=['OR',
            ('removal_date', '=', None),
            ('removal_date', '>=', Eval('install_date', None)),
            ])
    removal_date_jalali = JalaliDate("Removal Date (Jalali)")
    final_reading = fields.Integer("Final Reading",
        domain=['OR',
            ('final_reading', '=', None),
            ('final_reading', '>=', 0),
            ],
        states={'required': Eval('removal_date', None) != None})  # noqa: E711
    removal_reason = fields.Char("Removal Reason")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('connection')
        cls._order = [('install_date', 'DESC'), ('id', 'DESC')]

    @staticmethod
    def default_install_date():
        return Pool().get('ir.date').today()

    @staticmethod
    def default_initial_reading():
        return 0

    @classmethod
    def validate_fields(cls, installations, field_names):
        super().validate_fields(installations, field_names)
        if field_names & {'meter', 'connection', 'install_date',
                'removal_date'}:
            cls.check_overlap(installations)

    @classmethod
    def check_overlap(cls, installations):
        "A meter sits on one connection, a connection has one meter"
        far = dt.date.max
        for installation in installations:
            for field in ['meter', 'connection']:
                others = cls.search([
                        (field, '=', getattr(installation, field).id),
                        ('id', '!=', installation.id),
                        # periods are [install, removal): a meter removed
                        # on a day can be installed elsewhere that day
                        ('install_date', '<',
                            installation.removal_date or far),
                        ['OR',
                            ('removal_date', '=', None),
                            ('removal_date', '>', installation.install_date),
                            ],
                        ], limit=1)
                if others:
                    other, = others
                    raise MeterValidationError(gettext(
                            'water_crm.msg_installation_overlap_' + field,
                            meter=installation.meter.rec_name,
                            connection=installation.connection.rec_name,
                            other=(other.connection.rec_name
                                if field == 'meter'
                                else other.meter.rec_name)))


class Replace(Wizard):
    "Replace Meter"
    __name__ = 'water.meter.replace'
    start = StateView('water.meter.replace.start',
        'water_crm.meter_replace_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Replace", 'replace', 'tryton-ok', default=True),
            ])
    replace = StateTransition()

    def default_start(self, fields):
        connection = self.record
        return {
            'connection': connection.id,
            'old_meter': connection.meter.id if connection.meter else None,
            'date': Pool().get('ir.date').today(),
            'initial_reading': 0,
            }

    def transition_replace(self):
        pool = Pool()
        Installation = pool.get('water.meter.installation')
        connection = self.record
        to_save = []
        current = Installation.search([
                ('connection', '=', connection.id),
                ('removal_date', '=', None),
                ])
        for installation in current:
            installation.removal_date = self.start.date
            installation.final_reading = self.start.final_reading
            installation.removal_reason = self.start.reason
            to_save.append(installation)
        # the old installation must end before the new one starts
        Installation.save(to_save)
        Installation.save([Installation(
                    meter=self.start.new_meter,
                    connection=connection,
                    install_date=self.start.date,
                    initial_reading=self.start.initial_reading)])
        return 'end'


class ReplaceStart(ModelView):
    "Replace Meter"
    __name__ = 'water.meter.replace.start'
    connection = fields.Many2One('water.connection', "Connection",
        readonly=True)
    old_meter = fields.Many2One('water.meter', "Old Meter", readonly=True)
    final_reading = fields.Integer("Final Reading of the Old Meter",
        domain=[('final_reading', '>=', 0)],
        states={
            'required': Eval('old_meter', None) != None,  # noqa: E711
            'invisible': Eval('old_meter', None) == None,  # noqa: E711
            })
    reason = fields.Char("Reason",
        states={
            'invisible': Eval('old_meter', None) == None,  # noqa: E711
            })
    date = fields.Date("Date", required=True)
    new_meter = fields.Many2One('water.meter', "New Meter", required=True,
        domain=[
            ('connection', '=', None),
            ('id', '!=', Eval('old_meter', -1)),
            ])
    initial_reading = fields.Integer("Initial Reading of the New Meter",
        required=True, domain=[('initial_reading', '>=', 0)])
