"""Reads of briefs, bids and contracts, always scoped to who is asking.

Object-level rules live here because DRF's object permissions never run on
list routes: a company sees its own briefs, bids and contracts; a student sees
open briefs meant for them, their own bids and contracts; a coordinator sees
open briefs meant for their school; staff see everything."""

from __future__ import annotations

from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    When,
)
from django.db.models.functions import Coalesce

from marketplace.errors import PermissionDenied
from marketplace.models import StudentProfile, User
from marketplace.selectors import user_company_id
from projects.briefs.models import Bid, Project
from schools.models import EnrolmentVerification

P = Project.Status


def project_visible_to(*, user: User) -> QuerySet[Project]:
    """Briefs the user may see (`ProjectQuerySet.visible_to`), without duplicates."""
    return Project.objects.visible_to(user)


def project_list(*, user: User) -> QuerySet[Project]:
    """Visible briefs with what a list shows, fetched in a constant number of queries."""
    bids = (
        Bid.objects.filter(project=OuterRef("pk"))
        .order_by()
        .values("project")
        .annotate(n=Count("pk"))
        .values("n")
    )
    # A subquery, not a join and GROUP BY: PostgreSQL computes it for the page's rows only,
    # and count() leaves it out.
    return (
        project_visible_to(user=user)
        .select_related("company")
        .prefetch_related("skills", "allowed_schools")
        .annotate(bid_count=Coalesce(Subquery(bids, output_field=IntegerField()), 0))
        .order_by("-created_at", "-id")
    )


def bid_visible_to(*, user: User) -> QuerySet[Bid]:
    """Bids the user may see: their own, or those on their company's briefs."""
    qs = Bid.objects.select_related("project", "student")
    if user.is_staff:
        return qs
    company_id = user_company_id(user=user)
    if company_id is not None:
        return qs.filter(project__company_id=company_id)
    if user.role == User.Role.STUDENT:
        return qs.filter(student=user)
    return qs.none()


def bid_list_for_project(*, project: Project, user: User) -> QuerySet[Bid]:
    """The brief's bids the user may see, newest first, with `student_verified` (whether the
    bidder's verification is in force, which accepting needs: `bid_actions` reads it)."""
    in_force = EnrolmentVerification.objects.in_force().filter(student=OuterRef("student_id"))
    return (
        bid_visible_to(user=user)
        .filter(project=project)
        .annotate(student_verified=Exists(in_force))
        .order_by("-created_at", "-id")
    )


def student_list_for(*, user: User) -> QuerySet[StudentProfile]:
    """Student profiles a company member or staff may browse, with `rating_hundredths`.

    Company members see the students verified today (as on a student's public
    profile); staff see every active student. `rating_hundredths` is the
    average public rating × 100 rounded down (NULL without reviews), for sorting.
    Raises PermissionDenied for students and coordinators.
    """
    if not user.is_staff and user_company_id(user=user) is None:
        raise PermissionDenied("Only companies and staff browse students.")
    qs = StudentProfile.objects.filter(user__is_active=True, user__role=User.Role.STUDENT)
    if not user.is_staff:
        in_force = EnrolmentVerification.objects.in_force().values("student_id")
        qs = qs.filter(user_id__in=in_force)
    return (
        qs.select_related("user")
        .prefetch_related("skills")
        .annotate(
            rating_hundredths=Case(
                When(review_count__gt=0, then=F("rating_total") * 100 / F("review_count")),
                default=None,
                output_field=IntegerField(),
            )
        )
    )
