from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from marketplace.models import User
from payments.services.payouts import payout_account_onboard
from projects.briefs.models import Project
from projects.briefs.services import bid_submit
from projects.contracts.models import Contract
from projects.contracts.services import milestone_submit
from projects.reviews.models import Review, ReviewReply
from projects.reviews.services import review_submit
from tests.browser.conftest import fill_sign_up, visit
from tests.factories import SkillFactory, StudentProfileFactory, VerifiedStudentFactory


def test_a_company_posts_a_brief_hires_a_student_pays_and_reviews(page: Page):
    for name in ("Python", "Django", "PostgreSQL"):
        SkillFactory(name=name)
    lea = VerifiedStudentFactory(first_name="Léa", last_name="Moreau", profile=None)
    profile = StudentProfileFactory(user=lea, headline="Web developer", day_rate_cents=30_000)
    profile.skills.set(SkillFactory._meta.model.objects.filter(name__in=["Python", "Django"]))
    payout_account_onboard(user=lea)

    page.goto("/signup/")
    fill_sign_up(
        page,
        role="A company looking for students",
        first_name="Claire",
        last_name="Martin",
        company_name="Atelier Lumière",
        email="claire@atelier.example",
        password="a-long-passphrase-42",
    )
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your briefs")
    expect(page.get_by_text("You have not posted a brief yet.")).to_be_visible()
    visit(page, "company-dashboard-empty")

    page.get_by_role("link", name="Post a brief").first.click()
    page.get_by_label("Title").fill("A booking website for our workshop")
    page.get_by_label("Description").fill("Customers book a pottery class and pay online.")
    page.get_by_label("Category").select_option("web")
    page.get_by_role("searchbox", name="Search").first.fill("py")
    page.get_by_role("list", name="Suggestions: tick to add").get_by_label("Python").check()
    page.get_by_role("searchbox", name="Search").first.fill("djan")
    page.get_by_role("list", name="Suggestions: tick to add").get_by_label("Django").check()
    page.get_by_label("Budget").fill("1800")
    page.get_by_label("Deadline").fill("2099-06-30")
    visit(page, "company-brief-form")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Brief saved as a draft")
    expect(page.get_by_text("€1,800.00")).to_be_visible()
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_role("status")).to_have_text("Brief published: students can now bid.")
    visit(page, "company-brief")
    project = Project.objects.get(title="A booking website for our workshop")
    assert project.budget_cents == 180_000
    assert {s.slug for s in project.skills.all()} == {"python", "django"}

    page.get_by_role("link", name="Matching students").click()
    expect(page.get_by_role("heading", name=re.compile("Léa Moreau"))).to_be_visible()
    expect(page.get_by_role("cell", name=re.compile("2 of 2"))).to_be_visible()
    visit(page, "company-matches")

    bid_submit(
        project_id=project.pk,
        by=lea,
        amount_cents=180_000,
        estimated_days=20,
        cover_letter="I built three booking sites with Django.",
    )
    page.goto(f"/company/briefs/{project.pk}/bids/")
    expect(page.get_by_text("I built three booking sites with Django.")).to_be_visible()
    visit(page, "company-bids")
    page.get_by_role("button", name="Shortlist").click()
    expect(page.get_by_role("status")).to_have_text("Bid shortlisted.")
    page.get_by_role("link", name="Accept…").click()
    page.locator("#id_milestones-0-title").fill("Design and booking flow")
    page.locator("#id_milestones-0-amount").fill("1000")
    page.locator("#id_milestones-1-title").fill("Payments and launch")
    page.locator("#id_milestones-1-amount").fill("800.00")
    page.locator("#id_milestones-1-due_date").fill("2099-06-30")
    visit(page, "company-accept")
    page.get_by_role("button", name="Accept and create the contract").click()
    expect(page.get_by_role("status")).to_contain_text("Bid accepted")
    contract = Contract.objects.get(project=project)
    assert [m.amount_cents for m in contract.milestones.order_by("position")] == [100_000, 80_000]
    visit(page, "company-contract")

    for position in (1, 2):
        page.get_by_role("link", name="Fund this milestone").first.click()
        expect(
            page.get_by_role("heading", name="Test mode: no real card is charged")
        ).to_be_visible()
        if position == 1:
            page.get_by_label("Declined test card").check()
            page.get_by_role("button", name=re.compile("Pay")).click()
            expect(page.get_by_role("alert")).to_be_visible()
            visit(page, "company-fund")
        page.get_by_label("Visa test card").check()
        page.get_by_role("button", name=re.compile("Pay")).click()
        expect(page.get_by_role("status")).to_have_text(
            "Payment received: the money is held in escrow."
        )

    for milestone in contract.milestones.order_by("position"):
        milestone_submit(milestone_id=milestone.pk, by=lea, note="Done, see the staging site.")
    page.reload()
    page.get_by_role("button", name="Approve and release the money").first.click()
    expect(page.get_by_role("status")).to_contain_text("Delivery approved")
    page.get_by_role("button", name="Approve and release the money").click()
    expect(page.get_by_role("status")).to_contain_text("Delivery approved")
    contract.refresh_from_db()
    assert contract.status == Contract.Status.COMPLETED

    page.get_by_role("link", name="Money trail").click()
    expect(page.get_by_text("You paid €1,050.00 into escrow.")).to_be_visible()
    expect(page.get_by_text("€900.00 released to Léa Moreau.")).to_be_visible()
    expect(page.get_by_text("Platform fee €150.00.")).to_be_visible()
    visit(page, "company-money")

    page.get_by_role("link", name=re.compile("A booking website")).click()
    page.get_by_role("link", name="Review the student").click()
    for criterion in ("Overall", "Quality of the work", "Communication", "Deadlines kept"):
        page.get_by_role("group", name=criterion).get_by_label("5").check()
    page.get_by_label("Comment").fill("Clear, fast and careful work.")
    visit(page, "company-review")
    page.get_by_role("button", name="Publish the review").click()
    expect(page.get_by_role("status")).to_have_text("Thank you: your review is saved.")
    review = Review.objects.get(contract=contract)
    assert review.rating == 5
    assert review.author == User.objects.get(email="claire@atelier.example")

    review_submit(
        contract_id=contract.pk,
        by=lea,
        rating=4,
        quality=5,
        communication=4,
        deadlines=4,
        comment="A clear brief and quick payments.",
    )
    page.get_by_role("link", name="Reviews of us").click()
    expect(page.get_by_text("A clear brief and quick payments.")).to_be_visible()
    page.get_by_text("Answer publicly").click()
    page.get_by_label("Your public answer").fill("Thank you, Léa!")
    visit(page, "company-reputation")
    page.get_by_role("button", name="Publish the answer").click()
    expect(page.get_by_role("status")).to_have_text("Your answer is published under the review.")
    assert ReviewReply.objects.get().body == "Thank you, Léa!"

    page.get_by_role("link", name="Spending").click()
    expect(page.get_by_role("img", name="What you spent each month, in EUR")).to_be_visible()
    expect(page.get_by_role("img", name="What you spent per brief, in EUR")).to_be_visible()
    page.get_by_text("The same figures as a table (EUR)").click()
    expect(page.get_by_role("cell", name="€1,890.00")).to_be_visible()
    visit(page, "company-spending")

    page.get_by_role("link", name=re.compile(r"^Notifications \d+ unread$")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Notifications")
    visit(page, "notifications")
    page.get_by_role("button", name="Mark all as read").click()
    expect(page.get_by_role("status")).to_contain_text("marked as read")
    expect(page.get_by_role("link", name="Notifications", exact=True)).to_be_visible()
