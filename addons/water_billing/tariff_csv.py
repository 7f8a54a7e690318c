# This file is part of the water utility modules.
"""Tariff tables as CSV files: one tariff version per row.

Required columns, those of seed_tariffs.csv:

    usage                   the usage the version prices
    valid_from              Jalali YYYY/MM/DD from which it is in force
    water_rial_per_m3       a flat price of water (empty with bands)
    fixed_rial_per_month    fixed charge per housing unit
    service_rial_per_month  service-cost compensation per housing unit
    sewage_share_percent    sewage charge as a percent of the water charge
    duty_percent, tax_percent

Optional columns:

    bands                   graduated bands instead of water_rial_per_m3,
                            ``0-5:3600;5-10:4300;10-:9000``: from-to m³
                            per month per housing unit, a colon, the rial
                            price of each m³ in the band; the first band
                            starts at 0, each next one where the previous
                            ends, the last one has no end
    pattern_m3_per_month    consumption pattern per housing unit
    above_pattern_bands     the band table, same syntax, that replaces
                            bands when the consumption is above the pattern
    levies                  charges per m³, ``budget:250;note3:100``: name,
                            a colon, rials per m³

Exactly one of water_rial_per_m3 and bands is filled in a row: a flat
price is the table ``0-:price``. Numbers are non-negative decimals, with
ASCII or Persian digits."""
import csv
from decimal import Decimal, InvalidOperation

from trytond.modules.water_crm import jalali
from trytond.modules.water_crm.validators import normalize_digits

from .engine import Band, Levy, Tariff, TariffError

REQUIRED = (
    'usage', 'valid_from', 'water_rial_per_m3', 'fixed_rial_per_month',
    'service_rial_per_month', 'sewage_share_percent', 'duty_percent',
    'tax_percent')
OPTIONAL = (
    'bands', 'pattern_m3_per_month', 'above_pattern_bands', 'levies')
# The column of each Tariff field, to name it in errors
COLUMNS = {
    'bands': 'bands',
    'fixed': 'fixed_rial_per_month',
    'service': 'service_rial_per_month',
    'sewage_percent': 'sewage_share_percent',
    'duty_percent': 'duty_percent',
    'tax_percent': 'tax_percent',
    'pattern': 'pattern_m3_per_month',
    'pattern_bands': 'above_pattern_bands',
    'levies': 'levies',
    }


class TariffCsvError(ValueError):
    "An error in a tariff file, at a line and column"

    def __init__(self, line, column, message):
        where = f"line {line}"
        if column:
            where += f", column {column}"
        super().__init__(f"{where}: {message}")
        self.line = line
        self.column = column


def parse_number(text):
    "A non-negative decimal"
    try:
        number = Decimal(normalize_digits(text).strip())
    except InvalidOperation:
        raise ValueError(f"not a number: {text!r}") from None
    if not number.is_finite() or number < 0:
        raise ValueError(f"not a non-negative number: {text!r}")
    return number


def parse_bands(text):
    "The bands of a cell like 0-5:3600;5-10:4300;10-:9000"
    bands = []
    for item in text.split(';'):
        limits, colon, price = item.partition(':')
        lower, dash, upper = limits.partition('-')
        if not colon or not dash:
            raise ValueError(f"not a band from-to:price: {item!r}")
        bands.append(Band(
                parse_number(lower),
                parse_number(upper) if upper.strip() else None,
                parse_number(price)))
    return tuple(bands)


def parse_levies(text):
    "The levies of a cell like budget:250;note3:100"
    levies = []
    for item in text.split(';'):
        name, colon, price = item.partition(':')
        if not colon or not name.strip():
            raise ValueError(f"not a levy name:price: {item!r}")
        levies.append(Levy(name.strip(), parse_number(price)))
    return tuple(levies)


def _tariff(row, line):
    def cell(column):
        return (row.get(column) or '').strip()

    def parse(column, parser):
        try:
            return parser(cell(column))
        except ValueError as exception:
            raise TariffCsvError(line, column, exception) from None

    def optional(column, parser):
        return parse(column, parser) if cell(column) else None

    if not cell('usage'):
        raise TariffCsvError(line, 'usage', "empty")
    if bool(cell('water_rial_per_m3')) == bool(cell('bands')):
        raise TariffCsvError(line, 'water_rial_per_m3',
            "fill in exactly one of this column and bands")
    bands = optional('bands', parse_bands)
    if bands is None:
        price = parse('water_rial_per_m3', parse_number)
        bands = (Band(Decimal(0), None, price),)
    try:
        return Tariff(
            usage=cell('usage'),
            start=parse('valid_from', jalali.parse_date),
            bands=bands,
            fixed=parse('fixed_rial_per_month', parse_number),
            service=parse('service_rial_per_month', parse_number),
            sewage_percent=parse('sewage_share_percent', parse_number),
            duty_percent=parse('duty_percent', parse_number),
            tax_percent=parse('tax_percent', parse_number),
            pattern=optional('pattern_m3_per_month', parse_number),
            pattern_bands=optional('above_pattern_bands', parse_bands) or (),
            levies=optional('levies', parse_levies) or ())
    except TariffError as exception:
        raise TariffCsvError(line, COLUMNS[exception.field], exception
            ) from None


def read(file):
    """Return the tariff versions of an open text file, in file order;
    open it with newline='' and encoding 'utf-8-sig' (Excel's BOM)"""
    reader = csv.DictReader(file)
    try:
        header = reader.fieldnames or []
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise TariffCsvError(1, None,
                f"missing column(s): {', '.join(missing)}")
        unknown = [c for c in header if c not in REQUIRED + OPTIONAL]
        if unknown:
            raise TariffCsvError(1, None,
                f"unknown column(s): {', '.join(unknown)}")
        tariffs, lines = [], {}
        for row in reader:
            if None in row:
                raise TariffCsvError(reader.line_num, None,
                    "more cells than columns")
            # Spreadsheets save rows left blank as separators alone
            if not any(value.strip() for value in row.values() if value):
                continue
            tariff = _tariff(row, reader.line_num)
            key = tariff.usage, tariff.start
            if key in lines:
                raise TariffCsvError(reader.line_num, 'valid_from',
                    f"{tariff.usage} has another version from this date "
                    f"on line {lines[key]}")
            lines[key] = reader.line_num
            tariffs.append(tariff)
    except csv.Error as exception:
        raise TariffCsvError(reader.line_num, None, exception) from None
    return tariffs


def format_number(number):
    """A decimal without exponent nor trailing zeros, as people write it:
    the database gives 3.00 for 3"""
    return f'{Decimal(number).normalize():f}'


def format_bands(bands):
    return ';'.join(
        f'{format_number(band.lower)}-'
        f'{"" if band.upper is None else format_number(band.upper)}:'
        f'{format_number(band.price)}'
        for band in bands)


def format_levies(levies):
    for levy in levies:
        # Names with the separators could not be read back
        if ':' in levy.name or ';' in levy.name:
            raise ValueError(f"a levy name has ':' or ';': {levy.name!r}")
    return ';'.join(
        f'{levy.name}:{format_number(levy.price)}' for levy in levies)


def _row(tariff):
    flat = len(tariff.bands) == 1
    return {
        'usage': tariff.usage,
        'valid_from': jalali.format_date(tariff.start),
        'water_rial_per_m3': (
            format_number(tariff.bands[0].price) if flat else ''),
        'fixed_rial_per_month': format_number(tariff.fixed),
        'service_rial_per_month': format_number(tariff.service),
        'sewage_share_percent': format_number(tariff.sewage_percent),
        'duty_percent': format_number(tariff.duty_percent),
        'tax_percent': format_number(tariff.tax_percent),
        'bands': '' if flat else format_bands(tariff.bands),
        'pattern_m3_per_month': (
            '' if tariff.pattern is None else format_number(tariff.pattern)),
        'above_pattern_bands': format_bands(tariff.pattern_bands),
        'levies': format_levies(tariff.levies),
        }


def write(file, tariffs):
    """Write tariff versions to an open text file (newline=''), with the
    optional columns that they use"""
    rows = [_row(tariff) for tariff in tariffs]
    columns = REQUIRED + tuple(
        c for c in OPTIONAL if any(row[c] for row in rows))
    writer = csv.DictWriter(file, columns, extrasaction='ignore',
        lineterminator='\n')
    writer.writeheader()
    writer.writerows(rows)
