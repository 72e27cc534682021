"""The lifecycles of a contract, of a milestone's work and of a dispute (`marketplace.states`).

Contract: active → completed (every milestone's money released or refunded) or
cancelled; a dispute makes it disputed until staff settle it.
Milestone work (the money has its own lifecycle, the escrow's): pending →
submitted → approved, or changes_requested → submitted again.
Dispute: open → resolved.
"""

from __future__ import annotations

from marketplace.states import StateMachine, table
from projects.contracts.models import (
    Contract,
    ContractEvent,
    Dispute,
    DisputeEvent,
    Milestone,
    MilestoneEvent,
)

C = Contract.Status
W = Milestone.WorkStatus
D = Dispute.Status

CONTRACT_STATES: StateMachine[Contract] = StateMachine(
    model=Contract,
    transitions=table(
        {
            C.ACTIVE: {C.COMPLETED, C.CANCELLED, C.DISPUTED},
            C.DISPUTED: {C.ACTIVE, C.COMPLETED, C.CANCELLED},
            C.COMPLETED: set(),
            C.CANCELLED: set(),
        }
    ),
    event_model=ContractEvent,
    event_fk="contract",
    what="contract",
)

MILESTONE_STATES: StateMachine[Milestone] = StateMachine(
    model=Milestone,
    transitions=table(
        {
            W.PENDING: {W.SUBMITTED},
            W.SUBMITTED: {W.APPROVED, W.CHANGES_REQUESTED},
            W.CHANGES_REQUESTED: {W.SUBMITTED},
            W.APPROVED: set(),
        }
    ),
    event_model=MilestoneEvent,
    event_fk="milestone",
    what="milestone's work",
    status_field="work_status",
)

DISPUTE_STATES: StateMachine[Dispute] = StateMachine(
    model=Dispute,
    transitions=table({D.OPEN: {D.RESOLVED}, D.RESOLVED: set()}),
    event_model=DisputeEvent,
    event_fk="dispute",
    what="dispute",
)
