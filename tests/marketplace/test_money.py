from __future__ import annotations

import pytest

from marketplace.errors import CurrencyMismatch, ValidationFailed
from marketplace.money import Money, bps_of, minor_unit_exponent


@pytest.mark.parametrize("amount", [1.0, 0.5, 10.25, True, False, "100", None])
def test_money_refuses_anything_but_an_int_amount(amount):
    with pytest.raises(TypeError):
        Money(amount, "EUR")


@pytest.mark.parametrize("currency", ["eur", "EURO", "EU", "E1R", ""])
def test_money_refuses_a_currency_that_is_not_an_upper_case_iso_code(currency):
    with pytest.raises(ValueError):
        Money(100, currency)


def test_money_adds_and_subtracts_in_one_currency():
    assert Money(2500, "EUR") + Money(100, "EUR") == Money(2600, "EUR")
    assert Money(2500, "EUR") - Money(2600, "EUR") == Money(-100, "EUR")
    assert -Money(2500, "EUR") == Money(-2500, "EUR")


@pytest.mark.parametrize("op", ["add", "sub"])
def test_money_refuses_mixed_currencies(op):
    eur, usd = Money(2500, "EUR"), Money(100, "USD")
    with pytest.raises(CurrencyMismatch) as exc:
        eur + usd if op == "add" else eur - usd
    assert isinstance(exc.value, ValidationFailed)
    assert exc.value.code == "currency_mismatch"


def test_money_refuses_combining_with_a_plain_int():
    with pytest.raises(TypeError):
        Money(100, "EUR") + 1


def test_money_is_immutable():
    money = Money(100, "EUR")
    with pytest.raises(AttributeError):
        money.amount = 200


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (0, "EUR", "0.00 EUR"),
        (5, "EUR", "0.05 EUR"),
        (123450, "EUR", "1,234.50 EUR"),
        (100_000_000, "EUR", "1,000,000.00 EUR"),
        (-5, "EUR", "-0.05 EUR"),
        (-123456, "EUR", "-1,234.56 EUR"),
        (1500, "JPY", "1,500 JPY"),
        (7, "JPY", "7 JPY"),
        (-1500, "JPY", "-1,500 JPY"),
        (99, "USD", "0.99 USD"),
    ],
)
def test_money_format(amount, currency, expected):
    assert Money(amount, currency).format() == expected
    assert str(Money(amount, currency)) == expected


@pytest.mark.parametrize(("currency", "exponent"), [("EUR", 2), ("USD", 2), ("JPY", 0), ("krw", 0)])
def test_minor_unit_exponent(currency, exponent):
    assert minor_unit_exponent(currency) == exponent


@pytest.mark.parametrize(
    ("amount", "bps", "expected"),
    [
        (0, 500, 0),
        (10, 500, 1),  # 0.5 rounds half up to 1
        (9, 500, 0),  # 0.45 rounds down
        (11, 500, 1),  # 0.55
        (29, 500, 1),  # 1.45
        (30, 500, 2),  # 1.5
        (1, 500, 0),  # one cent at 5 %
        (1, 5000, 1),  # 0.5
        (1, 4999, 0),  # 0.4999
        (1, 10_000, 1),
        (19, 250, 0),  # 0.475
        (20, 250, 1),  # 0.5
        (5000, 1, 1),  # 0.5 at one basis point
        (4999, 1, 0),  # 0.4999
        (10_000, 1000, 1000),
        (150_000, 500, 7500),
        (999_999_999, 1000, 100_000_000),  # 99 999 999.9
        (10**15, 500, 5 * 10**13),
        (10**15 + 10, 500, 5 * 10**13 + 1),  # … + 0.5
        (10**15 + 9, 500, 5 * 10**13),  # … + 0.45
        (123, 0, 0),
    ],
)
def test_bps_of_rounds_half_up(amount, bps, expected):
    assert bps_of(amount, bps) == expected


@pytest.mark.parametrize(("amount", "bps"), [(-1, 500), (100, -1)])
def test_bps_of_refuses_negative_inputs(amount, bps):
    with pytest.raises(ValueError):
        bps_of(amount, bps)


@pytest.mark.parametrize(
    ("company_fee_bps", "commission_bps"),
    [(500, 1000), (0, 0), (333, 777), (1, 9999), (10_000, 10_000), (250, 0)],
)
def test_charged_equals_payee_share_plus_revenue_for_every_amount(company_fee_bps, commission_bps):
    for amount in [*range(1, 3001), 10**9 + 7, 10**12 + 5]:
        fee = bps_of(amount, company_fee_bps)
        commission = bps_of(amount, commission_bps)
        charged = Money(amount + fee, "EUR")
        payee_share = Money(amount - commission, "EUR")
        revenue = Money(fee + commission, "EUR")
        assert 0 <= commission <= amount
        assert charged == payee_share + revenue, amount
