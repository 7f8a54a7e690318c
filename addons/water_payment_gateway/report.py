# This file is part of the water utility modules.
"""For the accountants: the payments received per day and payment journal
(each gateway and the bank channel has its own) next to the movements of
the journal's clearing account on that day, to compare with the bank's
statement. A difference means a clearing move without its payment (or the
other way round), e.g. a payment failed after it had succeeded."""
import csv
import io

from sql import Cast, Literal, Union
from sql.aggregate import Count, Sum
from sql.conditionals import Coalesce
from sql.functions import CurrentTimestamp, RowNumber
from sql.functions import Window

from trytond import backend
from trytond.model import ModelSQL, ModelView, fields
from trytond.modules.water_crm import jalali
from trytond.modules.water_crm.common import JalaliDate, JalaliMixin
from trytond.pool import Pool
from trytond.report import Report


class PaymentDay(JalaliMixin, ModelSQL, ModelView):
    "Payments per Day"
    __name__ = 'water.payment.day'
    company = fields.Many2One('company.company', "Company", readonly=True)
    journal = fields.Many2One('account.payment.journal', "Journal",
        readonly=True)
    date = fields.Date("Date", readonly=True)
    date_jalali = JalaliDate("Date (Jalali)")
    payment_count = fields.Integer("Payments", readonly=True,
        help="The receivable payments that succeeded on the day.")
    payment_amount = fields.Numeric("Amount Paid", digits=(16, 0),
        readonly=True)
    clearing_debit = fields.Numeric("Clearing Debit", digits=(16, 0),
        readonly=True,
        help="What the clearing account of the journal received that day.")
    clearing_credit = fields.Numeric("Clearing Credit", digits=(16, 0),
        readonly=True,
        help="What left the clearing account of the journal that day: "
        "cancelled payments, or the transfer of the bank's statement.")
    difference = fields.Numeric("Difference", digits=(16, 0), readonly=True,
        help="The amount paid less the debit of the clearing account; "
        "zero when every payment of the day is in the accounts.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('date', 'DESC'), ('journal', 'ASC'), ('id', 'DESC')]

    @classmethod
    def table_query(cls):
        pool = Pool()
        Payment = pool.get('account.payment')
        Journal = pool.get('account.payment.journal')
        Line = pool.get('account.move.line')
        Move = pool.get('account.move')
        payment = Payment.__table__()
        journal = Journal.__table__()
        line = Line.__table__()
        move = Move.__table__()

        def numeric(column):
            # SQLite sums the stored decimals as text
            if backend.name == 'sqlite':
                return Cast(column, cls.payment_amount.sql_type().base)
            return column

        zero = Literal(0)
        payments = payment.select(
            payment.company.as_('company'),
            payment.journal.as_('journal'),
            payment.date.as_('date'),
            Count(payment.id).as_('payment_count'),
            Sum(numeric(payment.amount)).as_('payment_amount'),
            zero.as_('clearing_debit'),
            zero.as_('clearing_credit'),
            where=(payment.state == 'succeeded')
            & (payment.kind == 'receivable'),
            group_by=[payment.company, payment.journal, payment.date])
        clearing = line.join(move, condition=line.move == move.id
            ).join(journal,
                condition=(line.account == journal.clearing_account)
                & (move.company == journal.company)
            ).select(
                journal.company.as_('company'),
                journal.id.as_('journal'),
                move.date.as_('date'),
                zero.as_('payment_count'),
                zero.as_('payment_amount'),
                Sum(numeric(line.debit)).as_('clearing_debit'),
                Sum(numeric(line.credit)).as_('clearing_credit'),
                group_by=[journal.company, journal.id, move.date])
        days = Union(payments, clearing, all_=True)
        amount = Sum(days.payment_amount)
        debit = Sum(days.clearing_debit)
        return days.select(
            RowNumber(window=Window([],
                    order_by=[days.date.asc, days.journal.asc])).as_('id'),
            Literal(0).as_('create_uid'),
            CurrentTimestamp().as_('create_date'),
            Literal(None).as_('write_uid'),
            Literal(None).as_('write_date'),
            days.company, days.journal, days.date,
            Sum(days.payment_count).as_('payment_count'),
            amount.as_('payment_amount'),
            debit.as_('clearing_debit'),
            Sum(days.clearing_credit).as_('clearing_credit'),
            (Coalesce(amount, 0) - Coalesce(debit, 0)).as_('difference'),
            group_by=[days.company, days.journal, days.date])


COLUMNS = [
    ('date_jalali', "date_jalali"),
    ('date', "date"),
    ('journal', "journal"),
    ('payment_count', "payments"),
    ('payment_amount', "amount_paid"),
    ('clearing_debit', "clearing_debit"),
    ('clearing_credit', "clearing_credit"),
    ('difference', "difference"),
    ]


def export_days(days):
    "The CSV text of the days, one row each, with a header"
    output = io.StringIO(newline='')
    writer = csv.writer(output, lineterminator='\n')
    writer.writerow([header for _, header in COLUMNS])
    for day in days:
        writer.writerow([
                day.date_jalali, day.date.isoformat(), day.journal.rec_name,
                day.payment_count, int(day.payment_amount or 0),
                int(day.clearing_debit or 0), int(day.clearing_credit or 0),
                int(day.difference or 0)])
    return output.getvalue()


class PaymentDayCsv(Report):
    "Payments per Day as CSV"
    __name__ = 'water.payment.day.csv'

    @classmethod
    def execute(cls, ids, data):
        PaymentDay = Pool().get('water.payment.day')
        days = sorted(PaymentDay.browse(ids),
            key=lambda d: (d.date, d.journal.rec_name))
        name = 'payments'
        if days:
            name = (f'payments-{jalali.format_date(days[0].date)}-'
                f'{jalali.format_date(days[-1].date)}').replace('/', '')
        return ('csv', export_days(days).encode('utf-8'), False, name)
