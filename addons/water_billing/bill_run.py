# This file is part of the water utility modules.
"""Bill runs: the bills of a zone, or of all zones, up to a date."""
from sql import Null
from sql.aggregate import Count

from trytond import backend
from trytond.exceptions import UserError
from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, Workflow, fields
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.tools import grouped_slice
from trytond.transaction import Transaction

from trytond.modules.water_crm.common import JalaliDate, JalaliMixin


# bills are posted in bulk, a chunk at a time: a chunk is one transaction
# of the task queue, its size bounds the memory of a worker
# a subscription's readings in date order, in one chunk
PENDING_ORDER = [('subscription', 'ASC'), ('date', 'ASC'), ('id', 'ASC')]
CHUNK = 500
# the bills printed by one task: rendering holds a chunk's layout in memory
PRINT_CHUNK = 50
PRINT_NAME = 'bills-{index:04d}-of-{count:04d}.pdf'
PRINT_PATTERN = 'bills-%-of-%.pdf'


class BillRunPrintError(UserError):
    pass


class BillRun(JalaliMixin, Workflow, ModelSQL, ModelView):
    "Bill Run"
    __name__ = 'water.bill.run'
    _states = {'readonly': Eval('state') != 'draft'}

    company = fields.Many2One('company.company', "Company", required=True,
        states=_states)
    zone = fields.Many2One('water.zone', "Zone", states=_states,
        domain=[('company', '=', Eval('company', -1))],
        help="Leave empty to bill every zone.")
    date = fields.Date("Readings Until", required=True, states=_states,
        help="Accepted readings up to this date are billed.")
    date_jalali = JalaliDate("Readings Until (Jalali)")
    bill_date = fields.Date("Bill Date", required=True, states=_states,
        help="The date of the bills and of their invoices.")
    bill_date_jalali = JalaliDate("Bill Date (Jalali)")
    bills = fields.One2Many('water.bill', 'run', "Bills", readonly=True)
    errors = fields.One2Many('water.bill.run.error', 'run', "Errors",
        readonly=True)
    bill_count = fields.Function(fields.Integer("Bills"), 'get_counts')
    error_count = fields.Function(fields.Integer("Errors"), 'get_counts')
    pending_count = fields.Function(fields.Integer("To Bill"),
        'get_pending_count')
    state = fields.Selection([
            ('draft', "Draft"),
            ('running', "Running"),
            ('done', "Done"),
            ], "State", readonly=True, required=True, sort=False)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('bill_date', 'DESC'), ('id', 'DESC')]
        cls._transitions |= {
            ('draft', 'running'),
            ('running', 'done'),
            ('done', 'running'),
            }
        cls._buttons.update({
                'start': {
                    'invisible': Eval('state') != 'draft',
                    'depends': ['state'],
                    },
                'resume': {
                    'invisible': Eval('state') == 'draft',
                    'depends': ['state'],
                    },
                'print_bills': {
                    'invisible': Eval('bill_count', 0) == 0,
                    'depends': ['bill_count'],
                    },
                })

    @staticmethod
    def default_company():
        return Transaction().context.get('company')

    @staticmethod
    def default_state():
        return 'draft'

    @staticmethod
    def default_date():
        return Pool().get('ir.date').today()

    @staticmethod
    def default_bill_date():
        return Pool().get('ir.date').today()

    def get_rec_name(self, name):
        zone = self.zone.rec_name if self.zone else '*'
        return f'{zone} {self.date_jalali}'

    @classmethod
    def get_counts(cls, runs, names):
        pool = Pool()
        Bill = pool.get('water.bill')
        Error = pool.get('water.bill.run.error')
        cursor = Transaction().connection.cursor()
        result = {n: dict.fromkeys(map(int, runs), 0) for n in names}
        for name, Model in [('bill_count', Bill), ('error_count', Error)]:
            if name not in names:
                continue
            table = Model.__table__()
            for sub_ids in grouped_slice(
                    [r.id for r in runs], backend.MAX_QUERY_PARAMS):
                cursor.execute(*table.select(table.run, Count(table.id),
                        where=table.run.in_(list(sub_ids)),
                        group_by=table.run))
                result[name].update(cursor)
        return result

    def get_pending_count(self, name):
        return len(self.pending_readings())

    def pending_readings(self, exclude=None, limit=None):
        """Accepted readings the run bills and no bill has billed yet,
        but those of exclude"""
        Reading = Pool().get('water.reading')
        return Reading.search(self._pending_domain(exclude),
            order=PENDING_ORDER, limit=limit)

    def _pending_domain(self, exclude=None):
        Bill = Pool().get('water.bill')
        domain = [
            ('company', '=', self.company.id),
            ('state', '=', 'accepted'),
            ('date', '<=', self.date),
            ('consumption', '!=', None),
            ('subscription.state', '=', 'active'),
            ]
        if self.zone:
            domain.append(
                ('subscription.connection.parcel.zone', '=', self.zone.id))
        bill = Bill.__table__()
        domain.append(('id', 'not in', bill.select(bill.current_reading,
                    where=bill.current_reading != Null)))
        if exclude:
            domain.append(('id', 'not in', list(map(int, exclude))))
        return domain

    @classmethod
    @ModelView.button
    @Workflow.transition('running')
    def start(cls, runs):
        # running before processing, so that a run with nothing to bill
        # finishes at once instead of staying running
        cls.write(runs, {'state': 'running'})
        cls.process(runs)

    @classmethod
    @ModelView.button
    def resume(cls, runs):
        "Bill what a stopped or failed run left, without billing twice"
        cls.write(runs, {'state': 'running'})
        cls.process(runs)

    def chunks(self):
        """The ids of the pending readings in chunks; the readings of a
        subscription stay in one chunk, in date order"""
        Reading = Pool().get('water.reading')
        chunks, chunk, last = [], [], None
        # read as rows: records of every reading of a zone would be read
        # whole, and browsing them costs the square of their number
        for reading in Reading.search_read(self._pending_domain(),
                order=PENDING_ORDER, fields_names=['subscription']):
            if len(chunk) >= CHUNK and reading['subscription'] != last:
                chunks.append(chunk)
                chunk = []
            chunk.append(reading['id'])
            last = reading['subscription']
        if chunk:
            chunks.append(chunk)
        return chunks

    @classmethod
    def process(cls, runs):
        "Queue the pending readings of each run in chunks"
        for run in runs:
            chunks = run.chunks()
            for chunk in chunks:
                cls.__queue__.bill_chunk(run, chunk)
            if not chunks:
                cls.finish([run])

    @classmethod
    def bill_chunk(cls, run, reading_ids):
        """Bill the readings of one chunk: a bill per reading that the
        engine can bill, an error line per subscription that it cannot;
        readings billed meanwhile are skipped"""
        pool = Pool()
        Reading = pool.get('water.reading')
        Bill = pool.get('water.bill')
        Error = pool.get('water.bill.run.error')
        run = cls(int(run))
        if Transaction().context.get('company') != run.company.id:
            # a task has the context of whoever queued it; the bills take
            # the accounts and taxes of the run's company
            with Transaction().set_context(company=run.company.id):
                return cls.bill_chunk(run.id, reading_ids)
        Bill.lock_posting(run.company, run.bill_date)
        billed = {b.current_reading.id for b in Bill.search([
                    ('current_reading', 'in', reading_ids)])}
        readings = Reading.browse(
            [i for i in reading_ids if i not in billed])
        Error.delete(Error.search([
                    ('run', '=', run.id),
                    ('subscription', 'in',
                        list({r.subscription.id for r in readings})),
                    ]))
        failures = []
        bills = Bill.compute(readings, run.bill_date, errors=failures)
        for bill in bills:
            bill.run = run
        errors = [Error(run=run, subscription=reading.subscription,
                reading=reading, message=message)
            for reading, message in failures]
        Bill.set_debt(bills)
        Bill.save(bills)
        Bill.post(bills)
        Error.save(errors)
        # done when what is left waits for the staff to mend its error
        failed = {e.reading for e in Error.search([('run', '=', run.id)])}
        if not run.pending_readings(exclude=failed, limit=1):
            cls.finish([run])

    @classmethod
    @Workflow.transition('done')
    def finish(cls, runs):
        pass

    @classmethod
    @ModelView.button
    def print_bills(cls, runs):
        """Queue the printing of the bills of each run, a PDF per chunk
        attached to the run in place of those printed before"""
        pool = Pool()
        Attachment = pool.get('ir.attachment')
        BillReport = pool.get('water.bill.run', type='report')
        Attachment.delete(Attachment.search([
                    ('resource', 'in', [str(r) for r in runs]),
                    ('name', 'like', PRINT_PATTERN),
                    ]))
        for run in runs:
            chunks = list(grouped_slice(
                    [b.id for b in BillReport.get_bills([run])],
                    PRINT_CHUNK))
            for index, chunk in enumerate(chunks, 1):
                cls.__queue__.print_chunk(run, PRINT_NAME.format(
                        index=index, count=len(chunks)), list(chunk))

    @classmethod
    def print_chunk(cls, run, name, bill_ids):
        "Render the bills to PDF, attached to the run as name"
        pool = Pool()
        Attachment = pool.get('ir.attachment')
        Bill = pool.get('water.bill')
        BillReport = pool.get('water.bill', type='report')
        run = cls(int(run))
        Attachment(resource=run, name=name, type='data',
            data=BillReport.render_pdf(Bill.browse(bill_ids))).save()

    def printed_files(self):
        """The PDF attachments of the run's printed chunks in order; raise
        when some are missing"""
        Attachment = Pool().get('ir.attachment')
        files = Attachment.search([
                ('resource', '=', str(self)),
                ('name', 'like', PRINT_PATTERN),
                ], order=[('name', 'ASC')])
        count = int(files[0].name.split('-')[3][:4]) if files else None
        if not files or len(files) != count:
            raise BillRunPrintError(gettext(
                    'water_billing.msg_bill_run_not_printed',
                    run=self.rec_name))
        return files


class BillRunError(ModelSQL, ModelView):
    "Bill Run Error"
    __name__ = 'water.bill.run.error'
    run = fields.Many2One('water.bill.run', "Bill Run", required=True,
        ondelete='CASCADE')
    subscription = fields.Many2One('water.subscription', "Subscription",
        required=True, ondelete='CASCADE')
    reading = fields.Many2One('water.reading', "Reading",
        ondelete='CASCADE')
    message = fields.Text("Message", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('run')
