"""Series for the charts of the company, student and school pages, read from the ledger.

Every amount is in integer minor units (cents; yen for JPY) of its currency and
is never summed across currencies. Months are calendar months in UTC; a month
is named by its first day (`dt.date(2025, 3, 1)` is March 2025). A window of
`months` ends with the current month, oldest first, and months without
activity are present with 0. Each function runs a constant number of queries,
whatever the size of the history (one, for most).

Where the money comes from (see `payments.services.escrow`): a funding posts
`company:<id>` −charge (work + company fee), refunds and dispute refunds post
`company:<id>` +refunded part, a release posts `student:<id>` +the student's
share and a reversed transfer `student:<id>` −amount.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import (
    Case,
    CharField,
    Count,
    DateField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, Concat, TruncMonth
from django.utils import timezone

from payments.models import LedgerEntry
from payments.services.ledger import company_account, student_account
from projects.contracts.models import Contract
from schools.models import EnrolmentVerification, VerificationEvent

V = EnrolmentVerification.Status
UTC = dt.UTC

# (first day of the month, value): minor units for money, a count otherwise.
MonthPoint = tuple[dt.date, int]


@dataclass(frozen=True)
class ProjectSpending:
    """What a company spent on one brief, net of refunds, in minor units of `currency`."""

    project_id: int
    title: str
    currency: str
    cents: int


def _month_starts(months: int) -> list[dt.date]:
    """The first days of the last `months` UTC months, oldest first, the current one last."""
    if months < 1:
        raise ValueError("months must be at least 1")
    today = timezone.now().astimezone(UTC).date()
    index = today.year * 12 + today.month - 1
    return [dt.date(i // 12, i % 12 + 1, 1) for i in range(index - months + 1, index + 1)]


def _start_instant(day: dt.date) -> dt.datetime:
    """Midnight UTC at the start of `day`."""
    return dt.datetime(day.year, day.month, day.day, tzinfo=UTC)


def _month_of(field: str) -> TruncMonth:
    return TruncMonth(field, output_field=DateField(), tzinfo=UTC)


def _next_month(month: dt.date) -> dt.date:
    return dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _per_currency(
    rows: Iterable[dict], starts: list[dt.date], sign: int
) -> dict[str, list[MonthPoint]]:
    """`{currency: [(month, cents)]}` from `{month, currency, total}` rows, zero-filled."""
    totals: dict[str, dict[dt.date, int]] = defaultdict(dict)
    for row in rows:
        totals[row["currency"]][row["month"]] = sign * (row["total"] or 0)
    return {
        currency: [(month, by_month.get(month, 0)) for month in starts]
        for currency, by_month in sorted(totals.items())
    }


def _monthly_ledger(
    entries: QuerySet[LedgerEntry], starts: list[dt.date]
) -> dict[str, list[MonthPoint]]:
    """The entries' sums per currency and UTC month of their writing, zero-filled."""
    rows = (
        entries.filter(created_at__gte=_start_instant(starts[0]))
        .annotate(month=_month_of("created_at"))
        .values("month", "currency")
        .annotate(total=Sum("amount_cents"))
        .order_by()
    )
    return _per_currency(rows, starts, sign=1)


def company_spending_by_month(*, company_id: int, months: int = 12) -> dict[str, list[MonthPoint]]:
    """What the company paid into escrow per month, net of what came back: `{currency: [...]}`.

    Each payment counts in the UTC month it was made (the escrow's funding),
    less whatever of that same payment went back to the company later
    (cancellation refund, refunded part of a dispute, chargeback): so a month
    reads "what the work we paid for that month finally cost us", never below
    zero, and it changes when a refund comes. Cents include the company's
    service fee. Currencies without any payment in the window are absent. One query.
    """
    starts = _month_starts(months)
    rows = (
        LedgerEntry.objects.filter(
            account=company_account(company_id),
            transaction__escrow__funded_at__gte=_start_instant(starts[0]),
        )
        .annotate(month=_month_of("transaction__escrow__funded_at"))
        .values("month", "currency")
        .annotate(total=Sum("amount_cents"))
        .order_by()
    )
    return _per_currency(rows, starts, sign=-1)


def company_spending_by_project(*, company_id: int) -> list[ProjectSpending]:
    """What the company spent per brief since the start, net of refunds, largest first.

    The same money as `company_spending_by_month` (charges incl. the service
    fee, less refunds), per brief and currency; briefs nothing was paid for
    are absent. One query.
    """
    brief = "transaction__escrow__milestone__contract__project"
    rows = (
        LedgerEntry.objects.filter(
            account=company_account(company_id), **{f"{brief}__company_id": company_id}
        )
        .values(f"{brief}_id", f"{brief}__title", "currency")
        .annotate(total=Sum("amount_cents"))
        .order_by()
    )
    spent = [
        ProjectSpending(
            project_id=row[f"{brief}_id"],
            title=row[f"{brief}__title"],
            currency=row["currency"],
            cents=-row["total"],
        )
        for row in rows
        if row["total"]
    ]
    return sorted(spent, key=lambda s: (-s.cents, s.title, s.project_id))


def student_earnings_by_month(*, student_id: int, months: int = 12) -> dict[str, list[MonthPoint]]:
    """What the student was paid per UTC month, `{currency: [(month, cents)]}`.

    The student's share of each release or dispute settlement, counted in the
    month it was paid (a reversed transfer subtracts in its own month, so a
    month can be negative); the same ledger account as
    `projects.contracts.selectors.student_earnings`, so the months of a window covering
    all of it add up to that total. One query.
    """
    entries = LedgerEntry.objects.filter(account=student_account(student_id))
    return _monthly_ledger(entries, _month_starts(months))


def _verified_at_school(school_id: int) -> QuerySet[EnrolmentVerification]:
    """The school's verifications that were once in force (verified, then maybe ended)."""
    return EnrolmentVerification.objects.filter(
        school_id=school_id, status__in=[V.VERIFIED, V.EXPIRED, V.REVOKED]
    )


def school_verified_students_by_month(*, school_id: int, months: int = 12) -> list[MonthPoint]:
    """How many students the school had verified and in force at each month's end.

    A count of distinct students at the last day of each UTC month (today for
    the current month): verified by then (the approval's audit event), not
    revoked by then (the revocation's event), and not past their graduation date,
    the day up to which a verification is in force. So graduations and
    revocations lower the line; it is a level, not the number of new approvals.
    One query.
    """
    starts = _month_starts(months)
    today = timezone.now().astimezone(UTC).date()

    def event_at(status: str) -> Subquery:
        return Subquery(
            VerificationEvent.objects.filter(verification=OuterRef("pk"), to_status=status)
            .order_by("created_at")
            .values("created_at")[:1]
        )

    rows = _verified_at_school(school_id).annotate(
        # Rows made without the services (imports, demo data) have no audit event;
        # a revoked one's decision time is its revocation, so it is no approval time.
        verified_at=Coalesce(
            event_at(V.VERIFIED),
            Case(When(~Q(status=V.REVOKED), then="decided_at")),
            "email_confirmed_at",
            "created_at",
        ),
        revoked_at=Coalesce(event_at(V.REVOKED), Case(When(status=V.REVOKED, then="decided_at"))),
    )
    counts = {}
    for i, month in enumerate(starts):
        as_of = min(_next_month(month) - dt.timedelta(days=1), today)
        end = _start_instant(as_of + dt.timedelta(days=1))
        in_force = (
            Q(verified_at__lt=end)
            & Q(graduation_date__gte=as_of)
            & (Q(revoked_at__isnull=True) | Q(revoked_at__gte=end))
        )
        counts[f"m{i}"] = Count("student", filter=in_force, distinct=True)
    totals = rows.aggregate(**counts)
    return [(month, totals[f"m{i}"] or 0) for i, month in enumerate(starts)]


def _school_student_ids(school_id: int) -> QuerySet[EnrolmentVerification]:
    return _verified_at_school(school_id).values("student_id")


def school_completed_contracts_by_month(*, school_id: int, months: int = 12) -> list[MonthPoint]:
    """Contracts completed per UTC month by the school's students: `[(month, count)]`.

    The school's students are those it ever verified (in force, graduated or
    revoked since), so the past does not change when a student graduates; a
    student verified by two schools counts for both. Cancelled contracts are
    not counted. One query.
    """
    starts = _month_starts(months)
    rows = (
        Contract.objects.filter(
            status=Contract.Status.COMPLETED,
            student_id__in=_school_student_ids(school_id),
            completed_at__gte=_start_instant(starts[0]),
        )
        .annotate(month=_month_of("completed_at"))
        .values("month")
        .annotate(n=Count("pk"))
        .order_by()
    )
    by_month = {row["month"]: row["n"] for row in rows}
    return [(month, by_month.get(month, 0)) for month in starts]


def school_earnings_by_month(*, school_id: int, months: int = 12) -> dict[str, list[MonthPoint]]:
    """What the school's students were paid per UTC month, `{currency: [(month, cents)]}`.

    `student_earnings_by_month` summed over the students the school ever
    verified (see `school_completed_contracts_by_month`). One query.
    """
    accounts = _school_student_ids(school_id).annotate(
        account=Concat(Value("student:"), Cast("student_id", CharField()), output_field=CharField())
    )
    entries = LedgerEntry.objects.filter(account__in=accounts.values("account"))
    return _monthly_ledger(entries, _month_starts(months))
