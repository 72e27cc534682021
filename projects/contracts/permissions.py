"""Who may do what to briefs, bids and contracts. Shared by the API and the web UI."""

from __future__ import annotations

from marketplace.models import User
from projects.briefs.permissions import is_company_member_of
from projects.contracts.models import Contract


def is_contract_company(user: User, contract: Contract) -> bool:
    return is_company_member_of(user, contract.company_id)


def is_contract_student(user: User, contract: Contract) -> bool:
    return user.is_authenticated and contract.student_id == user.pk
