# This file is part of the water utility modules.
"""The logged-in subscriber of a portal request: the session cookie, the
CSRF token of every form and the decorators of the portal's routes.

Routes run as root without access rules: a route that takes an id must
look it up through the session's user (web.user.portal_subscription)."""
import functools
import secrets
from http import HTTPStatus
from urllib.parse import quote, urlsplit

from werkzeug.routing import IntegerConverter
from werkzeug.utils import redirect

import trytond.config as config
from trytond.pool import Pool
from trytond.wsgi import app

from .portal import PREFIX, company_name, render


class RecordIdConverter(IntegerConverter):
    """A record id in a portal address: 1 to 9 digits. A longer number
    matches no page and gets the Persian 404, where it would overflow the
    database's integer ids (werkzeug answers a failed conversion with its
    own English 404)."""
    regex = r'[1-9][0-9]{0,8}'


app.url_map.converters['record_id'] = RecordIdConverter
ID = 'record_id'

COOKIE = 'water_portal'
CSRF_COOKIE = 'water_portal_csrf'
CSRF_FIELD = 'csrf_token'


def set_cookie(response, name, value, samesite='Lax'):
    response.set_cookie(name, value, path=PREFIX, secure=True,
        httponly=True, samesite=samesite)


def delete_cookie(response, name):
    response.delete_cookie(name, path=PREFIX, secure=True, httponly=True,
        samesite='Lax')


def no_store(response):
    "Keep pages of a subscriber out of shared and back-button caches"
    response.headers['Cache-Control'] = 'no-store'
    return response


def page(pool, template, session=None, status=HTTPStatus.OK, **values):
    "Render a portal page with what every page shows"
    values.setdefault('company_name', company_name(pool))
    values.setdefault('errors', {})
    values.setdefault('password_length',
        config.getint('password', 'length', default=0))
    if session:
        values.setdefault('csrf_token', session.csrf_token)
        values['session'] = session
        values['party'] = session.user.party
    return render(template, status=status, **values)


def error_page(pool, status, session=None, **values):
    return page(pool, 'error.html', session=session, status=status,
        code=int(status), **values)


def csrf_valid(expected, given):
    return bool(expected and given and isinstance(given, str)
        and secrets.compare_digest(expected.encode(), given.encode()))


def safe_next(value):
    "A portal path to go back to after login, never another site"
    if not value or not isinstance(value, str):
        return None
    parts = urlsplit(value)
    if (parts.scheme or parts.netloc or not parts.path.startswith(PREFIX + '/')
            or '\\' in value or value.startswith('//')):
        return None
    return value


def login_redirect(request, expired=False):
    target = PREFIX + '/login'
    query = []
    if request.method == 'GET':
        query.append('next=' + quote(request.full_path.rstrip('?'), safe='/'))
    if expired:
        query.append('expired=1')
    if query:
        target += '?' + '&'.join(query)
    response = redirect(target, code=HTTPStatus.SEE_OTHER)
    delete_cookie(response, COOKIE)
    return no_store(response)


def current_session(request):
    "The valid portal session of the request or None"
    Session = Pool().get('web.user.session')
    return Session.portal_get(request.cookies.get(COOKIE))


def subscriber(func):
    """Call func(request, pool, session, ...) for a logged-in subscriber;
    send others to the login page. A POST must carry the session's CSRF
    token. Needs a writable transaction: sessions are renewed or ended."""
    @functools.wraps(func)
    def wrapper(request, pool, *args, **kwargs):
        session = current_session(request)
        if not session:
            return login_redirect(
                request, expired=COOKIE in request.cookies)
        if request.method == 'POST' and not csrf_valid(
                session.csrf_token, request.form.get(CSRF_FIELD)):
            return no_store(error_page(
                    pool, HTTPStatus.FORBIDDEN, session=session,
                    reason='csrf'))
        return no_store(func(request, pool, session, *args, **kwargs))
    return wrapper


def visitor(func):
    """Call func(request, pool, session, ...) with the portal session of
    the request or None, for pages that anyone may see"""
    @functools.wraps(func)
    def wrapper(request, pool, *args, **kwargs):
        session = current_session(request)
        response = func(request, pool, session, *args, **kwargs)
        if session:
            no_store(response)
        elif COOKIE in request.cookies:
            delete_cookie(response, COOKIE)
        return response
    return wrapper


def anonymous_form(func):
    """Call func(request, pool, csrf_token, ...) for the forms used before
    login; their token lives in a cookie of its own and a POST must carry
    it back"""
    @functools.wraps(func)
    def wrapper(request, pool, *args, **kwargs):
        token = request.cookies.get(CSRF_COOKIE)
        if request.method == 'POST' and not csrf_valid(
                token, request.form.get(CSRF_FIELD)):
            return no_store(
                error_page(pool, HTTPStatus.FORBIDDEN, reason='csrf'))
        new = not token or len(token) < 32
        if new:
            token = secrets.token_urlsafe(32)
        response = func(request, pool, token, *args, **kwargs)
        if new:
            set_cookie(response, CSRF_COOKIE, token, samesite='Strict')
        return no_store(response)
    return wrapper
