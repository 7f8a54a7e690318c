# This file is part of the water utility modules.
"""Accounting set-up of water_billing, run by `water setup`: the chart
of accounts and Jalali fiscal years with monthly periods and invoice
sequences. Running it again adds nothing."""
import datetime as dt

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


def setup(config, options):
    company = get_company(config)
    create_chart(config, company)
    get_fiscalyear(config, company, jalali.to_jalali(dt.date.today()).year)
