# This file is part of the water utility modules.
from trytond.model import ModelSQL, ModelView, Workflow, fields
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction

from .common import JalaliDate, JalaliMixin

DIAMETERS = [
    ('1/2', '1/2"'),
    ('3/4', '3/4"'),
    ('1', '1"'),
    ('1 1/4', '1 1/4"'),
    ('1 1/2', '1 1/2"'),
    ('2', '2"'),
    ('3', '3"'),
    ('4', '4"'),
    ('6', '6"'),
    ]


class Connection(JalaliMixin, Workflow, ModelSQL, ModelView):
    "Connection"
    __name__ = 'water.connection'
    _states = {'readonly': Eval('state') != 'draft'}

    parcel = fields.Many2One('water.parcel', "Parcel", required=True,
        ondelete='RESTRICT', states=_states,
        domain=[('company', '=', Eval('company', -1))])
    company = fields.Many2One('company.company', "Company", required=True,
        states=_states)
    diameter = fields.Selection(DIAMETERS, "Diameter", required=True,
        states=_states, help="Size of the connection pipe.")
    usage = fields.Many2One('water.usage', "Usage", required=True,
        ondelete='RESTRICT')
    housing_units = fields.Integer("Housing Units", required=True,
        domain=[('housing_units', '>=', 1)])
    sewer = fields.Boolean("Sewer",
        help="The premise is connected to the sewer network.")
    contract_capacity = fields.Numeric("Contract Capacity", digits=(16, 2),
        domain=['OR',
            ('contract_capacity', '=', None),
            ('contract_capacity', '>=', 0)],
        help="Cubic metres per month.")
    installation_date = fields.Date("Installation Date")
    installation_date_jalali = JalaliDate("Installation Date (Jalali)")
    installations = fields.One2Many(
        'water.meter.installation', 'connection', "Meter History",
        readonly=True)
    meter = fields.Function(fields.Many2One('water.meter', "Meter"),
        'get_meter', searcher='search_meter')
    subscriptions = fields.One2Many(
        'water.subscription', 'connection', "Subscriptions", readonly=True)
    state = fields.Selection([
            ('draft', "Draft"),
            ('active', "Active"),
            ('disconnected', "Disconnected"),
            ('closed', "Closed"),
            ], "State", readonly=True, required=True, sort=False)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._transitions |= {
            ('draft', 'active'),
            ('active', 'disconnected'),
            ('disconnected', 'active'),
            ('active', 'closed'),
            ('disconnected', 'closed'),
            }
        cls._buttons.update({
                'activate': {
                    'invisible': ~Eval('state').in_(['draft', 'disconnected']),
                    'depends': ['state'],
                    },
                'disconnect': {
                    'invisible': Eval('state') != 'active',
                    'depends': ['state'],
                    },
                'close': {
                    'invisible': ~Eval('state').in_(['active', 'disconnected']),
                    'depends': ['state'],
                    },
                'replace_meter': {
                    'invisible': Eval('state') == 'closed',
                    'depends': ['state'],
                    },
                })

    @staticmethod
    def default_company():
        return Transaction().context.get('company')

    @staticmethod
    def default_state():
        return 'draft'

    @staticmethod
    def default_housing_units():
        return 1

    @staticmethod
    def default_diameter():
        return '1/2'

    @fields.depends('parcel', '_parent_parcel.company')
    def on_change_parcel(self):
        if self.parcel:
            self.company = self.parcel.company

    def get_rec_name(self, name):
        return f'{self.parcel.rec_name} ({self.usage.rec_name})'

    @classmethod
    def search_rec_name(cls, name, clause):
        return [('parcel.rec_name',) + tuple(clause[1:])]

    @classmethod
    def get_meter(cls, connections, name):
        Installation = Pool().get('water.meter.installation')
        meters = dict.fromkeys(map(int, connections))
        for installation in Installation.search([
                    ('connection', 'in', list(meters)),
                    ('removal_date', '=', None),
                    ]):
            meters[installation.connection.id] = installation.meter.id
        return meters

    @classmethod
    def search_meter(cls, name, clause):
        return [('installations', 'where', [
                    ('meter',) + tuple(clause[1:]),
                    ('removal_date', '=', None),
                    ])]

    @classmethod
    @ModelView.button
    @Workflow.transition('active')
    def activate(cls, connections):
        pass

    @classmethod
    @ModelView.button
    @Workflow.transition('disconnected')
    def disconnect(cls, connections):
        pass

    @classmethod
    @ModelView.button
    @Workflow.transition('closed')
    def close(cls, connections):
        pass

    @classmethod
    @ModelView.button_action('water_crm.wizard_meter_replace')
    def replace_meter(cls, connections):
        pass
