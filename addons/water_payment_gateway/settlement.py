# This file is part of the water utility modules.
"""Import of the bank's settlement of bill ID / payment ID payments.

Each row of the file (settlement_csv.py) is matched with the posted bill
of its bill ID and payment ID. A matched row whose amount is the one of
its payment ID is received on the bank-channel payment journal (the
payments clear and pay the bill's open lines, see payment.py). Every other
row is kept as a settlement line for the staff: unmatched (no such bill,
or another amount) or a duplicate of a row of the same file. Nothing is
dropped: a row paid beyond what the bills owe is kept for review too.

The whole file is imported in one transaction, so a failure leaves
nothing behind; a row already imported (same trace number and bill ID)
is skipped, so importing the file again changes nothing."""
from collections import defaultdict

from sql.operators import Equal

from trytond.i18n import gettext
from trytond.model import Exclude, Index, ModelSQL, ModelView, fields
from trytond.model.exceptions import ValidationError
from trytond.modules.company.model import CompanyValueMixin
from trytond.modules.water_crm import jalali
from trytond.modules.water_crm.common import JalaliDate, JalaliMixin
from trytond.modules.water_crm.subscriber_import import CsvImportMixin
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.tools import grouped_slice
from trytond.transaction import Transaction, without_check_access
from trytond.wizard import Button, StateTransition, StateView, Wizard

from . import settlement_csv
from .settlement_csv import Rejection


class SettlementError(ValidationError):
    pass


class Configuration(metaclass=PoolMeta):
    __name__ = 'water.configuration'
    settlement_journal = fields.MultiValue(fields.Many2One(
            'account.payment.journal', "Bank Channel Journal",
            domain=[
                ('company', '=', Eval('context', {}).get('company', -1)),
                ],
            help="The payment journal of the bill ID / payment ID payments "
            "of the banks' settlement files."))

    @classmethod
    def multivalue_model(cls, field):
        if field == 'settlement_journal':
            return Pool().get('water.configuration.settlement')
        return super().multivalue_model(field)


class ConfigurationSettlement(ModelSQL, CompanyValueMixin):
    "Water Configuration Settlement"
    __name__ = 'water.configuration.settlement'
    settlement_journal = fields.Many2One(
        'account.payment.journal', "Bank Channel Journal",
        domain=[('company', '=', Eval('company', -1))])


class Settlement(ModelSQL, ModelView):
    "Bank Settlement"
    __name__ = 'water.settlement'
    _rec_name = 'filename'
    company = fields.Many2One('company.company', "Company", required=True,
        readonly=True)
    journal = fields.Many2One('account.payment.journal', "Journal",
        required=True, readonly=True)
    filename = fields.Char("File Name", readonly=True)
    file = fields.Binary("File", readonly=True, filename='filename')
    report = fields.Text("Report", readonly=True)
    lines = fields.One2Many('water.settlement.line', 'settlement', "Lines",
        readonly=True)
    amount = fields.Function(fields.Numeric("Amount", digits=(16, 0)),
        'get_amount')
    create_date_jalali = fields.Function(
        fields.Char("Imported On"), 'get_create_date_jalali')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('create_date', 'DESC'), ('id', 'DESC')]

    @classmethod
    def get_amount(cls, settlements, name):
        return {s.id: sum((l.amount for l in s.lines), 0)
            for s in settlements}

    def get_create_date_jalali(self, name):
        return jalali.format_date(self.create_date)


class SettlementLine(JalaliMixin, ModelSQL, ModelView):
    "Bank Settlement Line"
    __name__ = 'water.settlement.line'
    settlement = fields.Many2One('water.settlement', "Settlement",
        required=True, ondelete='CASCADE', readonly=True)
    company = fields.Function(fields.Many2One('company.company', "Company"),
        'on_change_with_company', searcher='search_company')
    line = fields.Integer("Line", readonly=True,
        help="The line of the row in the file.")
    bill_id = fields.Char("Bill ID", readonly=True)
    payment_id = fields.Char("Payment ID", readonly=True)
    amount = fields.Numeric("Amount", digits=(16, 0), readonly=True)
    date = fields.Date("Date", readonly=True)
    date_jalali = JalaliDate("Date (Jalali)")
    trace_number = fields.Char("Trace Number", readonly=True)
    channel = fields.Char("Channel", readonly=True)
    bill = fields.Many2One('water.bill', "Bill", ondelete='RESTRICT',
        domain=[('state', '=', 'posted')],
        states={
            'readonly': Eval('state') != 'unmatched',
            },
        help="For an unmatched row, the staff may choose the bill it pays.")
    party = fields.Function(fields.Many2One('party.party', "Subscriber",
            context={'company': Eval('company', -1)}, depends={'company'}),
        'on_change_with_party')
    reason = fields.Text("Reason", readonly=True)
    payments = fields.Function(fields.Many2Many('account.payment', None,
            None, "Payments"), 'get_payments')
    state = fields.Selection([
            ('paid', "Paid"),
            ('review', "To Review"),
            ('unmatched', "Unmatched"),
            ('duplicate', "Duplicate"),
            ], "State", readonly=True, required=True, sort=False,
        help="Paid: the bill is paid. To review: money beyond what the "
        "bills owed was kept. Unmatched: no bill or another amount. "
        "Duplicate: the row is in the file twice.")
    reviewed = fields.Boolean("Reviewed", readonly=True,
        help="The staff have dealt with the row.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls.__access__.add('settlement')
        # a bank payment is imported once, whatever the file
        cls._sql_constraints += [
            ('trace_bill_unique',
                Exclude(t, (t.trace_number, Equal), (t.bill_id, Equal),
                    where=t.state != 'duplicate'),
                'water_payment_gateway.msg_settlement_line_unique'),
            ]
        cls._sql_indexes.add(Index(t,
                (t.state, Index.Equality(cardinality='low')),
                where=(t.state != 'paid') & (t.reviewed == False)))
        cls._order = [
            ('settlement', 'DESC'), ('line', 'ASC'), ('id', 'ASC')]
        cls._buttons.update({
                'receive': {
                    'invisible': Eval('state') != 'unmatched',
                    'readonly': ~Eval('bill'),
                    'depends': ['state', 'bill'],
                    },
                'mark_reviewed': {
                    'invisible': (Eval('state') == 'paid')
                    | Eval('reviewed', False),
                    'depends': ['state', 'reviewed'],
                    },
                })

    @classmethod
    def default_state(cls):
        return 'unmatched'

    @classmethod
    def default_reviewed(cls):
        return False

    @fields.depends('settlement', '_parent_settlement.company')
    def on_change_with_company(self, name=None):
        return self.settlement.company if self.settlement else None

    @classmethod
    def search_company(cls, name, clause):
        return [('settlement.' + clause[0],) + tuple(clause[1:])]

    @fields.depends('bill', '_parent_bill.party')
    def on_change_with_party(self, name=None):
        return self.bill.party if self.bill else None

    @property
    def reference(self):
        "The reference of the payments of the row"
        return f'{self.trace_number}/{self.bill_id}'

    @classmethod
    def get_payments(cls, lines, name):
        Payment = Pool().get('account.payment')
        result = {l.id: [] for l in lines}
        by_reference = defaultdict(list)
        # a duplicate row shares the reference of the row it repeats
        lines = [l for l in lines if l.state in {'paid', 'review'}]
        for line in lines:
            by_reference[line.settlement.journal.id, line.reference].append(
                line.id)
        for sub_lines in grouped_slice(lines, 500):
            sub_lines = list(sub_lines)
            for payment in Payment.search([
                        ('reference', 'in',
                            list({l.reference for l in sub_lines})),
                        ('journal', 'in',
                            list({l.settlement.journal.id
                                    for l in sub_lines})),
                        ], order=[('id', 'ASC')]):
                for line_id in by_reference.get(
                        (payment.journal.id, payment.reference), []):
                    result[line_id].append(payment.id)
        return result

    def get_rec_name(self, name):
        return f'{self.trace_number} {self.bill_id}'

    @classmethod
    def search_rec_name(cls, name, clause):
        return ['OR',
            ('trace_number',) + tuple(clause[1:]),
            ('bill_id',) + tuple(clause[1:]),
            ]

    @classmethod
    def _receive(cls, lines):
        "Receive the amount of each line for its bill, oldest first"
        for line in sorted(lines, key=lambda l: (l.date, l.line)):
            payments = line.bill.receive(line.settlement.journal,
                line.amount, line.date, line.reference)
            if any(p.review for p in payments):
                line.state = 'review'
                line.reason = gettext(
                    'water_payment_gateway.msg_settlement_overpaid',
                    amount=sum(p.amount for p in payments if p.review))
            else:
                line.state = 'paid'
        cls.save(lines)

    @classmethod
    @ModelView.button
    def receive(cls, lines):
        """Receive the unmatched lines for the bill the staff chose, as a
        matched row would have been"""
        lines = [l for l in lines if l.state == 'unmatched' and l.bill]
        with without_check_access():
            cls._receive(lines)

    @classmethod
    @ModelView.button
    def mark_reviewed(cls, lines):
        cls.write(lines, {'reviewed': True})


class Report:
    "What an import did, or would do, and the rows it rejected"

    def __init__(self, dry_run=False):
        self.dry_run = dry_run
        self.paid = 0
        self.amount = 0
        self.skipped = 0
        # (line, reason) of the rows kept for the staff
        self.review = []
        self.unmatched = []
        self.duplicates = []
        self.rejections = []
        self.settlement = None

    def __str__(self):
        if self.rejections:
            return '\n'.join([
                    f"{len(self.rejections)} problem(s), nothing imported:"]
                + [f'  {r}' for r in self.rejections])
        lines = []
        if self.paid or self.review:
            lines.append(f"{self.paid + len(self.review)} bills paid, "
                f"{self.amount:,} rials")
        for items, text in [
                (self.review, "paid beyond what the bills owed, the rest "
                    "kept for review"),
                (self.unmatched, "unmatched, kept for review"),
                (self.duplicates, "duplicate rows, kept for review")]:
            if items:
                lines.append(f"{len(items)} {text}:")
                lines.extend(f'  line {l}: {r}' for l, r in items)
        if self.skipped:
            lines.append(f"{self.skipped} already imported, skipped")
        if not lines:
            lines.append("nothing to import")
        if self.dry_run:
            lines.insert(0, "check only, nothing written")
        return '\n'.join(lines)


def import_settlement(text, dry_run=False, filename=None):
    """Import the CSV text of a bank's settlement in the context company;
    return the Report. With dry_run, or when a row is rejected, nothing is
    written."""
    pool = Pool()
    Configuration = pool.get('water.configuration')
    Settlement = pool.get('water.settlement')
    Line = pool.get('water.settlement.line')
    report = Report(dry_run=dry_run)
    parsed = settlement_csv.parse(text)
    report.rejections.extend(parsed.rejections)
    company = Transaction().context.get('company')
    journal = Configuration(1).get_multivalue(
        'settlement_journal', company=company) if company else None
    if not journal:
        report.rejections.insert(0, Rejection(1, None, gettext(
                    'water_payment_gateway.msg_settlement_no_journal')))
    if report.rejections:
        return report
    rows = _new_rows(parsed.rows, report)
    _check_dates(rows, journal.company, report)
    if report.rejections:
        return report
    bills = _bills(rows)
    lines = []
    for row in rows:
        line = Line(line=row.line, bill_id=row.bill_id,
            payment_id=row.payment_id, amount=row.amount, date=row.date,
            trace_number=row.trace_number, channel=row.channel)
        bill = bills.get((row.bill_id, row.payment_id))
        if row.duplicate_of:
            line.state = 'duplicate'
            line.reason = gettext(
                'water_payment_gateway.msg_settlement_duplicate',
                line=row.duplicate_of)
            report.duplicates.append((row.line, line.reason))
        elif not bill:
            line.state = 'unmatched'
            line.reason = gettext(
                'water_payment_gateway.msg_settlement_no_bill',
                bill_id=row.bill_id, payment_id=row.payment_id)
            report.unmatched.append((row.line, line.reason))
        elif row.amount != row.payment_amount:
            line.state = 'unmatched'
            line.bill = bill
            line.reason = gettext(
                'water_payment_gateway.msg_settlement_amount',
                amount=row.amount, expected=row.payment_amount)
            report.unmatched.append((row.line, line.reason))
        else:
            line.state = 'paid'
            line.bill = bill
            report.paid += 1
            report.amount += row.amount
        lines.append(line)
    if dry_run or not lines:
        return report
    settlement = Settlement(company=journal.company, journal=journal,
        filename=filename, file=text.encode('utf-8'), lines=lines)
    settlement.save()
    lines = settlement.lines
    Line._receive([l for l in lines if l.state == 'paid'])
    report.review = [(l.line, l.reason) for l in lines
        if l.state == 'review']
    report.paid = len([l for l in lines if l.state == 'paid'])
    report.amount = sum(l.amount for l in lines
        if l.state in {'paid', 'review'})
    settlement.report = str(report)
    settlement.save()
    report.settlement = settlement
    return report


def _new_rows(rows, report):
    "The rows not imported before; the others are counted as skipped"
    Line = Pool().get('water.settlement.line')
    imported = set()
    for sub_rows in grouped_slice(rows, 500):
        sub_rows = list(sub_rows)
        for line in Line.search([
                    ('trace_number', 'in',
                        list({r.trace_number for r in sub_rows})),
                    ('state', '!=', 'duplicate'),
                    ]):
            imported.add((line.trace_number, line.bill_id))
    new = [r for r in rows if r.key not in imported]
    report.skipped = len(rows) - len(new)
    return new


def _check_dates(rows, company, report):
    "Each day paid has an open period and is not in the future"
    pool = Pool()
    Date = pool.get('ir.date')
    Period = pool.get('account.period')
    with Transaction().set_context(company=company.id):
        today = Date.today()
    dates = {}
    for row in rows:
        if row.date > today:
            reason = "is in the future"
        elif row.date not in dates:
            periods = Period.search([
                    ('company', '=', company.id),
                    ('start_date', '<=', row.date),
                    ('end_date', '>=', row.date),
                    ('type', '=', 'standard'),
                    ('state', '=', 'open'),
                    ], limit=1)
            dates[row.date] = None if periods else (
                "no open accounting period on "
                f"{jalali.format_date(row.date)}")
            reason = dates[row.date]
        else:
            reason = dates[row.date]
        if reason:
            report.rejections.append(Rejection(row.line, 'date', reason))


def _bills(rows):
    "The posted bill of each (bill ID, payment ID), the latest if several"
    Bill = Pool().get('water.bill')
    bills = {}
    for sub_rows in grouped_slice(rows, 500):
        sub_rows = list(sub_rows)
        for bill in Bill.search([
                    ('bill_id', 'in', list({r.bill_id for r in sub_rows})),
                    ('payment_id', 'in',
                        list({r.payment_id for r in sub_rows})),
                    ('state', '=', 'posted'),
                    ], order=[('date', 'ASC'), ('id', 'ASC')]):
            bills[bill.bill_id, bill.payment_id] = bill
    return bills


class ImportSettlement(CsvImportMixin, Wizard):
    "Import Bank Settlement"
    __name__ = 'water.settlement.import'
    start = StateView('water.settlement.import.start',
        'water_payment_gateway.settlement_import_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Check", 'check', 'tryton-search'),
            Button("Import", 'import_', 'tryton-ok', default=True),
            ])
    check = StateTransition()
    import_ = StateTransition()
    result = StateView('water.settlement.import.start',
        'water_payment_gateway.settlement_import_result_view_form', [
            Button("Close", 'end', 'tryton-close', default=True),
            ])

    _error = SettlementError
    _msg_not_utf8 = 'water_payment_gateway.msg_settlement_not_utf8'
    _msg_rejected = 'water_payment_gateway.msg_settlement_rejected'

    def _import(self, text, dry_run):
        # the staff allowed to import need no right on payments and moves
        with without_check_access():
            return import_settlement(text, dry_run=dry_run,
                filename=self.start.filename)


class ImportSettlementStart(ModelView):
    "Import Bank Settlement"
    __name__ = 'water.settlement.import.start'
    file = fields.Binary("File", required=True, filename='filename',
        help="The bank's settlement CSV in UTF-8: bill_id, payment_id, "
        "amount, date (Jalali or Gregorian), trace_number and optionally "
        "channel.")
    filename = fields.Char("File Name")
    report = fields.Text("Report", readonly=True)
