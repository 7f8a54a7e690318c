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
    # the company and accounts are set up here: don't send the admin
    # through Tryton's module configuration wizard at first login
    Item = Model.get('ir.module.config_wizard.item', config=config)
    items = Item.find([('state', '=', 'open')])
    for item in items:
        item.state = 'done'
    Item.save(items)


FIRST_NAMES = [
    'علی', 'محمد', 'حسین', 'رضا', 'مهدی', 'زهرا', 'فاطمه', 'مریم',
    'سارا', 'نرگس', 'امیر', 'حمید', 'لیلا', 'کاوه', 'پریسا', 'بهرام']
LAST_NAMES = [
    'احمدی', 'رضایی', 'کریمی', 'حسینی', 'موسوی', 'جعفری', 'نوری',
    'کاظمی', 'صادقی', 'رحیمی', 'یزدانی', 'شریفی', 'قاسمی', 'طاهری']
DEMO_USERS = [
    ('service', "Customer Service Clerk", 'group_water_customer_service'),
    ('reader', "Meter Reader", 'group_water_meter_reading'),
    ('billing', "Billing Clerk", 'group_water_billing'),
    ]
DEMO_PASSWORD = 'water-demo'
SUBSCRIBER_1421 = {
    'name': 'حسین رضایی', 'national_code': '0499370899',
    'father_name': 'محمود', 'birth_certificate_number': '1250',
    'mobile': '09121234567', 'postal_code': '1193653471',
    'diameter': '1/2', 'sewer': '0', 'meter_serial': 'ZT-1421',
    'meter_digits': '5', 'meter_reading': '98',
    'reading_date': '1395/01/29',
    }


def national_code(number):
    "A valid national code made from the first 9 digits of number"
    body = f'{number:09d}'[-9:]
    total = sum(int(d) * (10 - i) for i, d in enumerate(body))
    remainder = total % 11
    return body + str(remainder if remainder < 2 else 11 - remainder)


def demo_csv(seed_row, size):
    """The legacy export of the demo: subscriber 1421 from the reference
    file and `size` generated subscribers of «دهکده نمونه», the same at
    every run"""
    import csv
    import io
    import random
    from .subscriber_csv import OPTIONAL, REQUIRED
    rng = random.Random(1421)
    rows = [{**seed_row, **SUBSCRIBER_1421}]
    for index in range(size):
        number = 10001 + index
        rows.append({
                'subscription': str(number),
                'geographic_code': f'1900{500000 + index:06d}',
                'zone': 'دهکده نمونه',
                'parcel': f'{100 + index // 50}/{index % 50 + 1}',
                'address': f'دهکده نمونه، قطعه {100 + index // 50}/'
                f'{index % 50 + 1}',
                'land_area_m2': f'{rng.randrange(250, 1200)}.00',
                'building_area_m2': f'{rng.randrange(60, 300)}.00',
                'usage': rng.choice(
                    ['residential_villa'] * 8 + ['residential', 'commercial']),
                'units': str(rng.choice([1] * 9 + [2])),
                'diameter': '1/2',
                'sewer': '0',
                'name': f'{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}',
                'national_code': national_code(100000000 + number * 7),
                'mobile': f'0912{number:07d}',
                'meter_serial': f'GZ-{number:06d}',
                'meter_digits': '5',
                'meter_reading': str(rng.randrange(0, 3000)),
                'reading_date': '1404/01/15',
                })
    output = io.StringIO()
    writer = csv.DictWriter(output, fieldnames=REQUIRED + OPTIONAL)
    writer.writeheader()
    writer.writerows(rows)
    return output.getvalue()


def demo(config, options):
    import os

    from .cli import in_transaction
    from .subscriber_import import import_subscribers
    User = Model.get('res.user', config=config)
    Group = Model.get('res.group', config=config)
    ModelData = Model.get('ir.model.data', config=config)
    for login, name, group in DEMO_USERS:
        if User.find([('login', '=', login)]):
            continue
        user = User(login=login, name=name, password=DEMO_PASSWORD)
        user.groups.append(Group(ModelData.get_id(
                    f'water_crm.{group}', config.context)))
        user.save()

    Subscription = Model.get('water.subscription', config=config)
    last = str(10000 + options.demo_size)
    if len(Subscription.find([('number', 'in', ['1421', last])])) == (
            2 if options.demo_size else 1):
        in_transaction(options, demo_logins)
        return demo_portal(config)
    seed = os.path.join(os.path.dirname(__file__), 'tests',
        'seed_subscriber.csv')
    with open(seed, encoding='utf-8') as fp:
        import csv
        seed_row, = csv.DictReader(fp)
    report = in_transaction(options,
        lambda: import_subscribers(demo_csv(seed_row, options.demo_size)))
    if report.rejections:
        raise RuntimeError(str(report))
    print("Demo subscribers:", report)
    in_transaction(options, demo_logins)
    demo_portal(config)


PORTAL_DEMO_PASSWORD = 'water-1421'
# the portal password of every generated subscriber (the load benchmark
# logs them in)
GENERATED_PASSWORD = 'water-demo'


def demo_logins():
    """A portal login for each subscriber of the generated zone that has
    none, all with GENERATED_PASSWORD, hashed once"""
    from trytond.pool import Pool
    from trytond.tools import grouped_slice
    pool = Pool()
    Subscription = pool.get('water.subscription')
    WebUser = pool.get('web.user')
    parties = {s.party for s in Subscription.search([
                ('connection.parcel.zone.name', '=', 'دهکده نمونه'),
                ])}
    users = WebUser.search([
            ('party', 'in', [p.id for p in parties]),
            ('active', 'in', [True, False]),
            ])
    parties -= {u.party for u in users}
    if parties:
        password_hash = WebUser.hash_password(GENERATED_PASSWORD)
        # in small slices: the check of the unique constraints nests one
        # clause per record, too deep for SQLite past a few dozen
        for sub_parties in grouped_slice(
                sorted(parties, key=lambda p: p.id), 10):
            WebUser.create([{'party': p.id, 'password_hash': password_hash}
                    for p in sub_parties])
        print(f"Portal logins of {len(parties)} generated subscribers, "
            f"password {GENERATED_PASSWORD}")


def _demo_pdf(lines):
    "A one-page PDF showing lines of ASCII text"
    text = ' '.join(
        f'({line}) Tj 0 -22 Td' for line in lines)
    stream = f'BT /F1 14 Tf 72 760 Td {text} ET'.encode('ascii')
    objects = [
        b'<< /Type /Catalog /Pages 2 0 R >>',
        b'<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
        b'<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] '
        b'/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>',
        b'<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
        b'<< /Length %d >>\nstream\n%s\nendstream' % (len(stream), stream),
        ]
    pdf = bytearray(b'%PDF-1.4\n')
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(pdf))
        pdf += b'%d 0 obj\n%s\nendobj\n' % (number, body)
    xref = len(pdf)
    pdf += b'xref\n0 %d\n0000000000 65535 f \n' % (len(objects) + 1)
    for offset in offsets:
        pdf += b'%010d 00000 n \n' % offset
    pdf += (b'trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n'
        % (len(objects) + 1, xref))
    return bytes(pdf)


def demo_portal(config):
    """The portal login of subscriber 1421 and announcements of the home
    page, each created once"""
    import datetime as dt
    Subscription = Model.get('water.subscription', config=config)
    WebUser = Model.get('web.user', config=config)
    Announcement = Model.get('water.announcement', config=config)
    Zone = Model.get('water.zone', config=config)
    subscription, = Subscription.find([('number', '=', '1421')])
    party = subscription.party
    if not WebUser.find([
                ('party', '=', party.id), ('active', 'in', [True, False])]):
        user = WebUser(party=party, password=PORTAL_DEMO_PASSWORD)
        user.save()
    zitoun = subscription.zone
    sample = Zone.find([('name', '=', 'دهکده نمونه')])
    today = dt.date.today()
    announcements = [
        dict(title='ساعات کاری امور مشترکین', kind='notice',
            publish_date=today - dt.timedelta(days=20),
            body='امور مشترکین شنبه تا چهارشنبه از ساعت ۸ تا ۱۴ '
            'پاسخگوی شماست.\nتلفن امور مشترکین: ۰۱۱۴۴۰۰۰۰۰۰'),
        dict(title=f'برنامه توزیع آب {zitoun.name}', kind='schedule',
            publish_date=today - dt.timedelta(days=5), zones=[zitoun],
            body='آب شرب در روزهای زوج از ساعت ۶ تا ۱۸ و در روزهای فرد '
            'از ساعت ۱۸ تا ۶ بامداد توزیع می‌شود. لطفاً در مصرف آب '
            'صرفه‌جویی کنید.'),
        dict(title='قطع آب برای تعمیر خط اصلی', kind='notice',
            publish_date=today - dt.timedelta(days=2), zones=sample,
            body='به دلیل تعمیر خط اصلی، آب دهکده نمونه روز پنجشنبه از '
            'ساعت ۹ تا ۱۳ قطع است.'),
        dict(title='شرایط واگذاری انشعاب آب', kind='conditions',
            publish_date=today - dt.timedelta(days=30),
            body='مدارک لازم و شرایط واگذاری انشعاب تازه.',
            document=_demo_pdf(['Water connection: conditions (demo)']),
            document_name='connection-conditions.pdf'),
        dict(title='فرم درخواست نصب کنتور', kind='form',
            publish_date=today - dt.timedelta(days=30),
            document=_demo_pdf(['Meter installation form (demo)']),
            document_name='meter-installation-form.pdf'),
        ]
    for values in announcements:
        if Announcement.find([
                    ('title', '=', values['title']),
                    ('active', 'in', [True, False]),
                    ]):
            continue
        zones = values.pop('zones', [])
        announcement = Announcement(**values)
        announcement.zones.extend(Zone(z.id) for z in zones)
        announcement.save()
    print("Portal demo login: subscription 1421 or mobile 09121234567, "
        f"password {PORTAL_DEMO_PASSWORD}")
