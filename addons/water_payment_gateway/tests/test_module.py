# This file is part of the water utility modules.
from lxml import etree

from trytond.modules.company.tests import CompanyTestMixin
from trytond.pool import Pool
from trytond.tests.test_tryton import ModuleTestCase, with_transaction

# The columns the web client (sao 8.0, Sao.View.TreeXMLViewParser.WIDGETS)
# can draw in a list; any other widget stops the list from opening
TREE_WIDGETS = {
    'binary', 'boolean', 'callto', 'char', 'date', 'dict', 'email', 'float',
    'image', 'integer', 'many2many', 'many2one', 'numeric', 'one2many',
    'one2one', 'progressbar', 'reference', 'selection', 'multiselection',
    'sip', 'text', 'time', 'timedelta', 'url',
    }


class WaterPaymentGatewayTestCase(CompanyTestMixin, ModuleTestCase):
    "Test water_payment_gateway module"
    module = 'water_payment_gateway'

    @with_transaction()
    def test_list_views_open_in_web_client(self):
        "Every list of the water modules has columns the web client draws"
        pool = Pool()
        View = pool.get('ir.ui.view')
        views = View.search([
                ('module', 'like', 'water_%'),
                ('type', '=', 'tree'),
                ])
        self.assertTrue(views)
        for view in views:
            Model = pool.get(view.model)
            result = Model.fields_view_get(view_id=view.id)
            for node in etree.fromstring(result['arch']).iter('field'):
                name = node.get('name')
                widget = node.get('widget') or result['fields'][name]['type']
                with self.subTest(view=view.rec_name, field=name):
                    self.assertIn(widget, TREE_WIDGETS)

    @with_transaction()
    def test_persian_translations(self):
        "Every string of the water modules has its Persian in fa.po"
        pool = Pool()
        Lang = pool.get('ir.lang')
        Translation = pool.get('ir.translation')
        TranslationSet = pool.get('ir.translation.set', type='wizard')
        persian, = Lang.search([('code', '=', 'fa')])
        Lang.load_translations([persian])
        # the strings of views and reports, as Set Translations finds them
        session_id, _, _ = TranslationSet.create()
        TranslationSet.execute(session_id, {}, 'set_')
        TranslationSet.delete(session_id)

        def strings(lang):
            return {(t.module, t.type, t.name, t.src)
                for t in Translation.search([
                        ('module', 'like', 'water_%'),
                        ('lang', '=', lang),
                        ])
                if t.src and (lang == 'en' or t.value)}
        english = strings('en')
        self.assertTrue({m for m, *_ in english} >= {
                'water_crm', 'water_billing', 'water_payment_gateway'})
        self.assertEqual(sorted(english - strings('fa')), [])


del ModuleTestCase
