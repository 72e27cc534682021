"""Security headers of every kind of page, and HTML that the Content-Security-Policy allows.

The policy (settings.base CONTENT_SECURITY_POLICY) allows no inline script, style
element or attribute without the response's nonce, so each page is parsed: a
`<script>` without `src` or a `<style>` must carry the header's nonce, and no element
may have a `style` attribute, an `on*` event handler or an htmx `hx-on` handler (htmx
runs without eval).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from html.parser import HTMLParser

import pytest
from django.test import Client
from django.urls import reverse

from marketplace.models import User
from tests.factories import CompanyMemberFactory, CoordinatorFactory, VerifiedStudentFactory
from tests.factories.contracts import active_contract, completed_contract

pytestmark = pytest.mark.django_db

NONCE = re.compile(r"'nonce-([A-Za-z0-9+/=]+)'")


@pytest.fixture(autouse=True)
def _password_only(settings):
    # Pages behind the second factor are walked here; marketplace.two_factor tests it.
    settings.TWO_FACTOR_REQUIRED = False


class _Inline(HTMLParser):
    """Collects what the policy would block or must check."""

    def __init__(self) -> None:
        super().__init__()
        self.inline_nonces: list[str | None] = []  # one per inline <script> or <style>
        self.offending: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if (tag == "script" and "src" not in named) or tag == "style":
            self.inline_nonces.append(named.get("nonce"))
        for name, value in attrs:
            if name == "style" or name.startswith(("on", "hx-on")):
                self.offending.append(f"<{tag} {name}={value!r}>")
            if name in ("href", "src", "action") and (value or "").startswith("javascript:"):
                self.offending.append(f"<{tag} {name}={value!r}>")


def _directives(header: str) -> dict[str, list[str]]:
    parts = (part.split() for part in header.split(";") if part.strip())
    return {words[0]: words[1:] for words in parts}


def _assert_compliant(client: Client, url: str, **headers: str) -> str:
    """Fetches `url`, checks its security headers and inline code; returns the nonce."""
    # Followed: the admin's log-in hands over to the site's sign-in (two factors).
    res = client.get(url, follow=True, **headers)
    assert res.status_code == 200, (url, res.status_code)
    policy = _directives(res["Content-Security-Policy"])
    nonce = NONCE.search(" ".join(policy["script-src"])).group(1)
    for directive in ("script-src", "style-src", "default-src"):
        assert "'unsafe-inline'" not in policy.get(directive, []), (url, directive)
        assert "'unsafe-eval'" not in policy.get(directive, []), (url, directive)
    assert f"'nonce-{nonce}'" in policy["style-src"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert res["X-Frame-Options"] == "DENY"
    assert res["Referrer-Policy"] == "same-origin"
    assert res["Cross-Origin-Opener-Policy"] == "same-origin"
    assert res["X-Content-Type-Options"] == "nosniff"
    assert "camera=()" in res["Permissions-Policy"]
    assert "microphone=()" in res["Permissions-Policy"]
    assert "geolocation=()" in res["Permissions-Policy"]
    if res["Content-Type"].startswith("text/html"):
        parsed = _Inline()
        parsed.feed(res.content.decode())
        assert parsed.offending == [], url
        assert all(found == nonce for found in parsed.inline_nonces), (url, parsed.inline_nonces)
    return nonce


def _pages_anonymous(client: Client) -> list[str]:
    return [reverse("frontend:landing"), reverse("frontend:signin"), reverse("frontend:signup")]


def _pages_company(client: Client) -> list[str]:
    owner = CompanyMemberFactory()
    client.force_login(owner)
    contract = active_contract(owner=owner, amounts=(10_000, 5_000), funded=False)
    brief = contract.project
    milestone = contract.milestones.order_by("position").first()
    completed_contract(owner=owner)
    return [
        reverse("frontend:company-dashboard"),
        reverse("frontend:company-brief-new"),
        reverse("frontend:company-brief", args=[brief.pk]),
        reverse("frontend:company-contracts"),
        reverse("frontend:company-contract", args=[contract.pk]),
        reverse("frontend:company-money", args=[contract.pk]),
        reverse("frontend:company-fund", args=[milestone.pk]),
        reverse("frontend:company-spending"),
        reverse("frontend:company-reputation"),
        reverse("frontend:security"),
    ]


def _pages_student(client: Client) -> list[str]:
    contract = completed_contract()
    client.force_login(contract.student)
    return [
        reverse("frontend:student-dashboard"),
        reverse("frontend:student-profile"),
        reverse("frontend:student-briefs"),
        reverse("frontend:student-contract", args=[contract.pk]),
        reverse("frontend:student-payouts"),
        reverse("frontend:student-earnings"),
    ]


def _pages_coordinator(client: Client) -> list[str]:
    coordinator = CoordinatorFactory()
    VerifiedStudentFactory()
    client.force_login(coordinator.user)
    return [
        reverse("frontend:coordinator-dashboard"),
        reverse("frontend:coordinator-queue"),
        reverse("frontend:coordinator-students"),
        reverse("frontend:coordinator-audit"),
    ]


def _pages_staff(client: Client) -> list[str]:
    client.force_login(User.objects.create_superuser(email="root@example.com", password="pw-1"))
    return [
        reverse("admin:index"),
        reverse("admin:payments_reconciliationrun_changelist"),
        reverse("admin:payments_ledgerentry_balances"),
        reverse("admin:marketplace_user_changelist"),
    ]


def _pages_public_tools(client: Client) -> list[str]:
    return [reverse("admin:login"), reverse("api-docs"), reverse("api-docs") + "?script="]


@pytest.mark.parametrize(
    "pages",
    [
        _pages_anonymous,
        _pages_company,
        _pages_student,
        _pages_coordinator,
        _pages_staff,
        _pages_public_tools,
    ],
    ids=["anonymous", "company", "student", "coordinator", "staff", "admin-login-and-api-docs"],
)
def test_every_page_sends_the_policy_and_has_no_unnonced_inline_code(
    client: Client, pages: Callable[[Client], list[str]]
):
    for url in pages(client):
        _assert_compliant(client, url)


def test_htmx_partials_have_no_inline_handlers(client):
    client.force_login(CompanyMemberFactory())
    # The skills picker's suggestions once moved with hx-on (eval); now frontend/site.js.
    _assert_compliant(client, reverse("frontend:skill-search") + "?q=py", HTTP_HX_REQUEST="true")


def test_every_response_has_a_fresh_nonce(client):
    url = reverse("frontend:landing")
    nonces = {_assert_compliant(client, url) for _ in range(3)}
    assert len(nonces) == 3
    admin = {_assert_compliant(client, reverse("admin:login")) for _ in range(2)}
    assert len(admin) == 2


def test_htmx_runs_without_eval_or_injected_styles(client):
    page = client.get(reverse("frontend:landing")).content.decode()
    config = re.search(r'<meta name="htmx-config" content=\'([^\']*)\'>', page)
    assert config is not None
    assert '"includeIndicatorStyles": false' in config.group(1)
    assert '"allowEval": false' in config.group(1)


def test_stripe_hosts_are_allowed_where_stripe_js_needs_them(client):
    policy = _directives(client.get(reverse("frontend:landing"))["Content-Security-Policy"])
    assert "https://js.stripe.com" in policy["script-src"]
    assert {"https://js.stripe.com", "https://hooks.stripe.com"} <= set(policy["frame-src"])
    assert "https://api.stripe.com" in policy["connect-src"]
    # The student's payout onboarding form redirects to Stripe Connect.
    assert "https://connect.stripe.com" in policy["form-action"]


def test_the_api_docs_script_is_a_file_not_inline(client):
    page = client.get(reverse("api-docs")).content.decode()
    assert '<script src="/api/docs/?script=' in page
    script = client.get(reverse("api-docs") + "?script=")
    assert script["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle" in script.content
