"""Fixtures: a real app on a real database (SQLite always, PostgreSQL when
TEST_DATABASE_URL or DATABASE_URL names one), real Redis (127.0.0.1:6379
when it answers, else the embedded server; a queue per test), real RQ workers."""
from __future__ import annotations

import os
import re
import shutil
import uuid
from pathlib import Path

import pytest
import redis
from hypothesis import settings as hypothesis_settings
from sqlalchemy import create_engine, text

from app import create_app
from review.config import normalise_database_url
from review.db import Database
from tests.factories import PASSWORD, WebUser
from workers import redis_server

# CI replays one fixed sequence of examples, so a landing is never turned red by
# a chance find; runs elsewhere explore new examples (and keep what they find).
hypothesis_settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

ROOT = Path(__file__).resolve().parent.parent


def _worker_index() -> int:
    name = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(re.sub(r"\D", "", name) or 0)


def _postgres_url() -> str | None:
    url = os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL") or ""
    return normalise_database_url(url) if url.startswith(("postgres://", "postgresql")) else None


def pytest_configure(config):
    config.addinivalue_line("markers", "app_config(**settings): extra settings for the app fixture; "
                            "'{tmp}' in a string value is replaced by the test's tmp_path")


BACKENDS = ["sqlite"] + (["postgresql"] if _postgres_url() else [])


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    db = 1 + _worker_index()  # each xdist worker its own database number
    try:
        local = redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=1).ping()
    except redis.RedisError:
        local = False
    if local:
        yield f"redis://127.0.0.1:6379/{db}"
        return
    instance = tmp_path_factory.mktemp("redis")
    url = redis_server.ensure_running(instance)
    yield f"{url}?db={db}"
    redis_server.stop(instance)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """Migrate once; each test gets a copy of the file."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    db = Database(f"sqlite:///{path}")
    db.upgrade()
    db.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_database():
    base = _postgres_url()
    if not base:
        yield None
        return
    # One database per test run and xdist worker: runs side by side never share one.
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID", uuid.uuid4().hex)[:8]
    name = f"imprimatur_test_{run}_{_worker_index()}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.rsplit("/", 1)[0] + "/" + name
    db = Database(url)
    db.upgrade()
    db.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _empty_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        tables = [r[0] for r in conn.execute(text(
            "select tablename from pg_tables where schemaname='public' and tablename <> 'alembic_version'"))]
        conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def app(request, tmp_path, redis_url, sqlite_template):
    if request.param == "sqlite":
        db_file = tmp_path / "test.db"
        shutil.copy(sqlite_template, db_file)
        database_url = f"sqlite:///{db_file}"
    else:
        database_url = request.getfixturevalue("postgres_database")
        _empty_postgres(database_url)
    marker = request.node.get_closest_marker("app_config")
    extra = {k: v.replace("{tmp}", str(tmp_path)) if isinstance(v, str) else v
             for k, v in (marker.kwargs if marker else {}).items()}
    application = create_app({
        "TESTING": True,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        # A queue of its own: parallel test runs share the Redis server.
        "SCAN_QUEUE": f"test-{uuid.uuid4().hex[:12]}",
        "SECRET_KEY": "test-secret",
        "WORDLIST_DIR": str(ROOT / "wordlists"),
        "SCAN_RETRIES": 1,
        "SCAN_RETRY_INTERVALS": [0],
        "WORKER_HEARTBEAT_INTERVAL": 1,
        "WORKER_HEARTBEAT_GRACE": 2,
        **extra,
    })
    yield application
    application.extensions["imprimatur"].db.dispose()


@pytest.fixture
def rt(app):
    return app.extensions["imprimatur"]


@pytest.fixture
def db(rt):
    return rt.db


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def make(db):
    """Test data factories over the real domain functions."""
    from tests.factories import Factories

    return Factories(db)


@pytest.fixture
def run_worker(rt):
    """Run a real RQ worker in burst mode (forks a work horse per job)."""
    from workers import worker

    def run():
        return worker.run(rt, burst=True, with_scheduler=False)

    return run


@pytest.fixture
def login(app):
    return lambda username, password=PASSWORD: WebUser.login(app, username, password)
