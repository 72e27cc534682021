"""Template filters of the web pages: `{% load frontend %}`."""

from __future__ import annotations

from django import template

from frontend.labels import BAD, CATEGORY_LABELS, GOOD, KIND_LABELS, STATUS_LABELS
from frontend.money import format_money

register = template.Library()


@register.filter
def money(amount_minor: int | None, currency: str) -> str:
    """`{{ project.budget_cents|money:project.currency }}` → "€1,800.00" / "1 800,00 €"."""
    if amount_minor is None or amount_minor == "":
        return ""
    return format_money(int(amount_minor), currency)


@register.filter
def status(value: str) -> str:
    """A state in words: `{{ project.status|status }}` → "In progress"."""
    return str(STATUS_LABELS.get(value, value))


@register.filter
def status_tone(value: str) -> str:
    """The badge class of a state: `ok`, `bad` or none."""
    return "ok" if value in GOOD else "bad" if value in BAD else ""


@register.filter
def category(value: str) -> str:
    return str(CATEGORY_LABELS.get(value, value))


@register.filter
def kind(value: str) -> str:
    return str(KIND_LABELS.get(value, value))
