"""Django settings. Everything deployment-specific comes from the environment.

The embedded default is SQLite in WAL mode under ./var so that `make demo` needs nothing but Python;
set DATABASE_URL for PostgreSQL (postgres://user@host:5432/name).
"""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent
VAR_DIR = Path(os.environ.get("GOVSHARE_VAR_DIR", Path.cwd() / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = os.environ.get("GOVSHARE_DEBUG", "0") == "1"
SECRET_KEY = os.environ.get("GOVSHARE_SECRET_KEY", "")
if not SECRET_KEY:
    # Never a key from the source code: without GOVSHARE_SECRET_KEY the instance makes its own random key
    # once and keeps it under var/ (readable by the service account only), so sessions survive restarts.
    _key_file = VAR_DIR / "secret_key"
    if not _key_file.exists():
        import secrets

        _key_file.touch(mode=0o600)
        _key_file.write_text(secrets.token_urlsafe(50))
    SECRET_KEY = _key_file.read_text().strip()
ALLOWED_HOSTS = [
    h for h in os.environ.get("GOVSHARE_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "axes",
    "ninja",  # serves the API docs (Swagger UI) from our own static files, not a CDN
    "django_tasks",
    "django_tasks_db",  # the database task backend and its `db_worker` command
    "govshare.orgs",
    "govshare.calendar",
    "govshare.catalog",
    "govshare.notifications",
    "govshare.supervision",
    "govshare.audit",
    "govshare.clients",
    "govshare.collect",
    "govshare.security",
    "govshare.sharing",
    "govshare.corrections",
    "govshare.opendata",
    "govshare.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "govshare.web.middleware.SecureHeadersMiddleware",
    "axes.middleware.AxesMiddleware",
    "govshare.audit.middleware.RequestIdMiddleware",
    "govshare.opendata.middleware.PublicAccountMiddleware",  # citizens stay on the open portal
]

# A short middleware chain (see wsgi.py) — security headers and the audit request id, no sessions, CSRF,
# locale or lockout — for the bearer-token delivery API and the public read-only CKAN API (neither reads
# a session).
GOVSHARE_LEAN_PREFIXES = ["/api/v1/share/", "/open/api/"]
GOVSHARE_LEAN_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "govshare.web.middleware.SecureHeadersMiddleware",
    "govshare.audit.middleware.RequestIdMiddleware",
    "govshare.sharing.fast.FastRoutes",  # /records and /verify without ninja's per-call machinery
]

ROOT_URLCONF = "govshare.urls"
WSGI_APPLICATION = "govshare.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "govshare.web.context.nav",
            ],
        },
    }
]

_default_sqlite = f"sqlite:///{VAR_DIR / 'govshare.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(os.environ.get("DATABASE_URL", _default_sqlite), conn_max_age=60)
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Kept open per serving thread: reopening ran the PRAGMAs, re-read the schema and checkpointed the
    # WAL on every request, which cost more than the request itself.
    DATABASES["default"]["CONN_MAX_AGE"] = 600
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000;",
        "transaction_mode": "IMMEDIATE",
    }
else:
    # A throwaway database per test run, so two runs on one server never drop each other's tables.
    DATABASES["default"]["TEST"] = {"NAME": f"test_govshare_{os.getpid()}"}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "orgs.User"
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

# Login throttling: five failures lock the username from that address for 30 minutes.
AXES_FAILURE_LIMIT = int(os.environ.get("GOVSHARE_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = 0.5
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "web/locked.html"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = 8 * 3600
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if os.environ.get("GOVSHARE_TLS", "0") == "1":
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = 31536000
    SECURE_SSL_REDIRECT = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文")]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": VAR_DIR / "media"},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    # Archived audit events (R-SEC-06): a storage of their own, not media, so the directory can sit on other
    # (write-once, separately backed-up) media or be swapped for another backend without touching uploads.
    "audit_archive": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {
            "location": Path(os.environ.get("GOVSHARE_AUDIT_ARCHIVE_DIR", VAR_DIR / "audit-archive")),
            "file_permissions_mode": 0o440,
        },
    },
}
WHITENOISE_USE_FINDERS = True

# E-mail notifications go through Django's mail backend: SMTP once GOVSHARE_EMAIL_HOST is set; until then
# the embedded default writes each message to var/mail/ so nothing is lost and nothing needs a mail server.
EMAIL_BACKEND = os.environ.get(
    "GOVSHARE_EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if os.environ.get("GOVSHARE_EMAIL_HOST")
    else "django.core.mail.backends.filebased.EmailBackend",
)
EMAIL_FILE_PATH = VAR_DIR / "mail"
GOVSHARE_REQUIRE_TOTP = os.environ.get("GOVSHARE_REQUIRE_TOTP", "0") == "1"
# Items marked 敏感 are sealed at rest (security/fields.py): `kid:base64,…`, the first key active.
GOVSHARE_FIELD_KEY = os.environ.get("GOVSHARE_FIELD_KEY", "")
GOVSHARE_FIELD_CIPHER = os.environ.get("GOVSHARE_FIELD_CIPHER", "aes-256-gcm")  # or sm4-gcm (国密)
# The blind-index key (lookups on sealed items); defaults to one derived from the oldest key listed.
GOVSHARE_FIELD_INDEX_KEY = os.environ.get("GOVSHARE_FIELD_INDEX_KEY", "")
GOVSHARE_COLLECT_INLINE = os.environ.get("GOVSHARE_COLLECT_INLINE", "0") == "1"
EMAIL_HOST = os.environ.get("GOVSHARE_EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("GOVSHARE_EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("GOVSHARE_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("GOVSHARE_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = os.environ.get("GOVSHARE_EMAIL_USE_TLS", "0") == "1"
EMAIL_USE_SSL = os.environ.get("GOVSHARE_EMAIL_USE_SSL", "0") == "1"
EMAIL_TIMEOUT = int(os.environ.get("GOVSHARE_EMAIL_TIMEOUT", "10"))
DEFAULT_FROM_EMAIL = os.environ.get("GOVSHARE_EMAIL_FROM", "政务数据共享交换平台 <noreply@localhost>")
GOVSHARE_BASE_URL = os.environ.get("GOVSHARE_BASE_URL", "")

# Audit log signing keys (PKCS#8 PEM files) live outside the database; the newest is the active one.
# 国密: GOVSHARE_AUDIT_HASH_ALG=sm3 (fixed when the log is first sealed), GOVSHARE_AUDIT_SIGNATURE=sm2
# (the type of keys created from then on: `govshare audit rotate-key`). See docs/audit.md.
GOVSHARE_AUDIT_KEY_DIR = Path(os.environ.get("GOVSHARE_AUDIT_KEY_DIR", VAR_DIR / "keys"))
GOVSHARE_AUDIT_HASH_ALG = os.environ.get("GOVSHARE_AUDIT_HASH_ALG", "sha256")
GOVSHARE_AUDIT_SIGNATURE = os.environ.get("GOVSHARE_AUDIT_SIGNATURE", "ed25519")
# Moving sealed events older than the profile's log_retention_months into archive files is a command
# (`govshare audit archive`); the scheduler tick does it too only when this is on (docs/audit.md).
GOVSHARE_AUDIT_ARCHIVE_AUTO = os.environ.get("GOVSHARE_AUDIT_ARCHIVE_AUTO", "0") == "1"

# The jurisdiction whose regulation this instance runs (see govshare/calendar/profiles/).
GOVSHARE_PROFILE = os.environ.get("GOVSHARE_PROFILE", "chenzhou")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("GOVSHARE_LOG_LEVEL", "WARNING")},
}

# Verification (核验) throttle per credential, against enumeration: calls a minute, non-matches an hour.
GOVSHARE_VERIFY_PER_MINUTE = int(os.environ.get("GOVSHARE_VERIFY_PER_MINUTE", "600"))
GOVSHARE_VERIFY_MISSES_PER_HOUR = int(os.environ.get("GOVSHARE_VERIFY_MISSES_PER_HOUR", "300"))
# Where those counters live. Process memory by default, which is right for one server process; with
# GOVSHARE_WORKERS > 1 each process would count alone, so such deployments set GOVSHARE_CACHE_URL to a
# Redis server (redis://host:6379/0) that all processes share (`check --deploy` W010).
GOVSHARE_CACHE_URL = os.environ.get("GOVSHARE_CACHE_URL", "").strip()
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": GOVSHARE_CACHE_URL}
    if GOVSHARE_CACHE_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}

# Background work (exports): the database queue, worked by `govshare db_worker` (which `govshare serve`
# starts next to the server). GOVSHARE_TASKS=immediate runs each task inside the request instead.
TASKS = {
    "default": {
        "BACKEND": "django_tasks.backends.immediate.ImmediateBackend"
        if os.environ.get("GOVSHARE_TASKS", "") == "immediate"
        else "django_tasks_db.DatabaseBackend",
    }
}
# Batch export files and their signed download links live this long (R-SHARE-13).
GOVSHARE_EXPORT_TTL_HOURS = int(os.environ.get("GOVSHARE_EXPORT_TTL_HOURS", "24"))
# Provider interfaces proxied through the gate (R-SHARE-15): upstream timeout and largest relayed answer.
GOVSHARE_PROXY_TIMEOUT = float(os.environ.get("GOVSHARE_PROXY_TIMEOUT", "10"))
GOVSHARE_PROXY_MAX_BYTES = int(os.environ.get("GOVSHARE_PROXY_MAX_BYTES", str(10 * 1024 * 1024)))
# Open data downloads (R-OPEN-07): issue #7 requires identity-checked accounts (NX 46); a deployment under a
# profile whose regulation allows direct retrieval (SR 22, CZ 26) may turn it off. The active profile's
# open_unconditional_requires_identity_auth still applies when it is true.
GOVSHARE_OPEN_DOWNLOAD_REQUIRES_IDENTITY = (
    os.environ.get("GOVSHARE_OPEN_DOWNLOAD_REQUIRES_IDENTITY", "1") == "1"
)
# The identity check goes through the platform's own verification gate: the population resource (a catalog
# code such as "101/000001") and the client system (its code) holding a 'verify' grant on it. Either empty:
# an operator checks each account by hand.
GOVSHARE_IDENTITY_RESOURCE = os.environ.get("GOVSHARE_IDENTITY_RESOURCE", "")
GOVSHARE_IDENTITY_CLIENT = os.environ.get("GOVSHARE_IDENTITY_CLIENT", "")
