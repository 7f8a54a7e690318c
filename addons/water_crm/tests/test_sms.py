# This file is part of the water utility modules.
"""Tests of water.sms: queueing, delivery through the outbox and through
Kavenegar and SMS.ir served by a local gateway, retries, delivery reports
and access."""
import datetime as dt
from contextlib import contextmanager
from unittest.mock import patch

from trytond import config
from trytond.model.exceptions import AccessError, ValidationError
from trytond.modules.company.tests import (
    CompanyTestMixin, create_company, set_company)
from trytond.modules.water_crm import sms
from trytond.modules.water_crm.sms_providers import MASK, OutboxProvider
from trytond.pool import Pool
from trytond.tests.test_tryton import ModuleTestCase, with_transaction
from trytond.transaction import Transaction

from .test_sms_providers import (
    API_KEY, LINE_NUMBER, TEXT, GatewayTestMixin)


def create_subscription(company):
    "A subscription on a connection of a new zone and parcel"
    pool = Pool()
    Zone = pool.get('water.zone')
    Parcel = pool.get('water.parcel')
    Usage = pool.get('water.usage')
    Connection = pool.get('water.connection')
    Party = pool.get('party.party')
    Subscription = pool.get('water.subscription')
    zone, = Zone.create([{'name': "دهکده زیتون", 'company': company.id}])
    parcel, = Parcel.create([{
                'zone': zone.id, 'company': company.id, 'number': '420/71',
                'geographic_code': '1900420071'}])
    usage, = Usage.search([], limit=1)
    connection, = Connection.create([{
                'parcel': parcel.id, 'company': company.id,
                'usage': usage.id}])
    party, = Party.create([{'name': "حسین رضایی"}])
    subscription, = Subscription.create([{
                'connection': connection.id, 'party': party.id,
                'company': company.id, 'number': '1421'}])
    return subscription


def create_user(login, company, groups):
    pool = Pool()
    User = pool.get('res.user')
    ModelData = pool.get('ir.model.data')
    user, = User.create([{
                'login': login,
                'name': login,
                'groups': [('add', [
                            ModelData.get_id('water_crm', g)
                            for g in groups])],
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


def stored_text(messages):
    "Everything stored on the messages, as one text"
    return '\n'.join(
        str(getattr(m, name)) for m in messages
        for name in ['mobile', 'body', 'provider', 'provider_message_id',
            'error', 'raw_request', 'raw_response'])


class SmsTestCase(GatewayTestMixin, CompanyTestMixin, ModuleTestCase):
    "Test water.sms"
    module = 'water_crm'

    def configure(self, provider, **values):
        "Send through provider served by the local gateway"
        Configuration = Pool().get('water.configuration')
        configuration = Configuration(1)
        configuration.sms_provider = provider
        configuration.sms_api_key = API_KEY
        configuration.sms_sender = LINE_NUMBER
        configuration.sms_base_url = self.gateway.url
        for name, value in values.items():
            setattr(configuration, 'sms_' + name, value)
        configuration.save()

    def send(self, *mobiles):
        Sms = Pool().get('water.sms')
        return Sms.send([{'mobile': m, 'body': TEXT} for m in mobiles])

    @with_transaction()
    def test_send_queues(self):
        "send normalises the mobiles and queues the delivery"
        pool = Pool()
        Sms = pool.get('water.sms')
        Queue = pool.get('ir.queue')
        company = create_company()
        with set_company(company):
            subscription = create_subscription(company)

            messages = Sms.send([{
                        'mobile': '+98 ۹۱۲ ۱۲۳ ۴۵۶۷',
                        'body': TEXT,
                        'party': subscription.party,
                        'origin': subscription,
                        }, {
                        'mobile': '9351234567',
                        'body': "سلام",
                        }])

        self.assertEqual([m.mobile for m in messages],
            ['09121234567', '09351234567'])
        self.assertEqual([m.state for m in messages], ['queued', 'queued'])
        self.assertEqual([m.attempts for m in messages], [0, 0])
        self.assertEqual(messages[0].party, subscription.party)
        self.assertEqual(messages[0].origin, subscription)
        self.assertEqual(messages[0].body, TEXT)
        self.assertIsNone(messages[1].party)
        task, = Queue.search([])
        self.assertEqual(
            (task.data['model'], task.data['method'],
                list(task.data['instances'])),
            ('water.sms', 'deliver', [m.id for m in messages]))
        self.assertEqual(self.gateway.requests, [])

    @with_transaction()
    def test_send_queues_batches(self):
        "With a worker, the delivery is queued in tasks of a batch each"
        pool = Pool()
        Sms = pool.get('water.sms')
        Queue = pool.get('ir.queue')
        company = create_company()
        for option, value, default in [
                ('worker', 'True', 'False'), ('batch_size', '20', '20')]:
            self.addCleanup(config.set, 'queue', option,
                config.get('queue', option, default=default))
            config.set('queue', option, value)
        with set_company(company):
            messages = Sms.send([{
                        'mobile': f'0912123{i:04d}',
                        'body': TEXT,
                        } for i in range(45)])

        tasks = Queue.search([], order=[('id', 'ASC')])
        self.assertEqual([len(t.data['instances']) for t in tasks],
            [20, 20, 5])
        self.assertEqual(
            [i for t in tasks for i in t.data['instances']],
            [m.id for m in messages])

    @with_transaction()
    def test_send_nothing(self):
        "Sending no message queues nothing"
        pool = Pool()
        Sms = pool.get('water.sms')
        Queue = pool.get('ir.queue')

        self.assertEqual(Sms.send([]), [])
        self.assertEqual(Queue.search([]), [])

    @with_transaction()
    def test_send_invalid_mobile(self):
        "A wrong mobile is refused"
        with self.assertRaises(ValidationError):
            self.send('0912')

    @with_transaction()
    def test_deliver_outbox(self):
        "The outbox marks the messages sent without sending them"
        Sms = Pool().get('water.sms')
        message, = self.send('09121234567')

        Sms.deliver([message])

        self.assertEqual(message.state, 'sent')
        self.assertEqual(message.provider, 'outbox')
        self.assertEqual(message.attempts, 1)
        self.assertIsNotNone(message.sent_date)
        self.assertIsNone(message.next_attempt)
        self.assertIsNone(message.provider_message_id)
        self.assertIn(TEXT.split('\n')[0], message.raw_request)
        self.assertEqual(self.gateway.requests, [])

    @with_transaction()
    def test_deliver_kavenegar(self):
        "Kavenegar's message id is kept"
        Sms = Pool().get('water.sms')
        self.configure('kavenegar')
        message, = self.send('09121234567')

        Sms.deliver([message])

        request, = self.gateway.requests
        self.assertEqual(request.path, f'/v1/{API_KEY}/sms/send.json')
        self.assertEqual(request.form['receptor'], ['09121234567'])
        self.assertEqual(message.state, 'sent')
        self.assertEqual(message.provider, 'kavenegar')
        self.assertEqual(message.provider_message_id, '8792343')
        self.assertIn(f'/v1/{MASK}/sms/send.json', message.raw_request)
        self.assertIn('8792343', message.raw_response)
        self.assertIsNone(message.error)

    @with_transaction()
    def test_deliver_smsir(self):
        "SMS.ir's message id is kept"
        Sms = Pool().get('water.sms')
        self.configure('smsir')
        message, = self.send('09121234567')

        Sms.deliver([message])

        request, = self.gateway.requests
        self.assertEqual(request.json['mobiles'], ['09121234567'])
        self.assertEqual(message.state, 'sent')
        self.assertEqual(message.provider, 'smsir')
        self.assertEqual(message.provider_message_id, '8792343')

    @with_transaction()
    def test_deliver_only_queued(self):
        "Messages that are no longer queued are not sent again"
        Sms = Pool().get('water.sms')
        self.configure('kavenegar')
        sent, cancelled = self.send('09121234567', '09122222222')
        Sms.deliver([sent])
        Sms.cancel([cancelled])

        Sms.deliver([sent, cancelled])

        self.assertEqual(len(self.gateway.requests), 1)
        self.assertEqual(cancelled.state, 'cancelled')
        self.assertEqual(sent.attempts, 1)

    @with_transaction()
    def test_cron_leaves_new_to_tasks(self):
        """The cron sends a new message only when its task has left it
        alone for a while, and at most a batch per run"""
        Sms = Pool().get('water.sms')
        self.configure('kavenegar')
        messages = self.send('09121234561', '09121234562', '09121234563')

        Sms.deliver_queued()
        self.assertEqual(self.gateway.requests, [], "left to the task")

        table = Sms.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.update([table.create_date],
                [dt.datetime.now() - sms.TASK_GRACE
                    - dt.timedelta(minutes=1)]))
        with patch.object(sms, 'CRON_BATCH', 2):
            Sms.deliver_queued()
        self.assertEqual([m.state for m in Sms.browse(messages)],
            ['sent', 'sent', 'queued'])
        Sms.deliver_queued()
        self.assertEqual([m.state for m in Sms.browse(messages)],
            ['sent'] * 3)

    @with_transaction()
    def test_retryable_failure(self):
        "A failure that can be retried is tried later, then given up"
        Sms = Pool().get('water.sms')
        self.configure('kavenegar', max_attempts=3)
        self.gateway.failures['09121234567'] = 'busy'
        message, = self.send('09121234567')

        # DateTime fields keep no microseconds
        before = dt.datetime.now().replace(microsecond=0)
        Sms.deliver([message])

        self.assertEqual(message.state, 'queued')
        self.assertEqual(message.attempts, 1)
        self.assertIn('[409]', message.error)
        self.assertGreaterEqual(
            message.next_attempt, before + dt.timedelta(minutes=5))
        self.assertLessEqual(message.next_attempt,
            dt.datetime.now() + dt.timedelta(minutes=5))

        Sms.deliver_queued()
        self.assertEqual(len(self.gateway.requests), 1, "not due yet")

        Sms.write([message], {'next_attempt': before})
        Sms.deliver_queued()
        self.assertEqual(message.state, 'queued')
        self.assertEqual(message.attempts, 2)
        self.assertGreaterEqual(
            message.next_attempt, before + dt.timedelta(minutes=10))

        Sms.write([message], {'next_attempt': before})
        Sms.deliver_queued()
        self.assertEqual(message.state, 'failed')
        self.assertEqual(message.attempts, 3)
        self.assertIsNone(message.next_attempt)
        self.assertEqual(len(self.gateway.requests), 3)

    @with_transaction()
    def test_permanent_failure(self):
        "A failure that cannot be retried fails at once"
        Sms = Pool().get('water.sms')
        self.configure('smsir')
        self.gateway.credit = 0
        message, = self.send('09121234567')

        Sms.deliver([message])

        self.assertEqual(message.state, 'failed')
        self.assertEqual(message.attempts, 1)
        self.assertIsNone(message.next_attempt)
        self.assertEqual(message.error, "[102] اعتبار حساب کافی نیست")
        self.assertIn('"status": 400', message.raw_response)

    @with_transaction()
    def test_failure_keeps_others(self):
        "A message that fails does not stop the others"
        Sms = Pool().get('water.sms')
        self.configure('kavenegar')
        self.gateway.failures.update({
                '09122222222': 'http5xx',
                '09123333333': 'rejected',
                })
        messages = self.send(
            '09121111111', '09122222222', '09123333333', '09124444444')

        Sms.deliver(messages)

        self.assertEqual([m.state for m in messages],
            ['sent', 'queued', 'failed', 'sent'])
        self.assertEqual([m.attempts for m in messages], [1, 1, 1, 1])
        self.assertEqual(messages[1].error,
            "[502] سرویس پیامک موقتاً در دسترس نیست")
        self.assertEqual(messages[2].error,
            "[411] شماره گیرنده معتبر نیست")

    @with_transaction()
    def test_unexpected_error_keeps_others(self):
        "An unexpected error is retried and does not stop the others"
        Sms = Pool().get('water.sms')
        messages = self.send('09121111111', '09122222222')
        send = OutboxProvider.send

        def broken(provider, mobile, text):
            if mobile == '09121111111':
                raise RuntimeError("broken")
            return send(provider, mobile, text)

        with patch.object(OutboxProvider, 'send', broken), \
                self.assertLogs('trytond.modules.water_crm.sms', 'ERROR'):
            Sms.deliver(messages)

        self.assertEqual([m.state for m in messages], ['queued', 'sent'])
        self.assertEqual(messages[0].error, 'broken')
        self.assertIsNotNone(messages[0].next_attempt)

    def check_update_statuses(self, provider, delivered, undelivered):
        "Delivery reports mark the messages delivered or failed"
        Sms = Pool().get('water.sms')
        self.configure(provider)
        messages = self.send('09121111111', '09122222222', '09123333333')
        Sms.deliver(messages)
        ids = [m.provider_message_id for m in messages]
        self.gateway.delivery.update({
                ids[0]: delivered, ids[1]: undelivered})

        Sms.update_statuses()

        self.assertEqual([m.state for m in messages],
            ['delivered', 'failed', 'sent'])
        return messages

    @with_transaction()
    def test_update_statuses_kavenegar(self):
        "Kavenegar's delivery reports mark the messages"
        messages = self.check_update_statuses('kavenegar', 10, 11)
        self.assertEqual(messages[1].error, "[11] نرسیده به گیرنده")

    @with_transaction()
    def test_update_statuses_smsir(self):
        "SMS.ir's delivery reports mark the messages"
        messages = self.check_update_statuses('smsir', 1, 2)
        self.assertEqual(messages[1].error, "[2] نرسیده به گوشی")

    @with_transaction()
    def test_update_statuses_of_configured_provider(self):
        "Only the messages of the configured provider are asked for"
        Sms = Pool().get('water.sms')
        self.configure('kavenegar')
        message, = self.send('09121234567')
        Sms.deliver([message])
        self.configure('smsir')
        self.gateway.requests.clear()

        Sms.update_statuses()

        self.assertEqual(self.gateway.requests, [])
        self.assertEqual(message.state, 'sent')

    @with_transaction()
    def test_update_statuses_failure(self):
        "A provider that does not answer leaves the messages sent"
        Sms = Pool().get('water.sms')
        self.configure('kavenegar')
        message, = self.send('09121234567')
        Sms.deliver([message])
        self.configure('kavenegar', api_key='0BAD')

        with self.assertLogs('trytond.modules.water_crm.sms', 'WARNING'):
            Sms.update_statuses()

        self.assertEqual(message.state, 'sent')

    @with_transaction()
    def test_api_key_not_stored(self):
        "The API key is in no stored data, even of refused requests"
        Sms = Pool().get('water.sms')
        messages = []
        for provider in ['kavenegar', 'smsir']:
            self.configure(provider)
            self.gateway.credit = 1
            messages += self.send('09121111111', '09122222222')
            Sms.deliver(messages)

        self.assertEqual([m.state for m in messages],
            ['sent', 'failed', 'sent', 'failed'])
        self.assertTrue(all(m.raw_request for m in messages))
        self.assertTrue(all(m.raw_response for m in messages))
        self.assertNotIn(API_KEY, stored_text(messages))
        self.assertIn(MASK, stored_text(messages))
        self.assertEqual(
            sum(API_KEY in r.path or r.headers.get('X-API-KEY') == API_KEY
                for r in self.gateway.requests), 4)

    @with_transaction()
    def test_retry_and_cancel(self):
        "Retry queues a failed message again with all its attempts"
        pool = Pool()
        Sms = pool.get('water.sms')
        Queue = pool.get('ir.queue')
        self.configure('kavenegar')
        self.gateway.credit = 0
        failed, queued = self.send('09121111111', '09122222222')
        Sms.deliver([failed])
        Queue.delete(Queue.search([]))

        Sms.retry([failed])
        Sms.cancel([queued])

        self.assertEqual(failed.state, 'queued')
        self.assertEqual(failed.attempts, 0)
        self.assertIsNone(failed.error)
        task, = Queue.search([])
        self.assertEqual(list(task.data['instances']), [failed.id])
        self.assertEqual(queued.state, 'cancelled')

        self.gateway.credit = 1
        Sms.deliver([failed])
        self.assertEqual(failed.state, 'sent')

    @with_transaction()
    def test_sent_not_modifiable(self):
        "The recipient and text of a sent message cannot change"
        Sms = Pool().get('water.sms')
        message, = self.send('09121234567')
        Sms.deliver([message])

        with self.assertRaises(AccessError):
            Sms.write([message], {'body': "دیگر"})

    @with_transaction()
    def test_copy(self):
        "A copy is a new message to send"
        Sms = Pool().get('water.sms')
        message, = self.send('09121234567')
        Sms.deliver([message])

        copy, = Sms.copy([message])

        self.assertEqual(copy.state, 'queued')
        self.assertEqual(copy.attempts, 0)
        self.assertEqual(copy.body, TEXT)
        self.assertIsNone(copy.sent_date)
        self.assertIsNone(copy.raw_request)

    @with_transaction()
    def test_on_change_party(self):
        "The mobile of the party is proposed"
        pool = Pool()
        Sms = pool.get('water.sms')
        Party = pool.get('party.party')
        party, = Party.create([{
                    'name': "مریم",
                    'contact_mechanisms': [('create', [{
                                    'type': 'mobile',
                                    'value': '09121234567'}])],
                    }])

        message = Sms(party=party)
        message.on_change_party()

        self.assertEqual(message.mobile, '09121234567')

    @with_transaction()
    def test_jalali_dates(self):
        "Dates are shown in Jalali in the company's time zone"
        Sms = Pool().get('water.sms')
        company = create_company()
        company.timezone = 'Asia/Tehran'
        company.save()
        message, = self.send('09121234567')
        Sms.write([message], {
                'state': 'sent',
                'sent_date': dt.datetime(2025, 3, 20, 21, 0),
                })

        with set_company(company):
            message = Sms(message.id)
            self.assertEqual(message.sent_date_jalali, '1404/01/01 00:30')
            self.assertTrue(message.create_date_jalali)
        self.assertEqual(Sms(message.id).sent_date_jalali, '1403/12/30 21:00')

    @with_transaction()
    def test_crons(self):
        "The crons of the SMS exist"
        pool = Pool()
        Cron = pool.get('ir.cron')
        methods = {c.method for c in Cron.search([])}
        self.assertLessEqual(
            {'water.sms|deliver_queued', 'water.sms|update_statuses'},
            methods)

    @with_transaction()
    def test_access(self):
        "Customer Service reads and creates SMS and never sees the API key"
        pool = Pool()
        Sms = pool.get('water.sms')
        Configuration = pool.get('water.configuration')
        company = create_company()
        with set_company(company):
            self.configure('kavenegar')
            message, = self.send('09121234567')
            users = {g: create_user(g, company, [g]) for g in [
                    'group_water_admin', 'group_water_customer_service',
                    'group_water_billing']}

        with as_user(users['group_water_customer_service']):
            self.assertEqual(len(Sms.search([])), 1)
            Sms.create([{'mobile': '09120000000', 'body': "سلام"}])
            Sms.cancel([message])
            with self.assertRaises(AccessError):
                Sms.write([message], {'mobile': '09121111111'})
            with self.assertRaises(AccessError):
                Configuration.read([1], ['sms_api_key'])
            configuration, = Configuration.read([1], ['sms_provider'])
            self.assertEqual(configuration['sms_provider'], 'kavenegar')

        with as_user(users['group_water_admin']):
            configuration, = Configuration.read([1], ['sms_api_key'])
            self.assertEqual(configuration['sms_api_key'], API_KEY)
            Sms.write([message], {'mobile': '09121111111'})

        with as_user(users['group_water_billing']):
            with self.assertRaises(AccessError):
                Sms.search([])


del ModuleTestCase
