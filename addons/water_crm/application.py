# This file is part of the water utility modules.
"""New-connection applications: the request of an applicant with its
documents, reviewed by an expert, invoiced, paid and installed, which ends
in a connection, a meter and a subscription."""
import datetime as dt

from trytond.exceptions import UserError
from trytond.i18n import gettext
from trytond.model import (
    Index, ModelSQL, ModelView, Unique, Workflow, fields)
from trytond.model.exceptions import AccessError
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval, Id, If
from trytond.transaction import Transaction, without_check_access

from . import validators
from .common import (
    JalaliDate, JalaliMixin, NormalizeMixin, company_timezone, format_datetime,
    local_datetime)
from .connection import DIAMETERS

DOCUMENTS = [
    ('national_card', "National Card"),
    ('birth_certificate', "Birth Certificate"),
    ('purchase_document', "Purchase Document"),
    ('deed', "Deed"),
    ('building_permit', "Building Permit"),
    ('other', "Other"),
    ]
STATES = [
    ('draft', "Draft"),
    ('submitted', "Submitted"),
    ('review', "Under Review"),
    ('documents', "Documents Requested"),
    ('approved', "Approved"),
    ('invoiced', "Invoiced"),
    ('paid', "Paid"),
    ('scheduled', "Installation Scheduled"),
    ('installed', "Installed"),
    ('done', "Done"),
    ('rejected', "Rejected"),
    ('cancelled', "Cancelled"),
    ]


class ApplicationError(UserError):
    pass


class Configuration(metaclass=PoolMeta):
    __name__ = 'water.configuration'
    application_sequence = fields.Many2One(
        'ir.sequence', "Application Sequence", required=True,
        domain=[
            ('company', 'in',
                [Eval('context', {}).get('company', -1), None]),
            ('sequence_type', '=',
                Id('water_crm', 'sequence_type_application')),
            ],
        help="Gives the tracking codes of the applications.")

    @classmethod
    def default_application_sequence(cls):
        try:
            return Pool().get('ir.model.data').get_id(
                'water_crm', 'sequence_application')
        except KeyError:
            # the column is added before the sequence's record is loaded
            return None


class Application(
        JalaliMixin, NormalizeMixin, Workflow, ModelSQL, ModelView):
    "Connection Application"
    __name__ = 'water.application'
    _rec_name = 'number'
    _normalize_text = (
        'first_name', 'last_name', 'father_name', 'birth_certificate_number',
        'parcel_number')
    _validators = {
        'national_code': validators.national_code,
        'mobile': validators.mobile,
        'phone': validators.phone,
        'postal_code': validators.postal_code,
        'email': validators.email,
        }
    _applicant = {'readonly': ~Eval('state').in_(['draft', 'submitted'])}
    _technical = {
        'readonly': ~Eval('state').in_(['submitted', 'review', 'documents']),
        }

    number = fields.Char("Tracking Code", readonly=True,
        help="The code the applicant follows his application with.")
    company = fields.Many2One('company.company', "Company", required=True,
        states={'readonly': Eval('state') != 'draft'})
    request_date = fields.Date("Request Date", required=True,
        states=_applicant)
    request_date_jalali = JalaliDate("Request Date (Jalali)")
    party = fields.Many2One('party.party', "Applicant", required=True,
        ondelete='RESTRICT', states=_applicant,
        context={'company': Eval('company', -1)}, depends={'company'},
        help="The person who applies; he becomes the subscriber.")
    first_name = fields.Char("First Name", required=True, states=_applicant)
    last_name = fields.Char("Last Name", required=True, states=_applicant)
    father_name = fields.Char("Father's Name", states=_applicant)
    birth_certificate_number = fields.Char(
        "Birth Certificate Number", states=_applicant)
    national_code = fields.Char("National Code", size=10, required=True,
        states=_applicant)
    phone = fields.Char("Phone", required=True, states=_applicant)
    mobile = fields.Char("Mobile", required=True, states=_applicant,
        help="Each step of the application is sent there by SMS.")
    email = fields.Char("E-Mail", states=_applicant)
    address = fields.Text("Permanent Address", required=True,
        states=_applicant)
    postal_code = fields.Char("Postal Code", size=10, states=_applicant)
    description = fields.Text("Description", states=_applicant)

    zone = fields.Many2One('water.zone', "Zone", required=True,
        ondelete='RESTRICT', states=_technical,
        domain=[('company', '=', Eval('company', -1))])
    parcel_number = fields.Char("Parcel Number", states=_technical,
        help="The parcel concerned, as the applicant names it.")
    parcel = fields.Many2One('water.parcel', "Parcel", ondelete='RESTRICT',
        states={
            'readonly': _technical['readonly'],
            'required': Eval('state').in_(
                ['approved', 'invoiced', 'paid', 'scheduled', 'installed',
                    'done']),
            },
        domain=[
            ('company', '=', Eval('company', -1)),
            ('zone', '=', Eval('zone', -1)),
            ])
    usage = fields.Many2One('water.usage', "Usage", required=True,
        ondelete='RESTRICT', states=_technical)
    housing_units = fields.Integer("Housing Units", required=True,
        states=_technical, domain=[('housing_units', '>=', 1)])
    diameter = fields.Selection(DIAMETERS, "Diameter", required=True,
        states=_technical)
    sewer = fields.Boolean("Sewer", states=_technical,
        help="The premise is to be connected to the sewer network.")

    expert = fields.Many2One('res.user', "Expert", ondelete='RESTRICT',
        states={
            'readonly': ~Eval('state').in_(['submitted', 'review']),
            'required': Eval('state').in_(['review', 'documents']),
            },
        help="The member of staff who reviews the application.")
    requested_documents = fields.MultiSelection(
        DOCUMENTS, "Requested Documents",
        states={'readonly': ~Eval('state').in_(['review', 'documents'])},
        help="The documents the applicant is asked to send.")
    note = fields.Text("Note to the Applicant",
        states={'readonly': Eval('state').in_(
                    ['done', 'rejected', 'cancelled'])},
        help="Shown to the applicant on the portal and sent with the "
        "request for documents.")
    reason = fields.Text("Reason",
        states={'readonly': Eval('state').in_(['rejected', 'cancelled'])},
        help="Why the application is rejected or cancelled; "
        "the applicant is told.")
    internal_note = fields.Text("Internal Note",
        help="Seen by the staff only.")

    installation_date = fields.Date("Installation Date",
        states={
            'readonly': ~Eval('state').in_(['paid', 'scheduled']),
            'required': Eval('state').in_(['scheduled', 'installed', 'done']),
            })
    installation_date_jalali = JalaliDate("Installation Date (Jalali)")
    meter_serial = fields.Char("Meter Serial Number",
        states={
            'readonly': ~Eval('state').in_(['paid', 'scheduled']),
            'required': Eval('state').in_(['installed', 'done']),
            })
    meter_digits = fields.Integer("Meter Digits",
        states={'readonly': ~Eval('state').in_(['paid', 'scheduled'])},
        domain=['OR',
            ('meter_digits', '=', None),
            ('meter_digits', '>=', 1)])
    initial_reading = fields.Integer("Initial Reading",
        states={'readonly': ~Eval('state').in_(['paid', 'scheduled'])},
        domain=['OR',
            ('initial_reading', '=', None),
            ('initial_reading', '>=', 0)])
    connection = fields.Many2One('water.connection', "Connection",
        readonly=True, ondelete='RESTRICT')
    meter = fields.Many2One('water.meter', "Meter", readonly=True,
        ondelete='RESTRICT')
    subscription = fields.Many2One('water.subscription', "Subscription",
        readonly=True, ondelete='RESTRICT')

    documents = fields.One2Many('ir.attachment', 'resource', "Documents",
        order=[('create_date', 'ASC'), ('id', 'ASC')])
    logs = fields.One2Many('water.application.log', 'application', "History",
        readonly=True, order=[('date', 'ASC'), ('id', 'ASC')])
    state = fields.Selection(STATES, "State", readonly=True, required=True,
        sort=False)
    del _applicant, _technical

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('number_unique', Unique(t, t.company, t.number),
                'water_crm.msg_application_number_unique'),
            ]
        cls._sql_indexes.add(Index(t,
                (t.state, Index.Equality(cardinality='low')),
                where=t.state.in_(['submitted', 'review', 'documents'])))
        cls._order = [('request_date', 'DESC'), ('id', 'DESC')]
        cls._transitions |= {
            ('draft', 'submitted'),
            ('submitted', 'review'),
            ('review', 'documents'),
            ('documents', 'review'),
            ('review', 'approved'),
            ('approved', 'invoiced'),
            ('invoiced', 'paid'),
            ('paid', 'scheduled'),
            ('scheduled', 'installed'),
            ('installed', 'done'),
            ('submitted', 'rejected'),
            ('review', 'rejected'),
            ('documents', 'rejected'),
            ('draft', 'cancelled'),
            ('submitted', 'cancelled'),
            ('review', 'cancelled'),
            ('documents', 'cancelled'),
            ('approved', 'cancelled'),
            ('invoiced', 'cancelled'),
            }
        cls._buttons.update({
                'submit': {
                    'invisible': Eval('state') != 'draft',
                    'depends': ['state'],
                    },
                'review': {
                    'invisible': ~Eval('state').in_(
                        ['submitted', 'documents']),
                    'icon': If(Eval('state') == 'submitted',
                        'tryton-forward', 'tryton-back'),
                    'depends': ['state'],
                    },
                'request_documents': {
                    'invisible': Eval('state') != 'review',
                    'depends': ['state'],
                    },
                'approve': {
                    'invisible': Eval('state') != 'review',
                    'depends': ['state'],
                    },
                'schedule': {
                    'invisible': Eval('state') != 'paid',
                    'depends': ['state'],
                    },
                'install': {
                    'invisible': Eval('state') != 'scheduled',
                    'depends': ['state'],
                    },
                'done': {
                    'invisible': Eval('state') != 'installed',
                    'depends': ['state'],
                    },
                'reject': {
                    'invisible': ~Eval('state').in_(
                        ['submitted', 'review', 'documents']),
                    'depends': ['state'],
                    },
                'cancel': {
                    'invisible': ~Eval('state').in_(
                        ['draft', 'submitted', 'review', 'documents',
                            'approved', 'invoiced']),
                    'depends': ['state'],
                    },
                })

    @staticmethod
    def default_company():
        return Transaction().context.get('company')

    @staticmethod
    def default_state():
        return 'draft'

    @classmethod
    def default_request_date(cls):
        return Pool().get('ir.date').today()

    @staticmethod
    def default_housing_units():
        return 1

    @staticmethod
    def default_diameter():
        return '1/2'

    @fields.depends('party', 'first_name', 'last_name', 'national_code',
        'mobile', 'phone', 'email', 'father_name',
        'birth_certificate_number')
    def on_change_party(self):
        "Fill the applicant's details that are empty from the party"
        party = self.party
        if not party:
            return
        for name, value in [
                ('national_code', party.national_code),
                ('father_name', party.father_name),
                ('birth_certificate_number', party.birth_certificate_number),
                ('mobile', party.mobile),
                ('phone', party.phone),
                ('email', party.email),
                ]:
            if not getattr(self, name) and value:
                setattr(self, name, value)
        if not self.first_name and not self.last_name and party.name:
            first, _, last = party.name.partition(' ')
            self.first_name, self.last_name = first, last or None

    @property
    def applicant_name(self):
        return ' '.join(filter(None, [self.first_name, self.last_name]))

    def get_rec_name(self, name):
        if self.number:
            return f'{self.number} ({self.applicant_name})'
        return self.applicant_name

    @classmethod
    def search_rec_name(cls, name, clause):
        _, operator, operand, *extra = clause
        if operator.startswith('!') or operator.startswith('not '):
            bool_op = 'AND'
        else:
            bool_op = 'OR'
        return [bool_op,
            ('number', operator, operand, *extra),
            ('first_name', operator, operand, *extra),
            ('last_name', operator, operand, *extra),
            ('national_code', operator, operand, *extra),
            ('mobile', operator, operand, *extra),
            ]

    @classmethod
    def copy(cls, applications, default=None):
        default = default.copy() if default is not None else {}
        for name in ['number', 'expert', 'connection', 'meter',
                'subscription', 'installation_date', 'meter_serial',
                'reason', 'note', 'requested_documents', 'documents',
                'logs']:
            default.setdefault(name)
        default.setdefault('request_date', cls.default_request_date())
        return super().copy(applications, default=default)

    @classmethod
    def check_modification(
            cls, mode, applications, values=None, external=False):
        super().check_modification(
            mode, applications, values=values, external=external)
        if mode == 'delete':
            for application in applications:
                if application.state not in {'draft', 'cancelled'}:
                    raise AccessError(gettext(
                            'water_crm.msg_application_delete',
                            application=application.rec_name))

    @classmethod
    def set_number(cls, applications):
        "Give a tracking code to the applications without one"
        Configuration = Pool().get('water.configuration')
        sequence = Configuration(1).application_sequence
        to_write = []
        for application in applications:
            if not application.number:
                to_write.extend(([application], {'number': sequence.get()}))
        if to_write:
            cls.write(*to_write)

    # Each step is logged and told to the applicant by SMS

    @classmethod
    def log_step(cls, applications, action, note=None, applicant=False):
        "Keep who did action and when on the applications"
        Log = Pool().get('water.application.log')
        transaction = Transaction()
        user = transaction.user
        applicant = applicant or bool(
            transaction.context.get('water_applicant'))
        with without_check_access():
            Log.create([{
                        'application': a.id,
                        'action': action,
                        'note': note,
                        'user': None if applicant or not user else user,
                        'applicant': applicant,
                        } for a in applications])

    def sms_values(self):
        "The values the SMS templates of the application may use"
        return {
            'name': self.applicant_name,
            'number': self.number or '',
            'reason': self.reason or '',
            'note': self.note or '',
            'installation_date': self.installation_date,
            'subscription': (
                self.subscription.number if self.subscription else ''),
            }

    @classmethod
    def notify(cls, applications, step, **values):
        "Send the SMS of the template application_<step> to the applicants"
        Template = Pool().get('water.sms.template')
        for application in applications:
            with without_check_access():
                Template.send('application_' + step, application.mobile,
                    party=application.party, origin=application,
                    **{**application.sms_values(), **values})

    @classmethod
    def _step(cls, applications, action, note=None):
        cls.log_step(applications, action, note=note)
        cls.notify(applications, action)

    @classmethod
    @ModelView.button
    @Workflow.transition('submitted')
    def submit(cls, applications):
        cls.set_number(applications)
        cls._step(applications, 'submitted')

    @classmethod
    @ModelView.button
    @Workflow.transition('review')
    def review(cls, applications):
        "Take the applications for review, by default by oneself"
        user = Transaction().user
        to_write = []
        for application in applications:
            if not application.expert and user:
                to_write.extend(([application], {'expert': user}))
        if to_write:
            cls.write(*to_write)
        cls._step(applications, 'review')

    @classmethod
    @ModelView.button
    @Workflow.transition('documents')
    def request_documents(cls, applications):
        for application in applications:
            if not application.note and not application.requested_documents:
                raise ApplicationError(gettext(
                        'water_crm.msg_application_documents_note',
                        application=application.rec_name))
        for application in applications:
            cls._step([application], 'documents', note=application.note)

    @classmethod
    def documents_sent(cls, applications):
        """The applicant sent documents: applications waiting for them go
        back to review"""
        cls.log_step(applications, 'documents_sent', applicant=True)
        waiting = [a for a in applications if a.state == 'documents']
        if waiting:
            cls.write(waiting, {'state': 'review'})

    @classmethod
    @ModelView.button
    @Workflow.transition('approved')
    def approve(cls, applications):
        for application in applications:
            if not application.parcel:
                raise ApplicationError(gettext(
                        'water_crm.msg_application_approve_parcel',
                        application=application.rec_name))
        cls._step(applications, 'approved')

    @classmethod
    @Workflow.transition('invoiced')
    def invoice(cls, applications):
        "The connection-sale invoice is issued (water_billing)"
        cls.log_step(applications, 'invoiced')

    @classmethod
    @Workflow.transition('paid')
    def pay(cls, applications):
        "The connection-sale invoice is paid"
        cls._step(applications, 'paid')

    @classmethod
    @ModelView.button
    @Workflow.transition('scheduled')
    def schedule(cls, applications):
        for application in applications:
            if not application.installation_date:
                raise ApplicationError(gettext(
                        'water_crm.msg_application_installation_date',
                        application=application.rec_name))
        cls._step(applications, 'scheduled')

    @classmethod
    @ModelView.button
    @Workflow.transition('installed')
    def install(cls, applications):
        """Create the connection, its meter and the subscription of each
        application"""
        if not applications:
            return
        for application in applications:
            if not application.meter_serial:
                raise ApplicationError(gettext(
                        'water_crm.msg_application_meter_serial',
                        application=application.rec_name))
        with without_check_access():
            connections, meters, subscriptions = cls._install(applications)
        to_write = []
        for application, connection, meter, subscription in zip(
                applications, connections, meters, subscriptions):
            to_write.extend(([application], {
                        'connection': connection.id,
                        'meter': meter.id,
                        'subscription': subscription.id,
                        }))
        cls.write(*to_write)
        cls._step(applications, 'installed')

    @classmethod
    def _install(cls, applications):
        pool = Pool()
        Connection = pool.get('water.connection')
        Meter = pool.get('water.meter')
        Installation = pool.get('water.meter.installation')
        Subscription = pool.get('water.subscription')
        connections = Connection.create([
                a._connection_values() for a in applications])
        meters = Meter.create([a._meter_values() for a in applications])
        Installation.create([{
                    'meter': m.id,
                    'connection': c.id,
                    'install_date': a.installation_date,
                    'initial_reading': a.initial_reading or 0,
                    } for a, c, m in zip(applications, connections, meters)])
        Connection.activate(connections)
        subscriptions = Subscription.create([{
                    'party': a.party.id,
                    'connection': c.id,
                    'company': a.company.id,
                    'start_date': a.installation_date,
                    } for a, c in zip(applications, connections)])
        return connections, meters, subscriptions

    def _connection_values(self):
        return {
            'parcel': self.parcel.id,
            'company': self.company.id,
            'usage': self.usage.id,
            'diameter': self.diameter,
            'housing_units': self.housing_units,
            'sewer': self.sewer,
            'installation_date': self.installation_date,
            }

    def _meter_values(self):
        values = {
            'serial': self.meter_serial,
            'company': self.company.id,
            }
        if self.meter_digits:
            values['digits'] = self.meter_digits
        return values

    @classmethod
    @ModelView.button
    @Workflow.transition('done')
    def done(cls, applications):
        cls._step(applications, 'done')

    @classmethod
    def _check_reason(cls, applications):
        for application in applications:
            if not (application.reason or '').strip():
                raise ApplicationError(gettext(
                        'water_crm.msg_application_reason',
                        application=application.rec_name))

    @classmethod
    @ModelView.button
    @Workflow.transition('rejected')
    def reject(cls, applications):
        cls._check_reason(applications)
        for application in applications:
            cls._step([application], 'rejected', note=application.reason)

    @classmethod
    @ModelView.button
    @Workflow.transition('cancelled')
    def cancel(cls, applications):
        cls._check_reason(applications)
        for application in applications:
            cls._step([application], 'cancelled', note=application.reason)

    # The portal

    @classmethod
    def portal_applications(cls, party):
        "The applications of the party, the latest first"
        if not party:
            return []
        return cls.search([('party', '=', party.id)])

    @classmethod
    def portal_application(cls, party, application_id):
        "The application of that id if it is the party's, else None"
        if not party or not isinstance(application_id, int):
            return
        applications = cls.search([
                ('id', '=', application_id),
                ('party', '=', party.id),
                ], limit=1)
        return applications[0] if applications else None

    def portal_timeline(self):
        """The steps the applicant sees: (date and time in the company's
        zone, action, note)"""
        timezone = company_timezone(self.company)
        return [(local_datetime(log.date, timezone), log.action,
                log.portal_note)
            for log in self.logs if log.action in PUBLIC_ACTIONS]

    def portal_payable(self):
        """The invoice the applicant can pay now, or None (water_billing
        tells)"""
        return None


PUBLIC_ACTIONS = {
    'submitted', 'review', 'documents', 'documents_sent', 'approved',
    'invoiced', 'paid', 'scheduled', 'installed', 'done', 'rejected',
    'cancelled'}


class ApplicationLog(ModelSQL, ModelView):
    "Connection Application Log"
    __name__ = 'water.application.log'

    application = fields.Many2One('water.application', "Application",
        required=True, ondelete='CASCADE')
    date = fields.DateTime("Date", required=True, readonly=True)
    date_jalali = fields.Function(fields.Char("Date (Jalali)"),
        'get_date_jalali')
    user = fields.Many2One('res.user', "User", readonly=True,
        ondelete='SET NULL')
    applicant = fields.Boolean("By the Applicant", readonly=True)
    action = fields.Selection([
            ('submitted', "Submitted"),
            ('review', "Taken for Review"),
            ('documents', "Documents Requested"),
            ('documents_sent', "Documents Sent"),
            ('approved', "Approved"),
            ('invoiced', "Invoiced"),
            ('paid', "Paid"),
            ('scheduled', "Installation Scheduled"),
            ('installed', "Installed"),
            ('done', "Done"),
            ('rejected', "Rejected"),
            ('cancelled', "Cancelled"),
            ], "Action", readonly=True, required=True, sort=False)
    note = fields.Text("Note", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('application')
        cls._order = [('date', 'ASC'), ('id', 'ASC')]

    @staticmethod
    def default_date():
        return dt.datetime.now()

    @staticmethod
    def default_applicant():
        return False

    def get_date_jalali(self, name):
        return format_datetime(
            self.date, company_timezone(self.application.company))

    @property
    def portal_note(self):
        "The note the applicant may read"
        if self.action in {'documents', 'rejected', 'cancelled'}:
            return self.note
        return None

    @classmethod
    def check_modification(cls, mode, logs, values=None, external=False):
        super().check_modification(
            mode, logs, values=values, external=external)
        if mode in {'write', 'delete'} and external:
            raise AccessError(gettext('water_crm.msg_application_log_modify'))


class Attachment(metaclass=PoolMeta):
    __name__ = 'ir.attachment'

    application_document = fields.Selection(
        [(None, '')] + DOCUMENTS, "Application Document",
        help="The document of a connection application this file is.")


class Sms(metaclass=PoolMeta):
    __name__ = 'water.sms'

    @classmethod
    def _get_origin(cls):
        return super()._get_origin() + ['water.application']
