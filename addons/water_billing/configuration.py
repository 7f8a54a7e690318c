# This file is part of the water utility modules.
from trytond.model import ModelSQL, fields
from trytond.modules.company.model import CompanyValueMixin
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval

ACCOUNT_FIELDS = [
    'water_account', 'fixed_account', 'sewage_account', 'service_account',
    'levies_account']
TAX_FIELDS = ['duty_tax', 'vat_tax']
BILLING_FIELDS = ACCOUNT_FIELDS + TAX_FIELDS + [
    'bill_company_code', 'payable_rounding']


def _revenue_account(string, help=""):
    return fields.MultiValue(fields.Many2One(
            'account.account', string, required=True, help=help,
            domain=[
                ('closed', '!=', True),
                ('type.revenue', '=', True),
                ('company', '=', Eval('context', {}).get('company', -1)),
                ]))


def _tax(string, help=""):
    return fields.MultiValue(fields.Many2One(
            'account.tax', string, help=help,
            domain=[
                ('parent', '=', None),
                ('company', '=', Eval('context', {}).get('company', -1)),
                ]))


class Configuration(metaclass=PoolMeta):
    __name__ = 'water.configuration'
    water_account = _revenue_account("Water Charge Account")
    fixed_account = _revenue_account("Fixed Charge Account")
    sewage_account = _revenue_account("Sewage Charge Account")
    service_account = _revenue_account("Service-Cost Compensation Account")
    levies_account = _revenue_account("Levies Account")
    duty_tax = _tax("Water-Sales Duty",
        help="The municipal part of VAT (عوارض); its children carry the "
        "rates with their start and end dates.")
    vat_tax = _tax("Water-Sales Tax",
        help="The state part of VAT (مالیات); its children carry the "
        "rates with their start and end dates.")
    bill_company_code = fields.MultiValue(fields.Char(
            "Bill ID Company Code", size=3,
            help="The 3-digit code of the company in bill IDs, "
            "given by the Banks' Informatics Commission."))
    payable_rounding = fields.MultiValue(fields.Integer(
            "Payable Rounding", required=True,
            domain=[('payable_rounding', '>=', 1)],
            help="The payable amount is rounded down to a multiple of it; "
            "the remainder stays due and is carried to the next bill. "
            "1000 makes the payment ID encode it exactly."))

    bill_due_reminder_days = fields.Integer("Due Reminder Days",
        required=True, domain=[('bill_due_reminder_days', '>=', 0)],
        help="How many days before its due date a bill still unpaid is "
        "recalled to the subscriber by SMS (the bill_due template); 0 sends "
        "no reminder.")

    @classmethod
    def multivalue_model(cls, field):
        if field in BILLING_FIELDS:
            return Pool().get('water.configuration.billing')
        return super().multivalue_model(field)

    @classmethod
    def default_payable_rounding(cls, **pattern):
        return 1000

    @classmethod
    def default_bill_due_reminder_days(cls):
        return 3


class ConfigurationBilling(ModelSQL, CompanyValueMixin):
    "Water Configuration Billing"
    __name__ = 'water.configuration.billing'
    water_account = fields.Many2One('account.account', "Water Charge Account",
        domain=[('company', '=', Eval('company', -1))])
    fixed_account = fields.Many2One('account.account', "Fixed Charge Account",
        domain=[('company', '=', Eval('company', -1))])
    sewage_account = fields.Many2One(
        'account.account', "Sewage Charge Account",
        domain=[('company', '=', Eval('company', -1))])
    service_account = fields.Many2One(
        'account.account', "Service-Cost Compensation Account",
        domain=[('company', '=', Eval('company', -1))])
    levies_account = fields.Many2One('account.account', "Levies Account",
        domain=[('company', '=', Eval('company', -1))])
    duty_tax = fields.Many2One('account.tax', "Water-Sales Duty",
        domain=[('company', '=', Eval('company', -1))])
    vat_tax = fields.Many2One('account.tax', "Water-Sales Tax",
        domain=[('company', '=', Eval('company', -1))])
    bill_company_code = fields.Char("Bill ID Company Code", size=3)
    payable_rounding = fields.Integer("Payable Rounding")

    @classmethod
    def default_payable_rounding(cls):
        return 1000
