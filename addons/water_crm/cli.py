# This file is part of the water utility modules.
"""The `water` command: set up a database, load the demo, and the
product's tools (each module adds its own sub-commands)."""
import argparse
import hashlib
import importlib
import os
import subprocess
import sys
from importlib.metadata import entry_points

MODULES = ['water_crm', 'water_billing', 'water_payment_gateway']


def _config_file(options):
    return options.config or os.environ.get('TRYTOND_CONFIG')


def _load_config(options):
    from trytond import config
    path = _config_file(options)
    if path:
        config.update_etc(path)
    return config


def _database_exists(name):
    from trytond import backend
    database = backend.Database().connect()
    try:
        return name in database.list()
    finally:
        database.close()


def _create_database(name):
    from trytond import backend
    from trytond import config
    if backend.name == 'sqlite':
        path = os.path.join(
            os.path.expanduser(config.get('database', 'path')),
            name + '.sqlite')
        if not os.path.exists(path):
            open(path, 'a').close()
        return
    database = backend.Database().connect()
    connection = database.get_connection(autocommit=True)
    try:
        database.create(connection, name)
    finally:
        database.put_connection(connection)
        database.close()


def _is_initialised(name):
    from trytond import backend
    database = backend.Database(name).connect()
    try:
        return database.test()
    finally:
        database.close()


def _modules_fingerprint():
    "A hash of every file that trytond-admin -u reads from our modules"
    digest = hashlib.sha256()
    for module in MODULES:
        package = importlib.import_module(f'trytond.modules.{module}')
        root = os.path.dirname(package.__file__)
        for folder, dirs, files in sorted(os.walk(root)):
            dirs[:] = sorted(d for d in dirs if d not in {
                    'tests', '__pycache__', 'static', 'templates'})
            for filename in sorted(files):
                if filename.endswith(('.py', '.xml', '.cfg', '.po')):
                    path = os.path.join(folder, filename)
                    digest.update(path[len(root):].encode())
                    with open(path, 'rb') as fp:
                        digest.update(fp.read())
    return digest.hexdigest()


_LOCKS = {}


def learn(exception, extras):
    """Make the next start of a transaction take the lock exception asked
    for. Records are locked through their whole table: a transaction that
    creates them (a move line it then reconciles) asks for new ids at each
    start and would never get them up front."""
    from trytond.transaction import _TransactionLockRecordsError
    if isinstance(exception, _TransactionLockRecordsError):
        tables = extras.setdefault('_lock_tables', [])
        if exception._table not in tables:
            tables.append(exception._table)
    else:
        exception.fix(extras)


def in_transaction(options, func, commit=True):
    """Return func() called in a transaction on the database of the options
    as the admin user, with his preferences (company, language) as context.
    The transaction restarts when Tryton asks to lock records first, and
    commits only if commit is true and func raised nothing."""
    from trytond.pool import Pool
    from trytond.transaction import Transaction, TransactionError
    _load_config(options)
    pool = Pool(options.database)
    with Transaction().start(options.database, 0, readonly=True):
        pool.init()
        User = pool.get('res.user')
        admin, = User.search([('login', '=', 'admin')])
        context = User._get_preferences(admin, context_only=True)
    # the records a transaction had to lock (the invoice and move
    # sequences...) are locked up front by the next ones
    extras = _LOCKS.setdefault(options.database, {})
    while True:
        with Transaction().start(options.database, admin.id,
                context=context, **extras) as transaction:
            try:
                result = func()
            except TransactionError as exception:
                transaction.rollback()
                learn(exception, extras)
                continue
            if not commit:
                transaction.rollback()
            return result


def _admin(options, *args, env=None):
    command = [os.path.join(os.path.dirname(sys.executable), 'trytond-admin')]
    if _config_file(options):
        command += ['-c', _config_file(options)]
    command += ['-d', options.database, *args]
    print('+', ' '.join(command), flush=True)
    subprocess.run(command, check=True, env={**os.environ, **(env or {})})


def setup(options):
    """Create the database if needed, activate the modules (again when
    their files changed), then set up the company and, unless --no-demo,
    the demo data. Safe to run again: nothing is duplicated."""
    config = _load_config(options)
    name = options.database
    if not _database_exists(name):
        print(f"Creating database {name}", flush=True)
        _create_database(name)
    if not _is_initialised(name):
        passfile = options.password_file
        _admin(options, '--all', '-l', 'fa', '--email', options.email,
            env={'TRYTONPASSFILE': passfile} if passfile else None)
    stamp = options.stamp
    fingerprint = _modules_fingerprint()
    if not stamp or not os.path.exists(stamp) or open(stamp).read() != (
            name + ':' + fingerprint):
        _admin(options, '-u', *MODULES, '--activate-dependencies',
            '-l', 'fa')
        if stamp:
            with open(stamp, 'w') as fp:
                fp.write(name + ':' + fingerprint)

    from proteus import config as pconfig
    proteus_config = pconfig.set_trytond(
        database=name, config_file=_config_file(options))
    for module in MODULES:
        try:
            install = importlib.import_module(
                f'trytond.modules.{module}.install')
        except ModuleNotFoundError:
            continue
        install.setup(proteus_config, options)
    if options.demo:
        for module in MODULES:
            try:
                install = importlib.import_module(
                    f'trytond.modules.{module}.install')
            except ModuleNotFoundError:
                continue
            if hasattr(install, 'demo'):
                install.demo(proteus_config, options)
    print(f"Database {name} is ready ({config.get('database', 'uri')})")


def _add_setup(subparsers):
    parser = subparsers.add_parser('setup', help=setup.__doc__.split('.')[0])
    parser.add_argument('--email', default='admin@example.com',
        help="e-mail of the admin user (first run only)")
    parser.add_argument('--password-file',
        default=os.environ.get('TRYTONPASSFILE'),
        help="file holding the admin password (first run only)")
    parser.add_argument('--company', default="شرکت آب منطقه گردشگری",
        help="name of the company (first run only)")
    parser.add_argument('--demo', action=argparse.BooleanOptionalAction,
        default=False, help="load the demo data")
    parser.add_argument('--demo-size', type=int, default=2000,
        help="subscribers in the generated demo zone")
    parser.add_argument('--stamp',
        help="file remembering which module files were activated")
    parser.set_defaults(func=setup)


def parser():
    parser = argparse.ArgumentParser(prog='water',
        description="Tools of the water utility's customer system")
    parser.add_argument('-c', '--config', help="trytond configuration file")
    parser.add_argument('-d', '--database',
        default=os.environ.get('TRYTOND_WATER__DATABASE', 'water'),
        help="database name (default: water)")
    subparsers = parser.add_subparsers(required=True, dest='command')
    _add_setup(subparsers)
    for entry_point in entry_points(group='water.commands'):
        entry_point.load()(subparsers)
    return parser


def main(argv=None):
    options = parser().parse_args(argv)
    if options.command != 'setup':
        _load_config(options)
    return options.func(options) or 0


if __name__ == '__main__':
    sys.exit(main())
