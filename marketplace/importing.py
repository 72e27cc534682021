"""Bulk import of skills from CSV files, and what every importer shares.

Two CSV shapes are read, told apart by their header:

- O*NET technology skills (`skill,category,hot_technology,in_demand,occupation_count`):
  the category is kept;
- marketplace skill tags (`skill,...` without `category`): names only.

A skill is identified by its slug, `marketplace.services.skill_slug(name)`, so
importing twice, or importing a name that another file spells differently but
slugs the same, creates nothing new.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction

from marketplace.errors import ValidationFailed
from marketplace.models import Skill
from marketplace.services import skill_slug

# (phase, done, total): importers report progress through this; commands draw it.
ProgressCallback = Callable[[str, int, int], None]

SKILL_NAME_MAX = 200
SKILL_CATEGORY_MAX = 200
BATCH_SIZE = 500


class ImportFileError(ValidationFailed):
    """The file cannot be read as the expected format (missing, not UTF-8, wrong header…)."""

    code = "import_file_invalid"


@dataclass
class ImportReport:
    """What an import did, counted per source record.

    `created`, `updated` and `unchanged` count target rows (a school, a skill,
    a brief); `skipped` counts source records that were refused, with a reason
    each in `skipped_reasons`; `merged` counts source records folded into an
    earlier one (same key twice in the file).
    """

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    merged: int = 0
    skipped_reasons: Counter[str] = field(default_factory=Counter)

    def skip(self, reason: str) -> None:
        self.skipped += 1
        self.skipped_reasons[reason] += 1

    def summary(self) -> str:
        """One line such as `created 3, updated 1, unchanged 10, skipped 2 (no domain: 2)`."""
        text = (
            f"created {self.created}, updated {self.updated}, "
            f"unchanged {self.unchanged}, skipped {self.skipped}"
        )
        if self.skipped_reasons:
            reasons = ", ".join(f"{r}: {n}" for r, n in sorted(self.skipped_reasons.items()))
            text += f" ({reasons})"
        if self.merged:
            text += f"; {self.merged} duplicate records merged"
        return text


def read_csv(*, path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """The lower-cased header and the rows of a UTF-8 CSV file (a BOM is tolerated).

    Quoted fields may hold commas and new lines. Raises ImportFileError for a
    missing or unreadable file, a file that is not UTF-8 or one without a header.
    """
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if not header:
                raise ImportFileError(f"{path} is empty; a header row is expected.")
            names = [h.strip().lower() for h in header]
            rows = [dict(zip(names, (v.strip() for v in row), strict=False)) for row in reader]
    except OSError as exc:
        raise ImportFileError(f"Cannot read {path}: {exc.strerror or exc}.") from exc
    except UnicodeDecodeError as exc:
        raise ImportFileError(f"{path} is not UTF-8 text.") from exc
    except csv.Error as exc:
        raise ImportFileError(f"{path} is not valid CSV: {exc}.") from exc
    return names, rows


def skill_file_format(*, header: Iterable[str]) -> str:
    """`onet` for the O*NET file (has `category`), `tags` for a plain `skill` column.

    Raises ImportFileError when there is no `skill` column.
    """
    columns = set(header)
    if "skill" not in columns:
        raise ImportFileError("A skills file needs a `skill` column.")
    return "onet" if "category" in columns else "tags"


@transaction.atomic
def skills_import_rows(
    *, rows: Iterable[Mapping[str, str]], progress: ProgressCallback | None = None
) -> ImportReport:
    """Create missing skills from `{skill, category?}` rows and refresh changed categories.

    Rows whose name has no usable slug are skipped; a later row with a slug
    already seen in the same input is merged into the first (its name and
    category are ignored). An existing skill keeps its name; its category is
    replaced only by a non-empty, different one. One transaction, bulk writes.
    """
    report = ImportReport()
    wanted: dict[str, tuple[str, str]] = {}
    for row in rows:
        name = " ".join((row.get("skill") or "").split())
        slug = skill_slug(name)
        if not slug:
            report.skip("no usable name")
            continue
        if slug in wanted:
            report.merged += 1
            continue
        category = " ".join((row.get("category") or "").split())[:SKILL_CATEGORY_MAX]
        wanted[slug] = (name[:SKILL_NAME_MAX], category)

    existing = {skill.slug: skill for skill in Skill.objects.only("pk", "slug", "category")}
    to_create: list[Skill] = []
    to_update: list[Skill] = []
    for slug, (name, category) in wanted.items():
        skill = existing.get(slug)
        if skill is None:
            to_create.append(Skill(slug=slug, name=name, category=category))
        elif category and skill.category != category:
            skill.category = category
            to_update.append(skill)
        else:
            report.unchanged += 1
    total = len(to_create) + len(to_update)
    done = 0
    for start in range(0, len(to_create), BATCH_SIZE):
        batch = to_create[start : start + BATCH_SIZE]
        Skill.objects.bulk_create(batch)
        done += len(batch)
        if progress:
            progress("skills", done, total)
    for start in range(0, len(to_update), BATCH_SIZE):
        batch = to_update[start : start + BATCH_SIZE]
        Skill.objects.bulk_update(batch, ["category"])
        done += len(batch)
        if progress:
            progress("skills", done, total)
    report.created = len(to_create)
    report.updated = len(to_update)
    return report


def skills_import(*, path: Path, progress: ProgressCallback | None = None) -> ImportReport:
    """Import an O*NET skills CSV or a skill-tags CSV (told apart by the header).

    Raises ImportFileError for an unreadable file or one without a `skill` column.
    """
    header, rows = read_csv(path=path)
    skill_file_format(header=header)
    return skills_import_rows(rows=rows, progress=progress)
