# This file is part of the water utility modules.
"""Portal logins of subscribers on web.user: log in with a subscription
or mobile number, one-time codes sent by SMS, sessions with an idle
timeout and a CSRF token, and the back-office button that gives a party
its portal access."""
import datetime as dt
import logging
import secrets
from time import sleep

from sql.conditionals import Coalesce
from sql.functions import CurrentTimestamp

import trytond.config as config
from trytond.exceptions import RateLimitException, UserError
from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Bool, Eval
from trytond.res.user import PasswordError
from trytond.transaction import Transaction, without_check_access
from trytond.url import http_base

from . import validators
from .portal import (
    PREFIX, company, company_cache, company_name, environment)


class PortalAccessError(UserError):
    pass

logger = logging.getLogger(__name__)


def _setting(name, default):
    return config.getint('water', name, default=default)


def idle_timeout():
    "Seconds without a request after which a portal session ends"
    return dt.timedelta(seconds=_setting('portal_idle_timeout', 30 * 60))


def session_lifetime():
    "Seconds after the login at which a portal session ends anyway"
    return dt.timedelta(
        seconds=_setting('portal_session_lifetime', 12 * 60 * 60))


def code_timeout():
    return dt.timedelta(seconds=_setting('portal_code_timeout', 5 * 60))


def code_attempts():
    "Wrong entries of a code before it is void"
    return _setting('portal_code_attempts', 5)


def codes_per_hour():
    "Codes a login may receive in an hour"
    return _setting('portal_codes_per_hour', 5)


def code_interval():
    "Seconds between two codes sent to the same login"
    return dt.timedelta(seconds=_setting('portal_code_interval', 60))


def clean_identifier(value):
    "A typed subscription or mobile number with ASCII digits and no spaces"
    return ''.join(validators.normalize_digits(value or '').split())


def sms_body(template, **values):
    "The text of an SMS from its Persian template"
    values.setdefault('company_name', company_name(Pool()) or '')
    return environment().get_template(template).render(
        portal_url=http_base().rstrip('/') + PREFIX + '/', **values).strip()


class User(metaclass=PoolMeta):
    __name__ = 'web.user'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        # Subscribers log in with their subscription or mobile number;
        # many have no e-mail address.
        cls.email.states['required'] &= ~Bool(Eval('party'))

    @classmethod
    def write(cls, *args):
        super().write(*args)
        actions = iter(args)
        deactivated = []
        for users, values in zip(actions, actions):
            if values.get('active') is False:
                deactivated.extend(users)
        if deactivated:
            cls.end_sessions(deactivated)

    @classmethod
    def end_sessions(cls, users, keep=None):
        "Delete the sessions of the users, except the key keep"
        Session = Pool().get('web.user.session')
        domain = [('user', 'in', [u.id for u in users])]
        if keep:
            domain.append(('key', '!=', keep))
        Session.delete(Session.search(domain))

    @classmethod
    def portal_find(cls, identifier):
        """The active portal user of a subscription number or of a mobile
        number that belongs to one party only, or None"""
        pool = Pool()
        Subscription = pool.get('water.subscription')
        Mechanism = pool.get('party.contact_mechanism')
        value = clean_identifier(identifier)
        if not value:
            return
        domain = [('number', '=', value)]
        portal_company = company(pool)
        if portal_company:
            domain.append(('company', '=', portal_company.id))
        subscriptions = Subscription.search(domain, limit=1)
        if subscriptions:
            parties = {subscriptions[0].party}
        else:
            try:
                mobile = validators.mobile(value)
            except validators.InvalidValue:
                return
            parties = {m.party for m in Mechanism.search([
                        ('type', '=', 'mobile'),
                        ('value', '=', mobile),
                        ])}
        if len(parties) != 1:
            # A number shared by several subscribers names none of them.
            return
        party, = parties
        users = cls.search([('party', '=', party.id)], limit=2)
        if len(users) == 1:
            return users[0]

    @classmethod
    def portal_authenticate(cls, identifier, password):
        """The portal user of identifier when password is his, else None

        Failures are counted and delayed like web_user's authenticate,
        per user whichever number he typed; too many raise
        RateLimitException. The caller must commit for them to count."""
        pool = Pool()
        Attempt = pool.get('web.user.authenticate.attempt')
        if Attempt.count_ip() > config.getint(
                'session', 'max_attempt_ip_network', default=300):
            raise RateLimitException()
        user = cls.portal_find(identifier)
        if user:
            key = f'water.portal:{user.id}'
        else:
            key = 'water.portal:' + clean_identifier(identifier)
        count = Attempt.count(key)
        if count > config.getint('session', 'max_attempt', default=5):
            Attempt.add(key)
            logger.warning("Portal login locked out for web user %s",
                user.id if user else None)
            raise RateLimitException()
        Transaction().atexit(sleep, 2 ** count - 1)
        # Check a hash even without a user so that the time taken does
        # not tell which numbers have a login.
        valid, new_hash = cls.check_password(
            password or '', user.password_hash if user and user.password_hash
            else _dummy_hash())
        if user and user.password_hash and valid:
            if new_hash:
                cls.write([user], {'password_hash': new_hash})
            Attempt.remove(key)
            return user
        logger.info("Portal login failed for web user %s",
            user.id if user else None)
        Attempt.add(key)

    def portal_check_password(self, password):
        """Whether password is the user's, counted and delayed like a
        login: too many failures raise RateLimitException"""
        pool = Pool()
        Attempt = pool.get('web.user.authenticate.attempt')
        key = f'water.portal:{self.id}'
        count = Attempt.count(key)
        if count > config.getint('session', 'max_attempt', default=5):
            Attempt.add(key)
            raise RateLimitException()
        Transaction().atexit(sleep, 2 ** count - 1)
        valid, _ = self.check_password(
            password or '', self.password_hash or _dummy_hash())
        if valid and self.password_hash:
            Attempt.remove(key)
            return True
        Attempt.add(key)
        return False

    @classmethod
    def portal_password_problem(cls, user, password):
        """Why password cannot be user's, as a message code of the portal
        templates, or None

        Routes run as root, for which web.user skips the policy."""
        ResUser = Pool().get('res.user')
        length = config.getint('password', 'length', default=0)
        if len(password.encode('utf-8')) < length:
            return 'password_short'
        if len(password) > 1024:
            return 'password_long'
        identifiers = {user.party.mobile if user.party else None} | {
            s.number for s in user.portal_subscriptions()}
        if password in identifiers:
            return 'password_identifier'
        try:
            ResUser.validate_password(password, [user])
        except PasswordError:
            return 'password_forbidden'

    def portal_subscriptions(self):
        "The subscriptions the user sees: all those of his party"
        Subscription = Pool().get('water.subscription')
        if not self.party:
            return []
        states = ['active', 'suspended', 'terminated']
        return sorted(
            Subscription.search([('party', '=', self.party.id)]),
            key=lambda s: (states.index(s.state), len(s.number or ''),
                s.number or '', s.id))

    def portal_subscription(self, subscription_id):
        "The subscription of that id if the user may see it, else None"
        Subscription = Pool().get('water.subscription')
        if not self.party or not isinstance(subscription_id, int):
            return
        subscriptions = Subscription.search([
                ('id', '=', subscription_id),
                ('party', '=', self.party.id),
                ], limit=1)
        return subscriptions[0] if subscriptions else None

    @classmethod
    def portal_set_password(cls, users, password, keep_session=None):
        """Set the password, forget the failed logins and end the other
        sessions of the users"""
        Attempt = Pool().get('web.user.authenticate.attempt')
        cls.write(users, {'password_hash': cls.hash_password(password)})
        for user in users:
            Attempt.remove(f'water.portal:{user.id}')
        cls.end_sessions(users, keep=keep_session)


_DUMMY_HASH = []


def _dummy_hash():
    if not _DUMMY_HASH:
        _DUMMY_HASH.append(
            Pool().get('web.user').hash_password(secrets.token_hex()))
    return _DUMMY_HASH[0]


class UserSession(metaclass=PoolMeta):
    __name__ = 'web.user.session'

    csrf_token = fields.Char("CSRF Token", strip=False)
    subscription = fields.Many2One('water.subscription', "Subscription",
        ondelete='SET NULL',
        help="The subscription the portal user last chose.")

    @classmethod
    def preprocess_values(cls, mode, values):
        values = super().preprocess_values(mode, values)
        if mode == 'create':
            values.setdefault('csrf_token', secrets.token_urlsafe(32))
        return values

    @classmethod
    def portal_get(cls, key):
        """The portal session of key, renewed, or None when there is none
        or it ended: idle too long, older than its lifetime or its user
        deactivated. Ended sessions are deleted, so the transaction must
        be writable."""
        if not key:
            return
        sessions = cls.search([('key', '=', key)], limit=1)
        if not sessions:
            return
        session, = sessions
        now = dt.datetime.now()
        # last_modified_at and expired from the dates the search has read:
        # the function field would cost a query of its own
        idle = now - (session.write_date or session.create_date)
        if (idle > idle_timeout()
                or now - session.create_date > session_lifetime()
                or abs(idle) > cls.timeout()
                or not session.user.active):
            cls.delete([session])
            return
        # Renewing at most once a minute spares a write per page.
        if idle > dt.timedelta(minutes=1):
            cls.write([session], {})
        return session

    @classmethod
    def purge_portal(cls):
        "Delete the sessions idle for longer than the portal allows"
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.delete(
                where=Coalesce(table.write_date, table.create_date)
                < CurrentTimestamp() - idle_timeout()))


class PortalCode(ModelSQL):
    "Portal One-Time Code"
    __name__ = 'water.portal.code'

    user = fields.Many2One('web.user', "User", required=True,
        ondelete='CASCADE')
    purpose = fields.Selection([
            ('password', "Set Password"),
            ('mobile', "Change Mobile"),
            ], "Purpose", required=True)
    mobile = fields.Char("Mobile", required=True,
        help="The number the code was sent to.")
    key = fields.Char("Key", required=True, strip=False,
        help="Names the code in the portal's forms.")
    code_hash = fields.Char("Code Hash", required=True, strip=False)
    expire = fields.Timestamp("Expire", required=True)
    attempts = fields.Integer("Attempts", required=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__rpc__ = {}

    @classmethod
    def default_attempts(cls):
        return 0

    @classmethod
    def issue(cls, user, purpose, mobile, template, **values):
        """Send a new code to mobile by SMS and return its key

        Raise RateLimitException when the user asked for too many codes of
        this purpose.
        A new code voids the previous ones of the same purpose."""
        pool = Pool()
        User = pool.get('web.user')
        Sms = pool.get('water.sms')
        now = dt.datetime.now()
        recent = cls.search([
                ('user', '=', user.id),
                ('purpose', '=', purpose),
                ('create_date', '>=', now - dt.timedelta(hours=1)),
                ], order=[('create_date', 'DESC'), ('id', 'DESC')])
        if (len(recent) >= codes_per_hour()
                or (recent and now - recent[0].create_date
                    < code_interval())):
            raise RateLimitException()
        # Used and voided codes are kept, without a valid hash, until the
        # hour passes so that they still count.
        cls.write(cls.search([
                    ('user', '=', user.id),
                    ('purpose', '=', purpose),
                    ('attempts', '<', code_attempts()),
                    ]), {'attempts': code_attempts()})
        cls.delete(cls.search([
                    ('create_date', '<', now - dt.timedelta(hours=1)),
                    ]))
        code = f'{secrets.randbelow(10 ** 6):06d}'
        record = cls(user=user, purpose=purpose, mobile=mobile,
            key=secrets.token_urlsafe(24),
            code_hash=User.hash_password(code),
            expire=now + code_timeout(), attempts=0)
        record.save()
        with without_check_access():
            Sms.send([{
                        'mobile': mobile,
                        'body': sms_body(template, code=code,
                            minutes=code_timeout().seconds // 60, **values),
                        'party': user.party,
                        'origin': None,
                        }])
        return record.key

    @classmethod
    def pending(cls, key, purpose, user=None):
        """The code record of key that can still be entered, or None"""
        if not key or not isinstance(key, str):
            return
        domain = [
            ('key', '=', key),
            ('purpose', '=', purpose),
            ('attempts', '<', code_attempts()),
            ('expire', '>=', dt.datetime.now()),
            ]
        if user:
            domain.append(('user', '=', user.id))
        records = cls.search(domain, limit=1)
        if records and records[0].user.active:
            return records[0]

    @classmethod
    def verify(cls, key, purpose, code, user=None):
        """The pending code record of key when code matches, else None

        A matched code is spent. Each wrong entry counts and the code is
        void after too many. The caller must commit."""
        User = Pool().get('web.user')
        record = cls.pending(key, purpose, user=user)
        if not record:
            return
        valid, _ = User.check_password(
            clean_identifier(code), record.code_hash)
        record.attempts = code_attempts() if valid else record.attempts + 1
        record.save()
        if valid:
            return record


class Company(metaclass=PoolMeta):
    __name__ = 'company.company'

    @classmethod
    def on_modification(cls, mode, companies, field_names=None):
        super().on_modification(mode, companies, field_names=field_names)
        company_cache.clear()


class Party(metaclass=PoolMeta):
    __name__ = 'party.party'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._buttons.update({
                'give_portal_access': {
                    'invisible': Eval('id', -1) < 0,
                    'depends': ['id'],
                    },
                })

    @classmethod
    def on_modification(cls, mode, parties, field_names=None):
        super().on_modification(mode, parties, field_names=field_names)
        # the company's name is its party's
        if mode != 'create' and (
                field_names is None or {'name', 'code'} & set(field_names)):
            company_cache.clear()

    @classmethod
    @ModelView.button
    def give_portal_access(cls, parties):
        """Create the portal login of each party, or enable it again, and
        tell him by SMS how to log in"""
        pool = Pool()
        User = pool.get('web.user')
        Sms = pool.get('water.sms')
        for party in parties:
            if not party.mobile:
                raise PortalAccessError(gettext(
                        'water_crm.msg_portal_access_no_mobile',
                        party=party.rec_name))
        with without_check_access():
            users = User.search([
                    ('party', 'in', [p.id for p in parties]),
                    ('active', 'in', [True, False]),
                    ], order=[('active', 'DESC'), ('id', 'ASC')])
            user_of = {}
            for user in users:
                user_of.setdefault(user.party, user)
            User.write([u for u in user_of.values() if not u.active], {
                    'active': True,
                    })
            User.save([User(party=p) for p in parties if p not in user_of])
            messages = []
            for party in parties:
                numbers = [s.number for s in party.subscriptions]
                messages.append({
                        'mobile': party.mobile,
                        'body': sms_body('sms_portal_access.txt',
                            party=party, numbers=numbers),
                        'party': party,
                        'origin': None,
                        })
            Sms.send(messages)
