# This file is part of the water utility modules.
"""The customer portal's pages: home, login, first access and forgotten
password, dashboard, profile. Routes run as root: every record comes from
the logged-in user's party (web.user.portal_subscription...)."""
import io
import os
import secrets
from http import HTTPStatus

from werkzeug.exceptions import NotFound
from werkzeug.utils import redirect, send_file, send_from_directory

import trytond.config as config
from trytond.exceptions import RateLimitException
from trytond.protocols.wrappers import with_transaction
from trytond.transaction import Transaction
from trytond.wsgi import app

from . import validators
from .announcement import document_type
from .portal import CONTEXT, PREFIX, company, error, portal
from .portal_session import (
    COOKIE, ID, anonymous_form, delete_cookie, error_page, page, safe_next,
    set_cookie, subscriber, visitor)
from .portal_user import clean_identifier, code_timeout, sms_body

STATIC = os.path.join(os.path.dirname(__file__), 'static')


@app.route(PREFIX, methods={'GET'})
def portal_root(request):
    return redirect(PREFIX + '/', code=301)


@app.route(PREFIX + '/', methods={'GET'})
@portal
@with_transaction(readonly=False, context=CONTEXT)
@visitor
def home(request, pool, session):
    """Published announcements and documents, with those of the zones of a
    logged-in subscriber"""
    Announcement = pool.get('water.announcement')
    announcements = Announcement.search(
        _announcement_domain(pool, session))
    return page(pool, 'home.html', session=session, menu='home',
        notices=[a for a in announcements if a.kind in NOTICE_KINDS],
        documents=[a for a in announcements if a.kind not in NOTICE_KINDS])


@app.route(PREFIX + '/static/water/<path:filename>', methods={'GET'})
def static(request, filename):
    try:
        return send_from_directory(
            STATIC, filename, request.environ, max_age=43200)
    except NotFound:
        return error(HTTPStatus.NOT_FOUND)


NOTICE_KINDS = {'notice', 'schedule'}
SUBSCRIPTION_STATES = {
    'active': 'فعال',
    'suspended': 'معلق',
    'terminated': 'پایان‌یافته',
    }


def _see_other(location):
    return redirect(location, code=HTTPStatus.SEE_OTHER)


def _today(pool):
    "Today in the company's time zone"
    Date = pool.get('ir.date')
    portal_company = company(pool)
    with Transaction().set_context(
            company=portal_company.id if portal_company else None):
        return Date.today()


def _announcement_domain(pool, session):
    Announcement = pool.get('water.announcement')
    zones = set()
    if session:
        zones = {s.zone for s in session.user.portal_subscriptions()
            if s.zone}
    return Announcement.portal_domain(company(pool), _today(pool), zones)


def _form(request, name, size=256):
    "A text field of the posted form, cut to size"
    value = request.form.get(name, '')
    return value[:size] if isinstance(value, str) else ''


def _password_length():
    return config.getint('password', 'length', default=0)


@app.route(PREFIX + f'/announcements/<{ID}:announcement_id>/document',
    methods={'GET'})
@portal
@with_transaction(readonly=False, context=CONTEXT)
@visitor
def announcement_document(request, pool, session, announcement_id):
    "The document of an announcement the visitor may see"
    Announcement = pool.get('water.announcement')
    announcements = Announcement.search([
            ('id', '=', announcement_id),
            ] + _announcement_domain(pool, session), limit=1)
    if not announcements:
        return error_page(pool, HTTPStatus.NOT_FOUND, session=session)
    announcement, = announcements
    data = announcement.document
    mimetype = data and document_type(data, announcement.document_name)
    if not mimetype:
        return error_page(pool, HTTPStatus.NOT_FOUND, session=session)
    response = send_file(io.BytesIO(data), request.environ,
        mimetype=mimetype, as_attachment=True,
        download_name=announcement.document_name, max_age=0)
    response.headers['X-Content-Type-Options'] = 'nosniff'
    response.headers['Content-Security-Policy'] = "default-src 'none'"
    if not announcement.zones:
        response.headers['Cache-Control'] = 'public, max-age=300'
    return response


@app.route(PREFIX + '/login', methods={'GET', 'POST'})
@portal
@with_transaction(readonly=False, context=CONTEXT)
@anonymous_form
def login(request, pool, csrf_token):
    """Log in with a subscription or mobile number and the password;
    failures are counted per user and too many give 429"""
    User = pool.get('web.user')
    Session = pool.get('web.user.session')
    values = {
        'csrf_token': csrf_token,
        'next': safe_next(request.values.get('next')),
        }
    if request.method == 'GET':
        if Session.portal_get(request.cookies.get(COOKIE)):
            return _see_other(values['next'] or PREFIX + '/dashboard')
        if request.args.get('expired'):
            values['notice'] = 'expired'
        elif request.args.get('out'):
            values['notice'] = 'logged_out'
        return page(pool, 'login.html', **values)

    identifier = _form(request, 'identifier', 64)
    password = _form(request, 'password', 1024)
    values['identifier'] = identifier
    errors = values['errors'] = {}
    if not identifier.strip():
        errors['identifier'] = 'required'
    if not password:
        errors['password'] = 'required'
    if errors:
        return page(pool, 'login.html', status=HTTPStatus.BAD_REQUEST,
            **values)
    try:
        user = User.portal_authenticate(identifier, password)
    except RateLimitException:
        return page(pool, 'login.html',
            status=HTTPStatus.TOO_MANY_REQUESTS, error='rate_limited',
            **values)
    if not user:
        # Returned, not raised, so that the failure is committed.
        return page(pool, 'login.html', status=HTTPStatus.FORBIDDEN,
            error='login_failed', **values)
    return _log_in(request, pool, user, values['next'])


def _log_in(request, pool, user, next_=None):
    "Start a new session of user and go to next_ or the dashboard"
    Session = pool.get('web.user.session')
    old = request.cookies.get(COOKIE)
    if old:
        Session.remove(old)
    Session.purge_portal()
    response = _see_other(next_ or PREFIX + '/dashboard')
    set_cookie(response, COOKIE, user.new_session())
    return response


@app.route(PREFIX + '/logout', methods={'POST'})
@portal
@with_transaction(readonly=False, context=CONTEXT)
@subscriber
def logout(request, pool, session):
    "End the session on the server"
    Session = pool.get('web.user.session')
    Session.delete([session])
    response = _see_other(PREFIX + '/login?out=1')
    delete_cookie(response, COOKIE)
    return response


@app.route(PREFIX + '/password', methods={'GET', 'POST'})
@portal
@with_transaction(readonly=False, context=CONTEXT)
@anonymous_form
def password_request(request, pool, csrf_token):
    """First access and forgotten password: send a code to the mobile of
    the subscriber. The answer is the same whether the number has a login
    or not."""
    User = pool.get('web.user')
    Attempt = pool.get('web.user.authenticate.attempt')
    Code = pool.get('water.portal.code')
    values = {'csrf_token': csrf_token}
    if request.method == 'GET':
        return page(pool, 'password_request.html', **values)

    identifier = values['identifier'] = _form(request, 'identifier', 64)
    if not identifier.strip():
        return page(pool, 'password_request.html',
            status=HTTPStatus.BAD_REQUEST,
            errors={'identifier': 'required'}, **values)
    if Attempt.count_ip() > config.getint(
            'session', 'max_attempt_ip_network', default=300):
        return page(pool, 'password_request.html',
            status=HTTPStatus.TOO_MANY_REQUESTS, error='rate_limited',
            **values)
    # Each code asked counts against the network like a failed login, so
    # that nobody sends SMS without end.
    Attempt.add('water.portal.code')
    user = User.portal_find(identifier)
    mobile = user.party.mobile if user and user.party else None
    if mobile:
        try:
            key = Code.issue(user, 'password', mobile, 'sms_code.txt')
        except RateLimitException:
            return page(pool, 'password_request.html',
                status=HTTPStatus.TOO_MANY_REQUESTS, error='codes_limited',
                **values)
    else:
        key = secrets.token_urlsafe(24)
    return page(pool, 'password_code.html', key=key,
        minutes=code_timeout().seconds // 60,
        password_length=_password_length(), **values)


@app.route(PREFIX + '/password/set', methods={'POST'})
@portal
@with_transaction(readonly=False, context=CONTEXT)
@anonymous_form
def password_set(request, pool, csrf_token):
    "Check the code sent by SMS, set the password and log in"
    user, refusal = _password_by_code(request, pool, csrf_token,
        'password_code.html', identifier=_form(request, 'identifier', 64))
    if refusal:
        return refusal
    return _log_in(request, pool, user)


def _password_by_code(request, pool, csrf_token, template, **values):
    """Check the one-time code and the new password of the form and set
    it: (the code's user, None), or (None, template with the errors and
    what was typed)"""
    User = pool.get('web.user')
    Code = pool.get('water.portal.code')
    key = _form(request, 'key', 64)
    code = clean_identifier(_form(request, 'code', 12))
    password = _form(request, 'password', 2048)
    values.update({
        'csrf_token': csrf_token,
        'key': key,
        'code': _form(request, 'code', 12),
        'minutes': code_timeout().seconds // 60,
        'password_length': _password_length(),
        })
    errors = values['errors'] = {}
    if not (len(code) == 6 and code.isascii() and code.isdigit()):
        errors['code'] = 'code_format'
    if not password:
        errors['password'] = 'required'
    elif password != _form(request, 'confirm', 2048):
        errors['confirm'] = 'password_mismatch'
    record = None if errors else Code.pending(key, 'password')
    if not errors and not record:
        errors['code'] = 'code_wrong'
    if not errors:
        problem = User.portal_password_problem(record.user, password)
        if problem:
            errors['password'] = problem
    if not errors:
        record = Code.verify(key, 'password', code)
        if not record:
            errors['code'] = 'code_wrong'
    if errors:
        return None, page(pool, template, status=HTTPStatus.BAD_REQUEST,
            **values)
    User.portal_set_password([record.user], password)
    return record.user, None


@app.route(PREFIX + '/dashboard', methods={'GET'})
@portal
@with_transaction(readonly=False, context=CONTEXT)
@subscriber
def dashboard_default(request, pool, session):
    "The dashboard of the subscription chosen last, else of the first one"
    user = session.user
    subscription = None
    if session.subscription:
        subscription = user.portal_subscription(session.subscription.id)
    if not subscription:
        subscriptions = user.portal_subscriptions()
        subscription = subscriptions[0] if subscriptions else None
    if not subscription:
        return page(pool, 'dashboard.html', session=session,
            menu='dashboard', subscription=None, subscriptions=[])
    return _see_other(f'{PREFIX}/subscriptions/{subscription.id}')


@app.route(PREFIX + f'/subscriptions/<{ID}:subscription_id>',
    methods={'GET'})
@portal
@with_transaction(readonly=False, context=CONTEXT)
@subscriber
def dashboard(request, pool, session, subscription_id):
    "The dashboard of one subscription of the user"
    Session = pool.get('web.user.session')
    # the subscriptions of the switch hold the one shown, if it is his
    subscriptions = session.user.portal_subscriptions()
    subscription = next(
        (s for s in subscriptions if s.id == subscription_id), None)
    if not subscription:
        return error_page(pool, HTTPStatus.NOT_FOUND, session=session)
    if session.subscription != subscription:
        Session.write([session], {'subscription': subscription.id})
    connection = subscription.connection
    return page(pool, 'dashboard.html', session=session, menu='dashboard',
        subscription=subscription,
        subscriptions=subscriptions,
        parcel=connection.parcel if connection else None,
        connection=connection,
        STATES=SUBSCRIPTION_STATES,
        **subscription.portal_dashboard())


def _profile(pool, session, status=HTTPStatus.OK, **values):
    return page(pool, 'profile.html', session=session, status=status,
        menu='profile', subscriptions=session.user.portal_subscriptions(),
        password_length=_password_length(), **values)


@app.route(PREFIX + '/profile', methods={'GET'})
@portal
@with_transaction(readonly=False, context=CONTEXT)
@subscriber
def profile(request, pool, session):
    "The subscriber's details, change of password and of mobile"
    done = request.args.get('done')
    return _profile(pool, session,
        done=done if done in {'password', 'mobile'} else None)


@app.route(PREFIX + '/profile/password', methods={'POST'})
@portal
@with_transaction(readonly=False, context=CONTEXT)
@subscriber
def profile_password(request, pool, session):
    "Change the password; the current one is required"
    User = pool.get('web.user')
    user = session.user
    password = _form(request, 'password', 2048)
    errors = {}
    try:
        if not user.portal_check_password(_form(request, 'current', 1024)):
            errors['current'] = 'password_wrong'
    except RateLimitException:
        return _profile(pool, session, HTTPStatus.TOO_MANY_REQUESTS,
            form='password', error='rate_limited', errors={})
    if not password:
        errors['password'] = 'required'
    elif password != _form(request, 'confirm', 2048):
        errors['confirm'] = 'password_mismatch'
    else:
        problem = User.portal_password_problem(user, password)
        if problem:
            errors['password'] = problem
    if errors:
        return _profile(pool, session, HTTPStatus.BAD_REQUEST,
            form='password', errors=errors)
    User.portal_set_password([user], password, keep_session=session.key)
    return _see_other(PREFIX + '/profile?done=password')


def _mobile_taken(pool, party, mobile):
    "Whether another party has the mobile: logins by it would be ambiguous"
    Mechanism = pool.get('party.contact_mechanism')
    return bool(Mechanism.search([
                ('type', '=', 'mobile'),
                ('value', '=', mobile),
                ('party', '!=', party.id),
                ], limit=1))


@app.route(PREFIX + '/profile/mobile', methods={'POST'})
@portal
@with_transaction(readonly=False, context=CONTEXT)
@subscriber
def profile_mobile(request, pool, session):
    """Start changing the mobile: with the current password, send a code
    to the new number"""
    Code = pool.get('water.portal.code')
    user = session.user
    typed = _form(request, 'mobile', 32)
    errors = {}
    mobile = None
    try:
        mobile = validators.mobile(typed)
    except validators.InvalidValue:
        errors['mobile'] = 'mobile_invalid' if typed.strip() else 'required'
    if mobile and mobile == user.party.mobile:
        errors['mobile'] = 'mobile_same'
    elif mobile and _mobile_taken(pool, user.party, mobile):
        errors['mobile'] = 'mobile_taken'
    try:
        if not user.portal_check_password(_form(request, 'current', 1024)):
            errors['current'] = 'password_wrong'
    except RateLimitException:
        return _profile(pool, session, HTTPStatus.TOO_MANY_REQUESTS,
            form='mobile', error='rate_limited', errors={}, mobile=typed)
    if errors:
        return _profile(pool, session, HTTPStatus.BAD_REQUEST,
            form='mobile', errors=errors, mobile=typed)
    try:
        key = Code.issue(user, 'mobile', mobile, 'sms_code.txt')
    except RateLimitException:
        return _profile(pool, session, HTTPStatus.TOO_MANY_REQUESTS,
            form='mobile', error='codes_limited', errors={}, mobile=typed)
    return page(pool, 'mobile_code.html', session=session, menu='profile',
        key=key, mobile=mobile, minutes=code_timeout().seconds // 60)


@app.route(PREFIX + '/profile/mobile/confirm', methods={'POST'})
@portal
@with_transaction(readonly=False, context=CONTEXT)
@subscriber
def profile_mobile_confirm(request, pool, session):
    "Check the code sent to the new mobile and make it the party's mobile"
    Code = pool.get('water.portal.code')
    Mechanism = pool.get('party.contact_mechanism')
    Sms = pool.get('water.sms')
    user = session.user
    party = user.party
    key = _form(request, 'key', 64)
    code = clean_identifier(_form(request, 'code', 12))
    record = Code.pending(key, 'mobile', user=user)
    values = {
        'key': key,
        'code': _form(request, 'code', 12),
        'mobile': record.mobile if record else None,
        'minutes': code_timeout().seconds // 60,
        }
    if not (len(code) == 6 and code.isascii() and code.isdigit()):
        error = {'code': 'code_format'}
    elif not record or not Code.verify(key, 'mobile', code, user=user):
        error = {'code': 'code_wrong'}
    elif _mobile_taken(pool, party, record.mobile):
        error = {'code': 'mobile_taken'}
    else:
        error = None
    if error:
        if not record:
            values['mobile'] = validators.normalize_digits(
                _form(request, 'mobile', 32))
        return page(pool, 'mobile_code.html', session=session,
            status=HTTPStatus.BAD_REQUEST, menu='profile', errors=error,
            **values)
    old = party.mobile
    mechanisms = Mechanism.search([
            ('party', '=', party.id),
            ('type', '=', 'mobile'),
            ], limit=1)
    if mechanisms:
        Mechanism.write(mechanisms, {'value': record.mobile})
    else:
        Mechanism.create([{
                    'party': party.id,
                    'type': 'mobile',
                    'value': record.mobile,
                    }])
    if old and old != record.mobile:
        Sms.send([{
                    'mobile': old,
                    'body': sms_body('sms_mobile_changed.txt',
                        mobile=record.mobile),
                    'party': party,
                    'origin': None,
                    }])
    return _see_other(PREFIX + '/profile?done=mobile')


# The methods of the portal's forms and links; the others get a Persian
# 405 rather than the server's English one
OTHER_METHODS = {'PUT', 'PATCH', 'DELETE'}


@app.route(PREFIX + '/<path:path>', methods={'GET', 'POST'} | OTHER_METHODS)
@app.route(PREFIX + '/', methods=OTHER_METHODS, defaults={'path': ''})
@app.route(PREFIX, methods=OTHER_METHODS, defaults={'path': ''})
@portal
@with_transaction(context=CONTEXT)
def not_found(request, pool, path):
    "A Persian page for the portal addresses that lead nowhere"
    if request.method in OTHER_METHODS:
        return error_page(pool, HTTPStatus.METHOD_NOT_ALLOWED)
    return error_page(pool, HTTPStatus.NOT_FOUND)
