from __future__ import annotations

import dataclasses
import json
import re
from collections import defaultdict

import pytest
from django.apps import apps
from django.core.files.storage import default_storage
from django.db import models
from django.db.models import Sum
from rest_framework.test import APIClient

from marketplace import privacy
from marketplace.errors import NotFound, PermissionDenied, StateConflict
from marketplace.models import AuditEntry, Notification, OutboundEmail, StudentProfile, User
from marketplace.privacy import (
    ERASED_TEXT,
    account_erase,
    erased_email,
    personal_data_kept,
    personal_data_sections,
)
from payments.models import Escrow, LedgerEntry
from payments.selectors import ledger_account_balances
from payments.services.reconciliation import ledger_reconcile
from projects.briefs.models import Bid
from projects.briefs.services import bid_submit
from projects.messaging.models import Attachment, Message
from projects.reviews.models import Review, ReviewReply
from schools.models import EnrolmentVerification
from tests.concurrency import postgresql_only, run_at_once
from tests.factories import (
    PASSWORD,
    CompanyMemberFactory,
    ProjectFactory,
    UserFactory,
    VerifiedStudentFactory,
)
from tests.factories.contracts import active_contract
from tests.factories.escrows import make_escrow
from tests.factories.personal_data import student_with_history

pytestmark = pytest.mark.django_db

TEXT_FIELDS = (models.CharField, models.TextField, models.JSONField)
# Strings matched as whole words (a first name inside another word is not the person).
WORDS = {"first_name", "last_name"}


def _text_values(row: models.Model) -> list[tuple[str, str]]:
    values = []
    for field in row._meta.concrete_fields:
        if isinstance(field, TEXT_FIELDS):
            value = getattr(row, field.attname)
            if value not in (None, "", [], {}):
                text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
                values.append((field.name, text))
    return values


def personal_strings_left(strings: dict[str, str]) -> dict[str, list[str]]:
    """Every model, every text field of every row: where does any of the person's strings
    still appear? `{"app.model.field": [string names]}`."""
    patterns = {
        name: re.compile(
            rf"(?<!\w){re.escape(value)}(?!\w)" if name in WORDS else re.escape(value),
            0 if name in WORDS else re.IGNORECASE,
        )
        for name, value in strings.items()
    }
    found: dict[str, list[str]] = defaultdict(list)
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        for row in model._default_manager.all().iterator():
            for field_name, text in _text_values(row):
                for name, pattern in patterns.items():
                    if pattern.search(text):
                        found[f"{model._meta.label_lower}.{field_name}"].append(name)
    return dict(found)


def test_after_erasure_no_personal_string_is_left_anywhere():
    person = student_with_history()
    before = personal_strings_left(person.strings)
    assert set(before) > {
        "marketplace.user.email",
        "marketplace.studentprofile.bio",
        "schools.enrolmentverification.school_email",
        "briefs.bid.cover_letter",
        "messaging.message.body",
        "contracts.delivery.note",
        "reviews.review.comment",
        "marketplace.outboundemail.body_text",
        "marketplace.notification.title",
    }, "the scan must see the strings before erasure, else it proves nothing"

    account_erase(user_id=person.user.pk, by=person.user)

    left = personal_strings_left(person.strings)
    kept = personal_data_kept()
    assert {where for where in left if where.rsplit(".", 1)[0] not in kept} == set()
    # The one kept copy: the payment provider's connected account, opened with the e-mail.
    assert left == {"payments.dummygatewayobject.metadata": ["email"]}


def test_tables_kept_after_erasure_each_have_a_reason():
    kept = personal_data_kept()
    assert {
        "payments.ledgerentry",
        "payments.ledgertransaction",
        "payments.escrow",
        "marketplace.auditentry",
    } <= set(kept)
    labels = {m._meta.label_lower for m in apps.get_models()}
    for label, reason in kept.items():
        assert label in labels, label
        assert len(reason) > 20


def test_erasure_anonymises_the_account_and_keeps_what_others_rely_on():
    person = student_with_history()
    user = person.user
    rating = Review.objects.get(author=user).rating

    erased = account_erase(user_id=user.pk, by=user)

    erased.refresh_from_db()
    assert erased.email == erased_email(user.pk) == f"erased-{user.pk}@invalid"
    assert (erased.first_name, erased.last_name) == ("", "")
    assert not erased.has_usable_password()
    assert not erased.is_active
    assert erased.erased_at is not None
    assert erased.full_name == erased.display_name == "Erased user"
    profile = StudentProfile.objects.get(user=user)
    assert (profile.headline, profile.bio, profile.portfolio_links) == ("", "", [])
    assert not profile.skills.exists()
    verification = EnrolmentVerification.objects.get(student=user)
    assert verification.status == EnrolmentVerification.Status.VERIFIED
    assert verification.program == ""
    assert verification.school_email.endswith("@invalid")
    assert set(Bid.objects.filter(student=user).values_list("cover_letter", flat=True)) == {""}
    assert Bid.objects.filter(student=user, status=Bid.Status.WITHDRAWN).count() == 1
    assert set(Message.objects.filter(author=user).values_list("body", flat=True)) == {ERASED_TEXT}
    assert Message.objects.exclude(author=user).filter(body="Noted, thanks.").exists()
    written = Review.objects.get(author=user)
    assert (written.rating, written.comment, written.private_feedback) == (rating, "", "")
    assert ReviewReply.objects.get(author=user).body == ERASED_TEXT
    assert not Notification.objects.filter(user=user).exists()
    assert not OutboundEmail.objects.filter(to__icontains=person.strings["email"]).exists()
    assert person.contract.milestones.get().escrow.status == Escrow.Status.RELEASED


def test_erasure_deletes_uploaded_files_from_storage():
    person = student_with_history()
    names = list(
        Attachment.objects.filter(uploaded_by=person.user).values_list("storage_name", flat=True)
    )
    assert len(names) == 2 and all(default_storage.exists(n) for n in names)

    account_erase(user_id=person.user.pk, by=person.user)

    assert not Attachment.objects.filter(uploaded_by=person.user).exists()


def test_files_are_deleted_only_after_commit(django_capture_on_commit_callbacks):
    person = student_with_history()
    names = list(
        Attachment.objects.filter(uploaded_by=person.user).values_list("storage_name", flat=True)
    )

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        account_erase(user_id=person.user.pk, by=person.user)
    assert all(default_storage.exists(n) for n in names)
    for callback in callbacks:
        callback()

    assert not any(default_storage.exists(n) for n in names)


def test_the_books_still_balance_after_erasure():
    person = student_with_history()
    balances = ledger_account_balances()

    account_erase(user_id=person.user.pk, by=person.user)

    assert ledger_account_balances() == balances
    per_transaction = LedgerEntry.objects.values("transaction_id").annotate(t=Sum("amount_cents"))
    assert {row["t"] for row in per_transaction} == {0}
    per_currency = LedgerEntry.objects.values("currency").annotate(t=Sum("amount_cents"))
    assert {row["t"] for row in per_currency} == {0}
    run = ledger_reconcile()
    assert run.ok and run.differences == []


def test_ledger_memos_name_no_one():
    person = student_with_history()
    memos = " ".join(LedgerEntry.objects.values_list("memo", flat=True))
    for key in ("first_name", "last_name", "email"):
        assert person.strings[key].lower() not in memos.lower()


def test_erasure_waits_while_money_is_held_in_escrow():
    contract = active_contract()

    with pytest.raises(StateConflict) as refused:
        account_erase(user_id=contract.student.pk, by=contract.student)

    assert refused.value.extra["blockers"]
    contract.student.refresh_from_db()
    assert contract.student.erased_at is None and contract.student.is_active


def test_erasure_of_a_payee_with_held_money_is_blocked_even_without_a_contract():
    escrow = make_escrow(status=Escrow.Status.FUNDED)

    with pytest.raises(StateConflict):
        account_erase(user_id=escrow.payee_id, by=escrow.payee)


def test_last_company_member_with_money_in_escrow_is_blocked():
    contract = active_contract()
    owner = contract.project.created_by

    with pytest.raises(StateConflict) as refused:
        account_erase(user_id=owner.pk, by=owner)

    assert len(refused.value.extra["blockers"]) == 2  # money held, contract in progress


def test_a_company_member_is_erased_and_the_company_keeps_its_briefs():
    owner = CompanyMemberFactory(first_name="Octavia", last_name="Brightwater")
    brief = ProjectFactory(company=owner.company_membership.company, created_by=owner)

    account_erase(user_id=owner.pk, by=owner)

    brief.refresh_from_db()
    assert brief.created_by_id == owner.pk and brief.company_id is not None
    assert not hasattr(User.objects.get(pk=owner.pk), "company_membership")


def test_erasing_twice_is_a_no_op():
    person = student_with_history()
    first = account_erase(user_id=person.user.pk, by=person.user)
    state = User.objects.filter(pk=first.pk).values().get()

    again = account_erase(user_id=person.user.pk, by=person.user)

    assert again.erased_at == first.erased_at
    assert User.objects.filter(pk=first.pk).values().get() == state


def test_staff_erasure_is_audited_with_the_reason():
    staff = UserFactory(is_staff=True, role=User.Role.ADMIN)
    student = VerifiedStudentFactory()

    account_erase(user_id=student.pk, by=staff, reason="Asked by e-mail on 3 March")

    entry = AuditEntry.objects.get(action="user.erase")
    assert (entry.actor_id, entry.subject_id) == (staff.pk, str(student.pk))
    assert entry.reason == "Asked by e-mail on 3 March"


def test_self_erasure_writes_no_audit_entry():
    student = VerifiedStudentFactory()

    account_erase(user_id=student.pk, by=student)

    assert not AuditEntry.objects.filter(action="user.erase").exists()


@pytest.mark.parametrize(
    "by_kind, target_kind, allowed",
    [
        ("student", "student", False),
        ("staff", "student", True),
        ("staff", "staff", False),
        ("superuser", "staff", True),
    ],
)
def test_who_may_erase_whom(by_kind, target_kind, allowed):
    flags = {
        "student": {},
        "staff": {"is_staff": True, "role": User.Role.ADMIN},
        "superuser": {"is_staff": True, "is_superuser": True, "role": User.Role.ADMIN},
    }
    by = UserFactory(**flags[by_kind])
    target = UserFactory(**flags[target_kind])

    if allowed:
        assert account_erase(user_id=target.pk, by=by).erased_at is not None
    else:
        with pytest.raises(PermissionDenied):
            account_erase(user_id=target.pk, by=by)
        target.refresh_from_db()
        assert target.erased_at is None


def test_erasing_a_missing_account_is_not_found():
    with pytest.raises(NotFound):
        account_erase(user_id=999_999, by=None)


def test_erased_user_cannot_sign_in_and_their_tokens_are_refused():
    student = VerifiedStudentFactory(email="tokens@example.com")
    client = APIClient()
    tokens = client.post(
        "/api/v1/auth/token/", {"email": "tokens@example.com", "password": PASSWORD}
    ).json()
    access, refresh = tokens["access"], tokens["refresh"]

    account_erase(user_id=student.pk, by=student)

    assert (
        client.post(
            "/api/v1/auth/token/", {"email": "tokens@example.com", "password": PASSWORD}
        ).status_code
        == 401
    )
    assert client.post("/api/v1/auth/token/refresh/", {"refresh": refresh}).status_code == 401
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    assert client.get("/api/v1/me/").status_code == 401
    assert not client.login(email=erased_email(student.pk), password=PASSWORD)


def test_the_other_party_still_sees_the_contract_and_thread_with_erased_user(as_user):
    person = student_with_history()
    account_erase(user_id=person.user.pk, by=person.user)
    company = as_user(person.owner)

    contract = company.get(f"/api/v1/contracts/{person.contract.pk}/")
    thread = company.get(f"/api/v1/contracts/{person.contract.pk}/messages/")

    assert contract.status_code == 200
    assert thread.status_code == 200
    bodies = json.dumps(thread.json())
    assert ERASED_TEXT in bodies and "Noted, thanks." in bodies
    assert "Erased user" in bodies
    assert person.strings["message"] not in bodies


def test_every_section_erases_inside_one_transaction(monkeypatch):
    person = student_with_history()
    last = personal_data_sections()[-1]

    def broken(user):  # type: ignore[no-untyped-def]
        raise RuntimeError("storage down")

    monkeypatch.setitem(privacy._SECTIONS, last.name, dataclasses.replace(last, eraser=broken))

    with pytest.raises(RuntimeError):
        account_erase(user_id=person.user.pk, by=person.user)

    person.user.refresh_from_db()
    assert person.user.erased_at is None
    assert Bid.objects.filter(student=person.user, cover_letter=person.strings["cover"]).exists()


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_erasure_and_bid_leave_no_live_bid_by_an_erased_account():
    student = VerifiedStudentFactory()
    brief = ProjectFactory()

    def erase():  # type: ignore[no-untyped-def]
        return account_erase(user_id=student.pk, by=student)

    def bid():  # type: ignore[no-untyped-def]
        return bid_submit(
            project_id=brief.pk,
            by=student,
            amount_cents=10_000,
            estimated_days=2,
            cover_letter="A racing cover letter",
        )

    outcomes = run_at_once(erase, bid)

    assert not isinstance(outcomes[0], Exception)
    student.refresh_from_db()
    assert student.erased_at is not None
    live = Bid.objects.filter(student=student).exclude(status=Bid.Status.WITHDRAWN)
    assert not live.exists()
    assert not Bid.objects.filter(cover_letter="A racing cover letter").exists()
    if isinstance(outcomes[1], Exception):
        assert isinstance(outcomes[1], PermissionDenied)
