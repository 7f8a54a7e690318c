# This file is part of the water utility modules.
"""Tests of the bulk posting of bills: a bill posted in bulk has the very
invoice, taxes, move and move lines that Tryton's own saving and posting
give the same bill, and its invoice is paid by a reconciled payment."""
import datetime as dt
from decimal import Decimal
from unittest.mock import patch

from trytond.exceptions import UserError
from trytond.modules.water_crm.tests.test_crm import create_user
from trytond.pool import Pool
from trytond.transaction import Transaction

from .fixtures import (
    BillingTestCase, add_mobile, create_subscriber, get_company,
    import_tariffs, pay, read_meter, receivable_balance, with_company)

# what differs between two records of the same content
VOLATILE = {'id', 'create_date', 'create_uid', 'write_date', 'write_uid',
    'number', 'number_alnum', 'number_digit'}
# columns pointing to the records of one bill, compared by their role
OWN = {'party', 'invoice_address', 'invoice', 'move', 'move_line', 'line'}


def rows(table, column, ids, order):
    "The rows of table whose column is in ids, as dicts, in order"
    cursor = Transaction().connection.cursor()
    if not ids:
        return []
    cursor.execute(f'SELECT * FROM "{table}" WHERE "{column}" IN '
        f'({", ".join(str(int(i)) for i in ids)})')
    names = [d[0] for d in cursor.description]
    result = [dict(zip(names, r)) for r in cursor]
    return sorted(result, key=lambda r: [str(r[o]) for o in order])


def clean(row, number):
    """The row without its volatile columns, own links by their role and
    the subscription number replaced"""
    result = {}
    for name, value in row.items():
        if name in VOLATILE:
            continue
        if name in OWN:
            value = value is not None
        elif name == 'origin' and value:
            value = value.split(',')[0]
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = Decimal(str(value))
        elif isinstance(value, str):
            value = value.replace(number, 'NUMBER')
        result[name] = value
    return result


def snapshot(bill):
    "Every row the invoice of a bill wrote, cleaned for comparison"
    invoice = bill.invoice

    def clean_(row):
        return clean(row, bill.subscription.number)
    invoices = rows('account_invoice', 'id', [invoice.id], ['id'])
    lines = rows('account_invoice_line', 'invoice', [invoice.id],
        ['account'])
    line_taxes = rows(
        Pool().get('account.invoice.line-account.tax')._table, 'line',
        [l['id'] for l in lines], ['line', 'tax'])
    taxes = rows('account_invoice_tax', 'invoice', [invoice.id], ['tax'])
    moves = rows('account_move', 'id', [invoice.move.id], ['id'])
    move_lines = rows('account_move_line', 'move', [invoice.move.id],
        ['account', 'debit', 'credit'])
    tax_lines = rows('account_tax_line', 'move_line',
        [l['id'] for l in move_lines], ['tax', 'type', 'amount'])
    line_account = {l['id']: l['account'] for l in lines}
    move_line_account = {l['id']: l['account'] for l in move_lines}
    return {
        'invoice': [clean_(r) for r in invoices],
        'lines': [clean_(r) for r in lines],
        'line_taxes': [(line_account[r['line']], r['tax'])
            for r in line_taxes],
        'taxes': [clean_(r) for r in taxes],
        'move': [clean_(r) for r in moves],
        'move_lines': [clean_(r) for r in move_lines],
        'tax_lines': [(move_line_account[r['move_line']], clean_(r))
            for r in tax_lines],
        }


def post_tryton_way(bill):
    """Post the invoice of a saved bill as account_invoice does for one
    invoice: saved with its lines, taxes updated, then posted"""
    pool = Pool()
    Invoice = pool.get('account.invoice')
    InvoiceLine = pool.get('account.invoice.line')
    Configuration = pool.get('water.configuration')
    invoice = bill._get_invoice()
    invoice.save()
    InvoiceLine.save(bill._get_invoice_lines(invoice, Configuration(1)))
    Invoice.update_taxes([invoice])
    Invoice.post([invoice])
    bill.invoice = invoice
    bill.state = 'posted'
    bill.save()
    return bill


def twins():
    """Two subscribers with the same readings, a bill of each computed and
    saved, not posted"""
    Bill = Pool().get('water.bill')
    import_tariffs()
    bills = []
    for number in [8101, 8102]:
        subscription = create_subscriber(number, name="مشترک همزاد")
        read_meter(subscription, '1397/06/03', 150)
        reading = read_meter(subscription, '1397/07/30', 195)
        reading.__class__.accept(
            [reading] if reading.state == 'flagged' else [])
        bill, = Bill.compute([reading], reading.date)
        Bill.set_debt([bill])
        bill.save()
        bills.append(bill)
    return bills


class BillPostTestCase(BillingTestCase):
    "Test the bulk posting of bills"

    @with_company
    def test_same_as_tryton(self):
        """A bill posted in bulk writes the same invoice, lines, taxes,
        move, move lines and tax lines as Tryton's posting"""
        Bill = Pool().get('water.bill')
        bulk, reference = twins()
        Bill.post([bulk])
        post_tryton_way(reference)
        bulk, reference = Bill.browse([bulk, reference])

        self.maxDiff = None
        self.assertEqual(snapshot(bulk), snapshot(reference))
        for bill in [bulk, reference]:
            invoice = bill.invoice
            self.assertEqual(bill.state, 'posted')
            self.assertEqual(invoice.state, 'posted')
            self.assertTrue(invoice.number)
            self.assertEqual(invoice.move.state, 'posted')
            self.assertTrue(invoice.move.number)
            self.assertEqual(invoice.move.origin, invoice)
            self.assertEqual(invoice.party, bill.party)
            self.assertEqual(invoice.total_amount, bill.total)
            self.assertEqual(invoice.amount_to_pay, bill.total)
            self.assertEqual([l.debit for l in invoice.lines_to_pay],
                [bill.total])
            self.assertEqual(receivable_balance(bill.party), bill.total)
        self.assertEqual(len({bulk.invoice.number, reference.invoice.number}),
            2)

    @with_company
    def test_paid(self):
        """A payment reconciled with a bill posted in bulk pays its
        invoice, and the bill"""
        Bill = Pool().get('water.bill')
        bill, _ = twins()
        Bill.post([bill])
        self.assertFalse(bill.paid)

        invoice = pay(bill.invoice, bill.total)

        self.assertEqual(invoice.state, 'paid')
        self.assertEqual(invoice.amount_to_pay, 0)
        self.assertTrue(all(l.reconciliation for l in invoice.lines_to_pay))
        self.assertTrue(Bill(bill.id).paid)
        self.assertEqual(receivable_balance(bill.party), 0)

    @with_company
    def test_issued_sms(self):
        """A bill posted by the staff, not by a bill run, sends its
        subscriber the bill_issued SMS, once"""
        pool = Pool()
        Bill = pool.get('water.bill')
        Sms = pool.get('water.sms')
        bill, silent = twins()
        add_mobile(bill.party, '09121110008')
        with Transaction().set_user(create_user('biller', get_company(),
                    ['group_water', 'group_water_billing']).id), \
                Transaction().set_context(_check_access=True):
            Bill.post([Bill(bill.id), Bill(silent.id)])
        Bill.post([bill])

        sms, = Sms.search([])
        self.assertEqual((sms.mobile, sms.party, sms.origin),
            ('09121110008', bill.party, bill.subscription))
        bill = Bill(bill.id)
        for text in [bill.subscription.number, bill.payment_id,
                bill.bill_id]:
            self.assertIn(text, sms.body)

    @with_company
    def test_paid_at_office_sms(self):
        """A bill paid at the office through its invoice sends the
        subscriber the bill_paid SMS with the amount and the payment's
        number"""
        pool = Pool()
        Bill = pool.get('water.bill')
        Sms = pool.get('water.sms')
        bill, _ = twins()
        add_mobile(bill.party, '09121110009')
        Bill.post([bill])
        issued, = Sms.search([])

        invoice = pay(bill.invoice, 100000)

        sms, = Sms.search([('id', '!=', issued.id)])
        self.assertEqual((sms.mobile, sms.party, sms.origin),
            ('09121110009', bill.party, Bill(bill.id)))
        payment, = [l for l in invoice.payment_lines]
        self.assertIn(payment.move.number, sms.body)
        self.assertIn(bill.subscription.number, sms.body)
        self.assertIn('۱۰۰٬۰۰۰ ریال', sms.body)

    @with_company
    def test_due_reminder(self):
        """The cron recalls by SMS a bill still unpaid within the
        configured days before its due date, once; a paid bill and one
        due later are not recalled"""
        pool = Pool()
        Bill = pool.get('water.bill')
        Sms = pool.get('water.sms')
        Date = pool.get('ir.date')
        bill, paid = twins()
        add_mobile(bill.party, '09121110010')
        add_mobile(paid.party, '09121110011')
        Bill.post([bill, paid])
        pay(paid.invoice, paid.total)
        due, = {l.maturity_date for l in bill.invoice.lines_to_pay}
        issued = Sms.search([], count=True)

        def remind(today):
            with patch.object(Date, 'today', return_value=today):
                Bill.remind_due()
            return Sms.search([('body', 'like', '%مهلت پرداخت قبض%')])

        self.assertEqual(remind(due - dt.timedelta(days=4)), [])
        sms, = remind(due - dt.timedelta(days=3))
        self.assertEqual((sms.mobile, sms.origin),
            ('09121110010', bill.subscription))
        for text in [bill.payment_id, bill.bill_id]:
            self.assertIn(text, sms.body)
        self.assertTrue(Bill(bill.id).reminded)
        self.assertEqual(len(remind(due)), 1, "once")
        self.assertEqual(Sms.search([], count=True), issued + 1)

    @with_company
    def test_closed_period(self):
        "Bills of a closed period are refused, nothing is written"
        pool = Pool()
        Bill = pool.get('water.bill')
        Period = pool.get('account.period')
        Invoice = pool.get('account.invoice')
        bills = twins()
        period = Period.find(bills[0].company, date=bills[0].date)
        Period.close([period])

        with self.assertRaises(UserError) as context:
            Bill.post(bills)
        self.assertIn(period.rec_name, context.exception.message)
        self.assertEqual(Invoice.search([], count=True), 0)
        self.assertEqual({b.state for b in Bill.browse(bills)}, {'draft'})

    @with_company
    def test_numbers(self):
        """Bills posted in bulk take consecutive invoice and move numbers
        from their sequences, after those posted before"""
        Bill = Pool().get('water.bill')
        first, second = twins()
        post_tryton_way(first)
        Bill.post([second])
        prefixes, numbers = zip(*(b.invoice.number.rsplit('-', 1)
                for b in Bill.browse([first, second])))
        self.assertEqual(prefixes[0], prefixes[1])
        self.assertEqual(int(numbers[1]), int(numbers[0]) + 1)
        moves = [b.invoice.move for b in Bill.browse([first, second])]
        self.assertEqual(len({m.number for m in moves}), 2)
        self.assertTrue(all(m.post_date for m in moves))

    @with_company
    def test_party_account_and_term(self):
        """A subscriber's own receivable account and payment term go on his
        invoice; the others' invoices keep the configuration's"""
        pool = Pool()
        Bill = pool.get('water.bill')
        Account = pool.get('account.account')
        PaymentTerm = pool.get('account.invoice.payment_term')
        own, other = twins()
        receivable = own.party.account_receivable_used
        account, = Account.copy([receivable], default={
                'code': receivable.code + '.1', 'name': "Own Receivable"})
        term = PaymentTerm(name="Ten days", lines=[
                {'type': 'remainder', 'relativedeltas': [{'days': 10}]}])
        term.save()
        own.party.account_receivable = account
        own.party.customer_payment_term = term
        own.party.save()

        Bill.post([own, other])

        own, other = Bill.browse([own, other])
        self.assertEqual(own.invoice.account, account)
        self.assertEqual(own.invoice.payment_term, term)
        self.assertEqual([l.maturity_date for l in own.invoice.lines_to_pay],
            [own.date + dt.timedelta(days=10)])
        self.assertEqual(other.invoice.account, receivable)
        self.assertEqual(other.invoice.payment_term,
            other.party.customer_payment_term)
        self.assertNotEqual(other.invoice.payment_term, term)
