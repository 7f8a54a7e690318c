# This file is part of the water utility modules.
"""Company set-up and demo data of water_crm, run by `water setup`.
Each step looks for what it would create first, so running it again adds
nothing."""
from decimal import Decimal

from proteus import Model, Wizard


def get_currency(config):
    "The Iranian rial with no decimals"
    Currency = Model.get('currency.currency', config=config)
    currency, = Currency.find([('code', '=', 'IRR')]) or [None]
    if not currency:
        currency = Currency(code='IRR', name="Iranian Rial")
    currency.symbol = 'ریال'
    currency.digits = 0
    currency.rounding = Decimal(1)
    currency.numeric_code = '364'
    currency.save()
    return currency


def get_company(config, name=None):
    Company = Model.get('company.company', config=config)
    companies = Company.find([], limit=1)
    if companies:
        return companies[0]
    Party = Model.get('party.party', config=config)
    party = Party(name=name)
    party.save()
    # the wizard also gives the company to the users that have none
    wizard = Wizard('company.company.config', config=config)
    wizard.execute('company')
    wizard.form.party = party
    wizard.form.currency = get_currency(config)
    wizard.form.timezone = 'Asia/Tehran'
    wizard.execute('add')
    company, = Company.find([], limit=1)
    return company


def setup(config, options):
    get_currency(config)
    company = get_company(config, options.company)
    User = Model.get('res.user', config=config)
    Lang = Model.get('ir.lang', config=config)
    persian, = Lang.find([('code', '=', 'fa')])
    admin, = User.find([('login', '=', 'admin')])
    if company not in admin.companies or admin.language != persian:
        admin.companies.append(company)
        admin.company = company
        admin.language = persian
        admin.save()
    config._context = User.get_preferences(True, {})
