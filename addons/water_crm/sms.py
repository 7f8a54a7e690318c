# This file is part of the water utility modules.
import datetime as dt
import json
import logging
import re
from decimal import Decimal

from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, Index, ModelSQL, ModelView, Unique, Workflow, fields)
from trytond.model.exceptions import AccessError
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.transaction import Transaction

from . import jalali, sms_providers, validators
from .common import NormalizeMixin, company_timezone, format_datetime

logger = logging.getLogger(__name__)

PROVIDERS = [
    ('outbox', "Outbox"),
    ('kavenegar', "Kavenegar"),
    ('smsir', "SMS.ir"),
    ]
# How long delivery reports are asked for after sending
STATUS_PERIOD = dt.timedelta(days=3)
# How long the cron leaves a new message to its delivery task
TASK_GRACE = dt.timedelta(minutes=10)
# The most messages the cron sends in one run (one transaction)
CRON_BATCH = 100


class Configuration(metaclass=PoolMeta):
    __name__ = 'water.configuration'

    sms_provider = fields.Selection(PROVIDERS, "SMS Provider", required=True,
        help="The service that sends the SMS.\n"
        "The outbox only keeps them without sending.")
    sms_api_key = fields.Char("SMS API Key",
        states={
            'invisible': Eval('sms_provider') == 'outbox',
            'required': Eval('sms_provider') != 'outbox',
            })
    sms_sender = fields.Char("SMS Sender",
        states={
            'invisible': Eval('sms_provider') == 'outbox',
            'required': Eval('sms_provider') == 'smsir',
            },
        help="The sender number for Kavenegar (empty for the account's "
        "default) or the line number for SMS.ir.")
    sms_base_url = fields.Char("SMS Base URL",
        states={
            'invisible': Eval('sms_provider') == 'outbox',
            },
        help="Leave empty to use the provider's own address.")
    sms_max_attempts = fields.Integer("SMS Max Attempts", required=True,
        domain=[('sms_max_attempts', '>=', 1)],
        help="The number of tries after which an SMS that could not be "
        "sent is given up as failed.")

    @classmethod
    def default_sms_provider(cls):
        return 'outbox'

    @classmethod
    def default_sms_max_attempts(cls):
        return 5

    def get_sms_provider(self):
        "Return the client of the configured SMS provider"
        if self.sms_provider == 'kavenegar':
            return sms_providers.KavenegarProvider(
                self.sms_api_key, self.sms_sender, self.sms_base_url)
        elif self.sms_provider == 'smsir':
            return sms_providers.SmsIrProvider(
                self.sms_api_key, self.sms_sender, self.sms_base_url)
        return sms_providers.OutboxProvider()


class Sms(NormalizeMixin, Workflow, ModelSQL, ModelView):
    "SMS"
    __name__ = 'water.sms'
    _rec_name = 'mobile'
    _validators = {
        'mobile': validators.mobile,
        }
    _states = {
        'readonly': Eval('state').in_(['sent', 'delivered']),
        }

    mobile = fields.Char("Mobile", required=True, states=_states)
    body = fields.Text("Body", required=True, states=_states)
    party = fields.Many2One('party.party', "Party", states=_states)
    origin = fields.Reference("Origin", selection='get_origin',
        states=_states, help="The record that caused the SMS.")
    provider = fields.Selection([(None, '')] + PROVIDERS, "Provider",
        readonly=True, help="The provider of the last try.")
    state = fields.Selection([
            ('queued', "Queued"),
            ('sent', "Sent"),
            ('delivered', "Delivered"),
            ('failed', "Failed"),
            ('cancelled', "Cancelled"),
            ], "State", readonly=True, required=True, sort=False)
    attempts = fields.Integer("Attempts", readonly=True, required=True)
    next_attempt = fields.DateTime("Next Attempt", readonly=True)
    provider_message_id = fields.Char("Provider Message ID", readonly=True)
    error = fields.Text("Error", readonly=True)
    raw_request = fields.Text("Raw Request", readonly=True,
        help="The last request to the provider, without the API key.")
    raw_response = fields.Text("Raw Response", readonly=True,
        help="The last answer of the provider.")
    sent_date = fields.DateTime("Sent Date", readonly=True)
    create_date_jalali = fields.Function(
        fields.Char("Create Date (Jalali)"), 'get_jalali_datetime')
    sent_date_jalali = fields.Function(
        fields.Char("Sent Date (Jalali)"), 'get_jalali_datetime')
    del _states

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(
            Index(t,
                (t.state, Index.Equality(cardinality='low')),
                (t.next_attempt, Index.Range()),
                where=t.state.in_(['queued', 'sent'])))
        cls._order = [('create_date', 'DESC'), ('id', 'DESC')]
        cls._transitions |= {
            ('queued', 'cancelled'),
            ('failed', 'queued'),
            ('cancelled', 'queued'),
            }
        cls._buttons.update({
                'cancel': {
                    'invisible': Eval('state') != 'queued',
                    'depends': ['state'],
                    },
                'retry': {
                    'invisible': ~Eval('state').in_(['failed', 'cancelled']),
                    'depends': ['state'],
                    },
                })

    @classmethod
    def default_state(cls):
        return 'queued'

    @classmethod
    def default_attempts(cls):
        return 0

    @classmethod
    def default_next_attempt(cls):
        return dt.datetime.now()

    @classmethod
    def _get_origin(cls):
        "Return the models that can cause an SMS"
        return ['water.subscription']

    @classmethod
    def get_origin(cls):
        IrModel = Pool().get('ir.model')
        return [(None, '')] + [
            (m, IrModel.get_name(m)) for m in cls._get_origin()]

    @fields.depends('party', 'mobile')
    def on_change_party(self):
        if self.party and not self.mobile:
            mechanism = self.party.contact_mechanism_get('mobile')
            if mechanism:
                self.mobile = mechanism.value

    @classmethod
    def get_jalali_datetime(cls, messages, names):
        "Jalali date and time of the datetime fields in the company's zone"
        timezone = company_timezone()
        return {name: {
                m.id: format_datetime(
                    getattr(m, name[:-len('_jalali')]), timezone) or None
                for m in messages}
            for name in names}

    @classmethod
    def copy(cls, messages, default=None):
        if default is None:
            default = {}
        else:
            default = default.copy()
        for name in ['provider', 'provider_message_id', 'error',
                'raw_request', 'raw_response', 'sent_date', 'next_attempt']:
            default.setdefault(name)
        default.setdefault('state', cls.default_state())
        default.setdefault('attempts', cls.default_attempts())
        return super().copy(messages, default=default)

    @classmethod
    def create(cls, vlist):
        messages = super().create(vlist)
        if messages:
            cls.queue_delivery(messages)
        return messages

    @classmethod
    def queue_delivery(cls, messages):
        # a task per batch of the worker ([queue] batch_size): a task
        # stopped before its commit sends its batch again, not the SMS of
        # a whole bill run chunk
        with Transaction().set_context(queue_batch=True):
            cls.__queue__.deliver(messages)

    @classmethod
    def check_modification(cls, mode, messages, values=None, external=False):
        super().check_modification(
            mode, messages, values=values, external=external)
        if (mode == 'write'
                and values.keys() & {'mobile', 'body', 'party', 'origin'}):
            for message in messages:
                if message.state in {'sent', 'delivered'}:
                    raise AccessError(gettext(
                            'water_crm.msg_sms_modify_sent',
                            sms=message.rec_name))

    @classmethod
    def send(cls, messages):
        """Queue SMS and return them

        Each message is a dictionary with 'mobile', 'body' and optionally
        'party' and 'origin' (records or their ids, 'model,id' for the
        origin). The mobile is normalised; a wrong one raises a
        ValidationError. The messages are delivered by the task queue once
        the transaction is committed."""
        vlist = []
        for message in messages:
            values = {
                'mobile': message['mobile'],
                'body': message['body'],
                }
            if message.get('party') is not None:
                values['party'] = int(message['party'])
            if message.get('origin') is not None:
                values['origin'] = str(message['origin'])
            vlist.append(values)
        return cls.create(vlist)

    @classmethod
    def deliver(cls, messages):
        """Try to send the queued messages through the configured provider

        A message that fails is tried again later, with a delay that
        doubles each time, until the configured number of attempts; it
        fails at once when the provider refuses it for good."""
        pool = Pool()
        Configuration = pool.get('water.configuration')
        # Another worker or the cron may be delivering the same messages
        cls.lock(messages)
        messages = [m for m in messages if m.state == 'queued']
        if not messages:
            return
        configuration = Configuration(1)
        provider = configuration.get_sms_provider()
        to_write = []
        for message in messages:
            values = message._deliver(provider)
            values['provider'] = configuration.sms_provider
            if (values['state'] == 'queued'
                    and values['attempts'] >= configuration.sms_max_attempts):
                values['state'] = 'failed'
                values['next_attempt'] = None
            to_write.extend(([message], values))
        cls.write(*to_write)

    def _deliver(self, provider):
        "Send the message with provider and return the values to store"
        now = dt.datetime.now()
        attempts = self.attempts + 1
        values = {'attempts': attempts}
        try:
            result = provider.send(self.mobile, self.body)
        except Exception as exception:
            if isinstance(exception, sms_providers.ProviderError):
                logger.info("SMS %s not sent: %s", self.id, exception)
                raw, retryable = exception.raw, exception.retryable
            else:
                # The provider may have sent it: keep the other messages
                logger.exception("SMS %s failed unexpectedly", self.id)
                raw, retryable = {}, True
            values.update(_raw_values(raw))
            values['error'] = str(exception)
            if retryable:
                values['state'] = 'queued'
                values['next_attempt'] = (
                    now + sms_providers.retry_delay(attempts))
            else:
                values['state'] = 'failed'
                values['next_attempt'] = None
            return values
        status = result.status
        values.update(_raw_values(result.raw))
        values.update({
                'state': {
                    'accepted': 'sent',
                    'delivered': 'delivered',
                    'failed': 'failed',
                    }[status.state],
                'provider_message_id': result.message_id,
                'sent_date': now,
                'next_attempt': None,
                'error': (
                    f'[{status.code}] {status.message}'
                    if status.state == 'failed' else None),
                })
        return values

    @classmethod
    def deliver_queued(cls):
        """Deliver the queued messages that are due: the retries, and the
        new ones that their delivery task has left alone for a while (a
        worker down or behind), at most a batch per run, so that one
        transaction never holds a bill run's SMS"""
        now = dt.datetime.now()
        messages = cls.search([
                ('state', '=', 'queued'),
                ['OR',
                    ('next_attempt', '=', None),
                    ('next_attempt', '<=', now),
                    ],
                ['OR',
                    ('attempts', '>', 0),
                    ('create_date', '<', now - TASK_GRACE),
                    ],
                ], order=[('next_attempt', 'ASC'), ('id', 'ASC')],
            limit=CRON_BATCH)
        cls.deliver(messages)

    @classmethod
    def update_statuses(cls):
        """Ask the configured provider whether the messages it sent lately
        were delivered"""
        pool = Pool()
        Configuration = pool.get('water.configuration')
        configuration = Configuration(1)
        messages = cls.search([
                ('state', '=', 'sent'),
                ('provider', '=', configuration.sms_provider),
                ('provider_message_id', '!=', None),
                ('sent_date', '>=', dt.datetime.now() - STATUS_PERIOD),
                ])
        if not messages:
            return
        provider = configuration.get_sms_provider()
        try:
            statuses = provider.status(
                [m.provider_message_id for m in messages])
        except sms_providers.ProviderError as exception:
            logger.warning("SMS delivery reports failed: %s", exception)
            return
        to_write = []
        for message in messages:
            status = statuses.get(message.provider_message_id)
            if not status or status.state == 'accepted':
                continue
            values = {'state': status.state}
            if status.state == 'failed':
                values['error'] = f'[{status.code}] {status.message}'
            to_write.extend(([message], values))
        if to_write:
            cls.write(*to_write)

    @classmethod
    @ModelView.button
    @Workflow.transition('cancelled')
    def cancel(cls, messages):
        pass

    @classmethod
    @ModelView.button
    @Workflow.transition('queued')
    def retry(cls, messages):
        cls.write(messages, {
                'attempts': cls.default_attempts(),
                'next_attempt': cls.default_next_attempt(),
                'error': None,
                })
        cls.queue_delivery(messages)


def _raw_values(raw):
    "The raw exchange, already without the API key, as stored text"
    def dumps(value):
        if value is None:
            return None
        return json.dumps(value, ensure_ascii=False, indent=2)
    return {
        'raw_request': dumps(raw.get('request')),
        'raw_response': dumps(raw.get('response') or raw.get('error')),
        }


def format_value(value):
    """A value written for an SMS: numbers in Persian digits with
    separators, dates in the Jalali calendar and text as it is"""
    if value is None:
        return ''
    if isinstance(value, bool):
        return "بله" if value else "خیر"
    if isinstance(value, (int, Decimal, float)):
        if isinstance(value, int) or value == int(value):
            text = f'{int(value):,}'
        else:
            text = f'{value:,.2f}'.rstrip('0')
        return jalali.to_persian_digits(
            text.replace(',', '٬').replace('.', '٫'))
    if isinstance(value, (dt.date, dt.datetime)):
        return jalali.format_date(value, persian_digits=True)
    return str(value)


_PLACEHOLDER = re.compile(r'\{([A-Za-z_][A-Za-z0-9_]*)\}')


def render_body(body, values):
    """The text of body with each {name} replaced by its value; a
    placeholder without a value and any other brace are kept as written"""
    def replace(match):
        name = match.group(1)
        if name in values:
            return format_value(values[name])
        return match.group(0)
    return _PLACEHOLDER.sub(replace, body)


class SmsTemplate(DeactivableMixin, ModelSQL, ModelView):
    "SMS Template"
    __name__ = 'water.sms.template'

    code = fields.Char("Code", required=True, strip=False,
        help="The name by which the programs find the template.")
    name = fields.Char("Name", required=True, translate=True)
    body = fields.Text("Body", required=True,
        help="The Persian text of the SMS; {name} is replaced by the value "
        "of name, for example {amount}, {number} or {company_name}; "
        "numbers are written in Persian digits and dates in the Jalali "
        "calendar.")
    placeholders = fields.Char("Placeholders", readonly=True,
        help="The values the program gives to this template.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('code_unique', Unique(t, t.code),
                'water_crm.msg_sms_template_code_unique'),
            ]
        cls._order = [('code', 'ASC'), ('id', 'ASC')]

    @classmethod
    def _get(cls, code):
        with Transaction().set_context(active_test=False):
            templates = cls.search([('code', '=', code)], limit=1)
        return templates[0] if templates else None

    @classmethod
    def common_values(cls):
        "The values every template may use"
        pool = Pool()
        Company = pool.get('company.company')
        company_id = Transaction().context.get('company')
        values = {}
        if company_id is not None and company_id >= 0:
            values['company_name'] = Company(company_id).rec_name
        return values

    @classmethod
    def render(cls, code, **values):
        """Return the text of the template code with values, or None when
        the template does not exist or is not active"""
        template = cls._get(code)
        if not template or not template.active:
            return None
        return template.render_with(**values)

    def render_with(self, **values):
        return render_body(self.body, {**self.common_values(), **values})

    @classmethod
    def send(cls, code, mobile, party=None, origin=None, **values):
        """Queue the SMS of template code to mobile and return it

        Nothing is sent (and None is returned) when the template is not
        active or there is no mobile."""
        Sms = Pool().get('water.sms')
        body = cls.render(code, **values)
        if not body or not mobile:
            return None
        message = {'mobile': mobile, 'body': body}
        if party is not None:
            message['party'] = party
        if origin is not None:
            message['origin'] = origin
        sms, = Sms.send([message])
        return sms


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.extend([
                ('water.sms|deliver_queued', "Deliver Queued SMS"),
                ('water.sms|update_statuses', "Update SMS Delivery Reports"),
                ])
