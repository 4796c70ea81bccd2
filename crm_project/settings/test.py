"""The test suite: fast hashing, in-memory mail, the same database switch as everywhere."""

import os

from .base import *  # noqa: F403
from .base import env

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# In memory; a test that starts a real worker may switch it to SMTP (a local aiosmtpd).
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.locmem.EmailBackend")

# A file, not memory, so that a real worker process or browser server sees the same data.
(BASE_DIR / "var").mkdir(exist_ok=True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # One file per run, so two runs side by side never share it.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "var" / f"test-{os.getpid()}.sqlite3")}
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
CELERY_TASK_EAGER_PROPAGATES = True
# A pause inside the score write, so a test can kill a worker midway (test-only hook).
XW_TEST_PAUSE_BEFORE_SCORE_WRITE = env.float("XW_TEST_PAUSE_BEFORE_SCORE_WRITE", default=0.0)
XW_TEST_PAUSE_IN_CHECKOUT = env.float("XW_TEST_PAUSE_IN_CHECKOUT", default=0.0)
