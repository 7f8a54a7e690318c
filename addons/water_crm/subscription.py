# This file is part of the water utility modules.
from trytond.i18n import gettext
from trytond.model import (
    ModelSingleton, ModelSQL, ModelView, Unique, Workflow, fields)
from trytond.model.exceptions import ValidationError
from trytond.modules.company.model import (
    CompanyMultiValueMixin, CompanyValueMixin)
from trytond.pool import Pool
from trytond.pyson import Eval, Id
from trytond.transaction import Transaction

from .common import JalaliDate, JalaliMixin, NormalizeMixin


class SubscriptionValidationError(ValidationError):
    pass


class Configuration(ModelSingleton, ModelSQL, ModelView,
        CompanyMultiValueMixin):
    "Water Configuration"
    __name__ = 'water.configuration'
    subscription_sequence = fields.MultiValue(fields.Many2One(
            'ir.sequence', "Subscription Sequence", required=True,
            domain=[
                ('company', 'in',
                    [Eval('context', {}).get('company', -1), None]),
                ('sequence_type', '=',
                    Id('water_crm', 'sequence_type_subscription')),
                ],
            help="Numbers new subscriptions that are not given one."))

    @classmethod
    def default_subscription_sequence(cls, **pattern):
        return cls.multivalue_model(
            'subscription_sequence').default_subscription_sequence()


class ConfigurationSequence(ModelSQL, CompanyValueMixin):
    "Water Configuration Sequence"
    __name__ = 'water.configuration.subscription_sequence'
    subscription_sequence = fields.Many2One(
        'ir.sequence', "Subscription Sequence", required=True,
        domain=[
            ('company', 'in', [Eval('company', -1), None]),
            ('sequence_type', '=',
                Id('water_crm', 'sequence_type_subscription')),
            ])

    @classmethod
    def default_subscription_sequence(cls):
        return Pool().get('ir.model.data').get_id(
            'water_crm', 'sequence_subscription')


class Subscription(JalaliMixin, NormalizeMixin, Workflow, ModelSQL,
        ModelView):
    "Subscription"
    __name__ = 'water.subscription'
    _rec_name = 'number'
    _normalize_text = ('number', 'bill_file_id')

    number = fields.Char("Subscription Number", readonly=True,
        help="The number the subscriber knows; "
        "given by the sequence when left empty.")
    party = fields.Many2One('party.party', "Subscriber", required=True,
        ondelete='RESTRICT',
        states={'readonly': Eval('state') != 'active'},
        context={'company': Eval('company', -1)}, depends={'company'})
    connection = fields.Many2One('water.connection', "Connection",
        required=True, ondelete='RESTRICT',
        domain=[('company', '=', Eval('company', -1))],
        states={'readonly': Eval('id', -1) >= 0})
    company = fields.Many2One('company.company', "Company", required=True,
        states={'readonly': Eval('id', -1) >= 0})
    bill_file_id = fields.Char("Bill ID File Number", size=8,
        help="The subscription's file number inside the bill ID "
        "(at most 8 digits); it never changes.")
    start_date = fields.Date("Start Date", required=True)
    start_date_jalali = JalaliDate("Start Date (Jalali)")
    end_date = fields.Date("End Date",
        domain=['OR',
            ('end_date', '=', None),
            ('end_date', '>=', Eval('start_date', None)),
            ],
        states={'required': Eval('state') == 'terminated'})
    end_date_jalali = JalaliDate("End Date (Jalali)")
    zone = fields.Function(fields.Many2One('water.zone', "Zone"),
        'get_connection_field', searcher='search_connection_field')
    parcel = fields.Function(fields.Many2One('water.parcel', "Parcel"),
        'get_connection_field', searcher='search_connection_field')
    usage = fields.Function(fields.Many2One('water.usage', "Usage"),
        'get_connection_field', searcher='search_connection_field')
    meter = fields.Function(fields.Many2One('water.meter', "Meter"),
        'get_connection_field', searcher='search_connection_field')
    state = fields.Selection([
            ('active', "Active"),
            ('suspended', "Suspended"),
            ('terminated', "Terminated"),
            ], "State", readonly=True, required=True, sort=False)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('number_unique', Unique(t, t.company, t.number),
                'water_crm.msg_subscription_number_unique'),
            ('bill_file_id_unique', Unique(t, t.company, t.bill_file_id),
                'water_crm.msg_subscription_bill_file_id_unique'),
            ]
        cls._order.insert(0, ('number', 'ASC'))
        cls._transitions |= {
            ('active', 'suspended'),
            ('suspended', 'active'),
            ('active', 'terminated'),
            ('suspended', 'terminated'),
            }
        cls._buttons.update({
                'suspend': {
                    'invisible': Eval('state') != 'active',
                    'depends': ['state'],
                    },
                'resume': {
                    'invisible': Eval('state') != 'suspended',
                    'depends': ['state'],
                    },
                'terminate': {
                    'invisible': Eval('state') == 'terminated',
                    'depends': ['state'],
                    },
                })

    @staticmethod
    def default_company():
        return Transaction().context.get('company')

    @staticmethod
    def default_state():
        return 'active'

    @staticmethod
    def default_start_date():
        return Pool().get('ir.date').today()

    @classmethod
    def get_connection_field(cls, subscriptions, names):
        # only the names asked: the meter is a search of its own
        paths = {
            'parcel': ['parcel'],
            'zone': ['parcel', 'zone'],
            'usage': ['usage'],
            'meter': ['meter'],
            }
        result = {n: {} for n in names}
        for subscription in subscriptions:
            for name in names:
                value = subscription.connection
                for attribute in paths[name]:
                    value = getattr(value, attribute)
                result[name][subscription.id] = value.id if value else None
        return result

    @classmethod
    def search_connection_field(cls, name, clause):
        path = {
            'parcel': 'connection.parcel',
            'zone': 'connection.parcel.zone',
            'usage': 'connection.usage',
            'meter': 'connection.meter',
            }[name]
        nested = clause[0][len(name):]
        return [(path + nested,) + tuple(clause[1:])]

    def get_rec_name(self, name):
        return f'{self.number} - {self.party.rec_name}'

    def portal_dashboard(self):
        """Values of the portal's dashboard besides the subscription's
        fields, read once for the templates; other modules add theirs"""
        return {}

    @classmethod
    def search_rec_name(cls, name, clause):
        _, operator, operand, *extra = clause
        if operator.startswith('!') or operator.startswith('not '):
            bool_op = 'AND'
        else:
            bool_op = 'OR'
        return [bool_op,
            ('number', operator, operand, *extra),
            ('party.rec_name', operator, operand, *extra),
            ('connection.parcel.geographic_code', operator, operand, *extra),
            ]

    @classmethod
    def preprocess_values(cls, mode, values):
        pool = Pool()
        Configuration = pool.get('water.configuration')
        values = super().preprocess_values(mode, values)
        if mode == 'create' and not values.get('number'):
            company_id = values.get('company', cls.default_company())
            if company_id is not None:
                configuration = Configuration(1)
                sequence = configuration.get_multivalue(
                    'subscription_sequence', company=company_id)
                values['number'] = sequence.get()
        if mode == 'create' and not values.get('bill_file_id'):
            number = values.get('number') or ''
            if number.isascii() and number.isdigit() and len(number) <= 8:
                values['bill_file_id'] = number
        return values

    @classmethod
    def validate_fields(cls, subscriptions, field_names):
        super().validate_fields(subscriptions, field_names)
        if field_names & {'bill_file_id'}:
            for subscription in subscriptions:
                file_id = subscription.bill_file_id
                if file_id and not (file_id.isascii() and file_id.isdigit()):
                    raise SubscriptionValidationError(gettext(
                            'water_crm.msg_subscription_bill_file_id_digits',
                            subscription=subscription.rec_name))
        if field_names & {'connection', 'state'}:
            cls.check_one_active_per_connection(subscriptions)

    @classmethod
    def check_one_active_per_connection(cls, subscriptions):
        for subscription in subscriptions:
            if subscription.state == 'terminated':
                continue
            others = cls.search([
                    ('connection', '=', subscription.connection.id),
                    ('state', '!=', 'terminated'),
                    ('id', '!=', subscription.id),
                    ], limit=1)
            if others:
                raise SubscriptionValidationError(gettext(
                        'water_crm.msg_subscription_connection_taken',
                        connection=subscription.connection.rec_name,
                        other=others[0].rec_name))

    @classmethod
    @ModelView.button
    @Workflow.transition('suspended')
    def suspend(cls, subscriptions):
        pass

    @classmethod
    @ModelView.button
    @Workflow.transition('active')
    def resume(cls, subscriptions):
        pass

    @classmethod
    @ModelView.button
    @Workflow.transition('terminated')
    def terminate(cls, subscriptions):
        Date = Pool().get('ir.date')
        cls.write([s for s in subscriptions if not s.end_date], {
                'end_date': Date.today(),
                })
