"""Database engine, sessions and migrations. No Flask here: the web layer,
the worker and the CLI all get their sessions from a `Database`."""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

from review.config import PROJECT_ROOT

MIGRATIONS_DIR = PROJECT_ROOT / "migrations"


def _sqlite_pragmas(dbapi_conn, _record):
    cur = dbapi_conn.cursor()
    # WAL lets the web read while a worker writes; a busy timeout makes writers
    # queue instead of failing at once.
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def bulk_insert(session: Session, table, rows: list[dict]) -> None:
    """Insert many rows of `table` in the session's transaction. On PostgreSQL
    with psycopg 3 this is one COPY: for a draft's hundreds of flags it costs
    about a tenth of an executemany's client CPU and half its server CPU
    (bench/pipeline_floor.py's storage figures). Elsewhere, an executemany."""
    if not rows:
        return
    connection = session.connection()
    raw = connection.connection.driver_connection
    if connection.dialect.name != "postgresql" or not hasattr(raw, "pgconn"):  # SQLite, or another driver
        connection.execute(table.insert(), rows)
        return
    columns = list(rows[0])
    quoted = ", ".join(connection.dialect.identifier_preparer.quote(c) for c in columns)
    with raw.cursor() as cursor:
        with cursor.copy(f"COPY {connection.dialect.identifier_preparer.format_table(table)} ({quoted}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([row[c] for c in columns])


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    return engine


class Database:
    """Owns one engine; hands out sessions. Safe to share across fork: the
    child drops the parent's pooled connections on first use."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self._pid = os.getpid()

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    def _check_fork(self):
        if os.getpid() != self._pid:
            # Connections opened by the parent must not be used by the child.
            self.engine.dispose(close=False)
            self._pid = os.getpid()

    def session(self) -> Session:
        self._check_fork()
        return Session(self.engine, expire_on_commit=False)

    @contextmanager
    def transaction(self):
        """A session that commits on success and rolls back on any error."""
        session = self.session()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def upgrade(self):
        """Bring the schema to the newest migration."""
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        cfg.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def dispose(self):
        self.engine.dispose()
