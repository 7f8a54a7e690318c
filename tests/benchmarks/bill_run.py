#!/usr/bin/env python3
"""Benchmark of bill runs: N generated subscriptions billed end to end
(engine, invoices created and posted in chunks, as a bill run does) and the
same bills the naive way (one invoice at a time, saved then posted).

Prints bills per second of both, their ratio and the peak memory of each.
Run it on PostgreSQL as CI would:

    TRYTOND_DATABASE__URI=postgresql://postgres@127.0.0.1:5432/ \\
        .venv/bin/python tests/benchmarks/bill_run.py --subscriptions 2000

It creates its own database (dropped at the end) with `water setup`, and
rolls back both measured runs, so they bill exactly the same readings."""
import argparse
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from server import Server  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--subscriptions', type=int, default=500)
    options = parser.parse_args()
    size = options.subscriptions

    server = Server()
    try:
        os.environ['TRYTOND_CONFIG'] = server.config
        start = time.monotonic()
        server.setup()
        load(server, size)
        print(f"setup with {size} subscriptions: "
            f"{time.monotonic() - start:.0f}s", flush=True)
        measure(server, size)
    finally:
        server.stop()


def load(server, size):
    "The generated subscribers of the demo and the demo tariffs"
    import csv

    from trytond.modules import water_billing, water_crm
    from trytond.modules.water_billing.tariff import import_tariffs
    from trytond.modules.water_crm import cli
    from trytond.modules.water_crm.install import demo_csv
    from trytond.modules.water_crm.subscriber_import import (
        import_subscribers)
    options = cli.parser().parse_args(
        ['-c', server.config, '-d', server.database, 'setup'])
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


def measure(server, size):
    from trytond.modules.water_crm import cli, jalali
    options = cli.parser().parse_args(
        ['-c', server.config, '-d', server.database, 'setup'])
    date = jalali.parse_date('1405/08/15')

    def readings():
        "A new accepted reading for every subscription of the zone"
        from trytond.pool import Pool
        pool = Pool()
        Subscription = pool.get('water.subscription')
        Reading = pool.get('water.reading')
        subscriptions = Subscription.search([
                ('connection.parcel.zone.name', '=', 'دهکده نمونه')])
        new = [Reading(subscription=s, meter=s.meter, date=date,
                kind='reader', company=s.company,
                value=s.meter.installations[0].initial_reading + 400)
            for s in subscriptions]
        Reading.save(new)
        Reading.confirm(new)
        Reading.accept([r for r in new if r.state == 'flagged'])
        return [r.id for r in new]

    def batch():
        ids = readings()
        from trytond.pool import Pool
        BillRun = Pool().get('water.bill.run')
        run = BillRun(date=date, bill_date=date, state='running')
        run.save()
        start = time.monotonic()
        for chunk in run.chunks():
            BillRun.bill_chunk(run, chunk)
        return len(ids), time.monotonic() - start

    def naive():
        ids = readings()
        from trytond.pool import Pool
        pool = Pool()
        Reading = pool.get('water.reading')
        Bill = pool.get('water.bill')
        Invoice = pool.get('account.invoice')
        start = time.monotonic()
        for reading in Reading.browse(ids):
            bill, = Bill.compute([reading], date)
            Bill.set_debt([bill])
            bill.save()
            invoice = bill._get_invoice()
            invoice.save()
            lines = bill._get_invoice_lines(
                invoice, pool.get('water.configuration')(1))
            pool.get('account.invoice.line').save(lines)
            Invoice.update_taxes([invoice])
            bill.invoice = invoice
            bill.state = 'posted'
            bill.save()
            Invoice.post([invoice])
        return len(ids), time.monotonic() - start

    results = {}
    for name, func in [('batch', batch), ('naive', naive)]:
        count, seconds = cli.in_transaction(options, func, commit=False)
        results[name] = count / seconds
        # tracing allocations would slow Tryton several times: the peak
        # resident size of the process is reported instead
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{name:6}: {count} bills in {seconds:.1f}s = "
            f"{results[name]:.1f} bills/s, peak RSS so far {peak:.0f} MiB",
            flush=True)
    print(f"ratio batch/naive: {results['batch'] / results['naive']:.2f}")


if __name__ == '__main__':
    main()
