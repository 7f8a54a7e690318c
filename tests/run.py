#!/usr/bin/env python3
"""Run every test of the repository: each module's unit, Tryton and
scenario tests, and the cross-module tests of this folder.

SQLite in memory by default; PostgreSQL when TRYTOND_DATABASE__URI points
at one. Prints 'N passed, N failed, N skipped' and fails on any failure or
when no test ran."""
import glob
import os
import sys
import time
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODULES = ['water_crm', 'water_billing', 'water_payment_gateway']



def suite():
    loader = unittest.TestLoader()
    tests = unittest.TestSuite()
    selected = sys.argv[1:]
    for module in MODULES:
        for path in sorted(glob.glob(
                    os.path.join(ROOT, 'addons', module, 'tests', 'test_*.py'))):
            name = (f'trytond.modules.{module}.tests.'
                + os.path.basename(path)[:-3])
            if not selected or any(name.startswith(s) or s in name
                    for s in selected):
                tests.addTests(loader.loadTestsFromName(name))
    sys.path.insert(0, os.path.join(ROOT, 'tests'))
    for path in sorted(glob.glob(os.path.join(ROOT, 'tests', 'test_*.py'))):
        name = os.path.basename(path)[:-3]
        if not selected or any(s in name for s in selected):
            tests.addTests(loader.loadTestsFromName(name))
    return tests


def main():
    os.environ.setdefault('DB_CACHE', os.path.join(ROOT, 'var', 'cache'))
    os.makedirs(os.environ['DB_CACHE'], exist_ok=True)
    if os.environ.get('TRYTOND_DATABASE__URI', '').startswith('postgresql'):
        os.environ.setdefault('DB_NAME', f'test_{os.getpid()}')
    start = time.monotonic()
    result = unittest.TextTestRunner(verbosity=1).run(suite())
    failed = len(result.failures) + len(result.errors) + len(
        result.unexpectedSuccesses)
    skipped = len(result.skipped)
    passed = result.testsRun - failed - skipped
    print(f"\n{passed} passed, {failed} failed, {skipped} skipped "
        f"in {time.monotonic() - start:.0f}s")
    if failed or not result.testsRun:
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
