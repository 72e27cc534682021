"""What a user may do next with a contract or a milestone, and why not (`marketplace.policies`).

The one place the API (`actions` of a contract and a milestone), the
company's and the student's contract pages and the admin read. Who:
`projects.contracts.permissions`; when: the state tables of
`projects.contracts.states` and `payments.states` (the escrow's, for the
money); the other preconditions are those `projects.contracts.services` checks
(again, under its locks).

Apps above this one add the actions they own through
`contract_action_register` (the reviews app decides `review`), with the
relations their rule reads, which `contract_list` prefetches.

No query per object: a contract reads its prefetched milestones (with their
escrow and disputes), a milestone its contract, escrow and disputes as
`contract_list` and `milestone_visible_to` fetch them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.db.models import Prefetch
from django.utils.translation import gettext_lazy as _

from marketplace.models import User
from marketplace.policies import Action, Actions, allow, block, refuse
from payments.models import Escrow
from payments.states import ESCROW_STATES
from projects.contracts.models import Contract, Dispute, Milestone
from projects.contracts.permissions import is_contract_company, is_contract_student
from projects.contracts.states import CONTRACT_STATES, DISPUTE_STATES, MILESTONE_STATES

C = Contract.Status
W = Milestone.WorkStatus
S = Escrow.Status

CONTRACT_ACTIONS = ("cancel", "message", "review", "view_ledger")
MILESTONE_ACTIONS = ("fund", "submit", "approve", "request_changes", "dispute")

CONTRACT_IS = {
    C.ACTIVE: _("The contract is active."),
    C.COMPLETED: _("The contract is completed."),
    C.CANCELLED: _("The contract is cancelled."),
    C.DISPUTED: _("A dispute is open on this contract: the platform's staff settle it first."),
}

WORK_IS = {
    W.PENDING: _("Nothing was delivered yet."),
    W.SUBMITTED: _("The delivery is waiting for the company's review."),
    W.CHANGES_REQUESTED: _("Changes were asked for: a new delivery is awaited."),
    W.APPROVED: _("This delivery was approved."),
}

ESCROW_IS = {
    S.AWAITING_FUNDING: _("The company has not paid this milestone into escrow yet."),
    S.FUNDED: _("This milestone is already paid into escrow."),
    S.RELEASE_PENDING: _("This milestone's money is approved and waits for the payout account."),
    S.FROZEN: _("This milestone's money is frozen until the platform's staff settle it."),
    S.REFUND_PENDING: _("This milestone's money is being refunded to the company."),
    S.RELEASED: _("This milestone's money was paid to the student."),
    S.REFUNDED: _("This milestone's money was refunded to the company."),
}

DISPUTE_OPEN = _("A dispute is open on this milestone: the platform's staff settle it first.")
WAIT_FOR_FUNDING = _(
    "The company has not paid this milestone into escrow yet: wait before you start."
)

# Money that left the company's hands for good, or is held by a dispute: no cancelling then.
MONEY_COMMITTED = frozenset({S.RELEASE_PENDING, S.RELEASED, S.FROZEN})

# A contract whose milestones' work goes on: a dispute over one milestone freezes that
# milestone's money (its escrow), not the work on the others.
WORK_GOES_ON = frozenset({C.ACTIVE, C.DISPUTED})


def milestone_money_held(milestone: Milestone) -> bool:
    """Whether the work of `milestone` may still move: delivered, approved, sent back.

    Its contract goes on (`WORK_GOES_ON`, not completed or cancelled) and its
    money is held in escrow: funded, neither frozen by a dispute nor on its
    way out (released, refunded or pending either). The one rule `_submit`,
    `_approve` and `_request_changes` here and the services
    `milestone_submit`, `milestone_approve` and `milestone_request_changes`
    read (the services under the milestone's lock).
    """
    return milestone.contract.status in WORK_GOES_ON and milestone.escrow.status == S.FUNDED


def _party(user: User, contract: Contract) -> bool:
    return is_contract_company(user, contract) or is_contract_student(user, contract)


def _open_dispute(milestone: Milestone) -> bool:
    return any(d.status == Dispute.Status.OPEN for d in milestone.disputes.all())


# --- actions other apps decide -----------------------------------------------------------------


@dataclass(frozen=True)
class ContractActionRule:
    """An action on a contract decided by an app above this one (reviews: `review`).

    `decide(contract, user)` answers the Action; `prefetch()` names the
    relations it reads (fresh `Prefetch` objects), which `contract_list` fetches
    for a whole page at once.
    """

    name: str
    decide: Callable[[Contract, User], Action]
    prefetch: Callable[[], Sequence[str | Prefetch]] = tuple


_RULES: dict[str, ContractActionRule] = {}


def contract_action_register(
    name: str,
    decide: Callable[[Contract, User], Action],
    *,
    prefetch: Callable[[], Sequence[str | Prefetch]] = tuple,
) -> None:
    """Let an app decide the contract action `name` (called from its AppConfig.ready)."""
    if name not in CONTRACT_ACTIONS:
        raise ValueError(f"Unknown contract action {name!r}.")
    _RULES[name] = ContractActionRule(name, decide, prefetch)


def contract_action_prefetches() -> list[str | Prefetch]:
    """What the registered rules read, for `contract_list` to prefetch."""
    return [item for rule in _RULES.values() for item in rule.prefetch()]


def _registered(name: str, contract: Contract, user: User) -> Action:
    rule = _RULES.get(name)
    if rule is None:
        return refuse(name, _("This is not available."))
    return rule.decide(contract, user)


# --- contract --------------------------------------------------------------------------------


def _cancel(contract: Contract, user: User) -> Action:
    if not is_contract_company(user, contract):
        return refuse("cancel", _("Only the company of this contract can cancel it."))
    if not CONTRACT_STATES.can(contract, C.CANCELLED):
        return refuse("cancel", CONTRACT_IS[contract.status])
    milestones = list(contract.milestones.all())
    if contract.status != C.ACTIVE or any(_open_dispute(m) for m in milestones):
        return block("cancel", CONTRACT_IS[C.DISPUTED])
    # Past these points for good: a delivery, or money released or frozen.
    if any(m.work_status != W.PENDING for m in milestones):
        return refuse(
            "cancel",
            _("A milestone was already delivered: request changes or open a dispute instead."),
        )
    if any(m.escrow.status in MONEY_COMMITTED for m in milestones):
        return refuse("cancel", _("Money of this contract was already released or is frozen."))
    return allow("cancel")


def _message(contract: Contract, user: User) -> Action:
    if not _party(user, contract):
        return refuse("message", _("Only the two parties of the contract write in its thread."))
    return allow("message")


def _view_ledger(contract: Contract, user: User) -> Action:
    if not (user.is_staff or _party(user, contract)):
        return refuse(
            "view_ledger",
            _("Only the two parties of the contract and the staff see its money trail."),
        )
    return allow("view_ledger")


def contract_actions(*, contract: Contract, user: User) -> Actions:
    """What `user` may do now with `contract`: cancel, message, review, view_ledger."""
    return Actions(
        [
            _cancel(contract, user),
            _message(contract, user),
            _registered("review", contract, user),
            _view_ledger(contract, user),
        ]
    )


# --- milestone -------------------------------------------------------------------------------


def _fund(milestone: Milestone, user: User) -> Action:
    contract = milestone.contract
    if not is_contract_company(user, contract):
        return refuse("fund", _("Only the company of this contract funds its milestones."))
    # Only money not paid in yet is funded (the table's frozen → funded is a won chargeback).
    if milestone.escrow.status != S.AWAITING_FUNDING:
        return refuse("fund", ESCROW_IS[milestone.escrow.status])
    if contract.status != C.ACTIVE:
        return block("fund", CONTRACT_IS[contract.status])
    return allow("fund")


def _money_not_held(name: str, milestone: Milestone) -> Action:
    """Why the work of `milestone` cannot move for its contract or money (`milestone_money_held`).

    Money frozen by a dispute, or not paid in yet on a running contract, comes
    back: the control is offered, disabled. A contract that ended, or money
    that left escrow, does not: nothing is offered.
    """
    contract = milestone.contract
    if contract.status not in WORK_GOES_ON:
        return refuse(name, CONTRACT_IS[contract.status])
    escrow = milestone.escrow.status
    if escrow in (S.FROZEN, S.AWAITING_FUNDING):
        return block(name, ESCROW_IS[escrow])
    return refuse(name, ESCROW_IS[escrow])


def _submit(milestone: Milestone, user: User) -> Action:
    if not is_contract_student(user, milestone.contract):
        return refuse("submit", _("Only the student of this contract delivers."))
    if not MILESTONE_STATES.can(milestone, W.SUBMITTED):
        return refuse("submit", WORK_IS[milestone.work_status])
    if not milestone_money_held(milestone):
        waiting = milestone.escrow.status == S.AWAITING_FUNDING
        if waiting and milestone.contract.status in WORK_GOES_ON:
            return block("submit", WAIT_FOR_FUNDING)
        return _money_not_held("submit", milestone)
    return allow("submit")


def _approve(milestone: Milestone, user: User) -> Action:
    if not is_contract_company(user, milestone.contract):
        return refuse("approve", _("Only the company of this contract approves deliveries."))
    if not MILESTONE_STATES.can(milestone, W.APPROVED):
        return refuse("approve", WORK_IS[milestone.work_status])
    if not milestone_money_held(milestone):
        return _money_not_held("approve", milestone)
    return allow("approve")


def _request_changes(milestone: Milestone, user: User) -> Action:
    if not is_contract_company(user, milestone.contract):
        return refuse("request_changes", _("Only the company of this contract reviews deliveries."))
    if not MILESTONE_STATES.can(milestone, W.CHANGES_REQUESTED):
        return refuse("request_changes", WORK_IS[milestone.work_status])
    if _open_dispute(milestone):
        return block("request_changes", DISPUTE_OPEN)
    if not milestone_money_held(milestone):
        return _money_not_held("request_changes", milestone)
    return allow("request_changes")


def _dispute(milestone: Milestone, user: User) -> Action:
    if not _party(user, milestone.contract):
        return refuse("dispute", _("Only the two parties of the contract can open a dispute."))
    if _open_dispute(milestone):
        return refuse("dispute", _("A dispute is already open on this milestone."))
    if milestone.work_status == W.APPROVED:
        return refuse("dispute", _("This delivery was approved; it can no longer be disputed."))
    if not ESCROW_STATES.can(milestone.escrow, S.FROZEN):
        return refuse("dispute", ESCROW_IS[milestone.escrow.status])
    return allow("dispute")


def milestone_actions(*, milestone: Milestone, user: User) -> Actions:
    """What `user` may do now with `milestone`: fund, submit, approve, request_changes, dispute."""
    return Actions(
        [
            _fund(milestone, user),
            _submit(milestone, user),
            _approve(milestone, user),
            _request_changes(milestone, user),
            _dispute(milestone, user),
        ]
    )


# --- dispute ---------------------------------------------------------------------------------

DISPUTE_ACTIONS = ("resolve",)


def dispute_actions(*, dispute: Dispute, user: User) -> Actions:
    """What `user` may do now with `dispute`: resolve (staff, while it is open)."""
    if not user.is_staff:
        resolve = refuse("resolve", _("Only the platform's staff resolve disputes."))
    elif not DISPUTE_STATES.can(dispute, Dispute.Status.RESOLVED):
        resolve = refuse("resolve", _("This dispute is already resolved."))
    else:
        resolve = allow("resolve")
    return Actions([resolve])
