from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from frontend.money import format_money
from payments.models import PayoutAccount
from projects.contracts.models import Delivery, Milestone
from projects.contracts.selectors import student_earnings
from projects.contracts.services import milestone_request_changes
from projects.messaging.models import Attachment
from projects.reviews.models import Review
from tests.factories import VerifiedStudentFactory
from tests.factories.contracts import active_contract, completed_contract
from tests.frontend.helpers import messages_of

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
REVIEW = {"rating": "5", "quality": "4", "communication": "5", "deadlines": "3", "comment": "Clear"}


@pytest.fixture
def student():
    return VerifiedStudentFactory()


@pytest.fixture
def signed_in(client, student):
    client.force_login(student)
    return client


def test_the_contracts_list_has_an_empty_state_then_constant_queries(
    signed_in, student, django_assert_num_queries
):
    html = signed_in.get("/student/contracts/").content.decode()
    assert "No contract yet" in html
    active_contract()
    for _ in range(2):
        active_contract(student=student, funded=False)
    with CaptureQueriesContext(connection) as two:
        signed_in.get("/student/contracts/")
    for _ in range(3):
        active_contract(student=student, funded=False)
    with django_assert_num_queries(len(two.captured_queries)):
        html = signed_in.get("/student/contracts/").content.decode()
    assert html.count("€100.00") == 5


def test_the_student_delivers_a_funded_milestone_with_a_file(signed_in, student):
    contract = active_contract(student=student)
    milestone = contract.milestones.get()
    html = signed_in.get(f"/student/contracts/{contract.pk}/").content.decode()
    assert "Paid into escrow" in html
    assert "Deliver this milestone" in html
    p = f"m{milestone.pk}"
    res = signed_in.post(
        f"/student/milestones/{milestone.pk}/deliver/",
        {
            f"{p}-note": "Here it is.",
            f"{p}-url": "https://github.com/lea/shop",
            f"{p}-files": [SimpleUploadedFile("report.pdf", PDF, "application/pdf")],
        },
        follow=True,
    )
    assert messages_of(res) == ["Delivery sent. The company will review it."]
    delivery = Delivery.objects.get(milestone=milestone)
    assert (delivery.note, delivery.url) == ("Here it is.", "https://github.com/lea/shop")
    assert Attachment.objects.get(delivery=delivery).name == "report.pdf"
    milestone.refresh_from_db()
    assert milestone.work_status == Milestone.WorkStatus.SUBMITTED
    html = res.content.decode()
    assert "report.pdf" in html
    assert "The company is reviewing your delivery." in html


def test_the_student_reads_the_changes_asked_and_delivers_again(signed_in, student):
    contract = active_contract(student=student)
    milestone = contract.milestones.get()
    p = f"m{milestone.pk}"
    signed_in.post(f"/student/milestones/{milestone.pk}/deliver/", {f"{p}-note": "v1"})
    milestone_request_changes(
        milestone_id=milestone.pk, by=contract.project.created_by, note="Add a logo."
    )
    html = signed_in.get(f"/student/contracts/{contract.pk}/").content.decode()
    assert "Changes asked on" in html
    assert "Add a logo." in html
    assert "Deliver again" in html


@pytest.mark.parametrize(
    ("files", "data", "field"),
    [
        ([SimpleUploadedFile("tool.pdf", b"\x7fELF\x02\x01\x01", "application/pdf")], {}, "files"),
        ([], {"url": "not a link"}, "url"),
    ],
)
def test_a_refused_delivery_shows_the_error_and_delivers_nothing(
    signed_in, student, files, data, field
):
    contract = active_contract(student=student)
    milestone = contract.milestones.get()
    p = f"m{milestone.pk}"
    body = {f"{p}-note": "Here", f"{p}-files": files, **{f"{p}-{k}": v for k, v in data.items()}}
    res = signed_in.post(f"/student/milestones/{milestone.pk}/deliver/", body)
    assert res.status_code == 400
    form = next(r["form"] for r in res.context["milestones"] if r["milestone"].pk == milestone.pk)
    assert form.errors[field]
    assert f'id="id_{p}-{field}_error"' in res.content.decode()
    assert not Delivery.objects.exists()
    assert not Attachment.objects.exists()


def test_an_unfunded_milestone_cannot_be_delivered(signed_in, student):
    contract = active_contract(student=student, funded=False)
    milestone = contract.milestones.get()
    html = signed_in.get(f"/student/contracts/{contract.pk}/").content.decode()
    assert "Deliver this milestone" not in html
    res = signed_in.post(
        f"/student/milestones/{milestone.pk}/deliver/",
        {f"m{milestone.pk}-note": "early"},
        follow=True,
    )
    assert messages_of(res) == ["Deliver once the milestone is funded and still held in escrow."]
    assert not Delivery.objects.exists()


def test_the_money_trail_tells_the_student_what_was_paid_to_them(signed_in, student):
    contract = completed_contract(student=student, amounts=(180_000,))
    paid = student_earnings(student_ids=[student.pk])[student.pk]["EUR"]
    html = signed_in.get(f"/student/contracts/{contract.pk}/").content.decode()
    assert f"{format_money(paid, 'EUR')} released to you." in html
    assert "into escrow." in html
    assert "Review the company" in html


def test_the_student_reviews_the_company_once_the_contract_ended(signed_in, student):
    contract = completed_contract(student=student)
    res = signed_in.post(f"/student/contracts/{contract.pk}/review/", REVIEW, follow=True)
    assert messages_of(res) == ["Thank you: your review is saved."]
    review = Review.objects.get(contract=contract)
    assert (review.role, review.rating, review.deadlines, review.author) == (
        Review.Role.STUDENT_TO_COMPANY,
        5,
        3,
        student,
    )
    assert "You reviewed this company." in res.content.decode()
    html = signed_in.get(f"/student/contracts/{contract.pk}/review/").content.decode()
    assert "You already reviewed this contract." in html


def test_a_review_without_stars_or_before_the_end_changes_nothing(signed_in, student):
    done = completed_contract(student=student)
    res = signed_in.post(f"/student/contracts/{done.pk}/review/", {**REVIEW, "rating": ""})
    assert res.context["form"].errors["rating"] == ["This field is required."]
    running = active_contract(student=student)
    html = signed_in.get(f"/student/contracts/{running.pk}/review/").content.decode()
    assert "Reviews open when the contract ends" in html
    res = signed_in.post(f"/student/contracts/{running.pk}/review/", REVIEW)
    assert "Reviews open when the contract is completed" in " ".join(
        res.context["form"].non_field_errors()
    )
    assert not Review.objects.exists()


def test_the_student_connects_payouts_and_is_sent_to_the_provider(signed_in, student):
    html = signed_in.get("/student/payouts/").content.decode()
    assert "Connect payouts" in html
    res = signed_in.post("/student/payouts/")
    assert res.status_code == 302
    assert "/payouts/return/?account=" in res["Location"]
    assert PayoutAccount.objects.get(user=student).payouts_enabled
    html = signed_in.get("/student/payouts/").content.decode()
    assert "Your payout account is ready" in html


def test_earnings_show_the_total_and_the_monthly_chart(signed_in, student):
    html = signed_in.get("/student/earnings/").content.decode()
    assert "Nothing yet" in html
    assert "No data yet" in html
    completed_contract(student=student, amounts=(180_000,))
    paid = student_earnings(student_ids=[student.pk])[student.pk]["EUR"]
    html = signed_in.get("/student/earnings/").content.decode()
    assert html.count(format_money(paid, "EUR")) >= 3  # total, chart bar title, table row
    assert 'role="img"' in html
    assert "What you were paid each month, in EUR" in html
    assert "No data yet" not in html
