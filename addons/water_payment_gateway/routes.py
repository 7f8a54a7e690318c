# This file is part of the water utility modules.
"""Online payment on the customer portal: choose a gateway for a bill or
an invoice, go to the bank, come back through the callback (no session:
the bank's word is checked with the bank server to server), the receipt
and the list of payments.

Routes run as root: every bill, invoice and transaction is looked up
through the logged-in user's party; another's id gives 404 and no data."""
import functools
import os
from http import HTTPStatus
from urllib.parse import urlencode, urlsplit

from werkzeug.utils import redirect, send_from_directory

from trytond import backend
from trytond.protocols.wrappers import with_transaction
from trytond.transaction import Transaction
from trytond.wsgi import app

from trytond.modules.water_crm.portal import (
    CONTEXT, PREFIX, add_template_dir, company, portal)
from trytond.modules.water_crm.portal_session import (
    ID, error_page, no_store, page, subscriber)

from . import lifecycle

TEMPLATES = os.path.join(os.path.dirname(__file__), 'templates')
STATIC = os.path.join(os.path.dirname(__file__), 'static')
add_template_dir(TEMPLATES)
# What a callback may carry: enough for every provider's fields
CALLBACK_FIELDS = 32
CALLBACK_VALUE = 512
# Gateway transactions listed on the payments page
TRANSACTIONS = 20

STATES = {
    lifecycle.CREATED: 'ایجاد شده',
    lifecycle.REDIRECTED: 'در انتظار پرداخت در بانک',
    lifecycle.RETURNED: 'در انتظار تأیید بانک',
    lifecycle.VERIFIED: 'پرداخت شد، در حال ثبت',
    lifecycle.SUCCEEDED: 'پرداخت موفق',
    lifecycle.FAILED: 'ناموفق',
    lifecycle.CANCELLED: 'انصراف',
    lifecycle.REVERSED: 'برگشت به کارت',
    lifecycle.EXPIRED: 'منقضی شده',
    }


def installed(func):
    """Answer 404 where the database served has no water_payment_gateway:
    the routes of the server are those of every module it knows"""
    @functools.wraps(func)
    def wrapper(request, pool, *args, **kwargs):
        try:
            pool.get('water.payment.transaction')
        except KeyError:
            return error_page(pool, HTTPStatus.NOT_FOUND)
        return func(request, pool, *args, **kwargs)
    return wrapper


def _see_other(location):
    return redirect(location, code=HTTPStatus.SEE_OTHER)


def _own_bill(pool, session, bill_id):
    "The posted bill of that id if it is the user's, else None"
    Bill = pool.get('water.bill')
    bills = Bill.search([
            ('id', '=', bill_id),
            ('state', '=', 'posted'),
            ], limit=1)
    if bills and session.user.portal_subscription(
            bills[0].subscription.id):
        return bills[0]


def _own_invoice(pool, session, invoice_id):
    "The posted customer invoice of that id if it is the user's, else None"
    Invoice = pool.get('account.invoice')
    if not session.user.party:
        return
    invoices = Invoice.search([
            ('id', '=', invoice_id),
            ('party', '=', session.user.party.id),
            ('type', '=', 'out'),
            ('state', 'in', ['posted', 'paid']),
            ], limit=1)
    return invoices[0] if invoices else None


def _own_transaction(pool, session, transaction_id):
    GatewayTransaction = pool.get('water.payment.transaction')
    if not session.user.party:
        return
    transactions = GatewayTransaction.search([
            ('id', '=', transaction_id),
            ('party', '=', session.user.party.id),
            ], limit=1)
    return transactions[0] if transactions else None


def _origin(url):
    parts = urlsplit(url)
    return f'{parts.scheme}://{parts.netloc}'


def _bill_amount(bill):
    "What is left to pay of the bill's payable"
    if bill.paid:
        return 0
    return max(int(bill.payable or 0) - int(bill.amount_paid or 0), 0)


def _pay(request, pool, session, amount, values, bill=None, invoice=None):
    """The gateway choice (GET) or the start of the payment (POST)"""
    Gateway = pool.get('water.payment.gateway')
    gateways = Gateway.portal_gateways(company(pool)) if amount > 0 else []
    # the browser follows the answer to the form to the bank: the CSP of
    # the form's page must allow it
    values = dict(values, bill=bill, invoice=invoice, amount=amount,
        gateways=gateways, menu='payments',
        form_action=sorted({_origin(g.base_url) for g in gateways}))
    if request.method == 'GET':
        return page(pool, 'pay.html', session=session, **values)
    chosen = request.form.get('gateway', '')
    gateway = next((g for g in gateways if str(g.id) == chosen), None)
    if gateway is None:
        return page(pool, 'pay.html', session=session,
            status=HTTPStatus.BAD_REQUEST, error='gateway', **values)
    return _start(pool, session, gateway, amount, values, bill=bill,
        invoice=invoice)


def _start(pool, session, gateway, amount, values, bill=None,
        invoice=None):
    """Store the transaction, then ask the bank for a token and send the
    browser there"""
    GatewayTransaction = pool.get('water.payment.transaction')
    transaction = GatewayTransaction.create_payment(session.user.party,
        gateway, amount, bill=bill, invoice=invoice)
    # the order must exist before the bank hears of it
    Transaction().commit()
    bank = transaction.request()
    if bank is None:
        return page(pool, 'pay.html', session=session,
            status=HTTPStatus.BAD_GATEWAY, error='bank',
            bank_message=GatewayTransaction(transaction.id).message,
            **values)
    if bank.method == 'GET':
        url = bank.url
        if bank.fields:
            url += ('&' if '?' in url else '?') + urlencode(bank.fields)
        return _see_other(url)
    return page(pool, 'redirect.html', session=session, bank=bank,
        transaction=transaction, gateway=gateway,
        form_action=[_origin(bank.url)])


@app.route(PREFIX + f'/bills/<{ID}:bill_id>/pay', methods={'GET', 'POST'})
@portal
@with_transaction(readonly=False, context=CONTEXT)
@subscriber
@installed
def pay_bill(request, pool, session, bill_id):
    "Pay a bill of the user's subscriptions through a gateway"
    bill = _own_bill(pool, session, bill_id)
    if not bill:
        return error_page(pool, HTTPStatus.NOT_FOUND, session=session)
    return _pay(request, pool, session, _bill_amount(bill),
        {'subscription': bill.subscription}, bill=bill)


@app.route(PREFIX + f'/invoices/<{ID}:invoice_id>/pay',
    methods={'GET', 'POST'})
@portal
@with_transaction(readonly=False, context=CONTEXT)
@subscriber
@installed
def pay_invoice(request, pool, session, invoice_id):
    "Pay a posted invoice of the user's party through a gateway"
    invoice = _own_invoice(pool, session, invoice_id)
    if not invoice:
        return error_page(pool, HTTPStatus.NOT_FOUND, session=session)
    amount = int(invoice.amount_to_pay or 0)
    return _pay(request, pool, session, max(amount, 0), {},
        invoice=invoice)


@app.route(PREFIX + f'/gateway/callback/<{ID}:order>', methods={'GET', 'POST'})
@portal
def callback(request, pool, order):
    """Where the bank sends the browser back, by POST or GET; carries no
    session, so nothing is believed before the bank confirms it"""
    try:
        return no_store(_callback(request, pool, order))
    except backend.DatabaseOperationalError:
        # another callback of the order holds its records and pays it:
        # the receipt tells how it ends
        return no_store(_receipt_of(request, pool, order))


def _find(pool, order):
    GatewayTransaction = pool.get('water.payment.transaction')
    transactions = GatewayTransaction.search([
            ('number', '=', str(order)),
            ], limit=1)
    return transactions[0] if transactions else None


@with_transaction(readonly=False, context=CONTEXT)
@installed
def _callback(request, pool, order):
    GatewayTransaction = pool.get('water.payment.transaction')
    transaction = _find(pool, order)
    if not transaction:
        return error_page(pool, HTTPStatus.NOT_FOUND)
    fields = {}
    for source in [request.args, request.form]:
        for key, value in list(source.items())[:CALLBACK_FIELDS]:
            if isinstance(value, str):
                fields[key[:64]] = value[:CALLBACK_VALUE]
    if not GatewayTransaction.process_callback(transaction, fields):
        return error_page(pool, HTTPStatus.BAD_REQUEST)
    return _see_other(f'{PREFIX}/payments/{transaction.id}')


@with_transaction(readonly=True, context=CONTEXT)
def _receipt_of(request, pool, order):
    transaction = _find(pool, order)
    if not transaction:
        return error_page(pool, HTTPStatus.NOT_FOUND)
    return _see_other(f'{PREFIX}/payments/{transaction.id}')


@app.route(PREFIX + f'/payments/<{ID}:transaction_id>', methods={'GET'})
@portal
@with_transaction(readonly=False, context=CONTEXT)
@subscriber
@installed
def receipt(request, pool, session, transaction_id):
    "The receipt of one gateway transaction of the user's"
    transaction = _own_transaction(pool, session, transaction_id)
    if not transaction:
        return error_page(pool, HTTPStatus.NOT_FOUND, session=session)
    return page(pool, 'receipt.html', session=session, menu='payments',
        transaction=transaction, STATES=STATES, lifecycle=lifecycle)


@app.route(PREFIX + '/payments', methods={'GET'})
@portal
@with_transaction(readonly=False, context=CONTEXT)
@subscriber
@installed
def payments(request, pool, session):
    """The payments received from the user's party, by any channel, and
    its latest gateway transactions"""
    return page(pool, 'payments.html', session=session, menu='payments',
        payments=session.user.portal_payments(),
        transactions=session.user.portal_transactions(TRANSACTIONS),
        STATES=STATES, lifecycle=lifecycle)


@app.route(PREFIX + '/static/gateway/<path:filename>', methods={'GET'})
def static(request, filename):
    return send_from_directory(
        STATIC, filename, request.environ, max_age=43200)
