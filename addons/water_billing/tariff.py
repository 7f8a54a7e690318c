# This file is part of the water utility modules.
"""Tariff versions by usage, effective from a start date."""
import io
from decimal import Decimal

from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, Unique, fields
from trytond.model.exceptions import ValidationError
from trytond.modules.water_crm.common import JalaliDate, JalaliMixin
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction
from trytond.report import Report
from trytond.wizard import Button, StateTransition, StateView, Wizard

from . import engine, tariff_csv


class TariffValidationError(ValidationError):
    pass


class Tariff(JalaliMixin, ModelSQL, ModelView):
    "Water Tariff"
    __name__ = 'water.tariff'
    usage = fields.Many2One('water.usage', "Usage", required=True,
        ondelete='RESTRICT')
    start_date = fields.Date("Start Date", required=True,
        help="The tariff applies from this day on, until the start of the "
        "next version of the same usage.")
    start_date_jalali = JalaliDate("Start Date (Jalali)")
    company = fields.Many2One('company.company', "Company", required=True)
    bands = fields.One2Many('water.tariff.band', 'tariff', "Bands",
        filter=[('above_pattern', '=', False)],
        help="Graduated prices per m³ by monthly consumption per housing "
        "unit; a single band from 0 without end is a flat price.")
    pattern = fields.Numeric("Consumption Pattern", digits=(16, 2),
        domain=['OR', ('pattern', '=', None), ('pattern', '>', 0)],
        help="Cubic metres per month per housing unit above which the "
        "above-pattern bands apply to the whole consumption.")
    pattern_bands = fields.One2Many('water.tariff.band', 'tariff',
        "Above-Pattern Bands", filter=[('above_pattern', '=', True)],
        states={'invisible': ~Eval('pattern')})
    fixed = fields.Numeric("Fixed Charge", digits=(16, 0), required=True,
        domain=[('fixed', '>=', 0)],
        help="Rials per month per housing unit, billed per day, even at "
        "zero consumption.")
    service = fields.Numeric("Service-Cost Compensation", digits=(16, 0),
        required=True, domain=[('service', '>=', 0)],
        help="Rials per month per housing unit, billed per day.")
    sewage_percent = fields.Numeric("Sewage Share", digits=(5, 2),
        required=True,
        domain=[('sewage_percent', '>=', 0), ('sewage_percent', '<=', 100)],
        help="Percent of the water charge billed as sewage charge where the "
        "connection has sewer.")
    levies = fields.One2Many('water.tariff.levy', 'tariff', "Levies")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('usage_start_unique', Unique(t, t.company, t.usage, t.start_date),
                'water_billing.msg_tariff_usage_start_unique'),
            ]
        cls._order = [('usage', 'ASC'), ('start_date', 'DESC'), ('id', 'DESC')]

    @staticmethod
    def default_company():
        return Transaction().context.get('company')

    @staticmethod
    def default_sewage_percent():
        return Decimal(0)

    def get_rec_name(self, name):
        return f'{self.usage.rec_name} {self.start_date_jalali}'

    @classmethod
    def validate(cls, tariffs):
        super().validate(tariffs)
        for tariff in tariffs:
            try:
                tariff.to_engine(Decimal(0), Decimal(0))
            except engine.TariffError as exception:
                raise TariffValidationError(gettext(
                        'water_billing.msg_tariff_invalid',
                        tariff=tariff.rec_name,
                        reason=str(exception))) from exception

    def to_engine(self, duty_percent, tax_percent):
        "The engine's Tariff of this version with the given VAT rates"
        def bands(records):
            return tuple(engine.Band(b.lower, b.upper, b.price)
                for b in sorted(records, key=lambda b: b.lower))
        return engine.Tariff(
            usage=self.usage.code,
            start=self.start_date,
            bands=bands(self.bands),
            fixed=self.fixed,
            service=self.service,
            sewage_percent=self.sewage_percent,
            duty_percent=duty_percent,
            tax_percent=tax_percent,
            pattern=self.pattern,
            pattern_bands=bands(self.pattern_bands) if self.pattern else (),
            levies=tuple(engine.Levy(l.name, l.price) for l in self.levies))

    @classmethod
    def from_engine(cls, tariff, usage, company):
        "A new version from an engine Tariff"
        pool = Pool()
        Band = pool.get('water.tariff.band')
        Levy = pool.get('water.tariff.levy')
        return cls(usage=usage, company=company, start_date=tariff.start,
            fixed=tariff.fixed, service=tariff.service,
            sewage_percent=tariff.sewage_percent, pattern=tariff.pattern,
            bands=[Band(lower=b.lower, upper=b.upper, price=b.price)
                for b in tariff.bands],
            pattern_bands=[Band(lower=b.lower, upper=b.upper, price=b.price,
                    above_pattern=True) for b in tariff.pattern_bands],
            levies=[Levy(name=l.name, price=l.price) for l in tariff.levies])


class Band(ModelSQL, ModelView):
    "Water Tariff Band"
    __name__ = 'water.tariff.band'
    tariff = fields.Many2One('water.tariff', "Tariff", required=True,
        ondelete='CASCADE')
    above_pattern = fields.Boolean("Above Pattern")
    lower = fields.Numeric("From", digits=(16, 2), required=True,
        domain=[('lower', '>=', 0)], help="m³ per month per housing unit.")
    upper = fields.Numeric("To", digits=(16, 2),
        help="m³ per month per housing unit; empty for no limit.")
    price = fields.Numeric("Price", digits=(16, 0), required=True,
        domain=[('price', '>=', 0)], help="Rials per m³.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('tariff')
        cls._order = [('lower', 'ASC'), ('id', 'ASC')]


class Levy(ModelSQL, ModelView):
    "Water Tariff Levy"
    __name__ = 'water.tariff.levy'
    tariff = fields.Many2One('water.tariff', "Tariff", required=True,
        ondelete='CASCADE')
    name = fields.Char("Name", required=True)
    price = fields.Numeric("Price", digits=(16, 0), required=True,
        domain=[('price', '>=', 0)], help="Rials per m³.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('tariff')


def vat_rates(date):
    """The duty and tax percents in force on date from the configured
    taxes (their children carry the rates with start and end dates)"""
    Configuration = Pool().get('water.configuration')
    configuration = Configuration(1)

    def rate(tax):
        if not tax:
            return Decimal(0)
        total = Decimal(0)
        for child in [tax] + list(tax.childs):
            if child.type != 'percentage':
                continue
            if ((child.start_date or date) <= date
                    <= (child.end_date or date)):
                total += child.rate * 100
        return total
    return rate(configuration.duty_tax), rate(configuration.vat_tax)


def import_tariffs(text):
    """Create or update the tariff versions of a CSV text (the format of
    tariff_csv) in the context company; return (created, updated).
    Raises TariffCsvError, naming the line and column, before writing."""
    pool = Pool()
    Tariff = pool.get('water.tariff')
    Usage = pool.get('water.usage')
    company = Transaction().context.get('company')
    versions = tariff_csv.read(io.StringIO(text, newline=''))
    usages = {u.code: u for u in Usage.search([])}
    for number, version in enumerate(versions, 2):
        if version.usage not in usages:
            raise tariff_csv.TariffCsvError(number, 'usage',
                f"unknown usage {version.usage!r}; known: "
                + ', '.join(sorted(usages)))
    existing = {(t.usage.code, t.start_date): t for t in Tariff.search([
                ('company', '=', company)])}
    to_save, to_delete, created = [], [], 0
    for version in versions:
        new = Tariff.from_engine(version, usages[version.usage], company)
        old = existing.get((version.usage, version.start))
        if old:
            to_delete.append(old)
        else:
            created += 1
        to_save.append(new)
    Tariff.delete(to_delete)
    Tariff.save(to_save)
    return created, len(to_delete)


def export_tariffs(tariffs):
    "The CSV text of tariff versions, with the VAT in force at each start"
    versions = [t.to_engine(*vat_rates(t.start_date)) for t in sorted(
            tariffs, key=lambda t: (t.usage.code, t.start_date))]
    output = io.StringIO(newline='')
    tariff_csv.write(output, versions)
    return output.getvalue()


class ImportStart(ModelView):
    "Import Tariffs"
    __name__ = 'water.tariff.import.start'
    file = fields.Binary("File", required=True,
        help="A CSV file: usage, valid_from (Jalali), "
        "water_rial_per_m3 or bands, fixed_rial_per_month, "
        "service_rial_per_month, sewage_share_percent, duty_percent, "
        "tax_percent; VAT is taken from the configured taxes.")


class Import(Wizard):
    "Import Tariffs"
    __name__ = 'water.tariff.import'
    start = StateView('water.tariff.import.start',
        'water_billing.tariff_import_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Import", 'import_', 'tryton-ok', default=True),
            ])
    import_ = StateTransition()

    def transition_import_(self):
        try:
            text = self.start.file.decode('utf-8-sig')
            import_tariffs(text)
        except (UnicodeDecodeError, tariff_csv.TariffCsvError) as exception:
            raise TariffValidationError(gettext(
                    'water_billing.msg_tariff_import_error',
                    error=str(exception))) from exception
        return 'end'


class TariffCsv(Report):
    "Tariffs as CSV"
    __name__ = 'water.tariff.csv'

    @classmethod
    def execute(cls, ids, data):
        Tariff = Pool().get('water.tariff')
        text = export_tariffs(Tariff.browse(ids))
        return ('csv', text.encode('utf-8'), False, 'tariffs')
