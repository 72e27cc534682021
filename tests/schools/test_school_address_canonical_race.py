from __future__ import annotations

import pytest
from django.db.models import QuerySet

from marketplace.errors import ValidationFailed
from schools.addresses import school_email_canonical
from schools.models import EnrolmentVerification
from schools.services import (
    verification_confirm_email,
    verification_token_make,
)
from tests.concurrency import postgresql_only, run_at_once
from tests.factories import SchoolDomainFactory, SchoolFactory, StudentFactory
from tests.schools.claims import claim, live_claims

V = EnrolmentVerification.Status
ROUNDS = 4


def _school():  # type: ignore[no-untyped-def]
    school = SchoolFactory(domain=None)
    SchoolDomainFactory(school=school, domain="x.edu")
    return school


@postgresql_only
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(ROUNDS))
def test_two_spellings_claimed_at_once_end_with_one_live_claim(round_):
    school = _school()
    first, second = StudentFactory(), StudentFactory()
    local = f"a{round_}"

    requested = run_at_once(
        lambda: claim(first, school, f"{local}@x.edu"),
        lambda: claim(second, school, f"{local.upper()}+1@X.edu"),
    )
    assert all(isinstance(v, EnrolmentVerification) for v in requested), requested

    outcomes = run_at_once(
        *(
            lambda v=v: verification_confirm_email(token=verification_token_make(verification=v))
            for v in requested
        )
    )

    won = [o for o in outcomes if isinstance(o, EnrolmentVerification)]
    lost = [o for o in outcomes if isinstance(o, ValidationFailed)]
    assert (len(won), len(lost)) == (1, 1), outcomes
    assert lost[0].field == "token"
    assert live_claims(school_email_canonical(f"{local}@x.edu")) == 1


@pytest.mark.django_db
def test_the_unique_constraint_catches_a_claim_the_check_missed(monkeypatch):
    school = _school()
    first = claim(StudentFactory(), school, "a@x.edu")
    second = claim(StudentFactory(), school, "A+1@x.edu")
    verification_confirm_email(token=verification_token_make(verification=first))
    # As if `first` was confirmed by another request between this one's check and its write.
    monkeypatch.setattr(QuerySet, "exists", lambda self: False)

    with pytest.raises(ValidationFailed) as exc:
        verification_confirm_email(token=verification_token_make(verification=second))

    monkeypatch.undo()
    assert exc.value.field == "token"
    second.refresh_from_db()
    assert second.status == V.PENDING_EMAIL
    assert live_claims(school_email_canonical("a@x.edu")) == 1
