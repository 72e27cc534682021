"""What a user may do next with a brief or a bid, and why not (see `marketplace.policies`).

The one place the API (`actions` of a brief and a bid), the company's and the
student's pages read. Who: `projects.briefs.permissions`; when: the state
tables of `projects.briefs.states`; the other preconditions are those the
services of `projects.briefs.services` and `projects.contracts.services.bid_accept`
check (which check them again, under their locks).

No query per object: a brief reads its prefetched `allowed_schools`; whether a
student may bid reads a `BriefViewer` computed once per request (two queries
for a student, none for anyone else); whether a bid's student is still
verified reads the `student_verified` annotation of
`projects.briefs.selectors.bid_list_for_project` (one query without it).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from marketplace.models import User
from marketplace.policies import Action, Actions, allow, block, refuse
from projects.briefs.models import Bid, Project
from projects.briefs.permissions import can_decide_bid, can_manage_project
from projects.briefs.states import BID_STATES, PROJECT_STATES
from schools.selectors import verification_active_for, verified_school_ids_of

P = Project.Status
B = Bid.Status

BRIEF_ACTIONS = ("edit", "publish", "cancel", "bid", "view_bids", "view_matches")
BID_ACTIONS = ("withdraw", "shortlist", "reject", "accept")

# A brief's company edits it until work starts (`project_update`).
EDITABLE = frozenset({P.DRAFT, P.OPEN})

BRIEF_IS = {
    P.DRAFT: _("This brief is a draft."),
    P.OPEN: _("This brief is open to bids."),
    P.IN_PROGRESS: _("Work on this brief has started."),
    P.COMPLETED: _("This brief is completed."),
    P.CANCELLED: _("This brief is cancelled."),
}

BID_IS = {
    B.SUBMITTED: _("This bid is waiting for a decision."),
    B.SHORTLISTED: _("This bid is already shortlisted."),
    B.ACCEPTED: _("This bid was accepted."),
    B.REJECTED: _("This bid was declined."),
    B.WITHDRAWN: _("This bid was withdrawn."),
}


def _role(user: User) -> str | None:
    return getattr(user, "role", None)


@dataclass(frozen=True)
class BriefViewer:
    """What decides whether a student may bid, read once for all the briefs of a request.

    `school_ids`: the schools where they are verified today (none: not
    verified); `bid_on`: the briefs they already bid on.
    """

    is_student: bool
    school_ids: frozenset[int] = frozenset()
    bid_on: frozenset[int] = frozenset()


def brief_viewer(*, user: User) -> BriefViewer:
    """The `BriefViewer` of `user`: two queries for a student, none for anyone else."""
    if not user.is_authenticated or _role(user) != User.Role.STUDENT:
        return BriefViewer(is_student=False)
    return BriefViewer(
        is_student=True,
        school_ids=frozenset(verified_school_ids_of(user=user)),
        bid_on=frozenset(Bid.objects.filter(student=user).values_list("project_id", flat=True)),
    )


# --- brief -----------------------------------------------------------------------------------


def _edit(project: Project, user: User) -> Action:
    if not can_manage_project(user, project):
        return refuse("edit", _("Only the company that posted this brief can edit it."))
    if project.status not in EDITABLE:
        return refuse("edit", BRIEF_IS[project.status])
    return allow("edit")


def _publish(project: Project, user: User) -> Action:
    if not can_manage_project(user, project):
        return refuse("publish", _("Only the company that posted this brief can publish it."))
    if not PROJECT_STATES.can(project, P.OPEN):
        return refuse("publish", BRIEF_IS[project.status])
    restricted = project.visibility == Project.Visibility.SCHOOLS
    if restricted and not project.allowed_schools.all():
        return block("publish", _("Choose at least one school for a restricted brief."))
    if project.deadline is not None and project.deadline < timezone.localdate():
        return block("publish", _("The deadline has passed: move it before publishing."))
    return allow("publish")


def _cancel(project: Project, user: User) -> Action:
    if not can_manage_project(user, project):
        return refuse("cancel", _("Only the company that posted this brief can cancel it."))
    if not PROJECT_STATES.can(project, P.CANCELLED):
        return refuse("cancel", BRIEF_IS[project.status])
    if project.status == P.IN_PROGRESS:
        return block("cancel", _("Work on this brief started: cancel its contract instead."))
    return allow("cancel")


def _bid(project: Project, user: User, viewer: BriefViewer) -> Action:
    if not viewer.is_student:
        return refuse("bid", _("Only students can bid."))
    if project.pk in viewer.bid_on:
        return refuse("bid", _("You already bid on this brief."))
    if project.status != P.OPEN:
        return refuse("bid", _("This brief takes no bids."))
    if not viewer.school_ids:
        return block("bid", _("Only verified students can bid. Verify your student status first."))
    if project.visibility == Project.Visibility.SCHOOLS and not (
        viewer.school_ids & {s.pk for s in project.allowed_schools.all()}
    ):
        return refuse("bid", _("This brief is meant for students of other schools."))
    return allow("bid")


def _view_bids(project: Project, user: User) -> Action:
    if not (user.is_staff or can_manage_project(user, project)):
        return refuse("view_bids", _("Only the company that posted this brief reads its bids."))
    if project.status == P.DRAFT:
        return refuse("view_bids", _("Students bid once the brief is published."))
    return allow("view_bids")


def _view_matches(project: Project, user: User) -> Action:
    if not can_manage_project(user, project):
        return refuse(
            "view_matches", _("Only the company that posted this brief sees its matches.")
        )
    return allow("view_matches")


def brief_actions(*, project: Project, user: User, viewer: BriefViewer | None = None) -> Actions:
    """What `user` may do now with `project`: edit, publish, cancel, bid, view_bids, view_matches.

    `viewer` is `brief_viewer(user=user)`, computed once when deciding for
    many briefs (computed here when not given).
    """
    viewer = viewer if viewer is not None else brief_viewer(user=user)
    return Actions(
        [
            _edit(project, user),
            _publish(project, user),
            _cancel(project, user),
            _bid(project, user, viewer),
            _view_bids(project, user),
            _view_matches(project, user),
        ]
    )


# --- bid -------------------------------------------------------------------------------------


def _student_verified(bid: Bid) -> bool:
    annotated = getattr(bid, "student_verified", None)
    if annotated is not None:
        return bool(annotated)
    return verification_active_for(user=bid.student) is not None


def _withdraw(bid: Bid, user: User) -> Action:
    if not user.is_authenticated or bid.student_id != user.pk:
        return refuse("withdraw", _("Only the student who bid can withdraw."))
    if not BID_STATES.can(bid, B.WITHDRAWN):
        return refuse("withdraw", BID_IS[bid.status])
    return allow("withdraw")


def _decide(name: str, to: str, bid: Bid, user: User) -> Action | None:
    """The refusal shared by shortlist, reject and accept, or None when the move is open."""
    if not can_decide_bid(user, bid):
        return refuse(name, _("Only the company that posted the brief decides on its bids."))
    if not BID_STATES.can(bid, to):
        return refuse(name, BID_IS[bid.status])
    return None


def _accept(bid: Bid, user: User) -> Action:
    refused = _decide("accept", B.ACCEPTED, bid, user)
    if refused is not None:
        return refused
    if not PROJECT_STATES.can(bid.project, P.IN_PROGRESS):
        return block("accept", BRIEF_IS[bid.project.status])
    if not _student_verified(bid):
        return block("accept", _("This student's verification is no longer in force."))
    return allow("accept")


def bid_actions(*, bid: Bid, user: User) -> Actions:
    """What `user` may do now with `bid`: withdraw, shortlist, reject, accept."""
    return Actions(
        [
            _withdraw(bid, user),
            _decide("shortlist", B.SHORTLISTED, bid, user) or allow("shortlist"),
            _decide("reject", B.REJECTED, bid, user) or allow("reject"),
            _accept(bid, user),
        ]
    )
