"""A student with a bit of everything the personal-data sections cover, built by the services."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from marketplace.models import User
from marketplace.services import student_profile_update
from payments.services.payouts import payout_account_onboard
from projects.briefs.services import bid_submit
from projects.contracts.models import Contract
from projects.contracts.services import MilestoneSpec, bid_accept, milestone_approve, milestone_fund
from projects.messaging.files import delivery_submit_with_files
from projects.messaging.services import contract_message_post
from projects.reviews.services import review_reply_create, review_submit
from tests.factories import (
    CompanyMemberFactory,
    ProjectFactory,
    SkillFactory,
    StudentFactory,
    VerificationFactory,
)

PDF = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<<>>\n%%EOF\n"


def pdf(name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, PDF, content_type="application/pdf")


@dataclass
class Person:
    """A student and the strings that are theirs alone (each must vanish on erasure)."""

    user: User
    contract: Contract
    owner: User
    strings: dict[str, str]


def student_with_history(tag: str = "Zephyrine") -> Person:
    """A verified student with a profile, an open bid, a completed and paid contract whose
    delivery has a file, messages both ways with attachments, reviews both ways and a reply.

    `tag` makes every personal string unique (e.g. "Zephyrine" → "Zephyrine Quillfeather").
    """
    s = {
        "first_name": tag,
        "last_name": f"Quill{tag.lower()}",
        "email": f"{tag.lower()}.quill@example.com",
        "headline": f"Headline of {tag} the data wrangler",
        "bio": f"Bio: {tag} grew up near the sea and loves graphs.",
        "portfolio": f"https://portfolio.example.com/{tag.lower()}",
        "program": f"MSc Xenolinguistics for {tag}",
        "cover": f"Cover letter from {tag}: I can do it in three days.",
        "open_cover": f"Open bid by {tag}: hire me for the logo.",
        "note": f"Delivery note by {tag}: the report is attached.",
        "message": f"Private message by {tag}: call me on Thursday.",
        "review": f"Review by {tag}: a pleasant company to work with.",
        "reply": f"Reply by {tag}: thank you for the kind words.",
        "file": f"{tag.lower()}-report.pdf",
        "message_file": f"{tag.lower()}-sketch.pdf",
    }
    student = StudentFactory(email=s["email"], first_name=s["first_name"], last_name=s["last_name"])
    verification = VerificationFactory(student=student, program=s["program"])
    s["school_email"] = verification.school_email
    student_profile_update(
        user=student,
        headline=s["headline"],
        bio=s["bio"],
        portfolio_links=[s["portfolio"]],
        skills=[SkillFactory().slug],
    )
    owner = CompanyMemberFactory()
    company = owner.company_membership.company
    project = ProjectFactory(company=company, created_by=owner, budget_cents=20_000)
    bid = bid_submit(
        project_id=project.pk,
        by=student,
        amount_cents=10_000,
        estimated_days=3,
        cover_letter=s["cover"],
    )
    contract = bid_accept(
        bid_id=bid.pk,
        by=owner,
        milestones=[
            MilestoneSpec(
                title="Report",
                amount_cents=10_000,
                due_date=timezone.localdate() + dt.timedelta(days=10),
            )
        ],
    )
    milestone = contract.milestones.get()
    milestone_fund(milestone_id=milestone.pk, by=owner, payment_method="pm_card_visa")
    payout_account_onboard(user=student)
    contract_message_post(
        contract_id=contract.pk, by=student, body=s["message"], files=[pdf(s["message_file"])]
    )
    contract_message_post(contract_id=contract.pk, by=owner, body="Noted, thanks.")
    delivery_submit_with_files(
        milestone_id=milestone.pk, by=student, note=s["note"], files=[pdf(s["file"])]
    )
    milestone_approve(milestone_id=milestone.pk, by=owner)
    contract.refresh_from_db()
    assert contract.status == Contract.Status.COMPLETED
    review_submit(
        contract_id=contract.pk,
        by=student,
        rating=4,
        quality=4,
        communication=5,
        deadlines=4,
        comment=s["review"],
        private_feedback=f"Private feedback by {tag}.",
    )
    received = review_submit(
        contract_id=contract.pk,
        by=owner,
        rating=5,
        quality=5,
        communication=5,
        deadlines=5,
        comment=f"Great work by {tag}.",
    )
    review_reply_create(review_id=received.pk, by=student, body=s["reply"])
    open_project = ProjectFactory(budget_cents=30_000)
    bid_submit(
        project_id=open_project.pk,
        by=student,
        amount_cents=5_000,
        estimated_days=2,
        cover_letter=s["open_cover"],
    )
    return Person(user=student, contract=contract, owner=owner, strings=s)
