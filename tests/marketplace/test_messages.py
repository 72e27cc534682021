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
from projects.models import Bid, Contract, Delivery, Milestone
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


CASES = {
    "verification_link": verification_link,
    "verification_decision": verification_verified,
    "verification_decision:rejected": verification_rejected,
    "verification_decision:revoked": verification_revoked,
    "coordinator_invitation": coordinator_invitation,
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
    "transfer_failed": transfer_failed,
    "transfer_failed:absolute-admin-url": transfer_failed_with_an_absolute_admin_url,
    "reconciliation_report": reconciliation_report,
    "reconciliation_report:all-matched": reconciliation_report_all_matched,
}


def test_every_message_folder_has_both_languages_and_a_case():
    folders = sorted(p.name for p in EMAILS.iterdir() if p.is_dir())
    assert len(folders) == 16
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
