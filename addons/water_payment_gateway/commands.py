# This file is part of the water utility modules.
"""The `water bank-simulator` command: the local bank of development and
tests, in the foreground."""
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


def register(subparsers):
    "Add bank-simulator to the `water` command"
    parser = subparsers.add_parser('bank-simulator',
        help=bank_simulator.__doc__, description=bank_simulator.__doc__
        + ". It only listens on a loopback address.")
    parser.add_argument('--host', default='127.0.0.1',
        help="loopback address to listen on (default: 127.0.0.1)")
    parser.add_argument('--port', type=int, default=8765,
        help="port to listen on, 0 for any free one (default: 8765)")
    parser.set_defaults(func=bank_simulator)
