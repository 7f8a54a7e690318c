# This file is part of the water utility modules.
"""Behaviour shared by the water models: Jalali twins of dates, times in
the company's zone and the normalisation of Persian input on every
write."""
from trytond.i18n import gettext
from trytond.model import fields
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool
from trytond.tools import timezone as tz
from trytond.transaction import Transaction

from . import jalali, validators


def JalaliDate(string):
    """A read-only Jalali rendering of the date field whose name this
    field's name has before `_jalali`, shown beside it"""
    return fields.Function(fields.Char(string), 'get_jalali_date')


def company_timezone(company=None):
    "The time zone of company, by default the context's; UTC without one"
    if company is None:
        company_id = Transaction().context.get('company')
        if company_id is not None and company_id >= 0:
            company = Pool().get('company.company')(company_id)
    if company and company.timezone:
        return tz.ZoneInfo(company.timezone)
    return tz.UTC


def local_datetime(value, timezone):
    "The datetime as stored (naive UTC) in timezone"
    if value:
        return value.replace(tzinfo=tz.UTC).astimezone(timezone)
    return value


def format_datetime(value, timezone):
    "The Jalali date and time of a stored datetime in timezone, or ''"
    if not value:
        return ''
    value = local_datetime(value, timezone)
    return jalali.format_date(value) + value.strftime(' %H:%M')


class JalaliMixin:
    "Give `<date>_jalali` Function fields their value"
    __slots__ = ()

    def get_jalali_date(self, name):
        return jalali.format_date(getattr(self, name[:-len('_jalali')]))


class InvalidFieldValue(ValidationError):
    pass


class NormalizeMixin:
    """Normalise Persian input before it is stored

    `_normalize_text` lists Char fields whose digits and Arabic letters are
    normalised; `_validators` maps a field to a function of validators.py
    that returns its canonical value or raises InvalidValue."""
    __slots__ = ()
    _normalize_text = ()
    _validators = {}

    @classmethod
    def preprocess_values(cls, mode, values):
        values = super().preprocess_values(mode, values)
        for name in cls._normalize_text:
            if values.get(name):
                values[name] = validators.normalize_text(values[name])
        for name, validator in cls._validators.items():
            if values.get(name):
                try:
                    values[name] = validator(values[name])
                except validators.InvalidValue as exception:
                    raise InvalidFieldValue(gettext(
                            'water_crm.msg_invalid_' + exception.code,
                            field=cls.__names__(name)['field'],
                            model=cls.__names__()['model'],
                            value=values[name],
                            reason=exception.reason)) from exception
        return values
