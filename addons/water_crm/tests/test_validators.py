# This file is part of the water utility modules.
"""Tests of the Iranian validators; no database needed."""
import unittest

from hypothesis import given
from hypothesis import strategies as st

from trytond.modules.water_crm.validators import (
    InvalidValue, email, geographic_code, mobile, national_code,
    normalize_digits, normalize_text, phone, postal_code,
    postal_code_warnings)

PERSIAN = str.maketrans('0123456789', '۰۱۲۳۴۵۶۷۸۹')
ARABIC = str.maketrans('0123456789', '٠١٢٣٤٥٦٧٨٩')
ascii_digits = st.text(alphabet='0123456789', min_size=1, max_size=12)
DIGIT_VALIDATORS = [national_code, mobile, phone, postal_code,
    geographic_code]


def check_digit(nine):
    "The national code's check digit of its first nine digits"
    remainder = sum(int(d) * (10 - i) for i, d in enumerate(nine)) % 11
    return str(remainder if remainder < 2 else 11 - remainder)


def is_national_code(code):
    "Whether code is a valid national code according to the reference"
    return (len(code) == 10 and len(set(code)) > 1
        and code[9] == check_digit(code[:9]))


@st.composite
def number_like(draw):
    "Digits of any script with the prefixes and separators people type"
    prefix = draw(st.sampled_from(['', '+98', '0098', '98', '0']))
    digits = draw(st.text(
            alphabet='0123456789۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩', min_size=7,
            max_size=12))
    separators = draw(st.lists(
            st.sampled_from(['', '', '', ' ', '-', '\u200f']),
            min_size=len(digits), max_size=len(digits)))
    return prefix + ''.join(map(''.join, zip(digits, separators)))


valid_national_codes = st.text(
    alphabet='0123456789', min_size=9, max_size=9).map(
    lambda nine: nine + check_digit(nine)).filter(lambda c: len(set(c)) > 1)


class NormalizeTestCase(unittest.TestCase):
    "Test digits and letters normalisation"

    def test_digits(self):
        "Persian and Arabic-Indic digits become ASCII"
        self.assertEqual(normalize_digits('۰۱۲۳۴۵۶۷۸۹'), '0123456789')
        self.assertEqual(normalize_digits('٠١٢٣٤٥٦٧٨٩'), '0123456789')
        self.assertEqual(normalize_digits('قطعه ۴۲۰/۷۱'), 'قطعه 420/71')

    def test_letters(self):
        "Arabic yeh, alef maksura and kaf become Persian yeh and kaf"
        self.assertEqual(normalize_text('علي'), 'علی')
        self.assertEqual(normalize_text('مصطفى'), 'مصطفی')
        self.assertEqual(normalize_text('كاظم'), 'کاظم')

    def test_zwnj_kept(self):
        "ZWNJ is part of Persian spelling and is kept"
        self.assertEqual(
            normalize_text('  نیک\u200cپور   علي '), 'نیک\u200cپور علی')

    def test_none(self):
        "An empty field stays empty"
        self.assertIsNone(normalize_text(None))

    @given(st.text())
    def test_idempotent(self, text):
        "Normalising twice is normalising once"
        self.assertEqual(
            normalize_digits(normalize_digits(text)), normalize_digits(text))
        self.assertEqual(
            normalize_text(normalize_text(text)), normalize_text(text))

    @given(st.text())
    def test_no_persian_digit_left(self, text):
        "No Persian, Arabic-Indic digit, Arabic yeh or kaf is left"
        self.assertFalse(set(normalize_text(text)) & set(
                '۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩يىك'))


class InvalidValueTestCase(unittest.TestCase):
    "Test the exception of the validators"

    def test_attributes(self):
        "It is a ValueError with the field, the reason and the code"
        with self.assertRaises(ValueError) as context:
            national_code('1234567890')
        exception = context.exception
        self.assertIsInstance(exception, InvalidValue)
        self.assertEqual(exception.field, 'national_code')
        self.assertEqual(exception.code, 'checksum')
        self.assertEqual(str(exception), exception.reason)
        self.assertTrue(exception.reason.endswith('.'))


class NationalCodeTestCase(unittest.TestCase):
    "Test national code"

    def assertInvalid(self, value, code):
        with self.assertRaises(InvalidValue) as context:
            national_code(value)
        self.assertEqual(context.exception.code, code, value)

    def test_valid(self):
        "The reference's valid codes are accepted"
        for code in ['0499370899', '0790419904', '1583250689']:
            with self.subTest(code=code):
                self.assertEqual(national_code(code), code)

    def test_invalid(self):
        "The reference's invalid codes are rejected"
        for value, code in [
                ('1234567890', 'checksum'),
                ('0499370898', 'checksum'),
                ('1111111111', 'repeated'),
                ('04993708990', 'length'),
                ('1234567', 'length'),
                ('', 'length'),
                ('04993a0899', 'format'),
                ('O499370899', 'format'),
                ]:
            with self.subTest(value=value):
                self.assertInvalid(value, code)

    def test_nine_digits_invalid(self):
        "A wrong code of 9 digits is still rejected once padded"
        self.assertInvalid('049937089', 'checksum')

    def test_repeated(self):
        "All ten repeated-digit codes are rejected, though they pass mod 11"
        for digit in '0123456789':
            with self.subTest(digit=digit):
                self.assertTrue(check_digit(digit * 9) == digit)
                self.assertInvalid(digit * 10, 'repeated')

    def test_left_pad(self):
        "Codes that lost their leading zeros get them back"
        self.assertEqual(national_code('499370899'), '0499370899')
        self.assertEqual(national_code('84575948'), '0084575948')

    def test_persian_and_separators(self):
        "Persian and Arabic digits, spaces and dashes give the ASCII code"
        for value in ['۰۴۹۹۳۷۰۸۹۹', '٠٤٩٩٣٧٠٨٩٩', '049-937089-9',
                ' 0499 370 899 ', '۰۴۹-۹۳۷۰۸۹-۹', '\u200f0499370899']:
            with self.subTest(value=value):
                self.assertEqual(national_code(value), '0499370899')

    def test_other_unicode_digits(self):
        "Digits other than ASCII, Persian and Arabic are not digits here"
        self.assertInvalid('０４９９３７０８９９', 'format')  # full width
        self.assertInvalid('०४९९३७०८९९', 'format')  # Devanagari

    @given(valid_national_codes)
    def test_generated_valid(self, code):
        "Any code with the right check digit is accepted, in any script"
        self.assertEqual(national_code(code), code)
        self.assertEqual(national_code(code.translate(PERSIAN)), code)
        self.assertEqual(national_code(code.translate(ARABIC)), code)

    @given(valid_national_codes, st.integers(0, 9), st.integers(1, 9))
    def test_single_digit_change(self, code, position, shift):
        "Changing one digit gives a rejected code unless it is valid too"
        digit = str((int(code[position]) + shift) % 10)
        changed = code[:position] + digit + code[position + 1:]
        if is_national_code(changed):
            self.assertEqual(national_code(changed), changed)
        else:
            with self.assertRaises(InvalidValue):
                national_code(changed)


class MobileTestCase(unittest.TestCase):
    "Test mobile"

    def test_valid(self):
        "The reference's accepted forms give 09XXXXXXXXX"
        for value in ['09121234567', '+989121234567', '00989121234567',
                '989121234567', '9121234567', '۰۹۱۲۱۲۳۴۵۶۷',
                '٠٩١٢١٢٣٤٥٦٧', '0912 123 4567', '+98 (912) 123-4567']:
            with self.subTest(value=value):
                self.assertEqual(mobile(value), '09121234567')

    def test_invalid(self):
        "The reference's rejected forms are rejected"
        for value in ['0912123456', '091212345678', '08121234567',
                '+9809121234567', '0912123456a', '98912123456', '']:
            with self.subTest(value=value):
                with self.assertRaises(InvalidValue) as context:
                    mobile(value)
                self.assertEqual(context.exception.code, 'format')

    @given(st.text(alphabet='0123456789', min_size=9, max_size=9),
        st.sampled_from(['', '0', '98', '0098', '+98', '+98 ']))
    def test_prefixes(self, number, prefix):
        "Every prefix gives the same canonical number, in any script"
        canonical = '09' + number
        value = prefix + '9' + number
        self.assertEqual(mobile(value), canonical)
        self.assertEqual(mobile(value.translate(PERSIAN)), canonical)
        self.assertEqual(mobile(value.translate(ARABIC)), canonical)


class PhoneTestCase(unittest.TestCase):
    "Test phone"

    def test_landline(self):
        "A landline with its area code gives 0 and 10 digits"
        for value in ['02188776655', '021 8877 6655', '(021) 88776655',
                '021-88776655', '+982188776655', '00982188776655',
                '982188776655', '2188776655', '۰۲۱۸۸۷۷۶۶۵۵']:
            with self.subTest(value=value):
                self.assertEqual(phone(value), '02188776655')

    def test_mobile(self):
        "A mobile is a phone too"
        self.assertEqual(phone('+98 912 123 4567'), '09121234567')

    def test_invalid(self):
        "Numbers without area code or of the wrong length are rejected"
        for value in ['88776655', '021887766', '021887766551',
                '00218877665', '0218877665x', '']:
            with self.subTest(value=value):
                with self.assertRaises(InvalidValue) as context:
                    phone(value)
                self.assertEqual(context.exception.code, 'format')


class PostalCodeTestCase(unittest.TestCase):
    "Test postal code"

    def test_valid(self):
        "10 digits, in any script and grouped, are accepted"
        for value in ['1193653471', '11936-53471', '۱۱۹۳۶۵۳۴۷۱',
                '١١٩٣٦٥٣٤٧١']:
            with self.subTest(value=value):
                self.assertEqual(postal_code(value), '1193653471')
        self.assertEqual(postal_code_warnings('1193653471'), [])

    def test_invalid(self):
        "Only the number of digits and non-digits are errors"
        for value, code in [
                ('142386473', 'length'),
                ('11936534712', 'length'),
                ('119365347a', 'format'),
                ]:
            with self.subTest(value=value):
                with self.assertRaises(InvalidValue) as context:
                    postal_code(value)
                self.assertEqual(context.exception.code, code)
                with self.assertRaises(InvalidValue):
                    postal_code_warnings(value)

    def test_warnings(self):
        "The reference's heuristic rejects are accepted with warnings"
        for value, warnings in [
                ('1111111111', ["All the digits are the same."]),
                ('0423437584', [
                        "The first 5 digits usually have no 0 or 2."]),
                ('1193650000', ["The last 4 digits are usually not 0000."]),
                ('1193603471', ["The 6th digit is usually not 0."]),
                ('1234567890', [
                        "The first 5 digits usually have no 0 or 2.",
                        "The 5th digit is usually not 5."]),
                ]:
            with self.subTest(value=value):
                self.assertEqual(postal_code(value), value)
                self.assertEqual(postal_code_warnings(value), warnings)


class GeographicCodeTestCase(unittest.TestCase):
    "Test geographic code"

    def test_valid(self):
        "The parcel's code of 10 digits is accepted in any script"
        for value in ['1900420071', '۱۹۰۰۴۲۰۰۷۱', '1900 420 071']:
            with self.subTest(value=value):
                self.assertEqual(geographic_code(value), '1900420071')

    def test_invalid(self):
        "Other lengths and non-digits are rejected"
        for value, code in [
                ('190042007', 'length'),
                ('19004200711', 'length'),
                ('190042/071', 'format'),
                ]:
            with self.subTest(value=value):
                with self.assertRaises(InvalidValue) as context:
                    geographic_code(value)
                self.assertEqual(context.exception.code, code)


class EmailTestCase(unittest.TestCase):
    "Test e-mail"

    def test_valid(self):
        "An address is trimmed and put in lower case"
        self.assertEqual(
            email(' Ali.Rezaei@Example.COM '), 'ali.rezaei@example.com')
        self.assertEqual(email('a+b@mail.abfa.ir'), 'a+b@mail.abfa.ir')

    def test_invalid(self):
        "Addresses without user, domain or dot, or with spaces, are rejected"
        for value in ['ali', 'ali@', '@example.com', 'ali@example',
                'ali @example.com', 'ali@@example.com', 'ali@-example.com',
                'ali@example.com.', 'علی@example.com', '']:
            with self.subTest(value=value):
                with self.assertRaises(InvalidValue) as context:
                    email(value)
                self.assertEqual(context.exception.code, 'format')

    @given(st.emails())
    def test_generated(self, address):
        "Generated addresses are accepted in lower case"
        self.assertEqual(email(address), address.lower())


class CanonicalTestCase(unittest.TestCase):
    "Test that validators accept exactly what they return"

    @given(number_like() | valid_national_codes)
    def test_digit_validators(self, value):
        "A canonical value is ASCII digits and validates to itself"
        for validator in DIGIT_VALIDATORS:
            try:
                canonical = validator(value)
            except InvalidValue:
                continue
            self.assertRegex(canonical, r'\A[0-9]+\Z')
            self.assertEqual(validator(canonical), canonical)

    @given(ascii_digits)
    def test_scripts(self, value):
        "Persian and Arabic digits give the same result as ASCII digits"
        for validator in DIGIT_VALIDATORS:
            try:
                canonical = validator(value)
            except InvalidValue as exception:
                for script in [PERSIAN, ARABIC]:
                    with self.assertRaises(InvalidValue) as context:
                        validator(value.translate(script))
                    self.assertEqual(context.exception.code, exception.code)
            else:
                for script in [PERSIAN, ARABIC]:
                    self.assertEqual(
                        validator(value.translate(script)), canonical)

    @given(st.emails() | st.text())
    def test_email(self, value):
        "A canonical address validates to itself"
        try:
            canonical = email(value)
        except InvalidValue:
            return
        self.assertEqual(email(canonical), canonical)
