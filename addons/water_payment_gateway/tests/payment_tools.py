# This file is part of the water utility modules.
"""The database of the payment tests: water_payment_gateway activated on
the company that water_billing's tests set up, once per test class, and
helpers to bill a subscriber and read the accounts."""
import hashlib
import inspect
import unittest
from decimal import Decimal

from trytond.modules.water_billing.tests import fixtures
from trytond.pool import Pool
from trytond.tests.test_tryton import (
    DB_NAME, activate_module, backup_db_cache, db_exist, drop_db,
    restore_db_cache)

_database = {'ready': False}


def _cache_name():
    from trytond.modules.water_payment_gateway import install
    digest = hashlib.sha256(fixtures._cache_name().encode())
    for function in [_setup, install.get_bank_channel_journal]:
        digest.update(inspect.getsource(function).encode())
    return f'water_payment_gateway--payment-{digest.hexdigest()[:16]}'


def _setup():
    "What `water setup` does, committed"
    from proteus import Model
    from proteus import config as pconfig

    from trytond.modules.water_crm import install as crm_install
    from trytond.modules.water_payment_gateway import install

    fixtures._setup_company()
    config = pconfig.set_trytond(database=DB_NAME)
    User = Model.get('res.user', config=config)
    config._context = User.get_preferences(True, {})
    install.get_bank_channel_journal(config, crm_install.get_company(config))


def _drop():
    drop_db()
    _database['ready'] = False


class PaymentTestCase(unittest.TestCase):
    """The company set up with water_payment_gateway, shared by the test
    classes of a module; a class whose tests commit sets commits and gets
    a database of its own"""
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
            activate_module('water_payment_gateway')
            _setup()
            backup_db_cache(name)
        _database['ready'] = not cls.commits

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        if cls.commits:
            _drop()


def create_journal(name="Bank Channel", code='1.1.5'):
    """A manual payment journal in rials clearing through its own
    reconcilable account"""
    pool = Pool()
    Account = pool.get('account.account')
    Journal = pool.get('account.journal')
    PaymentJournal = pool.get('account.payment.journal')
    company = fixtures.get_company()
    cash, = Account.search([('code', '=', '1.1.1')])
    account = Account(company=company, code=code, name=f"{name} Clearing",
        parent=cash.parent, type=cash.type, reconcile=True)
    account.save()
    clearing_journal, = Journal.search([('code', '=', 'CASH')])
    journal = PaymentJournal(name=name, company=company,
        currency=company.currency, process_method='manual',
        clearing_account=account, clearing_journal=clearing_journal)
    journal.save()
    return journal


def account_balance(account):
    "The debit minus credit of an account"
    MoveLine = Pool().get('account.move.line')
    lines = MoveLine.search([('account', '=', account.id)])
    return sum((l.debit - l.credit for l in lines), Decimal(0))


def unpaid(bills):
    "What the bills' invoices still owe"
    Invoice = Pool().get('account.invoice')
    invoices = [b.invoice for b in bills]
    with_payments = Invoice.get_amount_to_pay(invoices, 'amount_to_pay')
    return sum(with_payments.values(), Decimal(0))
