# This file is part of the water utility modules.
"""Meter readings and their plausibility checks."""
import datetime as dt

from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Workflow, fields
from trytond.model.exceptions import ValidationError
from trytond.modules.water_crm.common import JalaliDate, JalaliMixin
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval, If, PYSONEncoder
from trytond.transaction import Transaction
from trytond.wizard import Button, StateAction, StateView, Wizard

KINDS = [
    ('reader', "Meter Reader"),
    ('self', "Self-Declared"),
    ('estimated', "Estimated"),
    ('control', "Control"),
    ]
# The register is taken to have rolled over only when the previous value
# sat in its last tenth and the new one in its first tenth
ROLLOVER_MARGIN = 10


class ReadingError(ValidationError):
    pass


class Connection(metaclass=PoolMeta):
    __name__ = 'water.connection'
    reading_route = fields.Char("Reading Route",
        help="The route of the meter reader that reads this connection.")
    reading_sequence = fields.Integer("Reading Sequence",
        help="The order of the connection on its reading route.")


class Configuration(metaclass=PoolMeta):
    __name__ = 'water.configuration'
    reading_high_tolerance = fields.Integer("High Tolerance", required=True,
        help="Percent above the expected consumption from which a reading "
        "is flagged.")
    reading_low_tolerance = fields.Integer("Low Tolerance", required=True,
        help="Percent below the expected consumption from which a reading "
        "is flagged.")
    max_estimates = fields.Integer("Estimates in a Row", required=True,
        help="How many estimated readings may follow each other before "
        "an estimate is flagged.")

    @classmethod
    def default_reading_high_tolerance(cls):
        return 70

    @classmethod
    def default_reading_low_tolerance(cls):
        return 40

    @classmethod
    def default_max_estimates(cls):
        return 2


class Reading(JalaliMixin, Workflow, ModelSQL, ModelView):
    "Meter Reading"
    __name__ = 'water.reading'
    _states = {'readonly': Eval('state') != 'draft'}

    subscription = fields.Many2One('water.subscription', "Subscription",
        required=True, ondelete='RESTRICT', states=_states,
        domain=[('company', '=', Eval('company', -1))])
    company = fields.Many2One('company.company', "Company", required=True,
        states=_states)
    meter = fields.Many2One('water.meter', "Meter", required=True,
        ondelete='RESTRICT', states=_states)
    date = fields.Date("Date", required=True, states=_states)
    date_jalali = JalaliDate("Date (Jalali)")
    value = fields.Integer("Meter Value",
        domain=['OR', ('value', '=', None), ('value', '>=', 0)],
        states={
            'readonly': Eval('state') != 'draft',
            'required': Eval('state') != 'draft',
            })
    kind = fields.Selection(KINDS, "Kind", required=True, states=_states)
    photo = fields.Binary("Photo", file_id='photo_id', states=_states)
    photo_id = fields.Char("Photo ID", readonly=True)
    note = fields.Text("Note")
    previous_date = fields.Date("Previous Date", readonly=True)
    previous_value = fields.Integer("Previous Value", readonly=True)
    consumption = fields.Integer("Consumption", readonly=True,
        help="Cubic metres since the previous reading.")
    rollover = fields.Boolean("Rollover", readonly=True,
        help="The register passed its maximum and restarted from zero.")
    flags = fields.Text("Flags", readonly=True,
        help="Why the reading waits for a decision of the staff.")
    state = fields.Selection([
            ('draft', "Draft"),
            ('flagged', "Flagged"),
            ('control', "Control Ordered"),
            ('accepted', "Accepted"),
            ('rejected', "Rejected"),
            ], "State", readonly=True, required=True, sort=False)
    zone = fields.Function(fields.Many2One('water.zone', "Zone"),
        'get_subscription_field', searcher='search_subscription_field')
    party = fields.Function(fields.Many2One('party.party', "Subscriber",
            context={'company': Eval('company', -1)}, depends={'company'}),
        'get_subscription_field', searcher='search_subscription_field')
    route = fields.Function(fields.Char("Route"), 'get_route')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._order = [('date', 'DESC'), ('id', 'DESC')]
        cls._sql_indexes.update({
                Index(t, (t.meter, Index.Range()), (t.date, Index.Range())),
                Index(t, (t.subscription, Index.Range()),
                    (t.date, Index.Range())),
                Index(t, (t.state, Index.Equality(cardinality='low')),
                    where=t.state.in_(['draft', 'flagged', 'control'])),
                })
        cls._transitions |= {
            ('draft', 'accepted'),
            ('draft', 'flagged'),
            ('draft', 'rejected'),
            ('flagged', 'accepted'),
            ('flagged', 'rejected'),
            ('flagged', 'control'),
            ('control', 'rejected'),
            ('control', 'accepted'),
            ('accepted', 'draft'),
            ('rejected', 'draft'),
            }
        cls._buttons.update({
                'confirm': {
                    'invisible': Eval('state') != 'draft',
                    'depends': ['state'],
                    },
                'accept': {
                    'invisible': ~Eval('state').in_(['flagged', 'control']),
                    'depends': ['state'],
                    },
                'reject': {
                    'invisible': ~Eval('state').in_(
                        ['draft', 'flagged', 'control']),
                    'depends': ['state'],
                    },
                'ask_control': {
                    'invisible': Eval('state') != 'flagged',
                    'depends': ['state'],
                    },
                'draft': {
                    'invisible': ~Eval('state').in_(['accepted', 'rejected']),
                    'icon': If(Eval('state') == 'rejected',
                        'tryton-undo', 'tryton-back'),
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
    def default_kind():
        return 'reader'

    @staticmethod
    def default_date():
        return Pool().get('ir.date').today()

    @fields.depends('subscription', '_parent_subscription.meter')
    def on_change_subscription(self):
        if self.subscription:
            self.meter = self.subscription.meter

    def get_rec_name(self, name):
        return f'{self.subscription.rec_name} @ {self.date_jalali}'

    @classmethod
    def get_subscription_field(cls, readings, names):
        result = {n: {} for n in names}
        for reading in readings:
            for name in names:
                value = getattr(reading.subscription, name)
                result[name][reading.id] = value.id if value else None
        return result

    @classmethod
    def search_subscription_field(cls, name, clause):
        return [('subscription.' + clause[0],) + tuple(clause[1:])]

    def get_route(self, name):
        return self.subscription.connection.reading_route

    @classmethod
    def check_modification(cls, mode, readings, values=None, external=False):
        pool = Pool()
        Bill = pool.get('water.bill')
        super().check_modification(
            mode, readings, values=values, external=external)
        if mode in {'write', 'delete'}:
            billed = Bill.search([
                    ('current_reading', 'in', [r.id for r in readings]),
                    ('state', '!=', 'cancelled'),
                    ], limit=1)
            if billed and (mode == 'delete' or set(values or {}) - {
                        'note', 'flags'}):
                bill, = billed
                raise ReadingError(gettext(
                        'water_billing.msg_reading_billed',
                        reading=bill.current_reading.rec_name,
                        bill=bill.rec_name))

    @classmethod
    def _anchor(cls, reading):
        """The (date, meter, value) the consumption of reading counts from:
        the subscription's previous accepted reading, else the install"""
        Installation = Pool().get('water.meter.installation')
        previous = cls.search([
                ('subscription', '=', reading.subscription.id),
                ('state', '=', 'accepted'),
                ('date', '<', reading.date),
                ('id', '!=', reading.id),
                ], order=[('date', 'DESC'), ('id', 'DESC')], limit=1)
        if previous:
            previous, = previous
            return previous.date, previous.meter, previous.value
        installations = Installation.search([
                ('meter', '=', reading.meter.id),
                ('connection', '=', reading.subscription.connection.id),
                ('install_date', '<=', reading.date),
                ], order=[('install_date', 'DESC')], limit=1)
        if installations:
            installation, = installations
            return (installation.install_date, installation.meter,
                installation.initial_reading)
        return None

    def _consumption(self, anchor):
        "Consumption since anchor and whether the register rolled over"
        Installation = Pool().get('water.meter.installation')
        date, meter, value = anchor
        if meter != self.meter:
            # the meter was replaced inside the period
            old, = Installation.search([
                    ('meter', '=', meter.id),
                    ('connection', '=', self.subscription.connection.id),
                    ('removal_date', '!=', None),
                    ], order=[('removal_date', 'DESC')], limit=1) or [None]
            new, = Installation.search([
                    ('meter', '=', self.meter.id),
                    ('connection', '=', self.subscription.connection.id),
                    ], order=[('install_date', 'DESC')], limit=1) or [None]
            if not old or not new or old.final_reading is None:
                raise ReadingError(gettext(
                        'water_billing.msg_reading_meter_changed',
                        reading=self.rec_name))
            return ((old.final_reading - value)
                + (self.value - new.initial_reading)), False
        if self.value >= value:
            return self.value - value, False
        size = 10 ** meter.digits
        if (value * ROLLOVER_MARGIN >= size * (ROLLOVER_MARGIN - 1)
                and self.value * ROLLOVER_MARGIN < size):
            return size - value + self.value, True
        raise ReadingError(gettext(
                'water_billing.msg_reading_below_previous',
                reading=self.rec_name, value=self.value, previous=value))

    def _expected(self, days):
        "The consumption the subscription's own history expects in days"
        accepted = self.search([
                ('subscription', '=', self.subscription.id),
                ('state', '=', 'accepted'),
                ('date', '<', self.date),
                ('date', '>=', self.date - dt.timedelta(days=730)),
                ('consumption', '!=', None),
                ('previous_date', '!=', None),
                ])
        total_days = sum((r.date - r.previous_date).days for r in accepted)
        if total_days < 30:
            return None
        consumption = sum(r.consumption for r in accepted)
        return consumption * days / total_days

    def set_consumption(self):
        """Set the previous date and value, the consumption and the
        rollover from the reading this one counts from; raise ReadingError
        when it cannot count from one. Nothing is saved."""
        if self.value is None:
            raise ReadingError(gettext(
                    'water_billing.msg_reading_no_value',
                    reading=self.rec_name))
        later = self.search([
                ('subscription', '=', self.subscription.id),
                ('state', '=', 'accepted'),
                ('date', '>=', self.date),
                ('id', '!=', self.id),
                ], order=[('date', 'DESC')], limit=1)
        if later:
            # counting from an earlier reading would bill again the
            # consumption the later one has counted
            latest, = later
            raise ReadingError(gettext(
                    'water_billing.msg_reading_before_latest',
                    reading=self.rec_name, latest=latest.date_jalali))
        anchor = self._anchor(self)
        if anchor is None:
            raise ReadingError(gettext(
                    'water_billing.msg_reading_no_previous',
                    reading=self.rec_name))
        self.previous_date, _, self.previous_value = anchor
        if self.previous_date >= self.date:
            raise ReadingError(gettext(
                    'water_billing.msg_reading_not_after_previous',
                    reading=self.rec_name))
        self.consumption, self.rollover = self._consumption(anchor)

    def check_plausibility(self, configuration):
        "Return the reasons to hold the reading for the staff"
        flags = []
        if self.consumption == 0:
            flags.append(gettext('water_billing.msg_flag_zero'))
        days = (self.date - self.previous_date).days
        expected = self._expected(days)
        if expected and self.consumption:
            high = expected * (100 + configuration.reading_high_tolerance) / 100
            low = expected * (100 - configuration.reading_low_tolerance) / 100
            if self.consumption > high:
                flags.append(gettext('water_billing.msg_flag_high',
                        consumption=self.consumption, expected=round(expected)))
            elif self.consumption < low:
                flags.append(gettext('water_billing.msg_flag_low',
                        consumption=self.consumption, expected=round(expected)))
        if self.kind == 'estimated':
            recent = self.search([
                    ('subscription', '=', self.subscription.id),
                    ('state', '=', 'accepted'),
                    ('date', '<', self.date),
                    ], order=[('date', 'DESC')],
                limit=configuration.max_estimates)
            if (len(recent) == configuration.max_estimates
                    and all(r.kind == 'estimated' for r in recent)):
                flags.append(gettext('water_billing.msg_flag_estimates',
                        count=configuration.max_estimates))
        if self.rollover:
            flags.append(gettext('water_billing.msg_flag_rollover'))
        return flags

    @classmethod
    @ModelView.button
    def confirm(cls, readings):
        """Compute the consumption of draft readings and accept them, or
        flag them when a check fails"""
        pool = Pool()
        Configuration = pool.get('water.configuration')
        configuration = Configuration(1)
        accepted, flagged, superseded = [], [], []
        for reading in sorted(readings, key=lambda r: (r.date, r.id)):
            if reading.state != 'draft':
                continue
            reading.set_consumption()
            flags = reading.check_plausibility(configuration)
            # a control reading settles the doubt it was ordered for
            if reading.kind == 'control':
                superseded.extend(cls.search([
                            ('meter', '=', reading.meter.id),
                            ('state', '=', 'control'),
                            ('date', '<=', reading.date),
                            ]))
                flags = []
            reading.flags = '\n'.join(flags) or None
            (flagged if flags else accepted).append(reading)
            # later readings of the batch count from this one
            reading.state = 'flagged' if flags else 'accepted'
            cls.save([reading])
        cls.reject(superseded)

    @classmethod
    @ModelView.button
    @Workflow.transition('accepted')
    def accept(cls, readings):
        pass

    @classmethod
    @ModelView.button
    @Workflow.transition('rejected')
    def reject(cls, readings):
        pass

    @classmethod
    @ModelView.button
    @Workflow.transition('control')
    def ask_control(cls, readings):
        pass

    @classmethod
    @ModelView.button
    @Workflow.transition('draft')
    def draft(cls, readings):
        cls.write(readings, {
                'consumption': None,
                'previous_date': None,
                'previous_value': None,
                'rollover': False,
                'flags': None,
                })

    @classmethod
    def estimate(cls, subscriptions, date):
        """Create estimated readings at date from each subscription's
        average consumption, and confirm them"""
        readings = []
        for subscription in subscriptions:
            meter = subscription.meter
            if not meter:
                continue
            reading = cls(subscription=subscription, meter=meter, date=date,
                kind='estimated', company=subscription.company)
            anchor = cls._anchor(reading)
            if anchor is None or anchor[0] >= date:
                continue
            days = (date - anchor[0]).days
            reading.value = anchor[2] + round(reading._expected(days) or 0)
            readings.append(reading)
        cls.save(readings)
        cls.confirm(readings)
        return readings


class ReadingSheetStart(ModelView):
    "Reading Sheet"
    __name__ = 'water.reading.sheet.start'
    zone = fields.Many2One('water.zone', "Zone", required=True)
    route = fields.Char("Route",
        help="Leave empty for every route of the zone.")
    date = fields.Date("Date", required=True)

    @staticmethod
    def default_date():
        return Pool().get('ir.date').today()


class ReadingSheet(Wizard):
    """Reading Sheet

    Create the draft readings of a zone's active subscriptions in route
    order and open them as an editable sheet"""
    __name__ = 'water.reading.sheet'
    start = StateView('water.reading.sheet.start',
        'water_billing.reading_sheet_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Open", 'open_', 'tryton-ok', default=True),
            ])
    open_ = StateAction('water_billing.act_reading_sheet')

    def do_open_(self, action):
        pool = Pool()
        Subscription = pool.get('water.subscription')
        Reading = pool.get('water.reading')
        domain = [
            ('state', '=', 'active'),
            ('connection.parcel.zone', '=', self.start.zone.id),
            ('connection.meter', '!=', None),
            ]
        if self.start.route:
            domain.append(
                ('connection.reading_route', '=', self.start.route))
        subscriptions = Subscription.search(domain)
        existing = {r.subscription for r in Reading.search([
                    ('subscription', 'in', [s.id for s in subscriptions]),
                    ('date', '=', self.start.date),
                    ])}
        readings = [Reading(subscription=s, meter=s.meter,
                date=self.start.date, kind='reader', company=s.company)
            for s in subscriptions if s not in existing]
        Reading.save(readings)
        readings = Reading.search([
                ('subscription', 'in', [s.id for s in subscriptions]),
                ('date', '=', self.start.date),
                ])
        action['name'] += f' - {self.start.zone.rec_name}'
        action['pyson_domain'] = PYSONEncoder().encode(
            [('id', 'in', [r.id for r in readings])])
        action['pyson_order'] = PYSONEncoder().encode([
                ('subscription.connection.reading_route', 'ASC'),
                ('subscription.connection.reading_sequence', 'ASC'),
                ('subscription.number', 'ASC'),
                ])
        return action, {}
