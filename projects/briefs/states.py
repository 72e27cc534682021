"""The lifecycles of a brief and of a bid (see `marketplace.states`).

Brief: draft → open → in_progress → completed, or cancelled before completion.
Bid: submitted → shortlisted → accepted | rejected; withdrawn while still open.
"""

from __future__ import annotations

from marketplace.states import StateMachine, table
from projects.briefs.models import Bid, BidEvent, Project, ProjectEvent

P = Project.Status
B = Bid.Status

PROJECT_STATES: StateMachine[Project] = StateMachine(
    model=Project,
    transitions=table(
        {
            P.DRAFT: {P.OPEN, P.CANCELLED},
            P.OPEN: {P.IN_PROGRESS, P.CANCELLED},
            P.IN_PROGRESS: {P.COMPLETED, P.CANCELLED},
            P.COMPLETED: set(),
            P.CANCELLED: set(),
        }
    ),
    event_model=ProjectEvent,
    event_fk="project",
    what="brief",
)

BID_STATES: StateMachine[Bid] = StateMachine(
    model=Bid,
    transitions=table(
        {
            B.SUBMITTED: {B.SHORTLISTED, B.ACCEPTED, B.REJECTED, B.WITHDRAWN},
            B.SHORTLISTED: {B.ACCEPTED, B.REJECTED, B.WITHDRAWN},
            B.ACCEPTED: set(),
            B.REJECTED: set(),
            B.WITHDRAWN: set(),
        }
    ),
    event_model=BidEvent,
    event_fk="bid",
    what="bid",
)
