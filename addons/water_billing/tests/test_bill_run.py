# This file is part of the water utility modules.
"""Tests of bill runs: a zone billed in chunks through the task queue,
idempotent, with an error line per subscription it cannot bill, and
resumed after a crash without billing twice."""
import logging
from unittest.mock import patch

from trytond.modules.water_billing import bill_run
from trytond.modules.water_billing.tariff import (
    import_tariffs as import_text)
from trytond.modules.water_crm import jalali
from trytond.modules.water_crm.tests.test_crm import create_zone
from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME
from trytond.transaction import Transaction
from trytond.worker import run_task

from .fixtures import (
    D, BillingTestCase, account_credit, add_mobile, create_subscriber,
    get_company, import_tariffs, read_meter, receivable_balance,
    with_company)
from .test_billing import BANDED, accounts

DATE = '1397/07/30'


def fa_amount(amount):
    "An amount as an SMS writes it: Persian digits and separators"
    return jalali.to_persian_digits(f'{int(amount):,}'.replace(',', '\u066c'))


def subscribers(zone, numbers, **values):
    """Subscriptions of the zone installed on 1397/06/01, each with an
    accepted reading on DATE"""
    result = []
    for index, number in enumerate(numbers):
        subscription = create_subscriber(number, zone=zone,
            install_date='1397/06/01', initial_reading=100, **values)
        read_meter(subscription, DATE, 110 + index)
        result.append(subscription)
    return result


def new_run(zone, date=DATE, bill_date='1397/08/01'):
    BillRun = Pool().get('water.bill.run')
    run = BillRun(zone=zone, date=D(date), bill_date=D(bill_date))
    run.save()
    return run


def tasks():
    "The bill_chunk tasks waiting in the queue, oldest first"
    Queue = Pool().get('ir.queue')
    return [t for t in Queue.search([('finished_at', '=', None)],
            order=[('id', 'ASC')])
        if t.data['model'] == 'water.bill.run'
        and t.data['method'] == 'bill_chunk']


def run_queue():
    "Run the queued bill_chunk tasks as the worker would, in order"
    done = []
    while pending := tasks():
        for task in pending:
            task.run()
            done.append(task)
    return done


class BillRunTestCase(BillingTestCase):
    "Test bill runs"

    @with_company
    def test_run(self):
        """A run bills every active subscription of the zone with an
        accepted reading up to its date, once"""
        pool = Pool()
        Bill = pool.get('water.bill')
        BillRun = pool.get('water.bill.run')
        Reading = pool.get('water.reading')
        import_tariffs()
        zone = create_zone(get_company(), "دهکده نمونه")
        billed = subscribers(zone, [7101, 7102, 7103, 7104])
        suspended, = subscribers(zone, [7105])
        suspended.__class__.suspend([suspended])
        flagged = create_subscriber(7106, zone=zone,
            install_date='1397/06/01', initial_reading=100)
        zero = read_meter(flagged, DATE, 100)
        self.assertEqual(zero.state, 'flagged')
        drafted = create_subscriber(7107, zone=zone,
            install_date='1397/06/01', initial_reading=100)
        read_meter(drafted, DATE, 120, confirm=False)
        later = read_meter(billed[0], '1397/08/15', 130)
        Reading.accept([later])
        subscribers(create_zone(get_company(), "دهکده دیگر"), [7201])
        run = new_run(zone)

        with patch.object(bill_run, 'CHUNK', 2):
            BillRun.start([run])
        self.assertEqual(run.state, 'running')
        self.assertEqual(len(tasks()), 2)
        self.assertEqual(len(run_queue()), 2)

        run = BillRun(run.id)
        self.assertEqual(run.state, 'done')
        self.assertEqual((run.bill_count, run.error_count, run.pending_count),
            (4, 0, 0))
        bills = Bill.search([('run', '=', run.id)])
        self.assertEqual(sorted(b.subscription for b in bills),
            sorted(billed))
        self.assertEqual({b.current_reading.date for b in bills}, {D(DATE)})
        for current in bills:
            self.assertEqual(current.state, 'posted')
            self.assertEqual(current.date, D('1397/08/01'))
            self.assertEqual(current.invoice.state, 'posted')
            self.assertEqual(current.invoice.total_amount, current.total)
        self.assertFalse(Bill.search([('current_reading', '=', later.id)]))

        # the accounts hold what the bills say
        _, duty_account, tax_account = accounts()
        for current in bills:
            self.assertEqual(receivable_balance(current.party),
                current.total)
        self.assertEqual(account_credit(duty_account),
            sum(b.duty for b in bills))
        self.assertEqual(account_credit(tax_account),
            sum(b.tax for b in bills))

        # running again bills nothing twice
        again = new_run(zone)
        BillRun.start([again])
        BillRun.resume([run])
        self.assertEqual(tasks(), [])
        self.assertEqual((BillRun(again.id).state, BillRun(run.id).state),
            ('done', 'done'))
        self.assertEqual(Bill.search([], count=True), 4)

        # what the staff accepted since is billed by the next run
        Reading.accept([zero])
        third = new_run(zone)
        BillRun.start([third])
        run_queue()
        self.assertEqual(
            [b.subscription for b in Bill.search([('run', '=', third.id)])],
            [flagged])
        self.assertEqual(Bill.search([], count=True), 5)

    @with_company
    def test_chunks(self):
        """Start pushes one task per chunk; the readings of a subscription
        stay in one chunk, in date order"""
        pool = Pool()
        Bill = pool.get('water.bill')
        BillRun = pool.get('water.bill.run')
        import_tariffs()
        zone = create_zone(get_company(), "دهکده نمونه")
        subscribers(zone, [7301])
        second = create_subscriber(7302, zone=zone,
            install_date='1397/06/01', initial_reading=100)
        for date, value in [('1397/07/10', 105), (DATE, 108)]:
            self.assertEqual(
                read_meter(second, date, value).state, 'accepted')
        subscribers(zone, [7303, 7304])
        run = new_run(zone)
        pending = run.pending_readings()
        self.assertEqual(len(pending), 5)

        with patch.object(bill_run, 'CHUNK', 2):
            BillRun.start([run])

        queued = tasks()
        self.assertEqual([t.data['instances'] for t in queued],
            [run.id, run.id])
        chunks = [t.data['args'][0] for t in queued]
        by_id = {r.id: r for r in pending}
        self.assertEqual(
            [[(by_id[i].subscription.number, by_id[i].date_jalali)
                    for i in chunk] for chunk in chunks],
            [[('7301', DATE), ('7302', '1397/07/10'), ('7302', DATE)],
                [('7303', DATE), ('7304', DATE)]])
        run_queue()
        # the second period owes the first, billed in the same chunk
        earlier_bill, latest_bill = Bill.search(
            [('subscription', '=', second.id)], order=[('period_end', 'ASC')])
        self.assertEqual(latest_bill.previous_debt, earlier_bill.total)
        self.assertEqual(BillRun(run.id).state, 'done')

    @with_company
    def test_sms(self):
        """Each bill of a run queues the bill_issued SMS to its subscriber's
        mobile, the SMS of a chunk in one batch"""
        pool = Pool()
        Bill = pool.get('water.bill')
        BillRun = pool.get('water.bill.run')
        Sms = pool.get('water.sms')
        Queue = pool.get('ir.queue')
        import_tariffs()
        zone = create_zone(get_company(), "دهکده نمونه")
        first, second, silent = subscribers(zone, [7601, 7602, 7603])
        for subscription, mobile in [(first, '09121110001'),
                (second, '+98 912 111 0002')]:
            add_mobile(subscription.party, mobile)
        run = new_run(zone)

        with patch.object(bill_run, 'CHUNK', 2):
            BillRun.start([run])
        run_queue()

        messages = Sms.search([], order=[('mobile', 'ASC')])
        self.assertEqual([(m.mobile, m.party, m.origin, m.state)
                for m in messages], [
                ('09121110001', first.party, first, 'queued'),
                ('09121110002', second.party, second, 'queued'),
                ])
        bill, = Bill.search([('subscription', '=', first.id)])
        due_date, = {l.maturity_date for l in bill.invoice.lines_to_pay}
        body = messages[0].body
        for text in [bill.party.name, '7601', fa_amount(bill.payable),
                bill.payment_id, bill.bill_id,
                jalali.format_date(due_date, persian_digits=True)]:
            self.assertIn(text, body)
        # one delivery task for the SMS of the chunk, none for the chunk
        # without mobile
        deliveries = [t for t in Queue.search([('finished_at', '=', None)])
            if t.data['model'] == 'water.sms']
        self.assertEqual([sorted(t.data['instances']) for t in deliveries],
            [sorted(m.id for m in messages)])

    @with_company
    def test_error(self):
        """A subscription without tariff gets an error line, the others are
        billed and the run finishes; resumed once the tariff exists, the
        run bills it"""
        pool = Pool()
        Bill = pool.get('water.bill')
        BillRun = pool.get('water.bill.run')
        Error = pool.get('water.bill.run.error')
        Reading = pool.get('water.reading')
        import_tariffs()
        zone = create_zone(get_company(), "دهکده نمونه")
        billed = subscribers(zone, [7401, 7402])
        shop, = subscribers(zone, [7403], usage='commercial')
        later = read_meter(shop, '1397/08/01', 115)
        Reading.accept([later])
        run = new_run(zone, date='1397/08/01')

        BillRun.start([run])
        run_queue()

        run = BillRun(run.id)
        self.assertEqual(run.state, 'done')
        self.assertEqual(sorted(b.subscription for b in run.bills),
            sorted(billed))
        self.assertEqual((run.bill_count, run.error_count), (2, 2))
        errors = sorted(run.errors, key=lambda e: e.reading.date)
        self.assertEqual([(e.subscription, e.reading.date) for e in errors],
            [(shop, D(DATE)), (shop, later.date)])
        self.assertEqual(errors[0].message,
            'No tariff of usage "Commercial" is in force on 1397/06/01.')
        self.assertEqual(errors[1].message,
            "An earlier period of the subscription could not be billed.")

        import_text(BANDED)
        BillRun.resume([run])
        run_queue()

        run = BillRun(run.id)
        self.assertEqual(run.state, 'done')
        self.assertEqual((run.bill_count, run.error_count), (4, 0))
        self.assertEqual(Error.search([]), [])
        shop_bills = Bill.search([('subscription', '=', shop.id)],
            order=[('period_end', 'ASC')])
        self.assertEqual([b.period_end for b in shop_bills],
            [D(DATE), later.date])
        self.assertEqual(Bill.search([], count=True), 4)


class BillRunCrashTestCase(BillingTestCase):
    "Test a bill run resumed after a crash; its chunks commit"
    commits = True

    def count(self, model, domain=None):
        with Transaction().start(DB_NAME, 1, readonly=True):
            return Pool().get(model).search(domain or [], count=True)

    def start(self):
        "Five subscriptions to bill, and a run started in chunks of two"
        with Transaction().start(DB_NAME, 1) as transaction:
            pool = Pool()
            User = pool.get('res.user')
            BillRun = pool.get('water.bill.run')
            with transaction.set_context(
                    User.get_preferences(context_only=True)):
                import_tariffs()
                zone = create_zone(get_company(), "دهکده نمونه")
                subscribers(zone, range(7501, 7506))
                run = new_run(zone)
                with patch.object(bill_run, 'CHUNK', 2):
                    BillRun.start([run])
                task_ids = [t.id for t in tasks()]
            transaction.commit()
        return run.id, task_ids

    def test_resume_after_crash(self):
        "The second chunk fails half-way; resuming bills the rest once"
        run_id, (first, second, third) = self.start()
        with Transaction().start(DB_NAME, 1, readonly=True):
            pool = Pool()
            Bill = pool.get('water.bill')
            Queue = pool.get('ir.queue')
            doomed = set(Queue(second).data['args'][0])
        post = Bill.post
        crashes = []

        def crash(bills):
            # the bills are computed and saved, their invoices not posted
            if not crashes and {b.current_reading.id for b in bills} == doomed:
                crashes.append(bills)
                raise RuntimeError("the worker died")
            return post(bills)

        with patch.object(Bill, 'post', crash), \
                self.assertLogs('trytond.worker', logging.CRITICAL):
            run_task(DB_NAME, first)
            run_task(DB_NAME, second)
        self.assertEqual(len(crashes), 1)
        # the worker is gone before the third chunk
        self.assertEqual(self.count('water.bill'), 2)
        self.assertEqual(self.count('account.invoice'), 2)
        self.assertEqual(self.count('water.bill.run',
                [('id', '=', run_id), ('state', '=', 'running')]), 1)

        # resumed from a context without company, as a cron would
        with Transaction().start(DB_NAME, 1) as transaction:
            BillRun = Pool().get('water.bill.run')
            self.assertEqual(BillRun(run_id).pending_count, 3)
            BillRun.resume([BillRun(run_id)])
            resumed = [t.id for t in tasks()
                if t.id not in {first, second, third}]
            transaction.commit()
        self.assertEqual(len(resumed), 1)
        for task_id in resumed:
            run_task(DB_NAME, task_id)
        # the worker comes back and runs what it had left
        run_task(DB_NAME, second)
        run_task(DB_NAME, third)

        self.assertEqual(self.count('water.bill'), 5)
        self.assertEqual(self.count('account.invoice'), 5)
        with Transaction().start(DB_NAME, 1, readonly=True):
            pool = Pool()
            Bill = pool.get('water.bill')
            BillRun = pool.get('water.bill.run')
            run = BillRun(run_id)
            self.assertEqual(run.state, 'done')
            self.assertEqual((run.bill_count, run.error_count,
                    run.pending_count), (5, 0, 0))
            bills = Bill.search([])
            self.assertEqual(len({b.current_reading for b in bills}), 5)
            self.assertEqual(len({b.subscription for b in bills}), 5)
            for current in bills:
                self.assertEqual(current.invoice.state, 'posted')
                self.assertEqual(receivable_balance(current.party),
                    current.total)
