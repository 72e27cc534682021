from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from marketplace.models import OutboundEmail, StudentProfile
from marketplace.services import student_profile_update
from payments.models import PayoutAccount
from projects.briefs.models import Bid, Project
from projects.briefs.services import bid_submit
from projects.contracts.models import Delivery
from schools.models import EnrolmentVerification
from tests.factories import (
    CompanyMemberFactory,
    CoordinatorFactory,
    ProjectFactory,
    SchoolDomainFactory,
    SchoolFactory,
    SkillFactory,
    StudentFactory,
    VerificationFactory,
    VerifiedStudentFactory,
)
from tests.factories.contracts import active_contract
from tests.frontend.helpers import messages_of
from tests.twofactor import login_with_second_factor

pytestmark = pytest.mark.django_db

V = EnrolmentVerification.Status
PAGES = [
    "/student/",
    "/student/verification/",
    "/student/profile/",
    "/student/skills/",
    "/student/briefs/",
    "/student/bids/",
    "/student/contracts/",
    "/student/payouts/",
    "/student/earnings/",
]


@pytest.fixture
def student():
    return VerifiedStudentFactory(first_name="Léa")


@pytest.fixture
def signed_in(client, student):
    client.force_login(student)
    return client


def _bid(project: Project, student, amount: int = 120_000) -> Bid:
    return bid_submit(
        project_id=project.pk, by=student, amount_cents=amount, estimated_days=5, cover_letter="Hi"
    )


def _verification_data(school, **change) -> dict[str, object]:
    """A valid verification request for `school` (its domain is enpc.fr), with `change` applied."""
    return {
        "school_email": "lea@enpc.fr",
        "school": school.pk,
        "program": "Ingénieur",
        "graduation_date": (timezone.localdate() + dt.timedelta(days=400)).isoformat(),
        **change,
    }


# --- roles and scope ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "make_user", [CompanyMemberFactory, lambda: CoordinatorFactory().user], ids=["company", "coord"]
)
def test_other_roles_are_refused(client, make_user):
    login_with_second_factor(client, make_user())
    for url in PAGES:
        assert client.get(url).status_code == 403, url
    assert client.post("/student/payouts/").status_code == 403
    assert not PayoutAccount.objects.exists()


def test_anonymous_visitors_are_sent_to_sign_in(client):
    res = client.get("/student/briefs/")
    assert res.status_code == 302
    assert res["Location"] == "/signin/?next=/student/briefs/"


def test_another_students_objects_are_not_found(signed_in):
    contract = active_contract()
    milestone = contract.milestones.get()
    other_bid = _bid(ProjectFactory(), VerifiedStudentFactory())
    draft = ProjectFactory(status=Project.Status.DRAFT)
    restricted = ProjectFactory(visibility=Project.Visibility.SCHOOLS)
    restricted.allowed_schools.set([SchoolFactory()])
    for url in [
        f"/student/contracts/{contract.pk}/",
        f"/student/contracts/{contract.pk}/review/",
        f"/student/briefs/{draft.pk}/",
        f"/student/briefs/{restricted.pk}/",
    ]:
        assert signed_in.get(url).status_code == 404, url
    note = {f"m{milestone.pk}-note": "mine now"}
    assert signed_in.post(f"/student/milestones/{milestone.pk}/deliver/", note).status_code == 404
    assert signed_in.post(f"/student/bids/{other_bid.pk}/withdraw/").status_code == 404
    assert not Delivery.objects.exists()
    assert Bid.objects.get(pk=other_bid.pk).status == Bid.Status.SUBMITTED


# --- dashboard and verification -----------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "graduation_days", "text"),
    [
        (V.PENDING_EMAIL, 300, "Check your e-mail: we sent a confirmation link to"),
        (V.PENDING_REVIEW, 300, "is reviewing your request"),
        (V.VERIFIED, 300, "You are a verified student of"),
        (V.VERIFIED, -1, "Your verification ended on"),
        (V.REJECTED, 300, "declined your request."),
        (V.REVOKED, 300, "revoked your verification"),
    ],
)
def test_the_dashboard_tells_the_verification_state_and_next_step(
    client, status, graduation_days, text
):
    user = StudentFactory()
    VerificationFactory(
        student=user,
        status=status,
        reason="Not enrolled" if status in (V.REJECTED, V.REVOKED) else "",
        graduation_date=timezone.localdate() + dt.timedelta(days=graduation_days),
    )
    client.force_login(user)
    html = client.get("/student/").content.decode()
    assert text in html
    assert ("Reason given: “Not enrolled”." in html) is (status in (V.REJECTED, V.REVOKED))
    assert ("Ask again" in html) is (status in (V.REJECTED, V.REVOKED) or graduation_days < 0)


def test_an_unverified_student_is_told_to_verify(client):
    client.force_login(StudentFactory())
    html = client.get("/student/").content.decode()
    assert "You are not verified yet." in html
    assert 'href="/student/verification/"' in html


def test_the_dashboard_shows_recommendations_bids_contracts_and_notifications(signed_in, student):
    python = SkillFactory(name="Python")
    student_profile_update(user=student, skills=["python"])
    fit = ProjectFactory(title="Data pipeline")
    fit.skills.set([python, SkillFactory(name="Go")])
    _bid(ProjectFactory(title="Shop website"), student)
    active_contract(student=student)
    html = signed_in.get("/student/").content.decode()
    assert "Data pipeline" in html
    assert "You have 1 of its 2 skills." in html
    assert "Shop website" in html
    assert "unread notification" in html
    assert "No contract in progress." not in html


@pytest.fixture
def newcomer(client):
    user = StudentFactory(email="lea@example.com")
    client.force_login(user)
    return user


@pytest.fixture
def school():
    school = SchoolFactory(name="École des Ponts", domain=None)
    SchoolDomainFactory(school=school, domain="enpc.fr")
    return school


def test_the_school_is_found_from_the_address_then_the_request_is_emailed(client, newcomer, school):
    SchoolFactory(name="Elsewhere")
    res = client.get("/student/verification/", {"school_email": "Lea.Moreau@eleves.ENPC.fr"})
    html = res.content.decode()
    assert "École des Ponts" in html
    assert "Elsewhere" not in html
    graduation = timezone.localdate() + dt.timedelta(days=400)
    res = client.post(
        "/student/verification/",
        {
            "school_email": "lea.moreau@eleves.enpc.fr",
            "school": school.pk,
            "program": "Ingénieur",
            "graduation_date": graduation.isoformat(),
        },
        follow=True,
    )
    assert messages_of(res) == [
        "We sent a confirmation link to lea.moreau@eleves.enpc.fr. Open it to continue."
    ]
    verification = EnrolmentVerification.objects.get(student=newcomer)
    assert (verification.school, verification.status) == (school, V.PENDING_EMAIL)
    assert "/verify/" in OutboundEmail.objects.get(to="lea.moreau@eleves.enpc.fr").body_text
    html = res.content.decode()
    assert "Check your e-mail" in html
    assert 'name="school_email"' not in html


def test_an_address_no_school_accepts_says_so(client, newcomer, school):
    html = client.get("/student/verification/", {"school_email": "lea@gmail.com"}).content
    assert "No school on the marketplace accepts this address." in html.decode()


@pytest.mark.parametrize(
    ("change", "field", "error"),
    [
        ({"graduation_date": "2001-01-01"}, "graduation_date", "must be in the future"),
        ({"school_email": "lea@gmail.com"}, "school", "Select a valid choice."),
        ({"school_email": "not-an-address"}, "school_email", "Enter a valid email address."),
        ({"program": ""}, "program", "This field is required."),
    ],
)
def test_a_bad_verification_request_shows_the_field_error_and_asks_nothing(
    client, newcomer, school, change, field, error
):
    res = client.post("/student/verification/", _verification_data(school, **change))
    assert res.status_code == 400
    form = res.context["form"] or res.context["email_form"]
    assert error in " ".join(form.errors[field])
    assert not EnrolmentVerification.objects.exists()
    assert not OutboundEmail.objects.exists()


def test_the_address_held_by_another_student_is_refused_beside_it(client, newcomer, school):
    VerificationFactory(school=school, school_email="lea@enpc.fr")
    res = client.post("/student/verification/", _verification_data(school))
    assert res.context["form"].errors["school_email"] == [
        "This school address is already used by another student."
    ]
    assert not EnrolmentVerification.objects.filter(student=newcomer).exists()


# --- profile --------------------------------------------------------------------------------

PROFILE = {
    "headline": "Django developer",
    "bio": "Third year.",
    "day_rate": "350.50",
    "currency": "EUR",
    "availability": "busy",
    "portfolio_links": "https://github.com/lea\n\nhttps://lea.example/work\n",
}


def test_the_student_saves_the_profile_with_the_rate_in_exact_cents(signed_in, student):
    SkillFactory(name="Python")
    res = signed_in.post("/student/profile/", {**PROFILE, "skills": ["python"]}, follow=True)
    assert messages_of(res) == ["Profile saved."]
    profile = StudentProfile.objects.get(user=student)
    assert (profile.headline, profile.day_rate_cents, profile.availability) == (
        "Django developer",
        35_050,
        "busy",
    )
    assert profile.portfolio_links == ["https://github.com/lea", "https://lea.example/work"]
    assert [s.slug for s in profile.skills.all()] == ["python"]
    html = res.content.decode()
    assert 'value="350.50"' in html
    assert "https://lea.example/work</textarea>" in html


@pytest.mark.parametrize(
    ("change", "field", "error"),
    [
        (
            {"day_rate": "10.005"},
            "day_rate",
            "Ensure that there are no more than 2 decimal places.",
        ),
        ({"day_rate": "1500.5", "currency": "JPY"}, "day_rate", "Too many decimals"),
        ({"portfolio_links": "ftp://lea.example"}, "portfolio_links", "is not a web address"),
        (
            {"portfolio_links": "\n".join(f"https://lea.example/{n}" for n in range(6))},
            "portfolio_links",
            "At most 5 links.",
        ),
        ({"skills": ["cobol"]}, "skills", "Select a valid choice."),
        ({"availability": "sometimes"}, "availability", "Select a valid choice."),
    ],
)
def test_bad_profile_input_shows_the_field_error_and_changes_nothing(
    signed_in, student, change, field, error
):
    res = signed_in.post("/student/profile/", {**PROFILE, **change})
    assert res.status_code == 200
    assert error in " ".join(res.context["form"].errors[field])
    assert f'id="id_{field}_error"' in res.content.decode()
    profile = StudentProfile.objects.get(user=student)
    assert profile.headline != "Django developer"
    assert profile.portfolio_links == []


# --- briefs ---------------------------------------------------------------------------------


def test_the_briefs_list_open_briefs_the_student_may_see_recommended_first(signed_in, student):
    python = SkillFactory(name="Python")
    student_profile_update(user=student, skills=["python"])
    ProjectFactory(title="Plain brief")
    fit = ProjectFactory(title="Python brief")
    fit.skills.set([python])
    ProjectFactory(title="Draft brief", status=Project.Status.DRAFT)
    elsewhere = ProjectFactory(title="Other school brief", visibility=Project.Visibility.SCHOOLS)
    elsewhere.allowed_schools.set([SchoolFactory()])
    html = signed_in.get("/student/briefs/").content.decode()
    assert "Plain brief" in html
    assert "Draft brief" not in html
    assert "Other school brief" not in html
    assert (
        html.index("Recommended for you") < html.index("Python brief") < html.index("Open briefs")
    )
    assert "You have 1 of its 1 skill." in html
    filtered = signed_in.get("/student/briefs/", {"search": "plain"}).content.decode()
    assert "Recommended for you" not in filtered


def test_the_filters_take_euros_and_skills(signed_in):
    python = SkillFactory(name="Python")
    ProjectFactory(title="Tiny brief", budget_cents=50_000)
    big = ProjectFactory(title="Huge brief", budget_cents=300_000)
    big.skills.set([python])
    ProjectFactory(title="Yen brief", budget_cents=300_000, currency="JPY")
    html = signed_in.get("/student/briefs/", {"budget_min": "2999.99"}).content.decode()
    assert ("Huge brief" in html, "Tiny brief" in html, "Yen brief" in html) == (True, False, False)
    html = signed_in.get("/student/briefs/", {"skills": ["python"]}).content.decode()
    assert ("Huge brief" in html, "Tiny brief" in html) == (True, False)
    html = signed_in.get("/student/briefs/", {"ordering": "budget"}).content.decode()
    results = html[html.index("Open briefs") :]
    assert results.index("Tiny brief") < results.index("Huge brief")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"budget_min": "3000", "budget_max": "10"}, "budget_min"),
        ({"budget_min": "lots"}, "budget_min"),
        ({"deadline_after": "tomorrow"}, "deadline_after"),
        ({"ordering": "random"}, "ordering"),
        ({"search": "x" * 201}, "search"),
    ],
)
def test_a_bad_filter_shows_the_field_error_never_a_500(signed_in, params, field):
    ProjectFactory(title="Any brief")
    res = signed_in.get("/student/briefs/", params)
    assert res.status_code == 400
    assert res.context["form"].errors[field]
    html = res.content.decode()
    assert 'role="alert"' in html
    assert "Any brief" not in html


def test_htmx_gets_only_the_results(signed_in):
    ProjectFactory(title="Any brief")
    res = signed_in.get("/student/briefs/", {"search": "brief"}, HTTP_HX_REQUEST="true")
    html = res.content.decode()
    assert "Any brief" in html
    assert "<html" not in html
    assert "<form" not in html


def test_the_briefs_list_runs_constant_queries(signed_in, django_assert_num_queries):
    for _ in range(2):
        ProjectFactory()
    with CaptureQueriesContext(connection) as two:
        signed_in.get("/student/briefs/")
    for _ in range(3):
        ProjectFactory()
    with django_assert_num_queries(len(two.captured_queries)):
        html = signed_in.get("/student/briefs/").content.decode()
    # Five results, and the first three again as recommendations (no filter, no skills).
    assert html.count("€1,500.00") == 5 + 3


def test_a_verified_student_bids_in_exact_cents_then_withdraws(signed_in, student):
    project = ProjectFactory(currency="EUR")
    res = signed_in.post(
        f"/student/briefs/{project.pk}/",
        {"amount": "1200.50", "estimated_days": "12", "cover_letter": "I did three of these."},
        follow=True,
    )
    assert messages_of(res) == ["Bid sent. The company will read it."]
    bid = Bid.objects.get(student=student)
    assert (bid.amount_cents, bid.estimated_days) == (120_050, 12)
    assert "Withdraw my bid" in res.content.decode()
    res = signed_in.post(f"/student/bids/{bid.pk}/withdraw/", follow=True)
    assert messages_of(res) == ["Bid withdrawn."]
    bid.refresh_from_db()
    assert bid.status == Bid.Status.WITHDRAWN
    res = signed_in.post(f"/student/bids/{bid.pk}/withdraw/", follow=True)
    assert messages_of(res) == ["This bid is withdrawn and cannot become withdrawn."]


@pytest.mark.parametrize(
    ("change", "field", "error"),
    [
        ({"amount": "0.10"}, "amount", "The smallest amount is"),
        ({"amount": "12.345"}, "amount", "Ensure that there are no more than 2 decimal places."),
        ({"estimated_days": "0"}, "estimated_days", "greater than or equal to 1"),
        ({"cover_letter": ""}, "cover_letter", "This field is required."),
    ],
)
def test_a_bad_bid_shows_the_field_error_and_bids_nothing(signed_in, change, field, error):
    project = ProjectFactory()
    data = {"amount": "1200", "estimated_days": "12", "cover_letter": "Hello", **change}
    res = signed_in.post(f"/student/briefs/{project.pk}/", data)
    assert res.status_code == 200
    assert error in " ".join(res.context["form"].errors[field])
    assert not Bid.objects.exists()


def test_an_unverified_student_sees_no_bid_form_and_cannot_bid(client):
    client.force_login(StudentFactory())
    project = ProjectFactory()
    html = client.get(f"/student/briefs/{project.pk}/").content.decode()
    assert "Only verified students can bid." in html
    assert 'name="cover_letter"' not in html
    res = client.post(
        f"/student/briefs/{project.pk}/",
        {"amount": "1200", "estimated_days": "3", "cover_letter": "Hi"},
    )
    assert "Only verified students can bid" in " ".join(res.context["form"].non_field_errors())
    assert not Bid.objects.exists()


def test_the_bids_list_shows_own_bids_in_constant_queries(
    signed_in, student, django_assert_num_queries
):
    assert "You have not bid yet." in signed_in.get("/student/bids/").content.decode()
    _bid(ProjectFactory(), VerifiedStudentFactory())
    for _ in range(2):
        _bid(ProjectFactory(), student)
    with CaptureQueriesContext(connection) as two:
        signed_in.get("/student/bids/")
    for _ in range(3):
        _bid(ProjectFactory(), student)
    with django_assert_num_queries(len(two.captured_queries)):
        html = signed_in.get("/student/bids/").content.decode()
    assert html.count("€1,200.00") == 5
