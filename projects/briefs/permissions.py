"""Who may do what to briefs, bids and contracts. Shared by the API and the web UI."""

from __future__ import annotations

from marketplace.models import User
from marketplace.selectors import user_company_id
from projects.briefs.models import Bid, Project


def is_company_member_of(user: User, company_id: int) -> bool:
    return user.is_authenticated and user_company_id(user=user) == company_id


def can_manage_project(user: User, project: Project) -> bool:
    """Members of the owning company edit, publish, cancel and read bids and matches."""
    return is_company_member_of(user, project.company_id)


def can_decide_bid(user: User, bid: Bid) -> bool:
    return is_company_member_of(user, bid.project.company_id)
