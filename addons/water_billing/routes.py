# This file is part of the water utility modules.
"""The billing pages of the customer portal: the dashboard's reading
cards, water-sales history and consumption chart (templates included by
water_crm's dashboard), the latest bill, all bills, a bill by id with its
printed PDF, and the self-declared reading.

Routes run as root: every bill and subscription is looked up through the
logged-in user (web.user.portal_subscription), another subscriber's id
gives 404 and no data."""
import functools
import os
from http import HTTPStatus

from werkzeug.utils import redirect

import trytond.config as config
from trytond.pool import Pool, PoolMeta
from trytond.protocols.wrappers import Response, with_transaction
from trytond.transaction import Transaction
from trytond.wsgi import app

from trytond.modules.water_crm import validators
from trytond.modules.water_crm.portal import (
    CONTEXT, PREFIX, add_template_dir, company, portal)
from trytond.modules.water_crm.portal_session import (
    ID, error_page, page, subscriber)

from .reading import ReadingError

TEMPLATES = os.path.join(os.path.dirname(__file__), 'templates')
add_template_dir(TEMPLATES)

# The photo of a self-declared reading: its default size limit and the
# magic bytes of the image types accepted
UPLOAD_SIZE = 5 * 1024 * 1024
IMAGE_TYPES = [
    (b'\xff\xd8\xff', 'image/jpeg'),
    (b'\x89PNG\r\n\x1a\n', 'image/png'),
    ]
# What the other fields of the form may add to the photo
FORM_OVERHEAD = 64 * 1024
# Bills of the consumption chart
CHART_BILLS = 12
# Self-declared readings listed under the form
READING_HISTORY = 10


def upload_size():
    "The largest photo accepted, in bytes: [water] portal_upload_size"
    return config.getint('water', 'portal_upload_size', default=UPLOAD_SIZE)


def image_type(data):
    "The MIME type of a JPEG or PNG by its first bytes, else None"
    for magic, mimetype in IMAGE_TYPES:
        if data.startswith(magic):
            return mimetype
    return None


class Subscription(metaclass=PoolMeta):
    __name__ = 'water.subscription'

    def portal_bills(self, limit=None):
        "The posted bills of the subscription, the latest first"
        Bill = Pool().get('water.bill')
        return Bill.search([
                ('subscription', '=', self.id),
                ('state', '=', 'posted'),
                ], order=[('period_end', 'DESC'), ('id', 'DESC')],
            limit=limit)

    def portal_last_reading(self):
        "The latest accepted reading of the subscription"
        Reading = Pool().get('water.reading')
        readings = Reading.search([
                ('subscription', '=', self.id),
                ('state', '=', 'accepted'),
                ], order=[('date', 'DESC'), ('id', 'DESC')], limit=1)
        return readings[0] if readings else None

    def portal_dashboard(self):
        values = super().portal_dashboard()
        values['bills'] = self.portal_bills()
        values['last_reading'] = self.portal_last_reading()
        return values

    def portal_chart(self, bills=None):
        """The bars of the consumption chart of the last bills, oldest
        first: dicts of label (Jalali month), value, height (0-100)"""
        from trytond.modules.water_crm import jalali
        if bills is None:
            bills = self.portal_bills()
        bills = list(reversed(bills[:CHART_BILLS]))
        highest = max([b.average_monthly or 0 for b in bills] + [1])
        return [{
                'bill': b,
                'label': jalali.format_date(
                    b.period_end, persian_digits=True)[:7],
                'value': b.average_monthly or 0,
                'height': float(b.average_monthly or 0) / float(highest)
                * 100,
                } for b in bills]


def upload_limit(func):
    """Refuse with 413 a request larger than the photo limit and the form,
    before its form is read"""
    @functools.wraps(func)
    def wrapper(request, *args, **kwargs):
        request.max_content_length = upload_size() + FORM_OVERHEAD
        return func(request, *args, **kwargs)
    return wrapper


def installed(func):
    """Answer 404 where the database served has no water_billing: the
    routes of the server are those of every module it knows"""
    @functools.wraps(func)
    def wrapper(request, pool, session, *args, **kwargs):
        try:
            pool.get('water.bill')
        except KeyError:
            return error_page(pool, HTTPStatus.NOT_FOUND, session=session)
        return func(request, pool, session, *args, **kwargs)
    return wrapper


def _see_other(location):
    return redirect(location, code=HTTPStatus.SEE_OTHER)


def _today(pool):
    "Today in the company's time zone"
    Date = pool.get('ir.date')
    portal_company = company(pool)
    with Transaction().set_context(
            company=portal_company.id if portal_company else None):
        return Date.today()


def _own_bill(pool, session, bill_id):
    """The posted bill of that id and its subscription when the user may
    see it, else (None, None)"""
    Bill = pool.get('water.bill')
    bills = Bill.search([
            ('id', '=', bill_id),
            ('state', '=', 'posted'),
            ], limit=1)
    if not bills:
        return None, None
    bill, = bills
    subscription = session.user.portal_subscription(bill.subscription.id)
    if not subscription:
        return None, None
    return bill, subscription


def _subscription_page(pool, session, template, subscription, **values):
    # the parcel of the connection: the subscription's parcel field would
    # compute its zone, usage and meter too
    connection = subscription.connection
    return page(pool, template, session=session, subscription=subscription,
        parcel=connection.parcel if connection else None,
        connection=connection, **values)


def _bill_page(pool, session, bill, subscription, latest=False):
    is_latest = latest or bill == subscription.portal_bills(limit=1)[0]
    # the menu shows the user's party: its name is read once when the bill
    # is his (an older bill may name an earlier subscriber)
    party = session.user.party
    return _subscription_page(pool, session, 'bill.html', subscription,
        menu='bill' if latest else 'bills', bill=bill, latest=latest,
        is_latest=is_latest,
        bill_party=party if bill.party == party else bill.party)


@app.route(PREFIX + f'/subscriptions/<{ID}:subscription_id>/bills',
    methods={'GET'})
@portal
@with_transaction(readonly=False, context=CONTEXT)
@subscriber
@installed
def bills(request, pool, session, subscription_id):
    "All the bills of a subscription with their paid or unpaid state"
    subscription = session.user.portal_subscription(subscription_id)
    if not subscription:
        return error_page(pool, HTTPStatus.NOT_FOUND, session=session)
    return _subscription_page(pool, session, 'bills.html', subscription,
        menu='bills', bills=subscription.portal_bills())


@app.route(PREFIX + f'/subscriptions/<{ID}:subscription_id>/bills/latest',
    methods={'GET'})
@portal
@with_transaction(readonly=False, context=CONTEXT)
@subscriber
@installed
def latest_bill(request, pool, session, subscription_id):
    "The latest bill of a subscription, to pay and print"
    subscription = session.user.portal_subscription(subscription_id)
    if not subscription:
        return error_page(pool, HTTPStatus.NOT_FOUND, session=session)
    bills = subscription.portal_bills()
    if not bills:
        return _subscription_page(pool, session, 'bill.html', subscription,
            menu='bill', bill=None, latest=True)
    return _bill_page(pool, session, bills[0], subscription, latest=True)


@app.route(PREFIX + f'/bills/<{ID}:bill_id>', methods={'GET'})
@portal
@with_transaction(readonly=False, context=CONTEXT)
@subscriber
@installed
def bill(request, pool, session, bill_id):
    "One bill of the user's subscriptions"
    bill, subscription = _own_bill(pool, session, bill_id)
    if not bill:
        return error_page(pool, HTTPStatus.NOT_FOUND, session=session)
    return _bill_page(pool, session, bill, subscription)


@app.route(PREFIX + f'/bills/<{ID}:bill_id>/print', methods={'GET'})
@portal
@with_transaction(readonly=False, context=CONTEXT)
@subscriber
@installed
def bill_print(request, pool, session, bill_id):
    "The PDF of one bill of the user's, as the back office prints it"
    BillReport = pool.get('water.bill', type='report')
    bill, subscription = _own_bill(pool, session, bill_id)
    if not bill:
        return error_page(pool, HTTPStatus.NOT_FOUND, session=session)
    content = BillReport.render_pdf([bill])
    name = f'bill-{subscription.number}-{bill.period_end:%Y%m%d}.pdf'
    response = Response(content, HTTPStatus.OK, mimetype='application/pdf')
    response.headers['Content-Disposition'] = f'inline; filename="{name}"'
    response.headers['X-Content-Type-Options'] = 'nosniff'
    return response


READING_STATES = {
    'draft': 'در انتظار بررسی',
    'flagged': 'در انتظار بررسی کارشناس',
    'control': 'در انتظار بازخوانی مامور قرائت',
    'accepted': 'پذیرفته شد',
    'rejected': 'پذیرفته نشد',
    }


def _readings(pool, subscription):
    Reading = pool.get('water.reading')
    return Reading.search([
            ('subscription', '=', subscription.id),
            ('kind', '=', 'self'),
            ], order=[('date', 'DESC'), ('id', 'DESC')],
        limit=READING_HISTORY)


def _reading_page(pool, session, subscription, status=HTTPStatus.OK,
        **values):
    values.setdefault('errors', {})
    return _subscription_page(pool, session, 'reading.html', subscription,
        status=status, menu='reading',
        readings=_readings(pool, subscription),
        last_reading=subscription.portal_last_reading(),
        max_megabytes=upload_size() / (1024 * 1024),
        STATES=READING_STATES, **values)


def _check_value(pool, reading, typed):
    """The error code of a typed meter value for reading, else None;
    sets reading.value"""
    Reading = pool.get('water.reading')
    value = validators.normalize_digits(typed).strip().replace(',', '')
    if not value:
        return 'required'
    if not (value.isascii() and value.isdigit()) or len(value) > 9:
        return 'value_format'
    reading.value = int(value)
    meter = reading.meter
    if meter.digits and reading.value >= 10 ** meter.digits:
        return 'value_digits'
    anchor = Reading._anchor(reading)
    if anchor is None:
        return 'no_previous'
    previous_date, previous_meter, previous_value = anchor
    if previous_date >= reading.date:
        return 'read_today'
    if previous_meter == meter and reading.value < previous_value:
        # a rollover of the register is left to confirm() and the staff
        size = 10 ** meter.digits if meter.digits else None
        if not (size and previous_value * 10 >= size * 9
                and reading.value * 10 < size):
            return 'below_previous'
    return None


@app.route(PREFIX + f'/subscriptions/<{ID}:subscription_id>/reading',
    methods={'GET', 'POST'})
@upload_limit
@portal
@with_transaction(readonly=False, context=CONTEXT)
@subscriber
@installed
def self_reading(request, pool, session, subscription_id):
    """Declare the meter value with a photo of the meter; the reading goes
    through the checks of every reading and the outcomes are listed"""
    Reading = pool.get('water.reading')
    subscription = session.user.portal_subscription(subscription_id)
    if not subscription:
        return error_page(pool, HTTPStatus.NOT_FOUND, session=session)
    if request.method == 'GET':
        done = request.args.get('done')
        return _reading_page(pool, session, subscription,
            done=done if done in {'accepted', 'flagged'} else None)

    typed = request.form.get('value', '')
    typed = typed[:32] if isinstance(typed, str) else ''
    errors = {}
    values = {'value': typed}
    meter = subscription.meter
    if not meter or subscription.state != 'active':
        return _reading_page(pool, session, subscription,
            HTTPStatus.BAD_REQUEST, error='no_meter', **values)
    today = _today(pool)
    if Reading.search([
                ('subscription', '=', subscription.id),
                ('date', '=', today),
                ('state', '!=', 'rejected'),
                ], limit=1):
        return _reading_page(pool, session, subscription,
            HTTPStatus.BAD_REQUEST, error='already', **values)
    reading = Reading(subscription=subscription, meter=meter, date=today,
        kind='self', company=subscription.company)
    problem = _check_value(pool, reading, typed)
    if problem:
        errors['value'] = problem
        if problem == 'below_previous':
            values['previous'] = Reading._anchor(reading)[2]
    photo = request.files.get('photo')
    data = b''
    if photo:
        data = photo.read(upload_size() + 1)
        photo.close()
    if not data:
        errors['photo'] = 'required'
    elif len(data) > upload_size():
        errors['photo'] = 'photo_size'
    elif not image_type(data):
        errors['photo'] = 'photo_type'
    if errors:
        return _reading_page(pool, session, subscription,
            HTTPStatus.BAD_REQUEST, errors=errors, **values)
    reading.photo = data
    reading.save()
    try:
        Reading.confirm([reading])
    except ReadingError:
        Reading.delete([reading])
        return _reading_page(pool, session, subscription,
            HTTPStatus.BAD_REQUEST, errors={'value': 'refused'}, **values)
    return _see_other(f'{PREFIX}/subscriptions/{subscription.id}/reading'
        f'?done={reading.state}')
