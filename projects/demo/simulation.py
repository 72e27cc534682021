"""Run the whole marketplace on real imported briefs, through the services only.

`marketplace_simulate` takes N open briefs (from `import_briefs`) and M new
students at real imported schools, then plays what users do:

1. each school gets a coordinator (the one it has, or a new one);
2. each student registers, asks to be verified with an address on one of the
   school's real domains, confirms it with the signed token and is approved by
   the coordinator; they fill a profile whose skills come from the briefs;
3. students bid on briefs sharing one of their skills (some briefs get several
   bids, some none; a few bids are withdrawn); a few briefs are cancelled;
4. the company accepts a bid (one milestone, or two), funds each milestone with
   `pm_card_visa` (a few first tries with `pm_card_chargeDeclined`, then a
   retry), the student delivers (sometimes twice, after a change request) and
   the company approves;
5. most students connect payouts at once; the others only at the end, so their
   approved money waits in `release_pending` and goes out when they do.

Randomness comes from one `random.Random(seed)`: the same seed on the same
database takes the same decisions. Amounts are integer cents throughout. Each
brief's story runs in one transaction (the services nest as savepoints), which
keeps SQLite fast. The report reads the ledger back: totals per currency and
the per-escrow identity `charged = released + fees + refunded + still held`.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from marketplace.errors import StateConflict
from marketplace.importing import ProgressCallback
from marketplace.models import Skill, User
from marketplace.money import Money
from marketplace.services import student_profile_update, user_register
from payments.gateways.base import PaymentDeclined
from payments.models import Escrow, LedgerTransaction
from payments.selectors import ledger_entries_for_escrows, ledger_unbalanced_transactions
from payments.services.ledger import ESCROW_ACCOUNT, PLATFORM_REVENUE_ACCOUNT
from projects.briefs.models import Project
from projects.briefs.services import bid_shortlist, bid_submit, bid_withdraw, project_cancel
from projects.contracts.models import Contract, Milestone
from projects.contracts.services import (
    MilestoneSpec,
    bid_accept,
    milestone_approve,
    milestone_fund,
    milestone_request_changes,
    milestone_submit,
    student_payouts_onboard,
)
from schools.models import Coordinator, School
from schools.services import (
    coordinator_create,
    verification_approve,
    verification_confirm_email,
    verification_request,
    verification_token_make,
)

# Shares of briefs and bids, in percent.
CANCEL_PERCENT = 4
DECLINE_PERCENT = 8
CHANGES_PERCENT = 12
TWO_MILESTONES_PERCENT = 35
WITHDRAW_PERCENT = 3
UNDECIDED_PERCENT = 10  # briefs with bids whose company has not chosen yet
LATE_ONBOARDING_PERCENT = 30
# How many bids a brief gets (among students sharing a skill), with weights.
BID_COUNTS = (0, 1, 2, 3, 4, 5)
BID_COUNT_WEIGHTS = (20, 35, 22, 12, 7, 4)
MAX_SCHOOLS = 25

FIRST_NAMES = (
    "Léa", "Hugo", "Chloé", "Louis", "Inès", "Gabriel", "Manon", "Arthur", "Camille", "Jules",
    "Sarah", "Adam", "Emma", "Nathan", "Zoé", "Yanis", "Alice", "Raphaël", "Lina", "Tom",
)  # fmt: skip
LAST_NAMES = (
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy",
    "Moreau", "Simon", "Laurent", "Lefebvre", "Michel", "Garcia", "Nguyen", "Diallo", "Rossi",
)  # fmt: skip
PROGRAMS = (
    "MSc Computer Science",
    "MSc Data Science",
    "BSc Software Engineering",
    "Master in Management",
    "MSc Digital Marketing",
    "BA Graphic Design",
    "MEng Mobile Computing",
)


class SimulationNotReady(StateConflict):
    """The database lacks what the simulation runs on (open briefs, schools with domains)."""

    code = "simulation_not_ready"


@dataclass
class SimulationReport:
    """What a run did, and what the ledger says about it.

    Money maps are `{currency: integer minor units}` over the run's escrows:
    `charged` (companies paid into escrow), `released` (transferred to
    students), `fees` (platform revenue, both sides), `refunded` and `held`
    (still in escrow). `escrow_mismatches` lists escrows whose ledger breaks
    `charged = released + fees + refunded + held` or disagrees with the
    escrow's own amounts; `unbalanced_transactions` is the whole ledger's check.
    """

    briefs: int = 0
    schools: int = 0
    students: int = 0
    coordinators_created: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    charged: dict[str, int] = field(default_factory=dict)
    released: dict[str, int] = field(default_factory=dict)
    fees: dict[str, int] = field(default_factory=dict)
    refunded: dict[str, int] = field(default_factory=dict)
    held: dict[str, int] = field(default_factory=dict)
    escrows: int = 0
    escrow_mismatches: list[int] = field(default_factory=list)
    unbalanced_transactions: list[int] = field(default_factory=list)

    @property
    def ledger_balanced(self) -> bool:
        return not self.unbalanced_transactions and not self.escrow_mismatches


@dataclass
class _Student:
    user: User
    skill_ids: set[int]
    late_onboarding: bool


def _percent(rng: random.Random, share: int) -> bool:
    return rng.randrange(100) < share


def _pick_briefs(*, rng: random.Random, count: int) -> list[Project]:
    ids = list(
        Project.objects.filter(
            status=Project.Status.OPEN,
            visibility=Project.Visibility.ALL,
            kind=Project.Kind.PROJECT,
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if len(ids) < count:
        raise SimulationNotReady(
            f"The simulation needs {count} open briefs and finds {len(ids)}. Import real ones "
            "first: `manage.py import_briefs PATH/freelance_jobs.csv` (each run consumes briefs)."
        )
    chosen = sorted(rng.sample(ids, count))
    return list(Project.objects.filter(pk__in=chosen).order_by("pk"))


def _pick_schools(*, rng: random.Random, count: int) -> list[School]:
    ids = list(
        School.objects.filter(domains__isnull=False)
        .distinct()
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not ids:
        raise SimulationNotReady(
            "No school with an e-mail domain. Import them first: "
            "`manage.py import_schools PATH/world_universities_and_domains.json`."
        )
    chosen = sorted(rng.sample(ids, min(count, len(ids))))
    return list(School.objects.filter(pk__in=chosen).prefetch_related("domains").order_by("pk"))


def _coordinator_for(school: School, report: SimulationReport) -> User:
    existing = Coordinator.objects.select_related("user").filter(school=school).first()
    if existing is not None:
        return existing.user
    report.coordinators_created += 1
    return coordinator_create(
        email=f"coordinator-{school.pk}@simulation.example.com",
        school=school,
        first_name="Simulated",
        last_name="Coordinator",
        password=secrets.token_urlsafe(24),
    ).user


def _skill_pool(briefs: list[Project]) -> tuple[dict[int, set[int]], dict[int, str], list[int]]:
    through = Project.skills.through.objects.filter(project_id__in=[b.pk for b in briefs])
    brief_skills: dict[int, set[int]] = {b.pk: set() for b in briefs}
    for project_id, skill_id in through.values_list("project_id", "skill_id"):
        brief_skills[project_id].add(skill_id)
    slugs = dict(
        Skill.objects.filter(
            pk__in={s for skills in brief_skills.values() for s in skills}
        ).values_list("pk", "slug")
    )
    popular = [s for s, _ in Counter(s for v in brief_skills.values() for s in v).most_common(40)]
    return brief_skills, slugs, popular


def _make_student(
    *,
    rng: random.Random,
    index: int,
    tag: str,
    school: School,
    coordinator: User,
    skill_ids: set[int],
    slugs: dict[int, str],
) -> _Student:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    user = user_register(
        email=f"sim-{tag}-{index}@students.example.com",
        password=secrets.token_urlsafe(24),
        role=User.Role.STUDENT,
        first_name=first,
        last_name=last,
    )
    domain = rng.choice([d.domain for d in school.domains.all()])
    verification = verification_request(
        student=user,
        school=school,
        school_email=f"sim.{tag}.{index}@{domain}",
        program=rng.choice(PROGRAMS),
        graduation_date=timezone.localdate() + dt.timedelta(days=rng.randint(120, 900)),
    )
    verification_confirm_email(token=verification_token_make(verification=verification))
    verification_approve(verification_id=verification.pk, by=coordinator)
    student_profile_update(
        user=user,
        skills=sorted(slugs[s] for s in skill_ids),
        headline=f"{verification.program} student at {school.name}"[:200],
        day_rate_cents=rng.randrange(150, 601, 10) * 100,
        currency="USD",
    )
    late = _percent(rng, LATE_ONBOARDING_PERCENT)
    if not late:
        student_payouts_onboard(user=user)
    return _Student(user=user, skill_ids=skill_ids, late_onboarding=late)


def _fund(
    *, rng: random.Random, milestone_id: int, company_user: User, report: SimulationReport
) -> None:
    if _percent(rng, DECLINE_PERCENT):
        try:
            milestone_fund(
                milestone_id=milestone_id, by=company_user, payment_method="pm_card_chargeDeclined"
            )
        except PaymentDeclined:
            report.counts["payments declined then retried"] += 1
    milestone_fund(milestone_id=milestone_id, by=company_user, payment_method="pm_card_visa")
    report.counts["milestones funded"] += 1


def _deliver(
    *,
    rng: random.Random,
    milestone: Milestone,
    student: User,
    company_user: User,
    report: SimulationReport,
) -> None:
    milestone_submit(
        milestone_id=milestone.pk,
        by=student,
        note=f"Delivery for “{milestone.title}”.",
        url=f"https://example.com/deliveries/{milestone.pk}",
    )
    if _percent(rng, CHANGES_PERCENT):
        milestone_request_changes(
            milestone_id=milestone.pk, by=company_user, note="Close; please polish the details."
        )
        milestone_submit(milestone_id=milestone.pk, by=student, note="Changes done.")
        report.counts["changes requested"] += 1
    milestone_approve(milestone_id=milestone.pk, by=company_user)
    report.counts["milestones approved"] += 1


def _play_brief(
    *,
    rng: random.Random,
    brief: Project,
    company_user: User,
    bidders: list[_Student],
    report: SimulationReport,
) -> None:
    bids = []
    for student in bidders:
        amount = max(brief.budget_cents * rng.randint(70, 110) // 100, 1)
        bids.append(
            bid_submit(
                project_id=brief.pk,
                by=student.user,
                amount_cents=amount,
                estimated_days=rng.randint(3, 45),
                cover_letter=(
                    f"Hello, I am {student.user.first_name}. I have done similar work "
                    f"and can deliver “{brief.title[:80]}” on time."
                ),
            )
        )
        report.counts["bids"] += 1
    if not bids:
        report.counts["briefs without bids"] += 1
    if _percent(rng, CANCEL_PERCENT):
        project_cancel(project_id=brief.pk, by=company_user)
        report.counts["briefs cancelled"] += 1
        return
    live = []
    for bid in bids:
        if _percent(rng, WITHDRAW_PERCENT):
            bid_withdraw(bid_id=bid.pk, by=bid.student)
            report.counts["bids withdrawn"] += 1
        else:
            live.append(bid)
    if not live:
        return
    if _percent(rng, UNDECIDED_PERCENT):
        report.counts["briefs with bids still open"] += 1
        return
    chosen = rng.choice(live)
    if len(live) > 1:
        bid_shortlist(bid_id=chosen.pk, by=company_user)
    specs = None
    if chosen.amount_cents >= 200 and _percent(rng, TWO_MILESTONES_PERCENT):
        first = chosen.amount_cents * rng.randint(30, 60) // 100
        today = timezone.localdate()
        specs = [
            MilestoneSpec(title="First version", amount_cents=first, due_date=today),
            MilestoneSpec(
                title="Final delivery",
                amount_cents=chosen.amount_cents - first,
                due_date=today + dt.timedelta(days=chosen.estimated_days),
            ),
        ]
    contract = bid_accept(bid_id=chosen.pk, by=company_user, milestones=specs)
    report.counts["contracts"] += 1
    for milestone in contract.milestones.order_by("position"):
        _fund(rng=rng, milestone_id=milestone.pk, company_user=company_user, report=report)
        _deliver(
            rng=rng,
            milestone=milestone,
            student=chosen.student,
            company_user=company_user,
            report=report,
        )


def _add(totals: dict[str, int], currency: str, amount: int) -> None:
    totals[currency] = totals.get(currency, 0) + amount


def _read_ledger(*, escrow_ids: list[int], report: SimulationReport) -> None:
    per_escrow: dict[int, Counter[str]] = {pk: Counter() for pk in escrow_ids}
    rows = ledger_entries_for_escrows(escrow_ids=escrow_ids).values_list(
        "transaction__escrow_id", "transaction__kind", "account", "amount_cents", "currency"
    )
    for escrow_id, kind, account, amount, currency in rows:
        parts = per_escrow[escrow_id]
        if account == ESCROW_ACCOUNT:
            parts["held"] += amount
            if kind == LedgerTransaction.Kind.FUNDING:
                parts["charged"] += amount
                _add(report.charged, currency, amount)
            _add(report.held, currency, amount)
        elif kind == LedgerTransaction.Kind.RELEASE and account.startswith("student:"):
            parts["released"] += amount
            _add(report.released, currency, amount)
        elif account == PLATFORM_REVENUE_ACCOUNT:
            parts["fees"] += amount
            _add(report.fees, currency, amount)
        elif kind == LedgerTransaction.Kind.REFUND and account.startswith("company:"):
            parts["refunded"] += amount
            _add(report.refunded, currency, amount)
    for escrow in Escrow.objects.filter(pk__in=escrow_ids).order_by("pk"):
        parts = per_escrow[escrow.pk]
        settled = parts["released"] + parts["fees"] + parts["refunded"] + parts["held"]
        expected_charge = escrow.charge_cents if parts["charged"] else 0
        paid_out_ok = escrow.status != Escrow.Status.RELEASED or (
            parts["released"] == escrow.payee_cents
        )
        if parts["charged"] != settled or parts["charged"] != expected_charge or not paid_out_ok:
            report.escrow_mismatches.append(escrow.pk)
    report.escrows = len(escrow_ids)


def marketplace_simulate(
    *,
    briefs: int,
    students: int | None = None,
    seed: int = 0,
    progress: ProgressCallback | None = None,
) -> SimulationReport:
    """Play `briefs` open briefs with `students` new verified students; see the module docstring.

    `students` defaults to a tenth of the briefs (at least 5). Raises
    SimulationNotReady when there are fewer open briefs than asked or no school
    with a domain, and ValueError for non-positive counts. Any other domain
    error from a service is a bug in the flow and propagates.
    """
    if briefs <= 0:
        raise ValueError("briefs must be positive")
    student_count = students if students is not None else max(5, briefs // 10)
    if student_count <= 0:
        raise ValueError("students must be positive")
    rng = random.Random(seed)  # noqa: S311 (reproducible play, not secrets)
    report = SimulationReport()
    chosen = _pick_briefs(rng=rng, count=briefs)
    schools = _pick_schools(rng=rng, count=min(MAX_SCHOOLS, student_count))
    report.briefs, report.schools = len(chosen), len(schools)
    brief_skills, slugs, popular = _skill_pool(chosen)
    with_skills = [b.pk for b in chosen if brief_skills[b.pk]]
    if not with_skills:
        raise SimulationNotReady("None of the chosen briefs lists a skill; import real briefs.")

    tag = uuid.uuid4().hex[:8]
    coordinators = {s.pk: _coordinator_for(s, report) for s in schools}
    roster: list[_Student] = []
    for index in range(student_count):
        school = schools[index % len(schools)]
        # A speciality from one real brief, plus a few of the most asked-for skills.
        skill_ids = set(sorted(brief_skills[rng.choice(with_skills)])[:6])
        skill_ids |= set(rng.sample(popular, min(len(popular), rng.randint(1, 4))))
        with transaction.atomic():
            roster.append(
                _make_student(
                    rng=rng,
                    index=index,
                    tag=tag,
                    school=school,
                    coordinator=coordinators[school.pk],
                    skill_ids=skill_ids,
                    slugs=slugs,
                )
            )
        if progress:
            progress("students", index + 1, student_count)
    report.students = len(roster)

    members: dict[int, User] = {}
    for index, brief in enumerate(chosen):
        if brief.created_by_id not in members:
            members[brief.created_by_id] = User.objects.get(pk=brief.created_by_id)
        eligible = [s for s in roster if s.skill_ids & brief_skills[brief.pk]]
        wanted = rng.choices(BID_COUNTS, weights=BID_COUNT_WEIGHTS)[0]
        bidders = rng.sample(eligible, min(wanted, len(eligible)))
        with transaction.atomic():
            _play_brief(
                rng=rng,
                brief=brief,
                company_user=members[brief.created_by_id],
                bidders=bidders,
                report=report,
            )
        if progress:
            progress("briefs", index + 1, len(chosen))

    for student in roster:
        if student.late_onboarding:
            student_payouts_onboard(user=student.user)
            report.counts["late payout onboardings"] += 1

    contracts = Contract.objects.filter(project__in=chosen)
    report.counts["contracts completed"] = contracts.filter(
        status=Contract.Status.COMPLETED
    ).count()
    escrow_ids = list(
        Milestone.objects.filter(contract__in=contracts).values_list("escrow_id", flat=True)
    )
    _read_ledger(escrow_ids=escrow_ids, report=report)
    report.unbalanced_transactions = ledger_unbalanced_transactions()
    return report


def simulation_summary_rows(*, report: SimulationReport) -> list[tuple[str, Any]]:
    """`(label, value)` lines for a summary table; money already formatted per currency."""

    currencies = sorted(set(report.charged) | set(report.refunded)) or ["USD"]

    def money(totals: dict[str, int]) -> str:
        return ", ".join(Money(totals.get(c, 0), c).format() for c in currencies)

    rows: list[tuple[str, Any]] = [
        ("briefs", report.briefs),
        ("schools", report.schools),
        ("students verified", report.students),
        ("coordinators created", report.coordinators_created),
    ]
    order = (
        "bids",
        "bids withdrawn",
        "briefs without bids",
        "briefs with bids still open",
        "briefs cancelled",
        "contracts",
        "contracts completed",
        "milestones funded",
        "payments declined then retried",
        "changes requested",
        "milestones approved",
        "late payout onboardings",
    )
    rows += [(name, report.counts.get(name, 0)) for name in order]
    rows += [
        ("charged to companies", money(report.charged)),
        ("released to students", money(report.released)),
        ("platform fees", money(report.fees)),
        ("refunded", money(report.refunded)),
        ("still held in escrow", money(report.held)),
        ("escrows checked", report.escrows),
        ("unbalanced ledger transactions", len(report.unbalanced_transactions)),
        ("escrows breaking the identity", len(report.escrow_mismatches)),
        ("ledger balances", "yes" if report.ledger_balanced else "NO"),
    ]
    return rows
