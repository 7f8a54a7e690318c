#!/usr/bin/env python3
"""Benchmark of bill runs: N generated subscriptions billed end to end as a
bill run does (engine, invoices created and posted in bulk, SMS queued),
chunk after chunk through the task queue's own runner, each chunk committed;
and a sample of the same bills the naive way (one invoice at a time, saved
then posted, rolled back).

Prints bills per second of both, their ratio (per bill), the resident memory
of the process after each quarter of the run (flat in N when the chunks
leave nothing behind) and its peak. Run it on PostgreSQL as CI would:

    TRYTOND_DATABASE__URI=postgresql://postgres@127.0.0.1:5432/ \\
        .venv/bin/python tests/benchmarks/bill_run.py --subscriptions 20000

It creates its own database (dropped at the end) with `water setup`."""
import argparse
import cProfile
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from server import Server  # noqa: E402

DATE = '1405/08/15'


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--subscriptions', type=int, default=20000)
    parser.add_argument('--naive', type=int, default=300, metavar='M',
        help="bill M readings the naive way (default 300)")
    parser.add_argument('--profile', metavar='FILE',
        help="write a cProfile of the bill run to FILE")
    options = parser.parse_args()
    size = options.subscriptions

    server = Server()
    try:
        os.environ['TRYTOND_CONFIG'] = server.config
        start = time.monotonic()
        server.setup()
        load(server, size)
        print(f"setup with {size} subscriptions and their readings: "
            f"{time.monotonic() - start:.0f}s", flush=True)
        naive = measure_naive(server, options.naive)
        batch = measure_run(server, options.profile)
        print(f"ratio bill run / naive, per bill: {batch / naive:.1f}")
    finally:
        server.stop()


def options_of(server):
    from trytond.modules.water_crm import cli
    return cli.parser().parse_args(
        ['-c', server.config, '-d', server.database, 'setup'])


def load(server, size):
    """The generated subscribers of the demo, the demo tariffs and an
    accepted reading of every subscription on DATE"""
    import csv

    from trytond.modules import water_billing, water_crm
    from trytond.modules.water_billing.tariff import import_tariffs
    from trytond.modules.water_crm import cli
    from trytond.modules.water_crm.install import demo_csv
    from trytond.modules.water_crm.subscriber_import import (
        import_subscribers)
    options = options_of(server)
    folder = os.path.join(os.path.dirname(water_crm.__file__), 'tests')
    with open(os.path.join(folder, 'seed_subscriber.csv')) as fp:
        seed_row, = csv.DictReader(fp)
    text = demo_csv(seed_row, size)
    cli.in_transaction(options, lambda: import_subscribers(text))
    folder = os.path.join(os.path.dirname(water_billing.__file__), 'tests')
    for name in ['seed_tariffs.csv', 'demo_tariffs.csv']:
        with open(os.path.join(folder, name)) as fp:
            tariffs = fp.read()
        cli.in_transaction(options, lambda: import_tariffs(tariffs))
    cli.in_transaction(options, readings)


def readings():
    """An accepted reading of 400 m³ since the install for every
    subscription of the generated zone, written as confirm would"""
    from trytond.modules.water_crm import jalali
    from trytond.pool import Pool
    pool = Pool()
    Subscription = pool.get('water.subscription')
    Reading = pool.get('water.reading')
    date = jalali.parse_date(DATE)
    subscriptions = Subscription.search([
            ('connection.parcel.zone.name', '=', 'دهکده نمونه')])
    values = []
    for subscription in subscriptions:
        installation = subscription.meter.installations[0]
        values.append({
                'subscription': subscription.id,
                'meter': subscription.meter.id,
                'company': subscription.company.id,
                'date': date,
                'kind': 'reader',
                'value': installation.initial_reading + 400,
                'previous_date': installation.install_date,
                'previous_value': installation.initial_reading,
                'consumption': 400,
                'state': 'accepted',
                })
    Reading.create(values)


def rss():
    "The resident memory of the process in MiB"
    with open('/proc/self/status') as fp:
        for line in fp:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024


def peak():
    "The peak resident memory of the process in MiB"
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_naive(server, count):
    """Bill count readings one at a time, each invoice saved then posted,
    rolled back; return bills per second"""
    from trytond.modules.water_crm import cli, jalali
    date = jalali.parse_date(DATE)

    def naive():
        from trytond.pool import Pool
        pool = Pool()
        Reading = pool.get('water.reading')
        Bill = pool.get('water.bill')
        Invoice = pool.get('account.invoice')
        InvoiceLine = pool.get('account.invoice.line')
        Configuration = pool.get('water.configuration')
        ids = [r.id for r in Reading.search(
                [('state', '=', 'accepted'), ('date', '=', date)],
                order=[('id', 'ASC')], limit=count)]
        start = time.monotonic()
        for reading in Reading.browse(ids):
            bill, = Bill.compute([reading], date)
            Bill.set_debt([bill])
            bill.save()
            invoice = bill._get_invoice()
            invoice.save()
            InvoiceLine.save(
                bill._get_invoice_lines(invoice, Configuration(1)))
            Invoice.update_taxes([invoice])
            Invoice.post([invoice])
            bill.invoice = invoice
            bill.state = 'posted'
            bill.save()
        return len(ids), time.monotonic() - start

    count, seconds = cli.in_transaction(options_of(server), naive,
        commit=False)
    print(f"naive   : {count} bills in {seconds:.1f}s = "
        f"{count / seconds:.1f} bills/s", flush=True)
    return count / seconds


def measure_run(server, profile=None):
    """Start a bill run of every reading and run its chunks one after the
    other as the worker does, each in its transaction; return bills per
    second"""
    from trytond.modules.water_crm import cli, jalali
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    from trytond.worker import run_task
    options = options_of(server)
    date = jalali.parse_date(DATE)

    def start():
        pool = Pool()
        BillRun = pool.get('water.bill.run')
        Queue = pool.get('ir.queue')
        run = BillRun(date=date, bill_date=date)
        run.save()
        BillRun.start([run])
        return run.id, [t.id for t in Queue.search([
                    ('finished_at', '=', None)], order=[('id', 'ASC')])
            if t.data['method'] == 'bill_chunk']

    begin = time.monotonic()
    run_id, task_ids = cli.in_transaction(options, start)
    profiler = cProfile.Profile() if profile else None
    quarters = {len(task_ids) * q // 4: q for q in [1, 2, 3, 4]}
    for index, task_id in enumerate(task_ids, 1):
        if profiler:
            profiler.enable()
        run_task(options.database, task_id)
        if profiler:
            profiler.disable()
        if index in quarters:
            with Transaction().start(options.database, 0, readonly=True):
                bills = Pool(options.database).get('water.bill').search(
                    [('run', '=', run_id)], count=True)
            print(f"  {quarters[index]}/4 of the chunks: {bills} bills, "
                f"{time.monotonic() - begin:.0f}s, RSS {rss():.0f} MiB",
                flush=True)
    seconds = time.monotonic() - begin
    if profiler:
        profiler.dump_stats(profile)
    with Transaction().start(options.database, 0, readonly=True):
        pool = Pool(options.database)
        run = pool.get('water.bill.run')(run_id)
        count, state = run.bill_count, run.state
        sms = pool.get('water.sms').search([], count=True)
    print(f"bill run: {count} bills in {seconds:.1f}s = "
        f"{count / seconds:.1f} bills/s ({len(task_ids)} chunks, run "
        f"{state}, {sms} SMS queued), peak RSS {peak():.0f} MiB",
        flush=True)
    return count / seconds


if __name__ == '__main__':
    main()
