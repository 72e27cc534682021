"""The briefs' share of a user's personal data: their bids, and the briefs they posted.

A brief belongs to its company, not to the member who typed it: it stays as
posted (the company's and the accepted student's record of what was asked).
A bid keeps its amount, duration and status (the company's record of the
offers it received) but loses its cover letter; a bid still open is withdrawn.
"""

from __future__ import annotations

from django.utils.translation import gettext_noop

from marketplace.models import User
from marketplace.privacy import (
    Exported,
    PersonalDataSection,
    personal_data_section_register,
    personal_text_redact,
)
from projects.briefs.models import Bid, BidEvent, Project, ProjectEvent
from projects.briefs.services import bid_withdraw
from projects.briefs.states import BID_STATES

B = Bid.Status


def _export(user: User) -> Exported:
    bids = Bid.objects.filter(student=user).select_related("project").order_by("created_at", "pk")
    briefs = Project.objects.filter(created_by=user).order_by("created_at", "pk")
    return Exported(
        {
            "bids": [
                {
                    "id": b.pk,
                    "brief_id": b.project_id,
                    "brief_title": b.project.title,
                    "amount_cents": b.amount_cents,
                    "currency": b.currency,
                    "estimated_days": b.estimated_days,
                    "cover_letter": b.cover_letter,
                    "status": b.status,
                    "created_at": b.created_at,
                    "decided_at": b.decided_at,
                }
                for b in bids
            ],
            "briefs_posted": [
                {
                    "id": p.pk,
                    "company_id": p.company_id,
                    "title": p.title,
                    "status": p.status,
                    "created_at": p.created_at,
                }
                for p in briefs
            ],
        }
    )


def _erase(user: User) -> None:
    bids = Bid.objects.filter(student=user)
    open_statuses = BID_STATES.sources(B.WITHDRAWN)
    for bid_id in bids.filter(status__in=open_statuses).values_list("pk", flat=True):
        bid_withdraw(bid_id=bid_id, by=user)
    personal_text_redact(texts=list(bids.values_list("cover_letter", flat=True)))
    bids.update(cover_letter="")
    BidEvent.objects.filter(actor=user).exclude(note="").update(note="")
    ProjectEvent.objects.filter(actor=user).exclude(note="").update(note="")


def register() -> None:
    """Register the briefs' section (called from BriefsConfig.ready)."""
    personal_data_section_register(
        PersonalDataSection(
            name="briefs",
            description=gettext_noop(
                "your bids (brief, amount, duration, cover letter, status) and the briefs you "
                "posted for your company"
            ),
            exporter=_export,
            eraser=_erase,
            kept={
                "briefs.project": (
                    "a brief is the company's, not its author's: it stays as posted, the record "
                    "of what was asked under the contracts made on it"
                ),
            },
        )
    )
