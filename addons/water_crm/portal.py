# This file is part of the water utility modules.
"""Shared machinery of the customer portal: the database it serves,
Jinja2 rendering in Persian, and the route decorator."""
import functools
import logging
import os
from http import HTTPStatus

from jinja2 import Environment, FileSystemLoader, select_autoescape
from werkzeug.exceptions import HTTPException, abort

from trytond import backend, config
from trytond.cache import Cache
from trytond.pool import Pool
from trytond.protocols.wrappers import Response, with_pool
from trytond.transaction import Transaction

from . import jalali

logger = logging.getLogger(__name__)
# The context of the portal's transactions: the portal speaks Persian.
CONTEXT = {'language': 'fa'}
TEMPLATE_DIRS = [os.path.join(os.path.dirname(__file__), 'templates')]
PREFIX = '/portal'

_environment = None


def environment():
    global _environment
    if _environment is None:
        env = Environment(
            loader=FileSystemLoader(TEMPLATE_DIRS),
            autoescape=select_autoescape(['html']),
            trim_blocks=True, lstrip_blocks=True)
        env.filters['jalali'] = lambda d: jalali.format_date(
            d, persian_digits=True)
        env.filters['fa'] = jalali.to_persian_digits
        env.filters['rial'] = lambda a: jalali.to_persian_digits(
            f'{int(a or 0):,}'.replace(',', '٬'))
        env.filters['number'] = format_number
        env.globals['prefix'] = PREFIX
        _environment = env
    return _environment


def format_number(value, digits=0):
    "A number in Persian digits and separators, e.g. ۴۷۸٫۵۰"
    if value is None:
        return ''
    text = f'{value:,.{digits}f}'
    return jalali.to_persian_digits(
        text.replace(',', '٬').replace('.', '٫'))


def add_template_dir(path):
    "Let a module that owns portal pages add its templates"
    global _environment
    if path not in TEMPLATE_DIRS:
        TEMPLATE_DIRS.insert(0, path)
        _environment = None


# Pages load nothing but the portal's own files; the forms post to the
# portal, except where a page names another target (a bank's payment page)
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'{form_action}")


def render(template, status=HTTPStatus.OK, form_action=(), **values):
    """The response of a page; form_action lists the other origins its
    forms may post to"""
    content = environment().get_template(template).render(**values)
    response = Response(
        content, status, content_type='text/html; charset=utf-8')
    response.headers['Content-Security-Policy'] = CSP.format(
        form_action=''.join(' ' + o for o in form_action))
    response.headers['X-Content-Type-Options'] = 'nosniff'
    response.headers['Referrer-Policy'] = 'same-origin'
    response.headers['X-Frame-Options'] = 'DENY'
    return response


def database_name():
    """The database the portal serves: [water] database, or the only
    database of the server"""
    name = config.get('water', 'database', default=None)
    if name:
        _start_pool(name)
        return name
    with Transaction().start(None, 0, readonly=True) as transaction:
        names = transaction.database.list()
    if len(names) == 1:
        return names[0]
    abort(HTTPStatus.NOT_FOUND)


def _start_pool(name):
    """Start the pool of the configured database when it is not running
    (first request, modules updated by another process). with_pool would
    look for it in the server's listing of databases, which is kept for
    [session] timeout and leaves out a database whose connection test
    failed once (say at the connection limit): the portal would answer 404
    all that time."""
    if name in Pool.database_list():
        return
    try:
        with Transaction().start(name, 0, readonly=True):
            Pool(name).init()
    except backend.DatabaseOperationalError:
        logger.error("Portal database %s cannot be opened", name,
            exc_info=True)
        abort(HTTPStatus.SERVICE_UNAVAILABLE)


def portal(func):
    """Call func(request, pool, ...) on the portal's database; the URL
    carries no database name. Errors give a Persian page that names
    nothing of the server."""
    pooled = with_pool(func)

    @functools.wraps(func)
    def wrapper(request, *args, **kwargs):
        try:
            return pooled(request, database_name(), *args, **kwargs)
        except HTTPException as exception:
            if exception.response is not None:
                return exception.response
            if exception.code >= 500:
                logger.error("Portal error on %s", request.path,
                    exc_info=exception)
            return error(exception.code)
    return wrapper


class ErrorPages:
    """WSGI middleware of the portal, set in [wsgi middleware]: what
    trytond refuses before any route (a post from a site that is not in
    [web] cors) gets the portal's Persian page on the portal's addresses
    instead of the server's bare 500"""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        try:
            return self.app(environ, start_response)
        except HTTPException as exception:
            if not environ.get('PATH_INFO', '').startswith(PREFIX + '/'):
                raise
            return error(exception.code)(environ, start_response)


def error(code):
    "The Persian error page of an HTTP status code"
    if code not in {400, 401, 403, 404, 405, 413, 429, 503}:
        code = 500
    return render('error.html', status=code, code=code)


# The id and name of the portal's company: every page shows the name, and
# reading the company and its party took a tenth of a page's time.
# Cleared when a company or the name of a party changes (portal_user).
company_cache = Cache('water_portal.company', context=False)


def _company(pool):
    "(id, name) of the company the portal speaks for, or (None, None)"
    values = company_cache.get('company')
    if values is None:
        Company = pool.get('company.company')
        companies = Company.search([], limit=1, order=[('id', 'ASC')])
        if companies:
            values = (companies[0].id, companies[0].rec_name)
        else:
            values = (None, None)
        company_cache.set('company', values)
    return values


def company(pool):
    "The company the portal speaks for"
    Company = pool.get('company.company')
    company_id, _ = _company(pool)
    return Company(company_id) if company_id is not None else None


def company_name(pool):
    "The name of the company the portal speaks for, or None"
    _, name = _company(pool)
    return name
