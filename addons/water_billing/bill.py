# This file is part of the water utility modules.
"""Bills: one period of one subscription, computed by the engine and
posted as a customer invoice."""
import json
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Unique, Workflow, fields
from trytond.model.exceptions import ValidationError
from trytond.modules.water_crm import jalali
from trytond.modules.water_crm.common import JalaliDate, JalaliMixin
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.transaction import Transaction

from . import billid, engine
from .tariff import vat_rates

# The invoice lines of a bill, in the order they are printed
LINES = ['water', 'fixed', 'sewage', 'service', 'levies']
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

    def _get_invoice(self):
        pool = Pool()
        Invoice = pool.get('account.invoice')
        party = self.party
        invoice = Invoice(company=self.company, type='out', party=party,
            currency=self.company.currency, invoice_date=self.date,
            account=party.account_receivable_used,
            invoice_address=self._invoice_address(),
            description=gettext('water_billing.msg_invoice_description',
                subscription=self.subscription.number,
                start=jalali.format_date(self.period_start),
                end=jalali.format_date(self.period_end)))
        invoice.set_journal()
        invoice.payment_term = party.customer_payment_term
        return invoice

    def _invoice_address(self):
        Address = Pool().get('party.address')
        address = self.party.address_get(type='invoice')
        if address:
            return address
        parcel = self.subscription.connection.parcel
        address = Address(party=self.party,
            street=parcel.address or parcel.rec_name,
            postal_code=parcel.postal_code)
        address.save()
        return address

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
    @ModelView.button
    @Workflow.transition('posted')
    def post(cls, bills):
        """Create and post the customer invoice of each bill, one line
        per charge with the duty and tax, in batches"""
        pool = Pool()
        Invoice = pool.get('account.invoice')
        InvoiceLine = pool.get('account.invoice.line')
        Configuration = pool.get('water.configuration')
        configuration = Configuration(1)
        for name in LINES:
            if not getattr(configuration, name + '_account'):
                raise BillError(gettext(
                        'water_billing.msg_bill_missing_account'))
        invoices, lines = [], []
        for bill in bills:
            invoice = bill._get_invoice()
            invoices.append(invoice)
            lines.extend(bill._get_invoice_lines(invoice, configuration))
        Invoice.save(invoices)
        InvoiceLine.save(lines)
        Invoice.update_taxes(invoices)
        for bill, invoice in zip(bills, invoices):
            bill.invoice = invoice
        cls.save(bills)
        # the taxes were computed just above: post as the batch posting
        # of account_invoice does, without checking them a second time
        Invoice._post(invoices)
        for bill, invoice in zip(bills, Invoice.browse(invoices)):
            if invoice.total_amount != bill.total:
                raise BillError(gettext(
                        'water_billing.msg_bill_invoice_mismatch',
                        bill=bill.rec_name, total=bill.total,
                        invoice=invoice.total_amount))


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


class InvoiceLine(metaclass=PoolMeta):
    __name__ = 'account.invoice.line'

    @classmethod
    def _get_origin(cls):
        return super()._get_origin() + ['water.bill']
