from __future__ import annotations

import hashlib
import uuid
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import Group
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework_simplejwt.tokens import RefreshToken

from marketplace.models import FailedTask, Notification, OutboundEmail, User
from marketplace.two_factor import totp_device_confirm, totp_device_start
from payments.models import Chargeback, StripeEvent
from payments.services.payouts import payout_account_onboard
from payments.services.reconciliation import ledger_reconcile
from projects.contracts.disputes import dispute_resolve, milestone_dispute
from projects.messaging.models import Attachment, Message, Thread, ThreadRead
from projects.reviews.models import Review, ReviewReply
from schools.models import VerificationEvent
from tests.factories import CoordinatorFactory, SkillFactory, UserFactory
from tests.factories.contracts import active_contract, completed_contract
from tests.twofactor import code_now, login_with_second_factor


@pytest.fixture(autouse=True)
def fees(settings):  # type: ignore[no-untyped-def]
    settings.COMPANY_FEE_BPS = 500
    settings.STUDENT_COMMISSION_BPS = 1000


@pytest.fixture
def superuser() -> User:
    return User.objects.create_superuser(email="root@example.com", password="pw-123456789")


@pytest.fixture
def staff_client(client, superuser):  # type: ignore[no-untyped-def]
    login_with_second_factor(client, superuser)
    return client


def disputed_contract():  # type: ignore[no-untyped-def]
    """A funded 10,000-cent EUR milestone (10,500 held with the fee) under an open dispute."""
    contract = active_contract()
    payout_account_onboard(user=contract.student)
    milestone = contract.milestones.get()
    return milestone_dispute(
        milestone_id=milestone.pk, by=contract.project.created_by, reason="Not what we asked"
    )


def add_world() -> SimpleNamespace:
    """At least one row of every model the admin shows, mostly made by the services.

    Among them a dispute settled by staff, for the rows its settlement writes.
    """
    done = completed_contract()
    dispute = disputed_contract()
    settled = disputed_contract()
    dispute_resolve(
        dispute_id=settled.pk,
        by=UserFactory(role=User.Role.ADMIN, is_staff=True),
        release_cents=0,
        refund_cents=settled.milestone.escrow.charge_cents,
        note="Refunded in full.",
    )
    student = done.student
    verification = student.enrolment_verifications.get()
    VerificationEvent.objects.create(
        verification=verification, from_status="pending_review", to_status="verified"
    )
    CoordinatorFactory(school=verification.school)
    SkillFactory()
    Group.objects.get_or_create(name="Support")
    escrow = done.milestones.get().escrow
    Chargeback.objects.create(
        escrow=escrow,
        dispute_id=f"dp_{uuid.uuid4().hex}",
        amount_cents=escrow.charge_cents,
        currency="EUR",
        funds_held=False,
    )
    StripeEvent.objects.create(
        event_id=f"evt_{uuid.uuid4().hex}", type="ping", payload={"id": "evt"}, escrow=escrow
    )
    FailedTask.objects.create(task_name="marketplace.tasks.nothing", error="boom")
    OutboundEmail.objects.create(
        key=f"mail-{uuid.uuid4().hex}",
        template="t",
        language="en",
        to=student.email,
        subject="Hi",
        body_text="Hi",
    )
    Notification.objects.create(user=student, key=f"n-{uuid.uuid4().hex}", kind="k", title="Hi")
    # Sign-in rows: a student with two-factor sign-in on, a refresh token used up by logout.
    totp_device_confirm(
        user=student,
        device_id=totp_device_start(user=student).pk,
        code=code_now(TOTPDevice.objects.get(user=student)),
    )
    RefreshToken.for_user(student).blacklist()
    review = Review.objects.create(
        contract=done,
        role=Review.Role.COMPANY_TO_STUDENT,
        author=done.project.created_by,
        subject_user=student,
        rating=5,
        quality=5,
        communication=5,
        deadlines=5,
        comment="Great",
    )
    ReviewReply.objects.create(review=review, author=student, body="Thanks")
    thread = Thread.objects.create(project=done.project, student=student)
    message = Message.objects.create(thread=thread, author=student, body="Hello")
    ThreadRead.objects.create(thread=thread, user=student, last_read_at=message.created_at)
    Attachment.objects.create(
        uuid=uuid.uuid4(),
        message=message,
        uploaded_by=student,
        name="brief.pdf",
        content_type="application/pdf",
        size=3,
        sha256=hashlib.sha256(b"pdf").hexdigest(),
        storage_name=f"attachments/{uuid.uuid4().hex}",
    )
    UserFactory()
    run = ledger_reconcile()
    return SimpleNamespace(done=done, dispute=dispute, run=run)
