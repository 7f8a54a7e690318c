# This file is part of the water utility modules.
"""Tests of `water check`, run in-process; no database needed."""
import io
import unittest
from contextlib import redirect_stderr, redirect_stdout

from trytond.modules.water_crm.cli import main


def water(*args):
    "Run the water command and return its exit code, stdout and stderr"
    stdout, stderr = io.StringIO(), io.StringIO()
    with redirect_stdout(stdout), redirect_stderr(stderr):
        try:
            code = main(list(args))
        except SystemExit as exit:
            code = exit.code
    return code, stdout.getvalue(), stderr.getvalue()


class CheckCommandTestCase(unittest.TestCase):
    "Test water check"

    def test_valid(self):
        "A valid value exits with 0 and prints its canonical form"
        for kind, value, canonical in [
                ('national-code', '۰۴۹۹۳۷۰۸۹۹', '0499370899'),
                ('mobile', '+98 912 123 4567', '09121234567'),
                ('phone', '(021) 8877-6655', '02188776655'),
                ('postal-code', '11936-53471', '1193653471'),
                ('geographic-code', '۱۹۰۰۴۲۰۰۷۱', '1900420071'),
                ('email', 'Ali@Example.com', 'ali@example.com'),
                ]:
            with self.subTest(kind=kind):
                self.assertEqual(
                    water('check', kind, value), (0, canonical + '\n', ''))

    def test_invalid(self):
        "An invalid value exits with 1 and prints the reason on stderr"
        for kind, value, reason in [
                ('national-code', '1111111111',
                    "National code cannot have all its digits the same."),
                ('national-code', '1234567890',
                    "National code has a wrong check digit."),
                ('mobile', '08121234567',
                    "Mobile number must be 09 followed by 9 digits."),
                ('phone', '88776655',
                    "Phone number must be 0, the area code and the number "
                    "(11 digits)."),
                ('postal-code', '142386473',
                    "Postal code must have 10 digits."),
                ('geographic-code', '190042007a',
                    "Geographic code must contain only digits."),
                ('email', 'ali@example', "E-mail address is not valid."),
                ]:
            with self.subTest(kind=kind, value=value):
                self.assertEqual(
                    water('check', kind, value), (1, '', reason + '\n'))

    def test_postal_code_warnings(self):
        "Postal code warnings are printed but the code is accepted"
        self.assertEqual(water('check', 'postal-code', '1234567890'), (
                0, '1234567890\n',
                "warning: The first 5 digits usually have no 0 or 2.\n"
                "warning: The 5th digit is usually not 5.\n"))

    def test_usage(self):
        "An unknown kind or a missing value is a usage error"
        code, stdout, stderr = water('check', 'iban', '123')
        self.assertEqual(code, 2)
        self.assertIn("invalid choice: 'iban'", stderr)
        code, stdout, stderr = water('check', 'mobile')
        self.assertEqual(code, 2)
        self.assertIn("VALUE", stderr)
