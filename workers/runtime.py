"""Per-process resources shared by the web app, the worker and the CLI:
settings, the database, the Redis connection and the scan engine. Each is
built on first use, so a plain `rq worker` process gets them too."""
from __future__ import annotations

import threading

import redis

from review import config
from review.db import Database
from review.scanning import EngineCache
from workers import redis_server


class Runtime:
    def __init__(self, settings: dict):
        self.settings = settings
        self.db = Database(settings["DATABASE_URL"])
        self._redis = None
        self._engines = None
        self.job_engine = None  # the engine ScanWorker fetched for the job it is running
        self.job_companions: list[int] = []  # versions claimed to be scanned with it (workers/batch.py)
        self.job_outcomes: dict[int, dict] = {}  # what the job stored, by version
        # Scan jobs this process's sweeps found taken off the queue but never
        # started: version -> (when the job was enqueued, when first seen so).
        self.orphan_scans: dict[int, tuple[str, float]] = {}
        self._lock = threading.Lock()

    @property
    def redis_url(self) -> str:
        return self.settings.get("REDIS_URL") or redis_server.ensure_running(self.settings["INSTANCE_PATH"])

    @property
    def redis(self) -> redis.Redis:
        with self._lock:
            if self._redis is None:
                self._redis = redis.Redis.from_url(self.redis_url, socket_connect_timeout=2,
                                                   health_check_interval=30)
            return self._redis

    @property
    def engines(self) -> EngineCache:
        with self._lock:
            if self._engines is None:
                self._engines = EngineCache(self.settings["WORDLIST_DIR"], extra_terms_loader=self.db_terms,
                                            extra_terms_revision=self.db_terms_revision)
            return self._engines


    def db_terms_revision(self) -> int:
        """One small read before each job instead of every database term."""
        from review.terms import revision

        return self._read_terms(revision)

    def db_terms(self) -> list:
        """The database terms (issue 3), switched-off ones included, read in one short-lived
        session: one consistent snapshot, so a scan never sees half a change."""
        from review.terms import database_terms

        return self._read_terms(database_terms)

    def _read_terms(self, read):
        from sqlalchemy.exc import SQLAlchemyError

        from review.scanning import WordListError

        try:
            with self.db.session() as session:
                return read(session)
        except SQLAlchemyError as exc:
            raise WordListError(f"database terms unavailable / 数据库词条无法读取: {exc.__class__.__name__}") from None


_current: Runtime | None = None


def install(runtime: Runtime) -> None:
    """Make `runtime` the one jobs in this process use (the worker calls this before forking)."""
    global _current
    _current = runtime


def current() -> Runtime:
    if _current is None:
        install(Runtime(config.load()))
    return _current
