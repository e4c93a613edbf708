"""Configuration: defaults, then the environment, then an explicit mapping.

Kept free of Flask so that workers and the CLI resolve settings the same way.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INSTANCE = PROJECT_ROOT / "instance"

ENV_KEYS = (
    "DATABASE_URL",
    "REDIS_URL",
    "SECRET_KEY",
    "WORDLIST_DIR",
    "SCAN_QUEUE",
    "INSTANCE_PATH",
    "PREFERRED_URL_SCHEME",
    "PROXY_COUNT",
    # notifications and deadlines (issue 4)
    "NOTIFY_QUEUE",
    "SMTP_HOST", "SMTP_PORT", "SMTP_USER", "SMTP_PASSWORD", "SMTP_FROM", "SMTP_STARTTLS", "SMTP_SSL",
    "NORMAL_DEADLINE_WORKING_DAYS",
    "SCAN_BATCH",
)


def _secret_key(instance: Path) -> str:
    """A key generated once and kept in instance/, so sessions survive restarts."""
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    # O_EXCL: two processes starting at once must agree on one key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def load(overrides: dict | None = None) -> dict:
    """Return the full settings mapping."""
    overrides = dict(overrides or {})
    env = {k: os.environ[k] for k in ENV_KEYS if os.environ.get(k)}
    merged = {**env, **overrides}
    instance = Path(merged.get("INSTANCE_PATH") or DEFAULT_INSTANCE)
    instance.mkdir(parents=True, exist_ok=True)
    settings = {
        "INSTANCE_PATH": str(instance),
        "DATABASE_URL": f"sqlite:///{instance / 'imprimatur.db'}",
        "REDIS_URL": None,  # None: the embedded Redis under instance/
        "WORDLIST_DIR": str(PROJECT_ROOT / "wordlists"),
        "SCAN_QUEUE": "scan",
        "SCAN_JOB_TIMEOUT": 120,
        "SCAN_RETRIES": 3,
        "SCAN_RETRY_INTERVALS": [2, 10, 30],
        # Scan jobs waiting in the queue a worker takes along with its job, to store in one commit.
        "SCAN_BATCH": 20,
        # A killed worker's job is presumed dead after this many seconds without a heartbeat.
        "WORKER_HEARTBEAT_INTERVAL": 10,
        "WORKER_HEARTBEAT_GRACE": 30,
        "SWEEP_INTERVAL": 60,
        # Sweeps that may re-enqueue one version before it is declared scan_failed.
        "MAX_SCAN_ATTEMPTS": 5,
        "URGENT_DEADLINE_MINUTES": 30,
        # Review deadlines, notifications (e-mail, webhooks) and their queue.
        "NORMAL_DEADLINE_WORKING_DAYS": 2,
        "URGENT_DEADLINE_SECONDS": None,  # drills and tests: overrides every channel's urgent minutes
        "NOTIFY_QUEUE": None,  # None: "<SCAN_QUEUE>-notify"
        "NOTIFY_RETRIES": 1,
        "NOTIFY_RETRY_INTERVALS": [30],
        "NOTIFY_TIMEOUT": 10,
        "SMTP_HOST": "",  # empty: no e-mail
        "SMTP_PORT": 25,
        "SMTP_USER": "",
        "SMTP_PASSWORD": "",
        "SMTP_FROM": "",
        "SMTP_STARTTLS": "",
        "SMTP_SSL": "",
        "MAX_BODY_CHARS": 100_000,
        "MAX_TITLE_CHARS": 200,
        "MAX_CONTENT_LENGTH": 2 * 1024 * 1024,
        "WTF_CSRF_ENABLED": True,
        "WTF_CSRF_TIME_LIMIT": None,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
    }
    settings.update(merged)
    settings["SCAN_BATCH"] = max(1, int(settings["SCAN_BATCH"]))  # from the environment it is text
    if not settings.get("NOTIFY_QUEUE"):
        settings["NOTIFY_QUEUE"] = f"{settings['SCAN_QUEUE']}-notify"
    if not settings.get("SECRET_KEY"):
        settings["SECRET_KEY"] = _secret_key(instance)
    settings["DATABASE_URL"] = normalise_database_url(settings["DATABASE_URL"])
    return settings


def normalise_database_url(url: str) -> str:
    """Accept plain postgres:// URLs and route them to psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url
