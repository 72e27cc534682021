from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction

from payments.selectors import ledger_totals_by_account_prefix, ledger_unbalanced_transactions
from projects.briefs.models import Bid, Project
from projects.contracts.models import Contract
from projects.demo.importing import briefs_import, briefs_import_rows
from projects.demo.simulation import SimulationNotReady, marketplace_simulate
from schools.importing import schools_import, schools_import_records
from schools.models import EnrolmentVerification

pytestmark = pytest.mark.django_db

SKILL_SETS = [
    "Python|Django",
    "JavaScript|React|CSS",
    "WordPress|PHP",
    "Figma|UI/UX Design",
    "SEO|Content Writing",
    "Python|Data Analysis",
    "Flutter|Android|iOS",
]


def _schools() -> None:
    schools_import_records(
        records=[
            {
                "name": name,
                "domains": domains,
                "web_pages": [],
                "country": "France",
                "alpha_two_code": "FR",
                "state-province": None,
            }
            for name, domains in [
                ("EPITA", ["epita.fr"]),
                ("École Polytechnique", ["polytechnique.edu", "polytechnique.fr"]),
                ("HEC Paris", ["hec.edu"]),
                ("École Supérieure", ["école.fr"]),
            ]
        ]
    )


def _briefs(count: int) -> None:
    rows = []
    for i in range(count):
        hourly = i % 3 == 0
        rows.append(
            {
                "title": f"Real brief {i}",
                "pay_type": "hourly" if hourly else "fixed",
                "hourly_min_usd": "15.00" if hourly else "",
                "hourly_max_usd": "30.00" if hourly else "",
                "fixed_budget_usd": "" if hourly else f"{150 + 37 * i}.{i % 100:02d}",
                "level": "Intermediate",
                "skills": SKILL_SETS[i % len(SKILL_SETS)],
                "skills_hidden_count": "0",
            }
        )
    assert briefs_import_rows(rows=rows).created == count


def _assert_books(report) -> None:  # type: ignore[no-untyped-def]
    assert ledger_unbalanced_transactions() == []
    assert report.unbalanced_transactions == []
    assert report.escrow_mismatches == []
    assert report.ledger_balanced
    for currency, charged in report.charged.items():
        assert charged == (
            report.released.get(currency, 0)
            + report.fees.get(currency, 0)
            + report.refunded.get(currency, 0)
            + report.held.get(currency, 0)
        )
        totals = ledger_totals_by_account_prefix(currency=currency)
        assert totals.get("student", 0) == report.released.get(currency, 0)
        assert totals.get("platform:revenue", 0) == report.fees.get(currency, 0)
        assert totals.get("escrow", 0) == report.held.get(currency, 0)
        assert -totals["company"] == charged - report.refunded.get(currency, 0)


def test_simulation_plays_the_whole_flow_and_the_ledger_balances():
    _schools()
    _briefs(25)

    report = marketplace_simulate(briefs=20, students=8, seed=7)

    _assert_books(report)
    assert report.briefs == 20
    assert report.students == 8
    assert report.counts["bids"] == Bid.objects.count() > 0
    assert report.counts["contracts"] == Contract.objects.count() > 0
    assert report.charged["USD"] > 0
    assert report.released["USD"] > 0
    assert report.fees["USD"] > 0
    assert report.held.get("USD", 0) == 0
    for contract in Contract.objects.select_related("project"):
        assert contract.status == Contract.Status.COMPLETED
        assert contract.project.status == Project.Status.COMPLETED
        assert sum(m.amount_cents for m in contract.milestones.all()) == contract.amount_cents
    assert Project.objects.filter(status=Project.Status.OPEN).count() >= 5
    cancelled = Project.objects.filter(status=Project.Status.CANCELLED)
    assert cancelled.count() == report.counts["briefs cancelled"]


def test_simulated_students_are_verified_at_real_school_domains():
    _schools()
    _briefs(10)

    marketplace_simulate(briefs=10, students=6, seed=1)

    verifications = EnrolmentVerification.objects.select_related("school")
    assert verifications.count() == 6
    for verification in verifications:
        assert verification.status == EnrolmentVerification.Status.VERIFIED
        steps = list(verification.events.values_list("to_status", flat=True))
        assert steps == ["pending_email", "pending_review", "verified"]
        domain = verification.school_email.split("@")[1]
        assert domain in set(verification.school.domains.values_list("domain", flat=True))
        assert verification.decided_by.coordinator.school_id == verification.school_id
    for bid in Bid.objects.select_related("project"):
        student_skills = set(bid.student.student_profile.skills.values_list("pk", flat=True))
        assert student_skills & set(bid.project.skills.values_list("pk", flat=True))


def _play(seed: int) -> tuple[object, ...]:
    with transaction.atomic():
        report = marketplace_simulate(briefs=10, students=5, seed=seed)
        outcome = (
            dict(report.counts),
            report.charged,
            report.released,
            sorted(Project.objects.values_list("title", "status")),
            sorted(Bid.objects.values_list("project__title", "amount_cents", "status")),
        )
        transaction.set_rollback(True)
    return outcome


def test_the_same_seed_takes_the_same_decisions():
    _schools()
    _briefs(30)

    first = _play(3)

    assert Bid.objects.count() == 0
    assert first[0]["contracts"] > 0
    assert _play(3) == first


def test_simulation_needs_imported_briefs_and_schools():
    with pytest.raises(SimulationNotReady, match="import_briefs"):
        marketplace_simulate(briefs=5)
    _briefs(5)
    with pytest.raises(SimulationNotReady, match="import_schools"):
        marketplace_simulate(briefs=5)


def test_command_fails_clearly_without_briefs():
    with pytest.raises(CommandError, match="import_briefs"):
        call_command("simulate_marketplace", "--briefs", "3", stdout=StringIO())


def test_command_prints_the_summary():
    _schools()
    _briefs(12)
    out = StringIO()

    call_command(
        "simulate_marketplace", "--briefs", "12", "--students", "5", "--seed", "2", stdout=out
    )

    text = out.getvalue()
    assert "briefs                          12" in text
    assert "charged to companies" in text
    assert " USD" in text
    assert "ledger balances                 yes" in text
    assert "The ledger balances." in text


@pytest.mark.realdata
def test_simulation_on_real_schools_and_briefs(shared_data: Path):
    schools_import(path=shared_data / "universities" / "world_universities_and_domains.json")
    briefs_import(path=shared_data / "briefs" / "freelance_jobs.csv", limit=120)

    report = marketplace_simulate(briefs=20, students=10, seed=11)

    _assert_books(report)
    assert report.counts["contracts"] > 0
    assert report.schools == 10
