"""The escrow's lifecycle, the one table for every move of held money (`marketplace.states`).

awaiting_funding → funded → release_pending (approved: the transfer is asked
for, and waits while the payee's account is not ready or the gateway failed)
→ released; funded → refund_pending (the refund is asked for) → refunded. The
pending states are the recorded intent of a gateway write, committed before
the gateway is called (`payments.services.escrow`), so money never leaves
through Stripe while the escrow still says funded.
A dispute or a chargeback freezes held money; staff's split or the bank's
decision releases or refunds it, and a chargeback won returns it to where it
was (funded or release_pending). Money given back outside the platform (the
bank, Stripe's Dashboard) makes held money refunded.
"""

from __future__ import annotations

from marketplace.states import StateMachine, table
from payments.models import Escrow, EscrowEvent

S = Escrow.Status

ESCROW_STATES: StateMachine[Escrow] = StateMachine(
    model=Escrow,
    transitions=table(
        {
            S.AWAITING_FUNDING: {S.FUNDED},
            S.FUNDED: {S.RELEASE_PENDING, S.REFUND_PENDING, S.REFUNDED, S.FROZEN},
            S.RELEASE_PENDING: {S.RELEASED, S.REFUNDED, S.FROZEN},
            S.REFUND_PENDING: {S.REFUNDED},
            S.FROZEN: {S.FUNDED, S.RELEASE_PENDING, S.RELEASED, S.REFUNDED},
            S.RELEASED: set(),
            S.REFUNDED: set(),
        }
    ),
    event_model=EscrowEvent,
    event_fk="escrow",
    what="escrow",
)
