# This file is part of the water utility modules.
from trytond.modules.company.tests import CompanyTestMixin
from trytond.tests.test_tryton import ModuleTestCase


class WaterCrmTestCase(CompanyTestMixin, ModuleTestCase):
    "Test water_crm module"
    module = 'water_crm'


del ModuleTestCase
