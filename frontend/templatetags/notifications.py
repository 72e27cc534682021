"""The unread count beside the nav's notifications link: `{% load notifications %}`."""

from __future__ import annotations

from django import template

from marketplace.selectors import notification_unread_count

register = template.Library()


@register.simple_tag(takes_context=True)
def unread_notifications(context: template.Context) -> int:
    """How many notifications the signed-in user has not read: one COUNT query per request."""
    request = context["request"]
    if not hasattr(request, "_unread_notifications"):
        request._unread_notifications = notification_unread_count(user=request.user)
    return request._unread_notifications
