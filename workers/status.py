"""What the scan queue holds and who works it: queued, started, scheduled
and failed jobs, and the workers' heartbeats. Read-only; used by
`flask jobs status` and GET /healthz."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

from rq import Queue, Worker
from rq.job import Job

from workers.queue import scan_queue

MAX_LISTED = 200  # per state: a status listing, not an export


@dataclass
class JobInfo:
    id: str
    state: str
    version_id: int | None
    description: str
    enqueued_at: str | None = None
    started_at: str | None = None
    ended_at: str | None = None
    worker: str | None = None
    retries_left: int | None = None
    error: str | None = None  # the last line of the exception, for failed jobs


@dataclass
class WorkerInfo:
    name: str
    hostname: str | None
    pid: int | None
    state: str
    current_job: str | None
    last_heartbeat: str | None
    heartbeat_age_s: float | None


@dataclass
class QueueStatus:
    queue: str
    jobs: dict[str, list[JobInfo]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    workers: list[WorkerInfo] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.isoformat(timespec="seconds")


def _job_info(job: Job, state: str) -> JobInfo:
    error = None
    if state == "failed":
        result = job.latest_result()
        text = (result.exc_string if result and result.exc_string else "") or ""
        error = text.strip().splitlines()[-1][:300] if text.strip() else None
    args = job.args or ()
    return JobInfo(
        id=job.id, state=state, version_id=args[0] if args and isinstance(args[0], int) else None,
        description=job.description or "", enqueued_at=_iso(job.enqueued_at), started_at=_iso(job.started_at),
        ended_at=_iso(job.ended_at), worker=job.worker_name, retries_left=job.retries_left, error=error,
    )


def _registries(queue: Queue) -> dict:
    return {
        "started": queue.started_job_registry,
        "scheduled": queue.scheduled_job_registry,
        "deferred": queue.deferred_job_registry,
        "failed": queue.failed_job_registry,
    }


def workers(runtime, queue: Queue | None = None) -> list[WorkerInfo]:
    """Workers registered on the scan queue. RQ removes a worker on shutdown;
    one that died keeps its entry until its key expires (worker_ttl + 60 s)."""
    queue = queue or scan_queue(runtime)
    now = datetime.now(timezone.utc)
    out = []
    for w in Worker.all(connection=runtime.redis, queue=queue):
        beat = w.last_heartbeat
        if beat is not None and beat.tzinfo is None:
            beat = beat.replace(tzinfo=timezone.utc)
        out.append(WorkerInfo(
            name=w.name, hostname=w.hostname, pid=w.pid, state=str(w.get_state()),
            current_job=w.get_current_job_id(), last_heartbeat=_iso(beat),
            heartbeat_age_s=round((now - beat).total_seconds(), 1) if beat else None,
        ))
    return sorted(out, key=lambda w: w.name)


def queue_status(runtime, limit: int = MAX_LISTED) -> QueueStatus:
    queue = scan_queue(runtime)
    status = QueueStatus(queue=queue.name)
    ids = {"queued": queue.get_job_ids(0, limit - 1)}
    status.counts["queued"] = queue.count
    for state, registry in _registries(queue).items():
        ids[state] = registry.get_job_ids(0, limit - 1)
        status.counts[state] = registry.count
    for state, job_ids in ids.items():
        jobs = Job.fetch_many(job_ids, connection=runtime.redis) if job_ids else []
        status.jobs[state] = [_job_info(job, state) for job in jobs if job is not None]
    status.workers = workers(runtime, queue)
    return status
