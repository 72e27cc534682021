from __future__ import annotations

import pytest
from django import forms

from marketplace.admin import minor_units_parse, money_format


@pytest.mark.parametrize(
    "amount,currency,text",
    [
        (105_000, "EUR", "1,050.00 EUR"),
        (-4_050, "EUR", "-40.50 EUR"),
        (1_500, "JPY", "1,500 JPY"),
        (1_500, "jpy", "1,500 JPY"),
        (None, "EUR", "—"),
        (700, "", "700"),
    ],
)
def test_money_format(amount, currency, text):
    assert money_format(amount, currency) == text


@pytest.mark.parametrize(
    "text,currency,minor",
    [
        ("1050", "EUR", 105_000),
        ("1,050.5", "EUR", 105_050),
        (" 0.01 ", "EUR", 1),
        ("0", "EUR", 0),
        ("1500", "JPY", 1_500),
    ],
)
def test_minor_units_parse(text, currency, minor):
    assert minor_units_parse(text, currency) == minor


@pytest.mark.parametrize(
    "text,currency",
    [("abc", "EUR"), ("-1", "EUR"), ("0.001", "EUR"), ("1.5", "JPY"), ("NaN", "EUR")],
)
def test_minor_units_parse_refuses(text, currency):
    with pytest.raises(forms.ValidationError):
        minor_units_parse(text, currency)
