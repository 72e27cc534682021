"""Settings shared by every environment, all read from the environment.

Each value names its environment variable; `.env.example` lists them. Defaults
are the embedded ones of `make demo`: SQLite, eager Celery, the dummy payment
gateway and the console e-mail backend.
"""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
# The real environment wins over the file; ENV_FILE names another file (the production
# settings' tests point it at an empty one, so a developer's .env cannot leak in).
environ.Env.read_env(env.str("ENV_FILE", default=str(BASE_DIR / ".env")), overwrite=False)

ENVIRONMENT = env("ENVIRONMENT", default="local")
DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env("SECRET_KEY", default="insecure-local-only-key-change-me")
# Former keys, still accepted when reading signed values (sessions, password reset and
# verification links) but never used to sign: key rotation, Django 4.1+ (README "Production").
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    # Outstanding refresh tokens and their blacklist: rotation, logout, revocation.
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "marketplace",
    "schools",
    "payments",
    "projects",
    "projects.briefs",
    "projects.contracts",
    "projects.reviews",
    "projects.messaging",
    "projects.demo",
    "frontend",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "marketplace.csp.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "marketplace.middleware.TwoFactorRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

# Browser protections, the same in every environment so the demo and the tests run under
# them (README "Production"). Django's values, stated: the deployment check names them.
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
# No address bar (ids, e-mailed tokens) is sent to other sites, not even the origin.
SECURE_REFERRER_POLICY = "same-origin"
# Stripe.js opens card authentication (3-D Secure) in an iframe, never in a popup.
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# No inline script or style without the response's nonce, no eval, no plugins. The Stripe
# hosts are those of Stripe.js and its card frames (docs.stripe.com/security/guide#content-
# security-policy); the student's payout onboarding form redirects to Stripe Connect.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE, "https://js.stripe.com"],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF, "https://api.stripe.com"],
        "frame-src": ["https://js.stripe.com", "https://hooks.stripe.com"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF, "https://connect.stripe.com"],
        "frame-ancestors": [NONE],
    },
}
# Powerful browser features off; the Payment Request API only for this site and Stripe.js.
PERMISSIONS_POLICY = {
    "camera": [],
    "microphone": [],
    "geolocation": [],
    "payment": ["self", "https://js.stripe.com"],
}

ROOT_URLCONF = "marketplace.urls"
WSGI_APPLICATION = "marketplace.wsgi.application"
ASGI_APPLICATION = "marketplace.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "frontend.context_processors.two_factor_demo",
            ],
        },
    },
    {
        # Plain-text e-mails: the same templates folders, without HTML escaping.
        "NAME": "text",
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"autoescape": False},
    },
]

# SQLite file when DATABASE_URL is unset; PostgreSQL in production and CI.
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Writers queue for the lock (IMMEDIATE) instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 20}
    )
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # No JIT compilation: ranking 50,000 candidates is estimated costly enough to trigger it,
    # and compiling took longer than the query (bench/README.md). PostgreSQL 15 manual, 32.1:
    # JIT pays off for long-running CPU-bound analytics, not for short queries.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("options", "-c jit=off")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "marketplace.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("fr", "Français")]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
LOCALE_PATHS = [BASE_DIR / "locale"]

# The web pages' sign-in (frontend); the API uses tokens.
LOGIN_URL = "frontend:signin"
LOGIN_REDIRECT_URL = "frontend:home"
LOGOUT_REDIRECT_URL = "frontend:landing"
# Where a signed-in user who owes a second factor gives it, or sets it up.
TWO_FACTOR_VERIFY_URL = "frontend:two-factor-verify"
TWO_FACTOR_SETUP_URL = "frontend:security"

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Campus Marketplace <no-reply@localhost>")
if env("EMAIL_URL", default=""):
    vars().update(env.email_url("EMAIL_URL"))

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "marketplace.api.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "marketplace.api.pagination.PageNumberPagination",
    "DEFAULT_PARSER_CLASSES": [
        "marketplace.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_METADATA_CLASS": "marketplace.api.metadata.DescriptionMetadata",
    "PAGE_SIZE": 20,
    "DEFAULT_FILTER_BACKENDS": [],
    "DEFAULT_SCHEMA_CLASS": "marketplace.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "marketplace.api.exceptions.exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

# Two-factor sign-in (marketplace.two_factor): staff and coordinators must use it when on.
# Production refuses to start with it off; the demo (settings.local) turns it off.
TWO_FACTOR_REQUIRED = env.bool("TWO_FACTOR_REQUIRED", default=True)
# The name authenticator apps show beside the account.
OTP_TOTP_ISSUER = env("OTP_TOTP_ISSUER", default="Campus Marketplace")
# Seconds a password-checked sign-in waits for its second factor.
TWO_FACTOR_PENDING_SECONDS = env.int("TWO_FACTOR_PENDING_SECONDS", default=300)

# Sign-in and registration attempts per client address, e.g. "30/minute".
AUTH_THROTTLE_RATE = env("AUTH_THROTTLE_RATE", default="30/minute")
# Personal data exports (a ZIP of everything, files included) per user, e.g. "5/hour".
PERSONAL_DATA_EXPORT_RATE = env("PERSONAL_DATA_EXPORT_RATE", default="5/hour")

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=7)),
    "AUTH_HEADER_TYPES": ("Bearer",),
    # Each refresh answers a new refresh token and blacklists the one used, so a
    # stolen refresh token is good once; the password's hash in every token
    # (CHECK_REVOKE_TOKEN) refuses those issued before a password change.
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "CHECK_REVOKE_TOKEN": True,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Campus Marketplace API",
    "DESCRIPTION": (
        "Companies post briefs, verified students bid, money waits in escrow and is "
        "released on delivery. Amounts are integers in the currency's minor unit."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI and Redoc served from the package, not a CDN: the docs work offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # `<id:pk>` (marketplace.api.converters): a row id, at most the largest BIGINT.
    "PATH_CONVERTER_OVERRIDES": {
        "id": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
    },
}

# Money rules (basis points, 1 bp = 0.01 %). The company pays amount + fee; the
# platform keeps a commission from the student's side on release.
COMPANY_FEE_BPS = env.int("COMPANY_FEE_BPS", default=500)
STUDENT_COMMISSION_BPS = env.int("STUDENT_COMMISSION_BPS", default=1000)
AUTO_RELEASE_DAYS = env.int("AUTO_RELEASE_DAYS", default=14)

# Payments: the real Stripe gateway when a key is set, the in-process dummy otherwise.
STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY", default="")
STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET", default="")
# The Connect endpoint (account.updated, payout.failed of connected accounts) has its own secret.
STRIPE_CONNECT_WEBHOOK_SECRET = env("STRIPE_CONNECT_WEBHOOK_SECRET", default="")
STRIPE_API_BASE = env("STRIPE_API_BASE", default="")
# Stripe.js in the browser (the company's card form) needs the publishable key.
STRIPE_PUBLISHABLE_KEY = env("STRIPE_PUBLISHABLE_KEY", default="")
PAYMENT_GATEWAY = env("PAYMENT_GATEWAY", default="stripe" if STRIPE_SECRET_KEY else "dummy")

# Enrolment verification links are signed and expire (seconds).
VERIFICATION_LINK_MAX_AGE = env.int("VERIFICATION_LINK_MAX_AGE", default=48 * 3600)
# A verification "ends soon" from this many days before its graduation date: the student's
# warning e-mail and the coordinator's dashboard (`EnrolmentVerification.objects.expiring()`).
VERIFICATION_EXPIRING_DAYS = env.int("VERIFICATION_EXPIRING_DAYS", default=30)

# Celery: eager (in-process) when no broker is configured, for the embedded demo.
CELERY_TASK_ALWAYS_EAGER = not env("CELERY_BROKER_URL", default="")
# Eager tasks never touch the broker; "memory://" keeps Celery from guessing one.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="") or "memory://localhost/"
# Eager (demo) mode: a failing task is recorded for staff instead of failing the request.
CELERY_TASK_EAGER_PROPAGATES = env.bool("CELERY_TASK_EAGER_PROPAGATES", default=False)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_TIMEZONE = "UTC"
# With late acks a prefetched message waits unacknowledged; one at a time keeps it short.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Seconds before Redis hands a message no worker acknowledged to another worker (the
# first died mid-task: acks_late). It must outlast the longest task and the longest retry
# countdown (600 s, MarketplaceTask), or a task still running or waiting is run twice.
_visibility_timeout = env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)
if _visibility_timeout <= max(CELERY_TASK_TIME_LIMIT, 600):
    raise ImproperlyConfigured(
        f"CELERY_VISIBILITY_TIMEOUT={_visibility_timeout} must exceed the task time limit "
        f"({CELERY_TASK_TIME_LIMIT} s) and the longest retry countdown (600 s)."
    )
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": _visibility_timeout}
# Run by exactly one `celery beat` (`make beat`); every task is idempotent, so a late,
# missed or repeated run does no harm. Times are UTC.
CELERY_BEAT_SCHEDULE = {
    "auto-release-due-milestones": {
        "task": "projects.contracts.tasks.auto_release_due_milestones_task",
        "schedule": crontab(minute=0),
    },
    "retry-pending-releases": {
        "task": "projects.contracts.tasks.retry_pending_releases_task",
        "schedule": crontab(minute="*/15"),
    },
    "retry-pending-refunds": {
        # Refunds asked for whose answer was lost or failed (escrows in refund_pending).
        "task": "payments.tasks.retry_pending_refunds_task",
        "schedule": crontab(minute="*/15"),
    },
    "expire-verifications": {
        # In projects: expiring a verification also withdraws the student's open bids.
        "task": "projects.briefs.tasks.expire_verifications_task",
        "schedule": crontab(hour=2, minute=0),
    },
    "warn-expiring-verifications": {
        "task": "schools.tasks.warn_expiring_verifications_task",
        "schedule": crontab(hour=2, minute=30),
    },
    "reconcile-ledger": {
        "task": "payments.tasks.reconcile_ledger_task",
        "schedule": crontab(hour=3, minute=0),
    },
    "refresh-rankings": {
        # Skill rarity and students' track records, rebuilt from their sources.
        "task": "projects.reviews.tasks.refresh_rankings_task",
        "schedule": crontab(hour=4, minute=0),
    },
    "refresh-payout-accounts": {
        # Readiness from the gateway when an account.updated event was missed.
        "task": "payments.tasks.refresh_payout_accounts_task",
        "schedule": crontab(minute=45),
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}

# Reviews, messages and files (projects.reviews, projects.messaging).
# Days after a contract ends during which each side may review the other; reviews stay
# hidden from the other side until both are written or this window closes.
REVIEW_WINDOW_DAYS = env.int("REVIEW_WINDOW_DAYS", default=14)
CELERY_BEAT_SCHEDULE["reveal-reviews"] = {
    # Tells reviewed parties their review is readable once its window closed.
    "task": "projects.reviews.tasks.reveal_reviews_task",
    "schedule": crontab(minute=30),
}
# Uploads (deliveries, message attachments): bytes per file, files per upload.
MAX_UPLOAD_BYTES = env.int("MAX_UPLOAD_BYTES", default=20 * 1024 * 1024)
MAX_UPLOAD_FILES = env.int("MAX_UPLOAD_FILES", default=10)
# Where uploads are kept: "local" (a private folder, never served as static or media)
# or "s3" (any S3-compatible bucket, needs the `s3` extra: pip install -e ".[s3]").
STORAGE_BACKEND = env("STORAGE_BACKEND", default="local")
PRIVATE_FILES_ROOT = env("PRIVATE_FILES_ROOT", default=str(BASE_DIR / "private-files"))
# Seconds a signed download URL stays valid (S3 only).
FILE_URL_MAX_AGE = env.int("FILE_URL_MAX_AGE", default=300)
if STORAGE_BACKEND == "local":
    STORAGES["default"] = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": PRIVATE_FILES_ROOT, "base_url": "/no-public-url/"},
    }
elif STORAGE_BACKEND == "s3":
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env("AWS_STORAGE_BUCKET_NAME"),
            "endpoint_url": env("AWS_S3_ENDPOINT_URL", default=None),
            "region_name": env("AWS_S3_REGION_NAME", default=None),
            "access_key": env("AWS_ACCESS_KEY_ID", default=None),
            "secret_key": env("AWS_SECRET_ACCESS_KEY", default=None),
            "default_acl": "private",
            "querystring_auth": True,
            "querystring_expire": FILE_URL_MAX_AGE,
            "file_overwrite": False,
        },
    }
else:
    raise ImproperlyConfigured(f"STORAGE_BACKEND must be local or s3, not {STORAGE_BACKEND!r}.")
# Downloads redirect to a signed URL of the bucket (on by default with s3) instead of
# streaming through the application.
FILE_SIGNED_URLS = env.bool("FILE_SIGNED_URLS", default=STORAGE_BACKEND == "s3")
