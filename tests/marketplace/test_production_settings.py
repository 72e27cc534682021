"""Production settings, read in a fresh interpreter as a deployment would.

Each run gets only PATH, HOME and the variables the test names, and ENV_FILE points at
an empty file: neither the developer's environment nor a stray .env can fill a gap.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core import signing
from django.test import override_settings
from django.urls import reverse

from marketplace.errors import ValidationFailed
from schools.selectors import verification_token_read
from schools.services import verification_token_make
from tests.factories import CompanyMemberFactory, VerificationFactory

ROOT = Path(__file__).resolve().parents[2]
STRONG_KEY = "Kq3v8Zp2mW9tX4rL7yB1nC6dF0gH5jS8aE2uR7iO4pT9wQ3zV6xY1-_kM5cN8bJ0"
OLD_KEY = "Dh7Gf2Lk9Pq4Ws1Xz8Cv3Bn6Mj0Ht5Ry2Ue7Io4Pa9Sd1Fg6Jk3Lz8Xc5Vb0Nm-_Q"
READ = (
    "import json, django; django.setup(); from django.conf import settings; "
    "db = settings.DATABASES['default']; "
    "print(json.dumps({'options': db.get('OPTIONS', {}), 'age': db['CONN_MAX_AGE']}))"
)


@pytest.fixture
def environment(tmp_path: Path) -> dict[str, str]:
    """A complete production environment, on an SQLite file of its own."""
    empty = tmp_path / "empty.env"
    empty.write_text("")
    return {
        "ENV_FILE": str(empty),
        "DJANGO_SETTINGS_MODULE": "marketplace.settings.production",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "SECRET_KEY": STRONG_KEY,
        "ALLOWED_HOSTS": "marketplace.example.org",
        "EMAIL_URL": "smtp+tls://mailer:secret@smtp.example.org:587",
        "STRIPE_SECRET_KEY": "sk_test_51Example",
        "STRIPE_PUBLISHABLE_KEY": "pk_test_51Example",
        "STRIPE_WEBHOOK_SECRET": "whsec_platform",
        "STRIPE_CONNECT_WEBHOOK_SECRET": "whsec_connect",
    }


def _run(
    args: list[str], environment: dict[str, str], **changes: str | None
) -> subprocess.CompletedProcess[str]:
    """Runs `python args` with only PATH, HOME and `environment` with `changes`
    (None unsets a variable)."""
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}
    env.update(environment)
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def _start(environment: dict[str, str], **changes: str | None):
    return _run(["-c", READ], environment, **changes)


def test_deploy_check_passes_with_a_complete_environment(environment):
    done = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], environment)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout


def test_hsts_without_subdomains_is_allowed_but_the_deploy_check_says_so(environment):
    done = _run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        environment,
        SECURE_HSTS_INCLUDE_SUBDOMAINS="false",
    )
    assert done.returncode != 0
    assert "security.W005" in done.stdout + done.stderr


def test_production_keeps_the_database_options_of_the_base_settings(environment):
    done = _start(environment, DATABASE_URL="postgres://app@db.example:5432/app")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"options": {"options": "-c jit=off"}, "age": 60}


WEAK = "ab" * 40


@pytest.mark.parametrize(
    ("changes", "variable"),
    [
        ({"DATABASE_URL": None}, "DATABASE_URL"),
        ({"PAYMENT_GATEWAY": "dummy"}, "PAYMENT_GATEWAY"),
        ({"STRIPE_SECRET_KEY": None}, "STRIPE_SECRET_KEY"),
        ({"STRIPE_PUBLISHABLE_KEY": None}, "STRIPE_PUBLISHABLE_KEY"),
        ({"STRIPE_WEBHOOK_SECRET": None}, "STRIPE_WEBHOOK_SECRET"),
        ({"STRIPE_CONNECT_WEBHOOK_SECRET": None}, "STRIPE_CONNECT_WEBHOOK_SECRET"),
        # A secret key in the publishable slot would be printed into the card form's page.
        ({"STRIPE_PUBLISHABLE_KEY": "sk_live_51Secret"}, "STRIPE_PUBLISHABLE_KEY"),
        ({"STRIPE_SECRET_KEY": "sk_live_51Example"}, "mix live and test"),
        ({"STRIPE_WEBHOOK_SECRET": "sk_test_51Example"}, "STRIPE_WEBHOOK_SECRET"),
        ({"DEBUG": "true"}, "DEBUG"),
        ({"SECRET_KEY": None}, "SECRET_KEY"),
        ({"SECRET_KEY": ""}, "SECRET_KEY"),
        ({"SECRET_KEY": "insecure-local-only-key-change-me"}, "SECRET_KEY"),
        ({"SECRET_KEY": "django-insecure-" + STRONG_KEY}, "SECRET_KEY"),
        ({"SECRET_KEY": STRONG_KEY[:49]}, "SECRET_KEY"),
        ({"SECRET_KEY": WEAK}, "SECRET_KEY"),
        # A published key among the fallbacks would still let anyone forge sessions.
        ({"SECRET_KEY_FALLBACKS": f"{OLD_KEY},insecure-local-only-key-change-me"}, "[1]"),
        ({"ALLOWED_HOSTS": None}, "ALLOWED_HOSTS"),
        ({"ALLOWED_HOSTS": "*"}, "ALLOWED_HOSTS"),
        ({"ALLOWED_HOSTS": "marketplace.example.org,*"}, "ALLOWED_HOSTS"),
        ({"EMAIL_URL": None}, "EMAIL_BACKEND"),
        (
            {"EMAIL_URL": None, "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend"},
            "EMAIL_BACKEND",
        ),
        ({"TWO_FACTOR_REQUIRED": "false"}, "TWO_FACTOR_REQUIRED"),
    ],
)
def test_production_refuses_to_start(environment, changes, variable):
    done = _start(environment, **changes)
    assert done.returncode != 0
    assert "ImproperlyConfigured" in done.stderr
    assert variable in done.stderr


def test_production_refuses_the_key_of_the_test_settings(environment):
    done = _start(environment, SECRET_KEY=settings.SECRET_KEY)
    assert done.returncode != 0
    assert "SECRET_KEY is a key published with the code" in done.stderr


def test_production_names_every_problem_at_once(environment):
    done = _start(environment, DEBUG="true", ALLOWED_HOSTS=None, STRIPE_WEBHOOK_SECRET=None)
    assert done.returncode != 0
    for variable in ("DEBUG", "ALLOWED_HOSTS", "STRIPE_WEBHOOK_SECRET"):
        assert variable in done.stderr


def test_production_accepts_strong_fallback_keys(environment):
    done = _start(environment, SECRET_KEY_FALLBACKS=OLD_KEY)
    assert done.returncode == 0, done.stderr


def test_the_env_file_is_the_one_env_file_names(environment, tmp_path):
    dotenv = tmp_path / "stray.env"
    dotenv.write_text("DEBUG=true\n")
    done = _start(environment, ENV_FILE=str(dotenv))
    assert done.returncode != 0
    assert "DEBUG is on" in done.stderr


def test_the_real_environment_wins_over_the_env_file(environment, tmp_path):
    dotenv = tmp_path / "stray.env"
    dotenv.write_text("DEBUG=true\nSTRIPE_SECRET_KEY=\n")
    done = _start(environment, ENV_FILE=str(dotenv), DEBUG="false")
    assert done.returncode == 0, done.stderr


# Key rotation: SECRET_KEY_FALLBACKS (Django 4.1+, "Settings: SECRET_KEY_FALLBACKS").


@pytest.mark.django_db
@pytest.mark.parametrize(("fallbacks", "valid"), [([OLD_KEY], True), ([], False)])
def test_verification_links_survive_rotation_only_with_the_old_key_as_fallback(fallbacks, valid):
    verification = VerificationFactory()
    with override_settings(SECRET_KEY=OLD_KEY):
        token = verification_token_make(verification=verification)
    with override_settings(SECRET_KEY=STRONG_KEY, SECRET_KEY_FALLBACKS=fallbacks):
        if valid:
            assert verification_token_read(token=token) == (
                verification.pk,
                verification.school_email,
            )
        else:
            with pytest.raises(ValidationFailed):
                verification_token_read(token=token)


@pytest.mark.parametrize(("fallbacks", "valid"), [([OLD_KEY], True), ([], False)])
def test_signed_values_survive_rotation_only_with_the_old_key_as_fallback(fallbacks, valid):
    with override_settings(SECRET_KEY=OLD_KEY):
        value = signing.dumps({"n": 1}, salt="rotation")
    with override_settings(SECRET_KEY=STRONG_KEY, SECRET_KEY_FALLBACKS=fallbacks):
        if valid:
            assert signing.loads(value, salt="rotation") == {"n": 1}
        else:
            with pytest.raises(signing.BadSignature):
                signing.loads(value, salt="rotation")


def test_after_rotation_values_are_signed_with_the_new_key_only():
    with override_settings(SECRET_KEY=STRONG_KEY, SECRET_KEY_FALLBACKS=[OLD_KEY]):
        value = signing.dumps({"n": 2}, salt="rotation")
    with override_settings(SECRET_KEY=OLD_KEY), pytest.raises(signing.BadSignature):
        signing.loads(value, salt="rotation")


@pytest.mark.django_db
@pytest.mark.parametrize(("fallbacks", "signed_in"), [([OLD_KEY], True), ([], False)])
def test_sessions_survive_rotation_only_with_the_old_key_as_fallback(client, fallbacks, signed_in):
    with override_settings(SECRET_KEY=OLD_KEY):
        client.force_login(CompanyMemberFactory())
    with override_settings(SECRET_KEY=STRONG_KEY, SECRET_KEY_FALLBACKS=fallbacks):
        res = client.get(reverse("frontend:home"))
    assert res.wsgi_request.user.is_authenticated is signed_in
