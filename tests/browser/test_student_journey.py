from __future__ import annotations

import datetime as dt
import re

from django.utils import timezone
from playwright.sync_api import Page, expect

from marketplace.models import OutboundEmail, StudentProfile, User
from payments.models import PayoutAccount
from projects.briefs.models import Bid
from projects.contracts.models import Contract
from projects.contracts.services import bid_accept, milestone_approve, milestone_fund
from projects.messaging.models import Attachment
from projects.reviews.models import Review
from schools.models import EnrolmentVerification
from schools.services import verification_approve
from tests.browser.conftest import fill_sign_up, visit
from tests.factories import (
    CompanyMemberFactory,
    CoordinatorFactory,
    ProjectFactory,
    SchoolDomainFactory,
    SchoolFactory,
    SkillFactory,
)

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def test_a_student_gets_verified_bids_delivers_is_paid_and_reviews(
    page: Page, live_server, settings
):
    # The e-mailed link and the payout onboarding's return address point at this server.
    settings.SITE_URL = live_server.url
    python, django, figma = (SkillFactory(name=n) for n in ("Python", "Django", "Figma"))
    school = SchoolFactory(name="École des Ponts", domain=None)
    SchoolDomainFactory(school=school, domain="enpc.fr")
    coordinator = CoordinatorFactory(school=school).user
    owner = CompanyMemberFactory(membership__company__name="Atelier Lumière")
    company = owner.company_membership.company
    fit = ProjectFactory(
        company=company, created_by=owner, title="A booking website", budget_cents=180_000
    )
    fit.skills.set([python, django])
    other = ProjectFactory(company=company, created_by=owner, title="A brand refresh")
    other.skills.set([figma])

    page.goto("/signup/")
    fill_sign_up(
        page,
        role="A student",
        first_name="Léa",
        last_name="Moreau",
        email="lea@example.com",
        password="a-long-passphrase-42",
    )
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Hello, Léa")
    expect(page.get_by_text("You are not verified yet.")).to_be_visible()
    visit(page, "student-dashboard-new")

    page.get_by_role("link", name="Verify my student status").click()
    page.get_by_label("Your school e-mail").fill("lea.moreau@enpc.fr")
    visit(page, "student-verification-email")
    page.get_by_role("button", name="Find my school").click()
    expect(page.get_by_label("École des Ponts")).to_be_checked()
    page.get_by_label("Programme").fill("Ingénieur, 2nd year")
    graduation = timezone.localdate() + dt.timedelta(days=500)
    page.get_by_label("Expected graduation date").fill(graduation.isoformat())
    visit(page, "student-verification-school")
    page.get_by_role("button", name="Send the confirmation e-mail").click()
    expect(page.get_by_role("status")).to_contain_text("We sent a confirmation link")
    expect(page.get_by_text("Check your e-mail")).to_be_visible()
    visit(page, "student-verification-sent")

    body = OutboundEmail.objects.get(to="lea.moreau@enpc.fr").body_text
    link = re.search(r"/verify/[^/\s]+/", body)
    assert link is not None, body
    page.goto(link.group(0))
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm your school address")
    verification = EnrolmentVerification.objects.get(student__email="lea@example.com")
    assert verification.status == EnrolmentVerification.Status.PENDING_EMAIL
    visit(page, "verify-email")
    page.get_by_role("button", name="Confirm my school address").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Address confirmed")
    verification.refresh_from_db()
    assert verification.status == EnrolmentVerification.Status.PENDING_REVIEW
    verification_approve(verification_id=verification.pk, by=coordinator)

    page.get_by_role("link", name="Profile").click()
    page.get_by_label("Headline").fill("Django developer")
    page.get_by_label("About you").fill("I build booking sites.")
    for query, name in (("pyt", "Python"), ("djan", "Django")):
        page.get_by_role("searchbox", name="Search").fill(query)
        page.get_by_role("list", name="Suggestions: tick to add").get_by_label(name).check()
    page.get_by_label("Day rate").fill("300")
    page.get_by_label("Busy").check()
    page.get_by_label("Portfolio links").fill("https://github.com/lea\nhttps://lea.example/work")
    visit(page, "student-profile")
    page.get_by_role("button", name="Save the profile").click()
    expect(page.get_by_role("status")).to_have_text("Profile saved.")
    profile = StudentProfile.objects.get(user__email="lea@example.com")
    assert profile.day_rate_cents == 30_000
    assert {s.slug for s in profile.skills.all()} == {"python", "django"}
    assert profile.portfolio_links == ["https://github.com/lea", "https://lea.example/work"]

    page.get_by_role("link", name="Find briefs").click()
    recommended = page.get_by_role("list").filter(has_text="Why we recommend it").first
    expect(recommended.get_by_role("link", name="A booking website")).to_be_visible()
    expect(recommended.get_by_text("A brand refresh")).to_have_count(0)
    recommended.get_by_text("Why we recommend it").click()
    expect(page.get_by_text("You have 2 of its 2 skills.")).to_be_visible()
    expect(page.get_by_text("Your day rate fits its budget.")).to_be_visible()
    visit(page, "student-briefs")
    page.get_by_label("Keywords").fill("booking")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page).to_have_url(re.compile(r"search=booking"))
    expect(page.get_by_role("heading", name=re.compile("Open briefs"))).to_contain_text("1 brief")
    expect(page.get_by_text("A brand refresh")).to_have_count(0)
    visit(page, "student-briefs-search")

    page.locator("#results").get_by_role("link", name="A booking website").click()
    page.get_by_label("Your price").fill("1800")
    page.get_by_label("Days of work").fill("20")
    page.get_by_label("Cover letter").fill("I built three booking sites with Django.")
    visit(page, "student-brief")
    page.get_by_role("button", name="Send my bid").click()
    expect(page.get_by_role("status")).to_have_text("Bid sent. The company will read it.")
    bid = Bid.objects.get(project=fit)
    assert bid.amount_cents == 180_000

    contract = bid_accept(bid_id=bid.pk, by=owner)
    milestone = contract.milestones.get()
    milestone_fund(milestone_id=milestone.pk, by=owner, payment_method="pm_card_visa")

    page.get_by_role("link", name="Dashboard").click()
    page.get_by_role("link", name="Connect payouts").click()
    visit(page, "student-payouts")
    page.get_by_role("button", name="Connect payouts").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Payout account")
    expect(page.get_by_text("Your payout account is ready")).to_be_visible()
    # The page asks the gateway again by itself (htmx posts the check as it loads).
    expect(page.get_by_text("This is the state we last recorded")).to_have_count(0)
    expect(page.get_by_role("button", name="Check my payout account")).to_be_enabled()
    visit(page, "payouts-return")
    assert PayoutAccount.objects.get(user=bid.student).payouts_enabled

    page.goto("/student/contracts/")
    visit(page, "student-contracts")
    page.get_by_role("link", name="A booking website").click()
    page.get_by_text("Deliver this milestone").click()
    page.get_by_label("What you deliver").fill("The site is live; the report is attached.")
    page.get_by_label("Link").fill("https://booking.lea.example")
    page.get_by_label("Files").set_input_files(
        {"name": "report.pdf", "mimeType": "application/pdf", "buffer": PDF}
    )
    visit(page, "student-deliver")
    page.get_by_role("button", name="Send the delivery").click()
    expect(page.get_by_role("status")).to_have_text("Delivery sent. The company will review it.")
    expect(page.get_by_role("link", name="report.pdf")).to_be_visible()
    assert Attachment.objects.filter(delivery__milestone=milestone).count() == 1

    milestone_approve(milestone_id=milestone.pk, by=owner)
    contract.refresh_from_db()
    assert contract.status == Contract.Status.COMPLETED

    page.get_by_role("link", name="Earnings").click()
    expect(page.get_by_role("listitem").filter(has_text="€1,620.00")).to_be_visible()
    expect(page.get_by_role("img", name="What you were paid each month, in EUR")).to_be_visible()
    page.get_by_text("The same figures as a table (EUR)").click()
    expect(page.get_by_role("table", name="What you were paid each month, in EUR")).to_be_visible()
    visit(page, "student-earnings")

    page.get_by_role("link", name="Contracts").click()
    page.get_by_role("link", name="A booking website").click()
    expect(page.get_by_text("€1,620.00 released to you.")).to_be_visible()
    visit(page, "student-contract")
    page.get_by_role("link", name="Review the company").click()
    for criterion in (
        "Overall",
        "Clarity of the brief and feedback",
        "Communication",
        "Decisions and payments on time",
    ):
        page.get_by_role("group", name=criterion).get_by_label("4").check()
    page.get_by_label("Comment").fill("Clear brief, quick feedback.")
    visit(page, "student-review")
    page.get_by_role("button", name="Publish the review").click()
    expect(page.get_by_role("status")).to_have_text("Thank you: your review is saved.")
    review = Review.objects.get(contract=contract)
    assert (review.role, review.rating) == (Review.Role.STUDENT_TO_COMPANY, 4)
    assert review.author == User.objects.get(email="lea@example.com")
