from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
import time_machine

from marketplace.models import User
from payments.services.payouts import payout_account_onboard
from projects.contracts.disputes import dispute_resolve, milestone_dispute
from projects.contracts.models import Contract
from projects.contracts.reports import (
    ProjectSpending,
    company_spending_by_month,
    company_spending_by_project,
    school_completed_contracts_by_month,
    school_earnings_by_month,
    school_verified_students_by_month,
    student_earnings_by_month,
)
from projects.contracts.selectors import student_earnings
from projects.contracts.services import milestone_approve, milestone_submit
from schools.services import verification_revoke
from tests.factories import CompanyMemberFactory, SchoolFactory, UserFactory, VerifiedStudentFactory
from tests.factories.contracts import active_contract, completed_contract

pytestmark = pytest.mark.django_db

MONTHS = [dt.date(2025, m, 1) for m in range(1, 7)]


def at(month: int, day: int):  # type: ignore[no-untyped-def]
    return time_machine.travel(dt.datetime(2025, month, day, 12, tzinfo=dt.UTC), tick=False)


@pytest.fixture(autouse=True)
def fees(settings):  # type: ignore[no-untyped-def]
    settings.COMPANY_FEE_BPS = 500
    settings.STUDENT_COMMISSION_BPS = 1000


@pytest.fixture
def half_year():  # type: ignore[no-untyped-def]
    """Half a year of one company and one school, by the services, on a frozen clock.

    - January: contract A (100.00 EUR) funded: 105.00 charged with the fee.
    - February: A delivered and approved: the student is paid 90.00.
    - March: contract B (200.00 EUR) funded: 210.00 charged.
    - April: B disputed and settled: 160.00 released (144.00 to the student), 50.00 refunded.
    - Students of the school: `student` verified Jan 5; `graduate` verified Jan 1 and
      graduating Feb 15; `leaver` verified Mar 20 and revoked May 10. `other` is at
      another school and earns 90.00 in February.
    """
    school = SchoolFactory()
    staff = UserFactory(role=User.Role.ADMIN, is_staff=True)
    with at(1, 1):
        graduate = VerifiedStudentFactory(
            verification__school=school, verification__graduation_date=dt.date(2025, 2, 15)
        )
    with at(1, 5):
        owner = CompanyMemberFactory()
        student = VerifiedStudentFactory(verification__school=school)
        other = VerifiedStudentFactory()
        payout_account_onboard(user=student)
    with at(1, 20):
        a = active_contract(owner=owner, student=student, amounts=(10_000,))
    with at(2, 10):
        milestone = a.milestones.get()
        milestone_submit(milestone_id=milestone.pk, by=student, note="done")
        milestone_approve(milestone_id=milestone.pk, by=owner)
        completed_contract(student=other)
    with at(3, 20):
        leaver = VerifiedStudentFactory(verification__school=school)
    with at(3, 31):
        b = active_contract(owner=owner, student=student, amounts=(20_000,))
    with at(4, 2):
        dispute = milestone_dispute(milestone_id=b.milestones.get().pk, by=owner, reason="late")
        dispute_resolve(
            dispute_id=dispute.pk, by=staff, release_cents=16_000, refund_cents=5_000, note="ok"
        )
    with at(5, 10):
        verification_revoke(
            verification_id=leaver.enrolment_verifications.get().pk, by=staff, reason="left"
        )
    return SimpleNamespace(
        school=school,
        company=owner.company_membership.company,
        student=student,
        other=other,
        a=a,
        b=b,
        graduate=graduate,
    )


def test_company_spending_counts_each_payment_in_its_month_net_of_refunds(half_year):
    with at(6, 15):
        series = company_spending_by_month(company_id=half_year.company.pk, months=6)

    # B's 50.00 refund (April) lowers March, when B was paid for.
    assert series == {"EUR": list(zip(MONTHS, [10_500, 0, 16_000, 0, 0, 0], strict=True))}


def test_company_spending_per_project(half_year):
    assert company_spending_by_project(company_id=half_year.company.pk) == [
        ProjectSpending(half_year.b.project_id, half_year.b.project.title, "EUR", 16_000),
        ProjectSpending(half_year.a.project_id, half_year.a.project.title, "EUR", 10_500),
    ]


def test_student_earnings_per_month_add_up_to_the_ledger(half_year):
    with at(6, 15):
        series = student_earnings_by_month(student_id=half_year.student.pk, months=6)

    assert series == {"EUR": list(zip(MONTHS, [0, 9_000, 0, 14_400, 0, 0], strict=True))}
    assert (
        sum(v for _, v in series["EUR"])
        == student_earnings(student_ids=[half_year.student.pk])[half_year.student.pk]["EUR"]
    )


def test_a_window_drops_older_months(half_year):
    with at(6, 15):
        series = student_earnings_by_month(student_id=half_year.student.pk, months=3)

    assert series == {
        "EUR": [(dt.date(2025, 4, 1), 14_400), (dt.date(2025, 5, 1), 0), (dt.date(2025, 6, 1), 0)]
    }


def test_school_verified_students_in_force_at_each_month_end(half_year):
    with at(6, 15):
        series = school_verified_students_by_month(school_id=half_year.school.pk, months=6)

    # Jan: student + graduate; Feb: the graduate left on the 15th; Mar–Apr: + leaver;
    # May: the leaver was revoked; June: as of today.
    assert series == list(zip(MONTHS, [2, 1, 2, 2, 1, 1], strict=True))


def test_school_completed_contracts_per_month(half_year):
    with at(6, 15):
        series = school_completed_contracts_by_month(school_id=half_year.school.pk, months=6)

    assert Contract.objects.filter(status="completed").count() == 3  # the other school's too
    assert series == list(zip(MONTHS, [0, 1, 0, 1, 0, 0], strict=True))


def test_school_earnings_per_month_are_its_students_only(half_year):
    with at(6, 15):
        series = school_earnings_by_month(school_id=half_year.school.pk, months=6)

    assert series == {"EUR": list(zip(MONTHS, [0, 9_000, 0, 14_400, 0, 0], strict=True))}


def test_nothing_yet_gives_empty_money_series_and_zero_counts():
    school = SchoolFactory()
    company = CompanyMemberFactory().company_membership.company
    with at(6, 15):
        assert company_spending_by_month(company_id=company.pk, months=6) == {}
        assert student_earnings_by_month(student_id=UserFactory().pk, months=6) == {}
        assert school_earnings_by_month(school_id=school.pk, months=6) == {}
        assert school_verified_students_by_month(school_id=school.pk, months=6) == [
            (m, 0) for m in MONTHS
        ]
        assert school_completed_contracts_by_month(school_id=school.pk, months=6) == [
            (m, 0) for m in MONTHS
        ]
    assert company_spending_by_project(company_id=company.pk) == []


def test_months_roll_over_the_year_in_utc():
    with time_machine.travel(dt.datetime(2025, 2, 28, 23, 30, tzinfo=dt.UTC), tick=False):
        series = school_completed_contracts_by_month(school_id=SchoolFactory().pk, months=3)

    assert [m for m, _ in series] == [
        dt.date(2024, 12, 1),
        dt.date(2025, 1, 1),
        dt.date(2025, 2, 1),
    ]


def test_each_currency_has_its_own_series(half_year):
    from tests.factories import ProjectFactory

    with at(6, 1):
        usd = ProjectFactory(
            company=half_year.company, created_by=half_year.a.project.created_by, currency="USD"
        )
        from projects.briefs.services import bid_submit
        from projects.contracts.services import bid_accept, milestone_fund

        bid = bid_submit(
            project_id=usd.pk,
            by=half_year.student,
            amount_cents=4_000,
            estimated_days=2,
            cover_letter="x",
        )
        milestone = bid_accept(bid_id=bid.pk, by=half_year.a.project.created_by).milestones.get()
        milestone_fund(
            milestone_id=milestone.pk,
            by=half_year.a.project.created_by,
            payment_method="pm_card_visa",
        )
    with at(6, 15):
        series = company_spending_by_month(company_id=half_year.company.pk, months=6)

    assert sorted(series) == ["EUR", "USD"]
    assert series["USD"][-1] == (dt.date(2025, 6, 1), 4_200)
    assert series["EUR"][-1] == (dt.date(2025, 6, 1), 0)


REPORTS = [
    lambda half_year: company_spending_by_month(company_id=half_year.company.pk),
    lambda half_year: company_spending_by_project(company_id=half_year.company.pk),
    lambda half_year: student_earnings_by_month(student_id=half_year.student.pk),
    lambda half_year: school_verified_students_by_month(school_id=half_year.school.pk),
    lambda half_year: school_completed_contracts_by_month(school_id=half_year.school.pk),
    lambda half_year: school_earnings_by_month(school_id=half_year.school.pk),
]


@pytest.mark.parametrize("report", REPORTS)
def test_each_report_is_one_query_however_long_the_history(
    half_year, report, django_assert_num_queries
):
    with django_assert_num_queries(1):
        report(half_year)
    with at(6, 1):
        completed_contract(owner=half_year.a.project.created_by, student=half_year.student)
        VerifiedStudentFactory(verification__school=half_year.school)
    with django_assert_num_queries(1):
        report(half_year)
