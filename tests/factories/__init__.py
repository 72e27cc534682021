"""factory_boy factories for the whole suite. Fake people come from Faker."""

from __future__ import annotations

import datetime as dt

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from marketplace.models import Company, CompanyMembership, Skill, StudentProfile, User
from projects.briefs.models import Project
from schools.addresses import school_email_canonical
from schools.models import Coordinator, EnrolmentVerification, School, SchoolDomain

PASSWORD = "correct-horse-battery-staple"


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    role = User.Role.STUDENT
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @classmethod
    def _after_postgeneration(cls, instance, create, results=None):  # type: ignore[no-untyped-def]
        if create:
            instance.save()


class CompanyFactory(DjangoModelFactory):
    class Meta:
        model = Company

    name = factory.Faker("company")


class CompanyMemberFactory(UserFactory):
    role = User.Role.COMPANY
    membership = factory.RelatedFactory(
        "tests.factories.CompanyMembershipFactory", factory_related_name="user"
    )


class CompanyMembershipFactory(DjangoModelFactory):
    class Meta:
        model = CompanyMembership

    company = factory.SubFactory(CompanyFactory)
    user = factory.SubFactory(UserFactory, role=User.Role.COMPANY)
    role = CompanyMembership.Role.OWNER


class SkillFactory(DjangoModelFactory):
    class Meta:
        model = Skill
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Skill {n}")
    slug = factory.LazyAttribute(lambda o: o.name.lower().replace(" ", "-"))


class StudentFactory(UserFactory):
    role = User.Role.STUDENT
    profile = factory.RelatedFactory(
        "tests.factories.StudentProfileFactory", factory_related_name="user"
    )


class StudentProfileFactory(DjangoModelFactory):
    class Meta:
        model = StudentProfile
        django_get_or_create = ("user",)

    user = factory.SubFactory(UserFactory)
    headline = factory.Faker("job")


class SchoolFactory(DjangoModelFactory):
    class Meta:
        model = School
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"School {n}")
    country = "FR"
    country_name = "France"
    is_partner = True
    domain = factory.RelatedFactory(
        "tests.factories.SchoolDomainFactory",
        factory_related_name="school",
        domain=factory.Sequence(lambda n: f"school{n}.edu"),
    )


class SchoolDomainFactory(DjangoModelFactory):
    class Meta:
        model = SchoolDomain

    school = factory.SubFactory(SchoolFactory, domain=None)
    domain = factory.Sequence(lambda n: f"school-domain{n}.edu")


class CoordinatorFactory(DjangoModelFactory):
    class Meta:
        model = Coordinator

    user = factory.SubFactory(UserFactory, role=User.Role.COORDINATOR)
    school = factory.SubFactory(SchoolFactory)


class VerificationFactory(DjangoModelFactory):
    """A verification in force by default (as if the coordinator approved it)."""

    class Meta:
        model = EnrolmentVerification

    student = factory.SubFactory(StudentFactory)
    school = factory.SubFactory(SchoolFactory)
    school_email = factory.LazyAttribute(
        lambda o: f"{o.student.email.split('@')[0]}@{o.school.domains.first().domain}"
    )
    school_email_canonical = factory.LazyAttribute(lambda o: school_email_canonical(o.school_email))
    program = "MSc Computer Science"
    graduation_date = factory.LazyFunction(lambda: timezone.localdate() + dt.timedelta(days=365))
    status = EnrolmentVerification.Status.VERIFIED
    email_confirmed_at = factory.LazyFunction(timezone.now)
    decided_at = factory.LazyFunction(timezone.now)


class VerifiedStudentFactory(StudentFactory):
    verification = factory.RelatedFactory(VerificationFactory, factory_related_name="student")


class ProjectFactory(DjangoModelFactory):
    """An open brief by default."""

    class Meta:
        model = Project

    company = factory.SubFactory(CompanyFactory)
    created_by = factory.SubFactory(
        CompanyMemberFactory, membership__company=factory.SelfAttribute("...company")
    )
    title = factory.Faker("catch_phrase")
    description = factory.Faker("paragraph")
    budget_cents = 150_000
    currency = "EUR"
    status = Project.Status.OPEN
    published_at = factory.LazyFunction(timezone.now)
