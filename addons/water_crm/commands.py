# This file is part of the water utility modules.
"""Sub-commands of `water` given by water_crm."""
import sys

from . import validators
from .cli import in_transaction

CHECKS = {
    'national-code': validators.national_code,
    'mobile': validators.mobile,
    'phone': validators.phone,
    'postal-code': validators.postal_code,
    'geographic-code': validators.geographic_code,
    'email': validators.email,
    }


def check(options):
    """Check a value and print its canonical form; print why it is invalid
    on stderr and exit with 1 otherwise. Postal code warnings are printed
    but do not fail."""
    try:
        value = CHECKS[options.kind](options.value)
    except validators.InvalidValue as exception:
        print(exception.reason, file=sys.stderr)
        return 1
    print(value)
    if options.kind == 'postal-code':
        for warning in validators.postal_code_warnings(value):
            print(f"warning: {warning}", file=sys.stderr)
    return 0


def import_subscribers(options):
    """Import subscribers from the legacy system's CSV export: all the file
    or nothing, with the reason for every rejected row. Importing the same
    file again updates and never duplicates."""
    from .subscriber_import import import_subscribers
    try:
        with open(options.file, encoding='utf-8-sig') as fp:
            text = fp.read()
    except (OSError, UnicodeDecodeError) as exception:
        print(f"cannot read {options.file}: {exception}", file=sys.stderr)
        return 1
    report = in_transaction(options,
        lambda: import_subscribers(text, dry_run=options.dry_run),
        commit=not options.dry_run)
    print(report, file=sys.stderr if report.rejections else sys.stdout)
    return 1 if report.rejections else 0


def register(subparsers):
    "Add the sub-commands of water_crm"
    parser = subparsers.add_parser('import-subscribers',
        help="import subscribers from the legacy CSV export",
        description=import_subscribers.__doc__)
    parser.add_argument('file', metavar='FILE.csv')
    parser.add_argument('--dry-run', action='store_true',
        help="check the file and tell what would change, write nothing")
    parser.set_defaults(func=import_subscribers)

    parser = subparsers.add_parser('check',
        help="check a national code, mobile, phone, postal code, "
        "geographic code or e-mail",
        description=check.__doc__)
    parser.add_argument('kind', choices=CHECKS, metavar='KIND',
        help="one of " + ", ".join(CHECKS))
    parser.add_argument('value', metavar='VALUE', help="the value to check")
    parser.set_defaults(func=check)
