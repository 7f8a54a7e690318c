# This file is part of the water utility modules.
"""Tests of money received for bills: the payments allocated oldest line
first, cleared through the journal's clearing account, invoices paid,
the remainder carried to the next bill, money that pays nothing kept for
review, and the receivable and clearing accounts to the rial."""
from decimal import Decimal

from trytond.modules.water_billing.tests.fixtures import (
    add_mobile, bill, create_subscriber, import_tariffs, read_meter,
    receivable_balance, with_company)
from trytond.modules.water_crm.tests.test_crm import create_party
from trytond.pool import Pool

from .payment_tools import (
    PaymentTestCase, account_balance, create_journal, unpaid)


def bills_of(number, values):
    """A subscriber billed for a reading on each (date, value), each bill
    posted before the next one is computed"""
    subscription = create_subscriber(number, install_date='1397/01/01',
        initial_reading=100)
    return subscription, [bill([read_meter(subscription, date, value)])[0]
        for date, value in values]


class ReceiveTestCase(PaymentTestCase):
    "Test payments of bills"

    @with_company
    def test_invoice_paid(self):
        "Paying what an invoice owes makes it paid and clears the amount"
        Payment = Pool().get('account.payment')
        import_tariffs()
        journal = create_journal()
        _, (first,) = bills_of(5001, [('1397/03/01', 120)])
        invoice = first.invoice

        payments = Payment.water_receive(journal, first.party,
            invoice.lines_to_pay, invoice.total_amount,
            first.date, 'T-1', origin=first)

        payment, = payments
        self.assertEqual(payment.state, 'succeeded')
        self.assertEqual(payment.line, invoice.lines_to_pay[0])
        self.assertEqual(payment.clearing_move.state, 'posted')
        self.assertFalse(payment.review)
        invoice = invoice.__class__(invoice.id)
        self.assertEqual(invoice.state, 'paid')
        self.assertTrue(first.__class__(first.id).paid)
        self.assertEqual(receivable_balance(first.party), 0)
        self.assertEqual(account_balance(journal.clearing_account),
            invoice.total_amount)

    @with_company
    def test_payable_carries_remainder(self):
        """Paying the payable leaves the amount below 1000 rials due; the
        next bill owes it as previous debt and its payment pays it first"""
        pool = Pool()
        Bill = pool.get('water.bill')
        Invoice = pool.get('account.invoice')
        import_tariffs()
        journal = create_journal()
        subscription, (first,) = bills_of(5002, [('1397/03/01', 120)])
        remainder = first.total % 1000
        self.assertTrue(remainder)

        first.receive(journal, first.payable, first.date, 'T-1')

        first = Bill(first.id)
        self.assertTrue(first.paid)
        self.assertEqual(first.amount_paid, first.payable)
        self.assertEqual(first.invoice.state, 'posted')
        self.assertEqual(first.invoice.amount_to_pay, remainder)
        self.assertEqual(Bill.search([('paid', '=', True)]), [first])

        second, = bill([read_meter(subscription, '1397/05/01', 140)])
        self.assertEqual(second.previous_debt, remainder)
        self.assertEqual(second.total_payable, second.total + remainder)
        self.assertFalse(second.paid)
        self.assertEqual(Bill.search([('paid', '=', False),
                    ('subscription', '=', subscription.id)]), [second])

        payments = second.receive(
            journal, second.payable, second.date, 'T-2')

        self.assertEqual([(p.line.move.origin, p.amount) for p in payments],
            [(first.invoice, remainder),
                (second.invoice, second.payable - remainder)])
        self.assertEqual(Invoice(first.invoice.id).state, 'paid')
        second = Bill(second.id)
        self.assertTrue(second.paid)
        self.assertEqual(second.invoice.amount_to_pay,
            second.total_payable - second.payable)
        self.assertEqual(receivable_balance(second.party),
            unpaid([first, second]))
        self.assertEqual(account_balance(journal.clearing_account),
            first.payable + second.payable)

    @with_company
    def test_partial(self):
        """A part of a bill leaves the rest open, owed by the next bill,
        and the invoice is paid once the parts cover it"""
        pool = Pool()
        Bill = pool.get('water.bill')
        Invoice = pool.get('account.invoice')
        import_tariffs()
        journal = create_journal()
        subscription, (first,) = bills_of(5003, [('1397/03/01', 120)])

        first.receive(journal, Decimal(100000), first.date, 'P-1')

        first = Bill(first.id)
        self.assertFalse(first.paid)
        self.assertEqual(first.amount_paid, 100000)
        self.assertEqual(first.invoice.amount_to_pay, first.total - 100000)
        self.assertEqual(receivable_balance(first.party),
            first.total - 100000)
        second, = bill([read_meter(subscription, '1397/05/01', 140)])
        self.assertEqual(second.previous_debt, first.total - 100000)

        payments = second.receive(
            journal, second.payable, second.date, 'P-2')

        self.assertEqual(payments[0].amount, first.total - 100000)
        self.assertEqual(Invoice(first.invoice.id).state, 'paid')
        self.assertTrue(Bill(second.id).paid)
        self.assertEqual(receivable_balance(second.party),
            unpaid([first, second]))
        self.assertEqual(unpaid([first, second]),
            second.total_payable - second.payable)

    @with_company
    def test_overpayment(self):
        """Money beyond what is open is kept as a payment without line to
        review, credited to the subscriber; a bill paid twice keeps the
        second payment whole"""
        pool = Pool()
        Bill = pool.get('water.bill')
        Payment = pool.get('account.payment')
        import_tariffs()
        journal = create_journal()
        _, (first,) = bills_of(5004, [('1397/03/01', 120)])
        total = first.total

        payments = first.receive(journal, total + 5000, first.date, 'O-1')

        paid, extra = payments
        self.assertEqual((paid.amount, paid.review), (total, False))
        self.assertEqual((extra.line, extra.amount, extra.review),
            (None, 5000, True))
        self.assertEqual(extra.state, 'succeeded')
        self.assertEqual(first.invoice.__class__(first.invoice.id).state,
            'paid')
        self.assertEqual(receivable_balance(first.party), -5000)

        again = first.receive(journal, first.payable, first.date, 'O-2')

        again, = again
        self.assertEqual((again.line, again.amount, again.review),
            (None, first.payable, True))
        self.assertEqual(set(Payment.search([('review', '=', True)])),
            {again, extra})
        self.assertEqual(receivable_balance(first.party),
            -5000 - first.payable)
        self.assertEqual(account_balance(journal.clearing_account),
            total + 5000 + first.payable)
        self.assertEqual(Bill(first.id).amount_paid,
            total + 5000 + first.payable)

    @with_company
    def test_nothing_to_pay(self):
        "Money with no open line at all is kept for review"
        Payment = Pool().get('account.payment')
        journal = create_journal()
        party = create_party("ناشناس")

        payment, = Payment.water_receive(journal, party, [],
            Decimal(250000), journal.company.create_date.date(), 'N-1')

        self.assertEqual((payment.state, payment.review, payment.line),
            ('succeeded', True, None))
        self.assertEqual(receivable_balance(party), -250000)
        self.assertEqual(account_balance(journal.clearing_account), 250000)

    @with_company
    def test_idempotent_and_sms(self):
        """Receiving again with the same reference changes nothing; the
        subscriber gets one SMS"""
        pool = Pool()
        Payment = pool.get('account.payment')
        Sms = pool.get('water.sms')
        import_tariffs()
        journal = create_journal()
        _, (first,) = bills_of(5005, [('1397/03/01', 120)])
        add_mobile(first.party)

        payments = first.receive(journal, first.payable, first.date, 'I-1')
        again = first.receive(journal, first.payable, first.date, 'I-1')

        self.assertEqual(again, payments)
        self.assertEqual(Payment.search([], count=True), len(payments))
        sms, = Sms.search([])
        self.assertEqual((sms.mobile, sms.party, sms.origin),
            ('09121234567', first.party, first))
        self.assertIn(first.subscription.number, sms.body)
        self.assertEqual(account_balance(journal.clearing_account),
            first.payable)

    @with_company
    def test_receivable_equals_unpaid(self):
        """After payments of every kind each party's receivable equals
        what its bills still owe"""
        import_tariffs()
        journal = create_journal()
        # bill numbers follow the dates: every first bill, then the second
        subscriptions = [create_subscriber(n, install_date='1397/01/01',
                initial_reading=100) for n in [5011, 5012, 5013]]
        first, second, third = subscriptions
        bills = {s: [] for s in subscriptions}
        # each bill paid before the next one is computed, as in life
        for date, value, payments in [
                ('1397/03/01', 120, [(second, 'payable'), (third, 50000)]),
                ('1397/05/01', 135, [(third, 'payable'), (first, 900)])]:
            for subscription in subscriptions:
                bills[subscription] += bill(
                    [read_meter(subscription, date, value)])
            for subscription, amount in payments:
                bill_ = bills[subscription][-1]
                if amount == 'payable':
                    amount = bill_.payable
                bill_.receive(journal, Decimal(amount), bill_.date,
                    f'R-{bill_.id}')
        parties = [(s.party, bills[s]) for s in subscriptions]

        for party, bills in parties:
            with self.subTest(party=party.rec_name):
                self.assertEqual(receivable_balance(party), unpaid(bills),
                    [(b.total, b.previous_debt, b.payable, b.amount_paid,
                            b.invoice.amount_to_pay, b.invoice.state,
                            [(p.amount, p.line and p.line.id, p.review)
                                for p in b.payments]) for b in bills])

