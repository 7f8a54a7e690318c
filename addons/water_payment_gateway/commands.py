# This file is part of the water utility modules.
"""The `water bank-simulator` command: the local bank of development and
tests, in the foreground; and `water import-settlement`, on the
database."""
import os
import sys

from .simulator import BankSimulator


def bank_simulator(options):
    "Run the local bank simulator (Sadad, Mellat, Zarinpal) until Ctrl-C"
    try:
        simulator = BankSimulator(options.host, options.port)
    except (ValueError, OSError) as exception:
        print(f"water bank-simulator: error: {exception}", file=sys.stderr)
        return 1
    for line in simulator.describe():
        print(line)
    print("Press Ctrl-C to stop.", flush=True)
    try:
        simulator.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


def import_settlement(options):
    """Import a bank's settlement file of bill ID / payment ID payments:
    matched rows pay their bills, unmatched and duplicate rows are kept for
    review; all the file or nothing, and importing it again pays nothing
    twice."""
    from trytond.modules.water_crm.cli import in_transaction

    from .settlement import import_settlement
    try:
        with open(options.file, encoding='utf-8-sig') as fp:
            text = fp.read()
    except (OSError, UnicodeDecodeError) as exception:
        print(f"water import-settlement: error: cannot read {options.file}: "
            f"{exception}", file=sys.stderr)
        return 1
    report = in_transaction(options,
        lambda: import_settlement(text, dry_run=options.dry_run,
            filename=os.path.basename(options.file)),
        commit=not options.dry_run)
    print(report, file=sys.stderr if report.rejections else sys.stdout)
    return 1 if report.rejections else 0


def register(subparsers):
    "Add bank-simulator and import-settlement to the `water` command"
    parser = subparsers.add_parser('bank-simulator',
        help=bank_simulator.__doc__, description=bank_simulator.__doc__
        + ". It only listens on a loopback address.")
    parser.add_argument('--host', default='127.0.0.1',
        help="loopback address to listen on (default: 127.0.0.1)")
    parser.add_argument('--port', type=int, default=8765,
        help="port to listen on, 0 for any free one (default: 8765)")
    parser.set_defaults(func=bank_simulator)

    parser = subparsers.add_parser('import-settlement',
        help="import a bank's settlement of bill ID / payment ID payments",
        description=import_settlement.__doc__)
    parser.add_argument('file', metavar='FILE.csv',
        help="columns bill_id, payment_id, amount, date (Jalali or "
        "Gregorian), trace_number and optionally channel")
    parser.add_argument('--dry-run', action='store_true',
        help="check the file and tell what would happen, write nothing")
    parser.set_defaults(func=import_settlement)
