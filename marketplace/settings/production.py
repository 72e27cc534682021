"""Production settings: required secrets have no default, DEBUG must stay off."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import DATABASES, DEBUG, env

ENVIRONMENT = "production"
SECRET_KEY = env("SECRET_KEY")
env.db("DATABASE_URL")  # required here: no SQLite fallback (base read it, with its options)
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
if DEBUG:
    raise ImproperlyConfigured("DEBUG must be off in production.")
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=3600)
