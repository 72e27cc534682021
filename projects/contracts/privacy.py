"""The contracts' share of a user's personal data: contracts, milestones, deliveries, disputes.

A contract, its milestones and their amounts stay (the other party's record
and the books' support: see payments.privacy). A delivery's note and link are
erased; its files are the messaging app's (projects.messaging.privacy).
Disputes stay as written: they are legal claims.
"""

from __future__ import annotations

from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from marketplace.models import CompanyMembership, User
from marketplace.privacy import (
    Exported,
    PersonalDataSection,
    personal_data_section_register,
    personal_text_redact,
)
from projects.contracts.models import Contract, Delivery, Dispute, MilestoneEvent

C = Contract.Status
UNFINISHED = [C.ACTIVE, C.DISPUTED]
LEGAL_CLAIMS = (
    "legal claims (GDPR art. 17(3)(e)): the limitation period of a contractual claim is 5 "
    "years (French Code civil art. 2224); it holds ids, amounts and what the parties wrote"
)


def _export(user: User) -> Exported:
    contracts = (
        Contract.objects.filter(student=user)
        .select_related("project", "company")
        .prefetch_related("milestones__deliveries")
        .order_by("created_at", "pk")
    )
    disputes = Dispute.objects.filter(opened_by=user).order_by("created_at", "pk")
    return Exported(
        {
            "contracts": [
                {
                    "id": c.pk,
                    "brief_title": c.project.title,
                    "company": c.company.name,
                    "amount_cents": c.amount_cents,
                    "currency": c.currency,
                    "status": c.status,
                    "created_at": c.created_at,
                    "completed_at": c.completed_at,
                    "milestones": [
                        {
                            "title": m.title,
                            "amount_cents": m.amount_cents,
                            "due_date": m.due_date,
                            "work_status": m.work_status,
                            "submitted_at": m.submitted_at,
                            "approved_at": m.approved_at,
                            "deliveries": [
                                {"id": d.pk, "note": d.note, "url": d.url, "at": d.created_at}
                                for d in m.deliveries.all()
                            ],
                        }
                        for m in c.milestones.all()
                    ],
                }
                for c in contracts
            ],
            "disputes_opened": list(
                disputes.values(
                    "id", "milestone_id", "reason", "status", "resolution_note", "created_at"
                )
            ),
        }
    )


def _erase(user: User) -> None:
    deliveries = Delivery.objects.filter(milestone__contract__student=user)
    texts = [t for pair in deliveries.values_list("note", "url") for t in pair]
    personal_text_redact(texts=texts)
    deliveries.update(note="", url="")
    MilestoneEvent.objects.filter(actor=user).exclude(note="").update(note="")


def _blocker(user: User) -> list[str]:
    reasons = []
    if Contract.objects.filter(student=user, status__in=UNFINISHED).exists():
        reasons.append(_("You have a contract in progress or in dispute: finish or cancel it."))
    concerning = Q(opened_by=user) | Q(milestone__contract__student=user)
    if Dispute.objects.filter(concerning, status=Dispute.Status.OPEN).exists():
        reasons.append(_("A dispute you are party to is still open."))
    membership = CompanyMembership.objects.filter(user=user).first()
    if (
        membership is not None
        and not CompanyMembership.objects.filter(company_id=membership.company_id)
        .exclude(user=user)
        .exists()
        and Contract.objects.filter(
            company_id=membership.company_id, status__in=UNFINISHED
        ).exists()
    ):
        reasons.append(
            _(
                "You are the last member of your company and it has a contract in progress: "
                "invite a colleague or finish it first."
            )
        )
    return reasons


def register() -> None:
    """Register the contracts' section (called from ContractsConfig.ready)."""
    personal_data_section_register(
        PersonalDataSection(
            name="contracts",
            description=gettext_noop(
                "your contracts as a student (brief, company, amounts, status), their "
                "milestones and your deliveries (note, link), and the disputes you opened"
            ),
            exporter=_export,
            eraser=_erase,
            blocker=_blocker,
            kept={
                "contracts.contract": LEGAL_CLAIMS,
                "contracts.milestone": LEGAL_CLAIMS,
                "contracts.contractevent": LEGAL_CLAIMS,
                "contracts.dispute": LEGAL_CLAIMS,
                "contracts.disputeevent": LEGAL_CLAIMS,
            },
        )
    )
