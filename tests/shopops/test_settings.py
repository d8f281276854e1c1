"""shopops.settings read from the environment, checked in fresh processes with a minimal environment."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def run_python(*args: str, **env: str) -> subprocess.CompletedProcess:
    """Run the project's Python in PROJECT_ROOT with only PATH, the production settings module and ``env``."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=PROJECT_ROOT,
        env={"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "shopops.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def production_env(tmp_path) -> dict[str, str]:
    return {
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(45),  # 60 random characters
        "DJANGO_ALLOWED_HOSTS": "ops.example.com",
        "SHOPOPS_PUBLIC_URL": "https://ops.example.com",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'shopops.sqlite3'}",
    }


def test_production_refuses_to_start_without_a_secret_key():
    # given DJANGO_DEBUG and DJANGO_SECRET_KEY unset

    # when
    result = run_python("-c", "import django; django.setup()")

    # then
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "django.core.exceptions.ImproperlyConfigured: DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off."
    )


def test_production_refuses_to_start_without_allowed_hosts():
    # given a secret key but no DJANGO_ALLOWED_HOSTS

    # when
    result = run_python("-c", "import django; django.setup()", DJANGO_SECRET_KEY="s" * 60)

    # then
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "django.core.exceptions.ImproperlyConfigured: DJANGO_ALLOWED_HOSTS must be set when DJANGO_DEBUG is off."
    )


def test_deploy_check_is_clean_in_production(tmp_path):
    # given a production-like environment
    env = production_env(tmp_path)

    # when
    result = run_python("manage.py", "check", "--deploy", "--fail-level", "WARNING", **env)

    # then
    assert result.returncode == 0, result.stderr
    assert result.stdout == "System check identified no issues (0 silenced).\n"
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("broker_env", "expected"),
    [
        pytest.param({}, "True", id="no-broker"),
        pytest.param({"CELERY_BROKER_URL": "redis://redis:6379/0"}, "False", id="broker"),
    ],
)
def test_tasks_run_eagerly_only_without_a_broker(tmp_path, broker_env, expected):
    # given a production environment with or without CELERY_BROKER_URL
    env = production_env(tmp_path) | broker_env

    # when
    result = run_python("-c", "from django.conf import settings; print(settings.CELERY_TASK_ALWAYS_EAGER)", **env)

    # then
    assert (result.returncode, result.stdout, result.stderr) == (0, f"{expected}\n", "")


def test_postgres_database_url_selects_the_postgresql_backend(tmp_path):
    # given a PostgreSQL DATABASE_URL
    env = production_env(tmp_path) | {"DATABASE_URL": "postgres://u@h:5432/db"}
    code = (
        "from django.conf import settings; db = settings.DATABASES['default']; "
        "print(db['ENGINE'], db['NAME'], db['USER'], db['HOST'], db['PORT'])"
    )

    # when
    result = run_python("-c", code, **env)

    # then
    assert (result.returncode, result.stdout, result.stderr) == (0, "django.db.backends.postgresql db u h 5432\n", "")


def test_the_database_and_the_redis_cache_get_short_connect_timeouts(tmp_path):
    # given PostgreSQL, once with a connect_timeout of its own in the URL, and a Redis cache
    code = (
        "import json; from django.conf import settings as s; "
        "print(json.dumps([s.DATABASES['default'].get('OPTIONS'), s.CACHES['default']]))"
    )
    env = {**production_env(tmp_path), "CACHE_URL": "redis://cache:6379/1"}

    # when
    plain = run_python("-c", code, **{**env, "DATABASE_URL": "postgres://shopops@db/shopops"})
    own = run_python("-c", code, **{**env, "DATABASE_URL": "postgres://shopops@db/shopops?connect_timeout=5"})

    # then a database that drops packets costs 2 s, not psycopg's 130 s; the cache 0.5 s to connect or to read
    cache = {
        "BACKEND": "shopops.cache.FallbackRedisCache",
        "LOCATION": "redis://cache:6379/1",
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    }
    assert json.loads(plain.stdout) == [{"connect_timeout": 2}, cache]
    assert json.loads(own.stdout) == [{"connect_timeout": 5}, cache]


def test_the_jobs_requeue_sweep_runs_as_often_and_waits_as_long_as_the_environment_says(tmp_path):
    # given the defaults, and the fault drills' short sweep
    code = (
        "import json; from django.conf import settings as s; "
        "print(json.dumps([s.CELERY_BEAT_SCHEDULE['jobs-requeue']['schedule'].total_seconds(), "
        "s.JOB_REQUEUE_AFTER.total_seconds()]))"
    )
    env = production_env(tmp_path)

    # when
    default = run_python("-c", code, **env)
    short = run_python("-c", code, **env, JOBS_REQUEUE_EVERY_SECONDS="2", JOB_REQUEUE_AFTER_SECONDS="3")

    # then every 30 s, for jobs waiting over 60 s; or as set
    assert (json.loads(default.stdout), json.loads(short.stdout)) == ([30.0, 60.0], [2.0, 3.0])


def test_the_e_way_bill_threshold_is_50000_rupees_unless_set_and_a_bad_one_refuses_to_start(tmp_path):
    code = "from django.conf import settings as s; print(repr(s.EWAY_BILL_THRESHOLD))"
    env = production_env(tmp_path)

    default = run_python("-c", code, **env)
    own = run_python("-c", code, **env, EWAY_BILL_THRESHOLD="100000.50")
    bad = [run_python("-c", code, **env, EWAY_BILL_THRESHOLD=value) for value in ("fifty", "-1", "NaN")]

    assert (default.stdout, own.stdout) == ("Decimal('50000')\n", "Decimal('100000.50')\n")
    assert [(result.returncode, result.stderr.splitlines()[-1]) for result in bad] == [
        (1, "django.core.exceptions.ImproperlyConfigured: EWAY_BILL_THRESHOLD must be an amount in rupees, e.g. 50000.")
    ] * 3
