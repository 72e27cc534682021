from __future__ import annotations

from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import translation

from frontend.money import format_money, from_minor, to_minor


def _plain(text: str) -> str:
    # Babel separates with (narrow) no-break spaces, as typography wants.
    return text.replace("\u202f", " ").replace("\xa0", " ")


@pytest.mark.parametrize(
    ("language", "cents", "currency", "shown"),
    [
        ("fr", 180_000, "EUR", "1 800,00 €"),
        ("en", 180_000, "EUR", "€1,800.00"),
        ("en", 1_500, "JPY", "¥1,500"),
        ("en", 5, "USD", "$0.05"),
        ("en", -12_345, "EUR", "-€123.45"),
        ("fr", 99_999_999_999, "EUR", "999 999 999,99 €"),
    ],
)
def test_money_is_formatted_per_language_from_integer_minor_units(language, cents, currency, shown):
    assert _plain(format_money(cents, currency, language=language)) == shown


def test_the_template_filter_follows_the_active_language():
    template = Template("{% load frontend %}{{ cents|money:currency }}")
    with translation.override("fr"):
        assert _plain(template.render(Context({"cents": 1_99, "currency": "EUR"}))) == "1,99 €"
    with translation.override("en"):
        assert template.render(Context({"cents": 1_99, "currency": "EUR"})) == "€1.99"


def test_amounts_convert_exactly_between_decimal_and_minor_units():
    assert from_minor(180_050, "EUR") == Decimal("1800.50")
    assert to_minor(Decimal("1800.5"), "EUR") == 180_050
    assert to_minor(Decimal("0.29"), "EUR") == 29
    assert to_minor(Decimal("1500"), "JPY") == 1500
    with pytest.raises(ValueError, match="decimals"):
        to_minor(Decimal("10.005"), "EUR")
    with pytest.raises(ValueError, match="decimals"):
        to_minor(Decimal("10.5"), "JPY")
