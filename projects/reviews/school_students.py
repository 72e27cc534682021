"""A school's verified students with their results, for its coordinators' list and CSV export.

Shared by the API (`projects.reviews.api.schools`) and the coordinator's web pages, so
both show the same figures and the export is built in one place.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

from marketplace.money import Money
from projects.contracts.selectors import school_students_report, student_earnings
from projects.reviews.selectors import student_reputations
from schools.models import EnrolmentVerification

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

CSV_HEADER = [
    "student_id",
    "first_name",
    "last_name",
    "school_email",
    "program",
    "graduation_date",
    "verified_at",
    "completed_contracts",
    "earned",
    "average_rating",
    "on_time_rate",
]


def csv_safe(text: str) -> str:
    """Text a spreadsheet will show, not run: a cell starting like a formula gets a `'` first.

    Source: OWASP, "CSV Injection".
    """
    return f"'{text}" if text.startswith(FORMULA_PREFIXES) else text


def school_students_with_results(
    verifications: Iterable[EnrolmentVerification],
) -> list[EnrolmentVerification]:
    """The verifications (of `school_students_report`) with `earned` and `reputation` set.

    `earned` is `{currency: minor units}` paid to the student; `reputation` a
    `projects.reviews.selectors.Reputation` (average rating, on-time rate). A constant
    number of queries whatever the number of rows.
    """
    rows = list(verifications)
    ids = [v.student_id for v in rows]
    earnings = student_earnings(student_ids=ids)
    reputations = student_reputations(student_ids=ids)
    for verification in rows:
        verification.earned = earnings.get(verification.student_id, {})  # type: ignore[attr-defined]
        verification.reputation = reputations[verification.student_id]  # type: ignore[attr-defined]
    return rows


class _Echo:
    """A file-like object whose write returns the line, for streaming CSV."""

    def write(self, value: str) -> str:
        return value


def _blank_if_none(value: object) -> object:
    return "" if value is None else value


def school_students_csv(*, school_id: int) -> Iterator[str]:
    """The school's verified students with their results as CSV lines (UTF-8 text), header first.

    Earnings read `1,230.00 EUR; 50 JPY` (every currency, sorted); text cells
    that a spreadsheet would take for a formula are prefixed with `'`. The rows
    are read at the call, in a constant number of queries; the lines are made
    as the iterator is consumed (a streaming response).
    """
    rows = school_students_with_results(school_students_report(school_id=school_id))
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield writer.writerow(CSV_HEADER)
        for v in rows:
            earned = "; ".join(
                Money(cents, currency).format()
                for currency, cents in sorted(v.earned.items())  # type: ignore[attr-defined]
            )
            yield writer.writerow(
                [
                    v.student_id,
                    csv_safe(v.student.first_name),
                    csv_safe(v.student.last_name),
                    csv_safe(v.school_email),
                    csv_safe(v.program),
                    v.graduation_date.isoformat(),
                    v.decided_at.isoformat() if v.decided_at else "",
                    v.completed_contracts,  # type: ignore[attr-defined]
                    earned,
                    _blank_if_none(v.reputation.average_rating),  # type: ignore[attr-defined]
                    _blank_if_none(v.reputation.on_time_rate),  # type: ignore[attr-defined]
                ]
            )

    return lines()
