"""Bench data: the real schools, skills and postings, multiplied to the sizes measured.

The four real importers run once (`import_schools`, `import_skills` twice,
`import_briefs`), then:

- students are written with COPY in growing steps. Each has 3–8 skills drawn
  with the weight of how many real postings ask for the skill (a few very
  common, a long tail of rare ones), one enrolment verification at one of 400
  real schools (itself drawn with a Zipf weight, as students crowd into a few
  big schools), a day rate in EUR, and mostly `available`. All accounts share
  one password hash: hashing 100k passwords would take hours and measures
  nothing here;
- briefs are copies of the imported postings with varied titles, budgets,
  companies and dates, bulk-inserted until the target count;
- the bench company posts `BRIEFS_PER_CLASS` briefs per skill popularity class
  through the real services; its matches are the ones measured.

Every random choice comes from one seeded `random.Random`, so a run is repeatable.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from django.contrib.auth.hashers import make_password
from django.core.management import call_command
from django.db import connection, transaction
from django.db.models import Max, Model
from django.utils import timezone

from marketplace.models import Company, CompanyMembership, Skill, StudentProfile, User
from marketplace.services import user_register
from projects.briefs.models import Project
from projects.briefs.services import project_create, project_publish
from projects.demo.importing import IMPORT_COMPANIES
from projects.reviews.services import rankings_refresh
from schools.addresses import school_email_canonical
from schools.models import EnrolmentVerification, School, SchoolDomain

BENCH_EMAIL = "bench@bench.example.com"
BENCH_PASSWORD = "Bench-load-4821-Qv"
SCHOOLS_USED = 400
PARTNER_SCHOOLS = 20
EXTRA_COMPANIES = 40
BRIEFS_PER_CLASS = 4
POPULAR_TOP = 10  # a brief asking for one of the 10 most asked skills is "popular"
RARE_MAX = 3  # a brief all of whose skills appear in at most 3 postings is "rare"
SEARCHES = 80
COPY_BATCH = 10_000

FIRST_NAMES = (
    "Camille",
    "Léa",
    "Manon",
    "Chloé",
    "Inès",
    "Sarah",
    "Emma",
    "Jade",
    "Louise",
    "Alice",
    "Lucas",
    "Hugo",
    "Louis",
    "Nathan",
    "Gabriel",
    "Arthur",
    "Jules",
    "Adam",
    "Raphaël",
    "Paul",
    "Aya",
    "Mia",
    "Noah",
    "Yanis",
    "Omar",
    "Sofia",
    "Mateo",
    "Elena",
    "Yuki",
    "Wei",
)
LAST_NAMES = (
    "Martin",
    "Bernard",
    "Dubois",
    "Thomas",
    "Robert",
    "Richard",
    "Petit",
    "Durand",
    "Leroy",
    "Moreau",
    "Simon",
    "Laurent",
    "Lefebvre",
    "Michel",
    "Garcia",
    "David",
    "Bertrand",
    "Roux",
    "Vincent",
    "Fournier",
    "Nguyen",
    "Haddad",
    "Rossi",
    "Kowalski",
    "Schmidt",
    "Silva",
    "Tanaka",
    "Chen",
    "Diallo",
    "Novak",
)
PROGRAMS = (
    "MSc Computer Science",
    "BSc Software Engineering",
    "MSc Data Science",
    "Master in Management",
    "BA Graphic Design",
    "MSc Digital Marketing",
    "BEng Electrical Engineering",
    "MBA",
)
TITLE_VARIANTS = (
    "{t}",
    "Urgent: {t}",
    "{t} (phase 2)",
    "Follow-up: {t}",
    "{t} for a start-up",
    "{t}, long-term",
    "Small task: {t}",
    "{t} (remote)",
)
STOPWORDS = frozenset(
    (
        "with",
        "from",
        "that",
        "this",
        "your",
        "have",
        "need",
        "needed",
        "looking",
        "want",
        "wanted",
        "into",
        "for",
        "and",
        "the",
        "will",
        "some",
        "more",
        "make",
        "help",
    )
)
AVAILABILITY = (("available", 70), ("busy", 20), ("unavailable", 10))
# Verification states: mostly verified and in force; some expired by date but not yet
# swept by the nightly task, some waiting or refused. Matching must skip all but the first.
VERIFICATION_MIX = (("verified", 88), ("verified-past", 4), ("pending_review", 5), ("rejected", 3))


@dataclass(frozen=True)
class Template:
    """An imported real posting to copy from."""

    title: str
    description: str
    category: str
    budget_cents: int
    currency: str
    skill_ids: tuple[int, ...]


@dataclass(frozen=True)
class BenchBrief:
    """A brief of the bench company; `label` is its skills' popularity, e.g. `rare+schools`."""

    id: int
    label: str


@dataclass
class Catalogue:
    """What the generated rows are drawn from, read once after the real imports."""

    skill_ids: list[int]
    skill_cum_weights: list[int]
    skill_postings: dict[int, int]  # skill id → real postings asking for it
    skill_slugs: dict[int, str]
    schools: list[tuple[int, str]]  # (school id, one of its domains)
    school_cum_weights: list[float]
    templates: list[Template]
    companies: list[tuple[int, int]]  # (company id, a member's user id)
    password_hash: str


def import_real_data(*, data_dir: Path) -> None:
    """Run the project's importers on the shared data sets, as `make realdata` does."""
    call_command(
        "import_schools", str(data_dir / "universities/world_universities_and_domains.json")
    )
    call_command("import_skills", str(data_dir / "skills/onet_technology_skills_unique.csv"))
    call_command("import_skills", str(data_dir / "briefs/skill_tags.csv"))
    call_command("import_briefs", str(data_dir / "briefs/freelance_jobs.csv"))


def _copy(model: type[Model], fields: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """COPY `rows` into the model's table; `fields` are model field names, in row order.

    Every other column gets its field's default: unlike the ORM, COPY would
    leave it NULL, and columns added to the model later would break the seeding.
    """
    given = [model._meta.get_field(f) for f in fields]
    rest = [f for f in model._meta.concrete_fields if f not in given and not f.primary_key]
    defaults = tuple(f.get_default() for f in rest)
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    columns = ", ".join(quote(f.column) for f in (*given, *rest))
    # Names come from the models, never from input: nothing to inject.
    sql = f"COPY {table} ({columns}) FROM STDIN"  # noqa: S608
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row((*row, *defaults))


def _copy_returning_ids(
    model: type[Model], fields: Sequence[str], rows: Sequence[Sequence[object]]
) -> list[int]:
    """COPY `rows` and return their new ids in row order.

    COPY cannot return ids; one COPY draws ids from the sequence row by row, in
    order, and nothing else writes to the bench database meanwhile.
    """
    before = model._default_manager.aggregate(top=Max("pk"))["top"] or 0
    _copy(model, fields, rows)
    ids = list(
        model._default_manager.filter(pk__gt=before).order_by("pk").values_list("pk", flat=True)
    )
    if len(ids) != len(rows):
        raise RuntimeError(f"{model.__name__}: copied {len(rows)} rows, found {len(ids)} new ids")
    return ids


def _company_pool(rng: random.Random, password_hash: str) -> list[tuple[int, int]]:
    """The importer companies plus EXTRA_COMPANIES new ones, each with one owner."""
    now = timezone.now()
    companies = Company.objects.bulk_create(
        Company(name=f"Bench Client {i:02d}", created_at=now) for i in range(EXTRA_COMPANIES)
    )
    owners = User.objects.bulk_create(
        User(
            email=f"owner{i:02d}@client.bench.example.com",
            first_name=rng.choice(FIRST_NAMES),
            last_name=rng.choice(LAST_NAMES),
            role=User.Role.COMPANY,
            password=password_hash,
        )
        for i in range(EXTRA_COMPANIES)
    )
    CompanyMembership.objects.bulk_create(
        CompanyMembership(company=c, user=u, role=CompanyMembership.Role.OWNER)
        for c, u in zip(companies, owners, strict=True)
    )
    return list(
        CompanyMembership.objects.filter(
            company__name__in=[*IMPORT_COMPANIES, *(c.name for c in companies)]
        ).values_list("company_id", "user_id")
    )


def build_catalogue(*, rng: random.Random) -> Catalogue:
    """Read the imported data and prepare companies and partner schools to draw from."""
    imported = Project.objects.filter(company__name__in=IMPORT_COMPANIES).prefetch_related("skills")
    templates = [
        Template(
            title=p.title,
            description=p.description,
            category=p.category,
            budget_cents=p.budget_cents,
            currency=p.currency,
            skill_ids=tuple(s.pk for s in p.skills.all()),
        )
        for p in imported.order_by("pk")
    ]
    postings = Counter(sid for t in templates for sid in t.skill_ids)
    skill_ids = [sid for sid, _ in postings.most_common()]
    cum, total = [], 0
    for sid in skill_ids:
        total += postings[sid]
        cum.append(total)
    # One domain per school; the e-mail only has to look like the school's.
    domains = dict(
        SchoolDomain.objects.order_by("school_id", "domain").values_list("school_id", "domain")
    )
    school_ids = sorted(rng.sample(sorted(domains), SCHOOLS_USED))
    rng.shuffle(school_ids)  # the Zipf rank must not follow the import order
    School.objects.filter(pk__in=school_ids[:PARTNER_SCHOOLS]).update(is_partner=True)
    school_cum, acc = [], 0.0
    for rank in range(1, len(school_ids) + 1):
        acc += 1 / rank
        school_cum.append(acc)
    password_hash = make_password(BENCH_PASSWORD)
    return Catalogue(
        skill_ids=skill_ids,
        skill_cum_weights=cum,
        skill_postings=dict(postings),
        skill_slugs=dict(Skill.objects.filter(pk__in=skill_ids).values_list("pk", "slug")),
        schools=[(sid, domains[sid]) for sid in school_ids],
        school_cum_weights=school_cum,
        templates=templates,
        companies=_company_pool(rng, password_hash),
        password_hash=password_hash,
    )


def _draw_skills(rng: random.Random, cat: Catalogue) -> list[int]:
    wanted = rng.randint(3, 8)
    chosen: dict[int, None] = {}
    while len(chosen) < wanted:
        for sid in rng.choices(cat.skill_ids, cum_weights=cat.skill_cum_weights, k=wanted):
            chosen.setdefault(sid)
    return list(chosen)[:wanted]


def _weighted(rng: random.Random, mix: Sequence[tuple[str, int]]) -> str:
    return rng.choices([k for k, _ in mix], weights=[w for _, w in mix])[0]


@transaction.atomic
def add_students(*, start: int, stop: int, cat: Catalogue, rng: random.Random) -> None:
    """Students number `start` to `stop - 1`, with profile, skills and verification."""
    now, today = timezone.now(), timezone.localdate()
    for low in range(start, stop, COPY_BATCH):
        numbers = range(low, min(low + COPY_BATCH, stop))
        users = [
            (
                f"student{n:06d}@bench.example.com",
                rng.choice(FIRST_NAMES),
                rng.choice(LAST_NAMES),
                User.Role.STUDENT,
                rng.random() > 0.01,  # a few closed accounts
                now - dt.timedelta(days=rng.randint(0, 900)),
                cat.password_hash,
            )
            for n in numbers
        ]
        user_ids = _copy_returning_ids(
            User,
            (
                "email",
                "first_name",
                "last_name",
                "role",
                "is_active",
                "date_joined",
                "password",
            ),
            users,
        )
        skills = [_draw_skills(rng, cat) for _ in numbers]
        profiles = [
            (
                uid,
                f"{rng.choice(PROGRAMS)} student: "
                + ", ".join(cat.skill_slugs[s] for s in picked[:3]),
                "",
                # Day rates around 250 EUR, a few students without one.
                int(rng.lognormvariate(5.5, 0.45) * 100) if rng.random() > 0.1 else None,
                "EUR",
                _weighted(rng, AVAILABILITY),
                now,
            )
            for uid, picked in zip(user_ids, skills, strict=True)
        ]
        fields = ("user", "headline", "bio", "day_rate_cents", "currency", "availability")
        profile_ids = _copy_returning_ids(StudentProfile, (*fields, "updated_at"), profiles)
        _copy(
            StudentProfile.skills.through,
            ("studentprofile", "skill"),
            ((pid, sid) for pid, picked in zip(profile_ids, skills, strict=True) for sid in picked),
        )
        _copy(
            EnrolmentVerification,
            (
                "student",
                "school",
                "school_email",
                "school_email_canonical",
                "program",
                "graduation_date",
                "status",
                "email_confirmed_at",
                "decided_at",
                "reason",
                "created_at",
            ),
            (
                _verification_row(n, uid, cat, rng, now, today)
                for n, uid in zip(numbers, user_ids, strict=True)
            ),
        )


def _verification_row(
    n: int, user_id: int, cat: Catalogue, rng: random.Random, now: dt.datetime, today: dt.date
) -> tuple[object, ...]:
    school_id, domain = rng.choices(cat.schools, cum_weights=cat.school_cum_weights)[0]
    state = _weighted(rng, VERIFICATION_MIX)
    graduation = today + dt.timedelta(days=rng.randint(60, 1400))
    if state == "verified-past":
        state, graduation = "verified", today - dt.timedelta(days=rng.randint(1, 60))
    decided = now - dt.timedelta(days=rng.randint(1, 300)) if state != "pending_review" else None
    reason = "Not on the enrolment list." if state == "rejected" else ""
    return (
        user_id,
        school_id,
        f"s{n:06d}@{domain}",
        school_email_canonical(f"s{n:06d}@{domain}"),
        rng.choice(PROGRAMS),
        graduation,
        state,
        now,
        decided,
        reason,
        now,
    )


@transaction.atomic
def add_briefs(*, total: int, cat: Catalogue, rng: random.Random) -> None:
    """Copies of the real postings until there are `total` briefs."""
    missing = total - Project.objects.count()
    if missing <= 0:
        return
    now = timezone.now()
    picks = [rng.choice(cat.templates) for _ in range(missing)]
    projects = []
    for t in picks:
        company_id, user_id = rng.choice(cat.companies)
        created = now - dt.timedelta(minutes=rng.randint(0, 120 * 24 * 60))
        status = _weighted(rng, (("open", 90), ("draft", 6), ("cancelled", 4)))
        title = rng.choice(TITLE_VARIANTS).format(t=t.title)[:200]
        projects.append(
            Project(
                company_id=company_id,
                created_by_id=user_id,
                title=title,
                description=t.description.replace(t.title, title, 1),
                category=t.category,
                budget_cents=max(500, int(t.budget_cents * rng.uniform(0.5, 2.0))),
                currency=t.currency,
                visibility="schools" if rng.random() < 0.08 else "all",
                status=status,
                created_at=created,
                published_at=created if status == "open" else None,
            )
        )
    Project.objects.bulk_create(projects, batch_size=2000)
    _copy(
        Project.skills.through,
        ("project", "skill"),
        ((p.pk, sid) for p, t in zip(projects, picks, strict=True) for sid in t.skill_ids),
    )
    _copy(
        Project.allowed_schools.through,
        ("project", "school"),
        (
            (p.pk, school_id)
            for p in projects
            if p.visibility == "schools"
            for school_id, _ in rng.sample(cat.schools[:50], rng.randint(1, 3))
        ),
    )


def _popularity(t: Template, cat: Catalogue, popular: set[int]) -> str:
    if popular & set(t.skill_ids):
        return "popular"
    if max(cat.skill_postings[s] for s in t.skill_ids) <= RARE_MAX:
        return "rare"
    return "mid"


def create_bench_company(*, cat: Catalogue, rng: random.Random) -> list[BenchBrief]:
    """The signed-in company of the load, and its open briefs, BRIEFS_PER_CLASS per class.

    The first brief of the popular and of the rare class is restricted to three
    of the most populated schools, to measure that path of matching too.
    """
    owner = user_register(
        email=BENCH_EMAIL,
        password=BENCH_PASSWORD,
        role=User.Role.COMPANY,
        first_name="Bench",
        last_name="Owner",
        company_name="Bench Company",
    )
    popular = set(cat.skill_ids[:POPULAR_TOP])
    by_class: dict[str, list[Template]] = {"popular": [], "mid": [], "rare": []}
    for t in cat.templates:
        if t.skill_ids:
            by_class[_popularity(t, cat, popular)].append(t)
    briefs = []
    for label, templates in by_class.items():
        for i, t in enumerate(rng.sample(templates, BRIEFS_PER_CLASS)):
            restricted = i == 0 and label != "mid"
            project = project_create(
                by=owner,
                title=t.title,
                description=t.description,
                budget_cents=t.budget_cents,
                currency=t.currency,
                category=t.category,
                visibility="schools" if restricted else "all",
                skills=[cat.skill_slugs[s] for s in t.skill_ids],
                allowed_schools=[sid for sid, _ in cat.schools[:3]] if restricted else (),
            )
            project_publish(project_id=project.pk, by=owner)
            briefs.append(BenchBrief(project.pk, f"{label}+schools" if restricted else label))
    return briefs


def search_paths(*, cat: Catalogue, rng: random.Random) -> list[str]:
    """`/api/v1/projects/?search=…&skills=…` built from real postings: a word of the
    title and one or two of its skills, so most searches find something."""
    paths = []
    candidates = [t for t in cat.templates if t.skill_ids]
    while len(paths) < SEARCHES:
        t = rng.choice(candidates)
        words = [w for w in re.findall(r"[a-z]{4,}", t.title.lower()) if w not in STOPWORDS]
        if not words:
            continue
        slugs = [cat.skill_slugs[s] for s in rng.sample(t.skill_ids, min(2, len(t.skill_ids)))]
        query = urlencode({"search": rng.choice(words), "skills": ",".join(slugs)})
        paths.append(f"/api/v1/projects/?{query}")
    return paths


def grow(*, students: int, briefs: int, cat: Catalogue, rng: random.Random) -> None:
    """Seed up to `students` students and `briefs` briefs, ready to be measured."""
    add_students(start=StudentProfile.objects.count(), stop=students, cat=cat, rng=rng)
    add_briefs(total=briefs, cat=cat, rng=rng)
    # COPY and bulk_create bypass the services that keep skill rarity, students' track
    # records and the briefs' full-text column; the app rebuilds them after bulk imports.
    rankings_refresh()
    with connection.cursor() as cursor:
        # Planner statistics for the new rows, as autovacuum would give them eventually,
        # and the dirty pages written now rather than by a checkpoint during the load.
        cursor.execute("VACUUM ANALYZE")
        cursor.execute("CHECKPOINT")
