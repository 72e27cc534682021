"""The lifecycle of an enrolment verification (`marketplace.states`).

pending_email → pending_review (the school address confirmed) → verified
(the coordinator approved) → expired (graduation passed) or revoked; a request
may be rejected before it is verified.
"""

from __future__ import annotations

from marketplace.states import StateMachine, table
from schools.models import EnrolmentVerification, VerificationEvent

V = EnrolmentVerification.Status

VERIFICATION_STATES: StateMachine[EnrolmentVerification] = StateMachine(
    model=EnrolmentVerification,
    transitions=table(
        {
            V.PENDING_EMAIL: {V.PENDING_REVIEW, V.REJECTED},
            V.PENDING_REVIEW: {V.VERIFIED, V.REJECTED},
            V.VERIFIED: {V.EXPIRED, V.REVOKED},
            V.REJECTED: set(),
            V.EXPIRED: set(),
            V.REVOKED: set(),
        }
    ),
    event_model=VerificationEvent,
    event_fk="verification",
    what="verification",
    note_field="reason",
)
