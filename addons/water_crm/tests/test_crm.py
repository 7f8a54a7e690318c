# This file is part of the water utility modules.
"""Tests of the water_crm models: constraints, workflows, the Replace
Meter wizard, Persian normalisation, Jalali fields and access by group."""
import datetime as dt
from contextlib import contextmanager

from trytond.model.exceptions import (
    AccessButtonError, AccessError, RequiredValidationError,
    SQLConstraintError, ValidationError)
from trytond.modules.company.tests import (
    CompanyTestMixin, create_company, set_company)
from trytond.pool import Pool
from trytond.tests.test_tryton import ModuleTestCase, with_transaction
from trytond.transaction import Transaction

D = dt.date


def check_digit(nine):
    "The national code check digit of its first nine digits"
    remainder = sum(int(d) * (10 - i) for i, d in enumerate(nine)) % 11
    return str(remainder if remainder < 2 else 11 - remainder)


def national_code(nine):
    return nine + check_digit(nine)


def to_persian(text):
    return text.translate(str.maketrans('0123456789', '۰۱۲۳۴۵۶۷۸۹'))


def create_zone(company, name="دهکده زیتون"):
    Zone = Pool().get('water.zone')
    zone = Zone(name=name, company=company)
    zone.save()
    return zone


def create_parcel(zone, geographic_code, number='420/71'):
    Parcel = Pool().get('water.parcel')
    parcel = Parcel(
        zone=zone, company=zone.company, number=number,
        geographic_code=geographic_code)
    parcel.save()
    return parcel


def get_usage(code='residential_villa'):
    Usage = Pool().get('water.usage')
    usage, = Usage.search([('code', '=', code)])
    return usage


def create_connection(parcel, state='draft'):
    Connection = Pool().get('water.connection')
    connection = Connection(
        parcel=parcel, company=parcel.company, usage=get_usage(),
        state=state)
    connection.save()
    return connection


def create_meter(company, serial):
    Meter = Pool().get('water.meter')
    meter = Meter(serial=serial, company=company)
    meter.save()
    return meter


def install(meter, connection, install_date, removal_date=None,
        initial_reading=0, final_reading=None):
    Installation = Pool().get('water.meter.installation')
    installation = Installation(
        meter=meter, connection=connection, install_date=install_date,
        initial_reading=initial_reading, removal_date=removal_date,
        final_reading=final_reading)
    installation.save()
    return installation


def create_party(name="حسین رضایی", **values):
    Party = Pool().get('party.party')
    party, = Party.create([{'name': name, **values}])
    return party


def create_subscription(connection, party, number=None, **values):
    Subscription = Pool().get('water.subscription')
    subscription = Subscription(
        connection=connection, party=party, company=connection.company,
        number=number, start_date=values.pop('start_date', D(2018, 10, 22)),
        **values)
    subscription.save()
    return subscription


def create_user(login, company, groups=()):
    "A user of the company in the water_crm groups"
    pool = Pool()
    User = pool.get('res.user')
    ModelData = pool.get('ir.model.data')
    user, = User.create([{
                'login': login or 'outsider',
                'name': login or 'outsider',
                'groups': [('add', [
                            ModelData.get_id('water_crm', g)
                            for g in groups or []])],
                'companies': [('add', [company.id])],
                'company': company.id,
                }])
    return user


@contextmanager
def as_user(user):
    "Run as the user with its preferences and access checked"
    User = Pool().get('res.user')
    transaction = Transaction()
    with transaction.set_user(user.id), transaction.reset_context():
        with transaction.set_context(
                User.get_preferences(context_only=True),
                _check_access=True):
            yield


def create_premise(company, geographic_code='1900420071'):
    "A zone, a parcel and an active connection"
    zone = create_zone(company)
    parcel = create_parcel(zone, geographic_code)
    return create_connection(parcel, state='active')


class WaterCrmTestCase(CompanyTestMixin, ModuleTestCase):
    "Test water_crm models"
    module = 'water_crm'

    @with_transaction()
    def test_geographic_code_unique(self):
        "Two parcels cannot have the same geographic code"
        company = create_company()
        with set_company(company):
            zone = create_zone(company)
            create_parcel(zone, '1900420071')
            create_parcel(zone, '1900420072', number='420/72')

            with self.assertRaisesRegex(
                    SQLConstraintError, "geographic code"):
                create_parcel(zone, '1900420071', number='420/73')

    @with_transaction()
    def test_meter_serial_unique(self):
        "Two meters cannot have the same serial number"
        company = create_company()
        with set_company(company):
            create_meter(company, 'ZT-1421')
            create_meter(company, 'ZT-1422')

            with self.assertRaisesRegex(SQLConstraintError, "serial number"):
                create_meter(company, 'ZT-1421')

    @with_transaction()
    def test_subscription_number_unique_per_company(self):
        "A subscription number is unique in its company, not across"
        pool = Pool()
        Currency = pool.get('currency.currency')
        company = create_company()
        other_company = create_company(
            name="Other Utility", currency=Currency(company.currency.id))
        party = create_party()
        with set_company(other_company):
            other = create_subscription(
                create_premise(other_company, '2900000001'), party, '1421')
        with set_company(company):
            connection = create_premise(company)
            subscription = create_subscription(connection, party, '1421')
            self.assertEqual(
                (subscription.number, other.number), ('1421', '1421'))
            self.assertNotEqual(subscription.company, other.company)

            # an SQL error ends the test: the transaction cannot go on
            with self.assertRaisesRegex(
                    SQLConstraintError, "already has this number"):
                create_subscription(
                    create_connection(create_parcel(
                            connection.parcel.zone, '1900420072')),
                    party, '1421', bill_file_id='9999')

    def setup_installations(self):
        "Two connections and two meters, the first installed on the first"
        company = create_company()
        with set_company(company):
            first = create_premise(company)
            second = create_connection(
                create_parcel(first.parcel.zone, '1900420072'))
            meter = create_meter(company, 'ZT-1421')
            other_meter = create_meter(company, 'ZT-1422')
            installation = install(
                meter, first, D(2020, 1, 1), initial_reading=98)
        return company, installation, second, other_meter

    @with_transaction()
    def test_meter_on_two_connections_refused(self):
        "A meter on a connection cannot be installed on another"
        company, installation, second, _ = self.setup_installations()
        with set_company(company):
            with self.assertRaisesRegex(ValidationError,
                    'Meter "ZT-1421" cannot be installed'):
                install(installation.meter, second, D(2021, 1, 1))

    @with_transaction()
    def test_meter_on_two_connections_in_the_past_refused(self):
        "A meter cannot have been on two connections at once"
        company, installation, second, _ = self.setup_installations()
        with set_company(company):
            with self.assertRaisesRegex(ValidationError,
                    'Meter "ZT-1421" cannot be installed'):
                # ends a day after the installation on the first started
                install(installation.meter, second, D(2019, 1, 1),
                    D(2020, 1, 2), 0, 10)

    @with_transaction()
    def test_meter_removal_date_moved_into_overlap_refused(self):
        "Moving a removal date onto the next installation is refused"
        pool = Pool()
        Installation = pool.get('water.meter.installation')
        company, installation, second, _ = self.setup_installations()
        with set_company(company):
            Installation.write([installation], {
                    'removal_date': D(2021, 1, 1),
                    'final_reading': 400,
                    })
            install(installation.meter, second, D(2021, 1, 1))
            with self.assertRaises(ValidationError):
                Installation.write(
                    [installation], {'removal_date': D(2021, 6, 1)})

    @with_transaction()
    def test_connection_with_two_meters_refused(self):
        "A connection with a meter cannot have another one installed"
        company, installation, _, other_meter = self.setup_installations()
        with set_company(company):
            with self.assertRaisesRegex(ValidationError,
                    'already has meter "ZT-1421"'):
                install(other_meter, installation.connection, D(2021, 1, 1))

    @with_transaction()
    def test_connection_with_two_meters_in_the_past_refused(self):
        "A connection cannot have had two meters at once"
        company, installation, _, other_meter = self.setup_installations()
        with set_company(company):
            with self.assertRaisesRegex(ValidationError,
                    'already has meter "ZT-1421"'):
                install(other_meter, installation.connection,
                    D(2020, 3, 1), D(2020, 6, 1), 0, 10)

    @with_transaction()
    def test_consecutive_installations(self):
        "Installations that follow each other are accepted"
        pool = Pool()
        Installation = pool.get('water.meter.installation')
        Meter = pool.get('water.meter')
        Connection = pool.get('water.connection')
        company, installation, second, other_meter = (
            self.setup_installations())
        meter, first = installation.meter, installation.connection
        with set_company(company):
            # the other meter was on the first connection until the day
            # the meter was installed there
            before = install(other_meter, first, D(2018, 1, 1),
                D(2020, 1, 1), 0, 700)
            # then the meter moves to the second connection
            Installation.write([installation], {
                    'removal_date': D(2021, 1, 1),
                    'final_reading': 400,
                    })
            after = install(meter, second, D(2021, 1, 1), initial_reading=400)
            # and the other meter comes back on the first one
            back = install(other_meter, first, D(2021, 1, 1))
            # changing dates where they touch is still accepted
            Installation.write([installation], {
                    'install_date': D(2020, 1, 1),
                    'removal_date': D(2021, 1, 1),
                    })
            Installation.write([before], {'removal_date': D(2020, 1, 1)})

            self.assertEqual(meter.connection, second)
            self.assertEqual(other_meter.connection, first)
            self.assertEqual(first.meter, other_meter)
            self.assertEqual(second.meter, meter)
            self.assertEqual(
                list(first.installations), [back, installation, before])
            self.assertEqual(list(meter.installations), [after, installation])
            self.assertEqual(
                Meter.search([('connection', '=', second.id)]), [meter])
            self.assertEqual(
                Connection.search([('meter', '=', meter.id)]), [second])
            self.assertEqual(
                Connection.search([('meter.serial', '=', 'ZT-1422')]),
                [first])

    @with_transaction()
    def test_replace_meter_wizard(self):
        "Replace Meter records the old meter's end and the new one's start"
        pool = Pool()
        Replace = pool.get('water.meter.replace', type='wizard')
        Installation = pool.get('water.meter.installation')
        company = create_company()
        with set_company(company):
            connection = create_premise(company)
            old = create_meter(company, 'ZT-1421')
            new = create_meter(company, 'ZT-2000')
            install(old, connection, D(2016, 4, 17), initial_reading=98)

            session_id, _, _ = Replace.create()
            with Transaction().set_context(
                    active_model='water.connection',
                    active_id=connection.id, active_ids=[connection.id]):
                result = Replace.execute(session_id, {}, 'start')
                defaults = result['view']['defaults']
                self.assertEqual(defaults['connection'], connection.id)
                self.assertEqual(defaults['old_meter'], old.id)

                Replace.execute(session_id, {
                        'start': {
                            'connection': connection.id,
                            'old_meter': old.id,
                            'final_reading': 1250,
                            'reason': "broken",
                            'date': D(2024, 5, 1),
                            'new_meter': new.id,
                            'initial_reading': 3,
                            },
                        }, 'replace')
            Replace.delete(session_id)

            removed, = Installation.search([('meter', '=', old.id)])
            self.assertEqual(removed.removal_date, D(2024, 5, 1))
            self.assertEqual(removed.final_reading, 1250)
            self.assertEqual(removed.removal_reason, "broken")
            self.assertEqual(removed.initial_reading, 98)
            installed, = Installation.search([('meter', '=', new.id)])
            self.assertEqual(installed.connection, connection)
            self.assertEqual(installed.install_date, D(2024, 5, 1))
            self.assertEqual(installed.initial_reading, 3)
            self.assertIsNone(installed.removal_date)
            self.assertEqual(connection.meter, new)
            self.assertIsNone(old.connection)
            self.assertEqual(
                [i.meter for i in connection.installations], [new, old])

    @with_transaction()
    def test_replace_meter_wizard_first_meter(self):
        "Replace Meter installs the first meter of a connection"
        pool = Pool()
        Replace = pool.get('water.meter.replace', type='wizard')
        company = create_company()
        with set_company(company):
            connection = create_premise(company)
            meter = create_meter(company, 'ZT-1421')

            session_id, _, _ = Replace.create()
            with Transaction().set_context(
                    active_model='water.connection',
                    active_id=connection.id, active_ids=[connection.id]):
                result = Replace.execute(session_id, {}, 'start')
                self.assertIsNone(result['view']['defaults']['old_meter'])
                Replace.execute(session_id, {
                        'start': {
                            'date': D(2016, 4, 17),
                            'new_meter': meter.id,
                            'initial_reading': 98,
                            },
                        }, 'replace')

            installation, = connection.installations
            self.assertEqual(installation.meter, meter)
            self.assertEqual(installation.initial_reading, 98)
            self.assertEqual(installation.install_date, D(2016, 4, 17))

    @with_transaction()
    def test_replace_meter_without_final_reading(self):
        "Replacing a meter without its final reading is refused"
        pool = Pool()
        Replace = pool.get('water.meter.replace', type='wizard')
        company = create_company()
        with set_company(company):
            connection = create_premise(company)
            old = create_meter(company, 'ZT-1421')
            new = create_meter(company, 'ZT-2000')
            install(old, connection, D(2016, 4, 17))

            session_id, _, _ = Replace.create()
            with Transaction().set_context(
                    active_model='water.connection',
                    active_id=connection.id, active_ids=[connection.id]):
                replace = Replace(session_id)
                replace.start.date = D(2024, 5, 1)
                replace.start.new_meter = new
                replace.start.initial_reading = 0
                with self.assertRaises(RequiredValidationError):
                    replace.transition_replace()

    @with_transaction()
    def test_connection_workflow(self):
        "The buttons move a connection draft → active → disconnected → closed"
        pool = Pool()
        Connection = pool.get('water.connection')
        company = create_company()
        with set_company(company):
            zone = create_zone(company)
            connection = create_connection(create_parcel(zone, '1900420071'))
            self.assertEqual(connection.state, 'draft')

            # not a transition: ignored
            Connection.disconnect([connection])
            self.assertEqual(connection.state, 'draft')
            Connection.activate([connection])
            self.assertEqual(connection.state, 'active')
            Connection.disconnect([connection])
            self.assertEqual(connection.state, 'disconnected')
            Connection.activate([connection])
            self.assertEqual(connection.state, 'active')
            Connection.close([connection])
            self.assertEqual(connection.state, 'closed')
            Connection.activate([connection])
            self.assertEqual(connection.state, 'closed')

    @with_transaction()
    def test_subscription_workflow(self):
        "The buttons suspend, resume and terminate a subscription"
        pool = Pool()
        Subscription = pool.get('water.subscription')
        Date = pool.get('ir.date')
        company = create_company()
        with set_company(company):
            connection = create_premise(company)
            subscription = create_subscription(
                connection, create_party(), '1421')
            self.assertEqual(subscription.state, 'active')

            Subscription.resume([subscription])
            self.assertEqual(subscription.state, 'active')
            Subscription.suspend([subscription])
            self.assertEqual(subscription.state, 'suspended')
            Subscription.resume([subscription])
            self.assertEqual(subscription.state, 'active')
            Subscription.terminate([subscription])
            self.assertEqual(subscription.state, 'terminated')
            self.assertEqual(subscription.end_date, Date.today())
            Subscription.resume([subscription])
            self.assertEqual(subscription.state, 'terminated')

            other = create_subscription(connection, create_party("مریم"),
                '1422', end_date=D(2030, 1, 1))
            Subscription.terminate([other])
            self.assertEqual(other.end_date, D(2030, 1, 1))

    @with_transaction()
    def test_subscription_number_from_sequence(self):
        "A subscription without number is numbered by the sequence"
        pool = Pool()
        Configuration = pool.get('water.configuration')
        company = create_company()
        with set_company(company):
            sequence = Configuration(1).get_multivalue(
                'subscription_sequence', company=company.id)
            expected = [sequence.get(), sequence.get()]
            sequence.number_next -= 2
            sequence.save()
            connection = create_premise(company)
            party = create_party()
            first = create_subscription(connection, party)
            second = create_subscription(
                create_connection(
                    create_parcel(connection.parcel.zone, '1900420072')),
                party)

            self.assertEqual([first.number, second.number], expected)
            self.assertTrue(first.number.isdigit())
            self.assertEqual(first.bill_file_id, first.number)

    @with_transaction()
    def test_bill_file_id(self):
        """The bill ID file number defaults to a numeric subscription
        number and is made of digits only"""
        pool = Pool()
        Subscription = pool.get('water.subscription')
        company = create_company()
        with set_company(company):
            zone = create_zone(company)
            party = create_party()
            connections = [
                create_connection(create_parcel(zone, f'19004200{i:02d}'))
                for i in range(6)]

            numeric = create_subscription(connections[0], party, '1421')
            self.assertEqual(numeric.bill_file_id, '1421')
            lettered = create_subscription(connections[1], party, 'ZT-1422')
            self.assertIsNone(lettered.bill_file_id)
            too_long = create_subscription(
                connections[2], party, '123456789')
            self.assertIsNone(too_long.bill_file_id)
            persian = create_subscription(
                connections[3], party, '1423', bill_file_id='۵۵۱۴۲۳')
            self.assertEqual(persian.bill_file_id, '551423')
            typed = create_subscription(connections[4], party, '۱۴۲۴')
            self.assertEqual((typed.number, typed.bill_file_id),
                ('1424', '1424'))

            with self.assertRaisesRegex(ValidationError, "digits only"):
                create_subscription(
                    connections[5], party, '1425', bill_file_id='AB12')
            with self.assertRaisesRegex(ValidationError, "digits only"):
                Subscription.write([lettered], {'bill_file_id': '12-34'})
            with self.assertRaisesRegex(
                    SQLConstraintError, "bill ID file number"):
                Subscription.write([lettered], {'bill_file_id': '1421'})

    @with_transaction()
    def test_second_subscription_refused(self):
        "A connection cannot have two active subscriptions"
        company = create_company()
        with set_company(company):
            connection = create_premise(company)
            create_subscription(connection, create_party(), '1421')
            with self.assertRaisesRegex(ValidationError,
                    'already has the subscription "1421'):
                create_subscription(connection, create_party("مریم"), '1422')

    @with_transaction()
    def test_second_subscription_beside_suspended_refused(self):
        "A suspended subscription still holds its connection"
        pool = Pool()
        Subscription = pool.get('water.subscription')
        company = create_company()
        with set_company(company):
            connection = create_premise(company)
            first = create_subscription(connection, create_party(), '1421')
            Subscription.suspend([first])
            with self.assertRaisesRegex(ValidationError,
                    'already has the subscription "1421'):
                create_subscription(connection, create_party("مریم"), '1422')

    @with_transaction()
    def test_subscription_after_termination(self):
        "A connection takes a new subscription once the last is terminated"
        pool = Pool()
        Subscription = pool.get('water.subscription')
        company = create_company()
        with set_company(company):
            connection = create_premise(company)
            first = create_subscription(connection, create_party(), '1421')
            Subscription.terminate([first])
            second = create_subscription(
                connection, create_party("نرگس"), '1424')
            Subscription.suspend([second])
            Subscription.resume([second])

            self.assertEqual(connection.subscriptions, (first, second))
            self.assertEqual(
                [s.state for s in connection.subscriptions],
                ['terminated', 'active'])

    @with_transaction()
    def test_party_replace(self):
        "Replacing a duplicate party moves its subscriptions and SMS"
        pool = Pool()
        Replace = pool.get('party.replace', type='wizard')
        Sms = pool.get('water.sms')
        company = create_company()
        with set_company(company):
            connection = create_premise(company)
            duplicate = create_party()
            subscription = create_subscription(connection, duplicate, '1421')
            sms, = Sms.create([{'mobile': '09121234567', 'body': "سلام",
                        'party': duplicate.id}])
            party = create_party("حسین رضایی")

            session_id, _, _ = Replace.create()
            replace = Replace(session_id)
            replace.ask.source = duplicate
            replace.ask.destination = party
            replace.transition_replace()

            Subscription = pool.get('water.subscription')
            self.assertEqual(Subscription.read([subscription.id], ['party']),
                [{'id': subscription.id, 'party': party.id}])
            self.assertEqual(Sms.read([sms.id], ['party']),
                [{'id': sms.id, 'party': party.id}])

    @with_transaction()
    def test_party_erase(self):
        "Erasing a party blanks its identity and the text of its SMS"
        pool = Pool()
        Party = pool.get('party.party')
        Erase = pool.get('party.erase', type='wizard')
        Sms = pool.get('water.sms')
        company = create_company()
        with set_company(company):
            party = create_party(national_code='0499370899',
                father_name="علی", birth_certificate_number='123')
            sms, = Sms.create([{'mobile': '09121234567',
                        'body': "کد شما ۱۲۳۴۵۶", 'party': party.id}])
            Party.write([party], {'active': False})

            session_id, _, _ = Erase.create()
            erase = Erase(session_id)
            erase.ask.party = party
            erase.transition_erase()

            fields = ['national_code', 'father_name',
                'birth_certificate_number']
            self.assertEqual(Party.read([party.id], fields),
                [{'id': party.id, **dict.fromkeys(fields)}])
            self.assertEqual(Sms.read([sms.id], ['mobile', 'body']),
                [{'id': sms.id, 'mobile': '****', 'body': '****'}])

    @with_transaction()
    def test_normalize_party(self):
        "Arabic letters and Persian digits of a party are normalised"
        pool = Pool()
        Party = pool.get('party.party')
        party = create_party(
            "علي كريمي", national_code='۰۴۹۹۳۷۰۸۹۹', father_name='يوسف',
            birth_certificate_number='۱۲۵۰')
        self.assertEqual(party.name, "علی کریمی")
        self.assertEqual(party.national_code, '0499370899')
        self.assertEqual(party.father_name, 'یوسف')
        self.assertEqual(party.birth_certificate_number, '1250')

        code = national_code('123456789')
        Party.write([party], {
                'name': "كاظم يزداني",
                'national_code': to_persian(code).replace('۱', '١'),
                })
        self.assertEqual(party.name, "کاظم یزدانی")
        self.assertEqual(party.national_code, code)
        self.assertEqual(Party.search([('national_code', '=', code)]),
            [party])

        # a code missing its leading zero as spreadsheets drop it
        other = create_party("سارا", national_code='12345679')
        self.assertEqual(other.national_code, '0012345679')

    @with_transaction()
    def test_normalize_contact_mechanisms(self):
        "Mobile and phone numbers are stored as 09XXXXXXXXX and 0XXXXXXXXXX"
        pool = Pool()
        ContactMechanism = pool.get('party.contact_mechanism')
        party = create_party(contact_mechanisms=[('create', [{
                            'type': 'mobile',
                            'value': '۰۹۱۲ ۱۲۳ ۴۵۶۷',
                            }, {
                            'type': 'phone',
                            'value': '(۰۲۱) ۸۸۷۷-۶۶۵۵',
                            }])])
        mobile, phone = sorted(party.contact_mechanisms, key=lambda m: m.type)
        self.assertEqual(mobile.value, '09121234567')
        self.assertEqual(mobile.value_compact, '09121234567')
        self.assertEqual(phone.value, '02188776655')

        ContactMechanism.write([mobile], {'value': '+98 ۹۱۲ ۷۶۵ ۴۳۲۱'})
        self.assertEqual(mobile.value, '09127654321')
        mobile.value = '٠٠٩٨٩١٢١١١٢٢٢٢'
        mobile.save()
        self.assertEqual(mobile.value, '09121112222')
        self.assertEqual(
            ContactMechanism.search([('value', '=', '09121112222')]),
            [mobile])

        # other types keep their value
        other = ContactMechanism(
            party=party, type='other', value='۰۹۱۲ ۱۲۳ ۴۵۶۷')
        other.save()
        self.assertEqual(other.value, '۰۹۱۲ ۱۲۳ ۴۵۶۷')

    @with_transaction()
    def test_normalize_address_and_parcel(self):
        "Postal codes, geographic codes and parcel numbers are normalised"
        pool = Pool()
        Address = pool.get('party.address')
        Parcel = pool.get('water.parcel')
        Zone = pool.get('water.zone')
        party = create_party()
        address, = Address.create([{
                    'party': party.id,
                    'street': "دهکده زيتون، قطعه ۴۲۰/۷۱",
                    'postal_code': '۱۱۹۳۶-۵۳۴۷۱',
                    }])
        self.assertEqual(address.street, "دهکده زیتون، قطعه 420/71")
        self.assertEqual(address.postal_code, '1193653471')
        Address.write([address], {'postal_code': '١١٩٣٦٥٣٤٧٢'})
        self.assertEqual(address.postal_code, '1193653472')

        company = create_company()
        with set_company(company):
            zone = create_zone(company, "دهكده زيتون")
            self.assertEqual(zone.name, "دهکده زیتون")
            parcel = Parcel(zone=zone, number='۴۲۰/۷۱',
                geographic_code='۱۹۰۰ ۴۲۰ ۰۷۱', postal_code='۱۱۹۳۶۵۳۴۷۱',
                address="قطعه ۴۲۰/۷۱")
            parcel.save()
            self.assertEqual(parcel.number, '420/71')
            self.assertEqual(parcel.geographic_code, '1900420071')
            self.assertEqual(parcel.postal_code, '1193653471')
            self.assertEqual(parcel.company, company)
            Parcel.write([parcel], {
                    'number': '٤٢٠/٧٢', 'geographic_code': '۱۹۰۰۴۲۰۰۷۲'})
            self.assertEqual(parcel.number, '420/72')
            self.assertEqual(parcel.geographic_code, '1900420072')
            Zone.write([zone], {'name': "دهكده نمونه"})
            self.assertEqual(zone.name, "دهکده نمونه")
            self.assertEqual(
                Parcel.search([('geographic_code', '=', '1900420072')]),
                [parcel])

    @with_transaction()
    def test_invalid_values_refused(self):
        "A bad value is refused with a message naming its field"
        pool = Pool()
        Party = pool.get('party.party')
        Address = pool.get('party.address')
        ContactMechanism = pool.get('party.contact_mechanism')
        Parcel = pool.get('water.parcel')
        party = create_party(national_code='0499370899')

        for code, reason in [
                ('0499370898', "check digit"),
                ('1111111111', "digits are the same"),
                ('0499370', "number of digits"),
                ('04993708X9', "not valid"),
                ]:
            with self.subTest(code=code):
                with self.assertRaisesRegex(
                        ValidationError, f"National Code.*{reason}"):
                    create_party(national_code=code)
                with self.assertRaisesRegex(
                        ValidationError, f"National Code.*{reason}"):
                    Party.write([party], {'national_code': code})
        self.assertEqual(party.national_code, '0499370899')

        with self.assertRaisesRegex(ValidationError, "Mobile.*09"):
            create_party(contact_mechanisms=[('create', [{
                                'type': 'mobile', 'value': '0812345678',
                                }])])
        mobile = ContactMechanism(
            party=party, type='mobile', value='09121234567')
        mobile.save()
        with self.assertRaisesRegex(ValidationError, "Mobile.*09"):
            ContactMechanism.write([mobile], {'value': '0912123456'})
        with self.assertRaisesRegex(ValidationError, "Phone.*area code"):
            ContactMechanism.write(
                [mobile], {'type': 'phone', 'value': '88776655'})

        with self.assertRaisesRegex(ValidationError, "Postal Code"):
            Address.create([{'party': party.id, 'postal_code': '11936'}])
        address, = party.addresses or Address.create([{'party': party.id}])
        with self.assertRaisesRegex(ValidationError, "Postal Code"):
            Address.write([address], {'postal_code': '11936-5347A'})

        company = create_company()
        with set_company(company):
            zone = create_zone(company)
            with self.assertRaisesRegex(ValidationError, "Geographic Code"):
                create_parcel(zone, '19004200')
            parcel = create_parcel(zone, '1900420071')
            with self.assertRaisesRegex(ValidationError, "Geographic Code"):
                Parcel.write([parcel], {'geographic_code': '190042007A'})
            with self.assertRaisesRegex(ValidationError, "Postal Code"):
                Parcel.write([parcel], {'postal_code': '123'})
            self.assertEqual(parcel.geographic_code, '1900420071')

    @with_transaction()
    def test_jalali_fields(self):
        "Dates are also shown in Jalali"
        company = create_company()
        with set_company(company):
            connection = create_premise(company)
            connection.installation_date = D(2016, 4, 17)
            connection.save()
            meter = create_meter(company, 'ZT-1421')
            installation = install(meter, connection, D(2016, 4, 17))
            subscription = create_subscription(
                connection, create_party(), '1421',
                start_date=D(2018, 10, 22))

            self.assertEqual(subscription.start_date_jalali, '1397/07/30')
            self.assertEqual(subscription.end_date_jalali, '')
            self.assertEqual(connection.installation_date_jalali, '1395/01/29')
            self.assertEqual(installation.install_date_jalali, '1395/01/29')
            self.assertEqual(installation.removal_date_jalali, '')

            installation.removal_date = D(2025, 3, 20)
            installation.final_reading = 10
            installation.save()
            self.assertEqual(installation.removal_date_jalali, '1403/12/30')

    def setup_access(self):
        """Two companies with a subscription each and a user per group
        in the first company"""
        pool = Pool()
        Currency = pool.get('currency.currency')
        company = create_company()
        other_company = create_company(
            name="Other Utility", currency=Currency(company.currency.id))
        with set_company(other_company):
            other = create_subscription(
                create_premise(other_company, '2900000001'),
                create_party("مریم"), '1421')
        with set_company(company):
            subscription = create_subscription(
                create_premise(company), create_party(), '1421')
        users = {
            group: create_user(group, company, group and [group])
            for group in [
                'group_water_admin', 'group_water_customer_service',
                'group_water_meter_reading', 'group_water_billing', None]}
        return company, subscription, other, users

    @with_transaction()
    def test_access_billing(self):
        "Billing reads the water models and changes none"
        pool = Pool()
        Subscription = pool.get('water.subscription')
        Connection = pool.get('water.connection')
        Meter = pool.get('water.meter')
        company, subscription, _, users = self.setup_access()

        with as_user(users['group_water_billing']):
            subscription, = Subscription.search([])
            self.assertEqual(subscription.number, '1421')
            self.assertEqual(subscription.connection.parcel.geographic_code,
                '1900420071')
            with self.assertRaises(AccessError):
                Subscription.write([subscription], {'bill_file_id': '77'})
            with self.assertRaises(AccessError):
                Connection.write(
                    [subscription.connection], {'housing_units': 2})
            with self.assertRaises(AccessError):
                Meter.create([{'serial': 'ZT-1', 'company': company.id}])
            with self.assertRaises(AccessButtonError):
                Subscription.terminate([subscription])

    @with_transaction()
    def test_access_meter_reading(self):
        "Meter Reading installs meters and does not touch subscriptions"
        pool = Pool()
        Subscription = pool.get('water.subscription')
        Meter = pool.get('water.meter')
        Installation = pool.get('water.meter.installation')
        company, subscription, _, users = self.setup_access()
        connection = subscription.connection

        with as_user(users['group_water_meter_reading']):
            meter, = Meter.create([{'serial': 'ZT-1', 'company': company.id}])
            installation, = Installation.create([{
                        'meter': meter.id,
                        'connection': connection.id,
                        'install_date': D(2024, 1, 1),
                        'initial_reading': 5,
                        }])
            Installation.write([installation], {'initial_reading': 6})
            self.assertEqual(Subscription(subscription.id).meter, meter)
            with self.assertRaises(AccessError):
                Subscription.create([{
                            'number': '1500',
                            'party': subscription.party.id,
                            'connection': connection.id,
                            'company': company.id,
                            }])
            with self.assertRaises(AccessButtonError):
                Subscription.suspend([Subscription(subscription.id)])
            with self.assertRaises(AccessError):
                Meter.delete([meter])

    @with_transaction()
    def test_access_replace_meter(self):
        "Meter Reading replaces meters with the wizard, Billing cannot"
        pool = Pool()
        Replace = pool.get('water.meter.replace', type='wizard')
        Connection = pool.get('water.connection')
        company, subscription, _, users = self.setup_access()
        connection = subscription.connection
        with set_company(company):
            old = create_meter(company, 'ZT-1421')
            new = create_meter(company, 'ZT-2000')
            install(old, connection, D(2016, 4, 17))
        context = {
            'active_model': 'water.connection',
            'active_id': connection.id,
            'active_ids': [connection.id],
            }
        data = {
            'start': {
                'final_reading': 1250,
                'date': D(2024, 5, 1),
                'new_meter': new.id,
                'initial_reading': 0,
                },
            }

        with as_user(users['group_water_billing']), \
                Transaction().set_context(context):
            with self.assertRaises(AccessError):
                session_id, _, _ = Replace.create()
                Replace.execute(session_id, data, 'replace')
        self.assertEqual(connection.meter, old)

        with as_user(users['group_water_meter_reading']), \
                Transaction().set_context(context):
            Connection.replace_meter([Connection(connection.id)])
            session_id, _, _ = Replace.create()
            Replace.execute(session_id, {}, 'start')
            Replace.execute(session_id, data, 'replace')
            self.assertEqual(Connection(connection.id).meter, new)

    @with_transaction()
    def test_access_customer_service(self):
        "Customer Service creates subscriptions and deletes none"
        pool = Pool()
        Subscription = pool.get('water.subscription')
        Connection = pool.get('water.connection')
        Zone = pool.get('water.zone')
        company, subscription, _, users = self.setup_access()
        Subscription.terminate([subscription])

        with as_user(users['group_water_customer_service']):
            party = create_party("نرگس")
            connection = Connection(subscription.connection.id)
            new, = Subscription.create([{
                        'party': party.id,
                        'connection': connection.id,
                        'company': company.id,
                        }])
            self.assertTrue(new.number)
            Subscription.suspend([new])
            self.assertEqual(new.state, 'suspended')
            with self.assertRaises(AccessError):
                Subscription.delete([new])
            with self.assertRaises(AccessError):
                Connection.delete([connection])
            with self.assertRaises(AccessError):
                Zone.create([{'name': "دهکده نمونه", 'company': company.id}])

    @with_transaction()
    def test_access_admin(self):
        "Water Administration changes and deletes water records"
        pool = Pool()
        Subscription = pool.get('water.subscription')
        Zone = pool.get('water.zone')
        company, subscription, _, users = self.setup_access()

        with as_user(users['group_water_admin']):
            zone, = Zone.create([{
                        'name': "دهکده نمونه",
                        'company': company.id,
                        }])
            Zone.delete([zone])
            Subscription.delete([Subscription(subscription.id)])
            self.assertEqual(Subscription.search([]), [])

    @with_transaction()
    def test_access_outside_water_groups(self):
        "A user outside the water groups cannot read water models"
        pool = Pool()
        company, subscription, _, users = self.setup_access()

        with as_user(users[None]):
            for name in ['water.zone', 'water.usage', 'water.parcel',
                    'water.connection', 'water.meter',
                    'water.meter.installation', 'water.subscription']:
                Model = pool.get(name)
                with self.subTest(model=name):
                    with self.assertRaises(AccessError):
                        Model.search([])
            Subscription = pool.get('water.subscription')
            with self.assertRaises(AccessError):
                Subscription.read([subscription.id], ['number'])

    @with_transaction()
    def test_company_rule(self):
        "A user sees the zones and subscriptions of its companies only"
        pool = Pool()
        Subscription = pool.get('water.subscription')
        Zone = pool.get('water.zone')
        Meter = pool.get('water.meter')
        company, subscription, other, users = self.setup_access()
        other_zone = other.connection.parcel.zone
        self.assertEqual(len(Zone.search([])), 2)

        for group in ['group_water_admin', 'group_water_customer_service',
                'group_water_billing']:
            with self.subTest(group=group), as_user(users[group]):
                self.assertEqual(
                    Zone.search([]), [subscription.connection.parcel.zone])
                self.assertEqual(Subscription.search([]), [subscription])
                self.assertEqual(
                    Subscription.search([('number', '=', '1421')]),
                    [subscription])
                with self.assertRaises(AccessError):
                    Zone.read([other_zone.id], ['name'])
                with self.assertRaises(AccessError):
                    Subscription.read([other.id], ['number'])
        with as_user(users['group_water_admin']):
            with self.assertRaises(AccessError):
                Zone.write([Zone(other_zone.id)], {'name': "دهکده"})
            with self.assertRaises(AccessError):
                Meter.create([{
                            'serial': 'ZT-1',
                            'company': other.company.id,
                            }])


del ModuleTestCase
