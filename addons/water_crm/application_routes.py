# This file is part of the water utility modules.
"""The portal's connection applications: the form, open to anyone or to a
logged-in subscriber applying for another parcel; the first access of a
new applicant by a code sent to his mobile; the list and the tracking page
with the upload of requested documents and the payment of the
connection-sale invoice.

Routes run as root: an application is looked up through the logged-in
user's party (water.application.portal_application)."""
import functools
import secrets
from http import HTTPStatus

import trytond.config as config
from trytond.exceptions import RateLimitException
from trytond.protocols.wrappers import with_transaction
from trytond.wsgi import app

from . import application_form
from .application_form import DOCUMENTS
from .portal import CONTEXT, PREFIX, company, portal
from .portal_session import (
    CSRF_COOKIE, CSRF_FIELD, ID, csrf_valid, current_session, error_page,
    no_store, page, set_cookie, subscriber)
from .portal_user import code_timeout
from .routes import (
    _form, _log_in, _password_by_code, _password_length, _see_other, _today)

# Room for the text fields and the multipart envelope of the form
FORM_OVERHEAD = 256 * 1024
PAY_RULE = PREFIX + f'/invoices/<{ID}:invoice_id>/pay'
# The context of the applicant's actions: the history says he did them
APPLICANT = {**CONTEXT, 'water_applicant': True}


def upload_size():
    "The largest document accepted: [water] application_upload_size"
    return config.getint('water', 'application_upload_size',
        default=application_form.DEFAULT_UPLOAD_SIZE)


def upload_limit(count):
    """Refuse with 413 a request larger than count documents and the
    form, before its form is read"""
    def decorator(func):
        @functools.wraps(func)
        def wrapper(request, *args, **kwargs):
            request.max_content_length = (
                count * upload_size() + FORM_OVERHEAD)
            return func(request, *args, **kwargs)
        return wrapper
    return decorator


def applicant_form(func):
    """Call func(request, pool, session, csrf_token, ...) for a form open
    to visitors and logged-in users: a POST carries the session's CSRF
    token, or the anonymous one of its cookie"""
    @functools.wraps(func)
    def wrapper(request, pool, *args, **kwargs):
        session = current_session(request)
        new = False
        if session:
            token = session.csrf_token
        else:
            token = request.cookies.get(CSRF_COOKIE)
            new = not token or len(token) < 32
        if request.method == 'POST' and (new or not csrf_valid(
                    token, request.form.get(CSRF_FIELD))):
            return no_store(error_page(pool, HTTPStatus.FORBIDDEN,
                    session=session, reason='csrf'))
        if new:
            token = secrets.token_urlsafe(32)
        response = func(request, pool, session, token, *args, **kwargs)
        if new:
            set_cookie(response, CSRF_COOKIE, token, samesite='Strict')
        return no_store(response)
    return wrapper


def _choices(pool):
    "The zones and usages an applicant may choose"
    Zone = pool.get('water.zone')
    Usage = pool.get('water.usage')
    portal_company = company(pool)
    zones = Zone.search([
            ('company', '=', portal_company.id if portal_company else -1),
            ], order=[('name', 'ASC')])
    usages = Usage.search([], order=[('name', 'ASC')])
    return zones, usages


def _form_page(pool, session, csrf_token, status=HTTPStatus.OK, **values):
    zones, usages = _choices(pool)
    values.setdefault('form', {})
    return page(pool, 'application_form.html', session=session,
        status=status, csrf_token=csrf_token, menu='applications',
        zones=zones, usages=usages, DOCUMENTS=DOCUMENTS,
        today=_today(pool), max_megabytes=upload_size() // (1024 * 1024),
        **values)


def _initial(session):
    "What the form shows first: the logged-in party's details"
    if not session or not session.user.party:
        return {'housing_units': 1}
    party = session.user.party
    first, _, last = (party.name or '').partition(' ')
    address = party.addresses[0] if party.addresses else None
    return {
        'first_name': first,
        'last_name': last,
        'father_name': party.father_name or '',
        'birth_certificate_number': party.birth_certificate_number or '',
        'national_code': party.national_code or '',
        'mobile': party.mobile or '',
        'phone': party.phone or '',
        'email': party.email or '',
        'address': address.street if address else '',
        'postal_code': address.postal_code if address else '',
        'housing_units': 1,
        }


def _read_documents(request, kinds, errors):
    """The uploaded documents of kinds as {kind: (name, data)}; errors
    gets the code of each wrong one"""
    size = upload_size()
    documents = {}
    for kind, required in kinds:
        upload = request.files.get(kind)
        data = b''
        if upload:
            # from the start: a transaction that is retried reads it again
            upload.stream.seek(0)
            data = upload.read(size + 1)
            name = upload.filename
        if not data:
            if upload and upload.filename:
                errors[kind] = 'file_empty'
            elif required:
                errors[kind] = 'file_required'
            continue
        problem = application_form.check_file(data, size)
        if problem:
            errors[kind] = problem
            continue
        documents[kind] = (
            application_form.safe_filename(name, kind, data), data)
    return documents


def _attach(pool, application, documents):
    Attachment = pool.get('ir.attachment')
    Attachment.create([{
                'name': name,
                'type': 'data',
                'data': data,
                'resource': str(application),
                'application_document': kind,
                } for kind, (name, data) in documents.items()])


def _applicant(pool, values, errors):
    """The party of a visitor's application: his own when his national
    code and mobile are those of a known party, else a new one; a national
    code or a mobile of someone else is refused"""
    Party = pool.get('party.party')
    Mechanism = pool.get('party.contact_mechanism')
    parties = Party.search([
            ('national_code', '=', values['national_code']),
            ], limit=1)
    if parties:
        party, = parties
        if party.mobile != values['mobile']:
            errors['national_code'] = 'national_code_registered'
            return None
        return party
    if Mechanism.search([
                ('type', '=', 'mobile'),
                ('value', '=', values['mobile']),
                ], limit=1):
        errors['mobile'] = 'mobile_registered'
        return None
    party = Party(
        name=f"{values['first_name']} {values['last_name']}",
        national_code=values['national_code'],
        father_name=values['father_name'] or None,
        birth_certificate_number=values['birth_certificate_number'] or None)
    mechanisms = [('mobile', values['mobile']), ('phone', values['phone'])]
    if values['email']:
        mechanisms.append(('email', values['email']))
    party.contact_mechanisms = [
        {'type': t, 'value': v} for t, v in mechanisms]
    party.addresses = [{
            'street': values['address'],
            'postal_code': values['postal_code'] or None,
            }]
    party.save()
    return party


def _portal_user(pool, party):
    """The portal login of party, made when it has none, and whether it
    is new"""
    User = pool.get('web.user')
    users = User.search([('party', '=', party.id)], limit=1)
    if users:
        return users[0], False
    user = User(party=party)
    user.save()
    return user, True


@app.route(PREFIX + '/applications/new', methods={'GET', 'POST'})
@upload_limit(len(DOCUMENTS))
@portal
@with_transaction(readonly=False, context=APPLICANT)
@applicant_form
def application_new(request, pool, session, csrf_token):
    """Apply for a new connection: every field is checked and the
    application is saved with its documents whole or not at all"""
    Application = pool.get('water.application')
    Attempt = pool.get('web.user.authenticate.attempt')
    Code = pool.get('water.portal.code')
    if session and not session.user.party:
        return error_page(pool, HTTPStatus.FORBIDDEN, session=session)
    if request.method == 'GET':
        return _form_page(pool, session, csrf_token, form=_initial(session))

    zones, usages = _choices(pool)
    values, errors = application_form.clean(request.form,
        {z.id for z in zones}, {u.id for u in usages})
    documents = _read_documents(request, DOCUMENTS, errors)
    if errors:
        return _form_page(pool, session, csrf_token, HTTPStatus.BAD_REQUEST,
            form=values, errors=errors)
    if not session and Attempt.count_ip() > config.getint(
            'session', 'max_attempt_ip_network', default=300):
        return _form_page(pool, session, csrf_token,
            HTTPStatus.TOO_MANY_REQUESTS, form=values, error='rate_limited')

    if session:
        party = session.user.party
    else:
        # Each application of a visitor counts against the network like a
        # failed login, so that nobody fills the database without end.
        Attempt.add('water.portal.application')
        party = _applicant(pool, values, errors)
    if errors or not party:
        return _form_page(pool, session, csrf_token, HTTPStatus.BAD_REQUEST,
            form=values, errors=errors)
    portal_company = company(pool)
    application = Application(company=portal_company, party=party,
        request_date=_today(pool), **{
            name: values[name] or None
            for name, _, _, _ in application_form.TEXT_FIELDS},
        zone=values['zone'], usage=values['usage'],
        housing_units=values['housing_units'])
    application.save()
    _attach(pool, application, documents)
    Application.submit([application])
    if session:
        return _see_other(
            f'{PREFIX}/applications/{application.id}?sent=1')

    user, new = _portal_user(pool, party)
    key = error = None
    if new or not user.password_hash:
        try:
            key = Code.issue(user, 'password', party.mobile, 'sms_code.txt')
        except RateLimitException:
            error = 'codes_limited'
    return page(pool, 'application_access.html', csrf_token=csrf_token,
        application=application, key=key, error=error,
        minutes=code_timeout().seconds // 60,
        password_length=_password_length())


@app.route(PREFIX + '/applications/access', methods={'POST'})
@portal
@with_transaction(readonly=False, context=CONTEXT)
@applicant_form
def application_access(request, pool, session, csrf_token):
    """The new applicant enters the code sent to his mobile and chooses a
    password; he is logged in on his application's tracking page"""
    Application = pool.get('water.application')
    number = _form(request, 'number', 32)
    user, refusal = _password_by_code(request, pool, csrf_token,
        'application_access.html', application={'number': number})
    if refusal:
        return refusal
    applications = Application.search([
            ('party', '=', user.party.id),
            ('number', '=', number),
            ], limit=1)
    target = (f'{PREFIX}/applications/{applications[0].id}' if applications
        else f'{PREFIX}/applications')
    return _log_in(request, pool, user, target)


@app.route(PREFIX + '/applications', methods={'GET'})
@portal
@with_transaction(readonly=False, context=CONTEXT)
@subscriber
def applications(request, pool, session):
    "The applications of the logged-in user"
    Application = pool.get('water.application')
    return page(pool, 'application_list.html', session=session,
        menu='applications',
        applications=Application.portal_applications(session.user.party))


def _pay_url(pool, application):
    """The address to pay the connection-sale invoice, where the payment
    gateway is installed"""
    invoice = application.portal_payable()
    if not invoice:
        return None
    try:
        pool.get('water.payment.transaction')
    except KeyError:
        return None
    if not any(r.rule == PAY_RULE for r in app.url_map.iter_rules()):
        return None
    return PAY_RULE.replace(f'<{ID}:invoice_id>', str(invoice.id))


def _tracking_page(pool, session, application, status=HTTPStatus.OK,
        **values):
    return page(pool, 'application.html', session=session, status=status,
        menu='applications', application=application,
        timeline=application.portal_timeline(),
        documents=application.documents,
        DOCUMENTS=DOCUMENTS, pay_url=_pay_url(pool, application),
        invoice=application.portal_payable(),
        can_upload=application.state in UPLOAD_STATES,
        max_megabytes=upload_size() // (1024 * 1024), **values)


# The states in which the applicant may send documents
UPLOAD_STATES = {'submitted', 'review', 'documents'}
UPLOAD_KINDS = [(kind, False) for kind, _ in DOCUMENTS] + [('other', False)]


@app.route(PREFIX + f'/applications/<{ID}:application_id>', methods={'GET'})
@portal
@with_transaction(readonly=False, context=CONTEXT)
@subscriber
def application_tracking(request, pool, session, application_id):
    "The tracking page of an application of the user"
    Application = pool.get('water.application')
    application = Application.portal_application(
        session.user.party, application_id)
    if not application:
        return error_page(pool, HTTPStatus.NOT_FOUND, session=session)
    return _tracking_page(pool, session, application,
        sent=bool(request.args.get('sent')),
        uploaded=bool(request.args.get('uploaded')))


@app.route(PREFIX + f'/applications/<{ID}:application_id>/documents',
    methods={'POST'})
@upload_limit(len(UPLOAD_KINDS))
@portal
@with_transaction(readonly=False, context=APPLICANT)
@subscriber
def application_documents(request, pool, session, application_id):
    """Send documents to an application under review: they are kept whole
    or not at all, and an application waiting for documents goes back to
    review"""
    Application = pool.get('water.application')
    application = Application.portal_application(
        session.user.party, application_id)
    if not application:
        return error_page(pool, HTTPStatus.NOT_FOUND, session=session)
    if application.state not in UPLOAD_STATES:
        return _tracking_page(pool, session, application,
            HTTPStatus.BAD_REQUEST, error='closed')
    errors = {}
    documents = _read_documents(request, UPLOAD_KINDS, errors)
    if not errors and not documents:
        errors['other'] = 'file_required'
    if errors:
        return _tracking_page(pool, session, application,
            HTTPStatus.BAD_REQUEST, errors=errors)
    _attach(pool, application, documents)
    Application.documents_sent([application])
    return _see_other(
        f'{PREFIX}/applications/{application.id}?uploaded=1')
