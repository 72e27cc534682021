"""Gateway selection: `PAYMENT_GATEWAY` (`dummy` unless a Stripe key is set)."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from payments.gateways.base import PaymentGateway


def get_gateway() -> PaymentGateway:
    """The configured gateway. Raises ImproperlyConfigured for an unknown name."""
    name = settings.PAYMENT_GATEWAY
    if name == "dummy":
        from payments.gateways.dummy import DummyGateway

        return DummyGateway()
    raise ImproperlyConfigured(
        f"Unknown PAYMENT_GATEWAY {name!r}; the Stripe gateway is not built yet"
    )
