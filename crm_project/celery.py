"""The Celery app: `celery -A crm_project worker -B` (make run starts both for you)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm_project.settings.local")
# One BLAS thread per process: the scoring optimiser slows down badly when BLAS threads
# fight the other worker processes for 1–2 cores (set before numpy is first imported).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

app = Celery("crm_project")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
