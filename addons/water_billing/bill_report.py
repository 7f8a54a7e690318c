# This file is part of the water utility modules.
"""The printed water bill: a Persian, right-to-left HTML template
(bill.html) that WeasyPrint turns into a PDF, one bill per page, for the
back office (one bill, a selection or a whole bill run) and the portal.

The Vazirmatn font is the one the portal serves: the npm package that
`make install` links under the web root (web/node_modules/vazirmatn), as
Debian has no package of it. `[water] font_dir` names another folder
holding Vazirmatn-Regular.ttf and Vazirmatn-Bold.ttf."""
import logging
import os
from collections import defaultdict
from decimal import Decimal
from io import BytesIO
from urllib.parse import urlsplit
from urllib.request import pathname2url, url2pathname

from genshi.core import Markup
from num2words import num2words

import trytond.config as config
from trytond import backend
from trytond.pool import Pool
from trytond.report import Report
from trytond.tools import grouped_slice
from trytond.transaction import Transaction

from trytond.modules.water_crm import jalali

from . import bill_run

logger = logging.getLogger(__name__)

LANGUAGE = 'fa'
FONT_FILES = [(400, 'Vazirmatn-Regular.ttf'), (700, 'Vazirmatn-Bold.ttf')]
# The periods of the consumption history printed on a bill, this one
# included
HISTORY = 6
_GROUPING = '\u066c'  # ARABIC THOUSANDS SEPARATOR
_DECIMAL = '\u066b'  # ARABIC DECIMAL SEPARATOR


def fa_digits(value):
    "value as text with Persian digits; empty for None"
    if value is None:
        return ''
    return jalali.to_persian_digits(value)


def fa_code(value):
    """An identifier with Persian digits, unless it has Latin letters
    (a meter serial is printed as on the meter)"""
    if value is None:
        return ''
    value = str(value)
    if any('a' <= c.lower() <= 'z' for c in value):
        return value
    return jalali.to_persian_digits(value)


def fa_number(value, digits=0):
    "A number with Persian digits and separators, e.g. ۳۶۲٬۳۴۴ or ۲۳٫۲۸"
    if value is None:
        return ''
    text = f'{Decimal(value):,.{digits}f}'
    text = text.replace(',', _GROUPING).replace('.', _DECIMAL)
    return jalali.to_persian_digits(text)


def fa_date(date):
    "A Jalali date with Persian digits, e.g. ۱۳۹۷/۰۷/۳۰"
    return jalali.format_date(date, persian_digits=True)


def amount_in_words(amount):
    "Rials in Persian words; num2words' 'currency' would say toman"
    return num2words(int(amount), lang='fa') + ' ریال'


def barcode_svg(code):
    """The SVG element of the bill's 26-digit barcode in Code 128.

    The symbology banks expect is not confirmed by a published standard
    (see the reference on bill IDs): Code 128 is what an open
    implementation uses and ATM readers read; its charset C packs the
    26 digits into a short symbol."""
    import barcode
    from barcode.writer import SVGWriter
    output = BytesIO()
    barcode.get('code128')(code, writer=SVGWriter()).write(output, options={
            'module_width': 0.33,
            'module_height': 13,
            'quiet_zone': 3,
            'write_text': False,
            })
    svg = output.getvalue().decode('utf-8')
    # drop the XML declaration and doctype to inline it in HTML
    return svg[svg.index('<svg'):]


def consumption_chart(rows, width=84, height=34):
    """An SVG bar chart (mm) of the average monthly consumption of
    history rows, the last one (the billed period) highlighted"""
    top, bottom, side = 6, 7, 2
    count = max(len(rows), 1)
    slot = (width - 2 * side) / count
    bar = min(slot * 0.6, 10)
    highest = max([r['average'] for r in rows] + [1])
    scale = (height - top - bottom) / float(highest)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}mm" '
        f'height="{height}mm" viewBox="0 0 {width} {height}">',
        f'<line x1="{side}" y1="{height - bottom}" x2="{width - side}" '
        f'y2="{height - bottom}" stroke="#8aa4b8" stroke-width="0.3"/>',
        ]
    # the oldest period on the right, as Persian reads
    for index, row in enumerate(rows):
        center = width - side - slot * (index + 0.5)
        value = float(row['average'])
        bar_height = value * scale
        y = height - bottom - bar_height
        colour = '#0b5e8e' if index == len(rows) - 1 else '#9cc3dc'
        parts.append(
            f'<rect x="{center - bar / 2:.2f}" y="{y:.2f}" '
            f'width="{bar:.2f}" height="{bar_height:.2f}" fill="{colour}"/>')
        parts.append(
            f'<text x="{center:.2f}" y="{y - 1:.2f}" font-size="2.6" '
            f'font-family="Vazirmatn" '
            f'text-anchor="middle" fill="#1d2b36">'
            f'{fa_number(row["average"], 1)}</text>')
        parts.append(
            f'<text x="{center:.2f}" y="{height - bottom + 3.6:.2f}" '
            f'font-size="2.4" font-family="Vazirmatn" text-anchor="middle" '
            f'fill="#44535e">'
            f'{row["label"]}</text>')
    parts.append('</svg>')
    return ''.join(parts)


def font_dir():
    "The folder of the Vazirmatn TTF files"
    default = os.path.join(config.get('web', 'root'),
        'portal', 'vendor', 'vazirmatn', 'fonts', 'ttf')
    return config.get('water', 'font_dir', default=default)


def font_faces(directory):
    "@font-face rules for the Vazirmatn files found in directory"
    rules = []
    for weight, name in FONT_FILES:
        path = os.path.join(directory, name)
        if os.path.isfile(path):
            rules.append("@font-face { font-family: 'Vazirmatn'; "
                f"font-weight: {weight}; "
                f"src: url('file:{pathname2url(os.path.abspath(path))}') "
                "format('truetype'); }")
        else:
            logger.warning("font %s not found: the bill falls back to "
                "another font (set [water] font_dir)", path)
    return '\n'.join(rules)


def html_to_pdf(html):
    """The PDF bytes of the bill HTML with the Vazirmatn font embedded.

    The only files WeasyPrint may read are the fonts: the bill refers to
    no other resource."""
    import weasyprint
    from weasyprint.text.fonts import FontConfiguration

    directory = os.path.realpath(font_dir())

    class FontFetcher(weasyprint.URLFetcher):
        def fetch(self, url, headers=None):
            path = os.path.realpath(url2pathname(urlsplit(url).path))
            if os.path.dirname(path) != directory:
                raise ValueError(f"the bill may not load {url}")
            return super().fetch(url, headers)

    fetcher = FontFetcher(allowed_protocols={'file'})
    font_config = FontConfiguration()
    fonts = weasyprint.CSS(string=font_faces(directory),
        url_fetcher=fetcher, font_config=font_config)
    return weasyprint.HTML(string=html, url_fetcher=fetcher).write_pdf(
        stylesheets=[fonts], font_config=font_config)


def subscription_order(bill):
    "Sort key of bills by subscription number, numbers in numeric order"
    number = bill.subscription.number or ''
    return (len(number), number, bill.period_end or bill.date, bill.id)


class BillReport(Report):
    "Water Bill"
    __name__ = 'water.bill'

    @classmethod
    def execute(cls, ids, data):
        # the bill is a Persian document: names of usages and the like
        # are read in Persian whatever the user's language
        with Transaction().set_context(language=LANGUAGE):
            return super().execute(ids, data)

    @classmethod
    def get_bills(cls, records):
        "The bills to print for the records of the report, in order"
        return list(records)

    @classmethod
    def get_context(cls, records, header, data):
        context = super().get_context(records, header, data)
        bills = cls.get_bills(records)
        history = cls.get_history(bills)
        context.update({
                'bills': bills,
                'history': history,
                'chart': {b: Markup(consumption_chart(rows))
                    for b, rows in history.items()},
                'fa': fa_digits,
                'fa_code': fa_code,
                'fa_number': fa_number,
                'fa_date': fa_date,
                'words': amount_in_words,
                'barcode': lambda bill: Markup(barcode_svg(bill.barcode)),
                })
        return context

    @classmethod
    def get_history(cls, bills):
        """The last periods of each bill's subscription up to the bill,
        oldest first, by bill id: dicts with label, period, consumption,
        average and total"""
        Bill = Pool().get('water.bill')
        subscriptions = {b.subscription.id for b in bills}
        found = defaultdict(list)
        for sub_ids in grouped_slice(
                list(subscriptions), backend.MAX_QUERY_PARAMS // 2):
            for row in Bill.search_read([
                        ('subscription', 'in', list(sub_ids)),
                        ('state', '!=', 'cancelled'),
                        ], order=[('period_end', 'ASC'), ('id', 'ASC')],
                    fields_names=['subscription', 'period_start',
                        'period_end', 'consumption', 'average_monthly',
                        'total']):
                found[row['subscription']].append(row)
        history = {}
        for bill in bills:
            rows = [r for r in found[bill.subscription.id]
                if r['period_end'] and bill.period_end
                and (r['period_end'], r['id'])
                <= (bill.period_end, bill.id)][-HISTORY:]
            history[bill.id] = [{
                    'label': fa_date(r['period_end'])[:7],
                    'period': (fa_date(r['period_start']),
                        fa_date(r['period_end'])),
                    'consumption': fa_number(r['consumption']),
                    'average': r['average_monthly'] or Decimal(0),
                    'total': fa_number(r['total']),
                    } for r in rows]
        return history

    @classmethod
    def convert(cls, report, data, **kwargs):
        if (report.template_extension == 'html'
                and report.extension == 'pdf'):
            return 'pdf', html_to_pdf(data)
        return super().convert(report, data, **kwargs)

    @classmethod
    def render_pdf(cls, bills):
        """The PDF bytes of bills, one per page, in their order: what
        the back office prints, for callers such as the portal (which
        must give only the logged-in subscriber's bills)"""
        pool = Pool()
        ActionReport = pool.get('ir.action.report')
        BillReport = pool.get('water.bill', type='report')
        action, = ActionReport.search([
                ('report_name', '=', 'water.bill'),
                ], limit=1)
        _, content, _, _ = BillReport.execute([b.id for b in bills], {
                'model': 'water.bill',
                'action_id': action.id,
                })
        return bytes(content)


def merge_pdfs(files):
    "One PDF of the pages of the PDF files (bytes), in their order"
    from pypdf import PdfWriter
    writer = PdfWriter()
    for data in files:
        writer.append(BytesIO(data))
    output = BytesIO()
    writer.write(output)
    return output.getvalue()


class BillRunReport(BillReport):
    """Water Bills of a Bill Run

    A run of more bills than a print chunk is rendered by the task queue
    (Print Bills on the run), a PDF per chunk attached to the run: the
    report gives those files as one PDF"""
    __name__ = 'water.bill.run'

    @classmethod
    def get_bills(cls, runs):
        bills = [b for r in runs for b in r.bills if b.state != 'cancelled']
        return sorted(bills, key=subscription_order)

    @classmethod
    def execute(cls, ids, data):
        BillRun = Pool().get('water.bill.run')
        runs = BillRun.browse(ids)
        if len(cls.get_bills(runs)) <= bill_run.PRINT_CHUNK:
            return super().execute(ids, data)
        files = [a.data for r in runs for a in r.printed_files()]
        name = '-'.join(r.rec_name for r in runs)
        return 'pdf', merge_pdfs(files), False, name
