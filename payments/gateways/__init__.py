"""Gateway selection: `PAYMENT_GATEWAY`, `stripe` or `dummy` (`dummy` unless a Stripe key is set).

A dotted path to a class (`package.module.Gateway`) selects that class instead, e.g. a
test double that wraps the dummy gateway.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from payments.gateways.base import PaymentGateway


def get_gateway() -> PaymentGateway:
    """The configured gateway. Raises ImproperlyConfigured for an unknown name."""
    name = settings.PAYMENT_GATEWAY
    if name == "dummy":
        from payments.gateways.dummy import DummyGateway

        return DummyGateway()
    if name == "stripe":
        from payments.gateways.stripe import StripeGateway

        return StripeGateway()
    if "." in name:
        try:
            return import_string(name)()
        except ImportError as exc:
            raise ImproperlyConfigured(f"PAYMENT_GATEWAY {name!r} cannot be imported") from exc
    raise ImproperlyConfigured(f"Unknown PAYMENT_GATEWAY {name!r}; use stripe or dummy")
