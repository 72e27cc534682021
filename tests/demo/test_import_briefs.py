from __future__ import annotations

import csv
from collections import Counter
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from marketplace.models import Company, Skill
from projects.briefs.models import Project
from projects.demo.importing import (
    HOURLY_BRIEF_HOURS,
    IMPORT_COMPANIES,
    briefs_import,
    briefs_import_rows,
    usd_to_cents,
)

pytestmark = pytest.mark.django_db

HEADER = [
    "title",
    "pay_type",
    "hourly_min_usd",
    "hourly_max_usd",
    "fixed_budget_usd",
    "level",
    "skills",
    "skills_hidden_count",
]


def _row(title, pay_type="fixed", low="", high="", fixed="", level="Expert", skills="", hidden="0"):  # type: ignore[no-untyped-def]
    return [title, pay_type, low, high, fixed, level, skills, hidden]


def _write(tmp_path: Path, rows, name: str = "jobs.csv") -> Path:  # type: ignore[no-untyped-def]
    path = tmp_path / name
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def _run(path: Path, *args: str) -> str:
    out = StringIO()
    call_command("import_briefs", str(path), *args, stdout=out)
    return out.getvalue()


@pytest.mark.parametrize(
    "text,cents",
    [
        ("194.65", 19465),
        ("5.00", 500),
        ("1000000.00", 100_000_000),
        ("1,000,000.00", 100_000_000),
        ("42.86", 4286),
        ("0.105", 11),
        (" 12 ", 1200),
    ],
)
def test_usd_amounts_become_integer_cents(text, cents):
    assert usd_to_cents(text) == cents
    assert isinstance(usd_to_cents(text), int)


@pytest.mark.parametrize("text", ["", "abc", "0.00", "-5.00", "NaN", "Infinity"])
def test_bad_amounts_are_refused(text):
    with pytest.raises(ValueError):
        usd_to_cents(text)


def test_fixed_briefs_are_posted_open_with_decimal_budgets_and_new_skills(tmp_path):
    path = _write(
        tmp_path,
        [
            _row(
                "Shopify theme fixes 🚀",
                fixed="194.65",
                level="Intermediate",
                skills="Shopify|Liquid|CSS",
                hidden="2",
            ),
            _row("Big platform rebuild", fixed="1000000.00", skills="Python"),
        ],
    )
    Skill.objects.create(name="Python", slug="python", category="Programming")

    report = briefs_import(path=path, company_name="Acme Digital")

    assert (report.created, report.skipped) == (2, 0)
    shop = Project.objects.get(title="Shopify theme fixes 🚀")
    assert (shop.budget_cents, shop.currency) == (19465, "USD")
    assert shop.status == Project.Status.OPEN
    assert shop.published_at is not None
    assert shop.company.name == "Acme Digital"
    assert shop.created_by.company_membership.company == shop.company
    assert sorted(shop.skills.values_list("slug", flat=True)) == ["css", "liquid", "shopify"]
    assert "Fixed price: 194.65 USD." in shop.description
    assert "Intermediate" in shop.description
    assert "Shopify, Liquid, CSS, and 2 more not listed" in shop.description
    assert shop.category == Project.Category.WEB
    big = Project.objects.get(title="Big platform rebuild")
    assert big.budget_cents == 100_000_000
    assert Skill.objects.get(slug="python").category == "Programming"
    assert Skill.objects.filter(slug="liquid").exists()


def test_hourly_briefs_are_budgeted_at_the_top_rate_and_rows_without_range_skipped(tmp_path):
    path = _write(
        tmp_path,
        [
            _row("Node.js lead", pay_type="hourly", low="25.00", high="35.00", skills="Node.js"),
            _row("Only a minimum", pay_type="hourly", low="12.50", skills="PHP"),
            _row("No range at all", pay_type="hourly", skills="Flutter"),
            _row("No range either", pay_type="hourly"),
        ],
    )

    report = briefs_import(path=path, company_name="Acme Digital")

    assert (report.created, report.skipped) == (2, 2)
    assert report.skipped_reasons == {"hourly without a range": 2}
    lead = Project.objects.get(title="Node.js lead")
    assert lead.budget_cents == 3500 * HOURLY_BRIEF_HOURS == 140_000
    assert "25.00 USD to 35.00 USD an hour" in lead.description
    assert Project.objects.get(title="Only a minimum").budget_cents == 1250 * HOURLY_BRIEF_HOURS
    assert not Project.objects.filter(title__startswith="No range").exists()
    assert not Skill.objects.filter(slug="flutter").exists()


def test_rows_without_skills_or_title_and_bad_budgets(tmp_path):
    path = _write(
        tmp_path,
        [
            _row("Landing page, no skills listed", fixed="300.00"),
            _row("   ", fixed="300.00"),
            _row("Free work", fixed="0.00"),
            _row("Odd pay", pay_type="barter", fixed="10.00"),
        ],
    )

    report = briefs_import(path=path, company_name="Acme Digital")

    assert report.created == 1
    assert report.skipped_reasons == {"no title": 1, "bad budget": 1, "unknown pay type": 1}
    brief = Project.objects.get()
    assert brief.skills.count() == 0
    assert "No skills were listed" in brief.description


def test_a_rerun_and_repeated_titles_do_not_duplicate(tmp_path):
    rows = [
        _row("WordPress fixes", fixed="100.00", skills="WordPress"),
        _row("WordPress fixes", fixed="120.00", skills="WordPress"),
        _row("Logo design", fixed="80.00", skills="Logo Design"),
    ]
    path = _write(tmp_path, rows)

    first = briefs_import(path=path)
    assert (first.created, first.unchanged) == (2, 1)
    assert Project.objects.get(title="WordPress fixes").budget_cents == 10_000

    second = briefs_import(path=path)
    assert (second.created, second.unchanged) == (0, 3)
    assert Project.objects.count() == 2
    assert set(Company.objects.values_list("name", flat=True)) <= set(IMPORT_COMPANIES)


def test_companies_are_created_once_and_reused(tmp_path):
    rows = [_row(f"Brief {i}", fixed="50.00", skills="SEO") for i in range(30)]

    briefs_import_rows(rows=[dict(zip(HEADER, r, strict=True)) for r in rows])
    briefs_import_rows(rows=[dict(zip(HEADER, r, strict=True)) for r in rows])

    names = list(Company.objects.values_list("name", flat=True))
    assert len(names) == len(set(names)) > 1
    assert Project.objects.count() == 30
    for company in Company.objects.all():
        assert company.memberships.count() == 1


def test_command_limit_and_company_options(tmp_path):
    path = _write(tmp_path, [_row(f"Brief {i}", fixed="50.00") for i in range(5)])

    output = _run(path, "--limit", "3", "--company", "Vélo Rapide")

    assert "Briefs: created 3, updated 0, unchanged 0, skipped 0" in output
    assert set(Project.objects.values_list("company__name", flat=True)) == {"Vélo Rapide"}
    assert "created 2, updated 0, unchanged 3" in _run(path, "--company", "Vélo Rapide")


def test_command_refuses_a_file_without_the_columns(tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("skill\nPython\n", encoding="utf-8")

    with pytest.raises(CommandError, match="fixed_budget_usd"):
        _run(path)
    with pytest.raises(CommandError, match="Cannot read"):
        _run(tmp_path / "missing.csv")


@pytest.mark.realdata
def test_real_file_rows_become_briefs_with_exact_cents(shared_data):
    path = shared_data / "briefs" / "freelance_jobs.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))[:400]
    no_range = sum(
        1
        for r in rows
        if r["pay_type"] == "hourly" and not r["hourly_max_usd"] and not r["hourly_min_usd"]
    )

    report = briefs_import(path=path, limit=400)

    assert report.skipped == no_range == report.skipped_reasons["hourly without a range"]
    assert report.created + report.unchanged + report.skipped == 400
    assert report.created == Project.objects.filter(status=Project.Status.OPEN).count()
    titles = Counter(" ".join(r["title"].split()) for r in rows)
    checked = 0
    for row in rows:
        title = " ".join(row["title"].split())
        if row["pay_type"] == "fixed" and titles[title] == 1:
            whole, cents = row["fixed_budget_usd"].split(".")
            assert Project.objects.get(title=title).budget_cents == int(whole) * 100 + int(cents)
            checked += 1
    assert checked > 100

    assert briefs_import(path=path, limit=400).created == 0


def test_a_company_name_clashing_with_another_company_is_refused_cleanly(tmp_path):
    path = _write(tmp_path, [_row("Brief", fixed="50.00")])
    _run(path, "--company", "Acme")

    with pytest.raises(CommandError, match="Cannot create the company 'ACME'"):
        _run(path, "--company", "ACME")
    assert Company.objects.count() == 1
