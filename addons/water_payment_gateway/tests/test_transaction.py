# This file is part of the water utility modules.
"""The lifecycle of a gateway transaction (pure), its enforcement on the
model, and the credentials of gateway accounts: never shown back, never
in the stored messages."""
import itertools
import json
import unittest

from trytond.model.exceptions import AccessError
from trytond.model.modelview import AccessButtonError
from trytond.modules.water_billing.tests import fixtures
from trytond.modules.water_billing.tests.test_application import (
    create_application)
from trytond.modules.water_crm.tests.test_crm import create_party
from trytond.pool import Pool
from trytond.transaction import Transaction

from .. import lifecycle
from ..gateways.base import MASK
from ..simulator import DEMO_MELLAT, DEMO_SADAD, DEMO_ZARINPAL
from ..transaction import TransactionStateError
from .payment_tools import PaymentTestCase
from .test_portal_pay import (
    GatewayDatabase, committed, create_gateway_journal, create_gateways,
    read)

SECRETS = [DEMO_SADAD.terminal_key, DEMO_MELLAT.user_name,
    DEMO_MELLAT.user_password, DEMO_ZARINPAL.merchant_id]


def new_transaction(number):
    """A new subscriber of number and a transaction of theirs at a gateway
    nobody answers"""
    GatewayTransaction = Pool().get('water.payment.transaction')
    subscription = fixtures.create_subscriber(number)
    gateway = create_gateways(
        create_gateway_journal(), 'http://127.0.0.1:1')[0]
    return subscription, GatewayTransaction.create_payment(
        subscription.party, gateway, 10000)


class LifecycleTestCase(unittest.TestCase):
    "Test the transition table of gateway transactions"

    def test_happy_path(self):
        "created → redirected → returned → verified → succeeded"
        path = [lifecycle.CREATED, lifecycle.REDIRECTED, lifecycle.RETURNED,
            lifecycle.VERIFIED, lifecycle.SUCCEEDED]
        for source, target in zip(path, path[1:]):
            with self.subTest(source=source, target=target):
                self.assertTrue(lifecycle.allowed(source, target))

    def test_final_states(self):
        "Nothing leaves a final state"
        for source, target in itertools.product(
                lifecycle.FINAL, lifecycle.STATES):
            with self.subTest(source=source, target=target):
                self.assertFalse(lifecycle.allowed(source, target))
                with self.assertRaises(lifecycle.TransitionError):
                    lifecycle.check(source, target)

    def test_verified_only_succeeds(self):
        "Verified money is never failed, cancelled or expired"
        for target in lifecycle.STATES:
            with self.subTest(target=target):
                self.assertEqual(
                    lifecycle.allowed(lifecycle.VERIFIED, target),
                    target == lifecycle.SUCCEEDED)

    def test_no_skipping_the_bank(self):
        "Only a bank's verify leads to verified, only from the bank states"
        sources = {s for s, t in lifecycle.TRANSITIONS
            if t == lifecycle.VERIFIED}
        self.assertEqual(sources, {lifecycle.REDIRECTED, lifecycle.RETURNED})
        self.assertFalse(
            lifecycle.allowed(lifecycle.CREATED, lifecycle.SUCCEEDED))

    def test_pending_can_end(self):
        "Every pending state can fail or expire"
        for source in lifecycle.PENDING:
            with self.subTest(source=source):
                self.assertTrue(lifecycle.allowed(source, lifecycle.FAILED))
                self.assertTrue(lifecycle.allowed(source, lifecycle.EXPIRED))

    def test_states_partition(self):
        "Each state is pending, paid or final"
        self.assertEqual(
            lifecycle.PENDING | lifecycle.FINAL | {lifecycle.VERIFIED},
            set(lifecycle.STATES))
        self.assertFalse(lifecycle.PENDING & lifecycle.FINAL)


class GatewayAccountTestCase(PaymentTestCase):
    "Test the gateway accounts and transactions on the database"

    @fixtures.with_company
    def test_secrets_masked(self):
        "The credentials read back as a mask and are closed to users"
        Gateway = Pool().get('water.payment.gateway')
        journal = create_gateway_journal()
        gateways = create_gateways(journal, 'http://127.0.0.1:1')

        values = Gateway.read([g.id for g in gateways], [
                'terminal_key', 'user_name', 'user_password',
                'zarinpal_merchant'])
        for value in values:
            for name in ['terminal_key', 'user_name', 'user_password',
                    'zarinpal_merchant']:
                self.assertIn(value[name], {MASK, ''})
        sadad = gateways[0]
        self.assertEqual(sadad.terminal_key_secret, DEMO_SADAD.terminal_key)
        # the mask written back keeps the secret
        Gateway.write([sadad], {'terminal_key': MASK})
        self.assertEqual(Gateway(sadad.id).terminal_key_secret,
            DEMO_SADAD.terminal_key)
        with Transaction().set_context(_check_access=True):
            with self.assertRaises(AccessError):
                Gateway.read([sadad.id], ['terminal_key_secret'])
        copy, = Gateway.copy([sadad])
        self.assertIsNone(copy.terminal_key_secret)

    @fixtures.with_company
    def test_transition_enforced(self):
        "The model refuses a move the lifecycle does not allow"
        pool = Pool()
        GatewayTransaction = pool.get('water.payment.transaction')
        _, transaction = new_transaction(4001)

        self.assertTrue(transaction.number.isdigit())
        self.assertEqual(transaction.state, lifecycle.CREATED)
        with self.assertRaises(TransactionStateError):
            transaction.set_state(lifecycle.SUCCEEDED)
        transaction.set_state(lifecycle.FAILED)
        with self.assertRaises(TransactionStateError):
            transaction.set_state(lifecycle.VERIFIED)
        with self.assertRaises(TransactionStateError):
            GatewayTransaction.delete([transaction])
        other = GatewayTransaction.create_payment(
            transaction.party, transaction.gateway, 10000)
        self.assertNotEqual(other.number, transaction.number)

    @fixtures.with_company
    def test_mark_reviewed(self):
        """Billing staff clear a transaction to review, named in its
        messages; a payment clerk without the button cannot"""
        pool = Pool()
        GatewayTransaction = pool.get('water.payment.transaction')
        ModelData = pool.get('ir.model.data')
        User = pool.get('res.user')
        _, transaction = new_transaction(4003)
        transaction.set_state(lifecycle.FAILED, review=True)
        payment = ModelData.get_id('account_payment', 'group_payment')
        billing = ModelData.get_id('water_crm', 'group_water_billing')
        reviewer, clerk = User.create([{
                    'login': 'reviewer', 'name': "Mina Reviewer",
                    'groups': [('add', [payment, billing])],
                    }, {
                    'login': 'clerk', 'name': "Payment Clerk",
                    'groups': [('add', [payment])],
                    }])

        with Transaction().set_user(clerk.id), \
                Transaction().set_context(_check_access=True):
            with self.assertRaises(AccessButtonError):
                GatewayTransaction.mark_reviewed([transaction])
        with Transaction().set_user(reviewer.id), \
                Transaction().set_context(_check_access=True):
            GatewayTransaction.mark_reviewed([transaction])

        transaction = GatewayTransaction(transaction.id)
        self.assertFalse(transaction.review)
        self.assertEqual(transaction.state, lifecycle.FAILED)
        log = transaction.logs[-1]
        self.assertEqual(log.step, 'review')
        self.assertIn("Mina Reviewer", log.message)

    @fixtures.with_company
    def test_party_replace_and_erase(self):
        """Replacing a subscriber moves their transactions, applications
        and subscriptions; erasing the applicant blanks the person typed on
        the application and deletes its documents"""
        pool = Pool()
        GatewayTransaction = pool.get('water.payment.transaction')
        Application = pool.get('water.application')
        Attachment = pool.get('ir.attachment')
        Party = pool.get('party.party')
        Subscription = pool.get('water.subscription')
        Replace = pool.get('party.replace', type='wizard')
        Erase = pool.get('party.erase', type='wizard')
        subscription, transaction = new_transaction(4004)
        source = subscription.party
        application = create_application(
            subscription.connection.parcel.zone, party=source)
        Attachment.create([{
                    'resource': str(application), 'name': 'deed.pdf',
                    'data': b'%PDF-1.4',
                    }])
        destination = create_party(source.name)

        session_id, _, _ = Replace.create()
        Replace.execute(session_id, {'ask': {
                    'source': source.id,
                    'destination': destination.id,
                    }}, 'replace')
        Replace.delete(session_id)

        # searched: the wizard writes in SQL, behind the records' cache
        for Model, record in [(GatewayTransaction, transaction),
                (Application, application), (Subscription, subscription)]:
            with self.subTest(model=Model.__name__):
                self.assertEqual(
                    Model.search([('party', '=', destination.id)]),
                    [record])

        Subscription.write([Subscription(subscription.id)],
            {'party': create_party("مشترک بعدی").id})
        Party.write([destination], {'active': False})
        session_id, _, _ = Erase.create()
        Erase.execute(session_id, {'ask': {'party': destination.id}},
            'erase')
        Erase.delete(session_id)

        names = ['first_name', 'last_name', 'national_code', 'mobile',
            'father_name']
        values, = Application.read([application.id], names)
        self.assertEqual([values[n] for n in names],
            ['****', '****', '****', '****', None])
        self.assertEqual(Attachment.search(
                [('resource', '=', str(application))]), [])

    @fixtures.with_company
    def test_unreachable_bank(self):
        "A bank that cannot be reached fails the request, masked in logs"
        pool = Pool()
        GatewayTransaction = pool.get('water.payment.transaction')
        subscription = fixtures.create_subscriber(4002)
        journal = create_gateway_journal()
        for gateway in create_gateways(journal, 'http://127.0.0.1:1'):
            with self.subTest(provider=gateway.provider):
                transaction = GatewayTransaction.create_payment(
                    subscription.party, gateway, 10000)
                self.assertIsNone(transaction.request())
                self.assertEqual(transaction.state, lifecycle.FAILED)
                self.assertEqual(transaction.payments, ())


class SecretsInLogsTestCase(GatewayDatabase):
    "Test that no credential reaches the stored bank messages"

    def test_no_secret_in_logs(self):
        "After paying through each provider the logs hold no credential"
        for provider in ['sadad', 'mellat', 'zarinpal']:
            self.bill_id = committed(self.new_bill)
            self.pay(provider)

        def logs():
            Log = Pool().get('water.payment.transaction.log')
            return [(l.step, l.code, l.message, l.raw)
                for l in Log.search([])]
        logs = read(logs)
        steps = {step for step, *_ in logs}
        self.assertTrue({'request', 'callback', 'verify', 'settle'} <= steps)
        text = json.dumps(logs, ensure_ascii=False)
        for secret in SECRETS:
            self.assertNotIn(secret, text)
