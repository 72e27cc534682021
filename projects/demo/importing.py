"""Import real freelance job postings as open briefs, through the projects services.

The CSV (`title, pay_type, hourly_min_usd, hourly_max_usd, fixed_budget_usd,
level, skills, skills_hidden_count`) has no company, description or deadline,
so:

- each brief is posted by a company the import owns: the one named with
  `company_name`, or one of `IMPORT_COMPANIES` picked from a CRC-32 of the title
  (stable, so a rerun picks the same company); the company and its owner are
  created with `user_register` when missing;
- the budget is integer USD cents parsed with `Decimal`: a fixed price as
  given; an hourly posting gets `HOURLY_BRIEF_HOURS` hours at the top of its
  range (a working week, the usual first engagement on hourly marketplaces).
  Hourly rows without a range are skipped: any number would be invented;
- the description is written from the row's fields and says where it came from;
- skills are created when missing with `skill_get_or_create`;
- the category is guessed from the skills and title (`CATEGORY_KEYWORDS`);
- a title the company already posted is not posted again, so a rerun (or a
  title repeated in the file) creates nothing twice.

Each brief goes through `project_create` then `project_publish`, so it is a
real open brief with the same checks as one typed in the web UI.
"""

from __future__ import annotations

import secrets
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

from django.db import transaction
from django.utils.text import slugify

from marketplace.errors import DomainError, ValidationFailed
from marketplace.importing import (
    ImportFileError,
    ImportReport,
    ProgressCallback,
    read_csv,
)
from marketplace.models import Company, CompanyMembership, User
from marketplace.money import Money
from marketplace.services import skill_get_or_create, skill_slug, user_register
from projects.briefs.models import Project
from projects.briefs.services import project_create, project_publish

CURRENCY = "USD"
HOURLY_BRIEF_HOURS = 40
TITLE_MAX = Project._meta.get_field("title").max_length or 200
ROWS_PER_TRANSACTION = 250
REQUIRED_COLUMNS = {"title", "pay_type", "hourly_min_usd", "hourly_max_usd", "fixed_budget_usd"}
IMPORT_COMPANIES = (
    "Northwind Digital",
    "Blue Harbor Studio",
    "Quartz Analytics",
    "Papillon Retail",
    "Helios Mobility",
    "Atelier Lumen",
)
# First match wins, tested on the lower-cased skills then the title.
CATEGORY_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        Project.Category.MOBILE,
        ("mobile", "android", "ios", "iphone", "flutter", "react native", "swift", "kotlin"),
    ),
    (
        Project.Category.DATA,
        (
            "data",
            "machine learning",
            "artificial intelligence",
            "python",
            "chatbot",
            "llm",
            "openai",
            "scraping",
            "sql",
            "analytics",
        ),
    ),
    (
        Project.Category.DESIGN,
        ("design", "figma", "photoshop", "illustrator", "ui/ux", "logo", "mockup", "video"),
    ),
    (
        Project.Category.MARKETING,
        ("marketing", "seo", "social media", "advertising", "content", "copywriting"),
    ),
    (
        Project.Category.WEB,
        (
            "web",
            "wordpress",
            "shopify",
            "javascript",
            "html",
            "css",
            "php",
            "react",
            "node",
            "website",
            "landing page",
            "woocommerce",
            "api",
        ),
    ),
)


class RowRejected(ValueError):
    """A CSV row that cannot become a brief; `reason` is short and countable."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class BriefRow:
    """One valid posting: a title, a budget in USD cents and the text to describe it."""

    title: str
    budget_cents: int
    pay_note: str
    level: str
    skills: tuple[str, ...]
    hidden_skills: int


def usd_to_cents(text: str) -> int:
    """`"194.65"` → 19465, `"1,000,000.00"` → 100000000, rounded half up to the cent.

    Decimal arithmetic only. Raises ValueError for an empty, non-numeric or
    non-positive amount.
    """
    cleaned = text.strip().replace(",", "").removeprefix("$")
    try:
        amount = Decimal(cleaned)
    except InvalidOperation as exc:
        raise ValueError(f"{text!r} is not an amount") from exc
    if not amount.is_finite() or amount <= 0:
        raise ValueError(f"{text!r} is not a positive amount")
    return int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def brief_row_parse(*, row: Mapping[str, str]) -> BriefRow:
    """Validate one CSV row.

    Raises RowRejected with the reason: `no title`, `unknown pay type`,
    `hourly without a range` or `bad budget`.
    """
    title = " ".join((row.get("title") or "").split())[:TITLE_MAX]
    if not title:
        raise RowRejected("no title")
    pay_type = (row.get("pay_type") or "").strip().lower()
    if pay_type == "fixed":
        try:
            budget_cents = usd_to_cents(row.get("fixed_budget_usd") or "")
        except ValueError as exc:
            raise RowRejected("bad budget") from exc
        pay_note = f"Fixed price: {Money(budget_cents, CURRENCY).format()}."
    elif pay_type == "hourly":
        low, high = row.get("hourly_min_usd") or "", row.get("hourly_max_usd") or ""
        if not low and not high:
            raise RowRejected("hourly without a range")
        try:
            top = usd_to_cents(high or low)
            bottom = usd_to_cents(low or high)
        except ValueError as exc:
            raise RowRejected("bad budget") from exc
        budget_cents = top * HOURLY_BRIEF_HOURS
        pay_note = (
            f"Paid by the hour in the original posting "
            f"({Money(bottom, CURRENCY).format()} to {Money(top, CURRENCY).format()} an hour); "
            f"the budget here is {HOURLY_BRIEF_HOURS} hours at the top rate, "
            f"{Money(budget_cents, CURRENCY).format()}."
        )
    else:
        raise RowRejected("unknown pay type")
    skills = tuple(dict.fromkeys(s.strip() for s in (row.get("skills") or "").split("|")))
    try:
        hidden = max(int(row.get("skills_hidden_count") or 0), 0)
    except ValueError:
        hidden = 0
    return BriefRow(
        title=title,
        budget_cents=budget_cents,
        pay_note=pay_note,
        level=(row.get("level") or "").strip(),
        skills=tuple(s for s in skills if s),
        hidden_skills=hidden,
    )


def brief_description(*, brief: BriefRow) -> str:
    """The brief's text, written from the posting's fields only (the data set has no text)."""
    lines = [brief.title, "", brief.pay_note]
    if brief.level:
        lines.append(f"Experience level asked: {brief.level}.")
    if brief.skills:
        more = f", and {brief.hidden_skills} more not listed" if brief.hidden_skills else ""
        lines.append(f"Skills: {', '.join(brief.skills)}{more}.")
    else:
        lines.append("No skills were listed; say in your bid which ones you would bring.")
    lines += [
        "",
        "Imported from a public freelance job posting: only its title, budget, level and "
        "skills are known, so ask the company for details before you bid.",
    ]
    return "\n".join(lines)


def brief_category(*, brief: BriefRow) -> str:
    """The category whose keywords first appear in the skills, else in the title; else other."""
    for haystack in (" | ".join(brief.skills).lower(), brief.title.lower()):
        for category, words in CATEGORY_KEYWORDS:
            if any(word in haystack for word in words):
                return category
    return Project.Category.OTHER


def import_company_owner(*, name: str) -> User:
    """A member of the company called `name`, creating the company and its owner if missing.

    The owner created here gets an address at `<slug>.example.com` (reserved,
    never delivered) and a random password: nobody signs in as them. Raises
    ImportFileError when the name has no usable slug, the company has no member
    or its owner cannot be registered (another company took the address).
    """
    company = Company.objects.filter(name=name).order_by("pk").first()
    if company is not None:
        membership = (
            CompanyMembership.objects.select_related("user")
            .filter(company=company)
            .order_by("-role", "pk")  # "owner" sorts after "member"
            .first()
        )
        if membership is None:
            raise ImportFileError(f"The company {name!r} has no member to post as.")
        return membership.user
    slug = slugify(name)
    if not slug:
        raise ImportFileError(f"{name!r} cannot name a company.")
    try:
        return user_register(
            email=f"briefs@{slug}.example.com",
            password=secrets.token_urlsafe(24),
            role=User.Role.COMPANY,
            first_name="Briefs",
            last_name=name[:150],
            company_name=name,
        )
    except ValidationFailed as exc:
        # e.g. "ACME" after "Acme": same slug, so the owner's address is taken.
        raise ImportFileError(f"Cannot create the company {name!r}: {exc.message}") from exc


def _company_for(title: str, company_name: str | None) -> str:
    if company_name:
        return company_name
    return IMPORT_COMPANIES[zlib.crc32(title.encode()) % len(IMPORT_COMPANIES)]


def briefs_import_rows(
    *,
    rows: Iterable[Mapping[str, str]],
    company_name: str | None = None,
    limit: int | None = None,
    progress: ProgressCallback | None = None,
) -> ImportReport:
    """Post each valid row as an open USD brief; see the module docstring for the rules.

    `limit` reads only the first N rows. Counts: `created` briefs, `unchanged`
    rows whose title the company already posted, `skipped` rows refused (reason
    each). Commits every ROWS_PER_TRANSACTION rows. Raises ImportFileError for
    a company that cannot be used.
    """
    report = ImportReport()
    todo = list(rows)[:limit] if limit is not None else list(rows)
    owners: dict[str, User] = {}
    posted: dict[str, set[str]] = {}
    known_skills: set[str] = set()
    for start in range(0, len(todo), ROWS_PER_TRANSACTION):
        with transaction.atomic():
            for row in todo[start : start + ROWS_PER_TRANSACTION]:
                _import_one(row, company_name, report, owners, posted, known_skills)
        if progress:
            progress("briefs", min(start + ROWS_PER_TRANSACTION, len(todo)), len(todo))
    return report


def _import_one(
    row: Mapping[str, str],
    company_name: str | None,
    report: ImportReport,
    owners: dict[str, User],
    posted: dict[str, set[str]],
    known_skills: set[str],
) -> None:
    try:
        brief = brief_row_parse(row=row)
    except RowRejected as exc:
        report.skip(exc.reason)
        return
    name = _company_for(brief.title, company_name)
    if name not in owners:
        owner = import_company_owner(name=name)
        owners[name] = owner
        company_id = CompanyMembership.objects.get(user=owner).company_id
        posted[name] = set(
            Project.objects.filter(company_id=company_id).values_list("title", flat=True)
        )
    if brief.title in posted[name]:
        report.unchanged += 1
        return
    slugs: list[str] = []
    for skill_name in brief.skills:
        slug = skill_slug(skill_name)
        if not slug:
            continue
        if slug not in known_skills:
            skill_get_or_create(name=skill_name)
            known_skills.add(slug)
        slugs.append(slug)
    owner = owners[name]
    try:
        project = project_create(
            by=owner,
            title=brief.title,
            description=brief_description(brief=brief),
            budget_cents=brief.budget_cents,
            currency=CURRENCY,
            category=brief_category(brief=brief),
            skills=slugs,
        )
        project_publish(project_id=project.pk, by=owner)
    except DomainError as exc:
        report.skip(f"refused: {exc.message}")
        return
    posted[name].add(brief.title)
    report.created += 1


def briefs_import(
    *,
    path: Path,
    company_name: str | None = None,
    limit: int | None = None,
    progress: ProgressCallback | None = None,
) -> ImportReport:
    """Import freelance_jobs.csv; see `briefs_import_rows`.

    Raises ImportFileError for an unreadable file or one missing a needed column.
    """
    header, rows = read_csv(path=path)
    missing = sorted(REQUIRED_COLUMNS - set(header))
    if missing:
        raise ImportFileError(f"{path} lacks the column(s) {', '.join(missing)}.")
    return briefs_import_rows(rows=rows, company_name=company_name, limit=limit, progress=progress)
