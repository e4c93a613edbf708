"""The one place that enqueues scans, and the sweep that re-enqueues lost ones."""
from __future__ import annotations

import logging
import time

import redis
from rq import Callback, Queue, Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from review import workflow

log = logging.getLogger(__name__)

LIVE = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


def job_id(runtime, version_id: int) -> str:
    # One id per version: enqueueing again replaces, never duplicates.
    return f"{runtime.settings['SCAN_QUEUE']}-v{version_id}"


def scan_queue(runtime) -> Queue:
    return Queue(runtime.settings["SCAN_QUEUE"], connection=runtime.redis)


def enqueue_scan(runtime, version_id: int, *, at_front: bool = False) -> Job:
    s = runtime.settings
    return scan_queue(runtime).enqueue(
        "workers.jobs.scan_version",
        version_id,
        job_id=job_id(runtime, version_id),
        job_timeout=s["SCAN_JOB_TIMEOUT"],
        retry=Retry(max=s["SCAN_RETRIES"], interval=s["SCAN_RETRY_INTERVALS"]) if s["SCAN_RETRIES"] else None,
        on_failure=Callback("workers.jobs.scan_failed"),
        result_ttl=3600,
        failure_ttl=7 * 24 * 3600,
        description=f"scan draft version {version_id}",
        at_front=at_front,
    )


def try_enqueue_scan(runtime, version_id: int, *, at_front: bool = False) -> bool:
    """Enqueue, but never fail the caller: the version is already saved and the
    sweep will find it once Redis is back. Returns False when it was delayed."""
    try:
        enqueue_scan(runtime, version_id, at_front=at_front)
        return True
    except (redis.RedisError, OSError, RuntimeError) as exc:
        log.warning("scan of version %s not queued now (%s); the sweep will queue it", version_id, exc)
        return False


def _job_state(runtime, version_id: int) -> tuple[str, str]:
    """("live" | "lost" | "orphan", when the job was enqueued). An orphan says
    queued but is in no queue: taken by a worker (RQ's own dequeue, or a
    batch's claim) that either is registering it this very moment or died
    before it could."""
    try:
        job = Job.fetch(job_id(runtime, version_id), connection=runtime.redis)
    except NoSuchJobError:
        return "lost", ""
    status = job.get_status(refresh=False)
    if status == JobStatus.QUEUED and not _in_queue(runtime, job):
        return "orphan", str(job.enqueued_at)
    return ("live" if status in LIVE else "lost"), ""


def _in_queue(runtime, job: Job) -> bool:
    try:
        return runtime.redis.lpos(scan_queue(runtime).key, job.id) is not None
    except redis.ResponseError:  # a Redis before 6.0.6 has no LPOS: trust the status
        return True


def sweep(runtime) -> list[int]:
    """Re-enqueue every version that has no scan result and no live job
    (lost to a Redis restart, a killed worker or a failed enqueue).
    Returns the version ids enqueued again.

    A job taken off the queue and not yet started (an orphan) is given a
    heartbeat's life first: a live worker registers it within milliseconds,
    and enqueueing it again meanwhile would have it scanned twice. So it is
    enqueued again only when an earlier sweep of this process saw the same
    orphan at least that long ago."""
    db, s = runtime.db, runtime.settings
    patience = s["WORKER_HEARTBEAT_INTERVAL"] + s["WORKER_HEARTBEAT_GRACE"]
    with db.transaction() as session:
        waiting = workflow.versions_awaiting_scan(session)
    requeued = []
    seen_before, runtime.orphan_scans = runtime.orphan_scans, {}
    for version_id in waiting:
        state, enqueued = _job_state(runtime, version_id)
        if state == "live":
            continue
        if state == "orphan":
            first = seen_before.get(version_id)
            if first is None or first[0] != enqueued:  # new, or enqueued again since
                first = (enqueued, time.monotonic())
            if time.monotonic() - first[1] < patience:
                runtime.orphan_scans[version_id] = first
                continue
        with db.transaction() as session:
            if not workflow.note_requeue(session, version_id, s["MAX_SCAN_ATTEMPTS"]):
                continue
        try:
            Job.fetch(job_id(runtime, version_id), connection=runtime.redis).delete()
        except NoSuchJobError:
            pass
        enqueue_scan(runtime, version_id)
        requeued.append(version_id)
    if requeued:
        log.info("sweep re-enqueued scans of versions %s", requeued)
    return requeued
