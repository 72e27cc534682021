from __future__ import annotations

import datetime as dt

import pytest
from django.contrib import admin
from django.core import mail, signing
from django.test import RequestFactory
from django.utils import timezone

from marketplace.errors import ValidationFailed
from schools.addresses import school_email_canonical
from schools.admin import EnrolmentVerificationAdmin
from schools.models import EnrolmentVerification
from schools.selectors import TOKEN_SALT
from schools.services import (
    verification_confirm_email,
    verification_token_make,
)
from tests.factories import SchoolDomainFactory, SchoolFactory, StudentFactory, VerificationFactory
from tests.schools.claims import claim, live_claims

V = EnrolmentVerification.Status
HELD = "alice@school.edu"

# Other spellings of HELD's mailbox: accepted, and one canonical form with it.
SPELLINGS = {
    "case": "ALICE@School.EDU",
    "sub-address": "alice+2@school.edu",
    "sub-address-and-case": "Alice+Second.Account@SCHOOL.edu",
    "fullwidth-letter": "\uff41lice@school.edu",
    "fullwidth-local-part": "\uff41\uff4c\uff49\uff43\uff45@school.edu",
    "quoted": '"alice"@school.edu',
    "quoted-sub-address": '"alice+b"@school.edu',
}
# Look-alikes and hidden characters: refused outright.
LOOKALIKES = {
    "trailing-dot": "alice@school.edu.",
    "cyrillic-a": "\u0430lice@school.edu",
    "latin-alpha": "\u0251lice@school.edu",
    "zero-width-space": "al\u200bice@school.edu",
    "soft-hyphen": "ali\u00adce@school.edu",
    "byte-order-mark": "\ufeffalice@school.edu",
    "word-joiner": "alice\u2060@school.edu",
}
TRICKS = {**SPELLINGS, **LOOKALIKES}


# --- the function ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spelling",
    [
        "alice@school.edu",
        "ALICE@SCHOOL.EDU",
        "Alice@School.Edu",
        "alice+x@school.edu",
        "alice+@school.edu",
        "alice+x+y@school.edu",
        "alice@school.edu.",
        " alice@school.edu ",
        "\uff41lice@school.edu",
        "alice\uff20school.edu",
        '"alice"@school.edu',
        '"Alice+tag"@school.edu',
        "alice@SCHOOL.edu.",
    ],
)
def test_spellings_of_one_mailbox_share_one_canonical_form(spelling):
    assert school_email_canonical(spelling) == school_email_canonical("alice@school.edu")


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("jean.dupont@school.edu", "jeandupont@school.edu"),
        ("jean-dupont@school.edu", "jean@school.edu"),
        ("alice@school.edu", "alice@student.school.edu"),
        ("alice@straße.de", "alice@strasse.de"),
        ("søren@school.dk", "soren@school.dk"),
    ],
)
def test_different_mailboxes_keep_different_canonical_forms(one, other):
    assert school_email_canonical(one) != school_email_canonical(other)


def test_the_canonical_form_is_lower_case_with_an_ascii_domain():
    canonical = school_email_canonical("Étudiant+Cours@ÉCOLE.FR")
    local, domain = canonical.split("@")
    assert local == local.casefold()
    assert domain.isascii() and domain == domain.lower()
    assert "+" not in local
    assert school_email_canonical(canonical) == canonical


@pytest.mark.parametrize(
    "email",
    ["étudiant@école.fr", "müller@uni.de", "łukasz@uw.edu.pl", "o'neil@school.edu", "a_b@x.edu"],
)
def test_real_names_in_one_script_are_accepted(email):
    assert school_email_canonical(email).split("@")[0] == email.split("@")[0].casefold()


@pytest.mark.parametrize(
    "email",
    [
        "\u0430lice@school.edu",  # Cyrillic а
        "\u0441\u0430\u0448\u0430@school.edu",  # all Cyrillic, but с and а pass for c and a
        "p\u0430yp\u0430l@school.edu",
        "\u03bfscar@school.edu",  # Greek ο
        "\u0251lice@school.edu",  # Latin alpha
        "\u0131lker@school.edu",  # dotless ı
        "al\u200bice@school.edu",
        "al\u200cice@school.edu",
        "al\u200dice@school.edu",
        "ali\u00adce@school.edu",
        "\ufeffalice@school.edu",
        "alice\u2060@school.edu",
        "alice\ufe0f@school.edu",
        "alice\u034f@school.edu",
        "al\u0336ice@school.edu",  # a combining overlay left standing after NFKC
        '"al ice"@school.edu',
        '"al\\"ice"@school.edu',
        '"a@b"@school.edu',
        '""@school.edu',
        'al"ice@school.edu',
        '"alice@school.edu',
        "+tag@school.edu",
        ".alice@school.edu",
        "alice.@school.edu",
        "al..ice@school.edu",
        "al,ice@school.edu",
        "alice@@school.edu",
        "alice@school.edu..",
        "alice@",
        "@school.edu",
        "",
        "x" * 250 + "@school.edu",
    ],
)
def test_refused_addresses_name_the_school_email_field(email):
    with pytest.raises(ValidationFailed) as exc:
        school_email_canonical(email)
    assert exc.value.field == "school_email"
    assert exc.value.message


# --- attacks through the service --------------------------------------------------------------


@pytest.fixture
def school():  # type: ignore[no-untyped-def]
    school = SchoolFactory(domain=None)
    SchoolDomainFactory(school=school, domain="school.edu")
    return school


@pytest.mark.django_db
@pytest.mark.parametrize("status", [V.VERIFIED, V.PENDING_REVIEW])
@pytest.mark.parametrize("trick", sorted(TRICKS))
def test_a_trick_spelling_of_a_held_address_is_refused_by_the_service(school, trick, status):
    VerificationFactory(school=school, school_email=HELD, status=status)
    mallory = StudentFactory()
    with pytest.raises(ValidationFailed) as exc:
        claim(mallory, school, TRICKS[trick])
    assert exc.value.field == "school_email"
    assert not EnrolmentVerification.objects.filter(student=mallory).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("trick", sorted(LOOKALIKES))
def test_a_look_alike_is_refused_even_when_nobody_holds_the_address(school, trick):
    mallory = StudentFactory()
    with pytest.raises(ValidationFailed) as exc:
        claim(mallory, school, LOOKALIKES[trick])
    assert exc.value.field == "school_email"
    assert not EnrolmentVerification.objects.filter(student=mallory).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("trick", sorted(SPELLINGS))
def test_the_plain_address_is_refused_once_another_spelling_is_held(school, trick):
    first = claim(StudentFactory(), school, SPELLINGS[trick])
    verification_confirm_email(token=verification_token_make(verification=first))
    alice = StudentFactory()
    with pytest.raises(ValidationFailed) as exc:
        claim(alice, school, HELD)
    assert exc.value.field == "school_email"
    assert live_claims(school_email_canonical(HELD)) == 1


@pytest.mark.django_db
def test_two_unconfirmed_spellings_the_first_confirmation_wins(school):
    alice = claim(StudentFactory(), school, HELD)
    mallory = claim(StudentFactory(), school, "ALICE+me@School.edu")

    verification_confirm_email(token=verification_token_make(verification=alice))
    with pytest.raises(ValidationFailed) as exc:
        verification_confirm_email(token=verification_token_make(verification=mallory))

    assert exc.value.field == "token"
    mallory.refresh_from_db()
    assert mallory.status == V.PENDING_EMAIL
    assert live_claims(school_email_canonical(HELD)) == 1


@pytest.mark.django_db
def test_the_address_is_kept_as_typed_and_mailed_there(school, django_capture_on_commit_callbacks):
    typed = "Alice.Martin+Cours@SCHOOL.edu"
    with django_capture_on_commit_callbacks(execute=True):
        verification = claim(StudentFactory(), school, typed)
    verification.refresh_from_db()
    assert verification.school_email.split("@")[0] == typed.split("@")[0]
    assert verification.school_email_canonical == school_email_canonical(typed)
    assert [message.to for message in mail.outbox] == [[verification.school_email]]


@pytest.mark.django_db
def test_a_link_mailed_before_the_canonical_form_still_confirms(school):
    verification = claim(StudentFactory(), school, "Alice+x@school.edu")
    old_token = signing.dumps(
        {"v": verification.pk, "e": verification.school_email}, salt=TOKEN_SALT, compress=True
    )
    assert verification_confirm_email(token=old_token).status == V.PENDING_REVIEW


@pytest.mark.django_db
def test_a_row_without_canonical_form_is_checked_when_confirmed(school):
    VerificationFactory(school=school, school_email=HELD)
    pending = VerificationFactory(
        school=school,
        school_email="Alice+old@school.edu",
        school_email_canonical=None,
        status=V.PENDING_EMAIL,
        decided_at=None,
    )
    with pytest.raises(ValidationFailed):
        verification_confirm_email(token=verification_token_make(verification=pending))
    pending.refresh_from_db()
    assert pending.status == V.PENDING_EMAIL


@pytest.mark.django_db
def test_the_same_student_may_come_back_after_a_rejection(school):
    student = StudentFactory()
    VerificationFactory(school=school, student=student, school_email=HELD, status=V.REJECTED)
    assert claim(student, school, "Alice+again@school.edu").status == V.PENDING_EMAIL


# --- attacks through the API ----------------------------------------------------------------


def _post(client, school_id: int, email: str):  # type: ignore[no-untyped-def]
    return client.post(
        "/api/v1/verifications/",
        {
            "school": school_id,
            "school_email": email,
            "program": "MSc",
            "graduation_date": (timezone.localdate() + dt.timedelta(days=365)).isoformat(),
        },
        format="json",
    )


@pytest.mark.django_db
@pytest.mark.parametrize("trick", sorted(TRICKS))
def test_a_trick_spelling_of_a_held_address_answers_400_naming_school_email(school, as_user, trick):
    holder = StudentFactory()
    assert _post(as_user(holder), school.pk, HELD).status_code == 201
    held = EnrolmentVerification.objects.get(student=holder)
    verification_confirm_email(token=verification_token_make(verification=held))
    before = EnrolmentVerification.objects.count()

    res = _post(as_user(StudentFactory()), school.pk, TRICKS[trick])

    assert res.status_code == 400, res.content
    assert res.json()["code"] == "invalid"
    assert "school_email" in res.json()["errors"], res.json()
    assert EnrolmentVerification.objects.count() == before


@pytest.mark.django_db
def test_a_second_spelling_confirmed_through_the_api_answers_400(school, as_user):
    alice, mallory = StudentFactory(), StudentFactory()
    assert _post(as_user(alice), school.pk, HELD).status_code == 201
    assert _post(as_user(mallory), school.pk, "ALICE+x@school.edu").status_code == 201
    tokens = {
        v.student_id: verification_token_make(verification=v)
        for v in EnrolmentVerification.objects.all()
    }
    confirm = "/api/v1/verifications/confirm/"
    res = as_user(alice).post(confirm, {"token": tokens[alice.pk]}, format="json")
    assert res.status_code == 200, res.content
    res = as_user(mallory).post(confirm, {"token": tokens[mallory.pk]}, format="json")
    assert res.status_code == 400, res.content
    assert "token" in res.json()["errors"]
    assert live_claims(school_email_canonical(HELD)) == 1


# --- admin ------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("term", ["ALICE+old@School.EDU", HELD, "alice@school"])
def test_the_admin_finds_every_spelling_of_a_searched_address(school, term):
    kept = VerificationFactory(school=school, school_email="Alice+Cours@school.edu")
    VerificationFactory(school=school)
    model_admin = EnrolmentVerificationAdmin(EnrolmentVerification, admin.site)
    request = RequestFactory().get("/admin/")
    found, _ = model_admin.get_search_results(request, EnrolmentVerification.objects.all(), term)
    assert list(found) == [kept]


def test_the_admin_shows_the_canonical_address_read_only():
    model_admin = EnrolmentVerificationAdmin(EnrolmentVerification, admin.site)
    assert "school_email_canonical" in model_admin.readonly_fields
    assert "school_email_canonical" in model_admin.search_fields
