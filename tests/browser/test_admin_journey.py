from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from marketplace.errors import TransientError
from marketplace.models import User
from payments.gateways.dummy import DummyGateway
from payments.models import Escrow, ReconciliationRun
from payments.services.ledger import student_account
from payments.services.payouts import payout_account_onboard
from projects.contracts.disputes import milestone_dispute
from projects.contracts.models import Dispute, Milestone
from projects.contracts.services import milestone_approve
from tests.browser.conftest import screenshot, set_up_two_factor
from tests.factories.contracts import active_contract
from tests.factories.milestones import submitted_milestone

PASSWORD = "Admin-Lantern-2031"
# Django's own admin markup is not ours to fix: its findings are printed, not failed on.
AXE_FINDINGS: list[str] = []


def _visit(page: Page, name: str) -> None:
    violations = Axe().run(page).response["violations"]
    AXE_FINDINGS.extend(
        f"{name}: {v['impact']} {v['id']} at {[n['target'] for n in v['nodes']]}"
        for v in violations
        if v["impact"] in {"serious", "critical"}
    )
    screenshot(page, name)


def _disputed() -> Dispute:
    """A funded milestone under an open dispute, the student ready to be paid."""
    contract = active_contract(amounts=(10_000,))
    payout_account_onboard(user=contract.student)
    milestone = contract.milestones.get()
    return milestone_dispute(
        milestone_id=milestone.pk, by=contract.project.created_by, reason="Not what we asked"
    )


def _transfer_failed(monkeypatch: pytest.MonkeyPatch) -> Milestone:
    """An approved milestone whose transfer failed at the gateway: its escrow waits."""

    def down(self, **kwargs):  # type: ignore[no-untyped-def]
        raise TransientError("Stripe is down")

    milestone = submitted_milestone()
    with monkeypatch.context() as patch:
        patch.setattr(DummyGateway, "create_transfer", down)
        milestone_approve(milestone_id=milestone.pk, by=milestone.contract.project.created_by)
    milestone.escrow.refresh_from_db()
    assert milestone.escrow.status == Escrow.Status.RELEASE_PENDING
    return milestone


def test_staff_resolve_a_dispute_retry_a_transfer_and_reconcile(page: Page, monkeypatch):
    User.objects.create_superuser(email="root@campus.example", password=PASSWORD)
    dispute = _disputed()
    escrow = dispute.milestone.escrow
    waiting = _transfer_failed(monkeypatch)

    # The admin's sign-in is the site's; staff set up their second factor first.
    page.goto("/admin/")
    page.get_by_label("E-mail").fill("root@campus.example")
    page.get_by_label("Password").fill(PASSWORD)
    _visit(page, "admin-login")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Security")).to_be_visible()
    _visit(page, "admin-two-factor-required")
    assert len(set_up_two_factor(page)) == 10
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()
    _visit(page, "admin-index")

    # The open dispute, settled with a split on its "Resolve…" page.
    page.goto("/admin/contracts/dispute/?status__exact=open")
    _visit(page, "admin-disputes")
    page.get_by_role("link", name="Resolve…").click()
    expect(page.get_by_text("Not what we asked")).to_be_visible()
    release, refund = 6_000, escrow.charge_cents - 6_000
    page.get_by_label("Release to the student").fill(f"{release / 100:.2f}")
    page.get_by_label("Refund to the company").fill(f"{refund / 100 - 1:.2f}")
    page.get_by_label("Decision, as both parties will read it").fill("Half the work was done.")
    page.get_by_role("button", name="Settle the dispute").click()
    expect(page.get_by_text(re.compile("must add up to"))).to_be_visible()
    _visit(page, "admin-dispute-resolve")
    page.get_by_label("Refund to the company").fill(f"{refund / 100:.2f}")
    page.get_by_role("button", name="Settle the dispute").click()
    expect(page.get_by_text(f"Dispute {dispute.pk} resolved.")).to_be_visible()
    _visit(page, "admin-dispute-resolved")
    dispute.refresh_from_db()
    assert (dispute.status, dispute.release_cents, dispute.refund_cents) == (
        Dispute.Status.RESOLVED,
        release,
        refund,
    )

    # The ledger shows the money that moved: the student's share and the company's refund.
    student = dispute.milestone.contract.student
    page.goto(f"/admin/payments/ledgerentry/?q={student_account(student.pk)}")
    expect(page.get_by_role("cell", name="54.00 EUR")).to_be_visible()  # 60.00 less 10 %
    company = f"company:{dispute.milestone.contract.company_id}"
    page.goto(f"/admin/payments/ledgerentry/?q={company}")
    expect(page.get_by_role("cell", name=f"{refund / 100:.2f} EUR")).to_be_visible()
    _visit(page, "admin-ledger-entries")

    # The failed transfer, retried with the admin action.
    page.goto("/admin/payments/escrow/?status__exact=release_pending")
    row = page.get_by_role("row", name=re.compile(waiting.escrow.reference))
    expect(row).to_be_visible()
    _visit(page, "admin-escrows-waiting")
    row.get_by_role("checkbox").check()
    page.get_by_label("Action:").select_option("retry_transfer")
    page.get_by_role("button", name="Go").click()
    expect(page.get_by_text("1 transfer(s) sent.")).to_be_visible()
    _visit(page, "admin-escrows-retried")
    waiting.escrow.refresh_from_db()
    assert waiting.escrow.status == Escrow.Status.RELEASED

    # Reconciliation, run now from its list.
    page.goto("/admin/payments/reconciliationrun/")
    _visit(page, "admin-reconciliation-list")
    page.get_by_role("button", name="Run reconciliation now").click()
    expect(page.get_by_text(re.compile(r"\d+ escrows checked, no differences\."))).to_be_visible()
    _visit(page, "admin-reconciliation-run")
    run = ReconciliationRun.objects.get()
    assert (run.ok, run.checked) == (True, 2)  # the settled escrow and the retried one

    print("\n".join(["axe findings on Django admin pages:", *AXE_FINDINGS]))
