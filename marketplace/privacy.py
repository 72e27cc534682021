"""Personal data (GDPR): every app's share of a user's data, exported together, erased together.

Each app registers one `PersonalDataSection` from its AppConfig's `ready()`
(`personal_data_section_register`), as the payment app's webhook handlers are
registered, so this lowest layer never imports the apps above it. A section
says what it holds (`description`), exports the user's rows (`exporter`, the
right of access and portability, GDPR art. 15 and 20), anonymises them
(`eraser`, the right to erasure, art. 17), may name reasons the erasure must
wait (`blocker`: money still held, an open dispute), and lists the tables it
keeps after erasure with the legal reason (`kept`, art. 17(3)(b) and (e)).

`personal_data_export` builds the ZIP; `account_erase` runs every eraser in
one transaction, then anonymises the account itself.
"""

from __future__ import annotations

import io
import json
import logging
import posixpath
import re
import shutil
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import default_storage
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django_otp import devices_for_user

from marketplace.audit import audit_record
from marketplace.credentials import user_tokens_revoke
from marketplace.errors import NotFound, PermissionDenied, StateConflict, ValidationFailed
from marketplace.models import (
    AuditEntry,
    CompanyMembership,
    Notification,
    OutboundEmail,
    StudentProfile,
    User,
)
from marketplace.notifications import email_html
from marketplace.services import skill_student_counts_refresh

logger = logging.getLogger(__name__)

EXPORT_FORMAT = 1
# What replaces erased free text that others still see (a message, a reply).
ERASED_TEXT = "[erased]"
# Names shorter than this are not searched for in others' e-mails: "Al" is in "Always".
MIN_REDACT_LENGTH = 2


@dataclass(frozen=True)
class Exported:
    """A section's export: `data` is JSON-able (DjangoJSONEncoder: dates, UUIDs);
    `files` are `(name, storage name in the default storage)` pairs, put under
    `files/<section>/<name>` in the ZIP."""

    data: Any
    files: Sequence[tuple[str, str]] = ()


@dataclass(frozen=True)
class PersonalDataSection:
    """One app's share of a user's personal data.

    `exporter(user)` returns its Exported; `eraser(user)` anonymises its rows
    of the user inside `account_erase`'s transaction (storage deletions go in
    `transaction.on_commit`); `blocker(user)` names the reasons erasure must
    wait, translated for the user; `kept` maps a model label
    (`payments.escrow`) to why its rows stay after erasure.
    """

    name: str
    description: str
    exporter: Callable[[User], Exported]
    eraser: Callable[[User], None]
    blocker: Callable[[User], list[str]] | None = None
    kept: Mapping[str, str] = field(default_factory=dict)


_SECTIONS: dict[str, PersonalDataSection] = {}


def personal_data_section_register(section: PersonalDataSection) -> None:
    """Add an app's section (from its AppConfig's `ready()`). Sections export and erase
    in registration order, which follows INSTALLED_APPS: the accounts first.

    Raises ImproperlyConfigured when another section already has the name.
    """
    current = _SECTIONS.get(section.name)
    if current is not None and current != section:
        raise ImproperlyConfigured(f"Personal data section {section.name} is registered twice.")
    _SECTIONS[section.name] = section


def personal_data_sections() -> list[PersonalDataSection]:
    """The registered sections, in registration order."""
    return list(_SECTIONS.values())


def personal_data_kept() -> dict[str, str]:
    """Every table kept after erasure (`app_label.model`) → the legal reason, all sections."""
    kept: dict[str, str] = {}
    for section in _SECTIONS.values():
        kept.update(section.kept)
    return kept


def erased_email(user_id: int) -> str:
    """An erased account's address: `.invalid` is reserved by RFC 2606 §2, never delivered."""
    return f"erased-{user_id}@invalid"


# ---- helpers the sections share ---------------------------------------------------------


def user_lock_active(*, user_id: int) -> User:
    """Lock the user's row and return it, or PermissionDenied when the account is erased
    or inactive. A service racing with `account_erase` (which holds this lock) calls it
    first, so it either runs before the erasure (which then anonymises what it wrote) or
    after it, and is refused."""
    user = User.objects.select_for_update().filter(pk=user_id, is_active=True).first()
    if user is None or user.erased_at is not None:
        raise PermissionDenied("This account is closed.")
    return user


def storage_delete_on_commit(names: Iterable[str]) -> None:
    """Delete files from the default storage once the transaction commits (storage is not
    transactional: a rollback must find the files still there)."""
    names = [n for n in names if n]

    def delete() -> None:
        for name in names:
            try:
                default_storage.delete(name)
            except Exception:  # one undeletable file must not keep the others
                logger.exception("privacy.file_delete_failed", extra={"name": name})

    if names:
        transaction.on_commit(delete)


# E-mails whose text is a key (a set-password, reset or enrolment link): an export is a
# file people forward, so their text stays out of it.
CREDENTIAL_EMAIL_TEMPLATES = frozenset(
    {"password_reset", "coordinator_invitation", "verification_link"}
)
CREDENTIAL_EMAIL_WITHHELD = "(withheld from the export: this e-mail carried a sign-in link)"


def _email_exported(email: dict[str, Any]) -> dict[str, Any]:
    """One e-mail of the export; the text of a `CREDENTIAL_EMAIL_TEMPLATES` one withheld."""
    if email["template"] in CREDENTIAL_EMAIL_TEMPLATES:
        return {**email, "body_text": CREDENTIAL_EMAIL_WITHHELD}
    return email


def outbound_emails_forget(*, addresses: Iterable[str]) -> int:
    """Delete the stored e-mails sent (or still to send) to these addresses. Returns how many.

    Our copy of an e-mail is an operational log, kept by no law; unsent ones
    must not go out to an erased person.
    """
    query = Q()
    for address in {a.strip().lower() for a in addresses if a and a.strip()}:
        query |= Q(to__iexact=address)
    if not query:
        return 0
    deleted, _counts = OutboundEmail.objects.filter(query).delete()
    return deleted


def _needles(texts: Iterable[str], words: Iterable[str]) -> list[re.Pattern[str]]:
    patterns = [
        re.compile(re.escape(t.strip()), re.IGNORECASE)
        for t in texts
        if t and len(t.strip()) >= MIN_REDACT_LENGTH
    ]
    patterns += [
        re.compile(rf"(?<!\w){re.escape(w.strip())}(?!\w)")
        for w in words
        if w and len(w.strip()) >= MIN_REDACT_LENGTH
    ]
    return patterns


def personal_text_redact(*, texts: Iterable[str] = (), words: Iterable[str] = ()) -> int:
    """Replace an erased person's strings with ERASED_TEXT where others' copies hold them:
    stored e-mails (subject, text; the HTML part is rebuilt) and notification titles.

    `texts` match anywhere, case-insensitively (an address, a message quoted in
    an e-mail); `words` match as whole words, case-sensitively (a first name).
    Strings shorter than MIN_REDACT_LENGTH are skipped. Returns the rows changed.
    """
    texts, words = list(texts), list(words)
    patterns = _needles(texts, words)
    if not patterns:
        return 0
    query = Q()
    for needle in [t.strip() for t in texts + words if t and len(t.strip()) >= MIN_REDACT_LENGTH]:
        query |= Q(subject__icontains=needle) | Q(body_text__icontains=needle)

    def redact(value: str) -> str:
        for pattern in patterns:
            value = pattern.sub(ERASED_TEXT, value)
        return value

    changed = 0
    for email in OutboundEmail.objects.filter(query).iterator():
        email.subject = redact(email.subject)
        email.body_text = redact(email.body_text)
        email.body_html = (
            email_html(subject=email.subject, text=email.body_text, language=email.language)
            if email.body_html
            else ""
        )
        email.save(update_fields=["subject", "body_text", "body_html"])
        changed += 1
    title_query = Q()
    for needle in [t.strip() for t in texts + words if t and len(t.strip()) >= MIN_REDACT_LENGTH]:
        title_query |= Q(title__icontains=needle)
    for notification in Notification.objects.filter(title_query).iterator():
        title = redact(notification.title)
        if title != notification.title:
            notification.title = title
            notification.save(update_fields=["title"])
            changed += 1
    return changed


def password_confirm(*, user: User, password: str) -> None:
    """Check the account's password before a self-service erasure.

    Raises ValidationFailed (field `password`) when it does not match.
    """
    if not password or not user.check_password(password):
        raise ValidationFailed(_("The password is not right."), field="password")


# ---- the services -----------------------------------------------------------------------


def account_erase_blockers(*, user: User) -> list[str]:
    """Why `user`'s account cannot be erased yet (translated sentences), [] when it can."""
    if user.erased_at is not None:
        return []
    reasons: list[str] = []
    for section in _SECTIONS.values():
        if section.blocker is not None:
            reasons += section.blocker(user)
    return reasons


def _readme(user: User, sections: list[PersonalDataSection], files: list[str]) -> str:
    with translation.override(user.language):
        lines = [
            _("Your personal data on Campus Marketplace"),
            "",
            _("Account %(id)s, exported on %(when)s (UTC).")
            % {"id": user.pk, "when": timezone.now().strftime("%Y-%m-%d %H:%M")},
            "",
            _(
                "data.json holds one entry per section below, in JSON (RFC 8259). Amounts are "
                "integers in the currency's minor unit (cents for EUR) beside an ISO 4217 code; "
                "dates are ISO 8601 in UTC."
            ),
            "",
        ]
        lines += [f"- {s.name}: {_(s.description)}" for s in sections]
        lines += ["", _("Files: %(count)s, under files/<section>/.") % {"count": len(files)}]
    return "\n".join(lines) + "\n"


def personal_data_export(*, user: User) -> bytes:
    """A ZIP of everything the platform holds about `user` (GDPR art. 15 and 20).

    `data.json`: `{format, exported_at, user_id, sections: {name: data}}`;
    `README.txt`: what each section is, in the user's language;
    `files/<section>/<name>`: the files they uploaded. A file missing from
    storage is left out and logged. Returns the archive's bytes.
    """
    sections = personal_data_sections()
    payload: dict[str, Any] = {
        "format": EXPORT_FORMAT,
        "exported_at": timezone.now(),
        "user_id": user.pk,
        "sections": {},
    }
    files: list[tuple[str, str]] = []
    for section in sections:
        exported = section.exporter(user)
        payload["sections"][section.name] = exported.data
        for name, storage_name in exported.files:
            safe = get_valid_filename(posixpath.basename(name)) or "file"
            files.append((f"files/{section.name}/{safe}", storage_name))
    buffer = io.BytesIO()
    written: list[str] = []
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "data.json",
            json.dumps(payload, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False),
        )
        for arcname, storage_name in files:
            try:
                with (
                    default_storage.open(storage_name, "rb") as src,
                    archive.open(arcname, "w") as dst,
                ):
                    shutil.copyfileobj(src, dst)
            except OSError:
                logger.warning("privacy.export_file_missing", extra={"name": storage_name})
                continue
            written.append(arcname)
        archive.writestr("README.txt", _readme(user, sections, written))
    logger.info("privacy.exported", extra={"user_id": user.pk, "files": len(written)})
    return buffer.getvalue()


def _may_erase(by: User | None, user: User) -> bool:
    if by is None or by.pk == user.pk:
        return True
    if not by.is_staff:
        return False
    return by.is_superuser or not (user.is_staff or user.is_superuser)


def account_erase(*, user_id: int, by: User | None, reason: str = "") -> User:
    """Erase an account (GDPR art. 17): every section's eraser, then the account itself.

    The account gets `erased-<id>@invalid` (RFC 2606), blank names, an
    unusable password, no groups or rights, `is_active=False` and `erased_at`;
    every refresh token is revoked. Rows the law makes us keep stay, without
    the person's name (`personal_data_kept`). `by` is the user themselves,
    staff (recorded in the audit trail with `reason`; only a superuser erases
    a staff account) or None for the system. Idempotent: an erased account is
    returned unchanged. One transaction, the user's row locked first.

    Raises NotFound (no such user), PermissionDenied (someone else's account),
    StateConflict with `extra={"blockers": [...]}` while a section blocks.
    """
    with transaction.atomic():
        user = User.objects.select_for_update().filter(pk=user_id).first()
        if user is None:
            raise NotFound("No such user.")
        if not _may_erase(by, user):
            raise PermissionDenied("You may not erase this account.")
        if user.erased_at is not None:
            return user
        blockers = account_erase_blockers(user=user)
        if blockers:
            raise StateConflict(
                _("This account cannot be erased yet: %(reasons)s")
                % {"reasons": " ".join(blockers)},
                extra={"blockers": blockers},
            )
        for section in _SECTIONS.values():
            section.eraser(user)
        user_tokens_revoke(user=user)
        user.email = erased_email(user.pk)
        user.first_name = user.last_name = ""
        user.set_unusable_password()
        user.is_active = user.is_staff = user.is_superuser = False
        user.erased_at = timezone.now()
        user.save()
        user.groups.clear()
        user.user_permissions.clear()
        LogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(User), object_id=str(user.pk)
        ).update(object_repr=str(user))
        if by is not None and by.is_staff and by.pk != user.pk:
            audit_record(actor=by, action="user.erase", subject=user, reason=reason)
    logger.info("privacy.erased", extra={"user_id": user.pk, "by": by.pk if by else None})
    return user


# ---- the accounts' own section ----------------------------------------------------------


def _accounts_export(user: User) -> Exported:
    membership = CompanyMembership.objects.select_related("company").filter(user=user).first()
    profile = StudentProfile.objects.filter(user=user).prefetch_related("skills").first()
    return Exported(
        {
            "user": {
                "id": user.pk,
                "email": user.email,
                "first_name": user.first_name,
                "last_name": user.last_name,
                "role": user.role,
                "language": user.language,
                "date_joined": user.date_joined,
                "last_login": user.last_login,
                "is_active": user.is_active,
            },
            "company_membership": membership
            and {
                "company_id": membership.company_id,
                "company_name": membership.company.name,
                "role": membership.role,
                "since": membership.created_at,
            },
            "student_profile": profile
            and {
                "headline": profile.headline,
                "bio": profile.bio,
                "skills": sorted(s.slug for s in profile.skills.all()),
                "day_rate_cents": profile.day_rate_cents,
                "currency": profile.currency,
                "availability": profile.availability,
                "portfolio_links": profile.portfolio_links,
            },
            "two_factor_devices": [
                {"name": d.name, "type": type(d).__name__, "confirmed": d.confirmed}
                for d in devices_for_user(user, confirmed=None)
            ],
            "notifications": list(
                Notification.objects.filter(user=user).values(
                    "kind", "title", "url", "created_at", "read_at"
                )
            ),
            "emails": [
                _email_exported(email)
                for email in OutboundEmail.objects.filter(to__iexact=user.email).values(
                    "template", "subject", "body_text", "status", "created_at", "sent_at"
                )
            ],
            "staff_actions": list(
                AuditEntry.objects.filter(actor=user).values(
                    "action", "subject_type", "subject_id", "reason", "created_at"
                )
            ),
        }
    )


def _accounts_erase(user: User) -> None:
    personal_text_redact(
        texts=[user.email, f"{user.first_name} {user.last_name}".strip()],
        words=[user.first_name, user.last_name],
    )
    outbound_emails_forget(addresses=[user.email])
    Notification.objects.filter(user=user).delete()
    CompanyMembership.objects.filter(user=user).delete()
    for device in devices_for_user(user, confirmed=None):
        device.delete()
    profile = StudentProfile.objects.filter(user=user).first()
    if profile is not None:
        skill_ids = list(profile.skills.values_list("pk", flat=True))
        profile.skills.clear()
        profile.headline = profile.bio = ""
        profile.portfolio_links = []
        profile.day_rate_cents = None
        profile.availability = StudentProfile.Availability.UNAVAILABLE
        profile.save(
            update_fields=["headline", "bio", "portfolio_links", "day_rate_cents", "availability"]
        )
        skill_student_counts_refresh(skill_ids=skill_ids)


def accounts_section_register() -> None:
    """Register the accounts' section (called from MarketplaceConfig.ready)."""
    personal_data_section_register(
        PersonalDataSection(
            name="account",
            description=gettext_noop(
                "your account (e-mail, names, role, language), your company seat, your "
                "student profile (headline, bio, skills, day rate, portfolio links), your "
                "two-factor devices (no secrets), your notifications, the e-mails we sent "
                "you and, for staff, the actions you took"
            ),
            exporter=_accounts_export,
            eraser=_accounts_erase,
            kept={
                "marketplace.auditentry": (
                    "staff actions that moved money or changed rights: accountability "
                    "(GDPR art. 5(2)) and legal claims (art. 17(3)(b), (e)); the acting "
                    "staff member's address at the time is kept as part of the record"
                ),
                "admin.logentry": (
                    "the admin's history of staff edits, kept for accountability (GDPR art. "
                    "5(2)); the erased account's entries show the anonymised address"
                ),
            },
        )
    )
