from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from django.utils.html import escape

from frontend.charts import month_label
from payments.models import Escrow
from payments.services.payouts import payout_account_onboard
from projects.briefs.models import Bid, Project
from projects.briefs.services import bid_submit
from projects.contracts.models import Contract, Milestone
from projects.contracts.services import milestone_submit
from projects.reviews.models import Review, ReviewReply
from projects.reviews.services import review_submit
from tests.factories import (
    CompanyMemberFactory,
    CoordinatorFactory,
    ProjectFactory,
    SkillFactory,
    StudentFactory,
    VerifiedStudentFactory,
)
from tests.factories.contracts import active_contract, completed_contract
from tests.frontend.helpers import messages_of
from tests.twofactor import login_with_second_factor

pytestmark = pytest.mark.django_db

BRIEF = {
    "title": "A booking website",
    "description": "Customers book a class.",
    "category": "web",
    "kind": "project",
    "budget": "1800.50",
    "currency": "EUR",
    "deadline": "2099-06-30",
    "visibility": "all",
}


@pytest.fixture
def owner():
    return CompanyMemberFactory()


@pytest.fixture
def signed_in(client, owner):
    client.force_login(owner)
    return client


def _brief(owner, **kw) -> Project:
    return ProjectFactory(company=owner.company_membership.company, created_by=owner, **kw)


def _bid(project: Project, amount: int = 150_000) -> Bid:
    return bid_submit(
        project_id=project.pk,
        by=VerifiedStudentFactory(),
        amount_cents=amount,
        estimated_days=10,
        cover_letter="Hello",
    )


def test_the_company_posts_a_draft_brief_with_its_budget_in_exact_cents(signed_in, owner):
    SkillFactory(name="Python")
    res = signed_in.post("/company/briefs/new/", {**BRIEF, "skills": ["python"]}, follow=True)
    project = Project.objects.get()
    assert res.redirect_chain[-1][0] == f"/company/briefs/{project.pk}/"
    assert project.budget_cents == 180_050
    assert project.status == Project.Status.DRAFT
    assert project.company == owner.company_membership.company
    assert [s.slug for s in project.skills.all()] == ["python"]
    assert messages_of(res) == ["Brief saved as a draft. Publish it when it is ready."]


@pytest.mark.parametrize(
    ("change", "field", "error"),
    [
        ({"budget": "10.005"}, "budget", "Ensure that there are no more than 2 decimal places."),
        ({"budget": "1500.5", "currency": "JPY"}, "budget", "Too many decimals for this currency."),
        ({"budget": "0.10"}, "budget", "The smallest amount is 0.50 EUR."),
        ({"deadline": "2000-01-01"}, "deadline", "The deadline is in the past."),
        ({"skills": ["no-such-skill"]}, "skills", "Select a valid choice."),
        ({"title": ""}, "title", "This field is required."),
    ],
)
def test_bad_brief_input_shows_the_field_error_and_saves_nothing(signed_in, change, field, error):
    res = signed_in.post("/company/briefs/new/", {**BRIEF, **change})
    assert res.status_code == 200
    assert error in " ".join(res.context["form"].errors[field])
    assert f'id="id_{field}_error"' in res.content.decode()
    assert not Project.objects.exists()


def test_the_company_edits_publishes_and_cancels_its_brief(signed_in, owner):
    project = _brief(owner, status=Project.Status.DRAFT)
    edit = {**BRIEF, "title": "New title", "budget": "2000"}
    res = signed_in.post(f"/company/briefs/{project.pk}/edit/", edit, follow=True)
    assert messages_of(res) == ["Brief saved."]
    project.refresh_from_db()
    assert (project.title, project.budget_cents) == ("New title", 200_000)
    res = signed_in.post(f"/company/briefs/{project.pk}/publish/", follow=True)
    assert messages_of(res) == ["Brief published: students can now bid."]
    res = signed_in.post(f"/company/briefs/{project.pk}/publish/", follow=True)
    assert messages_of(res) == ["This brief is open and cannot become open."]
    signed_in.post(f"/company/briefs/{project.pk}/cancel/")
    project.refresh_from_db()
    assert project.status == Project.Status.CANCELLED


def test_a_school_restricted_brief_needs_a_school_to_be_published(signed_in, owner):
    project = _brief(owner, status=Project.Status.DRAFT, visibility="schools")
    res = signed_in.post(f"/company/briefs/{project.pk}/publish/", follow=True)
    assert messages_of(res) == ["Choose at least one school for a restricted brief."]
    project.refresh_from_db()
    assert project.status == Project.Status.DRAFT


def test_another_companys_objects_are_not_found(signed_in):
    contract = active_contract()
    milestone = contract.milestones.first()
    draft = ProjectFactory(status=Project.Status.DRAFT)
    project = ProjectFactory()
    bid = _bid(project)
    for url in [
        f"/company/briefs/{draft.pk}/",
        f"/company/briefs/{draft.pk}/edit/",
        f"/company/contracts/{contract.pk}/",
        f"/company/contracts/{contract.pk}/money/",
        f"/company/contracts/{contract.pk}/review/",
        f"/company/milestones/{milestone.pk}/fund/",
    ]:
        assert signed_in.get(url).status_code == 404, url
    for url in [
        f"/company/bids/{bid.pk}/reject/",
        f"/company/briefs/{draft.pk}/publish/",
        f"/company/milestones/{milestone.pk}/approve/",
        f"/company/milestones/{milestone.pk}/dispute/",
    ]:
        assert signed_in.post(url, {"reason": "x"}).status_code == 404, url
    # An open brief of another company is visible to all, but not theirs to manage.
    assert signed_in.get(f"/company/briefs/{project.pk}/matches/").status_code == 403
    assert signed_in.post(f"/company/briefs/{project.pk}/cancel/").status_code == 403
    draft.refresh_from_db()
    project.refresh_from_db()
    assert (draft.status, project.status) == (Project.Status.DRAFT, Project.Status.OPEN)
    assert Bid.objects.get(pk=bid.pk).status == Bid.Status.SUBMITTED


@pytest.mark.parametrize("make_user", [StudentFactory, lambda: CoordinatorFactory().user])
def test_other_roles_are_refused(client, make_user):
    login_with_second_factor(client, make_user())
    for url in ["/company/", "/company/briefs/new/", "/company/contracts/", "/company/skills/"]:
        assert client.get(url).status_code == 403, url


def test_anonymous_visitors_are_sent_to_sign_in(client):
    res = client.get("/company/")
    assert res.status_code == 302
    assert res["Location"] == "/signin/?next=/company/"


def test_the_dashboard_shows_an_empty_state_then_the_briefs_in_constant_queries(
    signed_in, owner, django_assert_max_num_queries
):
    assert "You have not posted a brief yet." in signed_in.get("/company/").content.decode()
    _brief(owner)
    with django_assert_max_num_queries(12) as few:
        signed_in.get("/company/")
    for _ in range(5):
        _brief(owner, budget_cents=99_900)
    with django_assert_max_num_queries(len(few.captured_queries)):
        html = signed_in.get("/company/").content.decode()
    assert html.count("€999.00") == 5


def test_lists_are_paginated_and_keep_the_query_string(signed_in, owner):
    for _ in range(25):
        _brief(owner)
    html = signed_in.get("/company/?page=2").content.decode()
    assert "Page 2 of 2" in html
    assert 'href="?page=1"' in html


def test_matches_show_the_score_parts_as_reasons(signed_in, owner):
    skill = SkillFactory(name="Python")
    project = _brief(owner)
    project.skills.set([skill])
    student = VerifiedStudentFactory(first_name="Léa")
    student.student_profile.skills.set([skill])
    html = signed_in.get(f"/company/briefs/{project.pk}/matches/").content.decode()
    assert "Léa" in html
    assert "matched 1 of 1 skill" in html


def test_bids_are_listed_shortlisted_and_declined(signed_in, owner):
    project = _brief(owner)
    assert "No bids yet." in signed_in.get(f"/company/briefs/{project.pk}/bids/").content.decode()
    bid = _bid(project)
    res = signed_in.post(f"/company/bids/{bid.pk}/shortlist/", follow=True)
    assert messages_of(res) == ["Bid shortlisted."]
    res = signed_in.post(f"/company/bids/{bid.pk}/reject/", follow=True)
    assert messages_of(res) == ["Bid declined; the student is told."]
    assert Bid.objects.get(pk=bid.pk).status == Bid.Status.REJECTED


def _milestones(*rows) -> dict[str, str]:
    data = {"milestones-TOTAL_FORMS": str(len(rows)), "milestones-INITIAL_FORMS": "0"}
    for i, (title, amount, due) in enumerate(rows):
        data |= {f"milestones-{i}-title": title, f"milestones-{i}-amount": amount}
        data[f"milestones-{i}-due_date"] = due
    return data


def test_accepting_a_bid_offers_one_milestone_for_the_amount_then_creates_the_contract(
    signed_in, owner
):
    bid = _bid(_brief(owner))
    form = signed_in.get(f"/company/bids/{bid.pk}/accept/").context["formset"].forms[0]
    assert form.initial["amount"] == 1500
    due = (timezone.localdate() + dt.timedelta(days=30)).isoformat()
    data = _milestones(("Design", "1000.00", due), ("Build", "500", ""))
    res = signed_in.post(f"/company/bids/{bid.pk}/accept/", data, follow=True)
    contract = Contract.objects.get()
    assert res.redirect_chain[-1][0] == f"/company/contracts/{contract.pk}/"
    assert [(m.title, m.amount_cents) for m in contract.milestones.all()] == [
        ("Design", 100_000),
        ("Build", 50_000),
    ]


def test_milestones_that_do_not_add_up_are_refused(signed_in, owner):
    bid = _bid(_brief(owner))
    res = signed_in.post(f"/company/bids/{bid.pk}/accept/", _milestones(("All", "1400", "")))
    # bid_accept's own refusal, shown above the milestones (the form restates no rule).
    [error] = res.context["formset"].non_form_errors()
    assert error.startswith("The milestones add up to ")
    assert not Contract.objects.exists()


@pytest.mark.parametrize("decided", ["accepted", "declined"])
def test_a_decided_bid_says_so_instead_of_the_accept_form(signed_in, owner, decided):
    bid = _bid(_brief(owner))
    if decided == "accepted":
        data = _milestones(("All", "1500", ""))
        signed_in.post(f"/company/bids/{bid.pk}/accept/", data)
        contract = Contract.objects.get()
    else:
        signed_in.post(f"/company/bids/{bid.pk}/reject/")
    url = f"/company/bids/{bid.pk}/accept/"
    for res in (signed_in.get(url), signed_in.post(url, _milestones(("Again", "1500", "")))):
        assert res.status_code == 200
        html = res.content.decode()
        assert f"This bid was {decided}." in html
        assert "milestones-TOTAL_FORMS" not in html
        assert "Accept and create the contract" not in html
        assert f'href="/company/briefs/{bid.project_id}/bids/">Back to the bids</a>' in html
        if decided == "accepted":
            assert f'href="/company/contracts/{contract.pk}/"' in html
    assert Contract.objects.count() == (1 if decided == "accepted" else 0)


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (Project.Status.CANCELLED, "This brief is cancelled."),
        (Project.Status.IN_PROGRESS, "Work on this brief has started."),
    ],
)
def test_a_brief_past_editing_says_why_instead_of_the_form(signed_in, owner, status, reason):
    project = _brief(owner, status=status, title="Old title")
    url = f"/company/briefs/{project.pk}/edit/"
    for res in (signed_in.get(url), signed_in.post(url, {**BRIEF, "title": "New title"})):
        assert res.status_code == 200
        html = res.content.decode()
        assert reason in html
        assert 'name="title"' not in html
        assert f'href="/company/briefs/{project.pk}/">Back to the brief</a>' in html
    project.refresh_from_db()
    assert project.title == "Old title"
    french = signed_in.get(url, HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Retour à la mission" in french


def test_funding_with_the_test_cards(signed_in, owner):
    contract = active_contract(owner=owner, funded=False)
    milestone = contract.milestones.get()
    page = signed_in.get(f"/company/milestones/{milestone.pk}/fund/").content.decode()
    assert "Test mode: no real card is charged" in page
    assert "€105.00" in page
    url = f"/company/milestones/{milestone.pk}/fund/"
    res = signed_in.post(url, {"payment_method": "pm_card_chargeDeclined"}, follow=True)
    assert res.status_code == 200
    assert any("declined" in m.lower() for m in messages_of(res))
    assert Escrow.objects.get(pk=milestone.escrow_id).status == Escrow.Status.AWAITING_FUNDING
    res = signed_in.post(url, {"payment_method": "pm_card_visa"}, follow=True)
    assert messages_of(res) == ["Payment received: the money is held in escrow."]
    assert Escrow.objects.get(pk=milestone.escrow_id).status == Escrow.Status.FUNDED


def test_an_unknown_test_card_is_a_field_error(signed_in, owner):
    milestone = active_contract(owner=owner, funded=False).milestones.get()
    res = signed_in.post(f"/company/milestones/{milestone.pk}/fund/", {"payment_method": "pm_x"})
    assert "payment_method" in res.context["form"].errors
    assert Escrow.objects.get(pk=milestone.escrow_id).status == Escrow.Status.AWAITING_FUNDING


def _delivered(owner) -> Milestone:
    contract = active_contract(owner=owner)
    milestone = contract.milestones.get()
    milestone_submit(milestone_id=milestone.pk, by=contract.student, note="Here it is")
    return milestone


def test_a_delivery_is_approved_and_the_money_released(signed_in, owner):
    milestone = _delivered(owner)
    payout_account_onboard(user=milestone.contract.student)
    page = signed_in.get(f"/company/contracts/{milestone.contract_id}/").content.decode()
    assert "Here it is" in page
    res = signed_in.post(f"/company/milestones/{milestone.pk}/approve/", follow=True)
    assert messages_of(res) == ["Delivery approved: the money is released to the student."]
    assert Escrow.objects.get(pk=milestone.escrow_id).status == Escrow.Status.RELEASED


def test_approving_before_the_student_can_be_paid_says_the_money_waits(client, signed_in, owner):
    milestone = _delivered(owner)
    res = signed_in.post(f"/company/milestones/{milestone.pk}/approve/", follow=True)
    assert messages_of(res) == [
        "Delivery approved. The money goes to the student as soon as their payout account "
        "can receive it."
    ]
    assert Escrow.objects.get(pk=milestone.escrow_id).status == Escrow.Status.RELEASE_PENDING
    page = res.content.decode()
    assert "Approved, payment on its way" in page
    assert "You approved this delivery." in page
    assert "Approve and release the money" not in page

    client.force_login(milestone.contract.student)
    client.post("/language/", {"language": "fr"})
    student_page = client.get(f"/student/contracts/{milestone.contract_id}/").content.decode()
    assert "Approuvé, paiement en route" in student_page
    assert "L’entreprise a approuvé ce livrable." in student_page
    assert 'href="/student/payouts/"' in student_page
    assert "L’entreprise examine votre livraison" not in student_page


def test_changes_need_a_note_then_are_requested(signed_in, owner):
    milestone = _delivered(owner)
    url = f"/company/milestones/{milestone.pk}/changes/"
    res = signed_in.post(url, {"note": ""}, follow=True)
    assert messages_of(res) == ["Say what should change."]
    res = signed_in.post(url, {"note": "Bigger logo"}, follow=True)
    assert messages_of(res) == ["Changes requested; the student is told."]
    milestone.refresh_from_db()
    assert milestone.work_status == Milestone.WorkStatus.CHANGES_REQUESTED


def test_a_dispute_freezes_the_money(signed_in, owner):
    milestone = _delivered(owner)
    res = signed_in.post(
        f"/company/milestones/{milestone.pk}/dispute/", {"reason": "Not done"}, follow=True
    )
    assert messages_of(res)[0].startswith("Dispute opened")
    assert Escrow.objects.get(pk=milestone.escrow_id).status == Escrow.Status.FROZEN
    assert "A dispute is open" in res.content.decode()


def test_the_money_trail_tells_the_ledger_in_sentences(signed_in, owner):
    contract = completed_contract(owner=owner, amounts=(180_000,))
    html = signed_in.get(f"/company/contracts/{contract.pk}/money/").content.decode()
    name = contract.student.full_name
    assert "You paid €1,890.00 into escrow." in html
    assert f"€1,620.00 released to {name}." in html
    assert "Platform fee €270.00." in html


def test_the_money_trail_is_empty_before_any_payment(signed_in, owner):
    contract = active_contract(owner=owner, funded=False)
    html = signed_in.get(f"/company/contracts/{contract.pk}/money/").content.decode()
    assert "No money has moved yet" in html


def test_contracts_list_in_constant_queries(signed_in, owner, django_assert_max_num_queries):
    assert "No contract yet" in signed_in.get("/company/contracts/").content.decode()
    active_contract(owner=owner)
    with django_assert_max_num_queries(15) as few:
        signed_in.get("/company/contracts/")
    for _ in range(3):
        active_contract(owner=owner, amounts=(5_000, 5_000))
    with django_assert_max_num_queries(len(few.captured_queries)):
        signed_in.get("/company/contracts/")


def test_the_student_is_reviewed_once_the_contract_ended(signed_in, owner):
    running = active_contract(owner=owner)
    stars = {"rating": 5, "quality": 4, "communication": 5, "deadlines": 3, "comment": "Great"}
    res = signed_in.post(f"/company/contracts/{running.pk}/review/", stars)
    assert res.context["form"].non_field_errors() == [
        "Reviews open when the contract is completed or cancelled."
    ]
    contract = completed_contract(owner=owner)
    res = signed_in.post(f"/company/contracts/{contract.pk}/review/", {**stars, "rating": 9})
    assert "rating" in res.context["form"].errors
    res = signed_in.post(f"/company/contracts/{contract.pk}/review/", stars, follow=True)
    assert messages_of(res) == ["Thank you: your review is saved."]
    assert Review.objects.get(contract=contract).quality == 4


def test_the_pages_speak_french(signed_in, owner):
    _brief(owner, budget_cents=180_000)
    signed_in.post("/language/", {"language": "fr"})
    html = signed_in.get("/company/").content.decode().replace("\u202f", " ").replace("\xa0", " ")
    assert "Vos missions" in html
    assert "1 800,00 €" in html


def test_spending_is_empty_before_any_payment(signed_in, owner):
    active_contract(owner=owner, funded=False)
    html = signed_in.get("/company/spending/").content.decode()
    assert html.count('<p class="empty">No data yet</p>') == 2
    assert "<svg" not in html


def test_spending_is_drawn_per_month_and_per_brief_with_tables(signed_in, owner):
    completed_contract(owner=owner, amounts=(180_000,))
    other = active_contract(owner=owner, amounts=(10_000,))
    active_contract(amounts=(70_000,))  # another company's spending is not ours
    res = signed_in.get("/company/spending/")
    html = res.content.decode()
    assert html.count('role="img"') == 2
    assert "What you spent each month, in EUR" in html
    assert "What you spent per brief, in EUR" in html
    this_month = month_label(timezone.now().date().replace(day=1))
    # The month's net spending, service fee included: €1,890.00 + €105.00.
    assert f'<th scope="row">{this_month}</th><td>€1,995.00</td>' in html
    assert f'<th scope="row">{escape(other.project.title)}</th><td>€105.00</td>' in html
    assert "€735.00" not in html
    assert "<details>" in html


def test_spending_per_brief_is_net_of_refunds(signed_in, owner):
    contract = active_contract(owner=owner, amounts=(10_000,))
    signed_in.post(f"/company/contracts/{contract.pk}/cancel/", {"cancel-reason": "Plans changed"})
    html = signed_in.get("/company/spending/").content.decode()
    assert html.count('<p class="empty">No data yet</p>') == 1  # per brief: nothing left
    assert "No data yet</text>" in html  # the month chart's all-zero state


def test_the_contract_page_offers_cancelling_with_a_full_refund(signed_in, owner):
    contract = active_contract(owner=owner, amounts=(10_000, 5_000))
    html = signed_in.get(f"/company/contracts/{contract.pk}/").content.decode()
    assert "The €157.50 you paid into escrow, service fee included, is refunded" in html
    url = f"/company/contracts/{contract.pk}/cancel/"
    res = signed_in.post(url, {"cancel-reason": "  "}, follow=True)
    assert messages_of(res) == ["Say why the contract is cancelled."]
    res = signed_in.post(url, {"cancel-reason": "Our plans changed."}, follow=True)
    assert messages_of(res) == [
        "Contract cancelled: the money held in escrow is refunded to you in full."
    ]
    contract.refresh_from_db()
    assert contract.status == Contract.Status.CANCELLED
    assert contract.project.status == Project.Status.CANCELLED
    statuses = {m.escrow.status for m in contract.milestones.select_related("escrow")}
    assert statuses == {Escrow.Status.REFUNDED}
    assert "Cancel the contract" not in res.content.decode()


def test_an_unfunded_contract_is_cancelled_with_nothing_to_refund(signed_in, owner):
    contract = active_contract(owner=owner, funded=False)
    html = signed_in.get(f"/company/contracts/{contract.pk}/").content.decode()
    assert "No milestone is funded yet, so there is nothing to refund." in html


def test_a_delivered_contract_cannot_be_cancelled_and_says_why(signed_in, owner):
    milestone = _delivered(owner)
    contract = milestone.contract
    html = signed_in.get(f"/company/contracts/{contract.pk}/").content.decode()
    assert "Cancel the contract" not in html
    res = signed_in.post(
        f"/company/contracts/{contract.pk}/cancel/", {"cancel-reason": "Too late"}, follow=True
    )
    assert messages_of(res) == [
        "“Step 1” was already delivered; the contract can no longer be cancelled "
        "(request changes or open a dispute instead)."
    ]
    assert 'role="alert"' in res.content.decode()
    contract.refresh_from_db()
    assert contract.status == Contract.Status.ACTIVE
    assert Escrow.objects.get(pk=milestone.escrow_id).status == Escrow.Status.FUNDED


def test_others_cannot_cancel_a_contract(client, signed_in):
    contract = active_contract()
    url = f"/company/contracts/{contract.pk}/cancel/"
    assert signed_in.post(url, {"cancel-reason": "x"}).status_code == 404
    assert signed_in.get(url).status_code == 405
    client.force_login(contract.student)
    assert client.post(url, {"cancel-reason": "x"}).status_code == 403
    contract.refresh_from_db()
    assert contract.status == Contract.Status.ACTIVE


STARS = {"rating": 4, "quality": 5, "communication": 4, "deadlines": 3}


def _reviewed_by_student(owner, comment: str = "Clear brief, paid on time.") -> Review:
    contract = completed_contract(owner=owner)
    review_submit(contract_id=contract.pk, by=owner, **STARS)
    return review_submit(contract_id=contract.pk, by=contract.student, comment=comment, **STARS)


def test_the_reputation_page_is_empty_at_first(signed_in):
    html = signed_in.get("/company/reputation/").content.decode()
    assert "No student has reviewed your company yet." in html
    assert "from 0 reviews" in html


def test_the_company_reads_its_reviews_and_answers_once(signed_in, owner):
    review = _reviewed_by_student(owner)
    html = signed_in.get("/company/reputation/").content.decode()
    assert "Clear brief, paid on time." in html
    assert "4.00 / 5" in html
    assert "from 1 review" in html
    assert escape(review.author.first_name) in html
    url = f"/company/reviews/{review.pk}/reply/"
    field = f"review-{review.pk}-body"
    assert f'name="{field}"' in html
    res = signed_in.post(url, {field: ""}, follow=True)
    assert messages_of(res) == ["Write an answer."]
    res = signed_in.post(url, {field: "Thank you, Léa!"}, follow=True)
    assert messages_of(res) == ["Your answer is published under the review."]
    assert ReviewReply.objects.get(review=review).body == "Thank you, Léa!"
    html = res.content.decode()
    assert "Thank you, Léa!" in html
    assert f'name="{field}"' not in html
    res = signed_in.post(url, {field: "Again"}, follow=True)
    assert messages_of(res) == ["This review was answered already."]


def test_only_the_companys_own_reviews_can_be_answered(client, signed_in, owner):
    others = _reviewed_by_student(CompanyMemberFactory(), comment="Someone else")
    assert "Someone else" not in signed_in.get("/company/reputation/").content.decode()
    url = f"/company/reviews/{others.pk}/reply/"
    assert signed_in.post(url, {f"review-{others.pk}-body": "Hi"}).status_code == 404
    ours = _reviewed_by_student(owner)
    company_side = Review.objects.get(contract=ours.contract, role=Review.Role.COMPANY_TO_STUDENT)
    body = {f"review-{company_side.pk}-body": "Hi"}
    assert signed_in.post(f"/company/reviews/{company_side.pk}/reply/", body).status_code == 404
    client.force_login(ours.contract.student)
    assert client.get("/company/reputation/").status_code == 403
    assert not ReviewReply.objects.exists()


def test_the_reputation_page_runs_constant_queries(signed_in, owner, django_assert_max_num_queries):
    _reviewed_by_student(owner)
    with django_assert_max_num_queries(12) as few:
        signed_in.get("/company/reputation/")
    for _ in range(3):
        _reviewed_by_student(owner)
    with django_assert_max_num_queries(len(few.captured_queries)):
        signed_in.get("/company/reputation/")


def test_the_brief_chart_draws_the_largest_ten_and_the_table_lists_all(signed_in, owner):
    contracts = [active_contract(owner=owner, amounts=(10_000 + i * 100,)) for i in range(11)]
    html = signed_in.get("/company/spending/").content.decode()
    assert html.count("</rect>") == 12 + 10  # a bar per month, then the ten largest briefs
    for contract in contracts:
        assert f'<th scope="row">{escape(contract.project.title)}</th>' in html
    assert "The chart shows the 10 largest briefs; the table lists them all." in html
