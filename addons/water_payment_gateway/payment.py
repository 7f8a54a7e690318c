# This file is part of the water utility modules.
"""Money received for bills, whatever the channel (gateway, bank
settlement, office): receivable payments allocated to the open lines
oldest first, processed and succeeded at once, so that
account_payment_clearing posts the clearing move and the invoices they
cover in full become paid. Money that pays no open line is kept as a
payment without line, marked for review, never dropped."""
from collections import defaultdict
from decimal import Decimal

from sql import Cast
from sql.aggregate import Sum
from sql.operators import Concat

from trytond import backend
from trytond.model import fields
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction


class Payment(metaclass=PoolMeta):
    __name__ = 'account.payment'

    review = fields.Boolean("To Review",
        help="Money received that paid no open bill: "
        "the staff decide what it is for, then clear the box.")

    @classmethod
    def default_review(cls):
        return False

    @classmethod
    def _get_origin(cls):
        return super()._get_origin() + ['water.bill']

    @classmethod
    def water_received(cls, journal, reference):
        "The payments already received on journal with reference"
        if not reference:
            return []
        return cls.search([
                ('journal', '=', journal.id),
                ('reference', '=', reference),
                ('state', '!=', 'failed'),
                ], order=[('id', 'ASC')])

    @classmethod
    def water_receive(cls, journal, party, lines, amount, date, reference,
            origin=None):
        """Record amount received on the payment journal at date from
        party for the receivable move lines, oldest first; return the
        succeeded payments.

        Each line gets a payment of what is still open on it, the last
        one possibly a part; what is left (or everything, without open
        lines) is a payment without line on the party's receivable
        account, marked for review. A line paid in full, with its earlier
        partial payments, is reconciled, and its invoice becomes paid.

        With a reference, the payments already received on the journal
        with it are returned instead and nothing is created."""
        pool = Pool()
        Group = pool.get('account.payment.group')
        Line = pool.get('account.move.line')
        Move = pool.get('account.move')
        if amount <= 0:
            raise ValueError(f"amount must be positive: {amount}")
        if received := cls.water_received(journal, reference):
            return received
        # two receipts at once must not both pay what is open on a line
        Line.lock(lines)
        lines = Line.browse(lines)
        open_amounts = cls._water_open_amounts(lines)
        payments = []
        remaining = amount
        for line in lines:
            part = min(remaining, open_amounts[line])
            if part <= 0:
                continue
            payments.append(cls._water_new(journal, line.party, part, date,
                    reference, origin, line=line))
            remaining -= part
        if remaining > 0:
            payments.append(cls._water_new(journal, party, remaining, date,
                    reference, origin,
                    account=party.account_receivable_used, review=True))
        cls.save(payments)
        with Transaction().set_context(
                _skip_warnings=True, clearing_date=date):
            cls.submit(payments)
            if journal.process_method in cls.process_method_with_group():
                def group():
                    group = Group(company=journal.company, journal=journal,
                        kind='receivable')
                    group.save()
                    return group
                cls.process(payments, group)
            else:
                cls.process(payments)
            cls.succeed(payments)
        payments = cls.browse(payments)
        Move.post([p.clearing_move for p in payments
                if p.clearing_move and p.clearing_move.state == 'draft'])
        cls._water_reconcile([p.line for p in payments if p.line])
        return cls.browse(payments)

    @classmethod
    def _water_new(cls, journal, party, amount, date, reference, origin,
            **values):
        return cls(company=journal.company, journal=journal,
            kind='receivable', party=party, amount=amount, date=date,
            reference=reference, origin=origin, **values)

    @classmethod
    def _water_open_amounts(cls, lines):
        """What is still to pay on each line: its amount less the pending
        payments, and for invoice lines no more than what the invoice
        still owes (a cash payment may have paid a part)"""
        pool = Pool()
        Invoice = pool.get('account.invoice')
        amounts = {}
        invoices = defaultdict(list)
        for line in lines:
            if line.reconciliation or not line.payment_amount:
                amounts[line] = Decimal(0)
                continue
            amounts[line] = max(line.payment_amount, Decimal(0))
            if isinstance(line.move_origin, Invoice):
                invoices[line.move_origin].append(line)
        if invoices:
            to_pay = Invoice.get_amount_to_pay(
                list(invoices), 'amount_to_pay')
            for invoice, invoice_lines in invoices.items():
                left = to_pay[invoice.id]
                for line in invoice_lines:
                    amounts[line] = max(min(amounts[line], left), 0)
                    left -= amounts[line]
        return amounts

    @classmethod
    def _water_reconcile(cls, lines):
        """Reconcile each invoice (or line) whose succeeded payments now
        cover it, also when several partial payments did, and mark the
        invoices paid at once rather than from the queue"""
        pool = Pool()
        Invoice = pool.get('account.invoice')
        Line = pool.get('account.move.line')
        lines = Line.browse(lines)
        groups = {}
        for line in lines:
            origin = line.move_origin
            if isinstance(origin, Invoice):
                groups[origin] = list(origin.lines_to_pay) + list(
                    origin.payment_lines)
            else:
                groups[line] = [line]
        to_reconcile = []
        for to_pay in groups.values():
            group = [l for l in to_pay if not l.reconciliation]
            for line in list(group):
                for payment in line.payments:
                    if payment.state != 'succeeded':
                        continue
                    group.extend(l for l in payment.clearing_move.lines
                        if l.account == line.account
                        and not l.reconciliation)
            group = list(set(group))
            if group and not sum(l.debit - l.credit for l in group):
                to_reconcile.append(group)
        if to_reconcile:
            Line.reconcile(*to_reconcile)
        invoices = [i for i in groups if isinstance(i, Invoice)]
        if invoices:
            Invoice.process(Invoice.browse(invoices))


class Bill(metaclass=PoolMeta):
    __name__ = 'water.bill'

    payments = fields.One2Many('account.payment', 'origin', "Payments",
        readonly=True)
    amount_paid = fields.Function(fields.Numeric("Amount Paid",
            digits=(16, 0)), 'get_amount_paid')

    @classmethod
    def _paid_query(cls):
        "The ids of the bills whose succeeded payments cover their payable"
        Payment = Pool().get('account.payment')
        bill = cls.__table__()
        payment = Payment.__table__()
        amount, payable = payment.amount, bill.payable
        if backend.name == 'sqlite':
            # SQLite compares the stored decimals as blobs
            amount = Cast(amount, Payment.amount.sql_type().base)
            payable = Cast(payable, cls.payable.sql_type().base)
        return bill.join(payment, condition=payment.origin == Concat(
                'water.bill,', Cast(bill.id, 'VARCHAR'))
            ).select(bill.id,
            where=(payment.state == 'succeeded') & (payable > 0),
            group_by=[bill.id, bill.payable],
            having=Sum(amount) >= payable)

    @classmethod
    def get_amount_paid(cls, bills, name):
        "The succeeded payments received for each bill"
        Payment = Pool().get('account.payment')
        payment = Payment.__table__()
        cursor = Transaction().connection.cursor()
        amounts = {b.id: Decimal(0) for b in bills}
        origins = [f'{cls.__name__},{b.id}' for b in bills]
        for index in range(0, len(origins), 500):
            cursor.execute(*payment.select(
                    payment.origin, Sum(payment.amount),
                    where=payment.origin.in_(origins[index:index + 500])
                    & (payment.state == 'succeeded'),
                    group_by=payment.origin))
            for origin, amount in cursor:
                amounts[int(origin.split(',')[1])] = Decimal(amount or 0)
        return amounts

    @classmethod
    def get_paid(cls, bills, name):
        """Paid when the invoice is, or when the payments received for
        the bill cover its payable (the remainder below the rounding is
        carried to the next bill)"""
        paid = super().get_paid(bills, name)
        amounts = cls.get_amount_paid(bills, 'amount_paid')
        for bill in bills:
            if bill.payable and amounts[bill.id] >= bill.payable:
                paid[bill.id] = True
        return paid

    @classmethod
    def search_paid(cls, name, clause):
        _, operator, value = clause
        if (operator == '=') == bool(value):
            return ['OR',
                super().search_paid(name, clause),
                ('id', 'in', cls._paid_query()),
                ]
        return [
            super().search_paid(name, clause),
            ('id', 'not in', cls._paid_query()),
            ]

    @classmethod
    def open_lines(cls, bills):
        """The open receivable lines each bill's payable covers: those of
        the posted bills of its subscription up to it, oldest first"""
        subscriptions = {b.subscription.id for b in bills}
        earlier = cls.search([
                ('subscription', 'in', list(subscriptions)),
                ('state', '=', 'posted'),
                ('invoice.state', '=', 'posted'),
                ], order=[('date', 'ASC'), ('period_end', 'ASC'),
                ('id', 'ASC')])
        result = {}
        for bill in bills:
            key = (bill.date, bill.period_end, bill.id)
            result[bill] = [line
                for other in earlier
                if other.subscription == bill.subscription
                and (other.date, other.period_end, other.id) <= key
                for line in sorted(other.invoice.lines_to_pay,
                    key=lambda l: (l.maturity_date, l.id))
                if not line.reconciliation]
        return result

    def receive(self, journal, amount, date, reference):
        """Record amount paid for the bill on the payment journal (see
        account.payment water_receive) and send the subscriber the paid
        SMS; return the payments. Receiving again with the same reference
        changes nothing."""
        Payment = Pool().get('account.payment')
        if received := Payment.water_received(journal, reference):
            return received
        lines = self.open_lines([self])[self]
        payments = Payment.water_receive(journal, self.party, lines,
            amount, date, reference, origin=self)
        self.send_paid_sms(amount, date, reference)
        return payments
