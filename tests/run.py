#!/usr/bin/env python3
"""Run every test of the repository: each module's unit, Tryton and
scenario tests, and the cross-module tests of this folder.

SQLite in memory by default; PostgreSQL when TRYTOND_DATABASE__URI points
at one. The test files are shared between processes (one more than cores),
each with its own database. Prints 'N passed, N failed, N skipped' and
fails on any failure or when no test ran.

    tests/run.py                 every test
    tests/run.py test_engine     the test files whose name has test_engine
"""
import glob
import hashlib
import os
import shutil
import subprocess
import sys
import time
import unittest

import hypothesis

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODULES = ['water_crm', 'water_billing', 'water_payment_gateway']
# One more process than cores: a test waits on the database a good part
# of its time
WORKERS = len(os.sched_getaffinity(0)) + 1
# Seconds after which the database cache of other module files goes
STALE = 24 * 3600


def test_names():
    "The dotted names of every test file, the longest-running first"
    names = []
    for module in MODULES:
        for path in sorted(glob.glob(os.path.join(
                        ROOT, 'addons', module, 'tests', 'test_*.py'))):
            names.append((f'trytond.modules.{module}.tests.'
                    + os.path.basename(path)[:-3], os.path.getsize(path)))
    for path in sorted(glob.glob(os.path.join(ROOT, 'tests', 'test_*.py'))):
        names.append((os.path.basename(path)[:-3], os.path.getsize(path)))
    return [n for n, _ in sorted(names, key=lambda n: -n[1])]


def run(names):
    "Run the tests of names in this process; return (passed, failed, skipped)"
    sys.path.insert(0, os.path.join(ROOT, 'tests'))
    # Property tests check rules, not speed: a machine busy with the other
    # process must not fail them
    hypothesis.settings.register_profile('water', deadline=None,
        suppress_health_check=[hypothesis.HealthCheck.too_slow])
    hypothesis.settings.load_profile('water')
    loader = unittest.TestLoader()
    suite = unittest.TestSuite()
    for name in names:
        suite.addTests(loader.loadTestsFromName(name))
    result = unittest.TextTestRunner(verbosity=1).run(suite)
    failed = len(result.failures) + len(result.errors) + len(
        result.unexpectedSuccesses)
    skipped = len(result.skipped)
    return result.testsRun - failed - skipped, failed, skipped


def fingerprint():
    """A digest of the modules' files: trytond names a cached database
    after its modules only, so a cache built from other files is stale"""
    digest = hashlib.sha1()
    for path in sorted(glob.glob(
                os.path.join(ROOT, 'addons', '**'), recursive=True)):
        if os.path.isfile(path) and '__pycache__' not in path:
            digest.update(os.path.relpath(path, ROOT).encode())
            with open(path, 'rb') as file:
                digest.update(file.read())
    return digest.hexdigest()[:16]


def cache_folder():
    """The database cache of the modules as they are, older ones left for
    a day to runs that may still use them"""
    base = os.environ.get('DB_CACHE') or os.path.join(ROOT, 'var', 'cache')
    folder = os.path.join(base, fingerprint())
    os.makedirs(folder, exist_ok=True)
    for entry in os.scandir(base):
        if (entry.is_dir() and entry.path != folder
                and time.time() - entry.stat().st_mtime > STALE):
            shutil.rmtree(entry.path, ignore_errors=True)
    return folder


def main(argv):
    postgresql = os.environ.get(
        'TRYTOND_DATABASE__URI', '').startswith('postgresql')
    start = time.monotonic()
    if argv and argv[0] == '--names':
        if postgresql:
            os.environ.setdefault('DB_NAME', f'test_{os.getpid()}')
        passed, failed, skipped = run(argv[1:])
        print(f"\n{passed} passed, {failed} failed, {skipped} skipped")
        return 0
    os.environ['DB_CACHE'] = cache_folder()
    # make exports the configuration of `make run` (its database, its
    # cors); a test sets the options it needs, and what reads the file
    # again (proteus, the water command) must not undo them
    os.environ.pop('TRYTOND_CONFIG', None)
    names = test_names()
    if argv:
        names = [n for n in names if any(s in n for s in argv)]
    # greedy split of the files, the biggest first, between the workers
    parts = [[] for _ in range(WORKERS)]
    for index, name in enumerate(names):
        parts[index % WORKERS].append(name)
    logs, processes = [], []
    for number, part in enumerate(p for p in parts if p):
        log = open(os.path.join(
                os.environ['DB_CACHE'], f'run-{number}.log'), 'w+')
        logs.append(log)
        # a cache per worker: two processes never build the same file
        cache = os.path.join(os.environ['DB_CACHE'], str(number))
        os.makedirs(cache, exist_ok=True)
        env = {**os.environ, 'DB_CACHE': cache}
        if postgresql and 'DB_NAME' in env:
            # one database each, also when the caller names them
            env['DB_NAME'] = f"{env['DB_NAME']}_{number}"
        processes.append(subprocess.Popen(
                [sys.executable, __file__, '--names', *part],
                stdout=log, stderr=subprocess.STDOUT, env=env))
    totals = [0, 0, 0]
    for process, log in zip(processes, logs):
        process.wait()
        log.seek(0)
        output = log.read()
        sys.stdout.write(output)
        counts = output.rstrip().splitlines()[-1].split() if output else []
        if len(counts) == 6 and counts[1] == 'passed,':
            for i in range(3):
                totals[i] += int(counts[2 * i])
        else:
            totals[1] += 1
            print(f"a test process ended abnormally ({process.returncode})")
    passed, failed, skipped = totals
    print(f"\n{passed} passed, {failed} failed, {skipped} skipped "
        f"in {time.monotonic() - start:.0f}s")
    return 1 if failed or not passed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
