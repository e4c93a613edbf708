"""Companions: scan jobs a worker takes from its queue along with the one RQ
handed it, so that one transaction and one commit store several drafts.

Under load, RQ's bookkeeping (about 18 Redis round trips a job) and a
transaction per draft cost several times the scan of a 5,000-character draft
(bench/pipeline_load.py). A companion stays a job of its own in every way a
user or an operator sees:

- it is claimed atomically (LPOP), so no other worker can also take it;
- it is registered as started, with an execution and heartbeats, exactly as
  RQ registers the job it runs, so if this worker dies RQ's abandoned-job
  cleanup retries it (and the sweep re-enqueues its draft), as for any job;
- it ends finished with a result of its own (`flask jobs status`, the
  registries), or, if the batch did not store it, goes back to the front of
  the queue, where it runs on its own with its own retries and timeout.

A job being retried never takes companions (and never is one): a text that
fails or times out a scan is scanned alone.
"""
from __future__ import annotations

import logging

from rq.executions import Execution
from rq.job import Job, JobStatus
from rq.utils import now

log = logging.getLogger(__name__)

SCAN_FUNC = "workers.jobs.scan_version"


def is_first_try(job: Job, retries: int) -> bool:
    return job.func_name == SCAN_FUNC and (job.retries_left or 0) >= retries


class Companions:
    """The scan jobs claimed to run with one leading job."""

    def __init__(self, worker=None, queue=None, jobs=(), executions=()):
        self.worker, self.queue = worker, queue
        self.jobs, self.executions = list(jobs), list(executions)

    @property
    def version_ids(self) -> list[int]:
        return [job.args[0] for job in self.jobs]

    @classmethod
    def claim(cls, worker, queue, limit: int, retries: int) -> "Companions":
        """Take up to `limit` waiting first-try scan jobs from the front of `queue`."""
        if limit <= 0:
            return cls()
        connection = worker.connection
        ids = [i.decode() if isinstance(i, bytes) else i for i in (connection.lpop(queue.key, limit) or [])]
        if not ids:
            return cls()
        try:
            return cls._register(worker, queue, ids, retries)
        except Exception:
            connection.lpush(queue.key, *reversed(ids))  # not ours after all; if Redis is gone, the sweep finds them
            raise

    @classmethod
    def _register(cls, worker, queue, ids: list[str], retries: int) -> "Companions":
        connection = worker.connection
        jobs, back = [], []
        for job in Job.fetch_many(ids, connection=connection, serializer=queue.serializer):
            if job is None:
                continue  # deleted while queued: RQ's own dequeue skips it the same way
            (jobs if is_first_try(job, retries) and job.get_status(refresh=False) == JobStatus.QUEUED
             else back).append(job)
        executions = []
        with connection.pipeline() as pipe:
            for job in jobs:
                executions.append(Execution.create(job, worker.get_heartbeat_ttl(job), pipeline=pipe,
                                                   worker_name=worker.name))
                job.prepare_for_execution(worker.name, pipeline=pipe)
            if back:  # not ours to batch: back to the front, in their order
                pipe.lpush(queue.key, *reversed([job.id for job in back]))
            pipe.execute()
        return cls(worker, queue, jobs, executions)

    def beat(self, pipe) -> None:
        """Add this batch's heartbeats to `pipe` (the leader's beat sends them)."""
        for job, execution in zip(self.jobs, self.executions):
            ttl = int(self.worker.get_heartbeat_ttl(job))
            execution.heartbeat(job.started_job_registry, ttl, pipeline=pipe)
            job.heartbeat(now(), ttl, pipeline=pipe, xx=True)

    def settle(self, outcomes: dict[int, dict]) -> None:
        """Finish each companion the batch stored; put the others back in the queue."""
        if not self.jobs:
            return
        back = []
        with self.worker.connection.pipeline() as pipe:
            for job, execution in zip(self.jobs, self.executions):
                outcome = outcomes.get(job.args[0])
                execution.delete(job=job, pipeline=pipe)
                if outcome is None:
                    job.set_status(JobStatus.QUEUED, pipeline=pipe)
                    back.append(job.id)
                    continue
                job._result = outcome
                job.ended_at = now()
                ttl = job.get_result_ttl(self.worker.default_result_ttl)
                job._handle_success(ttl, pipeline=pipe, worker_name=self.worker.name, execution_id=execution.id,
                                    execution_started_at=execution.created_at, execution_ended_at=job.ended_at)
                job.cleanup(ttl, pipeline=pipe, remove_from_queue=False)
                self.worker.increment_successful_job_count(pipeline=pipe)
            if back:
                pipe.lpush(self.queue.key, *reversed(back))
            pipe.execute()
        if back:
            log.info("%d scan jobs not stored with the batch go back to the queue", len(back))
        self.jobs, self.executions = [], []
