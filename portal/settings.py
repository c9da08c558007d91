"""Zhixing settings: one env-driven module.

Every value comes from the environment, with an embedded default that needs no server
(SQLite, live rooms in process memory, filesystem Celery broker). Setting ``DATABASE_URL`` and
``REDIS_URL`` switches to PostgreSQL and Redis. Bad values fail at start-up.
See ``.env.example`` for the full list.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("ZHIXING_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()
env.smart_cast = False

# ---------------------------------------------------------------------------
# CORE
# ---------------------------------------------------------------------------
DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is false.")
    SECRET_KEY = "dev-insecure-zhixing-key-change-me-0123456789abcdefghijklmnop"  # noqa: S105

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_NAME = env.str("SITE_NAME", default="知行")
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

# ---------------------------------------------------------------------------
# APPS
# ---------------------------------------------------------------------------
INSTALLED_APPS = [
    "daphne",
    "portal.apps.ZhixingAdminConfig",  # django.contrib.admin, every admin audited
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "channels",
    "csp",
    "treebeard",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    "portal",
    "courses",
    "livestream",
    "notifications",
    "signin",
    "signin.zwdd",  # the allauth provider ``zwdd`` (allauth finds it as an installed app)
    "signin.dingtalk",  # allauth's ``dingtalk`` with hosts from settings
    "signin.weixin",  # allauth's ``weixin`` for binding the notices' WeChat openid
    "directory",
    "discussion",
    "learning",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # outside every middleware that can answer by itself (a bad Host's 400, a 503, …)
    "portal.middleware.SecurityHeadersMiddleware",
    "portal.middleware.ClientAddressMiddleware",  # the audit log's address
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
ASGI_APPLICATION = "portal.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.site",
                "notifications.context_processors.inbox",
            ],
        },
    },
]

# ---------------------------------------------------------------------------
# DATABASES
# https://docs.djangoproject.com/en/5.2/ref/settings/#databases
# ---------------------------------------------------------------------------
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'zhixing.sqlite3'}")
}
# 0: under ASGI every request thread would keep its own persistent connection (Django's
# docs), so 16 concurrent requests per process exhausted PostgreSQL's 100. Connections are
# bounded by a pooler instead (make serve: PgBouncer in transaction mode, DATABASE_POOLER).
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# "pgbouncer" (transaction pooling): a server connection serves one transaction at a time,
# so no server-side cursors (their WITH HOLD cursors outlive the transaction); .iterator()
# exports then fetch their rows client-side.
DATABASE_POOLER = env.str("DATABASE_POOLER", default="")
if DATABASE_POOLER not in ("", "pgbouncer"):
    raise ImproperlyConfigured(f"DATABASE_POOLER: empty or pgbouncer, not {DATABASE_POOLER!r}")
if DATABASE_POOLER == "pgbouncer":
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # IMMEDIATE: a write transaction takes SQLite's write lock when it begins, so concurrent
    # writers queue on the busy timeout instead of failing with "database is locked" when
    # a read lock cannot be upgraded mid-transaction (Django 5.1+).
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# ---------------------------------------------------------------------------
# REDIS, CACHE, CHANNELS
# One REDIS_URL; its database N (default 0) and the three after it: N broker, N+1 channel
# layer, N+2 cache/sessions/attendance buffer/notification buckets, N+3 live rooms. Two
# deployments on one Redis server take URLs four apart (…/0 and …/4).
# ---------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")


def _redis_db(url: str, offset: int) -> str:
    """``url`` pointed at its own database number plus ``offset`` (query kept)."""
    parts = urlsplit(url)
    path = parts.path.strip("/")
    if path and not path.isdigit():
        raise ImproperlyConfigured(f"REDIS_URL's path must be a database number, not {path!r}")
    return urlunsplit(parts._replace(path=f"/{int(path or 0) + offset}"))


if REDIS_URL:
    CACHES = {
        "default": {
            # fails soft when Redis is unreachable (portal/cache.py)
            "BACKEND": "portal.cache.ResilientRedisCache",
            "LOCATION": _redis_db(REDIS_URL, 2),
            # a Redis blip costs a second, not a hung request (sessions then use the DB)
            "OPTIONS": {"socket_connect_timeout": 1.0, "socket_timeout": 1.0},
        }
    }
    # Sessions read from Redis, the database the source of truth (portal/sessions.py).
    SESSION_ENGINE = "portal.sessions"
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "zhixing",
        }
    }
    SESSION_ENGINE = "portal.sessions.db"  # database sessions with the role rules

# ---------------------------------------------------------------------------
# CELERY
# https://docs.celeryq.dev/en/stable/userguide/configuration.html
# ---------------------------------------------------------------------------
CELERY_BROKER_URL = env.str(
    "CELERY_BROKER_URL", default=_redis_db(REDIS_URL, 0) if REDIS_URL else "filesystem://"
)
if CELERY_BROKER_URL == "filesystem://":
    _broker_dir = VAR_DIR / "celery-broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "processed_folder": str(VAR_DIR / "celery-processed"),
        "control_folder": str(VAR_DIR / "celery-control"),
        "store_processed": False,
    }
    # The filesystem transport needs its folders before the first send (web or worker).
    for _folder in ("data_folder_in", "processed_folder", "control_folder"):
        Path(str(CELERY_BROKER_TRANSPORT_OPTIONS[_folder])).mkdir(parents=True, exist_ok=True)
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TIMEZONE = "Asia/Shanghai"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {}
# --- RETENTION OF PERSONAL DATA (portal/retention.py, docs/security.md §5) -----------------
# Audit entries are kept a year (MLPS 2.0 level 3 asks for at least six months: the
# database refuses to delete younger ones); notice deliveries (phone numbers, openids)
# half a year; uploaded directory files and their bad-row lists 30 days.
AUDIT_RETENTION_DAYS = env.int("AUDIT_RETENTION_DAYS", default=365)
if AUDIT_RETENTION_DAYS < 184:
    raise ImproperlyConfigured("AUDIT_RETENTION_DAYS must be at least 184 (six months).")
DELIVERY_RETENTION_DAYS = env.int("DELIVERY_RETENTION_DAYS", default=184)
UPLOAD_RETENTION_DAYS = env.int("UPLOAD_RETENTION_DAYS", default=30)
CELERY_BEAT_SCHEDULE["purge-personal-data"] = {
    "task": "portal.purge_personal_data",
    "schedule": crontab(hour=3, minute=30),  # Beijing time (CELERY_TIMEZONE)
}

# ---------------------------------------------------------------------------
# AUTH, ALLAUTH
# https://docs.allauth.org/en/latest/account/configuration.html
# ---------------------------------------------------------------------------
AUTH_USER_MODEL = "portal.User"
AUTHENTICATION_BACKENDS = [
    "portal.auth_backends.PhoneOrUsernameBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
# Password accounts (staff; cadres' fallback): portal/passwords.py and docs/security notes.
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("username", "full_name", "email", "cadre_no")},
    },
    {
        "NAME": "portal.passwords.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "portal.passwords.CharacterClassesValidator", "OPTIONS": {"min_classes": 3}},
    {"NAME": "portal.passwords.PhoneSimilarityValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_LOGOUT_REDIRECT_URL = "account_login"
ACCOUNT_ADAPTER = "signin.adapters.AccountAdapter"
# Password (username or phone) for staff and as a fallback; a code by SMS for everyone whose
# directory record has a mobile number (docs/signin.md).
ACCOUNT_LOGIN_METHODS = {"username", "phone"}
ACCOUNT_LOGIN_BY_CODE_ENABLED = True
ACCOUNT_LOGIN_BY_CODE_FORMAT = {"numeric": True, "length": 6, "dashed": False}
ACCOUNT_PHONE_VERIFICATION_CODE_FORMAT = {"numeric": True, "length": 6, "dashed": False}
ACCOUNT_LOGIN_BY_CODE_MAX_ATTEMPTS = 3  # wrong codes before the code is void
ACCOUNT_LOGIN_BY_CODE_TIMEOUT = env.int("ACCOUNT_LOGIN_BY_CODE_TIMEOUT", default=300)
ACCOUNT_SIGNUP_FIELDS = ["username*", "password1*", "password2*"]
# Sensitive actions (binding or unbinding WeChat / DingTalk for notices, changing the
# password) ask for the password or a fresh SMS code first, then hold for this long.
ACCOUNT_REAUTHENTICATION_REQUIRED = True
ACCOUNT_REAUTHENTICATION_TIMEOUT = env.int("REAUTHENTICATION_SECONDS", default=300)
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_LOGOUT_ON_GET = False
# The session length follows the role (CADRE_/STAFF_SESSION_*), not a checkbox.
ACCOUNT_SESSION_REMEMBER = True
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_FORMS = {"login": "signin.forms.LoginForm"}
# Per address: a county hall or a party-school class signs in from one NAT address, so the
# per-IP limits are sized for a hall (600 sign-ins a minute); per account they stay strict.
ACCOUNT_RATE_LIMITS = {
    "login": env.str("ACCOUNT_LOGIN_RATE", default="600/m/ip"),
    # 5 failures per account → locked for 30 minutes (a sliding window)
    "login_failed": env.str("ACCOUNT_LOGIN_FAILED_RATE", default="120/m/ip,5/30m/key"),
    # Codes by SMS: per number at most once a minute, 5 an hour, 10 a day (the SMS
    # providers' own limits); unknown numbers count the same, so they look the same.
    "request_login_code": env.str(
        "ACCOUNT_LOGIN_CODE_RATE", default="600/m/ip,1/m/key,5/h/key,10/d/key"
    ),
}
# The Django admin login (portal/admin_login.py): failures per username / per client IP
# within LOGIN_LOCKOUT_SECONDS; at the limit that username / IP is locked for as long.
LOGIN_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_FAILURE_IP_LIMIT = env.int("LOGIN_FAILURE_IP_LIMIT", default=20)
LOGIN_LOCKOUT_SECONDS = env.int("LOGIN_LOCKOUT_SECONDS", default=300)
# Proxies in front of Django that append to X-Forwarded-For (compose: nginx = 1). Client IPs
# for allauth's and the admin login's per-IP limits come from there; 0 = REMOTE_ADDR.
ALLAUTH_TRUSTED_PROXY_COUNT = env.int("ALLAUTH_TRUSTED_PROXY_COUNT", default=0)
# Social sign-in (signin/): identities link to cadres of the directory, never create users.
SOCIALACCOUNT_ADAPTER = "signin.adapters.SocialAccountAdapter"
SOCIALACCOUNT_AUTO_SIGNUP = False
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_STORE_TOKENS = False
SOCIALACCOUNT_LOGIN_ON_GET = False
SOCIALACCOUNT_PROVIDERS: dict[str, dict[str, object]] = {
    "zwdd": {"SCOPE": ["get_user_info"], "AUTH_PARAMS": {"authType": "QRCODE"}},
    "dingtalk": {"AUTH_PARAMS": {"prompt": "consent"}},
}
# Public DingTalk (a DingTalk open-platform app; mobile numbers need its contact permission).
DINGTALK_LOGIN_BASE = env.str("DINGTALK_LOGIN_BASE", default="https://login.dingtalk.com")
DINGTALK_API_BASE = env.str("DINGTALK_API_BASE", default="https://api.dingtalk.com")
DINGTALK_CLIENT_ID = env.str("DINGTALK_CLIENT_ID", default="")
DINGTALK_CLIENT_SECRET = env.str("DINGTALK_CLIENT_SECRET", default="")
# Binding WeChat for template messages, through the notices' official account (its web
# authorisation host; the API host is NOTIFY_WECHAT_ENDPOINT).
WECHAT_BINDING = env.bool("WECHAT_BINDING", default=True)
WECHAT_OPEN_BASE = env.str("WECHAT_OPEN_BASE", default="https://open.weixin.qq.com")
# 浙政钉 (docs/signin.md). Production hosts by default; the SaaS test pair is
# https://login.dg-work.cn and https://openplatform.dg-work.cn. ZWDD_CLIENT_ID is the app
# code (应用标识), not the AppKey.
ZWDD_LOGIN_BASE = env.str("ZWDD_LOGIN_BASE", default="https://login-pro.ding.zj.gov.cn")
ZWDD_API_BASE = env.str("ZWDD_API_BASE", default="https://openplatform-pro.ding.zj.gov.cn")
ZWDD_CLIENT_ID = env.str("ZWDD_CLIENT_ID", default="")
ZWDD_APP_KEY = env.str("ZWDD_APP_KEY", default="")
ZWDD_APP_SECRET = env.str("ZWDD_APP_SECRET", default="")
ZWDD_HTTP_TIMEOUT = env.float("ZWDD_HTTP_TIMEOUT", default=5.0)
# The platform's JSAPI script for 免登 inside the 浙政钉 app (not on npm with a licence we
# can vendor, so loaded from the address the platform gives the app); empty: off.
ZWDD_JSAPI_URL = env.str("ZWDD_JSAPI_URL", default="")
# The directory sync from 浙政钉 (docs/directory.md): off unless ZWDD_DIRECTORY_SYNC; the
# tenant, where to start (empty: the tenant's root), and how organisation types map.
ZWDD_DIRECTORY_SYNC = env.bool("ZWDD_DIRECTORY_SYNC", default=False)
ZWDD_TENANT_ID = env.str("ZWDD_TENANT_ID", default=env.str("NOTIFY_ZWDD_TENANT_ID", default=""))
ZWDD_DIRECTORY_ROOT = env.str("ZWDD_DIRECTORY_ROOT", default="")
ZWDD_DIRECTORY_PAGE_SIZE = env.int("ZWDD_DIRECTORY_PAGE_SIZE", default=100)
ZWDD_DIRECTORY_SKIP_TYPES = env.list(
    "ZWDD_DIRECTORY_SKIP_TYPES", default=["GOV_INTERNAL_INSTITUTION"]
)
ZWDD_DIRECTORY_TERRITORIAL_TYPES = env.list(
    "ZWDD_DIRECTORY_TERRITORIAL_TYPES", default=["GOV_DIVISION", "GOV_HOLLOW_LEVEL"]
)
CELERY_BEAT_SCHEDULE["directory-sync-zwdd"] = {  # a no-op unless ZWDD_DIRECTORY_SYNC
    "task": "directory.sync_zwdd",
    "schedule": crontab(hour=2, minute=30),  # Beijing time, before the purge at 03:30
}
# Directory files uploaded in the admin (personal data: outside MEDIA_ROOT, not served).
DIRECTORY_UPLOAD_ROOT = env.str("DIRECTORY_UPLOAD_ROOT", default=str(VAR_DIR / "directory-uploads"))
# Who a cadre without a directory record should contact (shown on the refusal page).
SIGNIN_CONTACT = env.str("SIGNIN_CONTACT", default="")
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=8 * 3600)
# Session rules by role (portal/sessions/policy.py): cadres stay signed in for two weeks;
# staff are signed out after 30 idle minutes and at most 8 hours after signing in.
CADRE_SESSION_SECONDS = env.int("CADRE_SESSION_SECONDS", default=14 * 24 * 3600)
STAFF_SESSION_IDLE_SECONDS = env.int("STAFF_SESSION_IDLE_SECONDS", default=30 * 60)
STAFF_SESSION_MAX_SECONDS = env.int("STAFF_SESSION_MAX_SECONDS", default=8 * 3600)
# How long a session's cached copy lives in Redis (portal/sessions.py): bounds how long a
# sign-out made while Redis was unreachable could be undone by a stale cached copy.
SESSION_CACHE_SECONDS = env.int("SESSION_CACHE_SECONDS", default=300)
SESSION_SAVE_EVERY_REQUEST = False

# ---------------------------------------------------------------------------
# I18N
# ---------------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# ---------------------------------------------------------------------------
# STATIC, MEDIA
# ---------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
# Announcement attachments are served by a view that checks access. Behind nginx set this to
# the `internal` location that aliases MEDIA_ROOT (deploy/nginx.conf: /protected-media/):
# the view then answers with X-Accel-Redirect; empty = Django streams the file itself.
PROTECTED_MEDIA_ACCEL_PREFIX = env.str("PROTECTED_MEDIA_ACCEL_PREFIX", default="")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if not DEBUG
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

# ---------------------------------------------------------------------------
# SECURITY (production values when DEBUG is false)
# ---------------------------------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Container/load-balancer probes call /healthz/ over plain HTTP inside the host.
SECURE_REDIRECT_EXEMPT = [r"^healthz/(live/)?$"]
# A busy or unreachable database answers 503 with this Retry-After (portal/overload.py).
BUSY_RETRY_AFTER_SECONDS = env.int("BUSY_RETRY_AFTER_SECONDS", default=5)
# /healthz/ runs its checks at most once per this many seconds per process (probe storms).
HEALTHZ_CACHE_SECONDS = env.float("HEALTHZ_CACHE_SECONDS", default=2.0)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# Content-Security-Policy (django-csp; docs/security.md lists every header and why). No
# inline script or style anywhere: pages load static files, data travels in json_script
# blocks (not executed). The hosts other settings name are added to these directives at
# request time (portal/csp.py): the 浙政钉 QR frame and JSAPI, the sign-in hosts a form
# posts to (their redirects count as form-action), the stream hosts (CSP_STREAM_SOURCES,
# and each lecture's own, added by the live room).
CSP_STREAM_SOURCES = env.list("CSP_STREAM_SOURCES", default=[])
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        # 'report-sample': a report carries the blocked code's first 40 characters
        "script-src": ["'self'", "'report-sample'"],
        "style-src": ["'self'", "'report-sample'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        # 'self' covers same-origin ws:/wss: (CSP 3); hls.js fetches segments here.
        "connect-src": ["'self'"],
        # MediaSource players attach blob: URLs; hls.js runs its demuxer in a blob: worker.
        "media-src": ["'self'", "blob:"],
        "worker-src": ["'self'", "blob:"],
        "frame-src": ["'self'"],  # the sign-in page's 浙政钉 frame starts on our origin
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
        "report-uri": ["/csp-report/"],
    },
}
# The browser features no page uses are switched off (the dashboard's fullscreen is ours).
PERMISSIONS_POLICY = (
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), fullscreen=(self)"
)

# ---------------------------------------------------------------------------
# DOMAIN SETTINGS
# ---------------------------------------------------------------------------
LECTURE_DESCRIPTION_MAX_CHARS = 20_000
ATTENDANCE_HEARTBEAT_SECONDS = env.int("ATTENDANCE_HEARTBEAT_SECONDS", default=30)
ATTENDANCE_FLUSH_SECONDS = env.int("ATTENDANCE_FLUSH_SECONDS", default=60)
ATTENDANCE_GRACE_SECONDS = env.int("ATTENDANCE_GRACE_SECONDS", default=600)
ATTENDANCE_COMPLETION_RATIO = env.float("ATTENDANCE_COMPLETION_RATIO", default=0.8)
if not 0 < ATTENDANCE_COMPLETION_RATIO <= 1:
    raise ImproperlyConfigured("ATTENDANCE_COMPLETION_RATIO must be in (0, 1].")
# --- ATTENDANCE BUFFER (courses/attendance/, docs/attendance.md) ----------------------
# Heartbeat credit is buffered in Redis (REDIS_URL db 2 by default) and flushed by beat;
# empty = an in-process buffer that flushes itself (embedded default, one process).
ATTENDANCE_REDIS_URL = env.str(
    "ATTENDANCE_REDIS_URL", default=_redis_db(REDIS_URL, 2) if REDIS_URL else ""
)
ATTENDANCE_REDIS_PREFIX = env.str("ATTENDANCE_REDIS_PREFIX", default="zhixing:att:")
ATTENDANCE_FLUSH_BATCH = env.int("ATTENDANCE_FLUSH_BATCH", default=20000)
# --- VENUE CHECK-IN (courses/attendance/checkin.py, docs/attendance.md) -----------------
# Check-in opens this many minutes before a lecture starts (it closes at the end plus
# ATTENDANCE_GRACE_SECONDS); the staff page's QR code changes every QR_SECONDS.
ATTENDANCE_CHECKIN_OPEN_MINUTES = env.int("ATTENDANCE_CHECKIN_OPEN_MINUTES", default=30)
ATTENDANCE_CHECKIN_QR_SECONDS = env.int("ATTENDANCE_CHECKIN_QR_SECONDS", default=30)
if ATTENDANCE_CHECKIN_OPEN_MINUTES < 0 or ATTENDANCE_CHECKIN_QR_SECONDS < 1:
    raise ImproperlyConfigured("ATTENDANCE_CHECKIN_OPEN_MINUTES >= 0, _QR_SECONDS >= 1.")
# --- REPORTS (courses/summaries/, courses/reports/, docs/reports.md) ---------------------
# Per-process memo of the cadre headcount per unit subtree (also reset when cadres change).
REPORT_HEADCOUNT_SECONDS = env.int("REPORT_HEADCOUNT_SECONDS", default=300)
# The on-screen cadre list of a report pages through at most this many cadres (a bigger
# subtree: drill down, or download the list, which streams).
REPORT_CADRE_LIST_MAX = env.int("REPORT_CADRE_LIST_MAX", default=20000)
# Minutes after a lecture ends before its 通报 ranking goes to the subscribers (beat entry
# "notifications-ranking"; notifications/services/bulletins.py).
REPORT_RANKING_DELAY_MINUTES = env.int("REPORT_RANKING_DELAY_MINUTES", default=30)
if ATTENDANCE_HEARTBEAT_SECONDS < 1 or ATTENDANCE_FLUSH_SECONDS < 1:
    raise ImproperlyConfigured("ATTENDANCE_HEARTBEAT_SECONDS/FLUSH_SECONDS must be >= 1.")
CELERY_BEAT_SCHEDULE["attendance-flush"] = {
    "task": "courses.attendance_flush",
    "schedule": float(ATTENDANCE_FLUSH_SECONDS),
}
# --- LECTURE-END FLUSH AND ATTENTION CHECK (docs/attendance.md) -------------------------
# Beat looks this often for lectures whose credit window (end + grace) just closed and
# flushes once more for them (claimed once per lecture).
CELERY_BEAT_SCHEDULE["attendance-end-flush"] = {
    "task": "courses.attendance_end_flush",
    "schedule": float(min(ATTENDANCE_FLUSH_SECONDS, 30)),
}
# Seconds in one "minute" of a programme's attention-check interval (tests shorten it).
ATTENDANCE_ATTENTION_MINUTE_SECONDS = env.int("ATTENDANCE_ATTENTION_MINUTE_SECONDS", default=60)
if ATTENDANCE_ATTENTION_MINUTE_SECONDS < 1:
    raise ImproperlyConfigured("ATTENDANCE_ATTENTION_MINUTE_SECONDS must be >= 1.")
# ---------------------------------------------------------------------------
# LIVE ROOM (livestream/, docs/live-protocol.md)
# Live state (seq, event ring, presence) lives in Redis DB 3 when REDIS_URL is set,
# in process memory otherwise (embedded default: one daphne process).
# ---------------------------------------------------------------------------
LIVE_REDIS_URL = env.str("LIVE_REDIS_URL", default=_redis_db(REDIS_URL, 3) if REDIS_URL else "")
LIVE_REDIS_PREFIX = env.str("LIVE_REDIS_PREFIX", default="zhixing:live:")
LIVE_REDIS_SOCKET_TIMEOUT = env.float("LIVE_REDIS_SOCKET_TIMEOUT", default=5.0)
LIVE_REDIS_MAX_CONNECTIONS = env.int("LIVE_REDIS_MAX_CONNECTIONS", default=64)
LIVE_SENSITIVE_WORDS_FILE = env.str(
    "LIVE_SENSITIVE_WORDS_FILE", default=str(BASE_DIR / "livestream" / "sensitive_words.txt")
)
LIVE_QUESTION_INTERVAL_SECONDS = env.int("LIVE_QUESTION_INTERVAL_SECONDS", default=10)
LIVE_QUESTIONS_PER_LECTURE = env.int("LIVE_QUESTIONS_PER_LECTURE", default=20)
LIVE_FRAME_MAX_BYTES = env.int("LIVE_FRAME_MAX_BYTES", default=4096)
LIVE_FLOOD_FRAMES = env.int("LIVE_FLOOD_FRAMES", default=20)
# A moderator's console sends a claim and an action per question (bench/README.md,
# moderation during a flood): their sockets get a higher frame limit.
LIVE_FLOOD_FRAMES_MODERATOR = env.int("LIVE_FLOOD_FRAMES_MODERATOR", default=100)
LIVE_FLOOD_WINDOW_SECONDS = env.float("LIVE_FLOOD_WINDOW_SECONDS", default=10.0)
LIVE_RING_SIZE = env.int("LIVE_RING_SIZE", default=500)
LIVE_VOTES_INTERVAL_SECONDS = env.float("LIVE_VOTES_INTERVAL_SECONDS", default=1.0)
LIVE_VIEWERS_INTERVAL_SECONDS = env.float("LIVE_VIEWERS_INTERVAL_SECONDS", default=5.0)
# The national plan's annual online study (issue 18): the study record's progress and the
# staff's "below target" follow-up read this.
STUDY_HOURS_ANNUAL_TARGET = env.float("STUDY_HOURS_ANNUAL_TARGET", default=50.0)
# 评课 stays open (and editable) this many days after a lecture ends.
LEARNING_EVALUATION_DAYS = env.int("LEARNING_EVALUATION_DAYS", default=7)
# 学时证明 PDFs (docs/learning.md): the embedded font (a TrueType collection's index) and
# the issuer printed on a year's certificate ("" = the tree root's organisation department).
CERTIFICATE_FONT = env.str(
    "CERTIFICATE_FONT", default="/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
)
CERTIFICATE_FONT_INDEX = env.int("CERTIFICATE_FONT_INDEX", default=0)
CERTIFICATE_ISSUER = env.str("CERTIFICATE_ISSUER", default="")
# Moderation at scale (docs/live-protocol.md, issue 19): new questions reach the consoles
# coalesced, at most once per interval per lecture; a claim lapses when left untouched; the
# speaker's list is short.
LIVE_QUEUE_INTERVAL_SECONDS = env.float("LIVE_QUEUE_INTERVAL_SECONDS", default=1.0)
LIVE_CLAIM_SECONDS = env.int("LIVE_CLAIM_SECONDS", default=60)
LIVE_SPEAKER_LIST_MAX = env.int("LIVE_SPEAKER_LIST_MAX", default=20)
# One point of the dashboard's viewers-over-time line per interval (all processes).
LIVE_SERIES_INTERVAL_SECONDS = env.float("LIVE_SERIES_INTERVAL_SECONDS", default=30.0)
LIVE_SOCKET_BUFFER_BYTES = env.int("LIVE_SOCKET_BUFFER_BYTES", default=256 * 1024)
# "auto": write pre-framed bytes straight to daphne's sockets when running under daphne;
# "on": require it (fail loudly if the library internals changed); "off": ASGI send only.
LIVE_DIRECT_WRITE = env.str("LIVE_DIRECT_WRITE", default="auto")

# ---------------------------------------------------------------------------
# STREAM INGEST (livestream/streaming/, docs/streaming.md): nginx-rtmp pushes in, HLS out.
# ---------------------------------------------------------------------------
# What organisers give their encoder: this base + "/" + the lecture's key.
STREAM_RTMP_URL = env.str("STREAM_RTMP_URL", default="rtmp://127.0.0.1:1935/live")
# Where viewers' players find the origin's HLS (/hls/lecture-<id>.m3u8, /replays/…).
STREAM_HLS_BASE_URL = env.str("STREAM_HLS_BASE_URL", default="http://127.0.0.1:8088")
# The origin's hooks carry this token; empty: the hooks refuse everything.
STREAM_HOOK_SECRET = env.str("STREAM_HOOK_SECRET", default="")
# Addresses the hooks accept calls from (the origin; behind the portal's nginx the client
# address is taken from X-Forwarded-For, as for every request).
STREAM_HOOK_ALLOWED_ADDRESSES = env.list(
    "STREAM_HOOK_ALLOWED_ADDRESSES", default=["127.0.0.1", "::1"]
)
STREAM_GRACE_SECONDS = env.int("STREAM_GRACE_SECONDS", default=120)
# A push from this long before the start to the scheduled end is the lecture; any other
# is a preview for its organisers and moderators.
STREAM_EARLY_MINUTES = env.int("STREAM_EARLY_MINUTES", default=30)
# The origin's files, as the worker sees them (recordings in, replays out).
STREAM_MEDIA_DIR = env.str("STREAM_MEDIA_DIR", default=str(VAR_DIR / "stream"))
STREAM_FFMPEG = env.str("STREAM_FFMPEG", default="ffmpeg")
# A CDN instead of the origin (livestream/streaming/cdn.py): signed push and play URLs.
STREAM_CDN_PROVIDER = env.str("STREAM_CDN_PROVIDER", default="")
STREAM_CDN_PUSH_DOMAIN = env.str("STREAM_CDN_PUSH_DOMAIN", default="")
STREAM_CDN_PLAY_DOMAIN = env.str("STREAM_CDN_PLAY_DOMAIN", default="")
STREAM_CDN_APP = env.str("STREAM_CDN_APP", default="live")
STREAM_CDN_PUSH_KEY = env.str("STREAM_CDN_PUSH_KEY", default="")
STREAM_CDN_PLAY_KEY = env.str("STREAM_CDN_PLAY_KEY", default="")
STREAM_CDN_URL_TTL_SECONDS = env.int("STREAM_CDN_URL_TTL_SECONDS", default=86400)
# The CDN's stream callbacks (/streaming/hooks/cdn/<provider>/): the key set in its console;
# Aliyun signs with the callback URL's host (default: the request's Host).
STREAM_CDN_CALLBACK_KEY = env.str("STREAM_CDN_CALLBACK_KEY", default="")
STREAM_CDN_CALLBACK_HOST = env.str("STREAM_CDN_CALLBACK_HOST", default="")
CELERY_BEAT_SCHEDULE["stream-grace"] = {"task": "livestream.stream_grace", "schedule": 10.0}

# ---------------------------------------------------------------------------
# DISCUSSION (discussion/, docs/discussion.md): lecture spaces and study groups, live
# through the same per-process hub as the live rooms (their own namespace in its store).
# ---------------------------------------------------------------------------
DISCUSSION_POSTS_PER_MINUTE = env.int("DISCUSSION_POSTS_PER_MINUTE", default=6)
DISCUSSION_POSTS_PER_HOUR = env.int("DISCUSSION_POSTS_PER_HOUR", default=60)
DISCUSSION_REPORTS_PER_HOUR = env.int("DISCUSSION_REPORTS_PER_HOUR", default=30)
# The daily digest of unread study-group posts (at most once a day per person).
DISCUSSION_DIGEST_HOUR = env.int("DISCUSSION_DIGEST_HOUR", default=18)
CELERY_BEAT_SCHEDULE["discussion-lecture-threads"] = {
    "task": "discussion.lecture_threads",
    "schedule": 60.0,
}
CELERY_BEAT_SCHEDULE["discussion-digest"] = {
    "task": "discussion.digest",
    "schedule": crontab(minute=5),  # hourly; plans from DISCUSSION_DIGEST_HOUR on
}

# Where the demo's sample HLS segments live (served by Django only for the demo).
DEMO_HLS_DIR = BASE_DIR / "static" / "demo" / "hls"

# ---------------------------------------------------------------------------
# NOTIFICATIONS (docs/notifications.md lists every NOTIFY_* variable)
# ---------------------------------------------------------------------------
# Token buckets and the WeChat/DingTalk access_token cache; empty = in-process.
NOTIFY_REDIS_URL = env.str("NOTIFY_REDIS_URL", default=_redis_db(REDIS_URL, 2) if REDIS_URL else "")
# Push channels switched on (the in-site inbox is always on).
NOTIFY_CHANNELS = env.list("NOTIFY_CHANNELS", default=["sms"])
NOTIFY_DEFAULT_CHANNEL_ORDER = env.list(
    "NOTIFY_DEFAULT_CHANNEL_ORDER", default=["zwdd", "dingtalk", "wechat", "sms"]
)
NOTIFY_SMS_PROVIDER = env.str("NOTIFY_SMS_PROVIDER", default="console")  # aliyun|tencent
NOTIFY_SMS_ENDPOINT = env.str("NOTIFY_SMS_ENDPOINT", default="")
NOTIFY_SMS_ACCESS_KEY_ID = env.str("NOTIFY_SMS_ACCESS_KEY_ID", default="")
NOTIFY_SMS_ACCESS_KEY_SECRET = env.str("NOTIFY_SMS_ACCESS_KEY_SECRET", default="")
NOTIFY_SMS_SIGN_NAME = env.str("NOTIFY_SMS_SIGN_NAME", default="知行学堂")
NOTIFY_SMS_SDK_APP_ID = env.str("NOTIFY_SMS_SDK_APP_ID", default="")  # Tencent
NOTIFY_SMS_REGION = env.str("NOTIFY_SMS_REGION", default="ap-guangzhou")  # Tencent
NOTIFY_SMS_TEMPLATE_CODES = env.dict("NOTIFY_SMS_TEMPLATE_CODES", default={})
NOTIFY_SMS_BATCH_SIZE = env.int("NOTIFY_SMS_BATCH_SIZE", default=0)  # 0 = provider max
NOTIFY_SMS_MAX_CHARS = env.int("NOTIFY_SMS_MAX_CHARS", default=140)
NOTIFY_SMS_RATE = env.float("NOTIFY_SMS_RATE", default=50.0)  # API calls per second
NOTIFY_ALIYUN_RECEIPT_TOKEN = env.str("NOTIFY_ALIYUN_RECEIPT_TOKEN", default="")
NOTIFY_WECHAT_PROVIDER = env.str("NOTIFY_WECHAT_PROVIDER", default="wechat")
NOTIFY_WECHAT_ENDPOINT = env.str("NOTIFY_WECHAT_ENDPOINT", default="https://api.weixin.qq.com")
NOTIFY_WECHAT_APPID = env.str("NOTIFY_WECHAT_APPID", default="")
NOTIFY_WECHAT_SECRET = env.str("NOTIFY_WECHAT_SECRET", default="")
NOTIFY_WECHAT_TEMPLATE_IDS = env.dict("NOTIFY_WECHAT_TEMPLATE_IDS", default={})
NOTIFY_WECHAT_TOKEN = env.str("NOTIFY_WECHAT_TOKEN", default="")  # receipt push token
NOTIFY_WECHAT_RATE = env.float("NOTIFY_WECHAT_RATE", default=100.0)
NOTIFY_DINGTALK_PROVIDER = env.str("NOTIFY_DINGTALK_PROVIDER", default="dingtalk")
NOTIFY_DINGTALK_ENDPOINT = env.str("NOTIFY_DINGTALK_ENDPOINT", default="https://oapi.dingtalk.com")
NOTIFY_DINGTALK_APP_KEY = env.str("NOTIFY_DINGTALK_APP_KEY", default="")
NOTIFY_DINGTALK_APP_SECRET = env.str("NOTIFY_DINGTALK_APP_SECRET", default="")
NOTIFY_DINGTALK_AGENT_ID = env.str("NOTIFY_DINGTALK_AGENT_ID", default="")
NOTIFY_DINGTALK_BATCH_SIZE = env.int("NOTIFY_DINGTALK_BATCH_SIZE", default=100)
NOTIFY_DINGTALK_RATE = env.float("NOTIFY_DINGTALK_RATE", default=20.0)
NOTIFY_ZWDD_PROVIDER = env.str("NOTIFY_ZWDD_PROVIDER", default="zwdd")
NOTIFY_ZWDD_ENDPOINT = env.str("NOTIFY_ZWDD_ENDPOINT", default="")
NOTIFY_ZWDD_API_KEY = env.str("NOTIFY_ZWDD_API_KEY", default="")
NOTIFY_ZWDD_API_SECRET = env.str("NOTIFY_ZWDD_API_SECRET", default="")
NOTIFY_ZWDD_TENANT_ID = env.str("NOTIFY_ZWDD_TENANT_ID", default="")
NOTIFY_ZWDD_BATCH_SIZE = env.int("NOTIFY_ZWDD_BATCH_SIZE", default=100)
NOTIFY_ZWDD_RATE = env.float("NOTIFY_ZWDD_RATE", default=20.0)
NOTIFY_HTTP_TIMEOUT = env.float("NOTIFY_HTTP_TIMEOUT", default=10.0)
NOTIFY_MAX_ATTEMPTS = env.int("NOTIFY_MAX_ATTEMPTS", default=5)
NOTIFY_BACKOFF_BASE = env.float("NOTIFY_BACKOFF_BASE", default=30.0)  # seconds
NOTIFY_BACKOFF_CAP = env.float("NOTIFY_BACKOFF_CAP", default=1800.0)
NOTIFY_SENDING_TIMEOUT = env.int("NOTIFY_SENDING_TIMEOUT", default=300)  # sweeper
NOTIFY_RECEIPT_DEADLINE = env.int("NOTIFY_RECEIPT_DEADLINE", default=900)  # fallback
NOTIFY_RECONCILE_AFTER = env.int("NOTIFY_RECONCILE_AFTER", default=60)  # unknown → query
NOTIFY_DISPATCH_SECONDS = env.float("NOTIFY_DISPATCH_SECONDS", default=50.0)
NOTIFY_DISPATCH_CONCURRENCY = env.int("NOTIFY_DISPATCH_CONCURRENCY", default=2)
NOTIFY_QUEUE_PER_CHANNEL = env.bool("NOTIFY_QUEUE_PER_CHANNEL", default=False)
NOTIFY_SCAN_DAYS = env.int("NOTIFY_SCAN_DAYS", default=3)
# Receipts of providers without push (Tencent PullSmsSendStatus, DingTalk getsendresult):
# polled every this many seconds (0 = never); per run at most this many Tencent pages
# (100 reports each; 0 = no pulling, e.g. when Tencent has not switched it on) and this
# many DingTalk tasks.
NOTIFY_RECEIPT_POLL_SECONDS = env.int("NOTIFY_RECEIPT_POLL_SECONDS", default=30)
NOTIFY_TENCENT_PULL_PAGES = env.int("NOTIFY_TENCENT_PULL_PAGES", default=200)
NOTIFY_DINGTALK_POLL_TASKS = env.int("NOTIFY_DINGTALK_POLL_TASKS", default=200)
if min(NOTIFY_RECEIPT_POLL_SECONDS, NOTIFY_TENCENT_PULL_PAGES, NOTIFY_DINGTALK_POLL_TASKS) < 0:
    raise ImproperlyConfigured(
        "NOTIFY_RECEIPT_POLL_SECONDS, NOTIFY_TENCENT_PULL_PAGES and "
        "NOTIFY_DINGTALK_POLL_TASKS must be >= 0."
    )
CELERY_BEAT_SCHEDULE["notifications-tick"] = {
    "task": "notifications.tick",
    "schedule": 60.0,
}
CELERY_BEAT_SCHEDULE["notifications-sweep"] = {
    "task": "notifications.sweep",
    "schedule": 60.0,
}
if NOTIFY_RECEIPT_POLL_SECONDS:
    CELERY_BEAT_SCHEDULE["notifications-receipts"] = {
        "task": "notifications.poll_receipts",
        "schedule": float(NOTIFY_RECEIPT_POLL_SECONDS),
    }
CELERY_BEAT_SCHEDULE["notifications-ranking"] = {
    "task": "notifications.ranking_tick",
    "schedule": 60.0,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # phone numbers are masked in every line (portal/logs.py)
    "filters": {"phones": {"()": "portal.logs.PhoneMaskFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["phones"]}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
