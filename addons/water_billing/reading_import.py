# This file is part of the water utility modules.
"""Import of the readings of a meter reader's handheld export.

A file is imported whole or not at all. Every row is checked before
anything is written: by the parser, against the database (the
subscription, its meter, the readings it already has) and as confirming it
would (a value below the previous one that is no rollover, nothing to
count from). Only a file without a single rejection is saved, and its
readings are confirmed: accepted, or flagged for the staff.

A row whose subscription already has a reading of the same date and value
is skipped, so that importing a file again creates nothing; an empty draft
reading of the reading sheet for that date is filled in."""
from collections import defaultdict

from trytond.model import ModelView, fields
from trytond.model.exceptions import ValidationError
from trytond.modules.water_crm import jalali
from trytond.modules.water_crm.subscriber_import import CsvImportMixin
from trytond.pool import Pool
from trytond.tools import grouped_slice
from trytond.transaction import Transaction
from trytond.wizard import Button, StateTransition, StateView, Wizard

from . import reading_csv
from .reading import ReadingError
from .reading_csv import Rejection


class ReadingImportError(ValidationError):
    pass


class Report:
    "What an import did, or would do, and the rows it rejected"

    def __init__(self, dry_run=False):
        self.dry_run = dry_run
        self.created = 0
        self.filled = 0
        self.skipped = 0
        self.accepted = 0
        # (line, subscription number, reasons) of the readings flagged
        self.flagged = []
        self.rejections = []

    def __str__(self):
        if self.rejections:
            return '\n'.join([
                    f"{len(self.rejections)} problem(s), nothing imported:"]
                + [f'  {r}' for r in self.rejections])
        counts = [
            (self.created, "readings created"),
            (self.filled, "readings of the reading sheet filled in"),
            (self.skipped, "already imported, skipped"),
            (self.accepted, "accepted"),
            (len(self.flagged), "flagged for the staff"),
            ]
        lines = [f'{n} {text}' for n, text in counts if n]
        for line, subscription, reasons in self.flagged:
            lines.append(f'  line {line}, {subscription}: {reasons}')
        if not lines:
            lines.append("nothing to import")
        if self.dry_run:
            lines.insert(0, "check only, nothing written")
        return '\n'.join(lines)


def import_readings(text, dry_run=False):
    """Import the CSV text of a handheld in the context company; return the
    Report. With dry_run, or when a row is rejected, nothing is written."""
    report = Report(dry_run=dry_run)
    parsed = reading_csv.parse(text)
    report.rejections.extend(parsed.rejections)
    plan = _Plan(parsed.rows, report)
    plan.resolve()
    plan.check()
    if not report.rejections and not dry_run:
        plan.save()
    report.rejections.sort(key=lambda r: r.line)
    return report


class _Plan:
    # browsing thousands of records at once costs quadratic time
    CHUNK = 500

    def __init__(self, rows, report):
        pool = Pool()
        self.rows = rows
        self.report = report
        self.company = Transaction().context.get('company')
        self.Reading = pool.get('water.reading')
        self.Subscription = pool.get('water.subscription')
        # (row, reading) of the readings to save
        self.planned = []

    def reject(self, row, column, reason):
        self.report.rejections.append(Rejection(row.line, column, reason))

    def resolve(self):
        "Match the rows with the database; plan a reading for each new one"
        if not self.company:
            for row in self.rows[:1]:
                self.reject(row, None, "no company in the context")
            return
        today = Pool().get('ir.date').today()
        for rows in grouped_slice(self.rows, self.CHUNK):
            self._resolve(list(rows), today)

    def _resolve(self, rows, today):
        Reading = self.Reading
        subscriptions = {s.number: s for s in self.Subscription.search([
                    ('company', '=', self.company),
                    ('number', 'in', list({r.subscription for r in rows})),
                    ])}
        ids = [s.id for s in subscriptions.values()]
        existing = defaultdict(list)
        for reading in Reading.search([
                    ('subscription', 'in', ids),
                    ('date', 'in', list({r.date for r in rows})),
                    ]):
            existing[reading.subscription.id, reading.date].append(reading)
        latest = self._latest_accepted(rows, ids)
        for row in rows:
            subscription = subscriptions.get(row.subscription)
            if not subscription:
                self.reject(row, 'subscription',
                    f"unknown subscription {row.subscription}")
                continue
            same_day = existing[subscription.id, row.date]
            if any(r.value == row.value for r in same_day):
                self.report.skipped += 1
                continue
            blanks = [r for r in same_day
                if r.state == 'draft' and r.value is None]
            others = [r for r in same_day
                if r.state != 'rejected' and r not in blanks]
            meter = subscription.meter
            if subscription.state == 'terminated':
                self.reject(row, 'subscription', "is terminated")
            elif not meter:
                self.reject(row, 'subscription', "has no meter installed")
            elif row.meter_serial and row.meter_serial != meter.serial:
                self.reject(row, 'meter_serial',
                    f"the meter of subscription {subscription.number} is "
                    f"{meter.serial}")
            elif row.value >= 10 ** meter.digits:
                self.reject(row, 'value',
                    f"has more digits than the {meter.digits} of meter "
                    f"{meter.serial}")
            elif row.date > today:
                self.reject(row, 'reading_date', "is in the future")
            elif others:
                self.reject(row, 'value',
                    f"the reading of {jalali.format_date(row.date)} has "
                    f"the value {others[0].value}")
            elif (subscription.id in latest
                    and latest[subscription.id] >= row.date):
                self.reject(row, 'reading_date',
                    "a reading of "
                    f"{jalali.format_date(latest[subscription.id])} is "
                    "already accepted")
            else:
                if blanks:
                    reading = blanks[0]
                else:
                    reading = Reading(company=self.company,
                        subscription=subscription, date=row.date)
                    # names the unsaved reading in the messages of confirm
                    reading.rec_name = (f'{subscription.rec_name} @ '
                        f'{jalali.format_date(row.date)}')
                reading.meter = meter
                reading.value = row.value
                reading.kind = row.kind
                if row.note:
                    reading.note = row.note
                self.planned.append((row, reading))

    def _latest_accepted(self, rows, subscription_ids):
        "The date of the latest accepted reading of each subscription"
        latest = {}
        # a handheld's rows are newer than almost every reading
        for reading in self.Reading.search([
                    ('subscription', 'in', subscription_ids),
                    ('state', '=', 'accepted'),
                    ('date', '>=', min(r.date for r in rows)),
                    ], order=[('date', 'ASC')]):
            latest[reading.subscription.id] = reading.date
        return latest

    def check(self):
        """Count from the previous reading and run the plausibility checks
        as confirming does, without saving"""
        Configuration = Pool().get('water.configuration')
        configuration = Configuration(1)
        report = self.report
        for row, reading in self.planned:
            try:
                reading.set_consumption()
            except ReadingError as exception:
                self.reject(row, 'value', exception.message)
                continue
            flags = ([] if reading.kind == 'control'
                else reading.check_plausibility(configuration))
            if flags:
                report.flagged.append(
                    (row.line, row.subscription, ' '.join(flags)))
            else:
                report.accepted += 1
            if reading.id is None:
                report.created += 1
            else:
                report.filled += 1

    def save(self):
        readings = [r for _, r in self.planned]
        for sub_readings in grouped_slice(readings, self.CHUNK):
            sub_readings = list(sub_readings)
            self.Reading.save(sub_readings)
            self.Reading.confirm(sub_readings)


class ImportReadings(CsvImportMixin, Wizard):
    "Import Readings"
    __name__ = 'water.reading.import'
    start = StateView('water.reading.import.start',
        'water_billing.reading_import_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Check", 'check', 'tryton-search'),
            Button("Import", 'import_', 'tryton-ok', default=True),
            ])
    check = StateTransition()
    import_ = StateTransition()
    result = StateView('water.reading.import.start',
        'water_billing.reading_import_result_view_form', [
            Button("Close", 'end', 'tryton-close', default=True),
            ])

    _import = staticmethod(import_readings)
    _error = ReadingImportError
    _msg_not_utf8 = 'water_billing.msg_reading_import_not_utf8'
    _msg_rejected = 'water_billing.msg_reading_import_rejected'


class ImportReadingsStart(ModelView):
    "Import Readings"
    __name__ = 'water.reading.import.start'
    file = fields.Binary("File", required=True,
        help="The CSV export of the handheld, in UTF-8: subscription, "
        "reading_date (Jalali), value and optionally meter_serial, kind "
        "and note.")
    report = fields.Text("Report", readonly=True)
