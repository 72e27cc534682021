from __future__ import annotations

from playwright.sync_api import Page, expect

from marketplace.models import Company, User
from tests.browser.conftest import axe_check, fill_sign_up, visit


def test_a_company_signs_up_then_reads_the_site_in_french(page: Page):
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Hire vetted students from partner schools"
    )
    visit(page, "landing")

    page.get_by_role("link", name="Sign up").first.click()
    fill_sign_up(
        page,
        role="A company looking for students",
        first_name="Claire",
        last_name="Martin",
        company_name="Atelier Lumière",
        email="Claire@Atelier.example",
        password="a-long-passphrase-42",
    )
    visit(page, "signup")
    page.get_by_role("button", name="Sign up").click()

    expect(page.get_by_role("status")).to_have_text("Welcome! Your account is ready.")
    expect(page.get_by_role("button", name="Sign out (Claire Martin)")).to_be_visible()
    user = User.objects.get(email="claire@atelier.example")
    assert user.role == User.Role.COMPANY
    assert Company.objects.get(memberships__user=user).name == "Atelier Lumière"

    page.get_by_label("Language").select_option("fr")
    page.get_by_role("button", name="Change language").click()
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(page.get_by_role("button", name="Se déconnecter (Claire Martin)")).to_be_visible()
    axe_check(page)

    page.get_by_role("button", name="Se déconnecter (Claire Martin)").click()
    expect(page.get_by_role("status")).to_have_text("Vous êtes déconnecté.")
    page.get_by_role("link", name="Se connecter").first.click()
    page.get_by_label("E-mail").fill("CLAIRE@atelier.example")
    page.get_by_label("Mot de passe").fill("a-long-passphrase-42")
    visit(page, "signin-fr")
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("status")).to_have_text("Vous êtes connecté.")
