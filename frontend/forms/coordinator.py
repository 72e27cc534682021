"""Forms of the school coordinator's pages: the reasons given to a student."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from frontend.forms import Form
from frontend.forms.fields import text_area


class RejectForm(Form):
    """Why an enrolment request is refused; the student reads it."""

    reason = text_area(
        _("Reason for rejecting"),
        rows=2,
        max_length=2000,
        help_text=_("The student reads it in their notification."),
    )


class RevokeForm(Form):
    """Why a verification in force is withdrawn; the student reads it."""

    reason = text_area(
        _("Reason for revoking"),
        rows=3,
        max_length=2000,
        help_text=_("For example: no longer enrolled. The student reads it."),
    )
