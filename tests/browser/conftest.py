"""Browser tests: headless Chromium (Debian's package) driven by Playwright against a live server.

Playwright cannot download browsers here, so it launches /usr/bin/chromium. Without it
the tests are skipped with that reason, unless REQUIRE_BROWSER=1 (CI), where they fail.
Screenshots go to artifacts/screenshots/ (kept out of git), each page at a desktop
width and at a 390 px phone width.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from django_otp.oath import totp
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
BLOCKING_IMPACTS = {"serious", "critical"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.path).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="package")
def browser(django_db_setup: None) -> Iterator[Browser]:  # noqa: ARG001 (database first)
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is not installed (apt-get install chromium)"
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    # Playwright's sync API keeps an event loop set in this thread while it runs, and
    # Django then refuses ORM calls here (SynchronousOnlyOperation). The tests seed and
    # read the database between browser steps with plain synchronous calls, never
    # concurrently, so allow them for these tests only; package scope ends both the
    # loop and the permission before the rest of the suite.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if previous is None:
            del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(live_server, browser: Browser) -> Iterator[Page]:  # type: ignore[no-untyped-def]
    context = browser.new_context(base_url=live_server.url, viewport=DESKTOP, locale="en-GB")
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()


def axe_check(page: Page) -> None:
    """Fail when axe-core finds a serious or critical accessibility violation on the page."""
    results = Axe().run(page)
    blocking = [v for v in results.response["violations"] if v["impact"] in BLOCKING_IMPACTS]
    details = "\n".join(
        f"{v['impact']}: {v['id']} ({v['help']}) at "
        + ", ".join(str(node["target"]) for node in v["nodes"][:5])
        for v in blocking
    )
    assert not blocking, f"accessibility violations on {page.url}:\n{details}"


def screenshot(page: Page, name: str) -> None:
    """Save the whole page as artifacts/screenshots/<name>.png and <name>-phone.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^a-z0-9-]+", "-", name.lower())
    page.screenshot(path=str(SCREENSHOTS / f"{safe}.png"), full_page=True)
    size = page.viewport_size or DESKTOP
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(SCREENSHOTS / f"{safe}-phone.png"), full_page=True)
    page.set_viewport_size(size)


def visit(page: Page, name: str) -> None:
    """Check the page with axe-core, then save its screenshots as `name`."""
    axe_check(page)
    screenshot(page, name)


def fill_sign_up(
    page: Page,
    *,
    role: str,
    first_name: str,
    last_name: str,
    email: str,
    password: str,
    company_name: str | None = None,
) -> None:
    """Fill the open sign-up form; `role` is the label of the radio button to check."""
    page.get_by_label(role).check()
    page.get_by_label("First name").fill(first_name)
    page.get_by_label("Last name").fill(last_name)
    if company_name is not None:
        page.get_by_label("Company name").fill(company_name)
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password", exact=True).fill(password)


def set_up_two_factor(page: Page) -> list[str]:
    """On the security page a signed-in user was sent to: add the account to an
    authenticator "app" by typing the key shown (as a person would without a camera),
    confirm with its code, and leave the recovery codes page. Returns the codes."""
    page.get_by_role("button", name="Set up two-factor sign-in").click()
    key = page.locator("code.secret").inner_text()
    screenshot(page, "two-factor-setup")
    page.get_by_label("Code").fill(f"{totp(base64.b32decode(key)):06d}")
    page.get_by_role("button", name="Turn two-factor sign-in on").click()
    codes = page.locator(".recovery-codes code").all_inner_texts()
    screenshot(page, "two-factor-recovery-codes")
    page.get_by_role("link", name="Continue").click()
    return codes
