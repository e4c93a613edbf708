"""The worker entry point: prepare everything expensive once, sweep, then work.

jieba's dictionary and the word lists are loaded before the first job.
Jobs run in the worker process itself, not in a forked work horse: a fork
per job costs more than scanning a 5,000-character draft (bench/worker_fork.py
measures both). What the horse gave is kept: job timeouts (RQ's SIGALRM
death penalty, in the main thread), heartbeats while a job runs (a thread),
and recovery of a dead worker's job by any other worker once its heartbeat
expires. Maintenance (every SWEEP_INTERVAL seconds) also runs the sweep
that re-enqueues lost scans.
"""
from __future__ import annotations

import logging
import threading
import time

import redis
from rq import SimpleWorker
from rq.exceptions import StopRequested
from rq.worker import WorkerStatus

from review.scanning import WordListError
from workers import queue as scan_queue
from workers import runtime as runtime_mod
from workers.batch import Companions, is_first_try

log = logging.getLogger(__name__)

IDLE_WORKER_TTL = 75  # seconds; RQ waits for a job at most this minus 15 before beating again


class JobIdFilter(logging.Filter):
    """Stamp the current job id on every log line of a job."""

    def filter(self, record):
        from rq import get_current_job

        job = get_current_job()
        record.job_id = job.id if job else "-"
        return True


class ScanWorker(SimpleWorker):
    def __init__(self, *args, runtime=None, **kwargs):
        self.runtime = runtime
        self._beat_lock = threading.Lock()
        self._job_done = threading.Event()
        self._companions = Companions()
        s = runtime.settings
        kwargs.setdefault("job_monitoring_interval", s["WORKER_HEARTBEAT_INTERVAL"])
        kwargs.setdefault("maintenance_interval", s["SWEEP_INTERVAL"])
        # RQ's default (420 s) leaves an idle worker's heartbeat up to 7 minutes
        # old in /healthz, and a dead worker listed as long; 75 s beats every 60 s.
        kwargs.setdefault("worker_ttl", IDLE_WORKER_TTL)
        super().__init__(*args, **kwargs)

    def get_heartbeat_ttl(self, job) -> int:
        # How long a job of a dead worker looks alive; RQ's default adds 60 s.
        s = self.runtime.settings
        return s["WORKER_HEARTBEAT_INTERVAL"] + s["WORKER_HEARTBEAT_GRACE"]

    def execute_job(self, job, queue):
        try:
            # A changed word list is rebuilt before the job, never during it; the
            # job scans with this engine (one revision check per job, not two).
            self.runtime.job_engine = self.runtime.engines.get()
        except WordListError as exc:
            self.runtime.job_engine = None
            log.error("word lists cannot be loaded: %s", exc)  # the job itself will fail and retry
        self.prepare_execution(job)
        self._companions = self._claim_companions(job, queue)
        self.runtime.job_companions = self._companions.version_ids
        self.runtime.job_outcomes = {}
        self._job_done = threading.Event()
        beat = threading.Thread(target=self._heartbeats, args=(job, self._job_done), daemon=True)
        beat.start()
        try:
            self.perform_job(job, queue)
        finally:
            self.runtime.job_engine = None
            self._end_heartbeats()
            beat.join()
            self._settle_companions()
        self.set_state(WorkerStatus.IDLE)

    def _claim_companions(self, job, queue) -> Companions:
        """Under load, take waiting scans along (workers/batch.py); a retry runs alone."""
        s = self.runtime.settings
        if queue.name != s["SCAN_QUEUE"] or not is_first_try(job, s["SCAN_RETRIES"]):
            return Companions()
        try:
            return Companions.claim(self, queue, s["SCAN_BATCH"] - 1, s["SCAN_RETRIES"])
        except redis.RedisError as exc:
            log.warning("no companions taken: %s", exc)
            return Companions()

    def _settle_companions(self):
        outcomes, self.runtime.job_outcomes, self.runtime.job_companions = self.runtime.job_outcomes, {}, []
        try:
            self._companions.settle(outcomes)
        except redis.RedisError as exc:  # they stay started; RQ's cleanup retries them once their beat expires
            log.warning("companion jobs not settled: %s", exc)
        self._companions = Companions()

    def _heartbeats(self, job, done: threading.Event):
        """Tell Redis the job is alive while it runs, as a forking worker's parent would."""
        while not done.wait(self.job_monitoring_interval):
            with self._beat_lock:
                if done.is_set():
                    return
                try:
                    self.maintain_heartbeats(job)
                    if self._companions.jobs:
                        with self.connection.pipeline() as pipe:
                            self._companions.beat(pipe)
                            pipe.execute()
                except redis.RedisError as exc:
                    log.warning("heartbeat failed: %s", exc)

    def _end_heartbeats(self):
        with self._beat_lock:
            self._job_done.set()

    def handle_execution_ended(self, job, queue, heartbeat_ttl):
        # Stop beating before RQ clears the execution, so no late beat recreates it.
        self._end_heartbeats()
        super().handle_execution_ended(job, queue, heartbeat_ttl)

    def run_maintenance_tasks(self):
        super().run_maintenance_tasks()  # moves jobs of dead workers to failed/retry
        from workers import notify

        for sweep in (scan_queue.sweep, notify.sweep):  # lost scans; lost deliveries, unescalated deadlines
            try:
                sweep(self.runtime)
            except StopRequested:
                raise  # SIGTERM arrived during the sweep: RQ's loop must see it and stop
            except Exception:  # a failed sweep must never stop the worker; the next round tries again
                log.exception("%s failed", sweep.__module__)


def preload(rt) -> None:
    try:
        engine = rt.engines.get()
    except WordListError as exc:
        # Keep the worker up: each job fails visibly (scan_failed) until the list is fixed.
        log.error("word lists cannot be loaded: %s", exc)
        return
    log.info("word lists %s loaded", engine.version[:12])


def setup_logging(level=logging.INFO) -> None:
    root = logging.getLogger()
    if any(isinstance(f, JobIdFilter) for h in root.handlers for f in h.filters):
        return
    handler = logging.StreamHandler()
    handler.addFilter(JobIdFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [job %(job_id)s] %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)


def run(rt, *, burst: bool = False, with_scheduler: bool = True, name: str | None = None) -> bool:
    setup_logging()
    runtime_mod.install(rt)
    preload(rt)
    from workers import notify

    notify.install(rt)  # deliveries and deadlines raised by jobs are handed on after their commit
    queues = [rt.settings["SCAN_QUEUE"]]
    if rt.settings.get("NOTIFY_QUEUE"):
        queues.append(rt.settings["NOTIFY_QUEUE"])  # notifications and deadline escalations
    # RQ's loop quits when Redis goes away under it; a scan worker waits for
    # Redis to come back instead (drafts submitted meanwhile are in the
    # database and the sweep at restart queues them).
    delay, attempt = 1.0, 0
    while True:
        attempt += 1
        worker_name = name if attempt == 1 or not name else f"{name}-{attempt}"
        try:
            worker = ScanWorker(queues, connection=rt.redis, runtime=rt, name=worker_name)
            worked = worker.work(burst=burst, with_scheduler=with_scheduler)
            # SIGTERM/SIGINT while idle ends work() with only the request date set.
            if burst or worker._stop_requested or worker._shutdown_requested_date is not None:
                return worked
            log.warning("worker loop ended without a stop request (Redis lost?); restarting in %.0f s", delay)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            if burst:
                raise
            log.warning("Redis unavailable (%s); retrying in %.0f s", exc, delay)
        time.sleep(delay)
        delay = min(delay * 2, 30.0)
