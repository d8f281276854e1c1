"""Settings for the test suite: the real settings with test-only defaults."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "shopops-tests-only")
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "false")
# The address in links sent out (tracking pages, invitations, documents in webhooks): required with DEBUG off.
os.environ.setdefault("SHOPOPS_PUBLIC_URL", "http://127.0.0.1:8000")
# The suite's key for credentials at rest (a fixed Fernet key, for tests only).
os.environ.setdefault("SHOPOPS_CREDENTIALS_KEYS", "dGVzdHMtb25seS1jcmVkZW50aWFscy1rZXktMzJiISE=")
# Under pytest-xdist each process has a Redis database of its own (gw0 the 1st, gw1 the 2nd; 0 without xdist), so
# the Celery workers one process's tests start never take another's messages. The workers inherit the variable (and
# PYTEST_XDIST_WORKER), and the same rule gives them the same database.
if os.environ.get("PYTEST_XDIST_WORKER", "").startswith("gw") and os.environ.get("CELERY_BROKER_URL", "").startswith(
    ("redis://", "rediss://")
):
    _broker = os.environ["CELERY_BROKER_URL"].split("?")[0]
    _host = _broker.split("://", 1)[1].split("/", 1)[0]
    _scheme = _broker.split("://", 1)[0]
    os.environ["CELERY_BROKER_URL"] = f"{_scheme}://{_host}/{int(os.environ['PYTEST_XDIST_WORKER'][2:]) + 1}"

from shopops.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# One folder per pytest-xdist worker (``make test`` runs two), shared with the Celery workers a test starts (they
# inherit PYTEST_XDIST_WORKER): the same ids in each worker's database would name the same files.
_XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
MEDIA_ROOT = BASE_DIR / f".pytest-media{_XDIST_WORKER}"  # noqa: F405
PRIVATE_MEDIA_ROOT = BASE_DIR / f".pytest-private{_XDIST_WORKER}"  # noqa: F405
# Tasks run in the test process unless a test starts a real worker (see tests/shopops/test_celery.py).
CELERY_TASK_ALWAYS_EAGER = True
# No test reaches a courier service: every host is a closed local port unless a test routes it (respx, responses).
COURIER_BASE_URLS = dict.fromkeys(COURIER_BASE_URLS, "http://127.0.0.1:9")  # noqa: F405
OAUTH2_PROVIDER["ALWAYS_RELOAD_OAUTHLIB_CORE"] = True  # noqa: F405
