# This file is part of the water utility modules.
"""Tests of the import of subscribers from the legacy CSV export."""
import csv
import datetime as dt
import io
import os
import tempfile
import unittest
from contextlib import redirect_stderr, redirect_stdout
from decimal import Decimal

from trytond.exceptions import UserError
from trytond.modules.company.tests import (
    CompanyTestMixin, create_company, set_company)
from trytond.modules.water_crm.cli import main
from trytond.modules.water_crm.subscriber_csv import OPTIONAL, REQUIRED
from trytond.modules.water_crm.subscriber_import import import_subscribers
from trytond.pool import Pool
from trytond.tests.test_tryton import ModuleTestCase, with_transaction

from .test_crm import (
    create_connection, create_meter, create_parcel, create_premise,
    create_zone, install)

SEED = os.path.join(os.path.dirname(__file__), 'seed_subscriber.csv')
# The person of subscription 1421, as the demo completes the seed
PERSON_1421 = {
    'name': 'حسين رضايي',
    'national_code': '۰۴۹۹۳۷۰۸۹۹',
    'father_name': 'محمود',
    'birth_certificate_number': '1250',
    'mobile': '۰۹۱۲ ۱۲۳ ۴۵۶۷',
    'postal_code': '1193653471',
    'diameter': '1/2',
    'sewer': '0',
    'meter_serial': 'ZT-1421',
    'meter_digits': '5',
    'meter_reading': '98',
    'reading_date': '1395/01/29',
    }
MODELS = [
    'water.zone', 'water.parcel', 'party.party', 'party.address',
    'party.contact_mechanism',
    'water.connection', 'water.meter', 'water.meter.installation',
    'water.subscription']


def seed_row():
    with open(SEED, encoding='utf-8') as fp:
        row, = csv.DictReader(fp)
    return row


def csv_text(*rows, columns=REQUIRED + OPTIONAL):
    output = io.StringIO()
    writer = csv.DictWriter(output, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    return output.getvalue()


def subscriber(number, **values):
    "A valid row of a generated subscriber"
    return {
        'subscription': str(number),
        'geographic_code': f'1900{500000 + number:06d}',
        'zone': 'دهکده نمونه',
        'usage': 'residential',
        'units': '1',
        'name': f'مشترک {number}',
        'national_code': national_code(100000000 + number),
        'mobile': f'0912{number:07d}',
        'meter_serial': f'GZ-{number:06d}',
        'meter_reading': '10',
        'reading_date': '1404/01/15',
        **values}


def national_code(number):
    body = f'{number:09d}'[-9:]
    remainder = sum(int(d) * (10 - i) for i, d in enumerate(body)) % 11
    return body + str(remainder if remainder < 2 else 11 - remainder)


def count_records():
    pool = Pool()
    return {name: pool.get(name).search([], count=True) for name in MODELS}


def load_persian():
    "Load the Persian translations as `water setup` does with -l fa"
    Lang = Pool().get('ir.lang')
    persian, = Lang.search([('code', '=', 'fa')])
    Lang.load_translations([persian])


def rejected(report):
    return {(r.line, r.column) for r in report.rejections}


class WaterImportTestCase(CompanyTestMixin, ModuleTestCase):
    "Test the import of subscribers"
    module = 'water_crm'

    @with_transaction()
    def test_import_seed(self):
        "The reference subscriber is imported exactly"
        pool = Pool()
        Subscription = pool.get('water.subscription')
        Installation = pool.get('water.meter.installation')
        load_persian()
        company = create_company()
        with set_company(company):
            report = import_subscribers(
                csv_text({**seed_row(), **PERSON_1421}))

            self.assertEqual(report.rejections, [])
            self.assertEqual(dict(report.created), {
                    'zones': 1, 'parcels': 1, 'subscribers': 1,
                    'connections': 1, 'meters': 1, 'meter installations': 1,
                    'subscriptions': 1})
            self.assertEqual(dict(report.updated), {})
            subscription, = Subscription.search([])
            self.assertEqual(subscription.number, '1421')
            self.assertEqual(subscription.bill_file_id, '1421')
            self.assertEqual(subscription.company, company)
            self.assertEqual(subscription.state, 'active')
            self.assertEqual(subscription.start_date, dt.date(2016, 4, 17))
            connection = subscription.connection
            self.assertEqual(connection.state, 'active')
            self.assertEqual(connection.usage.code, 'residential_villa')
            self.assertEqual(connection.housing_units, 1)
            self.assertEqual(connection.diameter, '1/2')
            self.assertFalse(connection.sewer)
            self.assertEqual(connection.installation_date_jalali, '1395/01/29')
            parcel = connection.parcel
            self.assertEqual(parcel.zone.name, 'دهکده زیتون')
            self.assertEqual(parcel.zone.company, company)
            self.assertEqual(parcel.number, '420/71')
            self.assertEqual(parcel.geographic_code, '1900420071')
            self.assertEqual(parcel.address, 'قطعه 420/71')
            self.assertEqual(parcel.land_area, Decimal('478.50'))
            self.assertEqual(parcel.building_area, Decimal('100.00'))
            self.assertEqual(parcel.postal_code, '1193653471')
            party = subscription.party
            self.assertEqual(party.name, 'حسین رضایی')
            self.assertEqual(party.national_code, '0499370899')
            self.assertEqual(party.father_name, 'محمود')
            self.assertEqual(party.birth_certificate_number, '1250')
            self.assertEqual(
                [(m.type, m.value) for m in party.contact_mechanisms],
                [('mobile', '09121234567')])
            self.assertEqual(
                [(a.street_unstructured, a.postal_code)
                    for a in party.addresses],
                [('قطعه 420/71', '1193653471')])
            installation, = Installation.search([])
            self.assertEqual(installation.meter.serial, 'ZT-1421')
            self.assertEqual(installation.meter.digits, 5)
            self.assertEqual(installation.initial_reading, 98)
            self.assertEqual(installation.install_date, dt.date(2016, 4, 17))
            self.assertEqual(subscription.meter, installation.meter)

    @with_transaction()
    def test_import_seed_without_person(self):
        "The seed row alone names no subscriber: rejected, nothing written"
        load_persian()
        company = create_company()
        with set_company(company):
            before = count_records()
            report = import_subscribers(csv_text(seed_row()))

            self.assertEqual(rejected(report), {(2, 'name')})
            self.assertEqual(count_records(), before)

    @with_transaction()
    def test_usage_by_code_or_english_name(self):
        "Usages are matched by code or name, without Persian translations"
        pool = Pool()
        Connection = pool.get('water.connection')
        company = create_company()
        with set_company(company):
            report = import_subscribers(csv_text(
                    subscriber(1, usage='residential_villa'),
                    subscriber(2, usage='Commercial'),
                    subscriber(3, usage='ويلا باغ و مسكوني')))

            self.assertEqual(rejected(report), {(4, 'usage')})
            load_persian()
            report = import_subscribers(csv_text(
                    subscriber(1, usage='residential_villa'),
                    subscriber(2, usage='Commercial'),
                    subscriber(3, usage='ويلا باغ و مسكوني')))
            self.assertEqual(report.rejections, [])
            self.assertEqual(
                [c.usage.code for c in Connection.search(
                        [], order=[('id', 'ASC')])],
                ['residential_villa', 'commercial', 'residential_villa'])

    @with_transaction()
    def test_bad_rows_write_nothing(self):
        "A file with bad rows writes nothing and tells every rejected row"
        company = create_company()
        with set_company(company):
            report = import_subscribers(csv_text(subscriber(1)))
            self.assertEqual(report.rejections, [])
            before = count_records()

            report = import_subscribers(csv_text(
                    subscriber(2),
                    subscriber(3, national_code='0499370898'),
                    subscriber(4, usage='swimming pool'),
                    subscriber(5, units=''),
                    subscriber(6, subscription='2'),
                    # the meter of subscription 1
                    subscriber(7, meter_serial='GZ-000001'),
                    subscriber(8, mobile='0912', postal_code='123'),
                    subscriber(9, reading_date='1404/13/01'),
                    subscriber(10, geographic_code='190050001'),
                    subscriber(11, name='', national_code=''),
                    subscriber(12, meter_serial='GZ-NEW', meter_reading=''),
                    subscriber(13, diameter='7/8'),
                    subscriber(14, land_area_m2='-1', sewer='maybe'),
                    subscriber(15, meter_digits='2', units='x'),
                    ) + csv_text(subscriber(16)).splitlines()[1] + ',extra\n')

            self.assertEqual(count_records(), before)
            self.assertEqual(rejected(report), {
                    (3, 'national_code'),
                    (4, 'usage'),
                    (5, 'units'),
                    (6, 'subscription'),
                    (7, 'meter_serial'),
                    (8, 'mobile'), (8, 'postal_code'),
                    (9, 'reading_date'),
                    (10, 'geographic_code'),
                    (11, 'name'),
                    (12, 'meter_reading'),
                    (13, 'diameter'),
                    (14, 'land_area_m2'), (14, 'sewer'),
                    (15, 'meter_digits'), (15, 'units'),
                    (16, None),
                    })
            self.assertFalse(report.created)
            text = str(report)
            self.assertIn("nothing imported", text)
            self.assertIn("line 3, national_code: ", text)
            self.assertIn("line 6, subscription: 2 is already on line 2",
                text)
            self.assertIn("line 7, meter_serial: is installed on", text)

    @with_transaction()
    def test_missing_column_writes_nothing(self):
        "A file without a required column is refused whole"
        company = create_company()
        with set_company(company):
            before = count_records()
            columns = [c for c in REQUIRED + OPTIONAL if c != 'units']
            row = subscriber(1)
            del row['units']
            report = import_subscribers(csv_text(row, columns=columns))

            self.assertEqual(rejected(report), {(1, None)})
            self.assertIn("missing columns: units", str(report))
            self.assertEqual(count_records(), before)

    @with_transaction()
    def test_conflicts_with_the_database(self):
        "Rows that contradict what is recorded are rejected"
        company = create_company()
        with set_company(company):
            import_subscribers(csv_text(*map(subscriber, range(1, 5))))
            before = count_records()

            report = import_subscribers(csv_text(
                    # subscription 1 on the parcel of subscription 4
                    subscriber(1, geographic_code='1900500004'),
                    # the person of subscription 1 for subscription 2
                    subscriber(2, national_code=national_code(100000001)),
                    # another meter on subscription 3
                    subscriber(3, meter_serial='GZ-999999')))

            self.assertEqual(count_records(), before)
            self.assertEqual(rejected(report), {
                    (2, 'geographic_code'),
                    (3, 'national_code'),
                    (4, 'meter_serial'),
                    })
            self.assertIn("subscription 1 is on parcel 1900500001",
                str(report))
            self.assertIn("Replace Meter wizard", str(report))

    @with_transaction()
    def test_meter_installed_outside_the_import(self):
        "A meter installed on a connection by hand is not moved"
        company = create_company()
        with set_company(company):
            connection = create_premise(company)
            meter = create_meter(company, 'GZ-000001')
            install(meter, connection, dt.date(2020, 1, 1))
            before = count_records()

            report = import_subscribers(csv_text(subscriber(1)))

            self.assertEqual(rejected(report), {(2, 'meter_serial')})
            self.assertEqual(count_records(), before)
            self.assertEqual(meter.connection, connection)

    @with_transaction()
    def test_parcel_of_another_company(self):
        "A geographic code of another company's parcel is rejected"
        pool = Pool()
        Currency = pool.get('currency.currency')
        company = create_company()
        other_company = create_company(
            name="Other Utility", currency=Currency(company.currency.id))
        with set_company(other_company):
            create_connection(
                create_parcel(create_zone(other_company), '1900500001'))
        with set_company(company):
            before = count_records()
            report = import_subscribers(csv_text(subscriber(1)))

            self.assertEqual(rejected(report), {(2, 'geographic_code')})
            self.assertEqual(count_records(), before)

    @with_transaction()
    def test_no_company(self):
        "Without a company in the context nothing is imported"
        before = count_records()
        report = import_subscribers(csv_text(subscriber(1)))

        self.assertEqual(rejected(report), {(2, None)})
        self.assertEqual(count_records(), before)

    @with_transaction()
    def test_dry_run(self):
        "A dry run writes nothing and reports what the import would do"
        company = create_company()
        with set_company(company):
            text = csv_text(subscriber(1), subscriber(2))
            before = count_records()

            dry = import_subscribers(text, dry_run=True)

            self.assertEqual(count_records(), before)
            self.assertEqual(dry.rejections, [])
            self.assertEqual(dict(dry.created), {
                    'zones': 1, 'parcels': 2, 'subscribers': 2,
                    'connections': 2, 'meters': 2, 'meter installations': 2,
                    'subscriptions': 2})
            wet = import_subscribers(text)
            self.assertEqual(str(wet), str(dry))
            self.assertNotEqual(count_records(), before)

            # and what importing it again would update
            dry = import_subscribers(text, dry_run=True)
            self.assertEqual(dict(dry.created), {})
            self.assertEqual(dict(dry.updated), {
                    'parcels': 2, 'subscribers': 2, 'subscriptions': 2})

    @with_transaction()
    def test_dry_run_of_bad_file(self):
        "A dry run of a bad file reports its rejections"
        company = create_company()
        with set_company(company):
            report = import_subscribers(csv_text(
                    subscriber(1), subscriber(2, units='0')), dry_run=True)
            self.assertEqual(rejected(report), {(3, 'units')})

    @with_transaction()
    def test_reimport(self):
        "Importing the same file again creates nothing and updates"
        pool = Pool()
        Connection = pool.get('water.connection')
        Parcel = pool.get('water.parcel')
        company = create_company()
        with set_company(company):
            rows = [subscriber(1), subscriber(2, units='2')]
            first = import_subscribers(csv_text(*rows))
            self.assertEqual(first.rejections, [])
            after_first = count_records()

            again = import_subscribers(csv_text(*rows))

            self.assertEqual(again.rejections, [])
            self.assertEqual(count_records(), after_first)
            self.assertEqual(dict(again.created), {})
            self.assertEqual(dict(again.updated), {
                    'parcels': 2, 'subscribers': 2, 'subscriptions': 2})

            rows[1].update(units='3', land_area_m2='600.25', sewer='بله')
            changed = import_subscribers(csv_text(*rows))
            self.assertEqual(changed.rejections, [])
            self.assertEqual(count_records(), after_first)
            connection, = Connection.search(
                [('parcel.geographic_code', '=', '1900500002')])
            self.assertEqual(connection.housing_units, 3)
            self.assertTrue(connection.sewer)
            parcel, = Parcel.search([('geographic_code', '=', '1900500002')])
            self.assertEqual(parcel.land_area, Decimal('600.25'))

    @with_transaction()
    def test_reimport_changed_mobile(self):
        "A changed mobile updates the subscriber's mobile, adds none"
        pool = Pool()
        Party = pool.get('party.party')
        ContactMechanism = pool.get('party.contact_mechanism')
        company = create_company()
        with set_company(company):
            import_subscribers(csv_text(subscriber(1)))
            mechanisms = ContactMechanism.search([], count=True)

            report = import_subscribers(csv_text(
                    subscriber(1, mobile='+98 ۹۱۵ ۰۰۰ ۱۱۲۲',
                        phone='021 8877 6655')))

            self.assertEqual(report.rejections, [])
            party, = Party.search([('national_code', '=',
                        national_code(100000001))])
            self.assertEqual(
                sorted((m.type, m.value) for m in party.contact_mechanisms),
                [('mobile', '09150001122'), ('phone', '02188776655')])
            self.assertEqual(
                ContactMechanism.search([], count=True), mechanisms + 1)

    @with_transaction()
    def test_person_on_several_rows(self):
        "A person holding several subscriptions is created once"
        pool = Pool()
        Party = pool.get('party.party')
        company = create_company()
        with set_company(company):
            code = national_code(100000001)
            report = import_subscribers(csv_text(
                    subscriber(1), subscriber(2, national_code=code),
                    subscriber(3, national_code=code)))

            self.assertEqual(report.rejections, [])
            self.assertEqual(report.created['subscribers'], 1)
            party, = Party.search([('national_code', '=', code)])
            self.assertEqual(
                sorted(s.number for s in party.subscriptions),
                ['1', '2', '3'])

    @with_transaction()
    def test_wizard(self):
        "The wizard checks, then imports the file"
        pool = Pool()
        ImportSubscribers = pool.get('water.subscriber.import', type='wizard')
        Subscription = pool.get('water.subscription')
        company = create_company()
        with set_company(company):
            data = csv_text(subscriber(1), subscriber(2)).encode('utf-8-sig')
            before = count_records()

            session_id, _, _ = ImportSubscribers.create()
            result = ImportSubscribers.execute(
                session_id, {'start': {'file': data}}, 'check')
            self.assertEqual(result['view']['state'], 'result')
            check = result['view']['defaults']['report']
            self.assertIn("2 subscriptions", check)
            self.assertEqual(count_records(), before)

            result = ImportSubscribers.execute(
                session_id, {'start': {'file': data}}, 'import_')
            self.assertEqual(result['view']['defaults']['report'], check)
            ImportSubscribers.delete(session_id)
            self.assertEqual(
                sorted(s.number for s in Subscription.search([])),
                ['1', '2'])

    @with_transaction()
    def test_wizard_refuses_bad_file(self):
        "The wizard raises the report of a bad file and writes nothing"
        pool = Pool()
        ImportSubscribers = pool.get('water.subscriber.import', type='wizard')
        company = create_company()
        with set_company(company):
            data = csv_text(subscriber(1), subscriber(
                    2, national_code='1234567890')).encode()
            before = count_records()

            session_id, _, _ = ImportSubscribers.create()
            result = ImportSubscribers.execute(
                session_id, {'start': {'file': data}}, 'check')
            self.assertIn("line 3, national_code",
                result['view']['defaults']['report'])
            with self.assertRaisesRegex(
                    UserError, "(?s)Nothing was imported.*line 3, "
                    "national_code"):
                ImportSubscribers.execute(
                    session_id, {'start': {'file': data}}, 'import_')
            self.assertEqual(count_records(), before)

            session_id, _, _ = ImportSubscribers.create()
            with self.assertRaisesRegex(UserError, "UTF-8"):
                ImportSubscribers.execute(session_id, {
                        'start': {'file': 'قطعه'.encode('cp1256')},
                        }, 'check')


class ImportCommandTestCase(unittest.TestCase):
    """Test what `water import-subscribers` does before it opens the
    database; the import itself is tested above"""

    def water(self, *args):
        stdout, stderr = io.StringIO(), io.StringIO()
        with redirect_stdout(stdout), redirect_stderr(stderr):
            try:
                code = main(list(args))
            except SystemExit as exit:
                code = exit.code
        return code, stdout.getvalue(), stderr.getvalue()

    def test_missing_file(self):
        "A missing file exits with 1 and says so"
        code, _, stderr = self.water(
            'import-subscribers', '/nonexistent/subscribers.csv')
        self.assertEqual(code, 1)
        self.assertIn("cannot read /nonexistent/subscribers.csv", stderr)

    def test_not_utf8(self):
        "A file that is not UTF-8 exits with 1 and says so"
        with tempfile.NamedTemporaryFile(suffix='.csv') as fp:
            fp.write('قطعه'.encode('cp1256'))
            fp.flush()
            code, _, stderr = self.water('import-subscribers', fp.name)
        self.assertEqual(code, 1)
        self.assertIn("cannot read", stderr)


del ModuleTestCase
