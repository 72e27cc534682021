from __future__ import annotations

import pytest

from marketplace.errors import PermissionDenied, ValidationFailed
from marketplace.models import Company, CompanyMembership, Skill, StudentProfile, User
from marketplace.services import (
    skill_get_or_create,
    skill_slug,
    student_profile_update,
    user_register,
)
from tests.factories import PASSWORD, CompanyMemberFactory, SkillFactory, StudentFactory

pytestmark = pytest.mark.django_db


def _register(**overrides) -> User:
    data = {
        "email": "ada@acme.test",
        "password": PASSWORD,
        "role": "company",
        "first_name": "Ada",
        "last_name": "Boss",
        "company_name": "Acme",
    }
    return user_register(**{**data, **overrides})


def test_a_company_member_registers_with_a_company_they_own():
    user = _register(email="  Ada@ACME.test ", company_name="  Acme SAS ")

    user.refresh_from_db()
    assert user.email == "ada@acme.test"
    assert user.role == User.Role.COMPANY
    assert user.check_password(PASSWORD)
    membership = CompanyMembership.objects.select_related("company").get(user=user)
    assert membership.role == CompanyMembership.Role.OWNER
    assert membership.company.name == "Acme SAS"
    assert Company.objects.count() == 1
    assert not StudentProfile.objects.filter(user=user).exists()


def test_a_student_registers_with_a_profile_and_no_company():
    user = _register(email="lea@gmail.test", role="student", company_name="")

    assert user.role == User.Role.STUDENT
    profile = StudentProfile.objects.get(user=user)
    assert profile.availability == StudentProfile.Availability.AVAILABLE
    assert profile.currency == "EUR"
    assert list(profile.skills.all()) == []
    assert Company.objects.count() == 0
    assert not CompanyMembership.objects.filter(user=user).exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"role": "admin"}, "role"),
        ({"role": "coordinator"}, "role"),
        ({"role": ""}, "role"),
        ({"company_name": ""}, "company_name"),
        ({"company_name": "   "}, "company_name"),
        ({"password": "123"}, "password"),
        ({"password": "password"}, "password"),
        ({"password": "12345678901"}, "password"),
        ({"password": "ada@acme.test"}, "password"),
        ({"email": "taken@acme.test"}, "email"),
        ({"email": "TAKEN@acme.test"}, "email"),
        ({"email": "taken@acme.test", "role": "student"}, "email"),
    ],
)
def test_registration_errors_name_the_field_and_write_nothing(overrides, field):
    existing = StudentFactory(email="taken@acme.test")
    with pytest.raises(ValidationFailed) as exc:
        _register(**overrides)
    assert exc.value.field == field
    assert list(User.objects.values_list("pk", flat=True)) == [existing.pk]
    assert Company.objects.count() == 0


@pytest.fixture
def skills():
    return {
        slug: SkillFactory(name=slug.title(), slug=slug) for slug in ["python", "django", "sql"]
    }


def _slugs(profile) -> set[str]:
    return set(profile.skills.values_list("slug", flat=True))


def test_profile_update_sets_fields_and_replaces_skills(skills):
    student = StudentFactory()

    profile = student_profile_update(
        user=student,
        skills=["python", "django"],
        headline="Data student",
        bio="I like SQL",
        day_rate_cents=25_000,
        currency="EUR",
        availability="busy",
    )
    profile.refresh_from_db()
    assert _slugs(profile) == {"python", "django"}
    assert (profile.headline, profile.bio, profile.day_rate_cents, profile.availability) == (
        "Data student",
        "I like SQL",
        25_000,
        "busy",
    )

    student_profile_update(user=student, skills=["sql"])
    assert _slugs(profile) == {"sql"}

    student_profile_update(user=student, headline="Still data")
    assert _slugs(profile) == {"sql"}

    student_profile_update(user=student, skills=[])
    assert _slugs(profile) == set()


def test_profile_update_refuses_unknown_skills_and_changes_nothing(skills):
    student = StudentFactory()
    student_profile_update(user=student, skills=["python"], headline="Before")

    with pytest.raises(ValidationFailed) as exc:
        student_profile_update(user=student, skills=["python", "cobol", "basic"], headline="After")

    assert exc.value.field == "skills"
    assert "basic" in exc.value.message
    assert "cobol" in exc.value.message
    profile = StudentProfile.objects.get(user=student)
    assert profile.headline == "Before"
    assert _slugs(profile) == {"python"}


@pytest.mark.parametrize("field", ["user_id", "is_staff", "updated_at", "rating", "id"])
def test_profile_update_refuses_unknown_fields(field):
    student = StudentFactory()
    with pytest.raises(ValidationFailed) as exc:
        student_profile_update(user=student, **{field: 1})
    assert exc.value.field == field
    assert StudentProfile.objects.get(user=student).user_id == student.pk


def test_profile_update_is_for_students_only():
    member = CompanyMemberFactory()
    with pytest.raises(PermissionDenied):
        student_profile_update(user=member, headline="Boss")
    assert not StudentProfile.objects.filter(user=member).exists()


def test_profile_update_creates_a_missing_profile():
    student = User.objects.create_user(email="nop@x.test", password=PASSWORD, role="student")
    profile = student_profile_update(user=student, headline="Hi")
    assert profile.user_id == student.pk
    assert StudentProfile.objects.get(user=student).headline == "Hi"


def test_skill_get_or_create_uses_the_slug():
    skill, created = skill_get_or_create(name="Machine Learning", category="Data")
    again, created_again = skill_get_or_create(name="machine learning")
    assert (skill.slug, created, created_again) == ("machine-learning", True, False)
    assert again.pk == skill.pk
    assert Skill.objects.count() == 1
    with pytest.raises(ValidationFailed) as exc:
        skill_get_or_create(name="!!!")
    assert exc.value.field == "name"


@pytest.mark.parametrize(
    "name,slug",
    [
        ("C", "c"),
        ("C++", "c-plus-plus"),
        ("C#", "c-sharp"),
        ("F#", "f-sharp"),
        ("Notepad++", "notepad-plus-plus"),
        ("Node.js", "nodejs"),
        ("+++", ""),
        ("#hashtag", "hashtag"),
    ],
)
def test_skill_slug_keeps_c_cpp_and_csharp_apart(name, slug):
    assert skill_slug(name) == slug
