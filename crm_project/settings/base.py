"""Settings shared by every environment, read from the environment through one `env`."""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env("DJANGO_SECRET_KEY", default="insecure-local-only-key-change-me")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "rest_framework_api_key",
    "drf_spectacular",
    "axes",
    "drf_spectacular_sidecar",
    "accounts",
    "customers",
    "feedback",
    "membership",
    "segmentation",
    "campaigns",
    "reports",
    "django_htmx",
    "shop",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.gzip.GZipMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.BusinessMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "crm_project.urls"
WSGI_APPLICATION = "crm_project.wsgi.application"

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
            ],
        },
    },
]

# SQLite by default (WAL, busy timeout: web, worker and scheduler share one file);
# DATABASE_URL switches to PostgreSQL.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env("DJANGO_MEDIA_ROOT", default=str(BASE_DIR / "var" / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

LOGIN_URL = "admin:login"

# Brute-force protection (django-axes, docs/limits.md): after XW_LOGIN_FAILURE_LIMIT wrong
# passwords for one username from one IP, that pair is locked out for the cool-off. Counted in
# the shared cache when CACHE_URL names one (Redis), otherwise in the database: either way all
# web processes see the same count (a per-process memory cache would not).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("XW_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("XW_LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_DISABLE_ACCESS_LOG = True  # failures and lockouts are still logged and kept
AXES_SENSITIVE_PARAMETERS: list[str] = []  # the log names the username and IP under attack
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
AXES_HANDLER = (
    "axes.handlers.cache.AxesCacheHandler"
    if env("CACHE_URL", default="").startswith(("redis", "rediss", "memcache", "pymemcache"))
    else "axes.handlers.database.AxesDatabaseHandler"
)

# Rate limits (feedback form, API throttling) count in the cache: set CACHE_URL=redis://…
# when more than one web process serves.
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://xiaowei")}
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.api.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.api.BusinessPermission"],
    "DEFAULT_THROTTLE_CLASSES": ["accounts.api.ApiKeyThrottle"],
    "DEFAULT_THROTTLE_RATES": {"api": env("XW_API_RATE", default="1200/min")},
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "accounts.api.CursorPage",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "crm_project.api_errors.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["accounts.api.BoundedJSONParser"],
    "LIST_SERIALIZER_ERRORS_AS_DICT": True,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "XiaoWei CRM API",
    "DESCRIPTION": (
        "Customers, purchases, interactions, follow-ups, feedback and customer-value scores of "
        "one business. Authenticate with `Authorization: Api-Key <key>` (created by the owner "
        "in the admin or with `manage.py create_api_key`). Another business's ids answer 404."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # /api/docs/ works offline: Swagger UI from the installed sidecar package, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "crm_project.api_schema.add_error_responses",
    ],
    # Several models have a "status": one named enum each in the schema.
    "ENUM_NAME_OVERRIDES": {
        "CustomerStatusEnum": "customers.models.CUSTOMER_STATUS_CHOICES",
        "ScoringRunStatusEnum": "segmentation.models.SCORING_RUN_STATUS_CHOICES",
        "FeedbackStatusEnum": "feedback.models.FEEDBACK_STATUS_CHOICES",
        "CampaignStatusEnum": "campaigns.models.CAMPAIGN_STATUS_CHOICES",
        "CampaignMemberStatusEnum": "campaigns.models.CAMPAIGN_MEMBER_STATUS_CHOICES",
        # Audiences filter by the same choices the customers and scores carry.
        "SourceEnum": "customers.models.CUSTOMER_SOURCE_CHOICES",
        "RfmSegmentEnum": "segmentation.models.SEGMENT_CHOICES",
        "ValueTierEnum": "segmentation.models.TIER_CHOICES",
    },
}
# The bulk ingest accepts up to 1,000 purchases a request.
XW_API_BULK_MAX = 1000
# API limits (docs/api.md): request body size, rows per page, text fields, tags per customer,
# wrong API keys per client IP and minute before every key from it answers 429.
XW_API_BODY_MAX = env.int("XW_API_BODY_MAX", default=2 * 1024 * 1024)
XW_API_PAGE_SIZE_MAX = 200
XW_API_TEXT_MAX = 5000
XW_API_TAGS_MAX = 50
XW_API_FAILED_KEYS_PER_MIN = env.int("XW_API_FAILED_KEYS_PER_MIN", default=20)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="INFO")},
}

# Celery. Embedded default: kombu's filesystem transport, so `make run` needs no server;
# CELERY_BROKER_URL=redis://127.0.0.1:6379/0 at scale.
CELERY_DATA_DIR = Path(env("CELERY_DATA_DIR", default=str(BASE_DIR / "var" / "celery")))
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(CELERY_DATA_DIR / "queue"),
        "data_folder_out": str(CELERY_DATA_DIR / "queue"),
        "processed_folder": str(CELERY_DATA_DIR / "processed"),
        # Else kombu writes control/celery.exchange into the current directory.
        "control_folder": str(CELERY_DATA_DIR / "control"),
        "store_processed": False,
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    else {
        # Longer than the longest task time limit, so a slow task is not redelivered midway.
        "visibility_timeout": 2 * 60 * 60,
    }
)
if CELERY_BROKER_URL.startswith("filesystem"):
    for _folder in ("queue", "processed", "control"):
        (CELERY_DATA_DIR / _folder).mkdir(parents=True, exist_ok=True)
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=None)
CELERY_TASK_IGNORE_RESULT = CELERY_RESULT_BACKEND is None
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 60 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 55 * 60
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_WORKER_ENABLE_REMOTE_CONTROL = not CELERY_BROKER_URL.startswith("filesystem")
CELERY_BEAT_SCHEDULE_FILENAME = str(CELERY_DATA_DIR / "beat-schedule")
CELERY_BEAT_SCHEDULE = {
    "nightly-scoring": {
        "task": "segmentation.tasks.score_all_businesses",
        "schedule": crontab(hour=2, minute=30),
    },
    # Every 15 minutes: each business whose Monday 07:00 (its own zone) has passed and whose
    # report for last week is missing or failed gets one build task (reports/tasks.py).
    "weekly-reports": {
        "task": "reports.tasks.weekly_reports_dispatch",
        "schedule": crontab(minute="*/15"),
    },
    "feedback-requests": {
        "task": "feedback.tasks.feedback_requests_dispatch",
        "schedule": 300.0,
    },
    "membership-points-expiry": {
        "task": "membership.tasks.points_expire_nightly",
        "schedule": crontab(hour=3, minute=0),
    },
    # Every 5 minutes: one planning task per business with running campaigns (automatic
    # triggers), then one send task per due e-mail / SMS message (campaigns/tasks.py).
    "campaigns": {
        "task": "campaigns.tasks.campaigns_dispatch",
        "schedule": 300.0,
    },
    "membership-reconciliation": {
        "task": "membership.tasks.ledger_reconcile_nightly",
        "schedule": crontab(hour=3, minute=30),
    },
}

# Customer value scoring (docs/scoring.md). Weights are shown to the owner on each score.
XW_SCORING = {
    "horizon_months": env.int("XW_SCORING_HORIZON_MONTHS", default=12),
    "discount_rate_annual": env.float("XW_SCORING_DISCOUNT_RATE", default=0.10),
    "min_repeat_customers": env.int("XW_SCORING_MIN_REPEAT_CUSTOMERS", default=20),
    # Churn risk = chance of no purchase in this many days (docs/scoring.md).
    "churn_window_days": env.int("XW_SCORING_CHURN_WINDOW_DAYS", default=90),
    # Purchase model: bgnbd, mbgnbd, or auto (the better on the shop's own last window).
    "model": env("XW_SCORING_MODEL", default="auto"),
    # Scale predictions by the shop's month-of-year pattern (needs 2 years of history).
    "seasonality": env.bool("XW_SCORING_SEASONALITY", default=True),
    # Each run also checks the previous window's predictions against what happened.
    "self_check": env.bool("XW_SCORING_SELF_CHECK", default=True),
    "loyalty_weights": {"returning": 0.70, "repeat": 0.15, "tenure": 0.05, "satisfaction": 0.10},
}
# Staff time in interactions counts in the cost to serve at this rate (money per hour).
XW_STAFF_COST_PER_HOUR = env.float("XW_STAFF_COST_PER_HOUR", default=30.0)
# Each complaint (an interaction of kind "complaint") adds this much to the cost to serve.
XW_COMPLAINT_COST = env.float("XW_COMPLAINT_COST", default=20.0)
# Fault injection for the worker-kill test; only settings/test.py reads it from the environment.
XW_TEST_PAUSE_BEFORE_SCORE_WRITE = 0.0
# Fault injection for the checkout-kill test; only settings/test.py reads it from the environment.
XW_TEST_PAUSE_IN_CHECKOUT = 0.0

# Feedback (docs/feedback.md)
XW_FEEDBACK_SENDER = env("XW_FEEDBACK_SENDER", default="feedback.senders.LogSender")
XW_FEEDBACK_LINK_DAYS = env.int("XW_FEEDBACK_LINK_DAYS", default=30)

# Campaigns (docs/campaigns.md)
# At most one campaign message per customer in this many days, across all campaigns.
XW_CAMPAIGN_MIN_GAP_DAYS = env.int("XW_CAMPAIGN_MIN_GAP_DAYS", default=14)
# No campaign message from this hour to that hour, in the business's own time zone.
XW_CAMPAIGN_QUIET_HOURS = tuple(env.list("XW_CAMPAIGN_QUIET_HOURS", cast=int, default=[21, 9]))
# The SMS provider for campaigns sent by SMS (a campaigns.senders.BaseSmsSender subclass).
XW_SMS_SENDER = env("XW_SMS_SENDER", default="campaigns.senders.LogSmsSender")

# Import limits (docs/limits.md): checked before a file is parsed.
XW_IMPORT_MAX_ROWS = env.int("XW_IMPORT_MAX_ROWS", default=1_000_000)
XW_IMPORT_XLSX_MAX_UNCOMPRESSED_MB = env.int("XW_IMPORT_XLSX_MAX_UNCOMPRESSED_MB", default=1024)
XW_IMPORT_XLSX_MAX_SHARED_STRINGS_MB = env.int("XW_IMPORT_XLSX_MAX_SHARED_STRINGS_MB", default=64)
# Scheme and host of links sent out, printed and in QR codes. Empty: the admin's own host for
# links shown in the admin, http://127.0.0.1:$PORT elsewhere (`make run` sets it from PORT).
XW_PUBLIC_BASE_URL = env("XW_PUBLIC_BASE_URL", default="").rstrip("/")
XW_LOCAL_BASE_URL = f"http://127.0.0.1:{env.int('PORT', default=8000)}"
# Posts to the public form larger than this get 413 before the body is read (2,000 + 1,000
# Chinese characters are ~27 kB once form-encoded).
XW_FEEDBACK_MAX_BODY_BYTES = env.int("XW_FEEDBACK_MAX_BODY_BYTES", default=32 * 1024)
XW_FEEDBACK_RATE_LIMITS = {
    "address_per_minute": env.int("XW_FEEDBACK_RATE_ADDRESS_PER_MINUTE", default=5),
    "address_per_hour": env.int("XW_FEEDBACK_RATE_ADDRESS_PER_HOUR", default=30),
    "link_per_minute": env.int("XW_FEEDBACK_RATE_LINK_PER_MINUTE", default=20),
}
# Behind exactly one trusted reverse proxy: the client address is its X-Forwarded-For entry.
XW_FEEDBACK_TRUST_X_FORWARDED_FOR = env.bool("XW_FEEDBACK_TRUST_X_FORWARDED_FOR", default=False)

# Import (docs/import-export.md): files up to this many rows are handled within the request,
# larger ones by the worker; uploads over the size are refused.
IMPORT_SYNC_ROW_LIMIT = env.int("IMPORT_SYNC_ROW_LIMIT", default=5000)
IMPORT_MAX_UPLOAD_MB = env.int("IMPORT_MAX_UPLOAD_MB", default=200)

# Weekly owner report (docs/reports.md). E-mail goes through Django's e-mail backend; SMTP from
# EMAIL_HOST/EMAIL_PORT/EMAIL_HOST_USER/EMAIL_HOST_PASSWORD/EMAIL_USE_TLS.
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="XiaoWei CRM <noreply@localhost>")
# Extra report sections from lower apps, as dotted paths (reports/sections.py), e.g.
# "membership.reporting.weekly_section" once member cards are merged.
XW_REPORT_SECTIONS = env.list("XW_REPORT_SECTIONS", default=[])
