# This file is part of the water utility modules.
from trytond.modules.company.tests import CompanyTestMixin
from trytond.tests.test_tryton import ModuleTestCase


class WaterBillingTestCase(CompanyTestMixin, ModuleTestCase):
    "Test water_billing module"
    module = 'water_billing'


del ModuleTestCase
