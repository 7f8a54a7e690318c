# This file is part of the water utility modules.
"""Normalisation of Persian input, free of the ORM."""

_DIGITS = str.maketrans(
    '۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩',
    '01234567890123456789')
_LETTERS = str.maketrans({
        'ي': 'ی',  # U+064A Arabic yeh
        'ى': 'ی',  # U+0649 alef maksura
        'ك': 'ک',  # U+0643 Arabic kaf
        })


def normalize_digits(text):
    "Replace Persian and Arabic-Indic digits by ASCII digits"
    return text.translate(_DIGITS)


def normalize_text(text):
    """Normalise digits and Arabic letters to their Persian forms and
    collapse surrounding spaces; ZWNJ is kept"""
    if text is None:
        return None
    return ' '.join(normalize_digits(text).translate(_LETTERS).split())
