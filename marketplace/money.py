"""Money as integer minor units with an ISO 4217 currency code.

Amounts are never floats. Stripe's convention is followed: an amount is an
integer count of the currency's smallest unit (cents for EUR, yen for JPY).
Source: https://docs.stripe.com/currencies#zero-decimal
"""

from __future__ import annotations

from dataclasses import dataclass

from marketplace.errors import CurrencyMismatch, ValidationFailed

# Stripe's zero-decimal currencies: the amount is already in the major unit.
ZERO_DECIMAL_CURRENCIES = frozenset(
    {
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "JPY",
        "KMF",
        "KRW",
        "MGA",
        "PYG",
        "RWF",
        "UGX",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    }
)
# Currencies the marketplace accepts for briefs and bids.
SUPPORTED_CURRENCIES = ("EUR", "USD", "GBP", "CHF", "JPY")
CURRENCY_CHOICES = [(c, c) for c in SUPPORTED_CURRENCIES]

BPS_DENOMINATOR = 10_000


def minor_unit_exponent(currency: str) -> int:
    """Digits after the decimal point of `currency` (0 for JPY, 2 for EUR)."""
    return 0 if currency.upper() in ZERO_DECIMAL_CURRENCIES else 2


def bps_of(amount_minor: int, bps: int) -> int:
    """`amount_minor * bps / 10 000`, rounded half up to a whole minor unit.

    Integer arithmetic only. Half-up on non-negative amounts is the usual
    commercial rounding; the result is exact to the minor unit, so fee splits
    always add up (the remainder stays with the other side).
    """
    if amount_minor < 0 or bps < 0:
        raise ValueError("amount and bps must be non-negative")
    return (amount_minor * bps + BPS_DENOMINATOR // 2) // BPS_DENOMINATOR


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in minor units (`amount`) and an upper-case ISO 4217 code."""

    amount: int
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.amount, bool) or not isinstance(self.amount, int):
            raise TypeError("Money.amount must be an int of minor units")
        if len(self.currency) != 3 or not self.currency.isalpha() or not self.currency.isupper():
            raise ValueError("Money.currency must be an upper-case ISO 4217 code")

    def _check(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError("can only combine Money with Money")
        if other.currency != self.currency:
            raise CurrencyMismatch(f"{self.currency} and {other.currency} cannot be combined")

    def __add__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def format(self) -> str:
        """A human string such as `1,234.50 EUR` or `1,500 JPY`."""
        exp = minor_unit_exponent(self.currency)
        sign = "-" if self.amount < 0 else ""
        whole, frac = divmod(abs(self.amount), 10**exp) if exp else (abs(self.amount), 0)
        body = f"{whole:,}" + (f".{frac:0{exp}d}" if exp else "")
        return f"{sign}{body} {self.currency}"

    def __str__(self) -> str:
        return self.format()


# Stripe's minimum charge per currency, in minor units, and its eight-digit maximum.
# Source: https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts
MINIMUM_CHARGE = {"EUR": 50, "USD": 50, "GBP": 30, "CHF": 50, "JPY": 50}
MAXIMUM_CHARGE = 99_999_999


def amount_check(amount_minor: int, currency: str, *, field: str, one_charge: bool = True) -> None:
    """Refuse an amount a card payment could not carry, naming `field`.

    Raises ValidationFailed below the currency's minimum charge, or, when the
    amount is to be paid in `one_charge`, above the eight-digit maximum (minor
    units). A brief's budget or a bid may exceed it: they are paid in milestones.
    """
    low = MINIMUM_CHARGE.get(currency.upper(), 50)
    if amount_minor < low:
        raise ValidationFailed(
            f"The smallest amount is {Money(low, currency.upper()).format()}.", field=field
        )
    if one_charge and amount_minor > MAXIMUM_CHARGE:
        raise ValidationFailed(
            f"The largest amount is {Money(MAXIMUM_CHARGE, currency.upper()).format()}.",
            field=field,
        )
