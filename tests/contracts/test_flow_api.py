from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core import mail
from django.utils import timezone

from payments.selectors import ledger_unbalanced_transactions
from tests.factories import PASSWORD, CoordinatorFactory, SchoolFactory, SkillFactory
from tests.twofactor import authenticator, code_now

pytestmark = pytest.mark.django_db


def _token(api, email, **second_factor):  # type: ignore[no-untyped-def]
    body = {"email": email, "password": PASSWORD, **second_factor}
    res = api.post("/api/v1/auth/token/", body, format="json")
    assert res.status_code == 200, res.content
    return res.json()["access"]


def _client(api_factory, token):  # type: ignore[no-untyped-def]
    client = api_factory()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def _ledger_sums_to_zero(client, contract_id):  # type: ignore[no-untyped-def]
    res = client.get(f"/api/v1/contracts/{contract_id}/ledger/?page_size=100")
    assert res.status_code == 200
    assert sum(e["amount_cents"] for e in res.json()["results"]) == 0
    assert ledger_unbalanced_transactions() == []
    return res.json()["results"]


def test_the_whole_flow_through_the_api(api, django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    from rest_framework.test import APIClient

    school = SchoolFactory(name="School 1")
    domain = school.domains.first().domain
    coordinator = CoordinatorFactory(school=school)
    python = SkillFactory(name="Python", slug="python")
    SkillFactory(name="Django", slug="django")

    res = api.post(
        "/api/v1/auth/register/",
        {
            "email": "boss@acme.test",
            "password": PASSWORD,
            "role": "company",
            "first_name": "Ada",
            "last_name": "Boss",
            "company_name": "Acme",
        },
        format="json",
    )
    assert res.status_code == 201, res.content
    res = api.post(
        "/api/v1/auth/register/",
        {
            "email": "lea@gmail.test",
            "password": PASSWORD,
            "role": "student",
            "first_name": "Léa",
            "last_name": "Martin",
        },
        format="json",
    )
    assert res.status_code == 201, res.content
    company = _client(APIClient, _token(api, "boss@acme.test"))
    student = _client(APIClient, _token(api, "lea@gmail.test"))
    # The coordinator signs in with the authenticator's code too.
    code = code_now(authenticator(coordinator.user))
    coord = _client(APIClient, _token(api, coordinator.user.email, otp=code))

    assert student.get("/api/v1/me/").json()["role"] == "student"
    res = student.patch(
        "/api/v1/students/me/",
        {"skills": ["python", "django"], "day_rate_cents": 25000, "headline": "Django dev"},
        format="json",
    )
    assert res.status_code == 200, res.content

    with django_capture_on_commit_callbacks(execute=True):
        res = student.post(
            "/api/v1/verifications/",
            {
                "school": school.pk,
                "school_email": f"lea.martin@{domain}",
                "program": "MSc",
                "graduation_date": (timezone.localdate() + dt.timedelta(days=365)).isoformat(),
            },
            format="json",
        )
    assert res.status_code == 201, res.content
    verification_id = res.json()["id"]
    assert res.json()["status"] == "pending_email"
    link = re.search(r"https?://\S+/verify/(\S+)/", mail.outbox[-1].body)
    assert link
    res = student.post("/api/v1/verifications/confirm/", {"token": link.group(1)}, format="json")
    assert res.status_code == 200 and res.json()["status"] == "pending_review", res.content
    res = coord.get("/api/v1/verifications/?status=pending_review")
    assert [v["id"] for v in res.json()["results"]] == [verification_id]
    res = coord.post(f"/api/v1/verifications/{verification_id}/approve/")
    assert res.status_code == 200 and res.json()["status"] == "verified", res.content

    res = company.post(
        "/api/v1/projects/",
        {
            "title": "Build our shop",
            "description": "A Django shop",
            "budget_cents": 200000,
            "currency": "EUR",
            "skills": ["python", "django"],
            "category": "web",
        },
        format="json",
    )
    assert res.status_code == 201, res.content
    project_id = res.json()["id"]
    assert res.json()["status"] == "draft"
    assert company.post(f"/api/v1/projects/{project_id}/publish/").json()["status"] == "open"

    res = student.get(
        "/api/v1/projects/?search=shop&skills=python&budget_min=1000&budget_max=300000"
    )
    assert [p["id"] for p in res.json()["results"]] == [project_id]

    res = company.get(f"/api/v1/projects/{project_id}/matches/")
    assert res.status_code == 200, res.content
    top = res.json()["results"][0]
    assert top["student"]["first_name"] == "Léa"
    assert top["matched_skills"] == ["django", "python"]
    assert sum(p["points"] for p in top["parts"]) == top["score"]

    res = student.post(
        f"/api/v1/projects/{project_id}/bids/",
        {"amount_cents": 180000, "estimated_days": 20, "cover_letter": "I can do it"},
        format="json",
    )
    assert res.status_code == 201, res.content
    bid_id = res.json()["id"]
    res = company.post(
        f"/api/v1/bids/{bid_id}/accept/",
        {
            "milestones": [
                {"title": "Design", "amount_cents": 80000, "due_date": "2099-01-01"},
                {"title": "Build", "amount_cents": 100000},
            ]
        },
        format="json",
    )
    assert res.status_code == 201, res.content
    contract = res.json()
    assert [m["status"] for m in contract["milestones"]] == ["pending", "pending"]

    assert student.post("/api/v1/students/me/payouts/onboard/").status_code == 200
    for m in contract["milestones"]:
        res = company.post(
            f"/api/v1/milestones/{m['id']}/fund/", {"payment_method": "pm_card_visa"}, format="json"
        )
        assert res.status_code == 200, res.content
        assert res.json()["status"] == "succeeded"
        assert res.json()["amount_cents"] == m["amount_cents"] * 105 // 100
        _ledger_sums_to_zero(company, contract["id"])
        res = student.post(
            f"/api/v1/milestones/{m['id']}/submit/",
            {"note": "done", "url": "https://example.com"},
            format="json",
        )
        assert res.json()["status"] == "submitted", res.content
        res = company.post(f"/api/v1/milestones/{m['id']}/approve/")
        assert res.json()["status"] == "released", res.content
        _ledger_sums_to_zero(student, contract["id"])

    res = company.get(f"/api/v1/contracts/{contract['id']}/")
    assert res.json()["status"] == "completed"
    assert company.get(f"/api/v1/projects/{project_id}/").json()["status"] == "completed"
    entries = _ledger_sums_to_zero(company, contract["id"])
    student_total = sum(e["amount_cents"] for e in entries if e["account"].startswith("student:"))
    assert student_total == 180000 - 18000
    revenue = sum(e["amount_cents"] for e in entries if e["account"] == "platform:revenue")
    assert revenue == 9000 + 18000
    assert python.slug == "python"
