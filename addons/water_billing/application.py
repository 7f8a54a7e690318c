# This file is part of the water utility modules.
"""The connection sale: the fee table, and the customer invoice that the
approval of a connection application issues and whose payment moves the
application on."""
from decimal import ROUND_HALF_UP, Decimal

from trytond.i18n import gettext
from trytond.model import (
    MatchMixin, ModelSQL, ModelView, fields, sequence_ordered)
from trytond.model.exceptions import ValidationError
from trytond.modules.company.model import CompanyValueMixin
from trytond.modules.water_crm.connection import DIAMETERS
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.transaction import Transaction, without_check_access


class ApplicationInvoiceError(ValidationError):
    pass


def connection_fee(fee, housing_units, sewer):
    """The (connection, sewage connection) amounts of a fee line for the
    housing units, rounded half up to the rial"""
    def rial(amount):
        return amount.quantize(Decimal(1), rounding=ROUND_HALF_UP)
    water = rial(fee.amount + fee.unit_amount * housing_units)
    sewage = rial(water * fee.sewage_percent / 100) if sewer else Decimal(0)
    return water, sewage


class ApplicationFee(sequence_ordered(), MatchMixin, ModelSQL, ModelView):
    "Connection Fee"
    __name__ = 'water.application.fee'

    company = fields.Many2One('company.company', "Company", required=True)
    usage = fields.Many2One('water.usage', "Usage", ondelete='CASCADE',
        help="Leave empty for any usage.")
    diameter = fields.Selection([(None, "")] + DIAMETERS, "Diameter",
        help="Leave empty for any diameter.")
    amount = fields.Numeric("Amount", digits=(16, 0), required=True,
        domain=[('amount', '>=', 0)],
        help="The fixed part of the connection fee, in rials.")
    unit_amount = fields.Numeric("Amount per Housing Unit", digits=(16, 0),
        required=True, domain=[('unit_amount', '>=', 0)],
        help="Added for each housing unit of the connection, in rials.")
    sewage_percent = fields.Numeric("Sewage Connection Share",
        digits=(5, 2), required=True,
        domain=[('sewage_percent', '>=', 0)],
        help="The sewage connection fee, in percent of the connection fee, "
        "for premises connected to the sewer network.")

    @staticmethod
    def default_company():
        return Transaction().context.get('company')

    @classmethod
    def default_amount(cls):
        return Decimal(0)

    @classmethod
    def default_unit_amount(cls):
        return Decimal(0)

    @classmethod
    def default_sewage_percent(cls):
        return Decimal(0)

    @classmethod
    def get_fee(cls, application):
        "The first fee line that matches the application, or None"
        pattern = {
            'company': application.company.id,
            'usage': application.usage.id if application.usage else None,
            'diameter': application.diameter,
            }
        for fee in cls.search([('company', '=', application.company.id)]):
            if fee.match(pattern):
                return fee


class Configuration(metaclass=PoolMeta):
    __name__ = 'water.configuration'
    connection_fee_account = fields.MultiValue(fields.Many2One(
            'account.account', "Connection Fee Account",
            domain=[
                ('closed', '!=', True),
                ('type.revenue', '=', True),
                ('company', '=', Eval('context', {}).get('company', -1)),
                ],
            help="The revenue of connection sales; the water charge "
            "account when empty."))
    sewage_connection_fee_account = fields.MultiValue(fields.Many2One(
            'account.account', "Sewage Connection Fee Account",
            domain=[
                ('closed', '!=', True),
                ('type.revenue', '=', True),
                ('company', '=', Eval('context', {}).get('company', -1)),
                ],
            help="The revenue of sewage connection sales; the sewage "
            "charge account when empty."))

    @classmethod
    def multivalue_model(cls, field):
        if field in {'connection_fee_account',
                'sewage_connection_fee_account'}:
            return Pool().get('water.configuration.application')
        return super().multivalue_model(field)


class ConfigurationApplication(ModelSQL, CompanyValueMixin):
    "Water Configuration Application"
    __name__ = 'water.configuration.application'
    connection_fee_account = fields.Many2One(
        'account.account', "Connection Fee Account",
        domain=[('company', '=', Eval('company', -1))])
    sewage_connection_fee_account = fields.Many2One(
        'account.account', "Sewage Connection Fee Account",
        domain=[('company', '=', Eval('company', -1))])


class Application(metaclass=PoolMeta):
    __name__ = 'water.application'

    sale_invoice = fields.Many2One(
        'account.invoice', "Connection-Sale Invoice",
        readonly=True, ondelete='RESTRICT',
        domain=[('party', '=', Eval('party', -1))])
    sale_invoice_state = fields.Function(fields.Selection(
            'get_invoice_states', "Invoice State"), 'get_invoice_state')

    @classmethod
    def get_invoice_states(cls):
        Invoice = Pool().get('account.invoice')
        return [(None, '')] + Invoice.fields_get(
            ['state'])['state']['selection']

    def get_invoice_state(self, name):
        return self.sale_invoice.state if self.sale_invoice else None

    @classmethod
    def copy(cls, applications, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('sale_invoice')
        return super().copy(applications, default=default)

    @classmethod
    def approve(cls, applications):
        super().approve(applications)
        cls.invoice([a for a in cls.browse(applications)
                if a.state == 'approved'])

    @classmethod
    def invoice(cls, applications):
        """Create and post the connection-sale invoice of each application;
        tell the applicant the amount"""
        with without_check_access():
            invoices = cls._invoice(applications)
        super().invoice(applications)
        for application, invoice in zip(applications, invoices):
            cls.notify([application], 'invoiced',
                amount=invoice.total_amount, invoice=invoice.number)

    @classmethod
    def _invoice(cls, applications):
        pool = Pool()
        Invoice = pool.get('account.invoice')
        InvoiceLine = pool.get('account.invoice.line')
        Configuration = pool.get('water.configuration')
        Fee = pool.get('water.application.fee')
        configuration = Configuration(1)
        invoices, lines = [], []
        for application in applications:
            fee = Fee.get_fee(application)
            if not fee:
                raise ApplicationInvoiceError(gettext(
                        'water_billing.msg_application_no_fee',
                        application=application.rec_name))
            invoice = application._get_invoice()
            invoices.append(invoice)
            lines.extend(application._get_invoice_lines(
                    invoice, fee, configuration))
        Invoice.save(invoices)
        InvoiceLine.save(lines)
        Invoice.update_taxes(invoices)
        Invoice.post(invoices)
        for application, invoice in zip(applications, invoices):
            application.sale_invoice = invoice
        cls.save(applications)
        return Invoice.browse(invoices)

    def _get_invoice(self):
        Invoice = Pool().get('account.invoice')
        party = self.party
        invoice = Invoice(company=self.company, type='out', party=party,
            currency=self.company.currency,
            invoice_date=Pool().get('ir.date').today(),
            account=party.account_receivable_used,
            invoice_address=self._invoice_address(),
            description=gettext(
                'water_billing.msg_application_invoice_description',
                number=self.number or ''))
        invoice.set_journal()
        invoice.payment_term = party.customer_payment_term
        return invoice

    def _invoice_address(self):
        Address = Pool().get('party.address')
        address = self.party.address_get(type='invoice')
        if address:
            return address
        address = Address(party=self.party, street=self.address,
            postal_code=self.postal_code)
        address.save()
        return address

    def _get_invoice_lines(self, invoice, fee, configuration):
        InvoiceLine = Pool().get('account.invoice.line')
        water, sewage = connection_fee(fee, self.housing_units, self.sewer)
        company = self.company.id
        account = (
            configuration.get_multivalue(
                'connection_fee_account', company=company)
            or configuration.get_multivalue('water_account', company=company))
        sewage_account = (
            configuration.get_multivalue(
                'sewage_connection_fee_account', company=company)
            or configuration.get_multivalue(
                'sewage_account', company=company))
        lines = []
        for amount, line_account, message in [
                (water, account, 'msg_application_line_connection'),
                (sewage, sewage_account, 'msg_application_line_sewage'),
                ]:
            if not amount:
                continue
            if not line_account:
                raise ApplicationInvoiceError(gettext(
                        'water_billing.msg_application_no_account',
                        application=self.rec_name))
            lines.append(InvoiceLine(type='line', invoice=invoice,
                    company=self.company, currency=invoice.currency,
                    description=gettext('water_billing.' + message,
                        diameter=self.diameter, units=self.housing_units),
                    quantity=1, unit=None, product=None,
                    account=line_account, unit_price=amount, taxes=[],
                    origin=self))
        return lines

    @classmethod
    def cancel(cls, applications):
        "Cancel the unpaid invoices of the applications too"
        Invoice = Pool().get('account.invoice')
        super().cancel(applications)
        invoices = [a.sale_invoice for a in cls.browse(applications)
            if a.state == 'cancelled' and a.sale_invoice
            and a.sale_invoice.state in {'draft', 'validated', 'posted'}]
        if invoices:
            Invoice.cancel(invoices)

    @classmethod
    def invoices_paid(cls, invoices):
        "The invoices are paid: the applications waiting for them are paid"
        applications = cls.search([
                ('sale_invoice', 'in', [i.id for i in invoices]),
                ('state', '=', 'invoiced'),
                ])
        if applications:
            cls.pay(applications)

    def portal_payable(self):
        if (self.state == 'invoiced' and self.sale_invoice
                and self.sale_invoice.state == 'posted'):
            return self.sale_invoice


class Invoice(metaclass=PoolMeta):
    __name__ = 'account.invoice'

    @classmethod
    def paid(cls, invoices):
        "Whatever paid it, a paid connection-sale invoice pays its application"
        Application = Pool().get('water.application')
        super().paid(invoices)
        paid = [i for i in cls.browse(invoices) if i.state == 'paid']
        if paid:
            Application.invoices_paid(paid)


class InvoiceLine(metaclass=PoolMeta):
    __name__ = 'account.invoice.line'

    @classmethod
    def _get_origin(cls):
        return super()._get_origin() + ['water.application']
