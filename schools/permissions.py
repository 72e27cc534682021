"""Who may read a school's private pages (its students, its audit trail)."""

from __future__ import annotations

from marketplace.errors import NotFound, PermissionDenied
from marketplace.models import User
from schools.selectors import coordinator_school_id


def school_staff_check(*, user: User, school_id: int) -> None:
    """Allow staff and the school's own coordinator.

    Raises NotFound for another school's coordinator (they may not know what
    is there) and PermissionDenied for every other role.
    """
    if user.is_staff:
        return
    own = coordinator_school_id(user=user)
    if own is None:
        raise PermissionDenied("Only the school's coordinators and staff see this.")
    if own != school_id:
        raise NotFound("No such school.")
