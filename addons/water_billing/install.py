# This file is part of the water utility modules.
"""Accounting set-up of water_billing, run by `water setup`: the chart
of accounts and Jalali fiscal years with monthly periods and invoice
sequences. Running it again adds nothing."""
import datetime as dt
from decimal import Decimal

from proteus import Model, Wizard

from trytond.modules.water_crm import jalali
from trytond.modules.water_crm.install import get_company


def create_chart(config, company):
    Account = Model.get('account.account', config=config)
    if Account.find([('company', '=', company.id)], limit=1):
        return
    ModelData = Model.get('ir.model.data', config=config)
    AccountTemplate = Model.get('account.account.template', config=config)
    template = AccountTemplate(ModelData.get_id(
            'account.account_template_root_en', config.context))
    wizard = Wizard('account.create_chart', config=config)
    wizard.execute('account')
    wizard.form.account_template = template
    wizard.form.company = company
    wizard.execute('create_account')
    receivable, = Account.find([
            ('company', '=', company.id),
            ('type.receivable', '=', True),
            ('party_required', '=', True),
            ], limit=1)
    payable, = Account.find([
            ('company', '=', company.id),
            ('type.payable', '=', True),
            ('party_required', '=', True),
            ], limit=1)
    wizard.form.account_receivable = receivable
    wizard.form.account_payable = payable
    wizard.execute('create_properties')


def get_fiscalyear(config, company, jalali_year):
    """The fiscal year of a Jalali year (1 Farvardin to the end of
    Esfand) with its 12 Jalali months as periods"""
    FiscalYear = Model.get('account.fiscalyear', config=config)
    start, end = jalali.year_bounds(jalali_year)
    fiscalyears = FiscalYear.find([
            ('company', '=', company.id),
            ('start_date', '<=', end),
            ('end_date', '>=', start),
            ])
    if fiscalyears:
        return fiscalyears[0]
    SequenceType = Model.get('ir.sequence.type', config=config)
    SequenceStrict = Model.get('ir.sequence.strict', config=config)
    name = str(jalali_year)
    ModelData = Model.get('ir.model.data', config=config)
    move_type = SequenceType(ModelData.get_id(
            'account.sequence_type_account_move', config.context))
    invoice_type = SequenceType(ModelData.get_id(
            'account_invoice.sequence_type_account_invoice', config.context))
    fiscalyear = FiscalYear(name=name, company=company,
        start_date=start, end_date=end)
    fiscalyear.move_sequence = SequenceStrict(name=name,
        sequence_type=move_type, company=company)
    fiscalyear.move_sequence.save()
    invoice_sequence = SequenceStrict(name=name,
        sequence_type=invoice_type, company=company,
        prefix=f'{jalali_year}-')
    invoice_sequence.save()
    invoice_sequences, = fiscalyear.invoice_sequences
    invoice_sequences.out_invoice_sequence = invoice_sequence
    invoice_sequences.in_invoice_sequence = invoice_sequence
    invoice_sequences.out_credit_note_sequence = invoice_sequence
    invoice_sequences.in_credit_note_sequence = invoice_sequence
    for month, (month_start, month_end) in enumerate(
            jalali.month_bounds(jalali_year), 1):
        fiscalyear.periods.new(
            name=f'{jalali_year}/{month:02d} {jalali.month_name(month)}',
            start_date=month_start, end_date=month_end, type='standard')
    fiscalyear.save()
    return fiscalyear


REVENUE_ACCOUNTS = [
    ('water_account', '4.2.3', "Water Sales"),
    ('fixed_account', '4.2.4', "Water Fixed Charges"),
    ('sewage_account', '4.2.5', "Sewage Charges"),
    ('service_account', '4.2.6', "Service-Cost Compensation"),
    ('levies_account', '4.2.7', "Water Levies"),
    ]


def _account(config, company, code, name, parent_code, type_code):
    Account = Model.get('account.account', config=config)
    accounts = Account.find(
        [('company', '=', company.id), ('code', '=', code)])
    if accounts:
        return accounts[0]
    parent, = Account.find(
        [('company', '=', company.id), ('code', '=', parent_code)])
    like, = Account.find(
        [('company', '=', company.id), ('code', '=', type_code)])
    account = Account(company=company, code=code, name=name, parent=parent,
        type=like.type)
    account.save()
    return account


def _tax(config, company, name, account, rates):
    """A group tax holding one percentage child per (rate, start, end)"""
    Tax = Model.get('account.tax', config=config)
    taxes = Tax.find([('company', '=', company.id), ('name', '=', name),
            ('parent', '=', None)])
    if taxes:
        return taxes[0]
    group = Tax(name=name, description=name, company=company, type='none')
    for rate, start, end in rates:
        group.childs.new(name=f'{name} {rate}%', description=name,
            company=company, type='percentage', rate=Decimal(rate) / 100,
            start_date=start and jalali.parse_date(start),
            end_date=end and jalali.parse_date(end),
            invoice_account=account, credit_note_account=account)
    group.save()
    return group


def setup_billing(config, company):
    "Revenue and tax accounts, the VAT taxes and the water configuration"
    Configuration = Model.get('water.configuration', config=config)
    configuration = Configuration(1)
    for field, code, name in REVENUE_ACCOUNTS:
        if not getattr(configuration, field):
            setattr(configuration, field,
                _account(config, company, code, name, '4.2.0', '4.2.2'))
    duty_account = _account(config, company, '2.2.3.1',
        "Water-Sales Duty Payable", '2.2.3', '2.2.3')
    tax_account = _account(config, company, '2.2.3.2',
        "Water-Sales Tax Payable", '2.2.3', '2.2.3')
    if not configuration.duty_tax:
        configuration.duty_tax = _tax(config, company, "Water-Sales Duty",
            duty_account, [(3, None, None)])
    if not configuration.vat_tax:
        # the government's point added to VAT in 1403 went to the tax
        configuration.vat_tax = _tax(config, company, "Water-Sales Tax",
            tax_account, [(6, None, '1402/12/29'), (7, '1403/01/01', None)])
    configuration.save()


def setup(config, options):
    company = get_company(config)
    create_chart(config, company)
    get_fiscalyear(config, company, jalali.to_jalali(dt.date.today()).year)
    setup_billing(config, company)


def demo(config, options):
    """Tariffs of the reference customer, subscriber 1421's history billed
    from the reference readings, and the generated zone billed for its
    latest period"""
    import csv
    import os

    from trytond.modules.water_crm.cli import in_transaction

    from .tariff import import_tariffs

    company = get_company(config)
    Configuration = Model.get('water.configuration', config=config)
    configuration = Configuration(1)
    if not configuration.bill_company_code:
        configuration.bill_company_code = '939'
        configuration.save()
    for year in range(1395, jalali.to_jalali(dt.date.today()).year + 1):
        get_fiscalyear(config, company, year)

    folder = os.path.join(os.path.dirname(__file__), 'tests')
    Tariff = Model.get('water.tariff', config=config)
    if not Tariff.find([]):
        # the reference customer's tariffs and national-style ones for
        # the usages of the generated zone
        for name in ['seed_tariffs.csv', 'demo_tariffs.csv']:
            with open(os.path.join(folder, name), encoding='utf-8') as fp:
                text = fp.read()
            in_transaction(options, lambda: import_tariffs(text))

    with open(os.path.join(folder, 'seed_readings.csv'),
            encoding='utf-8') as fp:
        seed = list(csv.DictReader(fp))
    in_transaction(options, lambda: _demo_1421(seed))
    run = in_transaction(options, _demo_zone)
    if run is not None:
        # as the queue would: each chunk commits on its own
        for chunk in in_transaction(options, lambda: _chunks(run)):
            in_transaction(options, lambda: _bill_chunk(run, chunk))


def _demo_1421(seed):
    from trytond.pool import Pool
    pool = Pool()
    Subscription = pool.get('water.subscription')
    Reading = pool.get('water.reading')
    BillModel = pool.get('water.bill')
    subscription, = Subscription.search([('number', '=', '1421')])
    if not BillModel.search([('subscription', '=', subscription.id)]):
        install = subscription.meter.installations[-1]
        for row in seed:
            date = jalali.parse_date(row['reading_date'])
            if date <= install.install_date:
                continue
            reading = Reading(subscription=subscription,
                meter=subscription.meter, date=date, kind='reader',
                value=int(row['meter_value_m3']),
                note=row['note'] or None, company=subscription.company)
            reading.save()
            Reading.confirm([reading])
            # the staff accepted the history the legacy system billed
            Reading.accept([r for r in [reading]
                    if r.state == 'flagged'])
            bill, = BillModel.compute([reading], reading.date)
            BillModel.set_debt([bill])
            bill.save()
            BillModel.post([bill])


def _demo_zone():
    "A reading for each generated subscriber and a bill run of its zone"
    import random

    from trytond.pool import Pool

    date = jalali.parse_date('1405/06/15')
    pool = Pool()
    Zone = pool.get('water.zone')
    Subscription = pool.get('water.subscription')
    Reading = pool.get('water.reading')
    BillRun = pool.get('water.bill.run')
    zones = Zone.search([('name', '=', 'دهکده نمونه')])
    if not zones:
        return
    runs = BillRun.search([('zone', '=', zones[0].id)])
    if runs:
        return runs[0].id if runs[0].state == 'running' else None
    zone, = zones
    rng = random.Random(1405)
    subscriptions = Subscription.search([
            ('connection.parcel.zone', '=', zone.id),
            ('state', '=', 'active')])
    readings = []
    for subscription in subscriptions:
        installation = subscription.meter.installations[-1]
        days = (date - installation.install_date).days
        monthly = rng.choice([8, 12, 15, 20, 25, 30, 45])
        readings.append(Reading(subscription=subscription,
                meter=subscription.meter, date=date, kind='reader',
                value=installation.initial_reading
                + round(monthly * days / 30),
                company=subscription.company))
    Reading.save(readings)
    Reading.confirm(readings)
    Reading.accept([r for r in readings if r.state == 'flagged'])
    run = BillRun(zone=zone, date=date, bill_date=date)
    run.save()
    BillRun.write([run], {'state': 'running'})
    return run.id


def _chunks(run_id):
    from trytond.pool import Pool
    BillRun = Pool().get('water.bill.run')
    return BillRun.chunks(BillRun(run_id))


def _bill_chunk(run_id, chunk):
    from trytond.pool import Pool
    BillRun = Pool().get('water.bill.run')
    BillRun.bill_chunk(BillRun(run_id), chunk)
