"""The product's words for stored values, per language (the models keep English labels)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

# The states as the API spells them, in words, per language.
STATUS_LABELS = {
    "draft": _("Draft"),
    "open": _("Open"),
    "in_progress": _("In progress"),
    "completed": _("Completed"),
    "cancelled": _("Cancelled"),
    "submitted": _("Submitted"),
    "shortlisted": _("Shortlisted"),
    "accepted": _("Accepted"),
    "rejected": _("Declined"),
    "withdrawn": _("Withdrawn"),
    "active": _("Active"),
    "disputed": _("Disputed"),
    "pending": _("Waiting for payment"),
    "funded": _("Paid into escrow"),
    "changes_requested": _("Changes requested"),
    "release_pending": _("Approved, payment on its way"),
    "released": _("Paid to the student"),
    "refund_pending": _("Refund on its way"),
    "refunded": _("Refunded"),
    "pending_email": _("Waiting for the e-mail confirmation"),
    "pending_review": _("Waiting for the coordinator"),
    "verified": _("Verified"),
    "expired": _("Expired"),
    "revoked": _("Revoked"),
}
GOOD = {"open", "accepted", "active", "completed", "funded", "released", "verified", "shortlisted"}
BAD = {"cancelled", "rejected", "withdrawn", "disputed", "refunded", "expired", "revoked"}


CATEGORY_LABELS = {
    "web": _("Website & web app"),
    "mobile": _("Mobile app"),
    "data": _("Data & AI"),
    "design": _("Design"),
    "marketing": _("Marketing & social media"),
    "business": _("Business plan & strategy"),
    "mentoring": _("Digital mentoring"),
    "other": _("Other"),
}
KIND_LABELS = {"project": _("Project"), "mentoring": _("Reverse-mentoring programme")}
VISIBILITY_LABELS = {"all": _("All verified students"), "schools": _("Chosen schools only")}
