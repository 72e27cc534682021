from __future__ import annotations

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

import pytest
import time_machine
from django.db import IntegrityError, transaction

from marketplace.models import Notification, OutboundEmail, StudentProfile, User
from payments.services.payouts import payout_account_onboard
from projects.contracts.models import Contract, Milestone
from projects.contracts.services import milestone_approve, milestone_submit
from projects.reviews.models import Review
from projects.reviews.selectors import student_reputations
from projects.reviews.services import STATS_FIELDS, reviews_reveal_due, student_stats_refresh_all
from tests.factories import (
    CompanyMemberFactory,
    CompanyMembershipFactory,
    CoordinatorFactory,
    SchoolFactory,
    UserFactory,
    VerifiedStudentFactory,
)
from tests.factories.contracts import active_contract, completed_contract

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2031, 3, 3, 9, 0, tzinfo=dt.UTC)


def _review(rating: int = 4, **extra: object) -> dict:
    return {
        "rating": rating,
        "quality": extra.pop("quality", rating),
        "communication": extra.pop("communication", rating),
        "deadlines": extra.pop("deadlines", rating),
        "comment": extra.pop("comment", f"{rating} stars"),
        **extra,
    }


@pytest.fixture
def reviewable(as_user):  # type: ignore[no-untyped-def]
    school = SchoolFactory()
    with time_machine.travel(T0, tick=False):
        owner = CompanyMemberFactory()
        student = VerifiedStudentFactory(verification__school=school)
        contract = completed_contract(owner=owner, student=student)
    colleague = CompanyMembershipFactory(company=owner.company_membership.company).user
    rival = CompanyMemberFactory()
    other_student = VerifiedStudentFactory(verification__school=school)
    coordinator = CoordinatorFactory(school=school).user
    staff = UserFactory(role=User.Role.ADMIN, is_staff=True)
    return SimpleNamespace(
        contract=contract,
        owner=owner,
        student=student,
        colleague=colleague,
        company=as_user(owner),
        me=as_user(student),
        rival=as_user(rival),
        other_student=as_user(other_student),
        coordinator=as_user(coordinator),
        staff=as_user(staff),
        url=f"/api/v1/contracts/{contract.pk}/reviews/",
    )


def _ids(client, url: str) -> list[str]:  # type: ignore[no-untyped-def]
    res = client.get(url)
    assert res.status_code == 200, res.content
    return [r["role"] for r in res.json()["results"]]


def test_double_blind_before_after_one_side_after_both(reviewable):  # type: ignore[no-untyped-def]
    with time_machine.travel(T0 + dt.timedelta(days=1), tick=False):
        assert _ids(reviewable.company, reviewable.url) == []
        assert reviewable.company.get(reviewable.url).json()["can_review"] is True
        res = reviewable.company.post(
            reviewable.url, _review(5, private_feedback="Slow to answer"), format="json"
        )
        assert res.status_code == 201, res.content
        assert "private_feedback" not in res.json()
        company_review = res.json()["id"]
        assert _ids(reviewable.company, reviewable.url) == ["company_to_student"]
        assert _ids(reviewable.me, reviewable.url) == []
        assert reviewable.me.get(reviewable.url).json()["other_side_written"] is True
        assert reviewable.me.get(f"/api/v1/reviews/{company_review}/").status_code == 404
        assert (
            reviewable.me.post(
                f"/api/v1/reviews/{company_review}/reply/", {"body": "x"}
            ).status_code
            == 404
        )
    with time_machine.travel(T0 + dt.timedelta(days=2), tick=False):
        res = reviewable.me.post(reviewable.url, _review(3), format="json")
        assert res.status_code == 201, res.content
        both = ["company_to_student", "student_to_company"]
        assert _ids(reviewable.me, reviewable.url) == both
        assert _ids(reviewable.company, reviewable.url) == both
        assert reviewable.me.get(f"/api/v1/reviews/{company_review}/").json()["rating"] == 5


def test_the_window_closing_reveals_a_lone_review_and_ends_reviewing(reviewable):  # type: ignore[no-untyped-def]
    with time_machine.travel(T0 + dt.timedelta(days=13, hours=23), tick=False):
        assert reviewable.me.post(reviewable.url, _review(2), format="json").status_code == 201
        assert _ids(reviewable.company, reviewable.url) == []
        assert reviews_reveal_due() == 0
    with time_machine.travel(T0 + dt.timedelta(days=14), tick=False):
        assert _ids(reviewable.company, reviewable.url) == ["student_to_company"]
        res = reviewable.company.post(reviewable.url, _review(5), format="json")
        assert res.status_code == 409
        assert reviewable.company.get(reviewable.url).json()["can_review"] is False
        assert reviews_reveal_due() == 1
        assert reviews_reveal_due() == 0
    told = Notification.objects.filter(kind="review_received").values_list("user_id", flat=True)
    assert sorted(told) == sorted([reviewable.owner.pk, reviewable.colleague.pk])


def test_notifications_tell_the_wait_then_the_review_once(reviewable):  # type: ignore[no-untyped-def]
    with time_machine.travel(T0 + dt.timedelta(days=1), tick=False):
        reviewable.company.post(reviewable.url, _review(4, comment="Great work"), format="json")
        waiting = Notification.objects.get(user=reviewable.student, kind="review_waiting")
        email = OutboundEmail.objects.get(to=reviewable.student.email, template="review_waiting")
        assert "Great work" not in email.body_text and "4/5" not in email.subject
        assert waiting.url == reviewable.url
        reviewable.me.post(reviewable.url, _review(5), format="json")
        reviews_reveal_due()
    received = Notification.objects.filter(kind="review_received")
    assert sorted(received.values_list("user_id", flat=True)) == sorted(
        [reviewable.student.pk, reviewable.owner.pk, reviewable.colleague.pk]
    )
    with time_machine.travel(T0 + dt.timedelta(days=20), tick=False):
        assert reviews_reveal_due() == 0
    assert Notification.objects.filter(kind="review_received").count() == 3


def test_one_review_per_side_even_from_two_members(reviewable, as_user):  # type: ignore[no-untyped-def]
    with time_machine.travel(T0 + dt.timedelta(days=1), tick=False):
        assert reviewable.company.post(reviewable.url, _review(4), format="json").status_code == 201
        res = as_user(reviewable.colleague).post(reviewable.url, _review(1), format="json")
        assert res.status_code == 409
    with pytest.raises(IntegrityError), transaction.atomic():
        Review.objects.create(
            contract=reviewable.contract,
            role="company_to_student",
            author=reviewable.colleague,
            subject_user=reviewable.student,
            rating=1,
            quality=1,
            communication=1,
            deadlines=1,
        )


def test_ratings_out_of_range_are_a_400_naming_the_field_and_the_db_refuses_them(reviewable):  # type: ignore[no-untyped-def]
    with time_machine.travel(T0 + dt.timedelta(days=1), tick=False):
        for field in ("rating", "quality", "communication", "deadlines"):
            for bad in (0, 6, "x"):
                res = reviewable.company.post(
                    reviewable.url, {**_review(4), field: bad}, format="json"
                )
                assert res.status_code == 400
                assert field in res.json()["errors"]
    with pytest.raises(IntegrityError), transaction.atomic():
        Review.objects.create(
            contract=reviewable.contract,
            role="company_to_student",
            author=reviewable.owner,
            subject_user=reviewable.student,
            rating=6,
            quality=1,
            communication=1,
            deadlines=1,
        )


def test_no_review_while_the_contract_runs(as_user):  # type: ignore[no-untyped-def]
    contract = active_contract()
    res = as_user(contract.project.created_by).post(
        f"/api/v1/contracts/{contract.pk}/reviews/", _review(4), format="json"
    )
    assert res.status_code == 409


def test_one_reply_by_the_reviewed_party_only(reviewable):  # type: ignore[no-untyped-def]
    with time_machine.travel(T0 + dt.timedelta(days=1), tick=False):
        review = reviewable.company.post(reviewable.url, _review(2), format="json").json()["id"]
        reviewable.me.post(reviewable.url, _review(5), format="json")
        reply = f"/api/v1/reviews/{review}/reply/"
        assert reviewable.company.post(reply, {"body": "Self-answer"}).status_code == 403
        assert reviewable.me.post(reply, {"body": ""}).status_code == 400
        res = reviewable.me.post(reply, {"body": "The brief changed twice."})
        assert res.status_code == 201
        assert res.json()["reply"]["body"] == "The brief changed twice."
        assert reviewable.me.post(reply, {"body": "Again"}).status_code == 409
    assert Notification.objects.filter(user=reviewable.owner, kind="review_reply").count() == 1


@pytest.mark.parametrize("who", ["rival", "other_student", "coordinator"])
def test_third_parties_see_no_review_of_the_contract(reviewable, who):  # type: ignore[no-untyped-def]
    with time_machine.travel(T0 + dt.timedelta(days=1), tick=False):
        review = reviewable.company.post(reviewable.url, _review(4), format="json").json()["id"]
        reviewable.me.post(reviewable.url, _review(4), format="json")
        client = getattr(reviewable, who)
        assert client.get(reviewable.url).status_code == 404
        assert client.post(reviewable.url, _review(4), format="json").status_code == 404
        assert client.get(f"/api/v1/reviews/{review}/").status_code == 404
        assert client.post(f"/api/v1/reviews/{review}/reply/", {"body": "x"}).status_code == 404


def test_private_feedback_only_through_the_staff_list(reviewable):  # type: ignore[no-untyped-def]
    with time_machine.travel(T0 + dt.timedelta(days=1), tick=False):
        reviewable.company.post(
            reviewable.url, _review(4, private_feedback="Hard to reach"), format="json"
        )
        reviewable.me.post(reviewable.url, _review(4), format="json")
        for client in (reviewable.company, reviewable.me):
            assert "Hard to reach" not in client.get(reviewable.url).content.decode()
        profile = reviewable.company.get(
            f"/api/v1/students/{reviewable.student.pk}/"
        ).content.decode()
        assert "Hard to reach" not in profile
        assert reviewable.staff.post(reviewable.url, _review(4), format="json").status_code == 403
        assert reviewable.company.get("/api/v1/admin/reviews/").status_code == 403
        rows = reviewable.staff.get("/api/v1/admin/reviews/").json()["results"]
    assert "Hard to reach" in [r["private_feedback"] for r in rows]


def _finish(owner: User, student: User, *, rating: int, on_time: list[bool]) -> Contract:
    contract = completed_contract(
        owner=owner, student=student, amounts=tuple(10_000 for _ in on_time)
    )
    for milestone, ok in zip(contract.milestones.order_by("position"), on_time, strict=True):
        days = -1 if ok else 1
        delivered = dt.datetime.combine(
            milestone.due_date + dt.timedelta(days=days), dt.time(12), tzinfo=dt.UTC
        )
        Milestone.objects.filter(pk=milestone.pk).update(submitted_at=delivered)
    return contract


def test_reputation_matches_hand_computed_values(as_user):  # type: ignore[no-untyped-def]
    owners = [CompanyMemberFactory() for _ in range(4)]
    with time_machine.travel(T0, tick=False):
        student = VerifiedStudentFactory()
        contracts = [
            _finish(owners[0], student, rating=5, on_time=[True, True]),
            _finish(owners[1], student, rating=4, on_time=[True, False]),
            _finish(owners[2], student, rating=4, on_time=[False]),
            _finish(owners[3], student, rating=1, on_time=[True]),
        ]
    # Hand-computed: ratings 5, 4 and 4 count (the fourth is hidden: only one side wrote,
    # window open) → 13 / 3 = 4.333… → "4.33"; quality 5+3+4 = 12 / 3 = "4.00";
    # on time: 4 of 6 approved milestones with a due date → 0.67; 4 completed contracts.
    with time_machine.travel(T0 + dt.timedelta(days=1), tick=False):
        for contract, (rating, quality) in zip(
            contracts, [(5, 5), (4, 3), (4, 4), (1, 1)], strict=True
        ):
            company = as_user(contract.project.created_by)
            url = f"/api/v1/contracts/{contract.pk}/reviews/"
            res = company.post(url, _review(rating, quality=quality), format="json")
            assert res.status_code == 201
            if rating != 1:
                as_user(student).post(url, _review(5), format="json")
        rep = student_reputations(student_ids=[student.pk])[student.pk]
        assert rep.average_rating == Decimal("4.33")
        assert rep.averages["quality"] == Decimal("4.00")
        assert (rep.completed_contracts, rep.on_time_milestones, rep.timed_milestones) == (4, 4, 6)
        assert rep.on_time_rate == Decimal("0.67")
        # The copy search and matching rank by was refreshed as the reviews became readable.
        assert _stats(student) == (3, 13, 4, 6, 4)
        body = as_user(owners[0]).get(f"/api/v1/students/{student.pk}/").json()
    assert body["reputation"] == {
        "average_rating": "4.33",
        "review_count": 3,
        "averages": {"quality": "4.00", "communication": "4.33", "deadlines": "4.33"},
        "completed_contracts": 4,
        "on_time_rate": "0.67",
        "on_time_milestones": 4,
        "timed_milestones": 6,
    }
    assert [r["rating"] for r in body["recent_reviews"]] == [4, 4, 5]
    with time_machine.travel(T0 + dt.timedelta(days=15), tick=False):
        rep = student_reputations(student_ids=[student.pk])[student.pk]
        assert _stats(student) == (3, 13, 4, 6, 4)
        reviews_reveal_due()
    # (5 + 4 + 4 + 1) / 4 = 3.5 once the lone review's window closed.
    assert (rep.average_rating, rep.review_count) == (Decimal("3.50"), 4)
    assert _stats(student) == (4, 14, 4, 6, 4)


def _stats(student) -> tuple[int, ...]:  # type: ignore[no-untyped-def]
    return tuple(StudentProfile.objects.filter(user=student).values_list(*STATS_FIELDS).get())


def test_the_ranking_copy_follows_approvals_completions_and_cancellations():
    student = VerifiedStudentFactory()
    contract = active_contract(student=student, amounts=(10_000, 20_000))
    first, second = contract.milestones.order_by("position")
    payout_account_onboard(user=student)
    milestone_submit(milestone_id=first.pk, by=student, note="done")
    milestone_approve(milestone_id=first.pk, by=contract.project.created_by)
    assert _stats(student) == (0, 0, 0, 1, 1)  # one dated milestone, delivered on time
    milestone_submit(milestone_id=second.pk, by=student, note="done")
    milestone_approve(milestone_id=second.pk, by=contract.project.created_by)
    assert _stats(student) == (0, 0, 1, 2, 2)  # and the contract completed
    other = active_contract(student=student)
    (late,) = other.milestones.all()
    milestone_submit(milestone_id=late.pk, by=student, note="done")
    milestone_approve(milestone_id=late.pk, by=other.project.created_by)
    assert _stats(student)[2] == 2
    StudentProfile.objects.filter(user=student).update(
        completed_contracts=0, timed_milestones=0, on_time_milestones=0
    )
    assert student_stats_refresh_all() == 1  # the daily rebuild puts the copy right
    assert _stats(student) == (0, 0, 2, 3, 3)


def test_a_company_page_shows_its_own_scores(as_user):  # type: ignore[no-untyped-def]
    owner = CompanyMemberFactory()
    company = owner.company_membership.company
    with time_machine.travel(T0, tick=False):
        first = completed_contract(owner=owner)
        second = completed_contract(owner=owner)
        completed_contract()  # another company's
    with time_machine.travel(T0 + dt.timedelta(days=1), tick=False):
        for contract, stars in ((first, 5), (second, 2)):
            url = f"/api/v1/contracts/{contract.pk}/reviews/"
            as_user(contract.student).post(url, _review(stars, deadlines=3), format="json")
            as_user(owner).post(url, _review(4), format="json")
        res = as_user(VerifiedStudentFactory()).get(f"/api/v1/companies/{company.pk}/")
    assert res.status_code == 200
    assert res.json()["reputation"] == {
        "average_rating": "3.50",
        "review_count": 2,
        "averages": {"quality": "3.50", "communication": "3.50", "deadlines": "3.00"},
        "completed_contracts": 2,
    }
    assert as_user(owner).get("/api/v1/companies/999999/").status_code == 404


def test_cancelled_contracts_are_left_out_of_every_score(as_user):  # type: ignore[no-untyped-def]
    with time_machine.travel(T0, tick=False):
        student = VerifiedStudentFactory()
        kept = completed_contract(student=student)
        cancelled = completed_contract(student=student)
        Contract.objects.filter(pk=cancelled.pk).update(status=Contract.Status.CANCELLED)
    with time_machine.travel(T0 + dt.timedelta(days=1), tick=False):
        for contract, stars in ((kept, 5), (cancelled, 1)):
            url = f"/api/v1/contracts/{contract.pk}/reviews/"
            assert (
                as_user(contract.project.created_by)
                .post(url, _review(stars), format="json")
                .status_code
                == 201
            )
            as_user(student).post(url, _review(3), format="json")
        assert (
            len(
                as_user(student).get(f"/api/v1/contracts/{cancelled.pk}/reviews/").json()["results"]
            )
            == 2
        )
        rep = student_reputations(student_ids=[student.pk])[student.pk]
        public = as_user(kept.project.created_by).get(f"/api/v1/students/{student.pk}/reviews/")
    assert (rep.average_rating, rep.review_count, rep.completed_contracts) == (
        Decimal("5.00"),
        1,
        1,
    )
    assert rep.timed_milestones == 1
    assert [r["rating"] for r in public.json()["results"]] == [5]


def test_a_student_profile_is_for_companies_the_student_and_their_coordinator(reviewable):  # type: ignore[no-untyped-def]
    url = f"/api/v1/students/{reviewable.student.pk}/"
    for client in (
        reviewable.company,
        reviewable.rival,
        reviewable.me,
        reviewable.coordinator,
        reviewable.staff,
    ):
        assert client.get(url).status_code == 200
        assert client.get(url + "reviews/").status_code == 200
    assert reviewable.other_student.get(url).status_code == 404
    assert reviewable.other_student.get(url + "reviews/").status_code == 404
    assert reviewable.company.get(f"/api/v1/students/{reviewable.owner.pk}/").status_code == 404


def test_the_coordinator_list_shows_rating_and_on_time_rate(reviewable):  # type: ignore[no-untyped-def]
    school = reviewable.student.enrolment_verifications.get().school
    with time_machine.travel(T0 + dt.timedelta(days=1), tick=False):
        reviewable.company.post(reviewable.url, _review(4), format="json")
        reviewable.me.post(reviewable.url, _review(5), format="json")
        rows = reviewable.coordinator.get(f"/api/v1/schools/{school.pk}/students/").json()[
            "results"
        ]
    mine = next(r for r in rows if r["id"] == reviewable.student.pk)
    assert (mine["average_rating"], mine["review_count"], mine["completed_contracts"]) == (
        "4.00",
        1,
        1,
    )
    assert mine["on_time_rate"] == "1.00"
