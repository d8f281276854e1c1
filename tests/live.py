"""Live ShopOps processes for the gates that test a running server: the schema fuzzing (tests/fuzz/run.py) and the
fault drills (tests/faults/). Each child runs in a process group of its own, so that stopping it stops what it
started (gunicorn's workers, Celery's pool)."""

import base64
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def start(command: list[str], **kwargs) -> subprocess.Popen:
    """``command`` in the project's directory, in a process group of its own (stopped with ``stop``)."""
    return subprocess.Popen(command, cwd=kwargs.pop("cwd", ROOT), start_new_session=True, **kwargs)


def stop(child: subprocess.Popen, timeout: float = 15) -> None:
    """TERM to the child's process group, KILL after ``timeout`` seconds; nothing if it has ended."""
    if child.poll() is not None:
        return
    try:
        os.killpg(child.pid, signal.SIGTERM)
        child.wait(timeout=timeout)
    except ProcessLookupError:
        child.wait()
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen, timeout: float) -> None:
    """Until ``url`` answers 200; RuntimeError if ``process`` exits first or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"The server exited early with status {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"The server did not answer {url} within {timeout:.0f} s")


def fetch_token(base: str, client_id: str, client_secret: str) -> str:
    """A client-credentials access token from ``/o/token/``."""
    basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
    request = urllib.request.Request(
        f"{base}/o/token/",
        data=urllib.parse.urlencode({"grant_type": "client_credentials"}).encode(),
        headers={"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["access_token"]


def recreate_database(url: str) -> None:
    """Drop (if it exists) and create the database of ``url``, a PostgreSQL URL."""
    import psycopg

    parts = urllib.parse.urlsplit(url)
    name = parts.path.lstrip("/")
    if not name.replace("_", "").isalnum():
        raise ValueError(f"Unexpected database name {name!r}")
    admin_url = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def server_env(*, database_url: str, files: Path, **extra: str) -> dict[str, str]:
    """The environment of a ShopOps process as production runs it (DEBUG off, the production settings) on
    ``database_url``, with its media under ``files``; ``extra`` adds or replaces variables. The broker and the
    cache are left out unless ``extra`` names them (Celery eager, the cache in process memory)."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "shopops.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "shopops-live-tests-only",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        # Required with DEBUG off: the address in the links ShopOps sends out (no drill follows them).
        "SHOPOPS_PUBLIC_URL": "http://127.0.0.1:8000",
        "DJANGO_MEDIA_ROOT": str(files / "media"),
        "DJANGO_PRIVATE_MEDIA_ROOT": str(files / "private"),
        "PYTHONUNBUFFERED": "1",
    }
    for name in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "CACHE_URL"):
        env.pop(name, None)
    env.update(extra)
    return env
