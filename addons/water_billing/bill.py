# This file is part of the water utility modules.
"""Bills: one period of one subscription, computed by the engine and
posted as a customer invoice."""
import datetime as dt
import json
from collections import defaultdict
from copy import copy
from decimal import ROUND_HALF_UP, Decimal
from itertools import groupby

from sql import Column
from sql.conditionals import Case
from sql.functions import CurrentTimestamp

from trytond import backend
from trytond.i18n import gettext
from trytond.model import (
    Index, Model, ModelSQL, ModelView, Unique, Workflow, fields)
from trytond.model.exceptions import AccessError, ValidationError
from trytond.modules.account.exceptions import PostError
from trytond.modules.account_invoice.exceptions import InvoiceNumberError
from trytond.modules.water_crm import jalali, validators
from trytond.modules.water_crm.common import JalaliDate, JalaliMixin
from trytond.modules.water_crm.portal import PREFIX as PORTAL
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.tools import grouped_slice
from trytond.transaction import Transaction
from trytond.url import http_base

from . import billid, engine
from .tariff import vat_rates

# The invoice lines of a bill, in the order they are printed
LINES = ['water', 'fixed', 'sewage', 'service', 'levies']
# How many bills the due reminder handles at a time
REMIND_SLICE = 200
SERVICE_TYPE_WATER = 1


class BillError(ValidationError):
    pass


class Bill(JalaliMixin, Workflow, ModelSQL, ModelView):
    "Water Bill"
    __name__ = 'water.bill'
    _states = {'readonly': Eval('state') != 'draft'}

    subscription = fields.Many2One('water.subscription', "Subscription",
        required=True, ondelete='RESTRICT', readonly=True)
    party = fields.Many2One('party.party', "Subscriber", required=True,
        ondelete='RESTRICT', readonly=True,
        context={'company': Eval('company', -1)}, depends={'company'})
    company = fields.Many2One('company.company', "Company", required=True,
        readonly=True)
    run = fields.Many2One('water.bill.run', "Bill Run", readonly=True,
        ondelete='RESTRICT')
    current_reading = fields.Many2One('water.reading', "Current Reading",
        required=True, readonly=True, ondelete='RESTRICT')
    date = fields.Date("Bill Date", required=True, readonly=True)
    date_jalali = JalaliDate("Bill Date (Jalali)")
    period_start = fields.Date("Previous Reading Date", readonly=True)
    period_start_jalali = JalaliDate("Previous Reading Date (Jalali)")
    period_end = fields.Date("Current Reading Date", readonly=True)
    period_end_jalali = JalaliDate("Current Reading Date (Jalali)")
    previous_value = fields.Integer("Previous Meter Value", readonly=True)
    current_value = fields.Integer("Current Meter Value", readonly=True)
    days = fields.Integer("Days", readonly=True)
    consumption = fields.Integer("Consumption", readonly=True)
    average_monthly = fields.Numeric("Average Monthly Consumption",
        digits=(16, 2), readonly=True)
    units = fields.Integer("Housing Units", readonly=True)
    water = fields.Numeric("Water Charge", digits=(16, 0), readonly=True)
    fixed = fields.Numeric("Fixed Charge", digits=(16, 0), readonly=True)
    sewage = fields.Numeric("Sewage Charge", digits=(16, 0), readonly=True)
    service = fields.Numeric("Service-Cost Compensation", digits=(16, 0),
        readonly=True)
    levies = fields.Numeric("Levies", digits=(16, 0), readonly=True)
    duty = fields.Numeric("Duty", digits=(16, 0), readonly=True)
    tax = fields.Numeric("Tax", digits=(16, 0), readonly=True)
    total = fields.Numeric("Current Bill", digits=(16, 0), readonly=True)
    previous_debt = fields.Numeric("Previous Debt", digits=(16, 0),
        readonly=True,
        help="What the subscription still owed on its earlier bills.")
    total_payable = fields.Numeric("Total Debt", digits=(16, 0),
        readonly=True)
    payable = fields.Numeric("Payable", digits=(16, 0), readonly=True,
        help="The total debt rounded down; the remainder stays due.")
    engine_input = fields.Text("Engine Input", readonly=True,
        help="The tariff versions, VAT rates, dates and consumption the "
        "engine was given, to reproduce the bill.")
    segments = fields.Text("Segments", readonly=True,
        help="The days priced with each tariff version.")
    bill_id = fields.Char("Bill ID", readonly=True)
    payment_id = fields.Char("Payment ID", readonly=True)
    barcode = fields.Function(fields.Char("Barcode"), 'get_barcode')
    invoice = fields.Many2One('account.invoice', "Invoice", readonly=True)
    paid = fields.Function(fields.Boolean("Paid"), 'get_paid',
        searcher='search_paid')
    reminded = fields.Boolean("Due Reminder Sent", readonly=True,
        help="The subscriber was recalled the due date by SMS.")
    state = fields.Selection([
            ('draft', "Draft"),
            ('posted', "Posted"),
            ('cancelled', "Cancelled"),
            ], "State", readonly=True, required=True, sort=False)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        # a reading is billed once, whatever happens to a bill run
        cls._sql_constraints += [
            ('current_reading_unique', Unique(t, t.current_reading),
                'water_billing.msg_bill_reading_unique'),
            ]
        cls._sql_indexes.add(
            Index(t, (t.subscription, Index.Range()), (t.date, Index.Range())))
        cls._order = [('date', 'DESC'), ('id', 'DESC')]
        cls._transitions |= {
            ('draft', 'posted'),
            ('draft', 'cancelled'),
            }
        cls._buttons.update({
                'post': {
                    'invisible': Eval('state') != 'draft',
                    'depends': ['state'],
                    },
                })

    @classmethod
    def default_reminded(cls):
        return False

    @staticmethod
    def default_state():
        return 'draft'

    @staticmethod
    def default_company():
        return Transaction().context.get('company')

    def get_rec_name(self, name):
        return f'{self.subscription.number} {self.period_end_jalali}'

    @classmethod
    def search_rec_name(cls, name, clause):
        return ['OR',
            ('subscription.rec_name',) + tuple(clause[1:]),
            ('bill_id',) + tuple(clause[1:]),
            ('payment_id',) + tuple(clause[1:]),
            ]

    def get_barcode(self, name):
        if self.bill_id and self.payment_id:
            return billid.barcode(self.bill_id, self.payment_id)

    @classmethod
    def get_paid(cls, bills, name):
        return {b.id: bool(b.invoice and b.invoice.state == 'paid')
            for b in bills}

    @classmethod
    def search_paid(cls, name, clause):
        _, operator, value = clause
        paid = (operator == '=') == bool(value)
        return [('invoice.state', '=' if paid else '!=', 'paid')]

    @property
    def lines(self):
        "(name, amount) of the non-zero lines above VAT"
        return [(n, getattr(self, n)) for n in LINES if getattr(self, n)]

    @classmethod
    def compute(cls, readings, date, errors=None):
        """Unsaved bills of accepted readings, issued on date; readings of
        one subscription must come in date order.

        Without errors, a reading the engine cannot bill raises; with a
        list, (reading, message) is appended to it instead, and the later
        readings of its subscription are left alone too."""
        pool = Pool()
        Tariff = pool.get('water.tariff')
        duty, tax = vat_rates(date)
        tariffs = defaultdict(list)
        for tariff in Tariff.search([]):
            tariffs[tariff.usage.id].append(tariff.to_engine(duty, tax))
        bills, failed = [], set()
        for reading in readings:
            subscription = reading.subscription
            if subscription in failed:
                errors.append((reading, gettext(
                            'water_billing.msg_bill_earlier_failed')))
                continue
            try:
                bills.append(cls._compute(reading, date,
                        tariffs[subscription.connection.usage.id],
                        duty, tax))
            except engine.EngineError as exception:
                if errors is None:
                    raise
                if isinstance(exception, engine.NoTariffError):
                    message = gettext('water_billing.msg_bill_no_tariff',
                        usage=subscription.connection.usage.rec_name,
                        date=jalali.format_date(exception.date))
                else:
                    message = str(exception)
                errors.append((reading, message))
                failed.add(subscription)
        return bills

    @classmethod
    def _compute(cls, reading, date, versions, duty, tax):
        subscription = reading.subscription
        connection = subscription.connection
        if not versions:
            raise engine.NoTariffError(reading.previous_date)
        calculation = engine.calculate(versions,
            reading.previous_date, reading.date, reading.consumption,
            units=connection.housing_units, has_sewer=connection.sewer)
        bill = cls(subscription=subscription, party=subscription.party,
            company=subscription.company, current_reading=reading,
            date=date, period_start=reading.previous_date,
            period_end=reading.date,
            previous_value=reading.previous_value,
            current_value=reading.value,
            days=calculation.days, consumption=reading.consumption,
            average_monthly=round(
                Decimal(calculation.average_monthly.numerator)
                / calculation.average_monthly.denominator, 2),
            units=connection.housing_units,
            total=calculation.total,
            duty=calculation.duty, tax=calculation.tax)
        for name in LINES:
            setattr(bill, name, getattr(calculation, name))
        bill.engine_input = json.dumps({
                'usage': connection.usage.code,
                'previous_date': reading.previous_date.isoformat(),
                'current_date': reading.date.isoformat(),
                'consumption': reading.consumption,
                'units': connection.housing_units,
                'has_sewer': bool(connection.sewer),
                'duty_percent': str(duty),
                'tax_percent': str(tax),
                'tariffs': [_tariff_json(v) for v in versions],
                }, ensure_ascii=False)
        bill.segments = json.dumps([{
                    'tariff_start': s.tariff.start.isoformat(),
                    'first': s.first.isoformat(),
                    'last': s.last.isoformat(),
                    'days': s.days,
                    'consumption': str(s.consumption),
                    'above_pattern': s.above_pattern,
                    } for s in calculation.segments])
        return bill

    @classmethod
    def set_debt(cls, bills):
        """Set previous debt, total debt, payable, bill ID and payment ID;
        bills of a subscription must be processed in date order"""
        pool = Pool()
        Configuration = pool.get('water.configuration')
        Invoice = pool.get('account.invoice')
        configuration = Configuration(1)
        rounding = configuration.payable_rounding or 1
        company_code = configuration.bill_company_code
        subscriptions = {b.subscription.id for b in bills}
        earlier = cls.search([
                ('subscription', 'in', list(subscriptions)),
                ('state', '=', 'posted'),
                ('invoice.state', '=', 'posted'),
                ])
        debt = defaultdict(Decimal)
        if earlier:
            amounts = Invoice.get_amount_to_pay(
                [b.invoice for b in earlier], 'amount_to_pay')
            for bill in earlier:
                debt[bill.subscription.id] += amounts[bill.invoice.id]
        for bill in bills:
            bill.previous_debt = debt[bill.subscription.id]
            bill.total_payable = bill.previous_debt + bill.total
            bill.payable = max(
                bill.total_payable - bill.total_payable % rounding, 0)
            # a later bill of the same run owes this one too
            debt[bill.subscription.id] += bill.total
            file_id = bill.subscription.bill_file_id
            if company_code and file_id:
                bill.bill_id = billid.make_bill_id(
                    file_id, company_code, SERVICE_TYPE_WATER)
                if bill.payable >= 1000:
                    date = jalali.to_jalali(bill.date)
                    bill.payment_id = billid.make_payment_id(
                        int(bill.payable) // 1000 * 1000, date.year,
                        date.month, bill.bill_id)

    def _get_invoice(self, defaults=None):
        """The unsaved invoice of the bill, with the defaults that
        _invoice_defaults gives for a batch of bills"""
        pool = Pool()
        Invoice = pool.get('account.invoice')
        if defaults is None:
            defaults = self._invoice_defaults([self])
        party = self.party
        return Invoice(company=self.company, type='out', party=party,
            currency=self.company.currency, invoice_date=self.date,
            journal=defaults['journal'],
            account=defaults['accounts'][party],
            payment_term=defaults['payment_terms'][party],
            invoice_address=defaults['addresses'][party],
            description=gettext('water_billing.msg_invoice_description',
                subscription=self.subscription.number,
                start=jalali.format_date(self.period_start),
                end=jalali.format_date(self.period_end)))

    @classmethod
    def _invoice_defaults(cls, bills):
        """The journal of the bills' invoices and, per party, the
        receivable account, payment term and invoice address as Tryton
        chooses them, in a few queries: Tryton picks the account and term
        from the party's value rows (or the configuration's when none
        matches), so parties with the same rows get the same"""
        pool = Pool()
        Invoice = pool.get('account.invoice')
        PartyAccount = pool.get('party.party.account')
        PartyPaymentTerm = pool.get('party.party.payment_term')
        invoice = Invoice(type='out')
        invoice.set_journal()
        parties = list({b.party for b in bills})
        rows = defaultdict(list)
        for Value, name in [
                (PartyAccount, 'account_receivable'),
                (PartyPaymentTerm, 'customer_payment_term')]:
            # the payment term rows have no company
            names = [n for n in ['company', name] if n in Value._fields]
            for sub_parties in grouped_slice(
                    parties, backend.MAX_QUERY_PARAMS):
                for row in Value.search_read(
                        [('party', 'in', [p.id for p in sub_parties])],
                        order=[('id', 'ASC')],
                        fields_names=['party'] + names):
                    rows[row['party']].append(
                        (Value.__name__,) + tuple(row[n] for n in names))
        accounts, payment_terms, by_rows = {}, {}, {}
        for party in parties:
            key = tuple(rows[party.id])
            if key not in by_rows:
                by_rows[key] = (
                    party.account_receivable_used,
                    party.customer_payment_term)
            accounts[party], payment_terms[party] = by_rows[key]
        return {
            'journal': invoice.journal,
            'accounts': accounts,
            'payment_terms': payment_terms,
            'addresses': cls._invoice_addresses(bills),
            }

    @classmethod
    def _invoice_addresses(cls, bills):
        """The invoice address of each bill's party, as Party.address_get
        chooses it, in one search; a party without address gets the
        address of its parcel, created in one batch"""
        Address = Pool().get('party.address')
        parties = {b.party for b in bills}
        found = defaultdict(list)
        for sub_parties in grouped_slice(
                list(parties), backend.MAX_QUERY_PARAMS):
            # in the order of Party.addresses
            for address in Address.search(
                    [('party', 'in', [p.id for p in sub_parties])]):
                found[address.party].append(address)
        addresses, missing = {}, {}
        for bill in bills:
            party = bill.party
            if party in addresses or party in missing:
                continue
            if found[party]:
                addresses[party] = next((a for a in found[party]
                        if a.invoice), found[party][0])
            else:
                parcel = bill.subscription.connection.parcel
                # the street as its setter stores it, without a write
                # per address
                missing[party] = {
                    'party': party.id,
                    'street_unstructured': parcel.address or parcel.rec_name,
                    'postal_code': parcel.postal_code,
                    }
        addresses.update(zip(missing, Address.create(list(missing.values()))))
        return addresses

    def _get_invoice_lines(self, invoice, configuration):
        InvoiceLine = Pool().get('account.invoice.line')
        taxes = [t for t in [configuration.duty_tax, configuration.vat_tax]
            if t]
        lines = []
        for name, amount in self.lines:
            lines.append(InvoiceLine(type='line', invoice=invoice,
                    company=self.company, currency=invoice.currency,
                    description=gettext('water_billing.msg_line_' + name,
                        consumption=self.consumption, days=self.days),
                    quantity=1, unit=None, product=None,
                    account=getattr(configuration, name + '_account'),
                    unit_price=amount, taxes=taxes, origin=self))
        return lines

    @classmethod
    def _check_accounts(cls, configuration):
        for name in LINES:
            if not getattr(configuration, name + '_account'):
                raise BillError(gettext(
                        'water_billing.msg_bill_missing_account'))

    @classmethod
    @ModelView.button
    @Workflow.transition('posted')
    def post(cls, bills):
        """Create and post the customer invoice of each bill: one line per
        charge with the duty and tax, its move posted.

        The invoices, their taxes and moves are written in bulk, a few
        multi-row inserts per table for all the bills, with the values
        Tryton's own methods give (taxes from account.tax, move lines of
        the invoice lines, taxes and payment term) and the checks of its
        posting done once for all: period and journal open, accounts
        usable, moves balanced, numbers from the sequences in blocks.

        The subscribers are sent the bill_issued SMS, whatever posted the
        bills: a bill run or the staff."""
        bills = sorted((b for b in bills if not b.invoice),
            key=lambda b: b.company.id)
        for company, c_bills in groupby(bills, key=lambda b: b.company.id):
            c_bills = list(c_bills)
            with Transaction().set_context(company=company):
                _InvoicePoster(cls, c_bills).post()
                cls.send_sms(c_bills, 'bill_issued')

    @classmethod
    def lock_posting(cls, company, date):
        """Take the locks that posting bills of company dated date asks
        for: the invoice and move sequences and the journal period.
        Tryton asks for them when it numbers, and a queued task restarts
        from its beginning to take them: taken first, the restart costs
        nothing instead of the chunk's whole work."""
        pool = Pool()
        Invoice = pool.get('account.invoice')
        MoveLine = pool.get('account.move.line')
        Period = pool.get('account.period')
        with Transaction().set_context(company=company.id):
            invoice = Invoice(company=company, type='out',
                invoice_date=date, accounting_date=None,
                sequence_type_cache='invoice')
            invoice.set_journal()
            sequence, _ = invoice._number_sequence()
            period = Period.find(company, date=date)
            for record in [sequence, period.move_sequence_used]:
                if record:
                    record.lock()
            MoveLine.check_journal_period_modify(period, invoice.journal)

    @classmethod
    def send_sms(cls, bills, code):
        """Queue the SMS of template code (bill_issued, bill_due) to the
        mobile of each bill's subscriber, with the amount to pay, the
        payment ID and the due date, in one batch; subscribers without a
        valid mobile get none"""
        pool = Pool()
        Template = pool.get('water.sms.template')
        Sms = pool.get('water.sms')
        ContactMechanism = pool.get('party.contact_mechanism')
        MoveLine = pool.get('account.move.line')
        templates = Template.search([
                ('code', '=', code),
                ('active', '=', True),
                ], limit=1)
        if not templates:
            return []
        template, = templates
        portal_url = http_base().rstrip('/') + PORTAL + '/'
        bills = cls.browse(bills)
        mobiles = {}
        # the first mobile of each party, as Party.mobile gives it
        for sub_parties in grouped_slice(
                list({b.party.id for b in bills}), backend.MAX_QUERY_PARAMS):
            for mechanism in ContactMechanism.search([
                        ('party', 'in', list(sub_parties)),
                        ('type', '=', 'mobile'),
                        ]):
                mobiles.setdefault(mechanism.party, mechanism.value)
        # the earliest maturity of the lines to pay of each invoice
        due_dates = {}
        for sub_bills in grouped_slice(bills, backend.MAX_QUERY_PARAMS):
            for line in MoveLine.search([
                        ('move', 'in', [b.invoice.move.id for b in sub_bills]),
                        ('maturity_date', '!=', None),
                        ('account.type.receivable', '=', True),
                        ], order=[('maturity_date', 'DESC')]):
                due_dates[line.move] = line.maturity_date
        messages = []
        for bill in bills:
            try:
                mobile = validators.mobile(mobiles.get(bill.party) or '')
            except validators.InvalidValue:
                continue
            due_date = due_dates.get(bill.invoice.move)
            messages.append({
                    'mobile': mobile,
                    'party': bill.party,
                    'origin': bill.subscription,
                    'body': template.render_with(
                        name=bill.party.rec_name,
                        subscription=bill.subscription.number,
                        amount=bill.payable, due_date=due_date,
                        bill_id=bill.bill_id or '',
                        payment_id=bill.payment_id or '',
                        portal_url=portal_url),
                    })
        return Sms.send(messages)

    @classmethod
    def remind_due(cls):
        """Cron: recall by SMS the bills still unpaid whose due date is
        within the configured days, each once"""
        pool = Pool()
        Configuration = pool.get('water.configuration')
        Date = pool.get('ir.date')
        days = Configuration(1).bill_due_reminder_days
        if not days:
            return
        today = Date.today()
        bills = cls.search([
                ('state', '=', 'posted'),
                ('reminded', '=', False),
                ('paid', '=', False),
                ('invoice.move.lines', 'where', [
                        ('account.type.receivable', '=', True),
                        ('reconciliation', '=', None),
                        ('maturity_date', '>=', today),
                        ('maturity_date', '<=',
                            today + dt.timedelta(days=days)),
                        ]),
                ], order=[('id', 'ASC')])
        # in slices: browsing thousands of bills at once costs the square
        # of their number in Tryton's checks of the records' ids
        for sub_ids in grouped_slice([b.id for b in bills], REMIND_SLICE):
            sub_bills = cls.browse(sub_ids)
            cls.send_sms(sub_bills, 'bill_due')
            cls.write(sub_bills, {'reminded': True})

    def send_paid_sms(self, amount, date, reference):
        "Queue the 'bill_paid' SMS of amount received to the subscriber"
        Template = Pool().get('water.sms.template')
        mechanism = self.party.contact_mechanism_get('mobile')
        if mechanism:
            Template.send('bill_paid', mechanism.value, party=self.party,
                origin=self, name=self.party.rec_name,
                subscription=self.subscription.number, amount=int(amount),
                date=date, reference=reference or '')


class _InvoicePoster:
    "The invoices of bills of one company, created and posted in bulk"

    def __init__(self, Bill, bills):
        pool = Pool()
        self.Bill = Bill
        self.bills = Bill.browse(bills)
        self.company = self.bills[0].company
        self.currency = self.company.currency
        Configuration = pool.get('water.configuration')
        AccountConfiguration = pool.get('account.configuration')
        Tax = pool.get('account.tax')
        self.configuration = Configuration(1)
        Bill._check_accounts(self.configuration)
        with Transaction().set_context(company=self.company.id):
            self.today = pool.get('ir.date').today()
        self.tax_rounding = AccountConfiguration(1).get_multivalue(
            'tax_rounding', company=self.company.id)
        # the taxes of the lines with their children, read once and kept
        self.taxes = {t: pin_children(t) for t in Tax.browse([t for t in [
                        self.configuration.duty_tax,
                        self.configuration.vat_tax] if t])}
        self.sequences = {}

    def compute_taxes(self, invoice):
        """The taxes of the invoice as Invoice._get_taxes computes them
        (account.tax, the invoice's rounding) and those of each line, from
        the taxes read once: Tryton's methods read the children of each
        tax for each line"""
        pool = Pool()
        Tax = pool.get('account.tax')
        result, by_line = {}, {}
        with Transaction().set_context(invoice._get_tax_context()):
            for line in invoice.lines:
                by_line[line] = taxes = {}
                for values in Tax.compute([self.taxes[t] for t in line.taxes],
                        line.unit_price, line.quantity, line.tax_date):
                    tax_line = invoice._compute_tax_line(**values)
                    if tax_line._key in taxes:
                        taxes[tax_line._key] += tax_line
                    else:
                        taxes[tax_line._key] = tax_line
                if self.tax_rounding == 'line':
                    invoice._round_taxes(taxes)
                for key, tax_line in taxes.items():
                    if key in result:
                        result[key] += copy(tax_line)
                    else:
                        result[key] = copy(tax_line)
            if self.tax_rounding == 'document':
                invoice._round_taxes(result)
        return result, by_line

    def line_move_line(self, line, taxes):
        """The move line of an invoice line as InvoiceLine.get_move_lines
        makes it in the company's currency, its base tax lines from taxes"""
        pool = Pool()
        MoveLine = pool.get('account.move.line')
        TaxLine = pool.get('account.tax.line')
        assert line.invoice.currency == self.currency
        amount = line.amount
        move_line = MoveLine(
            debit=-amount if amount < 0 else 0,
            credit=amount if amount >= 0 else 0,
            amount_second_currency=None, second_currency=None,
            account=line.account, origin=line,
            party=line.invoice.party if line.account.party_required else None,
            tax_lines=[TaxLine(amount=t.base, type='base', tax=t.tax)
                for t in taxes.values()])
        return move_line

    def post(self):
        pool = Pool()
        Invoice = pool.get('account.invoice')
        InvoiceLine = pool.get('account.invoice.line')
        InvoiceTax = pool.get('account.invoice.tax')
        LineTax = pool.get('account.invoice.line-account.tax')
        Move = pool.get('account.move')
        MoveLine = pool.get('account.move.line')
        TaxLine = pool.get('account.tax.line')

        invoices = self.invoices()
        self.number(invoices)
        moves = self.moves(invoices)
        self.check(invoices, moves)

        insert(Invoice, invoices)
        for invoice in invoices:
            for line in invoice.lines:
                line.invoice = invoice
            for tax in invoice.taxes:
                tax.invoice = invoice
        lines = [l for i in invoices for l in i.lines]
        insert(InvoiceLine, lines)
        insert(LineTax, [LineTax(line=l, tax=t)
                for l in lines for t in l.taxes])
        insert(InvoiceTax, [t for i in invoices for t in i.taxes])
        for invoice, move in zip(invoices, moves):
            move.origin = invoice
        insert(Move, moves)
        set_column(Invoice, 'move', invoices, [m.id for m in moves])
        for move in moves:
            for line in move.lines:
                line.move = move
        move_lines = [l for m in moves for l in m.lines]
        insert(MoveLine, move_lines)
        tax_lines = []
        for line in move_lines:
            for tax_line in line.tax_lines:
                tax_line.move_line = line
                tax_lines.append(tax_line)
        insert(TaxLine, tax_lines)
        set_column(self.Bill, 'invoice', self.bills,
            [i.id for i in invoices])
        for model in [self.Bill, Invoice, InvoiceLine, InvoiceTax, Move,
                MoveLine]:
            clear_cache(model)
        # as Tryton's posting does: a zero receivable reconciles at once
        # and the paid invoice is processed
        zero = [l for l in move_lines
            if not l.debit and not l.credit and l.account.reconcile]
        if zero:
            MoveLine.reconcile(*[[l] for l in zero])
            Invoice.__queue__.process(Invoice.browse(
                    [l.move.origin.id for l in zero]))

    def invoices(self):
        """The unsaved posted invoices of the bills, with their lines and
        taxes, and their amounts checked against the bills"""
        pool = Pool()
        InvoiceTax = pool.get('account.invoice.tax')
        Employee = pool.get('company.employee')
        defaults = self.Bill._invoice_defaults(self.bills)
        # the taxes of each line of each invoice, for their move lines
        self.line_taxes = []
        employee = Transaction().context.get('employee')
        invoices = []
        for bill in self.bills:
            invoice = bill._get_invoice(defaults)
            invoice.lines = bill._get_invoice_lines(
                invoice, self.configuration)
            invoices.append(invoice)
        set_defaults(invoices)
        set_defaults([l for i in invoices for l in i.lines])
        for bill, invoice in zip(self.bills, invoices):
            invoice.line_lines = lines = invoice.lines
            for line in lines:
                line.amount = line.on_change_with_amount()
            taxes = []
            computed, line_taxes = self.compute_taxes(invoice)
            self.line_taxes.append(line_taxes)
            for tax_line in computed.values():
                tax = tax_line.tax
                taxes.append(InvoiceTax(invoice=invoice, manual=False,
                        description=tax.description,
                        legal_notice=tax.legal_notice, tax=tax,
                        base=tax_line.base, amount=tax_line.amount,
                        account=tax_line.account))
            invoice.taxes = taxes
            invoice.untaxed_amount_cache = sum(
                (l.amount for l in lines), Decimal(0))
            invoice.tax_amount_cache = sum(
                (t.amount for t in taxes), Decimal(0))
            invoice.total_amount_cache = (
                invoice.untaxed_amount_cache + invoice.tax_amount_cache)
            if invoice.total_amount_cache != bill.total:
                raise BillError(gettext(
                        'water_billing.msg_bill_invoice_mismatch',
                        bill=bill.rec_name, total=bill.total,
                        invoice=invoice.total_amount_cache))
            invoice.state = 'posted'
            invoice.posted_by = Employee(employee) if employee else None
            invoice.tax_identifier = invoice.get_tax_identifier()
            invoice.party_tax_identifier = invoice.party.tax_identifier
            invoice.sequence_type_cache = invoice._sequence_type
        set_defaults([t for i in invoices for t in i.taxes])
        return invoices

    def number(self, invoices):
        """Number the invoices from their sequences, a block per sequence,
        refused like Tryton when a later invoice is already numbered"""
        pool = Pool()
        Invoice = pool.get('account.invoice')
        Lang = pool.get('ir.lang')
        by_sequence = defaultdict(list)
        for invoice in invoices:
            # the period of the date must be open
            key = (invoice.accounting_date or invoice.invoice_date,
                invoice.sequence_type_cache)
            if key not in self.sequences:
                self.sequences[key] = invoice._number_sequence()
            by_sequence[self.sequences[key]].append(invoice)
        for (sequence, date), s_invoices in by_sequence.items():
            after = Invoice.search([
                    ('sequence', '=', sequence.id),
                    ('invoice_date', '>', date),
                    ], limit=1, order=[('invoice_date', 'DESC')])
            if after:
                after, = after
                raise InvoiceNumberError(gettext(
                        'account_invoice.msg_invoice_number_after',
                        invoice=s_invoices[0].rec_name,
                        sequence=sequence.rec_name,
                        date=Lang.get().strftime(date),
                        after_invoice=after.rec_name))
            with Transaction().set_context(
                    date=date, company=self.company.id):
                numbers = sequence.get_many(len(s_invoices))
            for invoice, number in zip(s_invoices, numbers):
                invoice.sequence = sequence.id
                invoice.number = number

    def moves(self, invoices):
        """The unsaved posted moves of the invoices with their lines, as
        Invoice.get_move and Move.post make them, numbered in blocks"""
        pool = Pool()
        Move = pool.get('account.move')
        Period = pool.get('account.period')
        moves = []
        by_sequence = defaultdict(list)
        for invoice, line_taxes in zip(invoices, self.line_taxes):
            move_lines = []
            for line in invoice.lines:
                move_lines.append(self.line_move_line(line, line_taxes[line]))
            for tax in invoice.taxes:
                move_lines += tax.get_move_lines()
            total = invoice.total_amount_cache
            if invoice.payment_term:
                term_lines = invoice.payment_term.compute(total,
                    invoice.currency,
                    invoice.payment_term_date or invoice.invoice_date
                    or self.today)
            else:
                term_lines = [(invoice.payment_term_date or self.today, total)]
            for date, amount in term_lines:
                move_lines.append(invoice._get_move_line(date, amount))
            date = invoice.accounting_date or invoice.invoice_date
            period = Period.find(self.company, date=date)
            move = Move(journal=invoice.journal, period=period, date=date,
                company=self.company, lines=move_lines, state='posted',
                post_date=self.today)
            for line in move_lines:
                line.state = 'valid'
            moves.append(move)
            by_sequence[period.move_sequence_used].append(move)
        set_defaults(moves)
        move_lines = [l for m in moves for l in m.lines]
        set_defaults(move_lines)
        set_defaults([t for l in move_lines for t in l.tax_lines])
        for sequence, s_moves in by_sequence.items():
            with Transaction().set_context(company=self.company.id):
                numbers = sequence.get_many(len(s_moves))
            for move, number in zip(s_moves, numbers):
                move.number = number
        return moves

    def check(self, invoices, moves):
        """What Tryton checks when it creates and posts moves, once per
        journal, period and account"""
        pool = Pool()
        MoveLine = pool.get('account.move.line')
        # Period.find has refused a period that is not open
        for journal, period in {(m.journal, m.period) for m in moves}:
            # creates the journal period, or refuses a closed one
            MoveLine.check_journal_period_modify(period, journal)
        accounts = {}
        for move in moves:
            if sum(l.debit - l.credit for l in move.lines):
                raise PostError(gettext('account.msg_post_unbalanced_move',
                        move=move.origin.rec_name))
            for line in move.lines:
                accounts.setdefault((line.account, bool(line.party)), line)
        for (account, has_party), line in accounts.items():
            if not account.type or account.closed:
                raise AccessError(gettext('account.msg_line_closed_account',
                        account=account.rec_name))
            if has_party != bool(account.party_required):
                error = 'party_set' if has_party else 'party_required'
                raise AccessError(gettext('account.msg_line_%s' % error,
                        account=account.rec_name, line=line.description))


def pin_children(tax):
    """The tax with the tree of its children kept on the records, so that
    computing it reads nothing more"""
    tax.childs = [pin_children(c) for c in tax.childs]
    return tax


def _stored(Model):
    "The names of the fields of Model stored in its table by create"
    return [n for n, f in Model._fields.items()
        if n not in {'id', 'create_uid', 'create_date', 'write_uid',
            'write_date'}
        and not isinstance(f, (fields.Function, fields.One2Many,
                fields.Many2Many))
        and hasattr(f, 'sql_type') and not getattr(f, 'translate', False)]


def set_defaults(records):
    """Give unsaved records of a model the default of each stored field
    they have no value for (None without default), as create would"""
    if not records:
        return
    Model = records[0].__class__
    relations = [n for n, f in Model._fields.items()
        if isinstance(f, (fields.One2Many, fields.Many2Many))]
    missing = {n for n in _stored(Model) + relations
        for r in records if n not in r._values}
    defaults = Model.default_get(list(missing), with_rec_name=False)
    for record in records:
        for name in missing:
            if name not in record._values:
                setattr(record, name, defaults.get(
                        name, [] if name in relations else None))


def _db_value(field, value):
    "The value of a field as the database column stores it"
    if isinstance(value, Model):
        if isinstance(field, fields.Reference):
            return str(value)
        return value.id
    return value


def insert(Model, records):
    """Insert unsaved records as ModelSQL.create stores them (their values,
    the defaults of the others, computed fields), without its per-record
    validation, and set their ids: with COPY on PostgreSQL (a multi-row
    INSERT of thousands of parameters costs more to build than to run),
    else multi-row INSERTs"""
    if not records:
        return
    transaction = Transaction()
    cursor = transaction.connection.cursor()
    table = Model.__table__()
    names = _stored(Model)
    given = set().union(*(r._values._keys() for r in records)) & set(names)
    defaults = Model.default_get(
        [n for n in names if n not in given], with_rec_name=False)
    columns = sorted(given | set(defaults))
    copy = backend.name == 'postgresql'
    if copy:
        # what CURRENT_TIMESTAMP gives a timestamp column
        cursor.execute('SELECT CAST(CURRENT_TIMESTAMP AS TIMESTAMP)')
        now, = cursor.fetchone()
    else:
        now = CurrentTimestamp()
    rows = []
    for record in records:
        values = dict(defaults)
        values.update({n: v for n, v in record._values._items()
                if n in given})
        values.update(record.compute_fields(set(columns)))
        rows.append([_db_value(Model._fields[n], values.get(n))
                for n in columns] + [transaction.user, now])
    columns += ['create_uid', 'create_date']
    sql_columns = [Column(table, n) for n in columns]
    database = transaction.database
    size = max(1, backend.MAX_QUERY_PARAMS // (len(sql_columns) + 1))
    for sub_records, sub_rows in zip(grouped_slice(records, size),
            grouped_slice(rows, size)):
        sub_records, sub_rows = list(sub_records), list(sub_rows)
        # ids reserved in a block as ModelSQL.create does, where the
        # database can (PostgreSQL); else a row at a time
        new_ids = database.nextid(
            transaction.connection, Model._table, count=len(sub_rows))
        if new_ids is not None:
            if not isinstance(new_ids, list):
                new_ids = [new_ids]
            sub_rows = [r + [i] for r, i in zip(sub_rows, new_ids)]
            if copy:
                _copy(cursor, Model._table, columns + ['id'], sub_rows)
            else:
                cursor.execute(*table.insert(
                        sql_columns + [table.id], sub_rows))
        else:
            new_ids = []
            for row in sub_rows:
                cursor.execute(*table.insert(sql_columns, [row]))
                new_ids.append(database.lastid(cursor))
        for record, id_ in zip(sub_records, new_ids):
            # as ModelStorage.save gives a created record its id
            record._ids.remove(record.id)
            record._id = id_
            record._ids.append(id_)


def _copy(cursor, table, columns, rows):
    "COPY the rows into the columns of table (PostgreSQL's psycopg)"
    from psycopg import sql
    statement = sql.SQL('COPY {} ({}) FROM STDIN').format(
        sql.Identifier(table),
        sql.SQL(', ').join(map(sql.Identifier, columns)))
    with cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def set_column(Model, name, records, values):
    "Set the column name of each record to its value in one UPDATE a slice"
    cursor = Transaction().connection.cursor()
    table = Model.__table__()
    pairs = list(zip((r.id for r in records), values))
    for sub_pairs in grouped_slice(pairs, backend.MAX_QUERY_PARAMS // 3):
        sub_pairs = list(sub_pairs)
        cursor.execute(*table.update([Column(table, name)],
                [Case(*((table.id == i, v) for i, v in sub_pairs))],
                where=table.id.in_([i for i, _ in sub_pairs])))


def clear_cache(Model):
    "Forget what the transaction read of Model before the raw writes"
    transaction = Transaction()
    transaction.counter += 1
    for cache in transaction.cache.values():
        if Model.__name__ in cache:
            cache[Model.__name__].clear()


def _tariff_json(tariff):
    def bands(items):
        return [[str(b.lower), None if b.upper is None else str(b.upper),
                str(b.price)] for b in items]
    return {
        'start': tariff.start.isoformat(),
        'bands': bands(tariff.bands),
        'fixed': str(tariff.fixed),
        'service': str(tariff.service),
        'sewage_percent': str(tariff.sewage_percent),
        'pattern': None if tariff.pattern is None else str(tariff.pattern),
        'pattern_bands': bands(tariff.pattern_bands),
        'levies': [[l.name, str(l.price)] for l in tariff.levies],
        }


class Invoice(metaclass=PoolMeta):
    __name__ = 'account.invoice'

    @fields.depends('currency')
    def _round_taxes(self, taxes):
        # Iranian amounts round half up to the rial, tax by tax, as the
        # bill prints them; Tryton's default rounds half to even and
        # shifts a rial between taxes to compensate
        if self.currency and self.currency.code == 'IRR':
            for taxline in taxes.values():
                taxline.amount = self.currency.round(
                    taxline.amount, rounding=ROUND_HALF_UP)
            return
        super()._round_taxes(taxes)

    def pay_invoice(self, amount, payment_method, date, description=None,
            overpayment=0, party=None):
        # a bill paid at the office (the invoice's Pay wizard) tells the
        # subscriber as a bill paid online or at a bank does
        pool = Pool()
        Bill = pool.get('water.bill')
        lines = super().pay_invoice(amount, payment_method, date,
            description=description, overpayment=overpayment, party=party)
        if self.type == 'out' and amount > 0:
            for bill in Bill.search([('invoice', '=', self.id)]):
                bill.send_paid_sms(amount, date,
                    description or lines[0].move.number)
        return lines


class InvoiceLine(metaclass=PoolMeta):
    __name__ = 'account.invoice.line'

    @classmethod
    def _get_origin(cls):
        return super()._get_origin() + ['water.bill']


class Sms(metaclass=PoolMeta):
    __name__ = 'water.sms'

    @classmethod
    def _get_origin(cls):
        return super()._get_origin() + ['water.bill']
