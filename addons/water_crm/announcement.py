# This file is part of the water utility modules.
"""Announcements and downloadable documents of the portal's home page:
water schedules, notices, connection conditions, forms..."""
from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin, ModelSQL, ModelView, fields)
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool
from trytond.pyson import Bool, Eval
from trytond.transaction import Transaction

from .common import JalaliDate, JalaliMixin, NormalizeMixin

# The documents a browser shows or saves safely: never HTML or scripts.
DOCUMENT_TYPES = [
    # (magic bytes, extensions, MIME type)
    (b'%PDF-', ('.pdf',), 'application/pdf'),
    (b'\x89PNG\r\n\x1a\n', ('.png',), 'image/png'),
    (b'\xff\xd8\xff', ('.jpg', '.jpeg'), 'image/jpeg'),
    (b'PK\x03\x04', ('.docx',), 'application/vnd.openxmlformats-'
        'officedocument.wordprocessingml.document'),
    (b'PK\x03\x04', ('.xlsx',), 'application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.sheet'),
    (b'PK\x03\x04', ('.odt',), 'application/vnd.oasis.opendocument.text'),
    ]
MAX_DOCUMENT_SIZE = 10 * 1024 * 1024


def document_type(data, name):
    """The MIME type of a document whose content matches the extension of
    its name, or None"""
    name = (name or '').lower()
    for magic, extensions, mimetype in DOCUMENT_TYPES:
        if data.startswith(magic) and name.endswith(extensions):
            return mimetype


class AnnouncementValidationError(ValidationError):
    pass


class Announcement(
        DeactivableMixin, JalaliMixin, NormalizeMixin, ModelSQL, ModelView):
    "Announcement"
    __name__ = 'water.announcement'
    _rec_name = 'title'
    _normalize_text = ('title',)

    company = fields.Many2One('company.company', "Company", required=True)
    title = fields.Char("Title", required=True)
    kind = fields.Selection([
            ('notice', "Notice"),
            ('schedule', "Water Schedule"),
            ('conditions', "Connection Conditions"),
            ('form', "Form"),
            ('rules', "Construction Rules"),
            ('documents', "Required Documents"),
            ], "Kind", required=True, sort=False,
        help="Notices and water schedules are listed as announcements, "
        "the others as documents.")
    body = fields.Text("Body")
    publish_date = fields.Date("Publish Date", required=True,
        help="The first day the portal shows it.")
    publish_date_jalali = JalaliDate("Publish Date (Jalali)")
    expire_date = fields.Date("Expire Date",
        domain=['OR',
            ('expire_date', '=', None),
            ('expire_date', '>=', Eval('publish_date', None)),
            ],
        help="The last day the portal shows it; empty for no end.")
    expire_date_jalali = JalaliDate("Expire Date (Jalali)")
    zones = fields.Many2Many(
        'water.announcement-water.zone', 'announcement', 'zone', "Zones",
        domain=[('company', '=', Eval('company', -1))],
        help="Only the logged-in subscribers of these zones see it; "
        "empty for everyone.")
    document = fields.Binary("Document", filename='document_name',
        file_id='document_id',
        help="A PDF, image, Word, Excel or OpenDocument file "
        "(at most 10 MB) offered for download.")
    document_name = fields.Char("Document Name",
        states={
            'required': Bool(Eval('document')),
            'invisible': ~Bool(Eval('document')),
            })
    document_id = fields.Char("Document ID", readonly=True)
    published = fields.Function(
        fields.Boolean("Published"), 'get_published')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [
            ('publish_date', 'DESC'),
            ('id', 'DESC'),
            ]

    @staticmethod
    def default_company():
        return Transaction().context.get('company')

    @classmethod
    def default_kind(cls):
        return 'notice'

    @classmethod
    def default_publish_date(cls):
        return Pool().get('ir.date').today()

    @classmethod
    def get_published(cls, announcements, name):
        Date = Pool().get('ir.date')
        today = Date.today()
        return {a.id: bool(a.active and a.publish_date <= today
                and (not a.expire_date or a.expire_date >= today))
            for a in announcements}

    @classmethod
    def validate_fields(cls, announcements, field_names):
        super().validate_fields(announcements, field_names)
        if field_names and not (field_names & {'document', 'document_name'}):
            return
        for announcement in announcements:
            data = announcement.document
            if not data:
                continue
            if len(data) > MAX_DOCUMENT_SIZE:
                raise AnnouncementValidationError(gettext(
                        'water_crm.msg_announcement_document_size',
                        announcement=announcement.rec_name))
            if not document_type(data, announcement.document_name):
                raise AnnouncementValidationError(gettext(
                        'water_crm.msg_announcement_document_type',
                        announcement=announcement.rec_name,
                        name=announcement.document_name or ''))

    @classmethod
    def portal_domain(cls, company, date, zones):
        """The announcements the portal shows on date in the company to a
        visitor who is a subscriber of zones (none when not logged in)"""
        return [
            ('company', '=', company.id if company else None),
            ('publish_date', '<=', date),
            ['OR',
                ('expire_date', '=', None),
                ('expire_date', '>=', date),
                ],
            ['OR',
                ('zones', '=', None),
                ('zones', 'in', [z.id for z in zones]),
                ],
            ]


class AnnouncementZone(ModelSQL):
    "Announcement - Zone"
    __name__ = 'water.announcement-water.zone'
    announcement = fields.Many2One('water.announcement', "Announcement",
        required=True, ondelete='CASCADE')
    zone = fields.Many2One('water.zone', "Zone", required=True,
        ondelete='CASCADE')
