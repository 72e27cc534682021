"""Writes of the participants: registration, the student profile, staff changing access."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.text import slugify

from marketplace.audit import audit_record
from marketplace.credentials import user_tokens_revoke
from marketplace.errors import NotFound, PermissionDenied, StateConflict, ValidationFailed
from marketplace.models import (
    Company,
    CompanyMembership,
    FailedTask,
    Skill,
    StudentProfile,
    User,
)

SELF_SERVICE_ROLES = (User.Role.COMPANY, User.Role.STUDENT)


@transaction.atomic
def user_register(
    *,
    email: str,
    password: str,
    role: str,
    first_name: str,
    last_name: str,
    company_name: str = "",
) -> User:
    """Create a company member (with a new company they own) or a student (with a profile).

    The account can sign in at once. Raises ValidationFailed naming the field for
    a taken e-mail, a weak password, a role that is not self-service or a
    company without a name.
    """
    email = email.strip().lower()
    if role not in SELF_SERVICE_ROLES:
        raise ValidationFailed("Sign up as a company or a student.", field="role")
    if role == User.Role.COMPANY and not company_name.strip():
        raise ValidationFailed("A company needs a name.", field="company_name")
    candidate = User(email=email, first_name=first_name, last_name=last_name, role=role)
    try:
        validate_password(password, candidate)
    except DjangoValidationError as exc:
        raise ValidationFailed(" ".join(exc.messages), field="password") from exc
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationFailed("An account with this e-mail already exists.", field="email")
    try:
        with transaction.atomic():
            user = User.objects.create_user(
                email=email,
                password=password,
                first_name=first_name,
                last_name=last_name,
                role=role,
            )
    except IntegrityError as exc:
        raise ValidationFailed(
            "An account with this e-mail already exists.", field="email"
        ) from exc
    if role == User.Role.COMPANY:
        company = Company.objects.create(name=company_name.strip())
        CompanyMembership.objects.create(
            company=company, user=user, role=CompanyMembership.Role.OWNER
        )
    else:
        StudentProfile.objects.create(user=user)
    return user


MAX_PORTFOLIO_LINKS = 5
_http_url = URLValidator(schemes=["http", "https"])


def _portfolio_links_check(links: object) -> list[str]:
    """The links, stripped and without repeats, or ValidationFailed (field `portfolio_links`)."""
    if not isinstance(links, list | tuple) or not all(isinstance(u, str) for u in links):
        raise ValidationFailed("Give a list of links.", field="portfolio_links")
    cleaned = list(dict.fromkeys(u.strip() for u in links if u.strip()))
    if len(cleaned) > MAX_PORTFOLIO_LINKS:
        raise ValidationFailed(
            f"At most {MAX_PORTFOLIO_LINKS} portfolio links.", field="portfolio_links"
        )
    for url in cleaned:
        try:
            _http_url(url)
        except DjangoValidationError as exc:
            raise ValidationFailed(
                f"{url[:100]} is not an http(s) link.", field="portfolio_links"
            ) from exc
    return cleaned


@transaction.atomic
def student_profile_update(
    *,
    user: User,
    skills: Sequence[str] | None = None,
    **fields: object,
) -> StudentProfile:
    """Change a student's own profile; `skills` is a list of skill slugs (replaces the set).

    Accepted fields: headline, bio, day_rate_cents, currency, availability and
    portfolio_links (at most `MAX_PORTFOLIO_LINKS` distinct http(s) URLs).
    Raises PermissionDenied for a non-student and ValidationFailed naming the
    field for unknown skill slugs or a bad portfolio link.
    """
    if user.role != User.Role.STUDENT:
        raise PermissionDenied("Only students have a student profile.")
    profile, _ = StudentProfile.objects.select_for_update().get_or_create(user=user)
    allowed = {"headline", "bio", "day_rate_cents", "currency", "availability", "portfolio_links"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValidationFailed(f"Unknown field {sorted(unknown)[0]}.", field=sorted(unknown)[0])
    if "portfolio_links" in fields:
        fields["portfolio_links"] = _portfolio_links_check(fields["portfolio_links"])
    for name, value in fields.items():
        setattr(profile, name, value)
    profile.save()
    if skills is not None:
        found = list(Skill.objects.filter(slug__in=set(skills)))
        missing = sorted(set(skills) - {s.slug for s in found})
        if missing:
            raise ValidationFailed(f"Unknown skills: {', '.join(missing)}.", field="skills")
        before = set(profile.skills.values_list("pk", flat=True))
        profile.skills.set(found)
        skill_student_counts_refresh(skill_ids=before ^ {s.pk for s in found})
    return profile


def skill_student_counts_refresh(*, skill_ids: Iterable[int] | None = None) -> int:
    """Recount `Skill.student_count` (profiles listing the skill) for the ids, or all skills.

    A recount from the profiles, not an increment, so concurrent edits cannot
    drift it. One UPDATE; returns the rows updated.
    """
    per_skill = (
        StudentProfile.skills.through.objects.filter(skill_id=OuterRef("pk"))
        .order_by()
        .values("skill_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    qs = Skill.objects.all() if skill_ids is None else Skill.objects.filter(pk__in=list(skill_ids))
    return qs.update(student_count=Coalesce(Subquery(per_skill, output_field=IntegerField()), 0))


def skill_slug(name: str) -> str:
    """The slug of a skill name: Django's slugify once `+` and `#` are spelled out.

    Without that, "C", "C++" and "C#" would all be `c` (`c-plus-plus`, `c-sharp` here).
    A name with nothing but punctuation has an empty slug.
    """
    spelled = re.sub(r"(?<=\w)(\++)", lambda m: " plus" * len(m.group(1)) + " ", name)
    spelled = re.sub(r"(?<=\w)#", " sharp ", spelled)
    return slugify(spelled)[:220]


def skill_get_or_create(*, name: str, category: str = "") -> tuple[Skill, bool]:
    """The skill whose slug is `skill_slug(name)`, created if missing. Raises on an empty slug."""
    slug = skill_slug(name)
    if not slug:
        raise ValidationFailed(f"{name!r} has no usable slug.", field="name")
    return Skill.objects.get_or_create(
        slug=slug, defaults={"name": name[:200], "category": category[:200]}
    )


def failed_task_record(
    *, task_name: str, task_id: str, kwargs: dict[str, Any], error: str, traceback: str = ""
) -> FailedTask:
    """Keep a task that failed for good, for staff to see and retry."""
    return FailedTask.objects.create(
        task_name=task_name,
        task_id=task_id or "",
        kwargs=kwargs,
        error=error[:10_000],
        traceback=traceback[:50_000],
    )


@transaction.atomic
def failed_task_retry(*, failed_task_id: int, by: User | None = None) -> FailedTask:
    """Enqueue a failed task again with the same keyword arguments (after commit).

    A retry by staff (`by`) is audited (`task.retry`: the task's name and
    arguments), since the task may move money. Raises NotFound for an unknown
    row and ValidationFailed for a task name that is no longer registered.
    """
    from marketplace.celery import app

    failed = FailedTask.objects.select_for_update().filter(pk=failed_task_id).first()
    if failed is None:
        raise NotFound("No such failed task.")
    task = app.tasks.get(failed.task_name)
    if task is None:
        raise ValidationFailed(f"No task named {failed.task_name}.", field="task_name")
    failed.retried_at = timezone.now()
    failed.save(update_fields=["retried_at"])
    if by is not None:
        audit_record(
            actor=by,
            action="task.retry",
            subject=failed,
            detail={"task_name": failed.task_name, "kwargs": failed.kwargs},
        )
    kwargs = dict(failed.kwargs)
    transaction.on_commit(lambda: task.apply_async(kwargs=kwargs))
    return failed


# What "someone's rights" are on the User admin: the access flags and grants.
RIGHTS_FLAGS = ("is_staff", "is_superuser")


def user_rights_snapshot(*, user_id: int) -> dict[str, Any]:
    """The user's rights as stored: `is_staff`, `is_superuser`, sorted group names and
    permission codenames (`app_label.codename`). Two queries besides the row."""
    user = User.objects.get(pk=user_id)
    return {
        **{flag: getattr(user, flag) for flag in RIGHTS_FLAGS},
        "groups": sorted(user.groups.values_list("name", flat=True)),
        "permissions": sorted(
            f"{app}.{codename}"
            for app, codename in user.user_permissions.values_list(
                "content_type__app_label", "codename"
            )
        ),
    }


@transaction.atomic
def user_rights_change_record(
    *, user_id: int, by: User, before: dict[str, Any], reason: str = ""
) -> dict[str, Any] | None:
    """Audit a change of a user's rights (`user.rights_change`), made by staff in the admin.

    `before` is `user_rights_snapshot` taken before the change; the entry's
    detail holds `before` and `after` of what changed only. Returns that
    detail, or None (nothing written) when the rights are as they were.
    """
    after = user_rights_snapshot(user_id=user_id)
    changed = [key for key in after if before.get(key) != after[key]]
    if not changed:
        return None
    detail = {
        "before": {key: before.get(key) for key in changed},
        "after": {key: after[key] for key in changed},
    }
    audit_record(
        actor=by,
        action="user.rights_change",
        subject=User.objects.get(pk=user_id),
        detail=detail,
        reason=reason.strip(),
    )
    return detail


def user_access_change_refusal(*, user: User, by: User) -> str | None:
    """Why `by` may not switch `user`'s account on or off, or None when they may.

    Only active staff may; nobody their own account (locking oneself out);
    only a superuser a superuser's.
    """
    if not by.is_staff or not by.is_active:
        return "Only the platform's staff change who can sign in."
    if user.pk == by.pk:
        return "You cannot change your own access."
    if user.is_superuser and not by.is_superuser:
        return "Only a superuser changes a superuser's access."
    return None


def _access_change_lock(*, user_id: int, by: User) -> User:
    """The user, locked, once `by` may change whether they can sign in (else raises)."""
    if not by.is_staff or not by.is_active:
        raise PermissionDenied("Only the platform's staff change who can sign in.")
    user = User.objects.select_for_update().filter(pk=user_id).first()
    if user is None:
        raise NotFound("No such user.")
    refusal = user_access_change_refusal(user=user, by=by)
    if refusal is not None:
        raise PermissionDenied(refusal)
    return user


@transaction.atomic
def user_deactivate(*, user_id: int, by: User, reason: str) -> User:
    """Staff stop a user from signing in: `is_active` off, every refresh token revoked.

    Django refuses inactive users at sign-in and on every request
    (https://docs.djangoproject.com/en/5.2/ref/contrib/auth/#django.contrib.auth.models.User.is_active);
    their refresh tokens are blacklisted (`user_tokens_revoke`). Audited
    (`user.deactivate`, with the number of tokens revoked). Raises
    PermissionDenied for non-staff, for oneself and for a superuser unless
    `by` is one, NotFound, ValidationFailed (field `reason`) without a
    reason and StateConflict for a user already inactive.
    """
    user = _access_change_lock(user_id=user_id, by=by)
    if not reason.strip():
        raise ValidationFailed("Say why the account is deactivated.", field="reason")
    if not user.is_active:
        raise StateConflict("This account is already inactive.")
    user.is_active = False
    user.save(update_fields=["is_active"])
    revoked = user_tokens_revoke(user=user)
    audit_record(
        actor=by,
        action="user.deactivate",
        subject=user,
        detail={"email": user.email, "is_active": [True, False], "tokens_revoked": revoked},
        reason=reason.strip(),
    )
    return user


@transaction.atomic
def user_reactivate(*, user_id: int, by: User, reason: str = "") -> User:
    """Staff let an inactive user sign in again (`is_active` on); audited (`user.reactivate`).

    Revoked tokens stay revoked: the user signs in afresh. Raises like
    `user_deactivate`, StateConflict for a user already active; the reason
    is optional.
    """
    user = _access_change_lock(user_id=user_id, by=by)
    if user.is_active:
        raise StateConflict("This account is already active.")
    user.is_active = True
    user.save(update_fields=["is_active"])
    audit_record(
        actor=by,
        action="user.reactivate",
        subject=user,
        detail={"email": user.email, "is_active": [False, True]},
        reason=reason.strip(),
    )
    return user
