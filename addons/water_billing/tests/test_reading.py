# This file is part of the water utility modules.
"""Tests of meter readings: consumption, plausibility checks, staff
decisions, control readings, estimates, the reading sheet and the import
of a handheld's export (function, wizard and command)."""
import contextlib
import io
import os
import tempfile

from trytond.modules.water_billing.reading import ReadingError
from trytond.modules.water_billing.reading_import import (
    ReadingImportError, import_readings)
from trytond.modules.water_crm.cli import main
from trytond.modules.water_crm.tests.test_crm import (
    as_user, create_user, create_zone)
from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME
from trytond.transaction import Transaction

from .fixtures import (
    D, BillingTestCase, bill, create_subscriber, get_company, import_tariffs,
    read_meter, with_company)

HEADER = 'subscription,reading_date,value,meter_serial,kind,note\n'


def history(subscription, rows):
    "Accepted readings of (Jalali date, value), whatever their flags"
    Reading = Pool().get('water.reading')
    readings = [read_meter(subscription, date, value)
        for date, value in rows]
    Reading.accept([r for r in readings if r.state == 'flagged'])
    return readings


def rejected(report):
    return [(r.line, r.column) for r in report.rejections]


class ReadingTestCase(BillingTestCase):
    "Test meter readings"

    @with_company
    def test_consumption_from_installation(self):
        "The first reading counts from the meter's installation"
        subscription = create_subscriber(1421)

        reading = read_meter(subscription, '1395/10/06', 120)

        self.assertEqual(reading.state, 'accepted')
        self.assertEqual(reading.previous_date, D('1395/01/29'))
        self.assertEqual(reading.previous_value, 98)
        self.assertEqual(reading.consumption, 22)
        self.assertFalse(reading.rollover)
        self.assertIsNone(reading.flags)

    @with_company
    def test_consumption_from_previous_accepted(self):
        "A reading counts from the previous accepted reading only"
        subscription = create_subscriber(1421)
        read_meter(subscription, '1395/10/06', 120)
        # neither a draft nor a rejected reading is counted from
        read_meter(subscription, '1396/01/10', 125, confirm=False)
        refused = read_meter(subscription, '1396/01/20', 900)
        self.assertEqual(refused.state, 'flagged')
        Pool().get('water.reading').reject([refused])

        reading = read_meter(subscription, '1396/02/24', 130)

        self.assertEqual(reading.state, 'accepted')
        self.assertEqual(reading.previous_date, D('1395/10/06'))
        self.assertEqual(reading.previous_value, 120)
        self.assertEqual(reading.consumption, 10)

    @with_company
    def test_readings_confirmed_together(self):
        "Readings confirmed at once count from each other in date order"
        Reading = Pool().get('water.reading')
        subscription = create_subscriber(1421)
        later = read_meter(subscription, '1396/02/24', 130, confirm=False)
        earlier = read_meter(subscription, '1395/10/06', 120, confirm=False)

        Reading.confirm([later, earlier])

        self.assertEqual([earlier.consumption, later.consumption], [22, 10])
        self.assertEqual(later.previous_value, 120)

    @with_company
    def test_rollover(self):
        "A 5-digit register going from 99800 to 00150 consumed 350 m³"
        Reading = Pool().get('water.reading')
        subscription = create_subscriber(7001, initial_reading=99800)

        reading = read_meter(subscription, '1395/03/29', 150)

        self.assertEqual(reading.consumption, 350)
        self.assertTrue(reading.rollover)
        # counted, but the staff looks at it before it is billed
        self.assertEqual(reading.state, 'flagged')
        self.assertEqual(reading.flags, "The meter register rolled over.")
        Reading.accept([reading])
        self.assertEqual(reading.state, 'accepted')
        self.assertEqual(reading.consumption, 350)

    @with_company
    def test_below_previous_refused(self):
        "A value below the previous one is refused unless it rolled over"
        Reading = Pool().get('water.reading')
        low = create_subscriber(7002, initial_reading=500)
        high = create_subscriber(7003, initial_reading=99800)
        small = create_subscriber(7004, initial_reading=9980, digits=4)

        for subscription, value in [(low, 400), (high, 20000)]:
            with self.subTest(value=value):
                reading = read_meter(
                    subscription, '1395/03/29', value, confirm=False)
                with self.assertRaises(ReadingError) as context:
                    Reading.confirm([reading])
                self.assertIn("is below the previous value",
                    context.exception.message)
        # the same register on 4 digits rolls over at 9999
        reading = read_meter(small, '1395/03/29', 15)
        self.assertEqual((reading.consumption, reading.rollover), (35, True))

    @with_company
    def test_before_latest_refused(self):
        """A reading entered on or before the date of the latest accepted
        reading is refused: it would count that consumption again"""
        Reading = Pool().get('water.reading')
        subscription = create_subscriber(7005, initial_reading=100)
        read_meter(subscription, '1395/03/01', 110)
        latest = read_meter(subscription, '1395/05/01', 130)
        self.assertEqual(latest.state, 'accepted')

        for date in ['1395/04/01', '1395/05/01']:
            with self.subTest(date=date):
                reading = read_meter(subscription, date, 120, confirm=False)
                with self.assertRaises(ReadingError) as context:
                    Reading.confirm([reading])
                self.assertEqual(context.exception.message,
                    f'Reading "{reading.rec_name}" is not after 1395/05/01, '
                    'the date of the latest accepted reading of the '
                    'subscription.')
                self.assertEqual(Reading(reading.id).state, 'draft')
        # after it, the reading counts from the latest
        later = read_meter(subscription, '1395/07/01', 150)
        self.assertEqual((later.previous_date, later.consumption),
            (latest.date, 20))

    @with_company
    def test_zero_consumption_flagged(self):
        "A reading without consumption waits for the staff"
        subscription = create_subscriber(1421)

        reading = read_meter(subscription, '1395/10/06', 98)

        self.assertEqual(reading.state, 'flagged')
        self.assertEqual(reading.consumption, 0)
        self.assertEqual(reading.flags, "Zero consumption.")

    def setup_history(self, number):
        """A subscription installed on 1395/01/01 that used 91 m³ in
        the 185 days until 1395/06/31, read every two months"""
        subscription = create_subscriber(number, install_date='1395/01/01',
            initial_reading=0)
        history(subscription, [
                ('1395/03/01', 31), ('1395/05/01', 62), ('1395/06/31', 91)])
        return subscription

    @with_company
    def test_tolerance(self):
        """Consumption above the high or below the low tolerance of the
        subscription's own history is flagged, in between accepted"""
        pool = Pool()
        Reading = pool.get('water.reading')
        Configuration = pool.get('water.configuration')
        subscription = self.setup_history(7010)
        # 91 m³ in 185 days expect 29.5 m³ in the 60 days to 1395/08/30;
        # 70% above and 40% below are 50.2 and 17.7 m³

        high = read_meter(subscription, '1395/08/30', 91 + 51)
        self.assertEqual(high.state, 'flagged')
        self.assertEqual(high.flags,
            "Consumption 51 m³ is above the expected 30 m³.")
        Reading.reject([high])
        low = read_meter(subscription, '1395/08/30', 91 + 17)
        self.assertEqual(low.state, 'flagged')
        self.assertEqual(low.flags,
            "Consumption 17 m³ is below the expected 30 m³.")
        Reading.reject([low])
        for value in [91 + 18, 91 + 50]:
            reading = read_meter(subscription, '1395/08/30', value)
            self.assertEqual(reading.state, 'accepted', msg=value)
            Reading.draft([reading])
            Reading.delete([reading])

        # the tolerance is the company's choice
        configuration = Configuration(1)
        configuration.reading_high_tolerance = 200
        configuration.save()
        reading = read_meter(subscription, '1395/08/30', 91 + 51)
        self.assertEqual(reading.state, 'accepted')

    @with_company
    def test_too_many_estimates(self):
        "An estimate after two accepted estimates in a row is flagged"
        Reading = Pool().get('water.reading')
        subscription = self.setup_history(7011)

        first, = Reading.estimate([subscription], D('1395/08/30'))
        second, = Reading.estimate([subscription], D('1395/10/30'))
        third, = Reading.estimate([subscription], D('1396/01/05'))

        self.assertEqual([r.kind for r in [first, second, third]],
            ['estimated'] * 3)
        self.assertEqual([r.state for r in [first, second, third]],
            ['accepted', 'accepted', 'flagged'])
        self.assertEqual(third.flags,
            "More than 2 estimated readings in a row.")
        # a meter reader's reading ends the series
        reading = read_meter(subscription, '1396/03/01', third.value + 25)
        self.assertEqual(reading.state, 'accepted')

    @with_company
    def test_estimate(self):
        "An estimate continues the last accepted value at the recent pace"
        Reading = Pool().get('water.reading')
        subscription = create_subscriber(7012, install_date='1395/01/01',
            initial_reading=0)
        # a heavy first period, then three years of little use: only the
        # last two years make the pace
        history(subscription, [('1395/03/01', 300), ('1398/03/01', 400),
                ('1398/05/01', 405)])

        reading, = Reading.estimate([subscription], D('1398/07/01'))

        self.assertEqual(reading.subscription, subscription)
        self.assertEqual(reading.kind, 'estimated')
        # 105 m³ in 1,158 days give 5.6 m³ in the 62 days since 1398/05/01
        self.assertEqual(reading.previous_date, D('1398/05/01'))
        self.assertEqual(reading.previous_value, 405)
        self.assertEqual(reading.value, 411)
        self.assertEqual(reading.consumption, 6)
        self.assertEqual(reading.state, 'accepted')

    @with_company
    def test_accept_reject(self):
        "The staff accept or reject a flagged reading"
        Reading = Pool().get('water.reading')
        subscription = create_subscriber(1421)
        flagged = read_meter(subscription, '1395/10/06', 98)

        Reading.reject([flagged])
        self.assertEqual(flagged.state, 'rejected')
        Reading.draft([flagged])
        self.assertEqual(flagged.state, 'draft')
        self.assertIsNone(flagged.consumption)
        Reading.confirm([flagged])
        self.assertEqual(flagged.state, 'flagged')
        Reading.accept([flagged])
        self.assertEqual(flagged.state, 'accepted')
        # the accepted zero is counted from
        reading = read_meter(subscription, '1396/02/24', 130)
        self.assertEqual(reading.previous_date, D('1395/10/06'))
        self.assertEqual(reading.consumption, 32)

    @with_company
    def test_control_reading(self):
        "A control reading supersedes the flagged reading it was ordered for"
        Reading = Pool().get('water.reading')
        subscription = self.setup_history(7014)
        doubtful = read_meter(subscription, '1395/08/30', 91 + 200)
        self.assertEqual(doubtful.state, 'flagged')
        Reading.ask_control([doubtful])
        self.assertEqual(doubtful.state, 'control')

        control = read_meter(
            subscription, '1395/09/02', 91 + 210, kind='control')

        self.assertEqual(control.state, 'accepted')
        self.assertIsNone(control.flags)
        self.assertEqual(control.previous_date, D('1395/06/31'))
        self.assertEqual(control.consumption, 210)
        self.assertEqual(Reading(doubtful.id).state, 'rejected')

    @with_company
    def test_billed_reading_frozen(self):
        "A billed reading cannot be changed, reset nor deleted"
        Reading = Pool().get('water.reading')
        import_tariffs()
        subscription = create_subscriber(1421)
        reading = read_meter(subscription, '1395/10/06', 120)
        bill([reading])

        for values in [{'value': 121}, {'date': D('1395/10/07')}]:
            with self.subTest(values=values):
                with self.assertRaises(ReadingError) as context:
                    Reading.write([reading], values)
                self.assertIn("is billed by", context.exception.message)
        with self.assertRaises(ReadingError):
            Reading.draft([reading])
        with self.assertRaises(ReadingError):
            Reading.delete([reading])
        # a note may still be added
        Reading.write([reading], {'note': "gate was open"})
        self.assertEqual(Reading(reading.id).value, 120)

    @with_company
    def test_reading_sheet(self):
        """The reading sheet has one draft reading per active subscription
        of the zone, in route order, and no more when opened again"""
        pool = Pool()
        Reading = pool.get('water.reading')
        ReadingSheet = pool.get('water.reading.sheet', type='wizard')
        company = get_company()
        zone = create_zone(company, "دهکده نمونه")
        other_zone = create_zone(company, "دهکده دیگر")
        subscriptions = [create_subscriber(n, zone=zone, route=route,
                sequence=sequence)
            for n, route, sequence in [
                (8001, 'B', 1), (8002, 'A', 2), (8003, 'A', 1)]]
        suspended = create_subscriber(8004, zone=zone, route='A')
        suspended.__class__.suspend([suspended])
        create_subscriber(8005, zone=other_zone, route='A')
        date = D('1397/07/30')

        def open_sheet(route=None):
            session_id, _, _ = ReadingSheet.create()
            result = ReadingSheet.execute(session_id, {
                    'start': {'zone': zone.id, 'route': route,
                        'date': date},
                    }, 'open_')
            (action, _), = result['actions']
            readings = Reading.search([('date', '=', date)])
            return action, readings

        action, readings = open_sheet()

        self.assertEqual(sorted(r.subscription.number for r in readings),
            ['8001', '8002', '8003'])
        self.assertEqual({(r.state, r.kind, r.value) for r in readings},
            {('draft', 'reader', None)})
        self.assertEqual({r.meter for r in readings},
            {s.meter for s in subscriptions})
        self.assertEqual(
            [r.subscription.number for r in Reading.search(
                    eval_domain(action['pyson_domain']),
                    order=eval_domain(action['pyson_order']))],
            ['8003', '8002', '8001'])
        self.assertIn(zone.name, action['name'])

        # the values entered stay; nothing is created twice
        readings[0].value = 5
        readings[0].save()
        action, again = open_sheet()
        self.assertEqual(sorted(again), sorted(readings))
        self.assertIn(5, [r.value for r in again])
        _, route_a = open_sheet(route='A')
        self.assertEqual(len(Reading.search([('date', '=', date)])), 3)

    @with_company
    def test_reading_sheet_route(self):
        "A route of the zone gets readings for its subscriptions only"
        pool = Pool()
        Reading = pool.get('water.reading')
        ReadingSheet = pool.get('water.reading.sheet', type='wizard')
        zone = create_zone(get_company(), "دهکده نمونه")
        for number, route in [(8101, 'A'), (8102, 'B')]:
            create_subscriber(number, zone=zone, route=route)

        session_id, _, _ = ReadingSheet.create()
        ReadingSheet.execute(session_id, {'start': {'zone': zone.id,
                    'route': 'B', 'date': D('1397/07/30')}}, 'open_')

        self.assertEqual(
            [r.subscription.number for r in Reading.search([])], ['8102'])


def eval_domain(encoded):
    from trytond.pyson import PYSONDecoder
    return PYSONDecoder().decode(encoded)


class ReadingImportTestCase(BillingTestCase):
    "Test the import of a handheld's readings"

    def setup_subscribers(self):
        "1421 read last on 1397/06/03 at 175, 7001 at 99800, 7002 at 500"
        zone = create_zone(get_company())
        subscription = create_subscriber(1421, zone=zone)
        history(subscription, [('1395/10/06', 120), ('1396/02/24', 130),
                ('1397/01/31', 140), ('1397/06/03', 175)])
        create_subscriber(7001, zone=zone, install_date='1397/06/01',
            initial_reading=99800)
        create_subscriber(7002, zone=zone, install_date='1397/06/01',
            initial_reading=500)
        return zone

    def readings(self):
        Reading = Pool().get('water.reading')
        return {(r.subscription.number, r.date, r.value): r
            for r in Reading.search([('date', '>', D('1397/06/03'))])}

    @with_company
    def test_import(self):
        "Readings are created and confirmed; Persian digits are read"
        self.setup_subscribers()
        text = (HEADER
            + '1421,1397/07/30,181,M-1421,,latest reading\n'
            + '۷۰۰۱,۱۳۹۷/۰۷/۳۰,۰۰۱۵۰,,مامور قرائت,\n'
            + '7002,1397/07/30,500,M-7002,reader,\n')

        report = import_readings(text)

        self.assertEqual(report.rejections, [])
        self.assertEqual((report.created, report.filled, report.skipped,
                report.accepted), (3, 0, 0, 1))
        self.assertEqual([(l, s) for l, s, _ in report.flagged],
            [(3, '7001'), (4, '7002')])
        readings = self.readings()
        self.assertEqual(sorted(readings), [
                ('1421', D('1397/07/30'), 181),
                ('7001', D('1397/07/30'), 150),
                ('7002', D('1397/07/30'), 500),
                ])
        latest = readings['1421', D('1397/07/30'), 181]
        self.assertEqual((latest.state, latest.consumption, latest.kind,
                latest.note, latest.meter.serial),
            ('accepted', 6, 'reader', 'latest reading', 'M-1421'))
        rollover = readings['7001', D('1397/07/30'), 150]
        self.assertEqual((rollover.state, rollover.consumption),
            ('flagged', 350))
        zero = readings['7002', D('1397/07/30'), 500]
        self.assertEqual((zero.state, zero.flags),
            ('flagged', "Zero consumption."))
        self.assertIn("1 accepted", str(report))
        self.assertIn("line 4, 7002: Zero consumption.", str(report))

    @with_company
    def test_import_again(self):
        "Importing the same file again creates nothing"
        self.setup_subscribers()
        text = (HEADER + '1421,1397/07/30,220,,,\n'
            + '7001,1397/07/30,150,,,\n')
        import_readings(text)
        before = self.readings()

        report = import_readings(text)

        self.assertEqual(report.rejections, [])
        self.assertEqual((report.created, report.skipped), (0, 2))
        self.assertEqual(self.readings(), before)
        self.assertIn("2 already imported, skipped", str(report))

    @with_company
    def test_import_all_or_nothing(self):
        """A file with a bad row writes nothing and tells every rejected
        row, those confirming would refuse included"""
        pool = Pool()
        Reading = pool.get('water.reading')
        self.setup_subscribers()
        count = Reading.search([], count=True)
        text = (HEADER
            + '1421,1397/07/30,220,,,\n'
            + '7002,1397/07/30,400,,,\n'
            + '9999,1397/07/30,10,,,\n'
            + '7001,1397/07/30,,,,\n'
            + '7003,1397/07/31,5,,,\n')

        for dry_run in [False, True]:
            report = import_readings(text, dry_run=dry_run)

            self.assertEqual(rejected(report), [
                    (3, 'value'), (4, 'subscription'),
                    (5, 'value'), (6, 'reading_date')])
            self.assertIn("below the previous value 500",
                report.rejections[0].reason)
            self.assertEqual(Reading.search([], count=True), count)
            self.assertTrue(str(report).startswith(
                    "4 problem(s), nothing imported:\n"
                    "  line 3, value: "))

    @with_company
    def test_import_checks(self):
        "Rows that do not fit the subscription are rejected"
        Reading = Pool().get('water.reading')
        zone = self.setup_subscribers()
        terminated = create_subscriber(7005, zone=zone,
            install_date='1397/06/01')
        terminated.__class__.terminate([terminated])
        create_subscriber(7006, zone=zone, install_date='1397/06/01')
        read_meter(Pool().get('water.subscription').search(
                [('number', '=', '7002')])[0], '1397/07/01', 510)
        text = (HEADER
            + '1421,1397/07/30,220,GZ-1,,\n'
            + '7001,1397/07/30,100000,,,\n'
            + '7002,1397/07/01,520,,,\n'
            + '7005,1397/07/30,10,,,\n'
            + '7002,1397/07/20,520,,,\n'
            + '7006,1397/05/30,99,,,\n')

        report = import_readings(text)

        self.assertEqual(rejected(report), [
                (2, 'meter_serial'), (3, 'value'), (4, 'value'),
                (5, 'subscription'), (6, 'subscription'), (7, 'value')])
        self.assertIn("is M-1421", report.rejections[0].reason)
        self.assertIn("more digits than the 5", report.rejections[1].reason)
        self.assertIn("has the value 510", report.rejections[2].reason)
        self.assertIn("terminated", report.rejections[3].reason)
        self.assertIn("already on line 4", report.rejections[4].reason)
        self.assertIn("no previous reading nor meter installation",
            report.rejections[5].reason)
        self.assertEqual(len(Reading.search([
                        ('date', '>', D('1397/06/03'))])), 1)

    @with_company
    def test_import_date_checks(self):
        "Future dates and dates before an accepted reading are rejected"
        self.setup_subscribers()
        text = (HEADER + '1421,1397/05/01,160,,,\n'
            + '7001,1450/01/01,150,,,\n')

        report = import_readings(text)

        self.assertEqual(rejected(report),
            [(2, 'reading_date'), (3, 'reading_date')])
        self.assertIn("1397/06/03 is already accepted",
            report.rejections[0].reason)
        self.assertEqual(report.rejections[1].reason, "is in the future")

    @with_company
    def test_import_dry_run(self):
        "A check tells what the import would do and writes nothing"
        self.setup_subscribers()
        text = HEADER + '1421,1397/07/30,181,,,\n7002,1397/07/30,500,,,\n'

        report = import_readings(text, dry_run=True)

        self.assertEqual(report.rejections, [])
        self.assertEqual((report.created, report.accepted,
                len(report.flagged)), (2, 1, 1))
        self.assertEqual(self.readings(), {})
        self.assertTrue(str(report).startswith("check only, nothing written"))

    @with_company
    def test_import_fills_reading_sheet(self):
        "The empty draft of the reading sheet is filled in, not doubled"
        pool = Pool()
        Reading = pool.get('water.reading')
        ReadingSheet = pool.get('water.reading.sheet', type='wizard')
        zone = self.setup_subscribers()
        session_id, _, _ = ReadingSheet.create()
        ReadingSheet.execute(session_id, {'start': {'zone': zone.id,
                    'route': None, 'date': D('1397/07/30')}}, 'open_')
        drafts = Reading.search([('date', '=', D('1397/07/30'))])
        self.assertEqual(len(drafts), 3)

        report = import_readings(HEADER + '1421,1397/07/30,181,,,\n')

        self.assertEqual((report.created, report.filled), (0, 1))
        self.assertEqual(
            sorted(Reading.search([('date', '=', D('1397/07/30'))])),
            sorted(drafts))
        reading, = Reading.search([
                ('date', '=', D('1397/07/30')), ('state', '!=', 'draft')])
        self.assertEqual((reading.subscription.number, reading.value,
                reading.consumption, reading.state),
            ('1421', 181, 6, 'accepted'))

    @with_company
    def test_wizard(self):
        "A meter reader checks then imports a file through the wizard"
        pool = Pool()
        Reading = pool.get('water.reading')
        ImportReadings = pool.get('water.reading.import', type='wizard')
        self.setup_subscribers()
        reader = create_user('reader', get_company(),
            ['group_water_meter_reading'])
        text = HEADER + '1421,1397/07/30,181,,,\n'

        with as_user(reader):
            session_id, _, _ = ImportReadings.create()
            start = {'file': text.encode('utf-8-sig')}
            result = ImportReadings.execute(
                session_id, {'start': start}, 'check')
            self.assertIn("1 readings created",
                result['view']['defaults']['report'])
            self.assertEqual(self.readings(), {})
            result = ImportReadings.execute(
                session_id, {'start': start}, 'import_')
            self.assertIn("1 accepted", result['view']['defaults']['report'])
            self.assertEqual(list(self.readings()),
                [('1421', D('1397/07/30'), 181)])

            session_id, _, _ = ImportReadings.create()
            with self.assertRaises(ReadingImportError) as context:
                ImportReadings.execute(session_id, {'start': {
                            'file': (HEADER + '7002,1397/07/30,400,,,\n'
                                ).encode()}}, 'import_')
            self.assertIn("line 2, value:", context.exception.message)
            session_id, _, _ = ImportReadings.create()
            with self.assertRaises(ReadingImportError):
                ImportReadings.execute(session_id, {'start': {
                            'file': 'سلام'.encode('utf-16')}}, 'import_')
        self.assertEqual(Reading.search([('value', '=', 400)]), [])


class ReadingImportCommandTestCase(BillingTestCase):
    "Test `water import-readings`, which commits"
    commits = True

    def run_command(self, *args):
        stdout, stderr = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(stdout), \
                contextlib.redirect_stderr(stderr):
            code = main(['-d', DB_NAME, 'import-readings', *args])
        return code, stdout.getvalue(), stderr.getvalue()

    def count(self):
        with Transaction().start(DB_NAME, 1, readonly=True):
            Reading = Pool().get('water.reading')
            return Reading.search([], count=True)

    def test_command(self):
        "Check, import, import again, and a bad file"
        with Transaction().start(DB_NAME, 1) as transaction:
            User = Pool().get('res.user')
            with transaction.set_context(
                    User.get_preferences(context_only=True)):
                create_subscriber(1421)
                create_subscriber(7002, install_date='1397/06/01',
                    initial_reading=500)
            transaction.commit()
        folder = tempfile.TemporaryDirectory()
        self.addCleanup(folder.cleanup)
        good = os.path.join(folder.name, 'good.csv')
        bad = os.path.join(folder.name, 'bad.csv')
        with open(good, 'w', encoding='utf-8') as fp:
            fp.write(HEADER + '1421,1395/10/06,120,,,\n')
        with open(bad, 'w', encoding='utf-8') as fp:
            fp.write(HEADER + '1421,1396/02/24,130,,,\n'
                '7002,1397/07/30,400,,,\n')

        code, output, _ = self.run_command(good, '--dry-run')
        self.assertEqual(code, 0)
        self.assertIn("check only", output)
        self.assertIn("1 readings created", output)
        self.assertEqual(self.count(), 0)

        code, output, _ = self.run_command(good)
        self.assertEqual(code, 0)
        self.assertIn("1 accepted", output)
        self.assertEqual(self.count(), 1)

        code, output, _ = self.run_command(good)
        self.assertEqual(code, 0)
        self.assertIn("1 already imported, skipped", output)
        self.assertEqual(self.count(), 1)

        code, output, error = self.run_command(bad)
        self.assertEqual(code, 1)
        self.assertEqual(output, '')
        self.assertIn("1 problem(s), nothing imported", error)
        self.assertIn("line 3, value: ", error)
        self.assertEqual(self.count(), 1)

        code, _, error = self.run_command(
            os.path.join(folder.name, 'missing.csv'))
        self.assertEqual(code, 1)
        self.assertIn("cannot read", error)
        with Transaction().start(DB_NAME, 1, readonly=True):
            Reading = Pool().get('water.reading')
            reading, = Reading.search([])
            self.assertEqual((reading.value, reading.consumption,
                    reading.state), (120, 22, 'accepted'))
