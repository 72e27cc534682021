from __future__ import annotations

import csv
import datetime as dt
import io
import re
from pathlib import Path

from django.core import mail
from django.utils import timezone
from playwright.sync_api import Page, expect

from projects.briefs.models import Bid
from projects.briefs.services import bid_submit
from projects.reviews.services import review_submit
from schools.models import EnrolmentVerification, VerificationEvent
from schools.services import (
    coordinator_create,
    verification_confirm_email,
    verification_request,
    verification_token_make,
)
from tests.browser.conftest import screenshot, set_up_two_factor, visit
from tests.factories import (
    ProjectFactory,
    SchoolFactory,
    StudentFactory,
    VerificationFactory,
)
from tests.factories.contracts import completed_contract

V = EnrolmentVerification.Status
PASSWORD = "Violet-Harbour-2031"
INVITATION_LINK = re.compile(r"https?://[^/\s]+(/accounts/reset/\S+/)")


def _asks(
    school, first_name: str, last_name: str, program: str, email_name: str
) -> EnrolmentVerification:
    """A student asks to join `school` and confirms the address: the coordinator's turn."""
    student = StudentFactory(first_name=first_name, last_name=last_name)
    verification = verification_request(
        student=student,
        school=school,
        school_email=f"{email_name}@{school.domains.get().domain}",
        program=program,
        graduation_date=timezone.localdate() + dt.timedelta(days=400),
    )
    verification_confirm_email(token=verification_token_make(verification=verification))
    return verification


def _with_results(school) -> EnrolmentVerification:
    """A verified student of `school` paid for a completed contract and reviewed 5 stars."""
    contract = completed_contract(amounts=(120_000,))
    EnrolmentVerification.objects.filter(student=contract.student).update(school=school)
    for by in (contract.project.created_by, contract.student):
        review_submit(
            contract_id=contract.pk, by=by, rating=5, quality=5, communication=5, deadlines=5
        )
    return contract.student.enrolment_verifications.get()


def test_a_coordinator_is_invited_reviews_requests_revokes_and_exports(page: Page):
    school = SchoolFactory(name="École des Ponts")
    lea = _asks(school, "Léa", "Martin", "MSc Data Science", "lea.martin")
    hugo = _asks(school, "Hugo", "Bernard", "BSc Design", "hugo.bernard")
    nina = VerificationFactory(school=school, student__first_name="Nina", student__last_name="Roux")
    bid = bid_submit(
        project_id=ProjectFactory().pk,
        by=nina.student,
        amount_cents=50_000,
        estimated_days=5,
        cover_letter="Hi",
    )
    paid = _with_results(school)

    # Staff invite the coordinator; the e-mail's link sets a password.
    mail.outbox.clear()
    coordinator_create(
        email="claire@ponts.example", school=school, first_name="Claire", last_name="Dumas"
    )
    link = INVITATION_LINK.search(mail.outbox[-1].body).group(1)
    page.goto(link)
    page.get_by_label("New password", exact=True).fill(PASSWORD)
    page.get_by_label("New password, again").fill(PASSWORD)
    screenshot(page, "coordinator-set-password")
    page.get_by_role("button", name="Save the new password").click()
    expect(page.get_by_text("Your password is changed. Sign in with it.")).to_be_visible()

    page.get_by_label("E-mail").fill("claire@ponts.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    # Coordinators vouch for students: their pages wait for a second factor.
    expect(page.get_by_role("heading", name="Security")).to_be_visible()
    visit(page, "coordinator-two-factor-required")
    set_up_two_factor(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("École des Ponts")
    expect(page.get_by_role("link", name="2 requests to review")).to_be_visible()
    expect(page.get_by_role("img", name="Paid to the students each month (EUR)")).to_be_visible()
    visit(page, "coordinator-dashboard")

    page.get_by_role("link", name="Requests to review").first.click()
    expect(page.get_by_role("heading", name="Léa Martin")).to_be_visible()
    expect(page.get_by_text("MSc Data Science")).to_be_visible()
    visit(page, "coordinator-queue")

    # Approve Léa (htmx swaps her card and announces it).
    page.get_by_role("button", name="Approve Léa Martin").click()
    status = page.locator("#queue-status")
    expect(status).to_have_text("Léa Martin is verified.")
    expect(page.locator(f"#request-{lea.pk}")).to_contain_text("Verified")

    # Rejecting Hugo needs a reason.
    hugo_card = page.locator(f"#request-{hugo.pk}")
    hugo_card.get_by_role("button", name="Reject Hugo Bernard").click()
    expect(hugo_card.get_by_text("This field is required.")).to_be_visible()
    hugo_card.get_by_label("Reason for rejecting").fill("Not enrolled at our school this year.")
    hugo_card.get_by_role("button", name="Reject Hugo Bernard").click()
    expect(status).to_have_text("The request of Hugo Bernard is rejected.")
    expect(hugo_card).to_contain_text("Not enrolled at our school this year.")
    visit(page, "coordinator-queue-decided")
    lea.refresh_from_db()
    hugo.refresh_from_db()
    assert (lea.status, hugo.status) == (V.VERIFIED, V.REJECTED)

    page.reload()
    expect(page.get_by_text("No request is waiting for you.")).to_be_visible()

    # The students and their results.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Students").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Verified students")
    row = page.get_by_role("row", name=re.compile(paid.student.full_name))
    expect(row).to_contain_text("€1,080.00")  # 1,200 less the 10 % commission
    expect(row).to_contain_text("5.0 / 5 (1 review)")
    expect(row).to_contain_text("100%")
    expect(page.get_by_role("row", name=re.compile("Léa Martin"))).to_be_visible()
    visit(page, "coordinator-students")

    with page.expect_download() as download:
        page.get_by_role("link", name="Download the list (CSV)").click()
    text = Path(download.value.path()).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert download.value.suggested_filename == f"school-{school.pk}-students.csv"
    by_name = {r["first_name"]: r for r in rows}
    assert set(by_name) == {"Léa", "Nina", paid.student.first_name}
    assert by_name[paid.student.first_name]["earned"] == "1,080.00 EUR"
    assert by_name[paid.student.first_name]["completed_contracts"] == "1"

    # Revoke Nina: a reason is needed, and her open bid is withdrawn.
    page.get_by_role("link", name=re.compile("Revoke the verification of Nina Roux")).click()
    expect(page.get_by_text("are withdrawn at once")).to_be_visible()
    visit(page, "coordinator-revoke")
    page.get_by_role("button", name="Revoke the verification").click()
    expect(page.get_by_text("This field is required.")).to_be_visible()
    page.get_by_label("Reason for revoking").fill("Left the school in March.")
    page.get_by_role("button", name="Revoke the verification").click()
    expect(page.get_by_role("status")).to_have_text(
        "The verification of Nina Roux is revoked; their open bids are withdrawn."
    )
    expect(page.get_by_role("row", name=re.compile("Nina Roux"))).to_have_count(0)
    bid.refresh_from_db()
    assert bid.status == Bid.Status.WITHDRAWN

    # The audit trail.
    page.get_by_role("link", name="Audit trail").click()
    first = page.get_by_role("row").nth(1)
    expect(first).to_contain_text("Nina Roux")
    expect(first).to_contain_text("Verified → Revoked")
    expect(first).to_contain_text("Claire Dumas")
    expect(first).to_contain_text("Left the school in March.")
    expect(page.get_by_role("row", name=re.compile("Hugo Bernard.*Declined"))).to_be_visible()
    visit(page, "coordinator-audit")
    assert (
        VerificationEvent.objects.filter(
            verification__school=school, actor__email="claire@ponts.example"
        ).count()
        == 3
    )

    page.get_by_role("link", name="Dashboard").click()
    expect(page.get_by_role("link", name="0 requests to review")).to_be_visible()
    expect(
        page.get_by_role("img", name="Verified students at the end of each month")
    ).to_be_visible()
    page.get_by_text("The figures as a table").nth(1).click()
    expect(page.get_by_role("table", name="Contracts completed each month")).to_be_visible()
    visit(page, "coordinator-dashboard-after")
