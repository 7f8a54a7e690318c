# This file is part of the water utility modules.
"""The `water simulate` and `water billid` commands: the tariff engine and
the bill ID / payment ID, without a database; and `water import-readings`,
on the database."""
import json
import sys
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from trytond.modules.water_crm import jalali
from trytond.modules.water_crm.validators import normalize_digits

from . import billid, engine, tariff_csv

LABELS = [
    ('water', "Water charge"),
    ('fixed', "Fixed charge"),
    ('sewage', "Sewage charge"),
    ('service', "Service-cost compensation"),
    ('levies', "Levies"),
    ]


def _fail(command, message):
    print(f"water {command}: error: {message}", file=sys.stderr)
    return 1


def _date(option, text):
    try:
        return jalali.parse_date(text)
    except ValueError as exception:
        raise ValueError(f"{option}: {exception}") from None


def _quantity(option, text):
    "A non-negative decimal of the command line, with any digits"
    try:
        number = Decimal(normalize_digits(text).strip())
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite() or number < 0:
        raise ValueError(f"{option}: not a non-negative number: {text!r}")
    return number


def _m3(number):
    "An exact m³ amount as a JSON number, to 2 decimals"
    if number == int(number):
        return int(number)
    value = Decimal(number.numerator) / Decimal(number.denominator)
    return float(value.quantize(Decimal('0.01'), ROUND_HALF_UP))


def _percent(number):
    return f'{Decimal(number).normalize():f}%'


def _read_tariffs(path, usage):
    try:
        with open(path, encoding='utf-8-sig', newline='') as file:
            tariffs = tariff_csv.read(file)
    except OSError as exception:
        raise ValueError(f"{path}: {exception.strerror}") from None
    except ValueError as exception:
        raise ValueError(f"{path}: {exception}") from None
    versions = [t for t in tariffs if t.usage == usage]
    if not versions:
        usages = sorted({t.usage for t in tariffs})
        raise ValueError(f"unknown usage {usage!r}, {path} has: "
            + ', '.join(usages))
    return versions


def simulate(options):
    "Compute a bill from a tariff file, without a database"
    try:
        previous = _date('--from', options.previous)
        current = _date('--to', options.current)
        if current <= previous:
            raise ValueError(f"--to {jalali.format_date(current)} is not "
                f"after --from {jalali.format_date(previous)}")
        consumption = _quantity('--consumption', options.consumption)
        units = _quantity('--units', options.units)
        if units != int(units):
            raise ValueError(f"--units: not a whole number: {units}")
        tariffs = _read_tariffs(options.tariffs, options.usage)
        calculation = engine.calculate(tariffs, previous, current,
            consumption, units=int(units), has_sewer=options.sewer)
    except engine.NoTariffError as exception:
        return _fail('simulate', f"no tariff for {options.usage} in force "
            f"on {jalali.format_date(exception.date)}")
    except ValueError as exception:
        return _fail('simulate', exception)
    lines = {name: getattr(calculation, name) for name, _ in LABELS}
    lines.update(duty=calculation.duty, tax=calculation.tax,
        total=calculation.total)
    if options.json:
        print(json.dumps({
                    'usage': options.usage,
                    'from': jalali.format_date(previous),
                    'to': jalali.format_date(current),
                    'units': int(units),
                    'sewer': options.sewer,
                    'days': calculation.days,
                    'consumption': _m3(calculation.consumption),
                    'average_monthly': _m3(calculation.average_monthly),
                    **lines,
                    'segments': [{
                            'tariff_from': jalali.format_date(s.tariff.start),
                            'from': jalali.format_date(s.first),
                            'to': jalali.format_date(s.last),
                            'days': s.days,
                            'above_pattern': s.above_pattern,
                            } for s in calculation.segments],
                    }, ensure_ascii=False))
        return 0
    print(f"Period       {jalali.format_date(previous)} to "
        f"{jalali.format_date(current)}: {calculation.days} days")
    print(f"Consumption  {_m3(calculation.consumption)} m³, average "
        f"{_m3(calculation.average_monthly)} m³ per month")
    for segment in calculation.segments:
        print(f"Tariff       {options.usage} from "
            f"{jalali.format_date(segment.tariff.start)}: "
            f"{segment.days} days"
            + (", above the consumption pattern"
                if segment.above_pattern else ""))
    print()
    # VAT is at the rates in force on the current reading date
    rates = calculation.segments[-1].tariff
    labels = dict(LABELS,
        duty=f"Duty {_percent(rates.duty_percent)}",
        tax=f"Tax {_percent(rates.tax_percent)}",
        total="Total (rials)")
    for name, amount in lines.items():
        print(f"{labels[name]:<28}{amount:>14,}")
    return 0


def billid_check(options):
    "Check that a bill ID and a payment ID are valid and belong together"
    try:
        payment = billid.check(options.bill_id, options.payment_id)
    except billid.BillIdError as exception:
        return _fail('billid check', exception)
    service = billid.SERVICE_TYPES.get(payment.service_type, "unknown")
    print(f"Valid: bill ID {payment.bill_id}, payment ID "
        f"{payment.payment_id}")
    print(f"File id       {payment.file_id}")
    print(f"Company code  {payment.company_code:03d}")
    print(f"Service type  {payment.service_type} ({service})")
    print(f"Amount        {payment.amount:,} rials")
    print(f"Year          {payment.year} (last digit)")
    print(f"Period        {payment.period:02d}")
    return 0


def billid_make(options):
    "Make the bill ID, payment ID and barcode of a bill"
    try:
        bill_id = billid.make_bill_id(options.file_id, options.company,
            options.service_type)
        payment_id = billid.make_payment_id(options.amount, options.year,
            options.period, bill_id)
    except billid.BillIdError as exception:
        return _fail('billid make', exception)
    print(f"Bill ID     {bill_id}")
    print(f"Payment ID  {payment_id}")
    print(f"Barcode     {billid.barcode(bill_id, payment_id)}")
    return 0


def import_readings(options):
    """Import the readings of a handheld's CSV export: all the file or
    nothing, with the reason for every rejected row, including the values
    that confirming would refuse. Importing the same file again creates
    nothing."""
    from trytond.modules.water_crm.cli import in_transaction

    from .reading_import import import_readings
    try:
        with open(options.file, encoding='utf-8-sig') as fp:
            text = fp.read()
    except (OSError, UnicodeDecodeError) as exception:
        return _fail('import-readings', f"cannot read {options.file}: "
            f"{exception}")
    report = in_transaction(options,
        lambda: import_readings(text, dry_run=options.dry_run),
        commit=not options.dry_run)
    print(report, file=sys.stderr if report.rejections else sys.stdout)
    return 1 if report.rejections else 0


def register(subparsers):
    "Add simulate, billid and import-readings to the `water` command"
    parser = subparsers.add_parser('simulate', help=simulate.__doc__,
        description=simulate.__doc__ + ". Dates are Jalali YYYY/MM/DD.")
    parser.add_argument('--tariffs', required=True, metavar='FILE.csv',
        help="tariff file (see water_billing/tariff_csv.py for columns)")
    parser.add_argument('--usage', required=True)
    parser.add_argument('--from', dest='previous', required=True,
        metavar='DATE', help="previous reading date")
    parser.add_argument('--to', dest='current', required=True,
        metavar='DATE', help="current reading date")
    parser.add_argument('--consumption', required=True, metavar='M3')
    parser.add_argument('--units', default='1',
        help="housing units (default: 1)")
    parser.add_argument('--sewer', action='store_true',
        help="the connection has sewer")
    parser.add_argument('--json', action='store_true',
        help="print one JSON object")
    parser.set_defaults(func=simulate)

    parser = subparsers.add_parser('billid',
        help="Iranian bill ID and payment ID")
    commands = parser.add_subparsers(required=True, dest='billid_command')
    check = commands.add_parser('check', help=billid_check.__doc__)
    check.add_argument('bill_id')
    check.add_argument('payment_id')
    check.set_defaults(func=billid_check)
    make = commands.add_parser('make', help=billid_make.__doc__)
    make.add_argument('--file-id', required=True,
        help="subscriber's file number (up to 8 digits)")
    make.add_argument('--company', required=True,
        help="company code (3 digits)")
    make.add_argument('--service-type', default='1',
        help="1 = water (default)")
    make.add_argument('--amount', required=True,
        help="rials, a multiple of 1000")
    make.add_argument('--year', required=True,
        help="Jalali year (its last digit is used)")
    make.add_argument('--period', required=True, help="period, 0 to 99")
    make.set_defaults(func=billid_make)

    parser = subparsers.add_parser('import-readings',
        help="import the readings of a meter reader's handheld",
        description=import_readings.__doc__)
    parser.add_argument('file', metavar='FILE.csv',
        help="columns subscription, reading_date (Jalali), value and "
        "optionally meter_serial, kind, note")
    parser.add_argument('--dry-run', action='store_true',
        help="check the file and tell what would change, write nothing")
    parser.set_defaults(func=import_readings)
