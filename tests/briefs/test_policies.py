"""`brief_actions` and `bid_actions`: who may do what in which state, and why not.

Each case is a role × state; the expected set lists the actions allowed, every
other one must be refused with a reason.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from marketplace.policies import Actions
from projects.briefs.models import Bid, Project
from projects.briefs.policies import (
    BID_ACTIONS,
    BRIEF_ACTIONS,
    bid_actions,
    brief_actions,
    brief_viewer,
)
from projects.briefs.selectors import bid_list_for_project, project_list
from projects.briefs.services import bid_submit
from schools.models import EnrolmentVerification
from tests.factories import (
    CompanyMemberFactory,
    CoordinatorFactory,
    ProjectFactory,
    SchoolFactory,
    StudentFactory,
    UserFactory,
    VerifiedStudentFactory,
)

pytestmark = pytest.mark.django_db

P = Project.Status
B = Bid.Status


def assert_actions(actions: Actions, names: tuple[str, ...], allowed: set[str]) -> None:
    """Exactly `allowed` are allowed, in the policy's order; each refusal says why."""
    assert list(actions) == list(names)
    assert {name for name, a in actions.items() if a.allowed} == allowed
    for action in actions.values():
        if action.allowed:
            assert action.reason == "" and action.offered
        else:
            assert str(action.reason).strip(), action.name


def _user(role: str, project: Project):  # type: ignore[no-untyped-def]
    owner = project.created_by
    return {
        "owner": owner,
        "other_company": CompanyMemberFactory(),
        "verified_student": VerifiedStudentFactory(),
        "unverified_student": StudentFactory(),
        "staff": UserFactory(is_staff=True, role="admin"),
        "coordinator": CoordinatorFactory().user,
        "anonymous": AnonymousUser(),
    }[role]


# (role, state) → the actions allowed
BRIEF_MATRIX = {
    ("owner", P.DRAFT): {"edit", "publish", "cancel", "view_matches"},
    ("owner", P.OPEN): {"edit", "cancel", "view_bids", "view_matches"},
    ("owner", P.IN_PROGRESS): {"view_bids", "view_matches"},
    ("owner", P.COMPLETED): {"view_bids", "view_matches"},
    ("owner", P.CANCELLED): {"view_bids", "view_matches"},
    ("verified_student", P.OPEN): {"bid"},
    ("verified_student", P.IN_PROGRESS): set(),
    ("verified_student", P.CANCELLED): set(),
    ("unverified_student", P.OPEN): set(),
    ("other_company", P.DRAFT): set(),
    ("other_company", P.OPEN): set(),
    ("staff", P.DRAFT): set(),
    ("staff", P.OPEN): {"view_bids"},
    ("staff", P.COMPLETED): {"view_bids"},
    ("coordinator", P.OPEN): set(),
    ("anonymous", P.OPEN): set(),
}


@pytest.mark.parametrize(("role", "state"), sorted(BRIEF_MATRIX))
def test_brief_actions_by_role_and_state(role, state):  # type: ignore[no-untyped-def]
    project = ProjectFactory(status=state)
    user = _user(role, project)
    actions = brief_actions(project=project, user=user)
    assert_actions(actions, BRIEF_ACTIONS, BRIEF_MATRIX[(role, state)])


def test_publish_is_offered_with_why_while_a_restricted_brief_has_no_school():
    project = ProjectFactory(status=P.DRAFT, visibility=Project.Visibility.SCHOOLS)
    publish = brief_actions(project=project, user=project.created_by)["publish"]
    assert (publish.allowed, publish.offered) == (False, True)
    assert str(publish.reason) == "Choose at least one school for a restricted brief."
    project.allowed_schools.set([SchoolFactory()])
    project = Project.objects.get(pk=project.pk)
    assert brief_actions(project=project, user=project.created_by).allowed("publish")


def test_publish_is_refused_with_why_once_the_deadline_passed():
    project = ProjectFactory(status=P.DRAFT, deadline=timezone.localdate() - dt.timedelta(days=1))
    publish = brief_actions(project=project, user=project.created_by)["publish"]
    assert (publish.allowed, publish.offered) == (False, True)
    assert "deadline has passed" in str(publish.reason)


def test_a_brief_in_progress_says_to_cancel_its_contract_instead():
    project = ProjectFactory(status=P.IN_PROGRESS)
    cancel = brief_actions(project=project, user=project.created_by)["cancel"]
    assert (cancel.allowed, cancel.offered) == (False, True)
    assert "cancel its contract instead" in str(cancel.reason)


def test_an_unverified_student_is_told_to_get_verified():
    bid = brief_actions(project=ProjectFactory(), user=StudentFactory())["bid"]
    assert (bid.allowed, bid.offered) == (False, True)
    assert str(bid.reason) == "Only verified students can bid. Verify your student status first."


def test_a_student_whose_verification_ended_can_no_longer_bid():
    student = VerifiedStudentFactory()
    EnrolmentVerification.objects.filter(student=student).update(
        graduation_date=timezone.localdate() - dt.timedelta(days=1)
    )
    assert not brief_actions(project=ProjectFactory(), user=student).allowed("bid")


def test_a_student_bids_once_per_brief():
    project = ProjectFactory()
    student = VerifiedStudentFactory()
    assert brief_actions(project=project, user=student).allowed("bid")
    bid_submit(
        project_id=project.pk, by=student, amount_cents=10_000, estimated_days=3, cover_letter="Hi"
    )
    refused = brief_actions(project=project, user=student)["bid"]
    assert (refused.allowed, refused.offered) == (False, False)
    assert str(refused.reason) == "You already bid on this brief."


def test_a_restricted_brief_takes_bids_from_its_schools_only():
    school, other = SchoolFactory(), SchoolFactory()
    project = ProjectFactory(visibility=Project.Visibility.SCHOOLS)
    project.allowed_schools.set([school])
    inside = VerifiedStudentFactory(verification__school=school)
    outside = VerifiedStudentFactory(verification__school=other)
    assert brief_actions(project=project, user=inside).allowed("bid")
    assert not brief_actions(project=project, user=outside).allowed("bid")


def test_the_viewer_is_read_once_for_many_briefs():
    school = SchoolFactory()
    student = VerifiedStudentFactory(verification__school=school)
    for _ in range(3):
        ProjectFactory(visibility=Project.Visibility.SCHOOLS).allowed_schools.set([school])
    with CaptureQueriesContext(connection) as ctx:
        viewer = brief_viewer(user=student)
    assert len(ctx.captured_queries) == 2
    projects = list(project_list(user=student))  # prefetches allowed_schools
    assert len(projects) == 3
    with CaptureQueriesContext(connection) as ctx:
        for project in projects:
            assert brief_actions(project=project, user=student, viewer=viewer).allowed("bid")
    assert len(ctx.captured_queries) == 0


# --- bids ------------------------------------------------------------------------------------


def _bid_user(role: str, bid: Bid):  # type: ignore[no-untyped-def]
    return {
        "bidder": bid.student,
        "other_student": VerifiedStudentFactory(),
        "owner": bid.project.created_by,
        "other_company": CompanyMemberFactory(),
        "staff": UserFactory(is_staff=True, role="admin"),
    }[role]


BID_MATRIX = {
    ("bidder", B.SUBMITTED): {"withdraw"},
    ("bidder", B.SHORTLISTED): {"withdraw"},
    ("bidder", B.ACCEPTED): set(),
    ("bidder", B.REJECTED): set(),
    ("bidder", B.WITHDRAWN): set(),
    ("owner", B.SUBMITTED): {"shortlist", "reject", "accept"},
    ("owner", B.SHORTLISTED): {"reject", "accept"},
    ("owner", B.ACCEPTED): set(),
    ("owner", B.REJECTED): set(),
    ("owner", B.WITHDRAWN): set(),
    ("other_student", B.SUBMITTED): set(),
    ("other_company", B.SUBMITTED): set(),
    ("other_company", B.SHORTLISTED): set(),
    ("staff", B.SUBMITTED): set(),
}


def _bid(status: str = B.SUBMITTED, student=None) -> Bid:  # type: ignore[no-untyped-def]
    project = ProjectFactory()
    bid = bid_submit(
        project_id=project.pk,
        by=student or VerifiedStudentFactory(),
        amount_cents=10_000,
        estimated_days=3,
        cover_letter="Hi",
    )
    Bid.objects.filter(pk=bid.pk).update(status=status)
    return Bid.objects.select_related("project", "student").get(pk=bid.pk)


@pytest.mark.parametrize(("role", "state"), sorted(BID_MATRIX))
def test_bid_actions_by_role_and_state(role, state):  # type: ignore[no-untyped-def]
    bid = _bid(state)
    actions = bid_actions(bid=bid, user=_bid_user(role, bid))
    assert_actions(actions, BID_ACTIONS, BID_MATRIX[(role, state)])


def test_accepting_is_refused_with_why_once_the_students_verification_ended():
    student = VerifiedStudentFactory()
    bid = _bid(student=student)
    EnrolmentVerification.objects.filter(student=student).update(
        status=EnrolmentVerification.Status.REVOKED
    )
    owner = bid.project.created_by
    listed = bid_list_for_project(project=bid.project, user=owner).get()  # annotated
    fetched = Bid.objects.select_related("project", "student").get(pk=bid.pk)  # not annotated
    for row in (listed, fetched):
        accept = bid_actions(bid=row, user=owner)["accept"]
        assert (accept.allowed, accept.offered) == (False, True)
        assert str(accept.reason) == "This student's verification is no longer in force."
        assert bid_actions(bid=row, user=owner).allowed("reject")


def test_a_bid_on_a_brief_no_longer_open_cannot_be_accepted():
    bid = _bid()
    bid.project.status = P.DRAFT
    accept = bid_actions(bid=bid, user=bid.project.created_by)["accept"]
    assert (accept.allowed, accept.offered) == (False, True)
    assert str(accept.reason) == "This brief is a draft."


def test_the_bid_list_decides_every_row_without_a_query():
    project = ProjectFactory()
    for _ in range(3):
        bid_submit(
            project_id=project.pk,
            by=VerifiedStudentFactory(),
            amount_cents=10_000,
            estimated_days=3,
            cover_letter="Hi",
        )
    owner = project.created_by
    rows = list(bid_list_for_project(project=project, user=owner))
    owner.company_membership  # noqa: B018 (read once per request)
    with CaptureQueriesContext(connection) as ctx:
        for row in rows:
            assert bid_actions(bid=row, user=owner).allowed("accept")
    assert len(ctx.captured_queries) == 0
