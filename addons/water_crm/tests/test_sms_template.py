# This file is part of the water utility modules.
"""Tests of water.sms.template: rendering with Persian digits and Jalali
dates, inactive templates, sending and the unique code."""
import datetime as dt
import unittest
from decimal import Decimal

from trytond.exceptions import UserError
from trytond.modules.company.tests import create_company, set_company
from trytond.modules.water_crm.sms import format_value, render_body
from trytond.pool import Pool
from trytond.tests.test_tryton import activate_module, with_transaction


class RenderTestCase(unittest.TestCase):
    "Rendering of a body, without the database"

    def test_numbers_in_persian_digits(self):
        self.assertEqual(format_value(1234567), '۱٬۲۳۴٬۵۶۷')
        self.assertEqual(format_value(Decimal('1250000.00')), '۱٬۲۵۰٬۰۰۰')
        self.assertEqual(format_value(Decimal('12.5')), '۱۲٫۵')
        self.assertEqual(format_value(0), '۰')

    def test_dates_in_jalali(self):
        self.assertEqual(format_value(dt.date(2024, 3, 20)), '۱۴۰۳/۰۱/۰۱')

    def test_text_kept(self):
        "Text, such as an address, keeps its digits"
        self.assertEqual(
            format_value('https://example.com:8000/portal'),
            'https://example.com:8000/portal')
        self.assertEqual(format_value(None), '')

    def test_render(self):
        self.assertEqual(
            render_body("{name} گرامی، مبلغ {amount} ریال", {
                    'name': "حسین رضایی", 'amount': 125000}),
            "حسین رضایی گرامی، مبلغ ۱۲۵٬۰۰۰ ریال")

    def test_missing_and_odd_placeholders_kept(self):
        "A typo in a template edited by staff never breaks the sending"
        self.assertEqual(
            render_body(
                "{name} {unknown} {0} {a.b} {x!r} }{", {'name': "رضا"}),
            "رضا {unknown} {0} {a.b} {x!r} }{")


class SmsTemplateTestCase(unittest.TestCase):
    "Test water.sms.template"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        activate_module('water_crm')

    def create(self, **values):
        Template = Pool().get('water.sms.template')
        values.setdefault('code', 'test')
        values.setdefault('name', "Test")
        values.setdefault('body', "{company_name}\n{name} گرامی، {amount}")
        template, = Template.create([values])
        return template

    @with_transaction()
    def test_render_by_code(self):
        "render fills the placeholders and the company's name"
        Template = Pool().get('water.sms.template')
        company = create_company()
        self.create()
        with set_company(company):
            text = Template.render('test', name="رضا", amount=12000)
        self.assertEqual(text, "Dunder Mifflin\nرضا گرامی، ۱۲٬۰۰۰")

    @with_transaction()
    def test_inactive_or_missing(self):
        "An inactive or unknown template renders and sends nothing"
        pool = Pool()
        Template = pool.get('water.sms.template')
        Sms = pool.get('water.sms')
        self.create(active=False)

        self.assertIsNone(Template.render('test', name="رضا"))
        self.assertIsNone(Template.render('nothing'))
        self.assertIsNone(Template.send('test', '09121234567', name="رضا"))
        self.assertEqual(Sms.search([]), [])

    @with_transaction()
    def test_send(self):
        "send queues the rendered SMS for the party"
        pool = Pool()
        Template = pool.get('water.sms.template')
        Party = pool.get('party.party')
        party, = Party.create([{'name': "رضا"}])
        self.create(body="{name} گرامی، {amount} ریال")

        sms = Template.send('test', '۰۹۱۲۱۲۳۴۵۶۷', party=party,
            name=party.name, amount=Decimal('5000'))

        self.assertEqual(sms.mobile, '09121234567')
        self.assertEqual(sms.body, "رضا گرامی، ۵٬۰۰۰ ریال")
        self.assertEqual(sms.party, party)
        self.assertEqual(sms.state, 'queued')
        self.assertIsNone(Template.send('test', None, name="رضا"))

    @with_transaction()
    def test_code_unique(self):
        "Two templates cannot have the same code"
        self.create()
        with self.assertRaises(UserError):
            self.create()

