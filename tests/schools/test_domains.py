from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from marketplace.errors import ValidationFailed
from schools.domains import domain_matches, email_domain, normalize_domain
from schools.models import EnrolmentVerification
from schools.services import verification_request
from tests.factories import SchoolDomainFactory, SchoolFactory, StudentFactory

CYRILLIC_ES = "\u0441"  # looks like a Latin "c"
CYRILLIC_O = "\u043e"  # looks like a Latin "o"

ACCEPTED = [
    ("alice@school.edu", "school.edu", "alice@school.edu"),
    ("alice@student.school.edu", "school.edu", "alice@student.school.edu"),
    ("alice@a.b.school.edu", "school.edu", "alice@a.b.school.edu"),
    ("Alice@SCHOOL.EDU", "school.edu", "Alice@school.edu"),
    ("alice@Student.School.Edu", "school.edu", "alice@student.school.edu"),
    ("étudiant@école.fr", "xn--cole-9oa.fr", "étudiant@xn--cole-9oa.fr"),
    ("étudiant@ÉCOLE.FR", "xn--cole-9oa.fr", "étudiant@xn--cole-9oa.fr"),
    ("etudiant@xn--cole-9oa.fr", "xn--cole-9oa.fr", "etudiant@xn--cole-9oa.fr"),
    ("etudiant@XN--COLE-9OA.FR", "xn--cole-9oa.fr", "etudiant@xn--cole-9oa.fr"),
    ("etudiant@lyon.xn--cole-9oa.fr", "xn--cole-9oa.fr", "etudiant@lyon.xn--cole-9oa.fr"),
    # a school domain typed in its Unicode form still matches, both ways
    ("etudiant@xn--cole-9oa.fr", "école.fr", "etudiant@xn--cole-9oa.fr"),
    ("étudiant@école.fr", "École.FR", "étudiant@xn--cole-9oa.fr"),
]

REJECTED = [
    ("alice@evil-school.edu", "school.edu"),
    ("alice@myschool.edu", "school.edu"),
    ("alice@school.edu.evil.com", "school.edu"),
    ("alice@school.education", "school.edu"),
    ("alice@edu", "school.edu"),
    ("alice@school.edu.", "school.edu"),
    ("alice@.school.edu", "school.edu"),
    ("alice@student..school.edu", "school.edu"),
    (f"alice@s{CYRILLIC_ES}h{CYRILLIC_O}ol.edu", "school.edu"),
    (f"alice@{CYRILLIC_ES}ole.fr", "xn--cole-9oa.fr"),
    ("alice@ecole.fr", "xn--cole-9oa.fr"),
    ("alice@bob@school.edu", "school.edu"),
    ("alice@@school.edu", "school.edu"),
    ("alice school.edu", "school.edu"),
    ("alice @school.edu", "school.edu"),
    ("alice@school .edu", "school.edu"),
    (" alice@school.edu", "school.edu"),
    ("alice@school.edu ", "school.edu"),
    ("alice@school.edu\n", "school.edu"),
    ("ali\tce@school.edu", "school.edu"),
    ("@school.edu", "school.edu"),
    ("alice@", "school.edu"),
    ("", "school.edu"),
]


def _matches(email: str, school_domain: str) -> bool:
    try:
        domain = email_domain(email)
    except ValidationFailed:
        return False
    return domain_matches(domain, normalize_domain(school_domain))


@pytest.mark.parametrize(("email", "school_domain", "stored"), ACCEPTED)
def test_accepted_addresses_match(email, school_domain, stored):
    assert _matches(email, school_domain) is True


@pytest.mark.parametrize(("email", "school_domain"), REJECTED)
def test_rejected_addresses_do_not_match(email, school_domain):
    assert _matches(email, school_domain) is False


@pytest.mark.parametrize(
    ("domain", "normalized"),
    [
        ("school.edu", "school.edu"),
        ("SCHOOL.Edu", "school.edu"),
        ("école.fr", "xn--cole-9oa.fr"),
        ("ÉCOLE.FR", "xn--cole-9oa.fr"),
        ("xn--cole-9oa.fr", "xn--cole-9oa.fr"),
        (f"s{CYRILLIC_ES}hool.edu", "xn--shool-1ye.edu"),
    ],
)
def test_normalize_domain(domain, normalized):
    assert normalize_domain(domain) == normalized


@pytest.mark.parametrize(
    "domain", ["", " ", "school.edu.", ".school.edu", "a..edu", "sch ool.edu", "school.edu\t"]
)
def test_normalize_domain_refuses_malformed_domains(domain):
    with pytest.raises(ValidationFailed) as exc:
        normalize_domain(domain)
    assert exc.value.field == "school_email"


@pytest.mark.parametrize(
    ("domain", "school_domain", "expected"),
    [
        ("school.edu", "school.edu", True),
        ("a.school.edu", "school.edu", True),
        ("evil-school.edu", "school.edu", False),
        ("school.edu.evil.com", "school.edu", False),
        ("edu", "school.edu", False),
    ],
)
def test_domain_matches(domain, school_domain, expected):
    assert domain_matches(domain, school_domain) is expected


def _school(domain: str):
    school = SchoolFactory(domain=None)
    SchoolDomainFactory(school=school, domain=domain)
    return school


def _request(email: str, school):
    return verification_request(
        student=StudentFactory(),
        school=school,
        school_email=email,
        program="MSc",
        graduation_date=timezone.localdate() + dt.timedelta(days=200),
    )


@pytest.mark.django_db
@pytest.mark.parametrize(("email", "school_domain", "stored"), ACCEPTED)
def test_verification_request_accepts_school_addresses(email, school_domain, stored):
    verification = _request(email, _school(school_domain))
    assert verification.status == EnrolmentVerification.Status.PENDING_EMAIL
    assert verification.school_email == stored


@pytest.mark.django_db
@pytest.mark.parametrize(("email", "school_domain"), REJECTED)
def test_verification_request_refuses_other_addresses(email, school_domain):
    school = _school(school_domain)
    with pytest.raises(ValidationFailed) as exc:
        _request(email, school)
    assert exc.value.field == "school_email"
    assert EnrolmentVerification.objects.count() == 0


@pytest.mark.django_db
def test_verification_request_accepts_any_of_the_schools_domains():
    school = _school("school.edu")
    SchoolDomainFactory(school=school, domain="alumni-school.org")
    assert _request("bob@alumni-school.org", school).school_email == "bob@alumni-school.org"
    with pytest.raises(ValidationFailed) as exc:
        _request("bob@other.org", school)
    assert exc.value.extra == {"school_domains": ["alumni-school.org", "school.edu"]}
