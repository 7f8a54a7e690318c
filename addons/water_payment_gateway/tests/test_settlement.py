# This file is part of the water utility modules.
"""Tests of the import of the bank's settlement: rows matched with bills
by bill ID and payment ID and paid through the bank channel journal,
unmatched and duplicate rows kept for review, a re-import that pays
nothing twice, and a bad file that writes nothing."""
import contextlib
import io
import os
import tempfile
from unittest.mock import patch

from trytond.modules.water_crm.cli import learn
from trytond.model.exceptions import ValidationError
from trytond.modules.water_billing import billid
from trytond.modules.water_billing.tests.fixtures import (
    LOCKED_TABLES, bill, create_subscriber, get_company, import_tariffs,
    read_meter, receivable_balance, with_company)
from trytond.modules.water_crm.cli import main
from trytond.modules.water_crm.jalali import format_date
from trytond.modules.water_payment_gateway import payment
from trytond.modules.water_payment_gateway.settlement import (
    import_settlement)
from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME
from trytond.transaction import Transaction, TransactionError

from .payment_tools import PaymentTestCase, account_balance, unpaid

HEADER = 'bill_id,payment_id,amount,date,trace_number\n'


def journal():
    Configuration = Pool().get('water.configuration')
    return Configuration(1).get_multivalue(
        'settlement_journal', company=get_company().id)


def two_subscribers():
    "Subscribers 6001 and 6002, each with one posted bill of 1397/03/01"
    first = create_subscriber(6001, install_date='1397/01/01',
        initial_reading=100)
    second = create_subscriber(6002, install_date='1397/01/01',
        initial_reading=100)
    return bill([read_meter(first, '1397/03/01', 120),
            read_meter(second, '1397/03/01', 130)])


def row(bill_, amount=None, date='1397/03/10', trace='1001',
        payment_id=None):
    return (f'{bill_.bill_id},{payment_id or bill_.payment_id},'
        f'{bill_.payable if amount is None else amount},{date},{trace}\n')


class SettlementTestCase(PaymentTestCase):
    "Test the import of bank settlements"

    @with_company
    def test_import(self):
        """Matched rows pay their bills; unmatched and duplicate rows are
        kept for review, nothing dropped"""
        pool = Pool()
        Bill = pool.get('water.bill')
        Line = pool.get('water.settlement.line')
        Settlement = pool.get('water.settlement')
        import_tariffs()
        first, second = two_subscribers()
        self.assertTrue(first.bill_id and first.payment_id)
        stranger = billid.make_bill_id(99999, 939)
        stranger_payment = billid.make_payment_id(50000, 1397, 3, stranger)
        text = HEADER + (row(first, trace='1001')
            + row(second, amount=second.payable - 1000, trace='1002')
            + f'{stranger},{stranger_payment},50000,2018-05-31,1003\n'
            + row(first, trace='1001')
            # the same bill paid again at another ATM
            + row(first, date='1397/03/11', trace='1004'))

        report = import_settlement(text, filename='bank.csv')

        self.assertEqual(report.rejections, [])
        self.assertEqual((report.paid, len(report.review),
                len(report.unmatched), len(report.duplicates)),
            (1, 1, 2, 1))
        self.assertEqual(report.amount, 2 * first.payable)
        settlement, = Settlement.search([])
        self.assertEqual(settlement.filename, 'bank.csv')
        self.assertEqual(settlement.report, str(report))
        lines = Line.search([], order=[('line', 'ASC')])
        self.assertEqual([(l.line, l.state, l.bill) for l in lines], [
                (2, 'paid', first),
                (3, 'unmatched', second),
                (4, 'unmatched', None),
                (5, 'duplicate', None),
                (6, 'review', first),
                ])
        self.assertIn(f"{second.payable - 1000}", lines[1].reason)
        self.assertIn("line 2", lines[3].reason)
        self.assertEqual((lines[2].payments, lines[3].payments), ((), ()))
        paid, = lines[0].payments
        self.assertEqual((paid.state, paid.amount, paid.date, paid.reference),
            ('succeeded', first.payable, lines[0].date,
                f'1001/{first.bill_id}'))
        self.assertEqual(format_date(paid.date), '1397/03/10')
        # the second payment pays what the rounding left, then is kept
        remainder = first.total - first.payable
        rest, again = sorted(lines[4].payments, key=lambda p: p.review)
        self.assertEqual((rest.review, rest.amount, rest.line.move.origin),
            (False, remainder, first.invoice))
        self.assertEqual((again.review, again.amount, again.line),
            (True, first.payable - remainder, None))
        self.assertIn(str(first.payable - remainder), lines[4].reason)
        self.assertTrue(Bill(first.id).paid)
        self.assertFalse(Bill(second.id).paid)
        self.assertEqual(account_balance(journal().clearing_account),
            2 * first.payable)
        self.assertEqual(unpaid([first]), 0)
        self.assertEqual(receivable_balance(first.party),
            -(first.payable - remainder))
        self.assertEqual(receivable_balance(second.party), second.total)

        # the staff choose to pay the bill of the row with another amount
        Line.receive([lines[1]])
        self.assertEqual(lines[1].state, 'paid')
        self.assertEqual(Bill(second.id).amount_paid, second.payable - 1000)
        self.assertEqual(receivable_balance(second.party),
            second.total - second.payable + 1000)
        Line.mark_reviewed(lines[2:])
        self.assertEqual(
            Line.search([('state', '!=', 'paid'), ('reviewed', '=', False)]),
            [])

    @with_company
    def test_reimport(self):
        """Importing a file again pays nothing twice; a longer file pays
        only its new rows"""
        pool = Pool()
        Line = pool.get('water.settlement.line')
        Payment = pool.get('account.payment')
        import_tariffs()
        first, second = two_subscribers()
        text = HEADER + row(first, trace='1') + row(first, trace='1')
        import_settlement(text)

        report = import_settlement(text)

        self.assertEqual((report.paid, report.skipped, report.duplicates),
            (0, 2, []))
        self.assertIn("2 already imported, skipped", str(report))
        self.assertEqual(Line.search([], count=True), 2)
        self.assertEqual(Payment.search([], count=True), 1)

        report = import_settlement(text + row(second, trace='2'))

        self.assertEqual((report.paid, report.skipped), (1, 2))
        self.assertEqual(Payment.search([], count=True), 2)
        self.assertEqual(account_balance(journal().clearing_account),
            first.payable + second.payable)
        with self.assertRaises(ValidationError):
            Line.write(Line.search([('state', '=', 'duplicate')]),
                {'state': 'unmatched'})

    @with_company
    def test_rejected(self):
        "A file with a bad row, dry runs and no journal write nothing"
        pool = Pool()
        Configuration = pool.get('water.configuration')
        Line = pool.get('water.settlement.line')
        Payment = pool.get('account.payment')
        import_tariffs()
        first, second = two_subscribers()

        report = import_settlement(HEADER + row(first)
            + row(second, date='1397/02/31x'))
        self.assertEqual([str(r) for r in report.rejections],
            ["line 3, date: not a date (YYYY/MM/DD or YYYY-MM-DD): "
                "'1397/02/31x'"])
        self.assertIn("1 problem(s), nothing imported", str(report))

        report = import_settlement(HEADER + row(first)
            + row(second, date='1500/01/01'))
        self.assertEqual([(r.line, r.column, r.reason)
                for r in report.rejections],
            [(3, 'date', "is in the future")])

        report = import_settlement(HEADER + row(first, date='1390/01/01'))
        self.assertEqual([(r.line, r.column) for r in report.rejections],
            [(2, 'date')])
        self.assertIn("no open accounting period", str(report))

        report = import_settlement(HEADER + row(first), dry_run=True)
        self.assertEqual((report.paid, report.rejections), (1, []))
        self.assertIn("check only, nothing written", str(report))

        configuration = Configuration(1)
        configuration.settlement_journal = None
        configuration.save()
        report = import_settlement(HEADER + row(first))
        self.assertIn("bank channel journal", str(report))

        self.assertEqual(Line.search([]), [])
        self.assertEqual(Payment.search([]), [])

    @with_company
    def test_wizard(self):
        "The back-office wizard checks, then imports, or refuses a bad file"
        pool = Pool()
        Import = pool.get('water.settlement.import', type='wizard')
        Line = pool.get('water.settlement.line')
        import_tariffs()
        first, _ = two_subscribers()
        good = (HEADER + row(first)).encode()

        session_id, _, _ = Import.create()
        result = Import.execute(session_id, {'start': {
                    'file': good, 'filename': 'bank.csv'}}, 'check')
        self.assertIn("check only", result['view']['defaults']['report'])
        self.assertEqual(Line.search([]), [])
        result = Import.execute(session_id, {'start': {
                    'file': good, 'filename': 'bank.csv'}}, 'import_')
        self.assertIn("1 bills paid", result['view']['defaults']['report'])
        self.assertEqual(len(Line.search([])), 1)

        session_id, _, _ = Import.create()
        with self.assertRaises(ValidationError) as context:
            Import.execute(session_id, {'start': {
                        'file': (HEADER + row(first, amount='x')).encode()}},
                'import_')
        self.assertIn("line 2, amount", context.exception.message)


class SettlementCommandTestCase(PaymentTestCase):
    "Test `water import-settlement`, which commits"
    commits = True

    def run_command(self, *args):
        stdout, stderr = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(stdout), \
                contextlib.redirect_stderr(stderr):
            code = main(['-d', DB_NAME, 'import-settlement', *args])
        return code, stdout.getvalue(), stderr.getvalue()

    def counts(self):
        "Settlement lines, payments and clearing balance in the database"
        with Transaction().start(DB_NAME, 1, readonly=True):
            pool = Pool()
            Line = pool.get('water.settlement.line')
            Payment = pool.get('account.payment')
            return (Line.search([], count=True),
                Payment.search([], count=True),
                account_balance(journal().clearing_account))

    def test_command(self):
        "Check, import, import again; a failure half-way writes nothing"
        # posting takes locks that restart the transaction
        extras = {'_lock_tables': list(LOCKED_TABLES)}
        while True:
            with Transaction().start(DB_NAME, 1, **extras) as transaction:
                User = Pool().get('res.user')
                try:
                    with transaction.set_context(
                            User.get_preferences(context_only=True)):
                        import_tariffs()
                        bills = two_subscribers()
                        text = HEADER + ''.join(
                            row(b, trace=str(i))
                            for i, b in enumerate(bills))
                        total = sum(b.payable for b in bills)
                except TransactionError as exception:
                    transaction.rollback()
                    learn(exception, extras)
                    continue
                transaction.commit()
                break
        folder = tempfile.TemporaryDirectory()
        self.addCleanup(folder.cleanup)
        path = os.path.join(folder.name, 'settlement.csv')
        with open(path, 'w', encoding='utf-8') as fp:
            fp.write(text)

        code, output, _ = self.run_command(path, '--dry-run')
        self.assertEqual((code, self.counts()), (0, (0, 0, 0)))
        self.assertIn("check only", output)

        # the second bill fails after the first is paid
        # the class the pool builds water.bill from, again for each command
        Bill = payment.Bill
        receive = Bill.receive
        calls = []

        def failing(self, *args):
            calls.append(self)
            if len(calls) == 2:
                raise RuntimeError("lost connection")
            return receive(self, *args)
        with patch.object(Bill, 'receive', failing):
            with self.assertRaises(RuntimeError):
                self.run_command(path)
        self.assertEqual(len(calls), 2)
        self.assertEqual(self.counts(), (0, 0, 0))

        code, output, _ = self.run_command(path)
        self.assertEqual(code, 0)
        self.assertIn(f"2 bills paid, {total:,} rials", output)
        self.assertEqual(self.counts(), (2, 2, total))

        code, output, _ = self.run_command(path)
        self.assertEqual(code, 0)
        self.assertIn("2 already imported, skipped", output)
        self.assertEqual(self.counts(), (2, 2, total))

        with open(path, 'a', encoding='utf-8') as fp:
            fp.write('1,2,3,4,5\n')
        code, output, error = self.run_command(path)
        self.assertEqual((code, output), (1, ''))
        self.assertIn("line 4, bill_id", error)
        self.assertEqual(self.counts(), (2, 2, total))
