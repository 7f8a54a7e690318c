# This file is part of the water utility modules.
"""Set-up and demo data of water_payment_gateway, run by `water setup`:
the payment journal of the gateways with its clearing account, and for the
demo a gateway account of each provider at the local bank simulator, so
that `make run` pays bills end to end offline. Running it again adds
nothing."""
from proteus import Model

from trytond import config as tconfig
from trytond.modules.water_crm.install import get_company

from .simulator import DEMO_MELLAT, DEMO_SADAD, DEMO_ZARINPAL

JOURNAL_NAME = "Online Payments"
CLEARING_CODE = '1.1.6'
SIMULATOR = 'http://127.0.0.1:8010'
BANK_CHANNEL_NAME = "Bank Channel"
BANK_CHANNEL_CODE = '1.1.5'


def get_journal(config, company, name=JOURNAL_NAME, code=CLEARING_CODE):
    """A payment journal of gateways, clearing through its own reconcilable
    account into the cash journal"""
    PaymentJournal = Model.get('account.payment.journal', config=config)
    journals = PaymentJournal.find([
            ('company', '=', company.id),
            ('process_method', '=', 'water_gateway'),
            ('name', '=', name),
            ], limit=1)
    if journals:
        return journals[0]
    Account = Model.get('account.account', config=config)
    Journal = Model.get('account.journal', config=config)
    accounts = Account.find([
            ('company', '=', company.id), ('code', '=', code)])
    if accounts:
        account, = accounts
    else:
        cash, = Account.find([
                ('company', '=', company.id), ('code', '=', '1.1.1')])
        account = Account(company=company, code=code,
            name=f"{name} Clearing", parent=cash.parent, type=cash.type,
            reconcile=True)
        account.save()
    cash_journal, = Journal.find([('code', '=', 'CASH')], limit=1)
    journal = PaymentJournal(name=name, company=company,
        currency=company.currency, process_method='water_gateway',
        clearing_account=account, clearing_journal=cash_journal)
    journal.save()
    return journal


def setup(config, options):
    company = get_company(config)
    get_journal(config, company)
    get_bank_channel_journal(config, company)


def get_bank_channel_journal(config, company):
    """The manual payment journal of the bill ID / payment ID payments that
    the banks settle, clearing through its own reconcilable account into
    the cash journal; it is the bank channel journal of the water
    configuration"""
    Configuration = Model.get('water.configuration', config=config)
    configuration = Configuration(1)
    if configuration.settlement_journal:
        return configuration.settlement_journal
    Account = Model.get('account.account', config=config)
    Journal = Model.get('account.journal', config=config)
    PaymentJournal = Model.get('account.payment.journal', config=config)
    accounts = Account.find([
            ('company', '=', company.id), ('code', '=', BANK_CHANNEL_CODE)])
    if accounts:
        account, = accounts
    else:
        cash, = Account.find([
                ('company', '=', company.id), ('code', '=', '1.1.1')])
        account = Account(company=company, code=BANK_CHANNEL_CODE,
            name="Bank Channel Clearing", parent=cash.parent, type=cash.type,
            reconcile=True)
        account.save()
    cash_journal, = Journal.find([('code', '=', 'CASH')], limit=1)
    journal = PaymentJournal(name=BANK_CHANNEL_NAME, company=company,
        currency=company.currency, process_method='manual',
        clearing_account=account, clearing_journal=cash_journal)
    journal.save()
    configuration.settlement_journal = journal
    configuration.save()
    return journal


def portal_url():
    "Where browsers reach this server: [web] hostname, else its address"
    hostname = tconfig.get('web', 'hostname', default=None)
    if hostname:
        return f'https://{hostname}'
    listen = tconfig.get('web', 'listen', default='localhost:8000')
    return f'http://{listen}'


def demo(config, options):
    """A gateway account of each provider at the bank simulator
    ([water] bank_simulator, default http://127.0.0.1:8010), each on a
    payment journal of its own as each bank settles its own payments (the
    accountants' payments per day are per journal); subscriber 1421's
    earlier bills paid at the bank"""
    demo_settlement(config, options)
    Gateway = Model.get('water.payment.gateway', config=config)
    company = get_company(config)
    if Gateway.find([('company', '=', company.id)], limit=1):
        return
    url = tconfig.get('water', 'bank_simulator', default=SIMULATOR)
    common = dict(company=company, base_url=url,
        callback_base_url=portal_url())
    gateways = [
        Gateway(name="سداد (بانک ملی ایران)", provider='sadad', sequence=10,
            merchant_id=DEMO_SADAD.merchant_id,
            terminal_id=DEMO_SADAD.terminal_id,
            terminal_key=DEMO_SADAD.terminal_key, verify_window=15,
            journal=get_journal(config, company, "Sadad", '1.1.6.1'),
            **common),
        Gateway(name="به‌پرداخت ملت", provider='mellat', sequence=20,
            terminal_id=DEMO_MELLAT.terminal_id,
            user_name=DEMO_MELLAT.user_name,
            user_password=DEMO_MELLAT.user_password, verify_window=20,
            journal=get_journal(config, company, "Mellat", '1.1.6.2'),
            **common),
        Gateway(name="زرین‌پال", provider='zarinpal', sequence=30,
            zarinpal_merchant=DEMO_ZARINPAL.merchant_id, verify_window=30,
            journal=get_journal(config, company, "Zarinpal", '1.1.6.3'),
            **common),
        ]
    Gateway.save(gateways)


def demo_settlement(config, options):
    """Subscriber 1421's bills but the latest paid at the bank by their bill
    ID and payment ID, each imported from a bank settlement file, so that
    the latest bill owes only what the rounding of the payable carried"""
    from trytond.modules.water_crm.cli import in_transaction
    in_transaction(options, _demo_pay_1421)


def _demo_pay_1421():
    import datetime as dt

    from trytond.modules.water_crm import jalali
    from trytond.pool import Pool

    from .settlement import import_settlement
    from .settlement_csv import REQUIRED

    pool = Pool()
    Bill = pool.get('water.bill')
    Subscription = pool.get('water.subscription')
    Line = pool.get('water.settlement.line')
    subscriptions = Subscription.search([('number', '=', '1421')])
    if not subscriptions:
        return
    bills = Bill.search([
            ('subscription', '=', subscriptions[0].id),
            ('state', '=', 'posted'),
            ], order=[('date', 'ASC'), ('period_end', 'ASC'), ('id', 'ASC')])
    if len(bills) < 2 or Line.search([('bill', 'in', bills)], limit=1):
        return
    # The demo billed the whole history at once: each bill owes all the
    # earlier ones. Had each bill been paid before the next was issued,
    # it would owe only the remainder of the previous payable; figure
    # each debt again that way, as when the bill was issued (it and the
    # later bills hidden), then pay it.
    for index, bill in enumerate(bills):
        later = bills[index + 1:]
        Bill.write(bills[index:], {'state': 'draft'})
        Bill.set_debt([bill])
        bill.save()
        Bill.write(bills[index:], {'state': 'posted'})
        if not later or not bill.payment_id:
            continue
        date = min(bill.date + dt.timedelta(days=7),
            later[0].date - dt.timedelta(days=1))
        text = (','.join(REQUIRED) + '\n'
            + f'{bill.bill_id},{bill.payment_id},{int(bill.payable)},'
            f'{jalali.format_date(date)},{date:%y%m%d}1421\n')
        report = import_settlement(text,
            filename=f'settlement-{date:%Y%m%d}.csv')
        if report.rejections or report.paid != 1:
            raise ValueError(f"{bill.rec_name}: {report}")
