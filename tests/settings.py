"""Settings for the test suite: the real settings with test-only defaults."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "shopops-tests-only")
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "false")

from shopops.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# One folder per pytest-xdist worker (``make test`` runs two), shared with the Celery workers a test starts (they
# inherit PYTEST_XDIST_WORKER): the same ids in each worker's database would name the same files.
_XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
MEDIA_ROOT = BASE_DIR / f".pytest-media{_XDIST_WORKER}"  # noqa: F405
PRIVATE_MEDIA_ROOT = BASE_DIR / f".pytest-private{_XDIST_WORKER}"  # noqa: F405
# Tasks run in the test process unless a test starts a real worker (see tests/shopops/test_celery.py).
CELERY_TASK_ALWAYS_EAGER = True
OAUTH2_PROVIDER["ALWAYS_RELOAD_OAUTHLIB_CORE"] = True  # noqa: F405
