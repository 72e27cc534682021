"""An escrow on its own (no contract), built and moved through the payment services."""

from __future__ import annotations

import itertools

from marketplace.models import Company, User
from payments.models import Escrow
from payments.services.escrow import escrow_create
from payments.services.funding import escrow_fund
from payments.services.refunds import escrow_refund
from payments.services.releases import escrow_release
from tests.factories import CompanyFactory, StudentFactory

S = Escrow.Status
_numbers = itertools.count(1)


def make_escrow(
    *,
    company: Company | None = None,
    payee: User | None = None,
    amount_cents: int = 10_000,
    currency: str = "EUR",
    reference: str | None = None,
    status: str = S.AWAITING_FUNDING,
    actor: User | None = None,
) -> Escrow:
    """`escrow_create`, then the services that reach `status`, each acting as `actor`.

    Fees come from the settings. FUNDED is paid with `pm_card_visa`; RELEASE_PENDING
    and RELEASED are released (which of the two depends on the payee's payout
    account, set it up first); REFUNDED is funded then refunded. A new company and
    student stand in when none is given.
    """
    escrow = escrow_create(
        reference=reference or f"milestone:{next(_numbers)}",
        company=company or CompanyFactory(),
        payee=payee or StudentFactory(),
        amount_cents=amount_cents,
        currency=currency,
    )
    if status == S.AWAITING_FUNDING:
        return escrow
    escrow_fund(escrow_id=escrow.pk, actor=actor, payment_method="pm_card_visa")
    if status in (S.RELEASE_PENDING, S.RELEASED):
        escrow_release(escrow_id=escrow.pk, actor=actor)
    elif status == S.REFUNDED:
        escrow_refund(escrow_id=escrow.pk, actor=actor)
    escrow.refresh_from_db()
    assert escrow.status == status, f"asked for a {status} escrow, got {escrow.status}"
    return escrow
