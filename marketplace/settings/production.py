"""Production settings: real payments, real mail, a strong key, HTTPS only.

Production refuses to start, with ImproperlyConfigured naming each offending
variable, rather than run in test mode (the dummy gateway, printed mail, debug
pages, a published key). README "Production" lists what it needs;
`python manage.py check --deploy` passes with these defaults (Django
"Deployment checklist").
"""

from django.core.checks.security.base import _check_secret_key
from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import (
    DATABASES,
    DEBUG,
    EMAIL_BACKEND,
    PAYMENT_GATEWAY,
    SECRET_KEY_FALLBACKS,
    STRIPE_CONNECT_WEBHOOK_SECRET,
    STRIPE_PUBLISHABLE_KEY,
    STRIPE_SECRET_KEY,
    STRIPE_WEBHOOK_SECRET,
    TWO_FACTOR_REQUIRED,
    env,
)

ENVIRONMENT = "production"
SECRET_KEY = env("SECRET_KEY", default="")
# No default: the development hosts would hide a missing setting behind 400 answers.
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
env.db("DATABASE_URL")  # required here: no SQLite fallback (base read it, with its options)
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)

# HTTPS only, behind a proxy that terminates TLS and sets X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
# One year, subdomains and preload on: what `check --deploy` asks (W004, W005, W021).
# Both flags commit every subdomain to HTTPS for the max-age, and a domain submitted to
# the browsers' preload list leaves it only slowly: README "Production", HSTS.
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)

# Keys published in this repository: anyone could sign sessions and links with them.
KNOWN_SECRET_KEYS = frozenset(
    {"insecure-local-only-key-change-me", "test-only-secret-key-not-for-production-use"}
)
# Back ends that print, keep or drop mail instead of sending it.
MAIL_NOT_SENT = frozenset(
    f"django.core.mail.backends.{name}.EmailBackend"
    for name in ("console", "locmem", "dummy", "filebased")
)


def _key_problem(name: str, key: str) -> str | None:
    """Why `key` cannot sign in production, or None. Weak is Django's own rule (W009):
    fewer than 50 characters, fewer than 5 distinct ones, or the "django-insecure-" prefix.
    """
    if not key:
        return f"{name} is not set: generate one (README, Production)."
    if key in KNOWN_SECRET_KEYS:
        return f"{name} is a key published with the code: generate a new one."
    if not _check_secret_key(key):
        return (
            f"{name} is weak: at least 50 characters, 5 of them distinct, "
            "not starting with 'django-insecure-'."
        )
    return None


def _stripe_problems() -> list[str]:
    problems = []
    if PAYMENT_GATEWAY != "stripe":
        problems.append(
            f"PAYMENT_GATEWAY is {PAYMENT_GATEWAY!r}: production takes real payments (stripe)."
        )
    keys = [
        ("STRIPE_SECRET_KEY", STRIPE_SECRET_KEY, ("sk_", "rk_")),
        # Rendered into the card form's page: a secret key here would be published.
        ("STRIPE_PUBLISHABLE_KEY", STRIPE_PUBLISHABLE_KEY, ("pk_",)),
        ("STRIPE_WEBHOOK_SECRET", STRIPE_WEBHOOK_SECRET, ("whsec_",)),
        ("STRIPE_CONNECT_WEBHOOK_SECRET", STRIPE_CONNECT_WEBHOOK_SECRET, ("whsec_",)),
    ]
    for name, value, prefixes in keys:
        if not value:
            problems.append(f"{name} is not set.")
        elif not value.startswith(prefixes):
            problems.append(f"{name} must start with {' or '.join(prefixes)}.")
    modes = {"_live_" in key for key in (STRIPE_SECRET_KEY, STRIPE_PUBLISHABLE_KEY) if key}
    if len(modes) > 1:
        problems.append("STRIPE_SECRET_KEY and STRIPE_PUBLISHABLE_KEY mix live and test mode.")
    return problems


def _problems() -> list[str]:
    problems = []
    if DEBUG:
        problems.append("DEBUG is on: it shows settings and code to any visitor.")
    for name, key in [("SECRET_KEY", SECRET_KEY)] + [
        (f"SECRET_KEY_FALLBACKS[{i}]", old) for i, old in enumerate(SECRET_KEY_FALLBACKS)
    ]:
        if problem := _key_problem(name, key):
            problems.append(problem)
    if not ALLOWED_HOSTS or "*" in ALLOWED_HOSTS:
        problems.append("ALLOWED_HOSTS must name the site's hosts, without '*'.")
    if EMAIL_BACKEND in MAIL_NOT_SENT:
        problems.append(
            f"EMAIL_BACKEND is {EMAIL_BACKEND}, which sends nothing: set EMAIL_URL "
            "or an SMTP EMAIL_BACKEND."
        )
    if not TWO_FACTOR_REQUIRED:
        problems.append("TWO_FACTOR_REQUIRED is off: staff and coordinators must use two factors.")
    return problems + _stripe_problems()


if _refusals := _problems():
    raise ImproperlyConfigured("Production refuses to start:\n- " + "\n- ".join(_refusals))
