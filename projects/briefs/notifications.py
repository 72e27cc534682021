"""What the parties of a brief or contract are told, and when (in-app and by e-mail).

Each function names one event; the services call them inside their
transaction, and the e-mails leave after commit. Keys make every event told
once per recipient, however often a service or task runs."""

from __future__ import annotations

from marketplace.money import Money
from marketplace.notifications import notify
from marketplace.selectors import company_members
from projects.briefs.models import Bid, Project


def bid_submitted(bid: Bid) -> None:
    project = bid.project
    for member in company_members(company_id=project.company_id):
        notify(
            user=member,
            template="bid_submitted",
            key=f"bid-submitted:{bid.pk}:{member.pk}",
            context={
                "project": project,
                "bid": bid,
                "amount": Money(bid.amount_cents, bid.currency).format(),
                "url": f"/api/v1/projects/{project.pk}/bids/",
            },
            url=f"/api/v1/projects/{project.pk}/bids/",
        )


def bids_rejected(project: Project, bid_ids: list[int]) -> None:
    for bid in Bid.objects.select_related("student").filter(pk__in=bid_ids):
        notify(
            user=bid.student,
            template="bid_rejected",
            key=f"bid-rejected:{bid.pk}",
            context={"project": project},
            url=f"/api/v1/projects/{project.pk}/",
        )
