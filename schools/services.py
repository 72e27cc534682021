"""Writes of the schools app: enrolment verification and coordinators."""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from marketplace.audit import audit_record
from marketplace.credentials import password_reset_link
from marketplace.errors import NotFound, PermissionDenied, StateConflict, ValidationFailed
from marketplace.models import User
from marketplace.notifications import notify
from marketplace.selectors import notification_keys_existing
from schools.addresses import school_email_canonical
from schools.domains import domain_matches, email_domain, normalize_domain
from schools.models import Coordinator, EnrolmentVerification, School, VerificationEvent
from schools.selectors import TOKEN_SALT, verification_token_read
from schools.states import VERIFICATION_STATES

logger = logging.getLogger(__name__)

V = EnrolmentVerification.Status
VERIFICATIONS_URL = "/api/v1/verifications/"
EXPIRY_REASON = "graduation date passed"
ADDRESS_HELD = "This school address is already used by another student."


# The furthest graduation date a request may give: a doctorate's length.
MAX_STUDIES_AHEAD = dt.timedelta(days=8 * 365)


def _check_move(verification: EnrolmentVerification, to: str) -> None:
    """Refuse a move `VERIFICATION_STATES` does not allow, in the words users are shown."""
    if not VERIFICATION_STATES.can(verification, to):
        raise StateConflict(f"A verification cannot go from {verification.status} to {to}.")


def verification_token_make(*, verification: EnrolmentVerification) -> str:
    """A signed, timestamped token naming the verification and the address it proves."""
    return signing.dumps(
        {"v": verification.pk, "e": verification.school_email}, salt=TOKEN_SALT, compress=True
    )


def verification_link(*, verification: EnrolmentVerification) -> str:
    return f"{settings.SITE_URL}/verify/{verification_token_make(verification=verification)}/"


def _normalized_domains(domains: list[str]) -> list[str]:
    normalized = []
    for stored in domains:
        try:
            normalized.append(normalize_domain(stored))
        except ValidationFailed:
            continue
    return normalized


def verification_request(
    *,
    student: User,
    school: School,
    school_email: str,
    program: str,
    graduation_date: dt.date,
) -> EnrolmentVerification:
    """Ask to be verified as a student of `school` with a school e-mail address.

    The address's domain must be one of the school's domains or a sub-domain of
    one (see `schools.domains`). An e-mail with a signed `/verify/<token>/`
    link is sent after commit. The address is stored as typed (domain
    normalised) beside its canonical form (`schools.addresses`), which decides
    whether another student holds the mailbox. Raises PermissionDenied for a
    non-student, ValidationFailed (field named) for a foreign domain, an
    address the canonical form refuses, a graduation date in the past or more
    than `MAX_STUDIES_AHEAD` away, or an address another student holds under
    any spelling, and StateConflict when the student already has a
    verification pending or in force.
    """
    if student.role != User.Role.STUDENT:
        raise PermissionDenied("Only students can ask to be verified.")
    domain = email_domain(school_email)
    canonical = school_email_canonical(school_email)
    school_domains = list(school.domains.values_list("domain", flat=True))
    # Stored domains may have been typed in Unicode or upper case (admin): compare normalised.
    if not any(domain_matches(domain, d) for d in _normalized_domains(school_domains)):
        raise ValidationFailed(
            f"{domain} is not an e-mail domain of {school.name}.",
            field="school_email",
            extra={"school_domains": school_domains},
        )
    if graduation_date <= timezone.localdate():
        raise ValidationFailed(
            "The graduation date must be in the future.", field="graduation_date"
        )
    if graduation_date > timezone.localdate() + MAX_STUDIES_AHEAD:
        # The verification lasts until then: a typo must not make it last a lifetime.
        raise ValidationFailed(
            f"The graduation date is at most {MAX_STUDIES_AHEAD.days // 365} years away.",
            field="graduation_date",
        )
    local = school_email.split("@")[0]
    normalized_email = f"{local}@{domain}"
    with transaction.atomic():
        User.objects.select_for_update().get(pk=student.pk)
        mine = EnrolmentVerification.objects.filter(student=student)
        pending = mine.filter(
            status__in=[V.PENDING_EMAIL, V.PENDING_REVIEW],
            graduation_date__gte=timezone.localdate(),
        )
        if (pending | mine.in_force()).exists():
            raise StateConflict("You already have a verification pending or in force.")
        held = EnrolmentVerification.objects.filter(
            school_email_canonical=canonical, status__in=[V.PENDING_REVIEW, V.VERIFIED]
        ).exclude(student=student)
        if held.exists():
            raise ValidationFailed(ADDRESS_HELD, field="school_email")
        verification = EnrolmentVerification.objects.create(
            student=student,
            school=school,
            school_email=normalized_email,
            school_email_canonical=canonical,
            program=program,
            graduation_date=graduation_date,
        )
        VerificationEvent.objects.create(
            verification=verification, actor=student, from_status="", to_status=V.PENDING_EMAIL
        )
        notify(
            user=student,
            template="verification_link",
            key=f"verification-link:{verification.pk}",
            context={
                "verification": verification,
                "link": verification_link(verification=verification),
                "hours": settings.VERIFICATION_LINK_MAX_AGE // 3600,
            },
            email_to=verification.school_email,
        )
    return verification


def verification_confirm_email(*, token: str) -> EnrolmentVerification:
    """Confirm the school address from the e-mailed token (idempotent once confirmed).

    The token names the address as mailed (`school_email`), so links sent
    before the canonical form existed still work. Raises ValidationFailed
    (field `token`) for a forged, altered or expired token
    (VERIFICATION_LINK_MAX_AGE seconds) or when another student's live claim
    holds the same mailbox under any spelling, even one confirmed a moment
    before (the unique constraint decides the race); and StateConflict if the
    request was decided meanwhile.
    """
    verification_id, school_email = verification_token_read(token=token)
    with transaction.atomic():
        verification = (
            EnrolmentVerification.objects.select_for_update()
            .filter(pk=verification_id, school_email=school_email)
            .first()
        )
        if verification is None:
            raise ValidationFailed("This link is not valid.", field="token")
        if verification.status == V.PENDING_EMAIL:
            # A row the canonical form refused when it was filled in stays refused.
            verification.school_email_canonical = (
                verification.school_email_canonical
                or school_email_canonical(verification.school_email)
            )
            held = EnrolmentVerification.objects.filter(
                school_email_canonical=verification.school_email_canonical,
                status__in=[V.PENDING_REVIEW, V.VERIFIED],
            ).exclude(pk=verification.pk)
            if held.exists():
                raise ValidationFailed(ADDRESS_HELD, field="token")
            _check_move(verification, V.PENDING_REVIEW)
            verification.email_confirmed_at = timezone.now()
            try:
                with transaction.atomic():
                    VERIFICATION_STATES.transition(
                        verification,
                        V.PENDING_REVIEW,
                        actor=verification.student,
                        update_fields=["email_confirmed_at", "school_email_canonical"],
                    )
            except IntegrityError as exc:
                # Another spelling of the mailbox was confirmed in the meantime (the unique
                # constraint `verification_one_live_per_email` saw it): the same answer.
                raise ValidationFailed(ADDRESS_HELD, field="token") from exc
        elif verification.status != V.PENDING_REVIEW and verification.status != V.VERIFIED:
            raise StateConflict(f"This request is already {verification.status}.")
    return verification


# What a coordinator's own decisions write to the audit trail besides their VerificationEvent:
# a revocation takes rights away from a student already vouched for; approvals and
# rejections are the routine review and stay in the events only.
COORDINATOR_DECISIONS_AUDITED = {V.REVOKED}
VERIFICATION_ACTIONS = {V.VERIFIED: "approve", V.REJECTED: "reject", V.REVOKED: "revoke"}


def _decide(*, verification_id: int, by: User, to: str, reason: str = "") -> EnrolmentVerification:
    """Move a verification to `to` for its school's coordinator or staff.

    Audited (`verification.approve|reject|revoke`) when staff who are not
    that school's coordinator decide (`override: true`), and for a
    coordinator's revocation (`COORDINATOR_DECISIONS_AUDITED`).
    """
    with transaction.atomic():
        verification = (
            EnrolmentVerification.objects.select_for_update().filter(pk=verification_id).first()
        )
        if verification is None:
            raise NotFound("No such verification.")
        coordinator = Coordinator.objects.filter(user=by, school_id=verification.school_id).first()
        if coordinator is None and not by.is_staff:
            raise PermissionDenied("Only the school's coordinator decides on this request.")
        _check_move(verification, to)
        from_status = verification.status
        verification.decided_by = by
        verification.decided_at = timezone.now()
        verification.reason = reason
        VERIFICATION_STATES.transition(
            verification,
            to,
            actor=by,
            note=reason,
            update_fields=["decided_by", "decided_at", "reason"],
        )
        if coordinator is None or to in COORDINATOR_DECISIONS_AUDITED:
            audit_record(
                actor=by,
                action=f"verification.{VERIFICATION_ACTIONS[to]}",
                subject=verification,
                detail={
                    "student_id": verification.student_id,
                    "school_id": verification.school_id,
                    "status": [from_status, to],
                    "override": coordinator is None,
                },
                reason=reason,
            )
        notify(
            user=verification.student,
            template="verification_decision",
            key=f"verification-decision:{verification.pk}:{to}",
            context={"verification": verification},
        )
    return verification


def verification_approve(*, verification_id: int, by: User) -> EnrolmentVerification:
    """The school's coordinator (or staff) vouches for the student. Only from pending_review.

    Raises NotFound for another school's request, StateConflict from other states.
    """
    return _decide(verification_id=verification_id, by=by, to=V.VERIFIED)


def verification_reject(*, verification_id: int, by: User, reason: str) -> EnrolmentVerification:
    """Refuse a pending request with a reason the student will read."""
    if not reason.strip():
        raise ValidationFailed("Say why the request is rejected.", field="reason")
    return _decide(verification_id=verification_id, by=by, to=V.REJECTED, reason=reason.strip())


def verification_revoke(*, verification_id: int, by: User, reason: str) -> EnrolmentVerification:
    """Withdraw a verification in force (the student left the school, say), with a reason."""
    if not reason.strip():
        raise ValidationFailed("Say why the verification is revoked.", field="reason")
    return _decide(verification_id=verification_id, by=by, to=V.REVOKED, reason=reason.strip())


def coordinator_invitation_link(*, user: User) -> str:
    """A single-use set-password link: the password-reset link (`password_reset_link`)."""
    return password_reset_link(user=user)


def coordinator_create(
    *,
    email: str,
    school: School,
    first_name: str,
    last_name: str,
    password: str | None = None,
    by: User | None = None,
) -> Coordinator:
    """Create a coordinator account for one school.

    Without a password the account has none yet and an invitation e-mail
    carries a set-password link (Django's password-reset token, valid
    PASSWORD_RESET_TIMEOUT seconds). Created by staff (`by`, the admin API
    and the admin) it is audited (`coordinator.invite`) with the account;
    without `by` (demo data, set-up scripts) it is not. Raises
    PermissionDenied when `by` is not staff, ValidationFailed for a taken
    e-mail or a weak password.
    """
    if by is not None and not by.is_staff:
        raise PermissionDenied("Only the platform's staff invite coordinators.")
    email = email.strip().lower()
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationFailed("An account with this e-mail already exists.", field="email")
    if password:
        try:
            validate_password(
                password, User(email=email, first_name=first_name, last_name=last_name)
            )
        except DjangoValidationError as exc:
            raise ValidationFailed(" ".join(exc.messages), field="password") from exc
    try:
        with transaction.atomic():
            user = User.objects.create_user(
                email=email,
                password=password or None,
                first_name=first_name,
                last_name=last_name,
                role=User.Role.COORDINATOR,
            )
            coordinator = Coordinator.objects.create(user=user, school=school)
            if by is not None:
                audit_record(
                    actor=by,
                    action="coordinator.invite",
                    subject=coordinator,
                    detail={
                        "user_id": user.pk,
                        "email": email,
                        "school_id": school.pk,
                        "invited": not password,
                    },
                )
            if not password:
                notify(
                    user=user,
                    template="coordinator_invitation",
                    key=f"coordinator-invitation:{user.pk}",
                    context={
                        "school": school,
                        "link": coordinator_invitation_link(user=user),
                        "days": settings.PASSWORD_RESET_TIMEOUT // 86400,
                    },
                )
    except IntegrityError as exc:
        raise ValidationFailed(
            "An account with this e-mail already exists.", field="email"
        ) from exc
    return coordinator


@transaction.atomic
def coordinator_assign(*, user: User, school: School, by: User) -> Coordinator:
    """Staff make an existing account the coordinator of `school` (or move it there).

    Audited (`coordinator.assign`, with the school before and after). Returns
    the coordinator row. Raises PermissionDenied when `by` is not staff.
    """
    if not by.is_staff:
        raise PermissionDenied("Only the platform's staff assign coordinators.")
    User.objects.select_for_update().get(pk=user.pk)
    coordinator = Coordinator.objects.filter(user=user).first()
    before = coordinator.school_id if coordinator is not None else None
    if coordinator is None:
        coordinator = Coordinator.objects.create(user=user, school=school)
    elif before != school.pk:
        coordinator.school = school
        coordinator.save(update_fields=["school"])
    else:
        return coordinator
    audit_record(
        actor=by,
        action="coordinator.assign",
        subject=coordinator,
        detail={"user_id": user.pk, "email": user.email, "school_id": [before, school.pk]},
    )
    return coordinator


@transaction.atomic
def coordinator_remove(*, coordinator_id: int, by: User) -> None:
    """Staff take a school's coordination away from an account; audited (`coordinator.remove`).

    The account stays; its past decisions keep their events. Raises
    PermissionDenied when `by` is not staff and NotFound for an unknown row.
    """
    if not by.is_staff:
        raise PermissionDenied("Only the platform's staff remove coordinators.")
    coordinator = (
        Coordinator.objects.select_for_update()
        .select_related("user")
        .filter(pk=coordinator_id)
        .first()
    )
    if coordinator is None:
        raise NotFound("No such coordinator.")
    audit_record(
        actor=by,
        action="coordinator.remove",
        subject=coordinator,
        detail={
            "user_id": coordinator.user_id,
            "email": coordinator.user.email,
            "school_id": coordinator.school_id,
        },
    )
    coordinator.delete()


def verifications_expire(*, today: dt.date | None = None) -> list[int]:
    """End every verification in force whose graduation date has passed; returns the student ids.

    A verification is in force up to and including its graduation date, so on
    `today` (default: the local date) those with `graduation_date < today` move
    verified → expired, with a VerificationEvent (no actor, reason
    "graduation date passed"), and their student is told once (template
    `verification_expired`, key `verification-expired:<id>`, e-mail after
    commit). The rows are locked as they are selected, so a rerun or a
    concurrent run changes nothing more; they move together through
    `VERIFICATION_STATES.transition_many` (a bounded number of queries
    whatever their number; the notices are per student). Returns the ids of
    the students whose verification expired in this call (sorted, no
    duplicates), for the apps that must act on it: their bids are withdrawn by
    `projects.briefs.lifecycle`.
    """
    day = today or timezone.localdate()
    with transaction.atomic():
        due = list(
            EnrolmentVerification.objects.due_to_expire(on=day)
            .select_for_update(of=("self",))
            .select_related("student", "school")
            .order_by("pk")
        )
        VERIFICATION_STATES.transition_many(due, V.EXPIRED, note=EXPIRY_REASON)
        for verification in due:
            notify(
                user=verification.student,
                template="verification_expired",
                key=f"verification-expired:{verification.pk}",
                context={"verification": verification},
                url=VERIFICATIONS_URL,
            )
    for verification in due:
        logger.info("verification.expired", extra={"verification_id": verification.pk})
    return sorted({verification.student_id for verification in due})


def verifications_warn_expiring(
    *, today: dt.date | None = None, days: int | None = None
) -> list[int]:
    """Warn once each student whose verification ends within `days` days; returns the ids warned.

    Concerns verifications in force whose graduation date is between `today`
    (default: the local date) and `today + days` (default: the
    VERIFICATION_EXPIRING_DAYS setting), both included. Each is told
    once ever (template `verification_expiring`, key
    `verification-expiring:<id>`, context `days_left` = days until the
    graduation date, 0 on the day itself), so reruns send nothing more. Returns
    the ids of the verifications warned in this call, soonest graduation first.
    """
    day = today or timezone.localdate()
    verifications = list(
        EnrolmentVerification.objects.expiring(within=days, on=day)
        .select_related("student", "school")
        .order_by("graduation_date", "pk")
    )
    keys = {v.pk: f"verification-expiring:{v.pk}" for v in verifications}
    told = notification_keys_existing(keys=keys.values())
    warned = []
    for verification in verifications:
        if keys[verification.pk] in told:
            continue
        with transaction.atomic():
            notify(
                user=verification.student,
                template="verification_expiring",
                key=keys[verification.pk],
                context={
                    "verification": verification,
                    "days_left": (verification.graduation_date - day).days,
                },
                url=VERIFICATIONS_URL,
            )
        warned.append(verification.pk)
    return warned
