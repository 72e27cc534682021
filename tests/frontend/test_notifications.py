from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from frontend.views.notifications import web_url
from marketplace.models import Notification
from tests.factories import CompanyMemberFactory, CoordinatorFactory, StudentFactory
from tests.frontend.helpers import messages_of
from tests.twofactor import login_with_second_factor

pytestmark = pytest.mark.django_db


def _notify(user, title: str = "Something happened", url: str = "", *, read: bool = False, age=0):
    now = timezone.now()
    return Notification.objects.create(
        user=user,
        key=f"test:{Notification.objects.count()}:{title}",
        kind="test",
        title=title,
        url=url,
        created_at=now - dt.timedelta(minutes=age),
        read_at=now if read else None,
    )


@pytest.mark.parametrize(
    ("url", "role", "page"),
    [
        ("/api/v1/contracts/12/", "company", "/company/contracts/12/"),
        ("/api/v1/contracts/12/reviews/", "company", "/company/contracts/12/"),
        ("/api/v1/contracts/12/messages/", "student", "/student/contracts/12/"),
        ("/api/v1/projects/7/bids/", "company", "/company/briefs/7/bids/"),
        ("/api/v1/projects/7/bids/", "student", "/student/briefs/7/"),
        ("/api/v1/projects/7/", "company", "/company/briefs/7/"),
        ("/api/v1/projects/7/questions/", "student", "/student/briefs/7/"),
        ("/api/v1/verifications/", "coordinator", "/school/requests/"),
        ("/api/v1/verifications/", "student", "/student/verification/"),
        ("/api/v1/contracts/12/", "coordinator", "/api/v1/contracts/12/"),
        ("/admin/payments/escrow/3/change/", "company", "/admin/payments/escrow/3/change/"),
        ("https://connect.stripe.com/express", "student", "https://connect.stripe.com/express"),
        ("", "company", ""),
    ],
)
def test_api_urls_become_the_pages_of_the_readers_role(url, role, page):
    assert web_url(url, role=role) == page


@pytest.mark.parametrize(
    "make_user", [CompanyMemberFactory, StudentFactory, lambda: CoordinatorFactory().user]
)
def test_every_role_reads_its_own_notifications_newest_first(client, make_user):
    user = make_user()
    _notify(user, "Older news", age=10)
    _notify(user, "Latest news")
    _notify(StudentFactory(), "Someone else's news")
    login_with_second_factor(client, user)
    html = client.get("/notifications/").content.decode()
    assert html.index("Latest news") < html.index("Older news")
    assert "Someone else's news" not in html
    assert "2 unread notifications." in html
    assert '<span class="badge">2<span class="visually-hidden"> unread</span></span>' in html


def test_anonymous_visitors_are_sent_to_sign_in(client):
    res = client.get("/notifications/")
    assert res.status_code == 302
    assert res["Location"] == "/signin/?next=/notifications/"
    assert client.post("/notifications/read-all/").status_code == 302


def test_the_empty_states(client):
    user = StudentFactory()
    client.force_login(user)
    html = client.get("/notifications/").content.decode()
    assert "No notifications yet" in html
    assert "Mark all as read" not in html
    assert 'class="badge"' not in html
    _notify(user, "Old news", read=True)
    html = client.get("/notifications/?unread=1").content.decode()
    assert "Nothing unread." in html
    assert "Old news" not in html


def test_the_links_lead_to_the_readers_pages(client):
    user = CompanyMemberFactory()
    _notify(user, "Milestone delivered", url="/api/v1/contracts/41/")
    _notify(user, "A notice without a page")
    client.force_login(user)
    html = client.get("/notifications/").content.decode()
    assert '<a href="/company/contracts/41/">Milestone delivered</a>' in html
    assert '<h2><span class="badge">New</span> A notice without a page</h2>' in html


def test_marking_one_read_keeps_the_list_the_user_was_on(client):
    user = StudentFactory()
    first = _notify(user, "First")
    _notify(user, "Second")
    client.force_login(user)
    res = client.post(f"/notifications/{first.pk}/read/?unread=1&page=1&other=x")
    assert res.status_code == 302
    assert res["Location"] == "/notifications/?page=1&unread=1"
    res = client.get(res["Location"])
    assert messages_of(res) == ["Marked as read."]
    first.refresh_from_db()
    assert first.read_at is not None
    html = res.content.decode()
    assert "First" not in html
    assert "1 unread notification." in html


def test_nobody_marks_anothers_notification_and_marking_needs_a_post(client):
    theirs = _notify(StudentFactory())
    client.force_login(StudentFactory())
    assert client.post(f"/notifications/{theirs.pk}/read/").status_code == 404
    assert client.get(f"/notifications/{theirs.pk}/read/").status_code == 405
    assert client.get("/notifications/read-all/").status_code == 405
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_marking_all_read_counts_only_the_users_own(client):
    user = CompanyMemberFactory()
    for title in ("One", "Two"):
        _notify(user, title)
    theirs = _notify(StudentFactory())
    client.force_login(user)
    res = client.post("/notifications/read-all/", follow=True)
    assert messages_of(res) == ["2 notifications marked as read."]
    assert not Notification.objects.filter(user=user, read_at__isnull=True).exists()
    theirs.refresh_from_db()
    assert theirs.read_at is None
    res = client.post("/notifications/read-all/", follow=True)
    assert messages_of(res) == ["Everything was read already."]


def test_the_nav_shows_the_unread_count_on_other_pages(client):
    user = CompanyMemberFactory()
    for _ in range(3):
        _notify(user)
    client.force_login(user)
    html = client.get("/company/").content.decode()
    assert '<span class="badge">3<span class="visually-hidden"> unread</span></span>' in html


def test_the_list_is_paginated_in_constant_queries(client, django_assert_num_queries):
    user = CompanyMemberFactory()
    _notify(user, url="/api/v1/contracts/1/")
    client.force_login(user)
    with django_assert_num_queries(5) as one:
        client.get("/notifications/")
    for i in range(30):
        _notify(user, f"News {i}", url=f"/api/v1/projects/{i}/", read=i % 2 == 0)
    with django_assert_num_queries(len(one.captured_queries)):
        html = client.get("/notifications/?page=2").content.decode()
    assert "Page 2 of 2" in html
    assert html.count('class="card"') == 11
