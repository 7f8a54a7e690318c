# This file is part of the water utility modules.
"""Import of subscribers from the legacy system's CSV export.

A file is imported whole or not at all: every row is first resolved
against the database without writing, and only a file without a single
rejection is saved, in batches. Rows are matched by subscription number,
geographic code, national code and meter serial, so importing the same
file again updates and never duplicates."""
from collections import Counter

from trytond.i18n import gettext
from trytond.model import ModelView, fields
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool
from trytond.tools import grouped_slice
from trytond.transaction import Transaction
from trytond.wizard import Button, StateTransition, StateView, Wizard

from . import subscriber_csv, validators
from .subscriber_csv import Rejection

CHUNK = 500


class ImportError_(ValidationError):
    pass


class Report:
    "What an import did, or would do, and the rows it rejected"

    def __init__(self):
        self.created = Counter()
        self.updated = Counter()
        self.rejections = []

    def __str__(self):
        lines = []
        for title, counter in [
                ("created", self.created), ("updated", self.updated)]:
            if counter:
                lines.append(f"{title}: " + ', '.join(
                        f'{n} {k}' for k, n in sorted(counter.items())))
        if self.rejections:
            lines.append(f"{len(self.rejections)} problem(s), "
                "nothing imported:")
            lines.extend(f'  {r}' for r in self.rejections)
        return '\n'.join(lines) or "nothing to import"


def import_subscribers(text, dry_run=False):
    """Import the CSV text in the context company; return the Report.
    With dry_run, or when a row is rejected, nothing is written."""
    report = Report()
    parsed = subscriber_csv.parse(text)
    report.rejections.extend(parsed.rejections)
    plan = _Plan(parsed.rows, report)
    plan.resolve()
    if not report.rejections:
        # counted before saving so that a dry run tells the same
        plan.count()
        if not dry_run:
            plan.save()
    return report


class _Plan:
    def __init__(self, rows, report):
        pool = Pool()
        self.rows = rows
        self.report = report
        self.company = Transaction().context.get('company')
        self.Zone = pool.get('water.zone')
        self.Usage = pool.get('water.usage')
        self.Parcel = pool.get('water.parcel')
        self.Party = pool.get('party.party')
        self.Address = pool.get('party.address')
        self.ContactMechanism = pool.get('party.contact_mechanism')
        self.Connection = pool.get('water.connection')
        self.Meter = pool.get('water.meter')
        self.Installation = pool.get('water.meter.installation')
        self.Subscription = pool.get('water.subscription')
        self.Date = pool.get('ir.date')

    def reject(self, row, column, reason):
        self.report.rejections.append(Rejection(row.line, column, reason))

    def _index(self, Model, key, values, domain=None):
        records = {}
        values = list({v for v in values if v})
        if values:
            for record in Model.search([(key, 'in', values)] + (domain or [])):
                records[getattr(record, key)] = record
        return records

    def resolve(self):
        if not self.company:
            for row in self.rows[:1]:
                self.reject(row, None, "no company in the context")
            return
        usages = {}
        # the legacy file names usages in Persian, staff may use English
        for language in ['en', 'fa']:
            with Transaction().set_context(language=language):
                for usage in self.Usage.search([]):
                    usages[usage.code] = usages[
                        validators.normalize_text(usage.name)] = usage
        self.usages = usages
        self.zones = self._index(self.Zone, 'name',
            [r.zone for r in self.rows], [('company', '=', self.company)])
        self.resolved = []
        # browsing thousands of records at once costs quadratic time
        for rows in grouped_slice(self.rows, CHUNK):
            self._resolve(list(rows))

    def _resolve(self, rows):
        company = [('company', '=', self.company)]
        subscriptions = self._index(self.Subscription, 'number',
            [r.subscription for r in rows], company)
        parcels = self._index(
            self.Parcel, 'geographic_code', [r.geographic_code for r in rows])
        parties = self._index(
            self.Party, 'national_code', [r.national_code for r in rows])
        meters = self._index(
            self.Meter, 'serial', [r.meter_serial for r in rows])
        diameters = dict(self.Connection.diameter.selection)
        for row in rows:
            usage = self.usages.get(row.usage)
            if not usage:
                self.reject(row, 'usage', f"unknown usage {row.usage!r}; "
                    "known: " + ', '.join(sorted(
                            {u.code for u in self.usages.values()})))
            if row.diameter and row.diameter not in diameters:
                self.reject(row, 'diameter', "unknown diameter; known: "
                    + ', '.join(diameters))
            subscription = subscriptions.get(row.subscription)
            parcel = parcels.get(row.geographic_code)
            if parcel and parcel.company.id != self.company:
                self.reject(row, 'geographic_code',
                    "belongs to another company")
            if subscription and (
                    subscription.connection.parcel.geographic_code
                    != row.geographic_code):
                self.reject(row, 'geographic_code',
                    f"subscription {row.subscription} is on parcel "
                    f"{subscription.connection.parcel.geographic_code}")
            party = parties.get(row.national_code)
            if subscription and party and subscription.party != party:
                self.reject(row, 'national_code',
                    "another person holds this subscription; "
                    "use a name change")
            if subscription:
                party = subscription.party
            if not party and not row.name:
                self.reject(row, 'name', "is required for a new subscriber")
            meter = meters.get(row.meter_serial)
            connection = subscription.connection if subscription else None
            if meter and meter.connection and meter.connection != connection:
                self.reject(row, 'meter_serial',
                    f"is installed on {meter.connection.rec_name}")
            if (row.meter_serial and connection and connection.meter
                    and connection.meter.serial != row.meter_serial):
                self.reject(row, 'meter_serial',
                    f"the connection has meter {connection.meter.serial}; "
                    "replace it with the Replace Meter wizard")
            if row.meter_serial and row.meter_reading is None and not meter:
                self.reject(row, 'meter_reading',
                    "is required with a new meter")
            self.resolved.append(
                (row, usage, subscription, parcel, party, meter))

    def count(self):
        "Count the records that saving creates and updates"
        created, updated = self.report.created, self.report.updated
        created['zones'] += len(
            {row.zone for row, *_ in self.resolved} - set(self.zones))
        new_parties = set()
        for row, usage, subscription, parcel, party, meter in self.resolved:
            if parcel is None:
                created['parcels'] += 1
            else:
                updated['parcels'] += 1
            if subscription:
                party = subscription.party
            if party is not None:
                updated['subscribers'] += 1
            elif not row.national_code or (
                    row.national_code not in new_parties):
                created['subscribers'] += 1
                if row.national_code:
                    new_parties.add(row.national_code)
            if subscription is None:
                created['connections'] += 1
                created['subscriptions'] += 1
            else:
                updated['subscriptions'] += 1
            if row.meter_serial:
                if meter is None:
                    created['meters'] += 1
                if not (subscription and subscription.connection.meter):
                    created['meter installations'] += 1
        # counters of nothing are noise in the report
        for counter in [created, updated]:
            for key in [k for k, n in counter.items() if not n]:
                del counter[key]

    def save(self):
        new_zones = []
        for row, *_ in self.resolved:
            if row.zone not in self.zones:
                self.zones[row.zone] = self.Zone(
                    name=row.zone, company=self.company)
                new_zones.append(self.zones[row.zone])
        self.Zone.save(new_zones)
        # a person on several rows of the file is created once
        self.new_parties = {}
        for resolved in grouped_slice(self.resolved, CHUNK):
            self._save(list(resolved))

    def _save(self, resolved):
        today = self.Date.today()
        parcels, parties, connections = [], [], []
        party_of = {}
        for row, usage, subscription, parcel, party, meter in resolved:
            if parcel is None:
                parcel = self.Parcel(
                    geographic_code=row.geographic_code, company=self.company)
            parcel.zone = self.zones[row.zone]
            parcel.number = row.parcel
            for name, column in [
                    ('address', 'address'), ('postal_code', 'postal_code'),
                    ('land_area', 'land_area_m2'),
                    ('building_area', 'building_area_m2')]:
                value = getattr(row, column)
                if value is not None:
                    setattr(parcel, name, value)
            parcels.append(parcel)

            if party is None and row.national_code:
                party = self.new_parties.get(row.national_code)
            if party is None:
                party = self.Party(name=row.name)
                # the subscriber's postal address is the parcel's, on
                # his invoices too
                party.addresses = [self.Address(
                        street_unstructured=row.address,
                        postal_code=row.postal_code)] if row.address else []
                if row.national_code:
                    self.new_parties[row.national_code] = party
            for name in ['name', 'national_code', 'father_name',
                    'birth_certificate_number']:
                value = getattr(row, name)
                if value is not None:
                    setattr(party, name, value)
            party_of[row.line] = party
            parties.append(party)

            connection = subscription.connection if subscription else None
            if connection is None:
                connection = self.Connection(
                    company=self.company, state='active',
                    installation_date=row.reading_date)
            connection.parcel = parcel
            connection.usage = usage
            connection.housing_units = row.units
            if row.diameter:
                connection.diameter = row.diameter
            if row.sewer is not None:
                connection.sewer = row.sewer
            connections.append(connection)
        self.Parcel.save(_unique(parcels))
        self.Party.save(_unique(parties))
        self.ContactMechanism.save(
            self._contact_mechanisms(resolved, party_of))
        self.Connection.save(connections)

        meters, installations, subscriptions = [], [], []
        for (row, usage, subscription, parcel, party, meter), connection in (
                zip(resolved, connections)):
            if row.meter_serial:
                if meter is None:
                    meter = self.Meter(serial=row.meter_serial,
                        company=self.company)
                if row.meter_digits:
                    meter.digits = row.meter_digits
                meters.append(meter)
                if not (subscription and connection.meter):
                    installations.append(self.Installation(
                            meter=meter, connection=connection,
                            install_date=row.reading_date or today,
                            initial_reading=row.meter_reading))
            if subscription is None:
                subscription = self.Subscription(
                    number=row.subscription, company=self.company,
                    connection=connection,
                    start_date=row.reading_date or today)
            subscription.party = party_of[row.line]
            subscriptions.append(subscription)
        self.Meter.save(meters)
        self.Installation.save(installations)
        self.Subscription.save(subscriptions)

    def _contact_mechanisms(self, resolved, party_of):
        "The mobile and phone of each row on its party's first mechanism"
        mechanisms = []
        for row, *_ in resolved:
            party = party_of[row.line]
            for type_ in ['mobile', 'phone']:
                value = getattr(row, type_)
                if not value:
                    continue
                current = [m for m in getattr(party, 'contact_mechanisms', ())
                    if m.type == type_]
                if current:
                    if current[0].value == value:
                        continue
                    mechanism = current[0]
                else:
                    mechanism = self.ContactMechanism(
                        party=party, type=type_)
                mechanism.value = mechanism.value_compact = value
                mechanisms.append(mechanism)
        return mechanisms


def _unique(records):
    seen, result = set(), []
    for record in records:
        if id(record) not in seen:
            seen.add(id(record))
            result.append(record)
    return result


class CsvImportMixin:
    """Check and Import transitions of a wizard that imports a CSV file
    with `_import(text, dry_run)` returning a report: a dry run shows the
    report, a real run with a rejected row raises `_error` with it"""
    __slots__ = ()

    def _run(self, dry_run):
        try:
            text = self.start.file.decode('utf-8-sig')
        except UnicodeDecodeError:
            raise self._error(gettext(self._msg_not_utf8))
        report = self._import(text, dry_run=dry_run)
        if report.rejections and not dry_run:
            raise self._error(gettext(
                    self._msg_rejected, report=str(report)))
        self.start.report = str(report)
        return 'result'

    def transition_check(self):
        return self._run(dry_run=True)

    def transition_import_(self):
        return self._run(dry_run=False)

    def default_result(self, fields):
        return {'report': self.start.report}


class ImportSubscribers(CsvImportMixin, Wizard):
    "Import Subscribers"
    __name__ = 'water.subscriber.import'
    start = StateView('water.subscriber.import.start',
        'water_crm.subscriber_import_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Check", 'check', 'tryton-search'),
            Button("Import", 'import_', 'tryton-ok', default=True),
            ])
    check = StateTransition()
    import_ = StateTransition()
    result = StateView('water.subscriber.import.start',
        'water_crm.subscriber_import_result_view_form', [
            Button("Close", 'end', 'tryton-close', default=True),
            ])

    _import = staticmethod(import_subscribers)
    _error = ImportError_
    _msg_not_utf8 = 'water_crm.msg_import_not_utf8'
    _msg_rejected = 'water_crm.msg_import_rejected'


class ImportSubscribersStart(ModelView):
    "Import Subscribers"
    __name__ = 'water.subscriber.import.start'
    file = fields.Binary("File", required=True,
        help="The CSV export of the legacy system, in UTF-8.")
    report = fields.Text("Report", readonly=True)
