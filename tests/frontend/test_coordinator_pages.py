from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from frontend.money import format_money
from marketplace.models import User
from projects.briefs.models import Bid
from projects.briefs.services import bid_submit
from projects.contracts.selectors import student_earnings
from projects.reviews.services import review_submit
from schools.models import EnrolmentVerification, VerificationEvent
from schools.services import verifications_expire
from tests.factories import (
    CompanyMemberFactory,
    CoordinatorFactory,
    ProjectFactory,
    StudentFactory,
    UserFactory,
    VerificationFactory,
)
from tests.factories.contracts import completed_contract
from tests.frontend.helpers import messages_of
from tests.twofactor import login_with_second_factor

pytestmark = pytest.mark.django_db

V = EnrolmentVerification.Status
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def coordinator():
    return CoordinatorFactory(user__first_name="Claire", user__last_name="Dumas")


@pytest.fixture
def signed_in(client, coordinator):
    login_with_second_factor(client, coordinator.user)
    return client


def _request(school, **kw) -> EnrolmentVerification:
    """A request whose student confirmed the school address: waiting for the coordinator."""
    return VerificationFactory(
        school=school, status=V.PENDING_REVIEW, decided_at=None, program="BSc Design", **kw
    )


def _body(res) -> str:
    return res.content.decode()


def _count_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def _student_of(school, contract=None, **kw) -> EnrolmentVerification:
    """A verified student of `school`; with a contract, that contract's student."""
    if contract is None:
        return VerificationFactory(school=school, **kw)
    verification = contract.student.enrolment_verifications.get()
    EnrolmentVerification.objects.filter(pk=verification.pk).update(school=school, **kw)
    verification.refresh_from_db()
    return verification


PAGES = [
    "frontend:coordinator-dashboard",
    "frontend:coordinator-queue",
    "frontend:coordinator-students",
    "frontend:coordinator-students-csv",
    "frontend:coordinator-audit",
]


@pytest.mark.parametrize("name", PAGES)
@pytest.mark.parametrize(
    "make_user", [CompanyMemberFactory, StudentFactory], ids=["company", "student"]
)
def test_other_roles_are_refused(client, name, make_user):
    client.force_login(make_user())
    assert client.get(reverse(name)).status_code == 403


@pytest.mark.parametrize("name", PAGES)
def test_anonymous_visitors_are_sent_to_sign_in(client, name):
    res = client.get(reverse(name))
    assert res.status_code == 302
    assert res["Location"].startswith(reverse("frontend:signin"))


def test_a_coordinator_account_without_a_school_is_refused(client):
    login_with_second_factor(client, UserFactory(role=User.Role.COORDINATOR))
    assert client.get(reverse("frontend:coordinator-dashboard")).status_code == 403


@pytest.mark.parametrize(
    "make_user", [CompanyMemberFactory, StudentFactory], ids=["company", "student"]
)
def test_other_roles_cannot_decide(client, coordinator, make_user):
    request = _request(coordinator.school)
    client.force_login(make_user())
    assert (
        client.post(reverse("frontend:coordinator-approve", args=[request.pk])).status_code == 403
    )
    request.refresh_from_db()
    assert request.status == V.PENDING_REVIEW


def test_home_leads_a_coordinator_to_the_school_dashboard(signed_in):
    res = signed_in.get(reverse("frontend:home"))
    assert res["Location"] == reverse("frontend:coordinator-dashboard")


def test_the_nav_links_the_coordinator_pages(signed_in):
    page = _body(signed_in.get(reverse("frontend:coordinator-queue")))
    for name in ["coordinator-dashboard", "coordinator-students", "coordinator-audit"]:
        assert f'href="{reverse(f"frontend:{name}")}"' in page
    assert f'href="{reverse("frontend:coordinator-queue")}" aria-current="page"' in page


# The dashboard


def test_the_dashboard_counts_and_draws_the_school_charts(signed_in, coordinator):
    school = coordinator.school
    _request(school)
    _request(school)
    VerificationFactory(school=school)
    VerificationFactory(school=school, graduation_date=timezone.localdate() + dt.timedelta(days=10))
    _request(CoordinatorFactory().school)  # another school's
    paid = _student_of(school, completed_contract(amounts=(20_000,)))

    res = signed_in.get(reverse("frontend:coordinator-dashboard"))

    assert res.status_code == 200
    assert res.context["counts"] == {"pending": 2, "verified": 3, "expiring": 1}
    titles = [chart["title"] for chart in res.context["charts"]]
    assert titles == [
        "Verified students at the end of each month",
        "Contracts completed each month",
        "Paid to the students each month (EUR)",
    ]
    page = _body(res)
    assert page.count('role="img"') == 3
    assert page.count("<details>") == 3
    [earned] = student_earnings(student_ids=[paid.student_id])[paid.student_id].values()
    assert format_money(earned, "EUR") in res.context["charts"][2]["table"]


def test_an_empty_school_dashboard_says_there_is_no_data(signed_in):
    res = signed_in.get(reverse("frontend:coordinator-dashboard"))
    assert res.context["counts"] == {"pending": 0, "verified": 0, "expiring": 0}
    assert len(res.context["charts"]) == 2  # no currency earned yet: no earnings chart
    assert "No data yet" in _body(res)


# The queue


def test_the_queue_lists_the_school_requests_waiting_for_review(signed_in, coordinator):
    mine = _request(coordinator.school, student__first_name="Léa", student__last_name="Martin")
    VerificationFactory(school=coordinator.school, status=V.PENDING_EMAIL)
    VerificationFactory(school=coordinator.school)  # already verified
    theirs = _request(CoordinatorFactory().school)

    res = signed_in.get(reverse("frontend:coordinator-queue"))

    assert [v.pk for v, _form in res.context["rows"]] == [mine.pk]
    page = _body(res)
    assert "Léa Martin" in page
    assert mine.school_email in page
    assert "BSc Design" in page
    assert theirs.school_email not in page
    assert reverse("frontend:coordinator-approve", args=[mine.pk]) in page
    assert f'hx-post="{reverse("frontend:coordinator-reject", args=[mine.pk])}"' in page


def test_an_empty_queue_says_so(signed_in):
    assert "No request is waiting for you." in _body(signed_in.get("/school/requests/"))


def test_the_queue_is_paginated(signed_in, coordinator):
    for _ in range(21):
        _request(coordinator.school)
    first = signed_in.get(reverse("frontend:coordinator-queue"))
    second = signed_in.get(reverse("frontend:coordinator-queue") + "?page=2")
    assert len(first.context["rows"]) == 20
    assert len(second.context["rows"]) == 1
    assert "Page 1 of 2" in _body(first)


def test_approving_verifies_the_student_with_an_audit_row(signed_in, coordinator):
    request = _request(coordinator.school, student__first_name="Léa", student__last_name="Martin")

    res = signed_in.post(reverse("frontend:coordinator-approve", args=[request.pk]), follow=True)

    assert res.redirect_chain[-1][0] == reverse("frontend:coordinator-queue")
    assert messages_of(res) == ["Léa Martin is verified."]
    request.refresh_from_db()
    assert request.status == V.VERIFIED
    assert request.decided_by == coordinator.user
    event = VerificationEvent.objects.get(verification=request)
    assert (event.from_status, event.to_status, event.actor) == (
        V.PENDING_REVIEW,
        V.VERIFIED,
        coordinator.user,
    )


def test_approving_with_htmx_swaps_the_card_and_announces_it(signed_in, coordinator):
    request = _request(coordinator.school, student__first_name="Léa", student__last_name="Martin")

    res = signed_in.post(reverse("frontend:coordinator-approve", args=[request.pk]), **HTMX)

    assert res.status_code == 200
    page = _body(res)
    assert f'id="request-{request.pk}"' in page
    assert "Verified" in page
    assert 'id="queue-status" hx-swap-oob="true" role="status"' in page
    assert "Léa Martin is verified." in page
    # Nothing left over for the next full page.
    assert messages_of(signed_in.get(reverse("frontend:coordinator-queue"))) == []


def test_approving_needs_a_post(signed_in, coordinator):
    request = _request(coordinator.school)
    res = signed_in.get(reverse("frontend:coordinator-approve", args=[request.pk]))
    assert res.status_code == 405


def test_approving_a_decided_request_changes_nothing(signed_in, coordinator):
    request = VerificationFactory(school=coordinator.school, status=V.REJECTED)

    res = signed_in.post(reverse("frontend:coordinator-approve", args=[request.pk]), follow=True)

    assert messages_of(res) == ["A verification cannot go from rejected to verified."]
    request.refresh_from_db()
    assert request.status == V.REJECTED
    assert not VerificationEvent.objects.exists()


@pytest.mark.parametrize("name", ["coordinator-approve", "coordinator-reject"])
def test_another_school_request_is_not_found(signed_in, name):
    theirs = _request(CoordinatorFactory().school)

    res = signed_in.post(reverse(f"frontend:{name}", args=[theirs.pk]), {"reason": "No"})

    assert res.status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == V.PENDING_REVIEW
    assert not VerificationEvent.objects.exists()


def test_the_reject_page_shows_the_form(signed_in, coordinator):
    request = _request(coordinator.school, student__first_name="Léa", student__last_name="Martin")
    res = signed_in.get(reverse("frontend:coordinator-reject", args=[request.pk]))
    assert res.status_code == 200
    assert "Reject the request of Léa Martin" in _body(res)


@pytest.mark.parametrize("reason", ["", "   "])
def test_rejecting_without_a_reason_is_a_field_error(signed_in, coordinator, reason):
    request = _request(coordinator.school)

    res = signed_in.post(
        reverse("frontend:coordinator-reject", args=[request.pk]), {"reason": reason}
    )

    assert res.status_code == 200
    assert res.context["form"].errors == {"reason": ["This field is required."]}
    assert 'aria-invalid="true"' in _body(res)
    request.refresh_from_db()
    assert request.status == V.PENDING_REVIEW
    assert not VerificationEvent.objects.exists()


def test_rejecting_without_a_reason_with_htmx_shows_the_error_in_the_card(signed_in, coordinator):
    request = _request(coordinator.school)

    res = signed_in.post(
        reverse("frontend:coordinator-reject", args=[request.pk]), {"reason": ""}, **HTMX
    )

    assert res.status_code == 200
    page = _body(res)
    assert page.lstrip().startswith(f'<li class="card" id="request-{request.pk}">')
    assert "This field is required." in page
    assert "<html" not in page
    request.refresh_from_db()
    assert request.status == V.PENDING_REVIEW


def test_rejecting_with_a_reason_records_it(signed_in, coordinator):
    request = _request(coordinator.school, student__first_name="Léa", student__last_name="Martin")

    res = signed_in.post(
        reverse("frontend:coordinator-reject", args=[request.pk]),
        {"reason": "  Not enrolled this year.  "},
        follow=True,
    )

    assert res.redirect_chain[-1][0] == reverse("frontend:coordinator-queue")
    assert messages_of(res) == ["The request of Léa Martin is rejected."]
    request.refresh_from_db()
    assert (request.status, request.reason) == (V.REJECTED, "Not enrolled this year.")
    event = VerificationEvent.objects.get(verification=request)
    assert (event.to_status, event.reason, event.actor) == (
        V.REJECTED,
        "Not enrolled this year.",
        coordinator.user,
    )


def test_rejecting_with_htmx_swaps_the_card(signed_in, coordinator):
    request = _request(coordinator.school)

    res = signed_in.post(
        reverse("frontend:coordinator-reject", args=[request.pk]),
        {"reason": "Unknown to us"},
        **HTMX,
    )

    page = _body(res)
    assert "Declined" in page
    assert "Unknown to us" in page
    assert 'hx-swap-oob="true"' in page


# Students and their results


def _with_results(school) -> EnrolmentVerification:
    """A student of `school` with one completed contract, paid, reviewed 4 stars."""
    contract = completed_contract(amounts=(20_000,))
    verification = _student_of(school, contract)
    owner = contract.project.created_by
    review_submit(
        contract_id=contract.pk, by=owner, rating=4, quality=4, communication=4, deadlines=4
    )
    review_submit(
        contract_id=contract.pk,
        by=contract.student,
        rating=5,
        quality=5,
        communication=5,
        deadlines=5,
    )
    return verification


def test_the_students_page_shows_their_results(signed_in, coordinator):
    verification = _with_results(coordinator.school)
    quiet = VerificationFactory(school=coordinator.school)
    other = VerificationFactory(school=CoordinatorFactory().school)

    res = signed_in.get(reverse("frontend:coordinator-students"))

    rows = {v.pk: v for v in res.context["page"]}
    assert set(rows) == {verification.pk, quiet.pk}
    row = rows[verification.pk]
    assert row.completed_contracts == 1
    assert list(row.earned) == ["EUR"] and row.earned["EUR"] > 0
    assert str(row.reputation.average_rating) == "4.00"
    page = _body(res)
    assert verification.student.full_name in page
    assert other.school_email not in page
    assert "4.0 / 5 (1 review)" in page
    assert "100%" in page
    assert reverse("frontend:coordinator-revoke", args=[verification.pk]) in page
    assert f'href="{reverse("frontend:coordinator-students-csv")}"' in page


def test_an_empty_students_page_says_so(signed_in):
    res = signed_in.get(reverse("frontend:coordinator-students"))
    assert "No student of your school is verified yet." in _body(res)


def test_the_csv_export_is_the_api_export(signed_in, coordinator, as_user):
    verification = _with_results(coordinator.school)
    VerificationFactory(school=coordinator.school, student__first_name="=HYPERLINK(1)")

    res = signed_in.get(reverse("frontend:coordinator-students-csv"))

    assert res.status_code == 200
    assert res["Content-Type"] == "text/csv; charset=utf-8"
    assert (
        res["Content-Disposition"]
        == f'attachment; filename="school-{coordinator.school_id}-students.csv"'
    )
    text = b"".join(res.streaming_content).decode()
    lines = text.strip().splitlines()
    assert lines[0].startswith("student_id,first_name,last_name,school_email")
    assert len(lines) == 3
    assert any(line.startswith(f"{verification.student_id},") and ",1," in line for line in lines)
    assert ",'=HYPERLINK(1)," in text
    api = as_user(coordinator.user).get(f"/api/v1/schools/{coordinator.school_id}/students/export/")
    assert b"".join(api.streaming_content).decode() == text


# Revocation


def test_the_revoke_page_explains_what_happens_to_bids(signed_in, coordinator):
    verification = VerificationFactory(school=coordinator.school)
    res = signed_in.get(reverse("frontend:coordinator-revoke", args=[verification.pk]))
    assert res.status_code == 200
    assert "Their open bids (submitted or shortlisted) are withdrawn at once." in _body(res)


def test_revoking_without_a_reason_is_a_field_error(signed_in, coordinator):
    verification = VerificationFactory(school=coordinator.school)

    res = signed_in.post(
        reverse("frontend:coordinator-revoke", args=[verification.pk]), {"reason": ""}
    )

    assert res.status_code == 200
    assert res.context["form"].errors == {"reason": ["This field is required."]}
    verification.refresh_from_db()
    assert verification.status == V.VERIFIED
    assert not VerificationEvent.objects.exists()


def test_revoking_ends_the_verification_and_withdraws_open_bids(signed_in, coordinator):
    verification = VerificationFactory(
        school=coordinator.school, student__first_name="Léa", student__last_name="Martin"
    )
    bid = bid_submit(
        project_id=ProjectFactory().pk,
        by=verification.student,
        amount_cents=50_000,
        estimated_days=5,
        cover_letter="Hi",
    )

    res = signed_in.post(
        reverse("frontend:coordinator-revoke", args=[verification.pk]),
        {"reason": "Left the school"},
        follow=True,
    )

    assert res.redirect_chain[-1][0] == reverse("frontend:coordinator-students")
    assert messages_of(res) == [
        "The verification of Léa Martin is revoked; their open bids are withdrawn."
    ]
    verification.refresh_from_db()
    assert (verification.status, verification.reason) == (V.REVOKED, "Left the school")
    bid.refresh_from_db()
    assert bid.status == Bid.Status.WITHDRAWN
    event = VerificationEvent.objects.get(verification=verification)
    assert (event.from_status, event.to_status, event.actor) == (
        V.VERIFIED,
        V.REVOKED,
        coordinator.user,
    )
    assert res.context["page"].paginator.count == 0


def test_revoking_another_school_verification_is_not_found(signed_in):
    theirs = VerificationFactory(school=CoordinatorFactory().school)

    res = signed_in.post(
        reverse("frontend:coordinator-revoke", args=[theirs.pk]), {"reason": "Left"}
    )

    assert res.status_code == 404
    assert (
        signed_in.get(reverse("frontend:coordinator-revoke", args=[theirs.pk])).status_code == 404
    )
    theirs.refresh_from_db()
    assert theirs.status == V.VERIFIED


def test_revoking_a_request_not_in_force_is_refused_on_the_form(signed_in, coordinator):
    request = _request(coordinator.school)

    res = signed_in.post(reverse("frontend:coordinator-revoke", args=[request.pk]), {"reason": "x"})

    assert res.context["form"].non_field_errors() == [
        "A verification cannot go from pending_review to revoked."
    ]
    request.refresh_from_db()
    assert request.status == V.PENDING_REVIEW


# The audit trail


def test_the_audit_trail_says_who_when_what_and_why(signed_in, coordinator):
    school = coordinator.school
    request = _request(school, student__first_name="Léa", student__last_name="Martin")
    signed_in.post(reverse("frontend:coordinator-reject", args=[request.pk]), {"reason": "Unknown"})
    graduated = VerificationFactory(school=school, graduation_date=timezone.localdate())
    verifications_expire(today=timezone.localdate() + dt.timedelta(days=1))
    theirs = _request(CoordinatorFactory().school)
    VerificationEvent.objects.create(
        verification=theirs, from_status=V.PENDING_EMAIL, to_status=V.PENDING_REVIEW
    )

    res = signed_in.get(reverse("frontend:coordinator-audit"))

    events = list(res.context["page"])
    assert [e.verification_id for e in events] == [graduated.pk, request.pk]
    page = _body(res)
    assert "Claire Dumas" in page
    assert "Léa Martin" in page
    assert "Waiting for the coordinator → Declined" in page
    assert "Unknown" in page
    assert "The platform" in page
    assert "graduation date passed" in page


def test_an_empty_audit_trail_says_so(signed_in):
    assert "Nothing has happened yet." in _body(
        signed_in.get(reverse("frontend:coordinator-audit"))
    )


# Query budgets: the list pages cost the same whatever the number of rows.


def _grow(school, n: int) -> None:
    for _ in range(n):
        request = _request(school)
        VerificationEvent.objects.create(
            verification=request, from_status=V.PENDING_EMAIL, to_status=V.PENDING_REVIEW
        )
        VerificationFactory(school=school)


@pytest.mark.parametrize(
    "name",
    [
        "frontend:coordinator-queue",
        "frontend:coordinator-students",
        "frontend:coordinator-audit",
        "frontend:coordinator-dashboard",
        "frontend:coordinator-students-csv",
    ],
)
def test_list_pages_run_a_constant_number_of_queries(signed_in, coordinator, name):
    _student_of(coordinator.school, completed_contract())
    _grow(coordinator.school, 1)
    few = _count_queries(signed_in, reverse(name))
    _grow(coordinator.school, 5)
    assert _count_queries(signed_in, reverse(name)) == few
