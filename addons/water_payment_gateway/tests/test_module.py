# This file is part of the water utility modules.
from trytond.modules.company.tests import CompanyTestMixin
from trytond.tests.test_tryton import ModuleTestCase


class WaterPaymentGatewayTestCase(CompanyTestMixin, ModuleTestCase):
    "Test water_payment_gateway module"
    module = 'water_payment_gateway'


del ModuleTestCase
