from __future__ import annotations

import json
from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from marketplace.models import Company, Skill, User
from payments.models import Escrow, LedgerEntry
from payments.selectors import ledger_unbalanced_transactions
from projects.briefs.models import Bid, Project
from projects.contracts.models import Contract
from projects.demo.services import ADMIN_EMAIL, DEMO_PASSWORD, demo_logins
from schools.importing import schools_import
from schools.models import Coordinator, EnrolmentVerification, School, SchoolDomain

pytestmark = pytest.mark.django_db

V = EnrolmentVerification.Status


def _load() -> str:
    out = StringIO()
    call_command("load_demo", stdout=out)
    return out.getvalue()


def _counts() -> dict[str, int]:
    models = [User, Company, Skill, School, SchoolDomain, Project, Bid, Contract, Escrow]
    counts = {m.__name__: m.objects.count() for m in models}
    counts["ledger"] = LedgerEntry.objects.count()
    counts["verifications"] = EnrolmentVerification.objects.count()
    return counts


def test_load_demo_twice_loads_once():
    first = _load()
    counts = _counts()

    second = _load()

    assert "Demo data loaded." in first
    assert "already present" in second
    assert _counts() == counts
    for output in (first, second):
        assert DEMO_PASSWORD in output
        for _role, email, _note in demo_logins():
            assert email in output


def test_every_demo_login_works_with_the_shared_password():
    _load()

    for role, email, _note in demo_logins():
        user = authenticate(email=email, password=DEMO_PASSWORD)
        assert user is not None, email
        assert user.role == role
    admin = User.objects.get(email=ADMIN_EMAIL)
    assert admin.is_staff and admin.is_superuser


def test_demo_has_real_french_schools_each_with_a_coordinator():
    _load()

    schools = School.objects.filter(country="FR")
    assert schools.count() == 5
    assert all(s.is_partner for s in schools)
    domains = set(SchoolDomain.objects.values_list("domain", flat=True))
    assert {"hec.edu", "essec.edu", "polytechnique.edu", "sciencespo.fr", "epita.fr"} <= domains
    for school in schools:
        assert Coordinator.objects.filter(school=school).exists()


def test_demo_students_went_through_the_verification_flow():
    _load()

    statuses = sorted(EnrolmentVerification.objects.values_list("status", flat=True))
    assert statuses == sorted([V.VERIFIED] * 4 + [V.PENDING_REVIEW, V.PENDING_EMAIL])
    for verification in EnrolmentVerification.objects.filter(status=V.VERIFIED):
        steps = list(verification.events.values_list("to_status", flat=True))
        assert steps == [V.PENDING_EMAIL, V.PENDING_REVIEW, V.VERIFIED]
        assert verification.decided_by.coordinator.school == verification.school
        domain = verification.school_email.split("@")[1]
        assert verification.school.domains.filter(domain=domain).exists()


def test_demo_gives_every_screen_something():
    _load()

    assert Project.objects.filter(status=Project.Status.OPEN).count() >= 5
    assert Project.objects.filter(status=Project.Status.DRAFT).exists()
    mentoring = Project.objects.get(kind=Project.Kind.MENTORING)
    assert mentoring.status == Project.Status.OPEN
    assert mentoring.bids.exists()
    assert Project.objects.filter(visibility=Project.Visibility.SCHOOLS).exists()
    assert Bid.objects.filter(status=Bid.Status.SHORTLISTED).exists()
    assert Bid.objects.filter(status=Bid.Status.REJECTED).exists()
    assert 15 <= Skill.objects.count() <= 25

    active = Contract.objects.get(status=Contract.Status.ACTIVE)
    assert [m.escrow.status for m in active.milestones.order_by("position")] == [
        Escrow.Status.FUNDED,
        Escrow.Status.AWAITING_FUNDING,
    ]
    done = Contract.objects.get(status=Contract.Status.COMPLETED)
    assert done.project.status == Project.Status.COMPLETED
    assert [m.escrow.status for m in done.milestones.all()] == [Escrow.Status.RELEASED]
    assert ledger_unbalanced_transactions() == []


def test_demo_schools_are_the_same_rows_as_the_public_list(tmp_path):
    hec = {
        "name": "École des Hautes Études Commerciales (HEC Business School)",
        "domains": ["hec.fr", "hec.edu"],
        "web_pages": ["http://www.hec.fr/", "http://www.hec.edu/"],
        "country": "France",
        "alpha_two_code": "FR",
        "state-province": None,
    }
    path = tmp_path / "list.json"
    path.write_text(json.dumps([hec]), encoding="utf-8")
    schools_import(path=path)

    _load()

    assert School.objects.filter(name=hec["name"]).count() == 1
    assert schools_import(path=path).unchanged == 1


def test_the_demo_says_when_staff_sign_in_without_a_second_factor(settings):
    settings.TWO_FACTOR_REQUIRED = False
    assert "without a second factor" in _load()
    settings.TWO_FACTOR_REQUIRED = True
    assert "without a second factor" not in _load()
