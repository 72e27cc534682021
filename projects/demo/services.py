"""A small, hand-written demo data set, loaded through the services.

Five real French schools with their real e-mail domains, twenty skills, three
companies, six students (four verified through the real request → confirm →
coordinator approval flow, one waiting for the coordinator, one who has not
confirmed the address yet), a coordinator per school, a staff superuser and
eight briefs with bids, one contract in progress with a funded milestone, one
completed and paid contract, and a reverse-mentoring brief. Every account
shares `DEMO_PASSWORD`.

Nothing is read from files. The load is one transaction and is skipped when
the demo's admin account exists, so running it twice changes nothing.
Addresses outside the schools' domains use `example.com` names, which never
receive mail.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from marketplace.models import User
from marketplace.services import skill_get_or_create, student_profile_update, user_register
from projects.briefs.models import Bid, Project
from projects.briefs.services import bid_shortlist, bid_submit, project_create, project_publish
from projects.contracts.services import (
    MilestoneSpec,
    bid_accept,
    milestone_approve,
    milestone_fund,
    milestone_submit,
    student_payouts_onboard,
)
from schools.importing import schools_import_records
from schools.models import School
from schools.services import (
    coordinator_create,
    verification_approve,
    verification_confirm_email,
    verification_request,
    verification_token_make,
)

DEMO_PASSWORD = "Escrow-Sunflower-42"
ADMIN_EMAIL = "admin@campus-demo.example.com"

# As in the public university-domains-list, so `import_schools` finds the same
# rows; ESSEC also gets essec.edu, the domain of its students' addresses.
SCHOOLS = {
    "hec": {
        "name": "École des Hautes Études Commerciales (HEC Business School)",
        "domains": ["hec.fr", "hec.edu"],
        "web_pages": ["http://www.hec.fr/", "http://www.hec.edu/"],
    },
    "essec": {
        "name": "Ecole Supérieure des Sciences Economiques et Commerciales",
        "domains": ["essec.fr", "essec.edu"],
        "web_pages": ["http://www.essec.fr/"],
    },
    "polytechnique": {
        "name": "École Polytechnique",
        "domains": ["polytechnique.fr", "polytechnique.edu"],
        "web_pages": ["http://www.polytechnique.fr/", "https://www.polytechnique.edu/"],
    },
    "sciencespo": {
        "name": "Institut d'Etudes Politiques de Paris (Sciences Po)",
        "domains": ["sciences-po.fr", "sciencespo.fr"],
        "web_pages": ["http://www.sciences-po.fr/"],
    },
    "epita": {
        "name": "Ecole Pour l'Informatique et les Techniques Avancees",
        "domains": ["epita.fr"],
        "web_pages": ["http://www.epita.fr/"],
    },
}

SKILLS = (
    ("Python", "Programming"),
    ("Django", "Programming"),
    ("JavaScript", "Programming"),
    ("React", "Programming"),
    ("Flutter", "Mobile"),
    ("WordPress", "Web"),
    ("Figma", "Design"),
    ("UX Design", "Design"),
    ("Canva", "Design"),
    ("Social Media Marketing", "Marketing"),
    ("SEO", "Marketing"),
    ("Copywriting", "Marketing"),
    ("LinkedIn", "Marketing"),
    ("Data Analysis", "Data"),
    ("Machine Learning", "Data"),
    ("Chatbots", "Data"),
    ("Excel", "Business"),
    ("Business Plan", "Business"),
    ("Financial Modelling", "Business"),
    ("Market Research", "Business"),
    ("Public Speaking", "Business"),
)

COMPANIES = {
    "lumen": ("Maison Lumen", "claire@maisonlumen.example.com", "Claire", "Dubois"),
    "arcadie": ("Banque Arcadie", "philippe@banque-arcadie.example.com", "Philippe", "Garnier"),
    "velo": ("Vélo Rapide", "sofia@velorapide.example.com", "Sofia", "Benali"),
}

# key: (first, last, school, program, skills, headline, day rate in EUR cents, verification)
STUDENTS = {
    "lea": (
        "Léa",
        "Martin",
        "hec",
        "Master in Management",
        ["business-plan", "financial-modelling", "market-research", "excel"],
        "Business plans and financial models for early-stage start-ups",
        35_000,
        "verified",
    ),
    "hugo": (
        "Hugo",
        "Bernard",
        "polytechnique",
        "MSc Data Science",
        ["python", "machine-learning", "data-analysis", "django"],
        "Data science: from messy exports to models you can trust",
        45_000,
        "verified",
    ),
    "ines": (
        "Inès",
        "Diallo",
        "sciencespo",
        "Master in Communication",
        ["social-media-marketing", "copywriting", "linkedin", "public-speaking", "canva"],
        "Social media strategy and reverse mentoring for leaders",
        30_000,
        "verified",
    ),
    "jules": (
        "Jules",
        "Moreau",
        "epita",
        "Engineering cycle, software",
        ["javascript", "react", "python", "django", "flutter", "wordpress"],
        "Full-stack web and mobile developer",
        40_000,
        "verified",
    ),
    "camille": (
        "Camille",
        "Nguyen",
        "essec",
        "BBA",
        ["figma", "ux-design", "canva", "seo"],
        "UX and brand design",
        28_000,
        "pending_review",
    ),
    "yanis": (
        "Yanis",
        "Petit",
        "epita",
        "Bachelor in Computer Science",
        ["javascript", "react", "figma"],
        "Front-end developer",
        25_000,
        "pending_email",
    ),
}

# key: (company, title, category, kind, budget in EUR cents, days to deadline, skills, text)
BRIEFS: dict[str, tuple[str, str, str, str, int, int, list[str], str]] = {
    "instagram": (
        "lumen",
        "Instagram and TikTok launch plan for our vegan skincare line",
        Project.Category.MARKETING,
        Project.Kind.PROJECT,
        240_000,
        30,
        ["social-media-marketing", "copywriting", "canva"],
        "Maison Lumen launches five vegan skincare products in the spring. We need a "
        "six-week launch plan for Instagram and TikTok: audience and tone, a content "
        "calendar, twelve post and reel scripts, a short list of micro-influencers and "
        "the three numbers we should follow each week.\n\nYou will work with our "
        "marketing manager, who will share the products, the photos and last year's "
        "figures.",
    ),
    "eshop": (
        "lumen",
        "Faster, clearer product pages for our e-shop",
        Project.Category.WEB,
        Project.Kind.PROJECT,
        350_000,
        45,
        ["javascript", "ux-design", "wordpress"],
        "Our WordPress shop takes five seconds to show a product page on a phone and "
        "customers leave. We want an audit with mock-ups first, then the implementation: "
        "lighter images, a cleaner page layout and a quicker add-to-cart.\n\nTwo "
        "milestones: audit and mock-ups, then the changes live on the shop.",
    ),
    "mentoring": (
        "arcadie",
        "Reverse mentoring: social networks and AI assistants for our executive committee",
        Project.Category.MENTORING,
        Project.Kind.MENTORING,
        180_000,
        60,
        ["linkedin", "social-media-marketing", "chatbots", "public-speaking"],
        "Six one-hour sessions, one every two weeks, with our deputy CEO. Topics: using "
        "LinkedIn as a leader, what young customers expect from a bank on Instagram and "
        "TikTok, and trying AI assistants on everyday work. In return our executive shares "
        "thirty years of career experience in banking and answers your questions.\n\n"
        "Both of you rate each session and note what you learned.",
    ),
    "churn": (
        "arcadie",
        "Customer churn analysis on anonymised account data",
        Project.Category.DATA,
        Project.Kind.PROJECT,
        400_000,
        40,
        ["python", "data-analysis", "machine-learning"],
        "We will give you two years of anonymised account activity (about 50,000 "
        "customers). We want to know which signals come before a customer leaves, a simple "
        "model that scores the risk each month, and a ten-slide summary for the retail "
        "committee. Python notebooks, delivered in our shared workspace.",
    ),
    "business_plan": (
        "velo",
        "Business plan and financial model for our Series A",
        Project.Category.BUSINESS,
        Project.Kind.PROJECT,
        300_000,
        35,
        ["business-plan", "financial-modelling", "market-research", "excel"],
        "Vélo Rapide delivers groceries by cargo bike in three French cities. Before our "
        "Series A we need a five-year financial model (unit economics per city, hiring "
        "plan, cash needs) and a written business plan investors can read in twenty "
        "minutes. Our founders will give you every number we have.",
    ),
    "flutter": (
        "velo",
        "Courier app prototype in Flutter",
        Project.Category.MOBILE,
        Project.Kind.PROJECT,
        500_000,
        50,
        ["flutter", "figma", "ux-design"],
        "Our couriers still read their rounds on a printed sheet. We want a clickable "
        "Flutter prototype for Android and iOS: today's round on a map, one tap to mark "
        "a delivery done, a photo when nobody answers. The Figma screens exist; the "
        "prototype can use fake data.",
    ),
    "chatbot": (
        "velo",
        "Customer-support chatbot for delivery questions",
        Project.Category.DATA,
        Project.Kind.PROJECT,
        200_000,
        30,
        ["chatbots", "python"],
        "Half of our support messages ask where a delivery is. Build a small chatbot that "
        "answers from our delivery API and hands over to a person otherwise. Open to "
        "students of École Polytechnique and EPITA, whose courses cover this.",
    ),
    "branding": (
        "lumen",
        "Brand identity refresh: logo, palette and social templates",
        Project.Category.DESIGN,
        Project.Kind.PROJECT,
        150_000,
        60,
        ["figma", "canva", "ux-design"],
        "A draft we are still writing: a lighter logo, a palette that works on packaging "
        "and screens, and ten Canva templates for our posts.",
    ),
}


@dataclass
class DemoReport:
    """Whether the demo was loaded now (`created`) and the log-ins: `(role, e-mail, note)`."""

    created: bool
    password: str = DEMO_PASSWORD
    logins: list[tuple[str, str, str]] = field(default_factory=list)


def _coordinator_email(key: str) -> str:
    return f"coordinator.{key}@campus-demo.example.com"


def _student_email(key: str) -> str:
    return f"{key}@students.example.com"


def demo_logins() -> list[tuple[str, str, str]]:
    """The demo's accounts as `(role, e-mail, what to look at)`; all use DEMO_PASSWORD."""
    logins = [("admin", ADMIN_EMAIL, "staff superuser: /admin/ and the admin API")]
    for name, email, first, _last in COMPANIES.values():
        logins.append(("company", email, f"{first} at {name}"))
    for key, (first, _l, school, _p, _s, _h, _r, state) in STUDENTS.items():
        logins.append(("student", _student_email(key), f"{first}, {school}, loaded as {state}"))
    for key in SCHOOLS:
        logins.append(("coordinator", _coordinator_email(key), f"reviews {key} requests"))
    return logins


def _verify(
    *, student: User, school: School, coordinator: User, key: str, program: str, state: str
) -> None:
    first, last = STUDENTS[key][0], STUDENTS[key][1]
    local = unicodedata.normalize("NFKD", f"{first}.{last}".lower())
    local = local.encode("ascii", "ignore").decode()
    domain = SCHOOLS[STUDENTS[key][2]]["domains"][-1]
    verification = verification_request(
        student=student,
        school=school,
        school_email=f"{local}@{domain}",
        program=program,
        graduation_date=timezone.localdate() + dt.timedelta(days=540),
    )
    if state == "pending_email":
        return
    verification_confirm_email(token=verification_token_make(verification=verification))
    if state == "verified":
        verification_approve(verification_id=verification.pk, by=coordinator)


def _bid(brief: Project, student: User, amount_cents: int, days: int, letter: str) -> Bid:
    return bid_submit(
        project_id=brief.pk,
        by=student,
        amount_cents=amount_cents,
        estimated_days=days,
        cover_letter=letter,
    )


@transaction.atomic
def demo_load() -> DemoReport:
    """Load the demo data set unless its admin account exists; see the module docstring.

    Returns `created=False` without writing anything on a second run. Domain
    errors from the services propagate (they would mean the demo data is wrong).
    """
    if User.objects.filter(email=ADMIN_EMAIL).exists():
        return DemoReport(created=False, logins=demo_logins())

    schools_import_records(
        records=[
            {**school, "country": "France", "alpha_two_code": "FR", "state-province": None}
            for school in SCHOOLS.values()
        ],
        partner=True,
    )
    schools = {
        key: School.objects.get(name=data["name"], country="FR") for key, data in SCHOOLS.items()
    }
    coordinators = {
        key: coordinator_create(
            email=_coordinator_email(key),
            school=school,
            first_name="Coordinator",
            last_name=key.capitalize(),
            password=DEMO_PASSWORD,
        ).user
        for key, school in schools.items()
    }
    for name, category in SKILLS:
        skill_get_or_create(name=name, category=category)

    companies = {
        key: user_register(
            email=email,
            password=DEMO_PASSWORD,
            role=User.Role.COMPANY,
            first_name=first,
            last_name=last,
            company_name=name,
        )
        for key, (name, email, first, last) in COMPANIES.items()
    }

    students: dict[str, User] = {}
    for key, (first, last, school, program, skills, headline, rate, state) in STUDENTS.items():
        user = user_register(
            email=_student_email(key),
            password=DEMO_PASSWORD,
            role=User.Role.STUDENT,
            first_name=first,
            last_name=last,
        )
        student_profile_update(
            user=user,
            skills=skills,
            headline=headline,
            bio=f"{program} student. {headline}.",
            day_rate_cents=rate,
            currency="EUR",
        )
        _verify(
            student=user,
            school=schools[school],
            coordinator=coordinators[school],
            key=key,
            program=program,
            state=state,
        )
        students[key] = user

    briefs: dict[str, Project] = {}
    today = timezone.localdate()
    for key, (company, title, category, kind, budget, days, skills, text) in BRIEFS.items():
        restricted = key == "chatbot"
        brief = project_create(
            by=companies[company],
            title=title,
            description=text,
            budget_cents=budget,
            currency="EUR",
            category=category,
            kind=kind,
            visibility=Project.Visibility.SCHOOLS if restricted else Project.Visibility.ALL,
            deadline=today + dt.timedelta(days=days),
            skills=skills,
            allowed_schools=(
                [schools["polytechnique"].pk, schools["epita"].pk] if restricted else []
            ),
        )
        if key != "branding":
            project_publish(project_id=brief.pk, by=companies[company])
        briefs[key] = brief

    lea, hugo, ines, jules = (students[k] for k in ("lea", "hugo", "ines", "jules"))
    _bid(
        briefs["instagram"],
        ines,
        220_000,
        30,
        "I ran the Instagram account of our student association (12k followers) and wrote "
        "the launch of a cosmetics brand during my internship. Plan and scripts in four weeks.",
    )
    _bid(
        briefs["instagram"],
        lea,
        240_000,
        35,
        "Marketing is my major at HEC; I would start from your figures and three competitors.",
    )
    _bid(
        briefs["mentoring"],
        ines,
        180_000,
        84,
        "I coach my school's alumni on LinkedIn and use AI assistants every day. Six sessions "
        "of one hour with concrete exercises, and I am eager to hear about a career in banking.",
    )
    plan = _bid(
        briefs["business_plan"],
        lea,
        290_000,
        30,
        "I built the financial model of two start-ups in our incubator; one raised a seed round.",
    )
    bid_shortlist(bid_id=plan.pk, by=companies["velo"])
    _bid(
        briefs["flutter"],
        jules,
        450_000,
        40,
        "I published two Flutter apps on both stores; your Figma screens are a great start.",
    )
    _bid(
        briefs["chatbot"],
        hugo,
        190_000,
        20,
        "I built a support bot on a delivery API during a hackathon: retrieval first, "
        "hand-over to a person when unsure.",
    )

    # In progress: two milestones, the first funded and waiting for the delivery.
    _bid(
        briefs["eshop"],
        hugo,
        350_000,
        40,
        "I can profile the pages and fix the slow queries.",
    )
    shop = _bid(
        briefs["eshop"],
        jules,
        320_000,
        35,
        "I sped up two WooCommerce shops by 60 %. Audit and mock-ups in ten days, then the "
        "changes live.",
    )
    contract = bid_accept(
        bid_id=shop.pk,
        by=companies["lumen"],
        milestones=[
            MilestoneSpec("Audit and mock-ups", 120_000, today + dt.timedelta(days=10)),
            MilestoneSpec("Changes live on the shop", 200_000, today + dt.timedelta(days=35)),
        ],
    )
    first = contract.milestones.get(position=1)
    milestone_fund(milestone_id=first.pk, by=companies["lumen"], payment_method="pm_card_visa")

    # Completed: funded, delivered, approved and paid out.
    churn = _bid(
        briefs["churn"],
        hugo,
        380_000,
        30,
        "Churn models were my research project this year; notebooks and slides in a month.",
    )
    student_payouts_onboard(user=hugo)
    done = bid_accept(bid_id=churn.pk, by=companies["arcadie"])
    milestone = done.milestones.get()
    milestone_fund(
        milestone_id=milestone.pk, by=companies["arcadie"], payment_method="pm_card_visa"
    )
    milestone_submit(
        milestone_id=milestone.pk,
        by=hugo,
        note="Notebooks, the monthly risk score and the ten slides are in the shared folder.",
        url="https://example.com/arcadie/churn-study",
    )
    milestone_approve(milestone_id=milestone.pk, by=companies["arcadie"])
    student_payouts_onboard(user=lea)

    User.objects.create_superuser(
        email=ADMIN_EMAIL, password=DEMO_PASSWORD, first_name="Ada", last_name="Admin"
    )
    return DemoReport(created=True, logins=demo_logins())
