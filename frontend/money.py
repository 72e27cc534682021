"""Money at the edge of the web pages: integer minor units in, formatted text out.

Amounts stay integers of the currency's minor unit everywhere else; here they
become `Decimal`s (never floats) only to be formatted per language with Babel,
or parsed from what a person typed.
"""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import format_currency
from django.utils.translation import get_language, to_locale

from marketplace.money import minor_unit_exponent


def from_minor(amount_minor: int, currency: str) -> Decimal:
    """`180000, "EUR"` → `Decimal("1800.00")`; `1500, "JPY"` → `Decimal("1500")`."""
    return Decimal(amount_minor).scaleb(-minor_unit_exponent(currency))


def to_minor(amount: Decimal, currency: str) -> int:
    """`Decimal("1800.5"), "EUR"` → `180050`. Raises ValueError for a fraction of a minor unit."""
    scaled = amount.scaleb(minor_unit_exponent(currency))
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{amount} has more decimals than {currency} allows")
    return int(scaled)


def format_money(amount_minor: int, currency: str, *, language: str | None = None) -> str:
    """The amount as the active language writes it: `€1,800.00` (en), `1 800,00 €` (fr)."""
    locale = to_locale(language or get_language() or "en")
    return format_currency(from_minor(amount_minor, currency), currency.upper(), locale=locale)
