# This file is part of the water utility modules.
"""One attempt to pay through a gateway: its own order id, the bank's
references, the states of lifecycle.py and the bank's messages (masked).

The browser's callback is only a hint: a transaction becomes verified
when the bank confirmed it server to server, and succeeded when the money
is in the accounts (account.payment water_receive). Each step runs with
the transaction's row locked, so a double callback, the cron and a
retried request act one after the other and pay once."""
import datetime as dt
import json
import logging

from sql import For, Literal

from trytond import backend
from trytond.exceptions import UserError, UserWarning
from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Unique, fields
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.transaction import Transaction, without_check_access

from . import lifecycle
from .gateways import GatewayError, RetryableError, Status

logger = logging.getLogger(__name__)

STATES = [
    (lifecycle.CREATED, "Created"),
    (lifecycle.REDIRECTED, "Redirected"),
    (lifecycle.RETURNED, "Returned"),
    (lifecycle.VERIFIED, "Verified"),
    (lifecycle.SUCCEEDED, "Succeeded"),
    (lifecycle.FAILED, "Failed"),
    (lifecycle.CANCELLED, "Cancelled"),
    (lifecycle.REVERSED, "Reversed"),
    (lifecycle.EXPIRED, "Expired"),
    ]
# Calls of a verify answered by a timeout or a server error, at once
ATTEMPTS = 3
# The cron leaves a transaction this long to its browser
GRACE = dt.timedelta(minutes=2)
PAID_STATUSES = {Status.SUCCESS, Status.ALREADY_VERIFIED}


class TransactionStateError(ValidationError):
    pass


def _now():
    return dt.datetime.now()


class GatewayTransaction(ModelSQL, ModelView):
    "Gateway Transaction"
    __name__ = 'water.payment.transaction'
    _rec_name = 'number'
    number = fields.Char("Order Number", required=True, readonly=True,
        help="The order id sent to the bank, unique to this attempt.")
    company = fields.Many2One('company.company', "Company", required=True,
        readonly=True)
    party = fields.Many2One('party.party', "Party", required=True,
        readonly=True, context={'company': Eval('company', -1)},
        depends={'company'})
    gateway = fields.Many2One('water.payment.gateway', "Gateway",
        required=True, readonly=True)
    provider = fields.Function(fields.Selection('get_providers',
            "Provider"), 'on_change_with_provider')
    amount = fields.Numeric("Amount", digits=(16, 0), required=True,
        readonly=True, domain=[('amount', '>', 0)])
    bill = fields.Many2One('water.bill', "Bill", readonly=True,
        domain=[('party', '=', Eval('party', -1))])
    invoice = fields.Many2One('account.invoice', "Invoice", readonly=True,
        domain=[('party', '=', Eval('party', -1))])
    state = fields.Selection(STATES, "State", required=True, readonly=True,
        sort=False)
    token = fields.Char("Token", readonly=True,
        help="The bank's handle of the payment (Sadad Token, Mellat RefId, "
        "Zarinpal Authority).")
    rrn = fields.Char("Reference Number", readonly=True,
        help="The retrieval reference number (RRN) of the bank.")
    trace_number = fields.Char("Trace Number", readonly=True)
    sale_reference_id = fields.Char("Sale Reference", readonly=True)
    card_pan = fields.Char("Card", readonly=True,
        help="The card number as the bank masked it.")
    message = fields.Char("Message", readonly=True,
        help="The bank's last word on the transaction.")
    review = fields.Boolean("To Review", readonly=True,
        help="The bank may hold money of this transaction that is not in "
        "the accounts: check it with the bank.")
    redirected_at = fields.DateTime("Redirected At", readonly=True)
    returned_at = fields.DateTime("Returned At", readonly=True)
    verified_at = fields.DateTime("Verified At", readonly=True)
    done_at = fields.DateTime("Done At", readonly=True)
    deadline = fields.Function(fields.DateTime("Verify Deadline"),
        'get_deadline')
    logs = fields.One2Many('water.payment.transaction.log', 'transaction',
        "Messages", readonly=True)
    payments = fields.Function(fields.Many2Many('account.payment', None,
            None, "Payments"), 'get_payments')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('number_unique', Unique(t, t.number),
                'water_payment_gateway.msg_transaction_number_unique'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.state, Index.Equality()),
                    where=t.state.in_(list(lifecycle.PENDING)
                        + [lifecycle.VERIFIED])),
                Index(t, (t.party, Index.Range())),
                })
        cls._order.insert(0, ('id', 'DESC'))
        cls._buttons.update({
                'mark_reviewed': {
                    'invisible': ~Eval('review', False),
                    'depends': ['review'],
                    },
                })

    @staticmethod
    def default_state():
        return lifecycle.CREATED

    @staticmethod
    def default_review():
        return False

    @staticmethod
    def default_company():
        return Transaction().context.get('company')

    @classmethod
    def get_providers(cls):
        Gateway = Pool().get('water.payment.gateway')
        return Gateway.fields_get(['provider'])['provider']['selection']

    @fields.depends('gateway')
    def on_change_with_provider(self, name=None):
        return self.gateway.provider if self.gateway else None

    def get_deadline(self, name):
        start = self.redirected_at or self.create_date
        if start:
            return (start + self.gateway.window).replace(microsecond=0)

    @classmethod
    def get_payments(cls, transactions, name):
        Payment = Pool().get('account.payment')
        result = {t.id: [] for t in transactions}
        payments = Payment.search([
                ('reference', 'in', [t.number for t in transactions]),
                ('kind', '=', 'receivable'),
                ])
        by_key = {(t.gateway.journal.id, t.number): t.id
            for t in transactions}
        for payment in payments:
            key = (payment.journal.id, payment.reference)
            if key in by_key:
                result[by_key[key]].append(payment.id)
        return result

    @property
    def bank_order(self):
        return int(self.number)

    @classmethod
    def preprocess_values(cls, mode, values):
        pool = Pool()
        ModelData = pool.get('ir.model.data')
        Sequence = pool.get('ir.sequence')
        values = super().preprocess_values(mode, values)
        if mode == 'create' and not values.get('number'):
            values['number'] = Sequence(ModelData.get_id(
                    'water_payment_gateway', 'sequence_transaction')).get()
        return values

    @classmethod
    def validate_fields(cls, transactions, field_names):
        super().validate_fields(transactions, field_names)
        if field_names is None or 'number' in field_names:
            for transaction in transactions:
                if not (transaction.number.isdigit()
                        and 0 < int(transaction.number) < 2 ** 63):
                    raise TransactionStateError(gettext(
                            'water_payment_gateway.msg_transaction_number',
                            number=transaction.number))

    @classmethod
    def check_modification(cls, mode, transactions, values=None,
            external=False):
        super().check_modification(mode, transactions, values=values,
            external=external)
        if mode == 'delete':
            for transaction in transactions:
                if transaction.state != lifecycle.CREATED:
                    raise TransactionStateError(gettext(
                            'water_payment_gateway'
                            '.msg_transaction_delete',
                            transaction=transaction.rec_name))

    # State

    def set_state(self, state, **values):
        """Move to state with values, refused unless lifecycle allows it;
        saved at once"""
        if state != self.state and not lifecycle.allowed(self.state, state):
            raise TransactionStateError(gettext(
                    'water_payment_gateway.msg_transaction_transition',
                    transaction=self.rec_name, source=self.state,
                    target=state))
        now = _now()
        stamps = {
            lifecycle.REDIRECTED: 'redirected_at',
            lifecycle.RETURNED: 'returned_at',
            lifecycle.VERIFIED: 'verified_at',
            }
        if state in stamps:
            values.setdefault(stamps[state], now)
        elif state in lifecycle.FINAL:
            values.setdefault('done_at', now)
        self.__class__.write([self], dict(values, state=state))

    def log_bank(self, step, code=None, message=None, raw=None):
        "Keep a message of the bank (already masked by the client)"
        Log = Pool().get('water.payment.transaction.log')
        Log.create([{
                    'transaction': self.id,
                    'step': step,
                    'code': str(code) if code is not None else None,
                    'message': message,
                    'raw': (json.dumps(raw, ensure_ascii=False, default=str,
                            sort_keys=True) if raw else None),
                    }])

    def log_error(self, step, error):
        logger.info("gateway transaction %s %s: %s", self.number, step,
            error)
        self.log_bank(step, error.code, error.message, error.raw)

    @classmethod
    def lock_rows(cls, transactions):
        """Wait for and take the rows of transactions for the rest of the
        database transaction; a row changed meanwhile makes PostgreSQL
        raise a serialisation error, and the caller's retry starts again
        with fresh values"""
        if backend.name != 'postgresql' or not transactions:
            # SQLite writes one transaction at a time
            return
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.select(Literal(1),
                where=table.id.in_([t.id for t in transactions]),
                for_=For('UPDATE')))

    # Steps

    @classmethod
    def create_payment(cls, party, gateway, amount, bill=None, invoice=None):
        """A new transaction to pay amount for bill or invoice; committed
        by the caller before the bank hears of it"""
        transaction, = cls.create([{
                    'company': gateway.company.id,
                    'party': party.id,
                    'gateway': gateway.id,
                    'amount': amount,
                    'bill': bill.id if bill else None,
                    'invoice': (invoice.id if invoice
                        else bill.invoice.id if bill and bill.invoice
                        else None),
                    }])
        return transaction

    def description(self):
        if self.bill:
            return gettext('water_payment_gateway.msg_description_bill',
                subscription=self.bill.subscription.number,
                number=self.number)
        return gettext('water_payment_gateway.msg_description_invoice',
            invoice=self.invoice.number if self.invoice else '',
            number=self.number)

    def request(self):
        """Ask the bank for a token: the redirect of the browser, or None
        when the bank refused (the transaction failed)"""
        client = self.gateway.client()
        amount = int(self.amount)
        url = self.gateway.callback_url(self)
        try:
            if self.provider == 'zarinpal':
                mechanism = self.party.contact_mechanism_get('mobile')
                redirect = client.request_payment(self.bank_order, amount, url,
                    self.description(),
                    mobile=mechanism.value if mechanism else None)
            else:
                redirect = client.request_payment(self.bank_order, amount, url)
        except GatewayError as error:
            self.log_error('request', error)
            # without a token nobody can pay it
            self.set_state(lifecycle.FAILED, message=error.message)
            return None
        self.log_bank('request', message=redirect.url, raw={
                'token': redirect.token,
                'method': redirect.method,
                'fields': redirect.fields,
                })
        self.set_state(lifecycle.REDIRECTED, token=redirect.token)
        return redirect

    def callback(self, fields):
        """Handle the fields the browser brought back from the bank: a
        success is verified with the bank, anything else ends it.
        Return False when the callback is not this transaction's."""
        client = self.gateway.client()
        try:
            result = client.parse_callback(fields, amount=int(self.amount))
        except GatewayError as error:
            self.log_error('callback', error)
            return False
        if (result.token != self.token
                or (result.order_id is not None
                    and result.order_id != self.bank_order)):
            # the manuals: never verify what is not ours
            self.log_bank('callback', result.code,
                gettext('water_payment_gateway.msg_callback_mismatch'),
                result.raw)
            return False
        self.log_bank('callback', result.code, result.message, result.raw)
        if self.state not in {lifecycle.REDIRECTED, lifecycle.RETURNED}:
            # a replay or a second callback: the first one decided
            return True
        values = {}
        if result.card_pan:
            values['card_pan'] = result.card_pan
        if result.sale_reference_id:
            values['sale_reference_id'] = result.sale_reference_id
        if result.status == Status.PENDING:
            self.set_state(lifecycle.RETURNED, **values)
            if result.amount_mismatch:
                # paid another amount than asked: give it back
                self.reverse(gettext(
                        'water_payment_gateway.msg_amount_mismatch',
                        amount=result.amount, expected=int(self.amount)))
            else:
                self.verify()
        elif result.status == Status.CANCELLED:
            self.set_state(lifecycle.CANCELLED, message=result.message,
                **values)
        else:
            self.set_state(lifecycle.FAILED, message=result.message,
                **values)
        return True

    def _call(self, step, call, *args):
        """The result of a call to the bank, repeated on timeouts and
        server errors; None when it never answered, False when it refused
        the call"""
        for attempt in range(ATTEMPTS):
            try:
                return call(*args)
            except RetryableError as error:
                self.log_error(step, error)
            except GatewayError as error:
                self.log_error(step, error)
                self.write([self], {'message': error.message})
                return False
        return None

    def verify(self):
        """Confirm the payment with the bank (Mellat: verify and settle);
        a transaction the bank did not answer for stays as it is, for the
        cron to try again"""
        getattr(self, f'_verify_{self.provider}')()

    def _verified(self, result, step='verify', **values):
        self.log_bank(step, result.code, result.message, result.raw)
        for name in ['rrn', 'trace_number', 'card_pan']:
            value = getattr(result, name)
            if value:
                values.setdefault(name, value)
        self.set_state(lifecycle.VERIFIED, message=result.message, **values)

    def _verify_sadad(self):
        client = self.gateway.client()
        result = self._call('verify', client.verify, self.token,
            int(self.amount))
        if not result:
            return
        if result.status in PAID_STATUSES:
            if (result.amount_mismatch
                    or (result.order_id is not None
                        and result.order_id != self.bank_order)):
                # Sadad has no reversal: the money is the company's now
                message = gettext(
                    'water_payment_gateway.msg_verify_mismatch',
                    amount=result.amount, expected=int(self.amount),
                    order=result.order_id)
                self.log_bank('verify', result.code, message, result.raw)
                self.set_state(lifecycle.FAILED, message=message,
                    review=True, rrn=result.rrn,
                    trace_number=result.trace_number)
            else:
                self._verified(result)
        else:
            self.log_bank('verify', result.code, result.message, result.raw)
            self.set_state(lifecycle.EXPIRED, message=result.message)

    def _verify_mellat(self):
        if not self.sale_reference_id:
            # only the callback tells the sale reference
            return
        client = self.gateway.client()
        args = (self.bank_order, self.sale_reference_id)
        step = 'verify'
        result = self._call(step, client.verify, *args)
        if result is None:
            # the manual: ask what became of the verify, and give the money
            # back when even that is not known
            step = 'inquiry'
            result = self._call(step, client.inquiry, *args)
            if result is None:
                self.reverse(gettext(
                        'water_payment_gateway.msg_mellat_unknown'),
                    review=False)
                return
        if not result or result.status == Status.PENDING:
            # refused, or not verified yet: the cron verifies again
            return
        self.log_bank(step, result.code, result.message, result.raw)
        if result.status not in PAID_STATUSES:
            state = (lifecycle.REVERSED if result.code == '48'
                else lifecycle.FAILED)
            self.set_state(state, message=result.message)
            return
        settle = self._call('settle', client.settle, *args)
        if not settle:
            # verified at the bank, not settled: the cron settles it
            return
        if settle.status in PAID_STATUSES:
            self._verified(settle, 'settle', rrn=self.sale_reference_id)
        else:
            self.log_bank('settle', settle.code, settle.message, settle.raw)
            self.reverse(settle.message)

    def _verify_zarinpal(self):
        client = self.gateway.client()
        result = self._call('verify', client.verify, self.token,
            int(self.amount))
        if not result:
            return
        if result.status in PAID_STATUSES:
            self._verified(result)
        else:
            # never verified, Zarinpal gives the money back
            self.log_bank('verify', result.code, result.message, result.raw)
            self.set_state(lifecycle.FAILED, message=result.message)

    def reverse(self, message, review=True):
        """Give the money of a payment that cannot be accepted back to the
        cardholder where the protocol can (Mellat); else keep it for the
        staff to review, or with review False for the cron to try again"""
        if self.provider == 'mellat' and self.sale_reference_id:
            client = self.gateway.client()
            result = self._call('reversal', client.reversal,
                self.bank_order, self.sale_reference_id)
            if result:
                self.log_bank('reversal', result.code, result.message,
                    result.raw)
                self.set_state(lifecycle.REVERSED, message=message)
                return
        if review:
            self.set_state(lifecycle.FAILED, message=message, review=True)

    def post(self):
        """Record the verified money as payments of the bill or invoice
        (cleared, the invoices paid, the paid SMS sent)"""
        pool = Pool()
        Payment = pool.get('account.payment')
        Date = pool.get('ir.date')
        if self.state != lifecycle.VERIFIED:
            return
        journal = self.gateway.journal
        with Transaction().set_context(company=self.company.id):
            date = Date.today()
        if self.bill:
            self.bill.receive(journal, self.amount, date, self.number)
        else:
            lines = []
            if self.invoice:
                lines = sorted((l for l in self.invoice.lines_to_pay
                        if not l.reconciliation),
                    key=lambda l: (l.maturity_date or date, l.id))
            Payment.water_receive(journal, self.party, lines, self.amount,
                date, self.number, origin=self)
        self.set_state(lifecycle.SUCCEEDED)

    def expire_or_wait(self, now):
        "Expire a transaction the bank did not confirm before its deadline"
        if self.state in lifecycle.PENDING and now > self.deadline:
            self.set_state(lifecycle.EXPIRED, message=gettext(
                    'water_payment_gateway.msg_expired'))

    @classmethod
    @ModelView.button
    def mark_reviewed(cls, transactions):
        """The staff checked with the bank the money of transactions: they
        leave the list to review, the reviewer named in their messages"""
        pool = Pool()
        Log = pool.get('water.payment.transaction.log')
        User = pool.get('res.user')
        transactions = [t for t in transactions if t.review]
        user = User(Transaction().user)
        with without_check_access():
            cls.write(transactions, {'review': False})
            Log.create([{
                        'transaction': t.id,
                        'step': 'review',
                        'message': gettext(
                            'water_payment_gateway.msg_transaction_reviewed',
                            user=user.rec_name),
                        } for t in transactions])

    # Entry points, each committing its steps

    @classmethod
    def process_callback(cls, transaction, fields):
        """The callback of transaction: verify under lock, commit, then
        post under lock. Return False when the callback is not its own."""
        cls.lock_rows([transaction])
        transaction = cls(transaction.id)
        if not transaction.callback(fields):
            return False
        Transaction().commit()
        cls.complete([transaction])
        return True

    @classmethod
    def complete(cls, transactions):
        """Post the verified transactions, each in its own commit; one the
        accounts refuse (a user error) stays verified for the cron and the
        staff"""
        for transaction in transactions:
            cls.lock_rows([transaction])
            transaction = cls(transaction.id)
            if transaction.state != lifecycle.VERIFIED:
                continue
            try:
                transaction.post()
            except (UserError, UserWarning) as exception:
                Transaction().rollback()
                logger.warning("gateway transaction %s not booked: %s",
                    transaction.number, exception)
                continue
            Transaction().commit()

    @classmethod
    def recover(cls):
        """Cron: verify the transactions whose browser never came back
        (Zarinpal: those it lists as unverified), expire those past the
        verify window and post the verified ones"""
        now = _now()
        pending = cls.search([
                ('state', 'in', list(lifecycle.PENDING)),
                ('create_date', '<', now - GRACE),
                ], order=[('id', 'ASC')])
        unverified = {}
        for gateway in {t.gateway for t in pending
                if t.provider == 'zarinpal'}:
            try:
                unverified[gateway] = {r.token
                    for r in gateway.client().unverified()}
            except GatewayError as error:
                logger.info("gateway %s unverified: %s", gateway.id, error)
        for transaction in pending:
            cls.lock_rows([transaction])
            transaction = cls(transaction.id)
            if transaction.state not in lifecycle.PENDING:
                continue
            if transaction.state != lifecycle.CREATED:
                # Zarinpal lists only what is paid and not verified: a
                # payment whose verify answer was lost is not in it
                if (transaction.provider != 'zarinpal'
                        or transaction.state == lifecycle.RETURNED
                        or transaction.token in unverified.get(
                            transaction.gateway, ())):
                    transaction.verify()
                    transaction = cls(transaction.id)
            transaction.expire_or_wait(now)
            Transaction().commit()
        cls.complete(cls.search([('state', '=', lifecycle.VERIFIED)],
                order=[('id', 'ASC')]))


class GatewayTransactionLog(ModelSQL, ModelView):
    "Gateway Transaction Message"
    __name__ = 'water.payment.transaction.log'
    transaction = fields.Many2One('water.payment.transaction',
        "Transaction", required=True, ondelete='CASCADE', readonly=True)
    step = fields.Selection([
            ('request', "Request"),
            ('callback', "Callback"),
            ('verify', "Verify"),
            ('settle', "Settle"),
            ('inquiry', "Inquiry"),
            ('reversal', "Reversal"),
            ('review', "Review"),
            ], "Step", required=True, readonly=True)
    code = fields.Char("Code", readonly=True)
    message = fields.Char("Message", readonly=True)
    raw = fields.Text("Raw Message", readonly=True,
        help="The bank's message without credentials.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order.insert(0, ('id', 'ASC'))



class User(metaclass=PoolMeta):
    __name__ = 'web.user'

    def portal_payments(self):
        "The money received from the user's party, by any channel"
        Payment = Pool().get('account.payment')
        if not self.party:
            return []
        return Payment.search([
                ('party', '=', self.party.id),
                ('kind', '=', 'receivable'),
                ('state', '=', 'succeeded'),
                ], order=[('date', 'DESC'), ('id', 'DESC')])

    def portal_transactions(self, limit=None):
        "The latest gateway transactions of the user's party"
        GatewayTransaction = Pool().get('water.payment.transaction')
        if not self.party:
            return []
        return GatewayTransaction.search([
                ('party', '=', self.party.id),
                ], order=[('id', 'DESC')], limit=limit)
