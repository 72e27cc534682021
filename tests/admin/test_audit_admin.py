from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from marketplace.audit import audit_record
from marketplace.errors import TransientError
from marketplace.models import AuditEntry, FailedTask, User
from payments.gateways.dummy import DummyGateway
from payments.models import Escrow
from projects.contracts.services import milestone_approve
from schools.models import Coordinator
from tests.factories import SchoolFactory, StudentFactory, UserFactory
from tests.factories.milestones import submitted_milestone
from tests.twofactor import login_with_second_factor

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:marketplace_auditentry_changelist")


def _change_url(entry: AuditEntry) -> str:
    return reverse("admin:marketplace_auditentry_change", args=[entry.pk])


def _entries(n: int, subject: User) -> None:
    for i in range(n):
        audit_record(actor=subject, action="user.deactivate", subject=subject, reason=f"reason {i}")


# The trail in the admin


def test_the_changelist_lists_entries_with_a_link_to_their_subject(staff_client, superuser):
    student = StudentFactory()
    entry = audit_record(actor=superuser, action="user.deactivate", subject=student, reason="Spam")
    audit_record(actor=None, action="refund.outside")

    page = staff_client.get(CHANGELIST).content.decode()

    assert superuser.email in page
    assert "user.deactivate" in page and "refund.outside" in page and "Spam" in page
    assert reverse("admin:marketplace_user_change", args=[student.pk]) in page
    filtered = staff_client.get(CHANGELIST, {"action": "refund.outside"}).content.decode()
    assert _change_url(entry) not in filtered
    found = staff_client.get(CHANGELIST, {"q": str(student.pk)}).content.decode()
    assert _change_url(entry) in found


def test_a_subject_without_an_admin_page_is_shown_without_a_link(staff_client, superuser):
    entry = AuditEntry.objects.create(
        actor=superuser, action="x.y", subject_type="nowhere.thing", subject_id="7"
    )
    page = staff_client.get(CHANGELIST).content.decode()
    assert "nowhere.thing 7" in page
    assert staff_client.get(_change_url(entry)).status_code == 200


def test_an_entry_can_be_read_but_not_saved_or_deleted(staff_client, superuser):
    entry = audit_record(actor=superuser, action="user.deactivate", detail={"tokens": 3})

    page = staff_client.get(_change_url(entry))

    assert page.status_code == 200
    html = page.content.decode()
    assert "tokens" in html
    assert 'name="_save"' not in html
    assert reverse("admin:marketplace_auditentry_delete", args=[entry.pk]) not in html
    assert staff_client.post(_change_url(entry), {"reason": "x"}).status_code == 403
    delete = reverse("admin:marketplace_auditentry_delete", args=[entry.pk])
    assert staff_client.post(delete, {"post": "yes"}).status_code == 403
    assert staff_client.get(reverse("admin:marketplace_auditentry_add")).status_code == 403
    assert AuditEntry.objects.get(pk=entry.pk).action == "user.deactivate"


def test_the_changelist_offers_no_bulk_action(staff_client, superuser):
    entry = audit_record(actor=superuser, action="user.deactivate")
    page = staff_client.get(CHANGELIST).content.decode()
    assert "delete_selected" not in page
    staff_client.post(CHANGELIST, {"action": "delete_selected", "_selected_action": [entry.pk]})
    assert AuditEntry.objects.filter(pk=entry.pk).exists()


def test_only_staff_with_the_view_permission_reach_it(client, superuser):
    audit_record(actor=superuser, action="user.deactivate")
    client.force_login(StudentFactory())
    assert client.get(CHANGELIST).status_code == 302  # to the admin's sign-in

    staff = UserFactory(role=User.Role.ADMIN, is_staff=True)
    login_with_second_factor(client, staff)
    assert client.get(CHANGELIST).status_code == 403

    staff.user_permissions.add(Permission.objects.get(codename="view_auditentry"))
    assert client.get(CHANGELIST).status_code == 200


def test_the_changelist_runs_the_same_queries_for_more_entries(staff_client, superuser):
    _entries(2, StudentFactory())
    staff_client.get(CHANGELIST)  # warm the caches (content types, sessions)
    with CaptureQueriesContext(connection) as few:
        assert staff_client.get(CHANGELIST).status_code == 200
    _entries(20, StudentFactory())
    with CaptureQueriesContext(connection) as more:
        assert staff_client.get(CHANGELIST).status_code == 200
    assert len(more) == len(few), [q["sql"] for q in more.captured_queries]


# Staff actions in the admin that write it


def _user_form(user: User, **changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "role": user.role,
        "language": user.language,
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
        "groups": list(user.groups.values_list("pk", flat=True)),
        "user_permissions": list(user.user_permissions.values_list("pk", flat=True)),
        "access_reason": "",
    }
    for flag in ("is_active", "is_staff", "is_superuser"):
        if getattr(user, flag):
            data[flag] = "on"
    for name, value in changes.items():
        if value is False:
            data.pop(name, None)
        else:
            data[name] = "on" if value is True else value
    return data


def _user_url(user: User) -> str:
    return reverse("admin:marketplace_user_change", args=[user.pk])


def test_unticking_active_deactivates_through_the_service(staff_client, superuser):
    student = StudentFactory()

    res = staff_client.post(
        _user_url(student), _user_form(student, is_active=False, access_reason="Fraud")
    )

    assert res.status_code == 302
    student.refresh_from_db()
    assert not student.is_active
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.action, entry.reason) == (superuser, "user.deactivate", "Fraud")
    assert entry.subject_id == str(student.pk)


def test_deactivating_without_a_reason_is_refused_on_the_form(staff_client):
    student = StudentFactory()

    res = staff_client.post(_user_url(student), _user_form(student, is_active=False))

    assert res.status_code == 200
    assert res.context["adminform"].form.errors["access_reason"]
    student.refresh_from_db()
    assert student.is_active
    assert not AuditEntry.objects.exists()


def test_nobody_deactivates_themselves_from_the_form(staff_client, superuser):
    res = staff_client.post(
        _user_url(superuser), _user_form(superuser, is_active=False, access_reason="Bye")
    )
    assert res.status_code == 200
    assert res.context["adminform"].form.errors["is_active"]
    superuser.refresh_from_db()
    assert superuser.is_active


def test_a_change_of_rights_is_audited_with_before_and_after(staff_client, superuser):
    student = StudentFactory()
    support = Group.objects.create(name="Support")

    staff_client.post(
        _user_url(student),
        _user_form(student, is_staff=True, groups=[support.pk], access_reason="Joins support"),
    )

    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.action, entry.reason) == (
        superuser,
        "user.rights_change",
        "Joins support",
    )
    assert entry.detail == {
        "before": {"is_staff": False, "groups": []},
        "after": {"is_staff": True, "groups": ["Support"]},
    }


def test_editing_a_name_is_not_a_change_of_rights(staff_client):
    student = StudentFactory()
    res = staff_client.post(_user_url(student), _user_form(student, first_name="Renamed"))
    assert res.status_code == 302
    assert not AuditEntry.objects.exists()


def test_the_deactivate_action_asks_for_a_reason_then_audits_each_account(staff_client, superuser):
    students = [StudentFactory(), StudentFactory()]
    url = reverse("admin:marketplace_user_changelist")
    chosen = {"action": "deactivate_users", "_selected_action": [s.pk for s in students]}

    ask = staff_client.post(url, chosen)
    assert ask.status_code == 200
    assert all(s.email in ask.content.decode() for s in students)
    assert not AuditEntry.objects.exists()

    staff_client.post(url, {**chosen, "confirm": "yes", "reason": "Spam ring"})

    assert not User.objects.filter(pk__in=[s.pk for s in students], is_active=True).exists()
    entries = AuditEntry.objects.filter(action="user.deactivate")
    assert sorted(int(e.subject_id) for e in entries) == sorted(s.pk for s in students)
    assert {(e.actor_id, e.reason) for e in entries} == {(superuser.pk, "Spam ring")}


def test_coordinators_assigned_and_removed_in_the_admin_are_audited(staff_client, superuser):
    user, school = UserFactory(role=User.Role.COORDINATOR), SchoolFactory()

    staff_client.post(
        reverse("admin:schools_coordinator_add"), {"user": user.pk, "school": school.pk}
    )
    coordinator = Coordinator.objects.get(user=user)
    staff_client.post(
        reverse("admin:schools_coordinator_delete", args=[coordinator.pk]), {"post": "yes"}
    )

    assert not Coordinator.objects.filter(user=user).exists()
    assign, remove = AuditEntry.objects.order_by("id")
    assert (assign.action, assign.actor) == ("coordinator.assign", superuser)
    assert assign.detail["school_id"] == [None, school.pk]
    assert (remove.action, remove.subject_id) == ("coordinator.remove", str(coordinator.pk))


def test_the_coordinator_api_audits_the_invitation(as_user, superuser):
    res = as_user(superuser).post(
        "/api/v1/admin/coordinators/",
        {
            "email": "c@school.example",
            "school": SchoolFactory().pk,
            "first_name": "C",
            "last_name": "D",
        },
        format="json",
    )
    assert res.status_code == 201
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.actor) == ("coordinator.invite", superuser)


def test_retrying_a_transfer_from_the_escrow_list_is_audited(staff_client, superuser, monkeypatch):
    milestone = submitted_milestone()

    def down(self, **kwargs):  # type: ignore[no-untyped-def]
        raise TransientError("Stripe is down")

    with monkeypatch.context() as patch:
        patch.setattr(DummyGateway, "create_transfer", down)
        milestone_approve(milestone_id=milestone.pk, by=milestone.contract.project.created_by)

    staff_client.post(
        reverse("admin:payments_escrow_changelist"),
        {"action": "retry_transfer", "_selected_action": [milestone.escrow_id]},
    )

    assert Escrow.objects.get(pk=milestone.escrow_id).status == Escrow.Status.RELEASED
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.actor, entry.subject_id) == (
        "transfer.retry",
        superuser,
        str(milestone.escrow_id),
    )


def test_running_a_failed_task_again_is_audited(staff_client, superuser):
    failed = FailedTask.objects.create(
        task_name="marketplace.tasks.send_email_task", kwargs={"email_id": 0}, error="boom"
    )
    staff_client.post(
        reverse("admin:marketplace_failedtask_changelist"),
        {"action": "retry_failed_tasks", "_selected_action": [failed.pk]},
    )
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.actor) == ("task.retry", superuser)
    assert entry.detail == {"task_name": failed.task_name, "kwargs": {"email_id": 0}}
