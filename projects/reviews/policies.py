"""Whether a party may review the other side of a contract now, and why not.

The reviews app owns the `review` action of a contract (`contract_actions`
reads it through `contract_action_register`, called in `ReviewsConfig.ready`):
whether the user may review now is `ContractReviewState.refusal` in
`projects.reviews.selectors` (the review pages' `can_review`), which
`review_submit` checks again. The sides already written are read from the
contract's prefetched `reviews` (`contract_list` prefetches them), so a page of
contracts costs one query for all of them.
"""

from __future__ import annotations

from django.db.models import Prefetch
from django.utils.translation import gettext_lazy as _

from marketplace.models import User
from marketplace.policies import Action, allow, block, refuse
from projects.contracts.models import Contract
from projects.reviews.models import Review
from projects.reviews.selectors import ReviewRefusal, contract_review_state_from

REASONS = {
    ReviewRefusal.NOT_A_PARTY: _("Only the two parties of a contract review each other."),
    ReviewRefusal.NOT_ENDED: _("Reviews open when the contract ends."),
    ReviewRefusal.WRITTEN: _("Your side already reviewed this contract."),
    ReviewRefusal.CLOSED: _("The review window has closed."),
}


def review_action(contract: Contract, user: User) -> Action:
    """`review`: a party of an ended contract, once per side, within the review window.

    The rule is `ContractReviewState.refusal` (what the review pages read as
    `can_review`); this words its answer. Only a closed window is worth a
    disabled control.
    """
    sides = [review.role for review in contract.reviews.all()]
    state = contract_review_state_from(contract=contract, user=user, sides=sides)
    refusal = state.refusal()
    if refusal is None:
        return allow("review")
    if refusal is ReviewRefusal.CLOSED:
        return block("review", REASONS[refusal])
    return refuse("review", REASONS[refusal])


def review_prefetch() -> list[Prefetch]:
    """The contract's reviews, as `review_action` reads them (for `contract_list`)."""
    return [Prefetch("reviews", queryset=Review.objects.only("id", "contract_id", "role"))]
