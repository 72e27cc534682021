"""The trail of staff actions: who moved money or changed someone's rights, and why.

Every service that does such a thing for staff calls `audit_record` inside its
own transaction, so the entry commits with the action or not at all.
"""

from __future__ import annotations

from typing import Any

from django.db import models

from marketplace.models import AuditEntry, User


def audit_record(
    *,
    actor: User | None,
    action: str,
    subject: models.Model | None = None,
    detail: dict[str, Any] | None = None,
    reason: str = "",
) -> AuditEntry:
    """Append one entry: `action` is a dotted name such as `dispute.resolve`.

    `subject` is the row acted on (its `app_label.model` and primary key are
    kept, not a foreign key); `detail` holds JSON values only (ids, amounts
    in minor units with their currency, states). Returns the new entry.
    """
    return AuditEntry.objects.create(
        actor=actor if actor is not None and actor.pk else None,
        actor_email=actor.email if actor is not None and actor.pk else "",
        action=action,
        subject_type=subject._meta.label_lower if subject is not None else "",
        subject_id=str(subject.pk) if subject is not None else "",
        detail=detail or {},
        reason=reason,
    )
