# This file is part of the water utility modules.
"""The database of the water_billing tests: the company in rials with its
chart of accounts, Jalali fiscal years and the VAT taxes, made by the very
set-up functions of `water setup` (install.py), once per test class.

Each test then builds its own subscribers in a transaction that is rolled
back; the helpers below create them."""
import datetime as dt
import hashlib
import inspect
import os
import unittest
from decimal import Decimal
from functools import wraps

from trytond.modules.water_crm.cli import learn
from trytond.modules.water_crm import jalali
from trytond.modules.water_crm.tests.test_crm import (
    create_connection, create_meter, create_parcel, create_party,
    create_subscription, create_zone, get_usage, install)
from trytond.cache import Cache
from trytond.pool import Pool
from trytond.tests.test_tryton import (
    DB_NAME, activate_module, backup_db_cache, db_exist, drop_db,
    restore_db_cache)
from trytond.transaction import Transaction, TransactionError

HERE = os.path.dirname(__file__)
FIRST_YEAR = 1395
COMPANY_CODE = '939'
LOCKED_TABLES = ['ir_sequence_strict', 'account_journal_period']


def D(date):
    "The date of a Jalali YYYY/MM/DD text, or the date itself"
    return jalali.parse_date(date) if isinstance(date, str) else date


def read(name):
    with open(os.path.join(HERE, name), encoding='utf-8') as fp:
        return fp.read()


def _setup_company():
    "What `water setup` does, through proteus, committed"
    from proteus import Model
    from proteus import config as pconfig

    from trytond.modules.water_billing import install as billing_install
    from trytond.modules.water_crm import install as crm_install

    config = pconfig.set_trytond(database=DB_NAME)
    company = crm_install.get_company(config, "شرکت آب منطقه گردشگری")
    User = Model.get('res.user', config=config)
    config._context = User.get_preferences(True, {})
    billing_install.create_chart(config, company)
    for year in range(FIRST_YEAR, jalali.to_jalali(dt.date.today()).year + 1):
        billing_install.get_fiscalyear(config, company, year)
    billing_install.setup_billing(config, company)
    Configuration = Model.get('water.configuration', config=config)
    configuration = Configuration(1)
    configuration.bill_company_code = COMPANY_CODE
    configuration.save()


def _cache_name():
    "The cache key: the modules and the code that fills the database"
    from trytond.modules.water_billing import install as billing_install
    from trytond.modules.water_crm import install as crm_install
    digest = hashlib.sha256()
    for function in [
            _setup_company, billing_install.create_chart,
            billing_install.get_fiscalyear, billing_install.setup_billing,
            billing_install._account, billing_install._tax,
            crm_install.get_company, crm_install.get_currency]:
        digest.update(inspect.getsource(function).encode())
    return f'water_billing--billing-{digest.hexdigest()[:16]}'


_database = {'ready': False}


def _drop():
    drop_db()
    _database['ready'] = False


class BillingTestCase(unittest.TestCase):
    """The database with the company set up, shared by the test classes of
    a test module and dropped after them; a class whose tests commit sets
    commits and gets a database of its own"""
    commits = False

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        unittest.addModuleCleanup(_drop)
        if _database['ready'] and not cls.commits and db_exist(DB_NAME):
            return
        _drop()
        name = _cache_name()
        if not restore_db_cache(name):
            activate_module('water_billing')
            _setup_company()
            backup_db_cache(name)
        _database['ready'] = not cls.commits

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        if cls.commits:
            _drop()


def with_company(func):
    """Run the test in a transaction rolled back at the end, as the admin
    with the company of his preferences, like with_transaction"""
    @wraps(func)
    def wrapper(*args, **kwargs):
        # posting invoices locks the strict sequences and the journal
        # periods, each lock restarting the transaction: take them at once
        extras = {'_lock_tables': list(LOCKED_TABLES)}
        while True:
            with Transaction().start(DB_NAME, 1, **extras) as transaction:
                try:
                    User = Pool().get('res.user')
                    with transaction.set_context(
                            User.get_preferences(context_only=True)):
                        return func(*args, **kwargs)
                except TransactionError as exception:
                    transaction.rollback()
                    transaction.tasks.clear()
                    learn(exception, extras)
                    continue
                finally:
                    transaction.rollback()
                    transaction.tasks.clear()
                    Cache.drop(DB_NAME)
    return wrapper


def get_company():
    Company = Pool().get('company.company')
    company, = Company.search([])
    return company


def import_tariffs(name='seed_tariffs.csv'):
    from trytond.modules.water_billing.tariff import import_tariffs
    return import_tariffs(read(name))


def create_subscriber(number, zone=None, install_date='1395/01/29',
        initial_reading=98, digits=5, usage='residential_villa', units=1,
        sewer=False, name=None, route=None, sequence=None):
    """An active subscription numbered number with its parcel, connection
    and meter installed on install_date (Jalali)"""
    Zone = Pool().get('water.zone')
    company = get_company()
    if zone is None:
        zone, = Zone.search([('name', '=', "دهکده زیتون")]) or [
            create_zone(company)]
    parcel = create_parcel(zone, f'1900{int(number):06d}',
        number=f'{number}/1')
    connection = create_connection(parcel, state='active')
    connection.usage = get_usage(usage)
    connection.housing_units = units
    connection.sewer = sewer
    connection.reading_route = route
    connection.reading_sequence = sequence
    connection.save()
    meter = create_meter(company, f'M-{number}')
    meter.digits = digits
    meter.save()
    install(meter, connection, D(install_date),
        initial_reading=initial_reading)
    party = create_party(name or f'مشترک {number}')
    return create_subscription(connection, party, number=str(number),
        start_date=D(install_date))


def add_mobile(party, mobile='09121234567'):
    "Give party a mobile number"
    ContactMechanism = Pool().get('party.contact_mechanism')
    ContactMechanism.create([{
                'party': party.id, 'type': 'mobile', 'value': mobile}])


def read_meter(subscription, date, value, kind='reader', confirm=True):
    "A reading of the subscription's meter on date (Jalali), confirmed"
    Reading = Pool().get('water.reading')
    reading = Reading(subscription=subscription, meter=subscription.meter,
        company=subscription.company, date=D(date), value=value, kind=kind)
    reading.save()
    if confirm:
        Reading.confirm([reading])
    return reading


def bill(readings, date=None):
    "Bill the accepted readings as a bill run would, on their own date"
    Bill = Pool().get('water.bill')
    bills = []
    for reading in readings:
        bill, = Bill.compute([reading], date or reading.date)
        Bill.set_debt([bill])
        bill.save()
        Bill.post([bill])
        bills.append(bill)
    return bills


def pay(invoice, amount, date=None):
    """Pay amount of a posted invoice in cash, reconciling it when it is
    paid in full"""
    pool = Pool()
    Invoice = pool.get('account.invoice')
    PaymentMethod = pool.get('account.invoice.payment.method')
    Journal = pool.get('account.journal')
    Account = pool.get('account.account')
    MoveLine = pool.get('account.move.line')
    methods = PaymentMethod.search([('name', '=', 'Cash')])
    if methods:
        method, = methods
    else:
        journal, = Journal.search([('code', '=', 'CASH')])
        cash, = Account.search([('code', '=', '1.1.1')])
        method = PaymentMethod(name='Cash', journal=journal,
            company=invoice.company, debit_account=cash,
            credit_account=cash)
        method.save()
    invoice.pay_invoice(Decimal(amount), method, date or invoice.invoice_date)
    invoice = Invoice(invoice.id)
    if not invoice.amount_to_pay:
        MoveLine.reconcile([l for l in
                invoice.lines_to_pay + invoice.payment_lines
                if not l.reconciliation])
        # as the task queued by the reconciliation does
        Invoice.process([invoice])
    return Invoice(invoice.id)


def receivable_balance(party):
    "The debit minus credit of the party on its receivable account"
    MoveLine = Pool().get('account.move.line')
    lines = MoveLine.search([
            ('account', '=', party.account_receivable_used.id),
            ('party', '=', party.id),
            ])
    return sum((l.debit - l.credit for l in lines), Decimal(0))


def account_credit(account):
    "The credit minus debit of an account"
    MoveLine = Pool().get('account.move.line')
    lines = MoveLine.search([('account', '=', account.id)])
    return sum((l.credit - l.debit for l in lines), Decimal(0))
