from __future__ import annotations

import copy
import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.core import mail
from django.template.loader import render_to_string
from django.utils.html import escape

from marketplace.models import Notification, OutboundEmail, User
from marketplace.money import Money
from marketplace.notifications import message_render, notify
from projects.briefs.models import Bid
from projects.contracts.models import Contract, Delivery, Milestone
from projects.messaging.models import Message, Thread
from projects.reviews.models import Review, ReviewReply
from schools.models import EnrolmentVerification
from tests.factories import (
    ProjectFactory,
    SchoolFactory,
    StudentFactory,
    UserFactory,
    VerificationFactory,
)

pytestmark = pytest.mark.django_db

SITE = "https://market.example"
MARKER = "INVALID<%s>"
EMAILS = Path(__file__).resolve().parents[2] / "marketplace" / "templates" / "emails"
LANGUAGES = ("en", "fr")
GREETING = {"en": "Hello", "fr": "Bonjour"}
SIGN_OFF = "— Campus Marketplace\n"


@pytest.fixture(autouse=True)
def strict_templates(settings):
    # Assigning TEMPLATES (not mutating it) fires setting_changed, which rebuilds the engines.
    templates = copy.deepcopy(settings.TEMPLATES)
    for engine in templates:
        engine.setdefault("OPTIONS", {})["string_if_invalid"] = MARKER
    settings.TEMPLATES = templates
    settings.SITE_URL = SITE


def money(cents: int) -> str:
    return Money(cents, "EUR").format()


@pytest.fixture
def world():
    school = SchoolFactory(name="École Centrale Test", domain__domain="ec-test.edu")
    student = StudentFactory(first_name="Élodie", last_name="Martin", email="elodie@example.com")
    verification = VerificationFactory(
        student=student,
        school=school,
        school_email="elodie.martin@ec-test.edu",
        program="MSc Data Science",
        graduation_date=dt.date(2026, 6, 30),
    )
    project = ProjectFactory(
        title="Brand identity for a bakery",
        company__name="Boulangerie Lemaire",
        created_by__first_name="Hugo",
    )
    bid = Bid.objects.create(
        project=project,
        student=student,
        amount_cents=180_000,
        currency="EUR",
        estimated_days=12,
        cover_letter="I love bread and logos.",
    )
    contract = Contract.objects.create(
        project=project,
        bid=bid,
        company=project.company,
        student=student,
        amount_cents=180_000,
        currency="EUR",
    )
    milestone = Milestone(
        contract=contract,
        position=1,
        title="Logo sketches",
        amount_cents=90_000,
        currency="EUR",
        due_date=dt.date(2026, 5, 4),
    )
    delivery = Delivery(
        milestone=milestone,
        note="Three directions, light and dark versions.",
        url="https://files.example/logo-v1.pdf",
    )
    staff = UserFactory(first_name="Samira", role=User.Role.ADMIN, is_staff=True)
    return SimpleNamespace(
        school=school,
        student=student,
        verification=verification,
        project=project,
        member=project.created_by,
        bid=bid,
        contract=contract,
        milestone=milestone,
        delivery=delivery,
        staff=staff,
    )


@dataclass
class Case:
    user: User
    context: dict[str, Any]
    facts: list[str]
    words: dict[str, str]
    link: str
    by_language: dict[str, list[str]] = field(default_factory=dict)


def verification_link(w):
    link = f"{SITE}/verify/abc.def-123/"
    return Case(
        user=w.student,
        context={"verification": w.verification, "link": link, "hours": 48},
        facts=["École Centrale Test", "MSc Data Science", "elodie.martin@ec-test.edu", "48"],
        words={"en": "Confirm that", "fr": "inscription"},
        link=link,
    )


def _decision(w, status, reason):
    w.verification.status = status
    w.verification.reason = reason
    w.verification.save()
    return {"verification": w.verification}


def verification_verified(w):
    return Case(
        user=w.student,
        context=_decision(w, EnrolmentVerification.Status.VERIFIED, ""),
        facts=["École Centrale Test"],
        words={"en": "bid on briefs", "fr": "approuvée"},
        link=SITE,
        by_language={"en": ["Verified"]},
    )


def verification_rejected(w):
    return Case(
        user=w.student,
        context=_decision(w, EnrolmentVerification.Status.REJECTED, "Not on our register."),
        facts=["École Centrale Test", "Not on our register."],
        words={"en": "ask again", "fr": "refusée"},
        link=SITE,
        by_language={"en": ["Rejected"]},
    )


def verification_revoked(w):
    return Case(
        user=w.student,
        context=_decision(w, EnrolmentVerification.Status.REVOKED, "Left the school in May."),
        facts=["École Centrale Test", "Left the school in May."],
        words={"en": "cannot bid", "fr": "révoquée"},
        link="",
        by_language={"en": ["Revoked", "payouts"], "fr": ["versements"]},
    )


def coordinator_invitation(w):
    link = f"{SITE}/accounts/reset/MTI/abc-123/"
    return Case(
        user=UserFactory(first_name="Claire", role=User.Role.COORDINATOR),
        context={"school": w.school, "link": link, "days": 3},
        facts=["École Centrale Test", "3"],
        words={"en": "password", "fr": "mot de passe"},
        link=link,
    )


def password_reset(w):
    link = f"{SITE}/accounts/reset/MTI/abc-123/"
    return Case(
        user=w.student,
        context={"link": link, "hours": 72},
        facts=["elodie@example.com", "72"],
        words={"en": "password", "fr": "mot de passe"},
        link=link,
    )


def verification_expiring(w):
    return Case(
        user=w.student,
        context={"verification": w.verification, "days_left": 14},
        facts=["École Centrale Test", "14"],
        words={"en": "graduation date", "fr": "prend fin"},
        link=SITE,
        by_language={"en": ["30 June 2026"], "fr": ["30 juin 2026"]},
    )


def verification_expired(w):
    return Case(
        user=w.student,
        context={"verification": w.verification},
        facts=["École Centrale Test"],
        words={"en": "has ended", "fr": "a pris fin"},
        link=SITE,
        by_language={"en": ["30 June 2026"], "fr": ["30 juin 2026"]},
    )


def bid_submitted(w):
    url = f"/projects/{w.project.pk}/bids/"
    return Case(
        user=w.member,
        context={"project": w.project, "bid": w.bid, "amount": money(180_000), "url": url},
        facts=["Brand identity for a bakery", "1,800.00 EUR", "Élodie", "12"],
        words={"en": "New bid", "fr": "Nouvelle offre"},
        link=SITE + url,
    )


def bid_accepted(w):
    url = f"/contracts/{w.contract.pk}/"
    return Case(
        user=w.student,
        context={
            "project": w.project,
            "contract": w.contract,
            "amount": money(180_000),
            "url": url,
        },
        facts=[
            "Brand identity for a bakery",
            "Boulangerie Lemaire",
            "1,800.00 EUR",
            str(w.contract.pk),
        ],
        words={"en": "accepted", "fr": "acceptée"},
        link=SITE + url,
    )


def bid_rejected(w):
    return Case(
        user=w.student,
        context={"project": w.project},
        facts=["Brand identity for a bakery"],
        words={"en": "not selected", "fr": "retenue"},
        link=SITE,
    )


def milestone_funded(w):
    url = f"/contracts/{w.contract.pk}/"
    return Case(
        user=w.student,
        context={
            "milestone": w.milestone,
            "project": w.project,
            "amount": money(81_000),
            "url": url,
        },
        facts=["Logo sketches", "Brand identity for a bakery", "810.00 EUR"],
        words={"en": "escrow", "fr": "séquestre"},
        link=SITE + url,
        by_language={"en": ["4 May 2026"], "fr": ["4 mai 2026"]},
    )


def milestone_funded_without_due_date(w):
    case = milestone_funded(w)
    w.milestone.due_date = None
    case.by_language = {}
    return case


def delivery_submitted(w):
    url = f"/contracts/{w.contract.pk}/"
    return Case(
        user=w.member,
        context={
            "milestone": w.milestone,
            "project": w.project,
            "delivery": w.delivery,
            "auto_release_days": 14,
            "auto_release_date": dt.date(2026, 5, 1),
            "url": url,
        },
        facts=[
            "Logo sketches",
            "Brand identity for a bakery",
            "Three directions, light and dark versions.",
            "https://files.example/logo-v1.pdf",
            "14",
        ],
        words={"en": "approved automatically", "fr": "automatiquement"},
        link=SITE + url,
        by_language={"en": ["1 May 2026"], "fr": ["1er mai 2026"]},
    )


def delivery_submitted_without_note(w):
    case = delivery_submitted(w)
    w.delivery.note = ""
    w.delivery.url = ""
    case.facts = ["Logo sketches", "Brand identity for a bakery", "14"]
    return case


def changes_requested(w):
    url = f"/contracts/{w.contract.pk}/"
    return Case(
        user=w.student,
        context={
            "milestone": w.milestone,
            "project": w.project,
            "note": "Please try a warmer palette.",
            "url": url,
        },
        facts=["Logo sketches", "Brand identity for a bakery", "Please try a warmer palette."],
        words={"en": "changes", "fr": "modifications"},
        link=SITE + url,
    )


def changes_requested_without_note(w):
    case = changes_requested(w)
    case.context["note"] = ""
    case.facts = ["Logo sketches", "Brand identity for a bakery"]
    return case


def money_released(w):
    url = f"/contracts/{w.contract.pk}/"
    return Case(
        user=w.student,
        context={
            "milestone": w.milestone,
            "project": w.project,
            "amount": money(81_000),
            "automatic": False,
            "waiting_for_payouts": False,
            "url": url,
        },
        facts=["Logo sketches", "Brand identity for a bakery", "810.00 EUR"],
        words={"en": "released", "fr": "versé"},
        link=SITE + url,
    )


def money_released_automatically_waiting_for_payouts(w):
    case = money_released(w)
    case.context.update(automatic=True, waiting_for_payouts=True)
    case.words = {"en": "connect your payouts", "fr": "connectez"}
    case.by_language = {
        "en": ["automatically", "payout account"],
        "fr": ["automatiquement", "compte de versement"],
    }
    return case


def dispute_opened(w):
    url = f"/contracts/{w.contract.pk}/"
    return Case(
        user=w.student,
        context={
            "milestone": w.milestone,
            "project": w.project,
            "opened_by_name": "Hugo Lemaire",
            "reason": "The files were never delivered.",
            "url": url,
        },
        facts=[
            "Logo sketches",
            "Brand identity for a bakery",
            "Hugo Lemaire",
            "The files were never delivered.",
        ],
        words={"en": "frozen", "fr": "litige"},
        link=SITE + url,
    )


def dispute_resolved(w):
    url = f"/contracts/{w.contract.pk}/"
    return Case(
        user=w.member,
        context={
            "milestone": w.milestone,
            "project": w.project,
            "released": money(40_500),
            "refunded": money(47_250),
            "note": "Half of the sketches were delivered.",
            "url": url,
        },
        facts=[
            "Logo sketches",
            "Brand identity for a bakery",
            "405.00 EUR",
            "472.50 EUR",
            "Half of the sketches were delivered.",
        ],
        words={"en": "refunded", "fr": "remboursé"},
        link=SITE + url,
    )


def contract_cancelled(w):
    url = f"/api/v1/contracts/{w.contract.pk}/"
    return Case(
        user=w.student,
        context={
            "contract": w.contract,
            "project": w.project,
            "reason": "Our budget was cut for this quarter.",
            "refunded": money(94_500),
            "url": url,
        },
        facts=[
            "Brand identity for a bakery",
            "Boulangerie Lemaire",
            f"{w.contract.pk}",
            "Our budget was cut for this quarter.",
            "945.00 EUR",
        ],
        words={"en": "cancelled", "fr": "annulé"},
        link=SITE + url,
    )


def transfer_failed(w):
    admin_url = "/admin/payments/escrow/7/change/"
    return Case(
        user=w.staff,
        context={
            "escrow_reference": "esc_2026_0007",
            "error": "InvalidRequestError: account acct_123 cannot receive transfers",
            "attempts": 5,
            "admin_url": admin_url,
        },
        facts=[
            "esc_2026_0007",
            "InvalidRequestError: account acct_123 cannot receive transfers",
            "5",
        ],
        words={"en": "failed", "fr": "tentatives"},
        link=SITE + admin_url,
    )


def transfer_failed_with_an_absolute_admin_url(w):
    case = transfer_failed(w)
    case.context["admin_url"] = case.link
    return case


def reconciliation_report(w):
    return Case(
        user=w.staff,
        context={
            "day": dt.date(2026, 3, 2),
            "checked": 120,
            "differences": [
                {
                    "reference": "esc_2026_0001",
                    "kind": "charge",
                    "ledger": money(105_000),
                    "gateway": None,
                    "detail": "no charge at the gateway",
                },
                {
                    "reference": "esc_2026_0002",
                    "kind": "refund",
                    "ledger": money(1_000),
                    "gateway": money(2_000),
                    "detail": "",
                },
            ],
        },
        facts=[
            "120",
            "esc_2026_0001",
            "1,050.00 EUR",
            "no charge at the gateway",
            "esc_2026_0002",
            "10.00 EUR",
            "20.00 EUR",
        ],
        words={"en": "2 differences", "fr": "2 écarts"},
        link="",
        by_language={"en": ["2 March 2026"], "fr": ["2 mars 2026"]},
    )


def reconciliation_report_all_matched(w):
    case = reconciliation_report(w)
    case.context["differences"] = []
    case.facts = ["120"]
    case.words = {"en": "Everything matched", "fr": "Tout concorde"}
    return case


def _review(w, **fields):
    return Review(
        contract=w.contract,
        role=fields.pop("role", Review.Role.COMPANY_TO_STUDENT),
        author=fields.pop("author", w.member),
        rating=4,
        quality=5,
        communication=3,
        deadlines=4,
        **fields,
    )


def review_waiting(w):
    url = f"/api/v1/contracts/{w.contract.pk}/reviews/"
    return Case(
        user=w.student,
        context={
            "project": w.project,
            "closes_on": dt.date(2026, 6, 1),
            "reviewer_is_company": True,
            "url": url,
        },
        facts=["Brand identity for a bakery"],
        words={"en": "double-blind", "fr": "double aveugle"},
        link=SITE + url,
        by_language={"en": ["1 June 2026", "The company"], "fr": ["1er juin 2026", "L’entreprise"]},
    )


def review_received(w):
    url = f"/api/v1/contracts/{w.contract.pk}/reviews/"
    review = _review(w, comment="Clear sketches, always on time.")
    return Case(
        user=w.student,
        context={"project": w.project, "review": review, "reviewer_is_company": True, "url": url},
        facts=[
            "Brand identity for a bakery",
            "4/5",
            "5/5",
            "3/5",
            "Clear sketches, always on time.",
        ],
        words={"en": "reviewed", "fr": "avis"},
        link=SITE + url,
    )


def review_received_from_a_student_without_comment(w):
    case = review_received(w)
    case.user = w.member
    case.context["review"] = _review(
        w, role=Review.Role.STUDENT_TO_COMPANY, author=w.student, comment=""
    )
    case.context["reviewer_is_company"] = False
    case.facts = ["Brand identity for a bakery", "4/5"]
    case.by_language = {"en": ["The student"], "fr": ["L’étudiant"]}
    return case


def review_reply(w):
    url = f"/api/v1/contracts/{w.contract.pk}/reviews/"
    reply = ReviewReply(review=_review(w), author=w.student, body="Thank you, it was a pleasure.")
    return Case(
        user=w.member,
        context={"project": w.project, "reply": reply, "url": url},
        facts=["Brand identity for a bakery", "Élodie Martin", "Thank you, it was a pleasure."],
        words={"en": "answered", "fr": "répondu"},
        link=SITE + url,
    )


def _message(w, author, body):
    return Message(thread=Thread(project=w.project, student=w.student), author=author, body=body)


def message_received(w):
    url = f"/api/v1/contracts/{w.contract.pk}/messages/"
    return Case(
        user=w.member,
        context={
            "project": w.project,
            "message": _message(w, w.student, "The sketches are in the shared folder."),
            "author_name": "Élodie Martin",
            "attachments": 2,
            "url": url,
        },
        facts=["Brand identity for a bakery", "Élodie Martin", "shared folder", "2"],
        words={"en": "wrote to you", "fr": "vous a écrit"},
        link=SITE + url,
        by_language={"en": ["2 attached files"], "fr": ["2 fichiers joints"]},
    )


def question_received(w):
    url = f"/api/v1/projects/{w.project.pk}/questions/"
    return Case(
        user=w.member,
        context={
            "project": w.project,
            "message": _message(w, w.student, "Do you already have a colour palette?"),
            "author_name": "Élodie",
            "attachments": 0,
            "url": url,
        },
        facts=["Brand identity for a bakery", "Élodie", "colour palette"],
        words={"en": "has a question", "fr": "pose une question"},
        link=SITE + url,
    )


def question_answered(w):
    url = f"/api/v1/projects/{w.project.pk}/questions/"
    return Case(
        user=w.student,
        context={
            "project": w.project,
            "message": _message(w, w.member, "Yes: warm browns and cream."),
            "author_name": "Hugo",
            "attachments": 1,
            "url": url,
        },
        facts=["Brand identity for a bakery", "Hugo", "warm browns and cream"],
        words={"en": "answered you", "fr": "vous a répondu"},
        link=SITE + url,
        by_language={"en": ["1 attached file)"], "fr": ["1 fichier joint)"]},
    )


# Stripe events (payments.notifications, projects.contracts.notifications).


def payment_failed(w):
    url = f"/api/v1/contracts/{w.contract.pk}/"
    return Case(
        user=w.member,
        context={
            "milestone": w.milestone,
            "project": w.project,
            "amount": money(94_500),
            "decline_code": "insufficient_funds",
            "url": url,
        },
        facts=["Logo sketches", "Brand identity for a bakery", "945.00 EUR", "insufficient_funds"],
        words={"en": "was declined", "fr": "a été refusé"},
        link=SITE + url,
    )


def payout_failed(w):
    url = "https://connect.stripe.com/express_login"
    return Case(
        user=w.student,
        context={"amount": money(81_000), "failure_code": "account_closed", "url": url},
        facts=["810.00 EUR", "account_closed"],
        words={"en": "bank details", "fr": "coordonnées bancaires"},
        link=url,
    )


def payout_failed_staff(w):
    admin_url = "/admin/payments/payoutaccount/3/change/"
    return Case(
        user=w.staff,
        context={
            "student_email": "elodie@example.com",
            "account_id": "acct_1Elodie",
            "payout_id": "po_1Bank",
            "amount": money(81_000),
            "failure_code": "account_closed",
            "admin_url": admin_url,
        },
        facts=["acct_1Elodie", "po_1Bank", "810.00 EUR", "account_closed"],
        words={"en": "refused payout", "fr": "a refusé le versement"},
        link=SITE + admin_url,
    )


def _chargeback_context(**fields):
    return {
        "escrow_reference": "contract:4:milestone:1",
        "dispute_id": "dp_1Fraud",
        "amount": money(94_500),
        "reason": "fraudulent",
        "funds_held": True,
        "admin_url": "/admin/payments/chargeback/2/change/",
        **fields,
    }


def chargeback_opened(w):
    return Case(
        user=w.staff,
        context=_chargeback_context(),
        facts=["contract:4:milestone:1", "dp_1Fraud", "945.00 EUR", "fraudulent"],
        words={"en": "frozen until the bank decides", "fr": "gelé jusqu’à la décision"},
        link=SITE + "/admin/payments/chargeback/2/change/",
    )


def chargeback_opened_after_payout(w):
    case = chargeback_opened(w)
    case.context["funds_held"] = False
    case.words = {"en": "the platform bears the loss", "fr": "la perte est pour la plateforme"}
    return case


def chargeback_closed(w):
    return Case(
        user=w.staff,
        context=_chargeback_context(won=True, escrow_status="funded"),
        facts=["contract:4:milestone:1", "dp_1Fraud", "945.00 EUR", "funded"],
        words={"en": "it was won", "fr": "il est gagné"},
        link=SITE + "/admin/payments/chargeback/2/change/",
    )


def chargeback_closed_lost_held(w):
    case = chargeback_closed(w)
    case.context.update(won=False, escrow_status="refunded")
    case.facts = ["contract:4:milestone:1", "refunded"]
    case.words = {"en": "went back to the company", "fr": "retourné à l’entreprise"}
    return case


def chargeback_closed_lost_after_payout(w):
    case = chargeback_closed(w)
    case.context.update(won=False, funds_held=False, escrow_status="released")
    case.facts = ["contract:4:milestone:1", "platform:chargebacks"]
    case.words = {"en": "the platform bears the loss", "fr": "la perte est pour la plateforme"}
    return case


def transfer_reversed(w):
    admin_url = "/admin/payments/escrow/7/change/"
    return Case(
        user=w.staff,
        context={
            "escrow_reference": "contract:4:milestone:1",
            "transfer_id": "tr_1Back",
            "amount": money(30_000),
            "admin_url": admin_url,
        },
        facts=["contract:4:milestone:1", "tr_1Back", "300.00 EUR", "platform:reversals"],
        words={"en": "was reversed", "fr": "ont été repris"},
        link=SITE + admin_url,
    )


def refunded_outside(w):
    admin_url = "/admin/payments/escrow/7/change/"
    return Case(
        user=w.staff,
        context={
            "escrow_reference": "contract:4:milestone:1",
            "amount": money(94_500),
            "refund_id": "re_1Dashboard",
            "admin_url": admin_url,
        },
        facts=["contract:4:milestone:1", "945.00 EUR", "re_1Dashboard"],
        words={"en": "outside the platform", "fr": "hors de la plateforme"},
        link=SITE + admin_url,
    )


def stripe_event_failed(w):
    admin_url = "/admin/payments/stripeevent/12/change/"
    return Case(
        user=w.staff,
        context={
            "event_id": "evt_1Mismatch",
            "event_type": "payment_intent.succeeded",
            "error": "pi_1 charged 99 EUR, but escrow contract:4:milestone:1 is for 94500 EUR",
            "attempts": 2,
            "admin_url": admin_url,
        },
        facts=["evt_1Mismatch", "payment_intent.succeeded", "charged 99 EUR", "2"],
        words={"en": "could not be processed", "fr": "n’a pas pu être traité"},
        link=SITE + admin_url,
    )


STRIPE_EVENT_CASES = {
    "payment_failed": payment_failed,
    "payout_failed": payout_failed,
    "payout_failed_staff": payout_failed_staff,
    "chargeback_opened": chargeback_opened,
    "chargeback_opened:paid-out": chargeback_opened_after_payout,
    "chargeback_closed": chargeback_closed,
    "chargeback_closed:lost-held": chargeback_closed_lost_held,
    "chargeback_closed:lost-paid-out": chargeback_closed_lost_after_payout,
    "transfer_reversed": transfer_reversed,
    "refunded_outside": refunded_outside,
    "stripe_event_failed": stripe_event_failed,
}


CASES = {
    "verification_link": verification_link,
    "verification_decision": verification_verified,
    "verification_decision:rejected": verification_rejected,
    "verification_decision:revoked": verification_revoked,
    "coordinator_invitation": coordinator_invitation,
    "password_reset": password_reset,
    "verification_expiring": verification_expiring,
    "verification_expired": verification_expired,
    "bid_submitted": bid_submitted,
    "bid_accepted": bid_accepted,
    "bid_rejected": bid_rejected,
    "milestone_funded": milestone_funded,
    "milestone_funded:no-due-date": milestone_funded_without_due_date,
    "delivery_submitted": delivery_submitted,
    "delivery_submitted:no-note": delivery_submitted_without_note,
    "changes_requested": changes_requested,
    "changes_requested:no-note": changes_requested_without_note,
    "money_released": money_released,
    "money_released:automatic-waiting": money_released_automatically_waiting_for_payouts,
    "dispute_opened": dispute_opened,
    "dispute_resolved": dispute_resolved,
    "contract_cancelled": contract_cancelled,
    "transfer_failed": transfer_failed,
    "transfer_failed:absolute-admin-url": transfer_failed_with_an_absolute_admin_url,
    "reconciliation_report": reconciliation_report,
    "reconciliation_report:all-matched": reconciliation_report_all_matched,
    "review_waiting": review_waiting,
    "review_received": review_received,
    "review_received:student-no-comment": review_received_from_a_student_without_comment,
    "review_reply": review_reply,
    "message_received": message_received,
    "question_received": question_received,
    "question_answered": question_answered,
    **STRIPE_EVENT_CASES,
}


def test_every_message_folder_has_both_languages_and_a_case():
    folders = sorted(p.name for p in EMAILS.iterdir() if p.is_dir())
    assert len(folders) == 32
    assert folders == sorted({name.split(":")[0] for name in CASES})
    for folder in folders:
        for lang in LANGUAGES:
            for part in ("subject.txt", "body.txt"):
                source = (EMAILS / folder / lang / part).read_text(encoding="utf-8")
                assert not re.search(r"</?[a-zA-Z]", source), f"{folder}/{lang}/{part}"
                assert source.strip(), f"{folder}/{lang}/{part}"


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("name", list(CASES))
def test_message_renders_every_fact_in_each_language(world, name, lang):
    template = name.split(":")[0]
    case = CASES[name](world)
    context = {"user": case.user, **case.context}

    subject, text, html = message_render(template=template, language=lang, context=context)

    raw_subject = render_to_string(
        f"emails/{template}/{lang}/subject.txt", {"site_url": SITE, **context}, using="text"
    )
    assert "\n" not in raw_subject.strip()
    assert subject == subject.strip() and subject
    for part in (subject, text, html):
        assert "INVALID<" not in part
    assert text.startswith(f"{GREETING[lang]} {case.user.first_name},\n")
    assert text.endswith(SIGN_OFF)
    for fact in case.facts:
        assert fact in text, fact
    for fact in case.by_language.get(lang, []):
        assert fact in f"{subject}\n{text}", fact
    other = "en" if lang == "fr" else "fr"
    assert case.words[lang] in subject + text
    assert case.words[other] not in subject + text
    if lang == "fr":
        assert " :" not in text
        assert "\u00a0:" in raw_subject + text
    if case.link:
        assert case.link in text
        assert f'<a href="{case.link}"' in html
    assert f'<html lang="{lang}">' in html
    assert f"<title>{escape(subject)}</title>" in html
    for line in text.splitlines():
        if line and "://" not in line and "@" not in line:
            assert escape(line) in html, line


def test_a_missing_variable_shows_the_marker(world):
    case = bid_submitted(world)
    del case.context["amount"]

    _, text, _ = message_render(
        template="bid_submitted", language="en", context={"user": case.user, **case.context}
    )

    assert "INVALID<amount>" in text


def test_the_greeting_falls_back_to_the_email(world):
    world.student.first_name = ""
    case = bid_rejected(world)

    _, text, _ = message_render(
        template="bid_rejected", language="fr", context={"user": case.user, **case.context}
    )

    assert text.startswith("Bonjour elodie@example.com,\n")


@pytest.mark.parametrize("language", ["de", "", None, "en-us"])
def test_an_unknown_language_falls_back_to_english(world, language):
    case = bid_rejected(world)

    subject, text, html = message_render(
        template="bid_rejected", language=language, context={"user": case.user, **case.context}
    )

    assert subject == "Your bid on “Brand identity for a bakery” was not selected"
    assert text.startswith("Hello Élodie,")
    assert '<html lang="en">' in html


def test_a_french_user_gets_french(world, django_capture_on_commit_callbacks):
    world.student.language = "fr"
    world.student.save()
    case = bid_accepted(world)

    with django_capture_on_commit_callbacks(execute=True):
        notification = notify(
            user=world.student,
            template="bid_accepted",
            key=f"bid-accepted:{world.bid.pk}",
            context=case.context,
            url=case.context["url"],
        )

    assert "\u00a0" in notification.title or "\u202f" in notification.title
    spaced = notification.title.replace("\u00a0", " ").replace("\u202f", " ")
    assert spaced == "Votre offre sur « Brand identity for a bakery » a été acceptée"
    email = OutboundEmail.objects.get(key=f"bid-accepted:{world.bid.pk}")
    assert email.language == "fr"
    assert email.to == "elodie@example.com"
    assert email.body_text.startswith("Bonjour Élodie,")
    [message] = mail.outbox
    assert message.subject == notification.title
    assert "Bonne nouvelle" in message.body
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    assert '<html lang="fr">' in html


def test_special_characters_in_a_title_are_raw_in_text_and_escaped_in_html(world):
    world.project.title = "R&D <beta> launch & “quotes”"
    case = bid_submitted(world)

    subject, text, html = message_render(
        template="bid_submitted", language="en", context={"user": case.user, **case.context}
    )

    assert "R&D <beta> launch & “quotes”" in subject
    assert "R&D <beta> launch & “quotes”" in text
    assert "R&amp;D &lt;beta&gt; launch &amp; “quotes”" in html
    assert "<beta>" not in html
    assert "R&D" not in html


def test_notify_twice_with_one_key_stores_one_notification_and_one_email(
    world, django_capture_on_commit_callbacks
):
    case = bid_submitted(world)
    key = f"bid-submitted:{world.bid.pk}:user:{world.member.pk}"

    with django_capture_on_commit_callbacks(execute=True):
        first = notify(
            user=world.member, template="bid_submitted", key=key, context=case.context, url="/x/"
        )
        second = notify(
            user=world.member, template="bid_submitted", key=key, context=case.context, url="/x/"
        )

    assert first.pk == second.pk
    assert Notification.objects.filter(key=key).count() == 1
    assert OutboundEmail.objects.filter(key=key).count() == 1
    assert len(mail.outbox) == 1
