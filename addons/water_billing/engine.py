# This file is part of the water utility modules.
"""The tariff engine: the lines of a water bill from two readings and the
tariff versions in force, free of the ORM.

A period covers the days after the previous reading through the current
reading day. Each day is priced with the tariff version in force on that
day, the consumption being spread evenly over the days. Amounts stay exact
fractions until each line is summed over the versions and rounded half up
to the rial, so that a bill is reproducible to the rial."""
import datetime as dt
import math
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from operator import attrgetter
from typing import NamedTuple

# Monthly amounts and band limits are per month of 30 days
DAYS_PER_MONTH = 30


class EngineError(ValueError):
    "An input that the engine cannot bill"


class TariffError(EngineError):
    "An inconsistent tariff version; field names the attribute at fault"

    def __init__(self, field, message):
        super().__init__(message)
        self.field = field


class NoTariffError(EngineError):
    "No tariff version is in force on date"

    def __init__(self, date):
        super().__init__(f"no tariff in force on {date.isoformat()}")
        self.date = date


class Band(NamedTuple):
    "A range of monthly consumption per housing unit and its price"
    lower: Decimal  # m³ per month
    upper: Decimal | None  # m³ per month, None for no limit
    price: Decimal  # rial per m³


class Levy(NamedTuple):
    "A charge per m³ added by law or by the council"
    name: str
    price: Decimal  # rial per m³


@dataclass(frozen=True)
class Tariff:
    """The prices of a usage in force from start on, until the start of
    the next version of the same usage.

    bands is the graduated table: each m³ of the monthly consumption per
    housing unit is priced at the price of its band; a flat price is the
    single band (0, None, price). Above pattern (m³ per month per unit),
    the whole table pattern_bands applies instead. fixed and service are
    rials per month per housing unit; the sewage share is a percent of the
    water charge."""
    usage: str
    start: dt.date
    bands: tuple
    fixed: Decimal
    service: Decimal
    sewage_percent: Decimal
    duty_percent: Decimal
    tax_percent: Decimal
    pattern: Decimal | None = None
    pattern_bands: tuple = ()
    levies: tuple = ()

    def __post_init__(self):
        _check_bands('bands', self.bands)
        if (self.pattern is None) != (not self.pattern_bands):
            raise TariffError('pattern', "a consumption pattern and the "
                "band table above it go together")
        if self.pattern_bands:
            _check_bands('pattern_bands', self.pattern_bands)
        for field in ['fixed', 'service', 'sewage_percent', 'duty_percent',
                'tax_percent', 'pattern']:
            value = getattr(self, field)
            if value is not None and value < 0:
                raise TariffError(field, f"{field} is negative: {value}")
        names = [levy.name for levy in self.levies]
        if len(set(names)) != len(names):
            raise TariffError('levies', "two levies have the same name")
        for levy in self.levies:
            if levy.price < 0:
                raise TariffError('levies',
                    f"levy {levy.name} is negative: {levy.price}")

    def table(self, monthly):
        "The band table for a monthly consumption per housing unit"
        if self.pattern is not None and monthly > Fraction(self.pattern):
            return self.pattern_bands
        return self.bands


def _check_bands(field, bands):
    "Bands must cover all consumption from 0 on, in order, without gaps"
    if not bands:
        raise TariffError(field, "no band")
    lower = 0
    for band in bands:
        if lower is None:
            raise TariffError(field,
                "only the last band may have no upper limit")
        if band.lower != lower:
            raise TariffError(field,
                f"band {band.lower}- should start at {lower}")
        if band.upper is not None and band.upper <= band.lower:
            raise TariffError(field,
                f"band {band.lower}-{band.upper} ends before it starts")
        if band.price < 0:
            raise TariffError(field,
                f"band {band.lower}- has a negative price: {band.price}")
        lower = band.upper
    if lower is not None:
        raise TariffError(field, "the last band must have no upper limit")


@dataclass(frozen=True)
class Segment:
    """The days of a period priced with one tariff version and the
    unrounded amounts of these days"""
    tariff: Tariff
    first: dt.date
    last: dt.date
    days: int
    consumption: Fraction  # m³, the share of these days
    above_pattern: bool
    water: Fraction
    fixed: Fraction
    sewage: Fraction
    service: Fraction
    levies: Fraction


@dataclass(frozen=True)
class Calculation:
    "The lines of a bill in rials and how they were computed"
    days: int
    consumption: Fraction  # m³
    average_monthly: Fraction  # m³ per month of the whole connection
    water: int
    fixed: int
    sewage: int
    service: int
    levies: int
    duty: int
    tax: int
    total: int
    segments: tuple


# The lines taken as the base of duty and tax
BASE_LINES = ('water', 'fixed', 'sewage', 'service', 'levies')


def round_half_up(amount):
    "Round a non-negative amount to the rial, half up"
    return math.floor(amount + Fraction(1, 2))


def graduated(bands, monthly):
    "The price of a monthly consumption, each m³ at its band's price"
    amount = Fraction(0)
    for band in bands:
        if monthly <= Fraction(band.lower):
            break
        top = monthly
        if band.upper is not None:
            top = min(monthly, Fraction(band.upper))
        amount += (top - Fraction(band.lower)) * Fraction(band.price)
    return amount


def split(tariffs, first, last):
    """Yield (tariff, first day, last day) covering the days first through
    last with the versions in force"""
    versions = sorted(tariffs, key=attrgetter('start'))
    usages = {tariff.usage for tariff in versions}
    if len(usages) > 1:
        raise EngineError(
            f"tariff versions of several usages: {', '.join(sorted(usages))}")
    for version, following in zip(versions, versions[1:]):
        if version.start == following.start:
            raise EngineError(
                f"two tariff versions start on {version.start.isoformat()}")
    if not versions or versions[0].start > first:
        raise NoTariffError(first)
    for version, following in zip(versions, versions[1:] + [None]):
        end = last
        if following is not None:
            end = min(last, following.start - dt.timedelta(days=1))
        start = max(first, version.start)
        if start <= end:
            yield version, start, end


def calculate(tariffs, previous_date, current_date, consumption, units=1,
        has_sewer=False):
    """Return the Calculation of the bill of a period

    tariffs are the versions of the connection's usage, consumption is in
    m³ between the two reading dates (datetime.date)."""
    if current_date <= previous_date:
        raise EngineError(
            f"the current reading date {current_date.isoformat()} is not "
            f"after the previous one {previous_date.isoformat()}")
    consumption = Fraction(consumption)
    if consumption < 0:
        raise EngineError(f"negative consumption: {consumption}")
    if not isinstance(units, int) or units < 1:
        raise EngineError(f"housing units must be 1 or more: {units}")
    days = (current_date - previous_date).days
    # Bands are per housing unit and per month, so the period is
    # normalised to the average month of one unit
    monthly = consumption / units / days * DAYS_PER_MONTH

    segments = []
    for tariff, first, last in split(
            tariffs, previous_date + dt.timedelta(days=1), current_date):
        segment_days = (last - first).days + 1
        months = Fraction(segment_days, DAYS_PER_MONTH)
        table = tariff.table(monthly)
        water = units * graduated(table, monthly) * months
        share = consumption * segment_days / days
        segments.append(Segment(
                tariff=tariff,
                first=first,
                last=last,
                days=segment_days,
                consumption=share,
                above_pattern=table is not tariff.bands,
                water=water,
                fixed=units * Fraction(tariff.fixed) * months,
                sewage=(water * Fraction(tariff.sewage_percent) / 100
                    if has_sewer else Fraction(0)),
                service=units * Fraction(tariff.service) * months,
                levies=share * sum(
                    Fraction(levy.price) for levy in tariff.levies)))

    lines = {
        name: round_half_up(sum(getattr(s, name) for s in segments))
        for name in BASE_LINES}
    base = sum(lines.values())
    # VAT is due at the rate in force when the bill is issued
    current = segments[-1].tariff
    duty = round_half_up(base * Fraction(current.duty_percent) / 100)
    tax = round_half_up(base * Fraction(current.tax_percent) / 100)
    return Calculation(
        days=days,
        consumption=consumption,
        average_monthly=consumption / days * DAYS_PER_MONTH,
        duty=duty,
        tax=tax,
        total=base + duty + tax,
        segments=tuple(segments),
        **lines)
