"""The Content-Security-Policy in a real browser: pages and their scripts work, and Chromium
reports no violation (no blocked inline script, style, eval or host)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import Client
from playwright.sync_api import Page, expect

from marketplace.models import User
from tests.factories import CompanyMemberFactory, SkillFactory
from tests.factories.contracts import active_contract

LISTEN = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


@pytest.fixture(autouse=True)
def _password_only(settings):
    settings.TWO_FACTOR_REQUIRED = False


@pytest.fixture
def watched(page: Page) -> Iterator[Page]:
    """The page, failing the test on any CSP violation it saw (events and console)."""
    console: list[str] = []
    page.on(
        "console",
        lambda message: (
            console.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.add_init_script(LISTEN)
    yield page
    assert console == []


def _violations(page: Page) -> list[str]:
    return page.evaluate("window.__cspViolations")


def _sign_in(page: Page, live_server, user: User) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    session = client.cookies["sessionid"].value
    page.context.add_cookies([{"name": "sessionid", "value": session, "url": live_server.url}])


def test_public_pages_raise_no_violation(watched: Page):
    for url in ("/", "/signin/", "/signup/"):
        watched.goto(url)
        expect(watched.get_by_role("heading", level=1)).to_be_visible()
        assert _violations(watched) == [], url


def test_the_skills_picker_works_through_htmx_without_eval(watched: Page, live_server):
    SkillFactory(name="Python")
    _sign_in(watched, live_server, CompanyMemberFactory())
    watched.goto("/company/briefs/new/")
    watched.get_by_role("searchbox", name="Search").first.fill("py")
    suggestions = watched.get_by_role("list", name="Suggestions: tick to add")
    suggestions.get_by_label("Python").check()
    chosen = watched.locator(".picker .chosen").first
    expect(chosen.get_by_label("Python")).to_be_checked()
    assert _violations(watched) == []


def test_the_fund_page_raises_no_violation(watched: Page, live_server):
    owner = CompanyMemberFactory()
    contract = active_contract(owner=owner, funded=False)
    _sign_in(watched, live_server, owner)
    watched.goto(f"/company/milestones/{contract.milestones.get().pk}/fund/")
    expect(watched.get_by_role("heading", level=1)).to_have_text("Fund the milestone")
    assert _violations(watched) == []


def test_admin_and_api_docs_work_under_the_policy(watched: Page, live_server):
    watched.goto("/admin/login/")
    expect(watched.get_by_role("heading", level=1)).to_be_visible()
    assert _violations(watched) == []
    staff = User.objects.create_superuser(email="root@example.com", password="pw-123456789")
    _sign_in(watched, live_server, staff)
    watched.goto("/admin/payments/reconciliationrun/")
    expect(watched.get_by_role("button", name="Run reconciliation now")).to_be_visible()
    watched.goto("/admin/payments/ledgerentry/balances/")
    expect(watched.get_by_role("heading", level=1)).to_be_visible()
    assert _violations(watched) == []
    watched.goto("/api/docs/")
    # Swagger UI drew the schema: its bundle and start-up script both ran.
    expect(watched.locator(".swagger-ui .info .title")).to_contain_text("Campus Marketplace API")
    assert _violations(watched) == []


def test_an_inline_style_or_script_is_blocked_and_reported(page: Page):
    page.add_init_script(LISTEN)
    page.goto("/")
    page.evaluate(
        """() => {
        document.body.setAttribute("style", "background: red");
        const script = document.createElement("script");
        script.textContent = "window.__ran = true";
        document.body.append(script);
    }"""
    )
    page.wait_for_function("window.__cspViolations.length >= 2")
    assert page.evaluate("window.__ran") is None
    directives = " ".join(_violations(page))
    assert "style-src" in directives
    assert "script-src" in directives
