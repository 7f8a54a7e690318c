# This file is part of the water utility modules.
"""Tests of the accountants' payments per day and journal: the figures
equal the payments made and the movements of each clearing account."""
import csv
import io
from decimal import Decimal

from trytond.modules.water_billing.tests.fixtures import (
    D, import_tariffs, with_company)
from trytond.modules.water_crm.tests.test_crm import create_party
from trytond.pool import Pool

from .payment_tools import PaymentTestCase, account_balance, create_journal
from .test_payment import bills_of


def clearing_movement(journal, date):
    "Debit and credit of the journal's clearing account on date"
    MoveLine = Pool().get('account.move.line')
    lines = MoveLine.search([
            ('account', '=', journal.clearing_account.id),
            ('move.date', '=', date),
            ])
    return (sum((l.debit for l in lines), Decimal(0)),
        sum((l.credit for l in lines), Decimal(0)))


def stray_move(journal, date, amount):
    "A posted move from the cash account to the journal's clearing account"
    pool = Pool()
    Account = pool.get('account.account')
    Journal = pool.get('account.journal')
    Move = pool.get('account.move')
    Period = pool.get('account.period')
    cash, = Account.search([('code', '=', '1.1.1')])
    cash_journal, = Journal.search([('code', '=', 'CASH')])
    move = Move(journal=cash_journal, date=date,
        period=Period.find(cash.company, date=date), lines=[
            {'account': journal.clearing_account.id, 'debit': amount,
                'credit': 0},
            {'account': cash.id, 'debit': 0, 'credit': amount},
            ])
    move.save()
    Move.post([move])


class PaymentDayTestCase(PaymentTestCase):
    "Test the payments per day"

    @with_company
    def test_days(self):
        """Each day and journal counts its succeeded payments and sums
        them and the clearing account's movements"""
        pool = Pool()
        Day = pool.get('water.payment.day')
        Payment = pool.get('account.payment')
        Report = pool.get('water.payment.day.csv', type='report')
        import_tariffs()
        bank = create_journal("Bank Channel", '1.1.5')
        gateway = create_journal("Gateway", '1.1.6')
        _, (first,) = bills_of(7001, [('1397/03/01', 120)])
        _, (second,) = bills_of(7002, [('1397/03/01', 130)])
        party = create_party("ناشناس")
        day1, day2 = D('1397/03/10'), D('1397/03/11')
        first.receive(bank, Decimal(100000), day1, 'B-1')
        second.receive(bank, second.payable, day1, 'B-2')
        first.receive(gateway, first.payable - 100000, day2, 'G-1')
        Payment.water_receive(gateway, party, [], Decimal(7000), day2, 'G-2')
        # a gateway payment the bank reversed the same day: its clearing
        # move is cancelled
        reversed_, = Payment.water_receive(gateway, party, [],
            Decimal(5000), day2, 'G-3')
        Payment.fail([reversed_])
        # money in the clearing account without a payment
        stray_move(gateway, day2, Decimal(3000))

        days = Day.search([], order=[('date', 'ASC'), ('journal', 'ASC')])

        self.assertEqual([(d.date_jalali, d.journal, d.payment_count,
                    d.payment_amount, d.clearing_debit, d.clearing_credit,
                    d.difference) for d in days], [
                ('1397/03/10', bank, 2, 100000 + second.payable,
                    100000 + second.payable, 0, 0),
                ('1397/03/11', gateway, 2, first.payable - 100000 + 7000,
                    first.payable - 100000 + 7000 + 3000, 0, -3000),
                ])
        for day in days:
            self.assertEqual((day.clearing_debit, day.clearing_credit),
                clearing_movement(day.journal, day.date))
            self.assertEqual(day.payment_amount, sum(p.amount
                    for p in Payment.search([
                            ('journal', '=', day.journal.id),
                            ('date', '=', day.date),
                            ('state', '=', 'succeeded')])))
        for journal in [bank, gateway]:
            self.assertEqual(account_balance(journal.clearing_account),
                sum(d.clearing_debit - d.clearing_credit
                    for d in days if d.journal == journal))
        self.assertEqual(Day.search([('difference', '!=', 0)]), [days[1]])
        self.assertEqual(Day.search([('journal', '=', bank.id)]), [days[0]])

        extension, content, _, name = Report.execute(
            [d.id for d in days], {})
        self.assertEqual((extension, name),
            ('csv', 'payments-13970310-13970311'))
        rows = list(csv.DictReader(io.StringIO(content.decode())))
        self.assertEqual([(r['date_jalali'], r['date'], r['journal'],
                    r['payments'], r['amount_paid'], r['difference'])
                for r in rows], [
                ('1397/03/10', '2018-05-31', 'Bank Channel', '2',
                    str(100000 + second.payable), '0'),
                ('1397/03/11', '2018-06-01', 'Gateway', '2',
                    str(first.payable - 100000 + 7000), '-3000'),
                ])
