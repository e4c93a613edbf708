"""What forking a work horse per job costs, and what the in-process worker saves.

Enqueues the same scans (drafts of about 5,000 characters) and runs them
through RQ's forking Worker and through workers.worker.ScanWorker (in
process, heartbeats from a thread), each in burst mode, in one run; prints
jobs/s, per-job time and the ratio. The bare engine's scan time of the same
drafts is the baseline.

    .venv/bin/python bench/worker_fork.py [--jobs 200] [--database-url URL]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rq import Worker  # noqa: E402

from app import create_app  # noqa: E402
from bench.common import draft_text  # noqa: E402
from review import accounts, channels, workflow  # noqa: E402
from workers import redis_server, runtime as runtime_module  # noqa: E402
from workers import worker as scan_worker  # noqa: E402
from workers.queue import enqueue_scan  # noqa: E402


def make_versions(rt, count: int) -> list[int]:
    with rt.db.transaction() as s:
        editor = accounts.create_user(s, f"bench-editor-{time.time_ns()}", "bench-password", ["editor"])
        leader = accounts.create_user(s, f"bench-leader-{time.time_ns()}", "bench-password", ["leader"])
        channel = channels.create_channel(s, {"name": "压测渠道", "platform": "website", "leader_id": leader.id,
                                              "filing_status": "filed"}, None)
    ids = []
    for i in range(count):
        with rt.db.transaction() as s:
            _, version, _ = workflow.submit(s, editor, channel.id, f"压测稿件{i}", draft_text(i))
            ids.append(version.id)
    return ids


def run(rt, worker_class, count: int) -> float:
    for version_id in make_versions(rt, count):
        enqueue_scan(rt, version_id)
    worker = worker_class([rt.settings["SCAN_QUEUE"]], connection=rt.redis, runtime=rt) \
        if worker_class is not Worker else Worker([rt.settings["SCAN_QUEUE"]], connection=rt.redis)
    started = time.perf_counter()
    worker.work(burst=True, logging_level="WARNING")
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    instance = Path(tempfile.mkdtemp(prefix="imprimatur-bench-"))
    settings = {"INSTANCE_PATH": str(instance), "SCAN_QUEUE": f"bench-{time.time_ns()}"}
    if args.database_url:
        settings["DATABASE_URL"] = args.database_url
    rt = create_app(settings).extensions["imprimatur"]
    rt.db.upgrade()
    runtime_module.install(rt)
    engine = rt.engines.get()  # loaded before any fork, as `flask worker` does
    try:
        started = time.perf_counter()
        for i in range(args.jobs):
            engine.scan(f"压测稿件{i}", include_low=True)
            engine.scan(draft_text(i), include_low=True)
        bare = time.perf_counter() - started
        forked = run(rt, Worker, args.jobs)
        in_process = run(rt, scan_worker.ScanWorker, args.jobs)
    finally:
        redis_server.stop(instance)
    per = lambda seconds: f"{seconds / args.jobs * 1000:.1f} ms/job, {args.jobs / seconds:.0f} jobs/s"  # noqa: E731
    print(f"{args.jobs} scans of 5,000-character drafts, database {rt.db.engine.dialect.name}")
    print(f"bare engine (baseline):        {per(bare)}")
    print(f"RQ Worker, fork per job:        {per(forked)}  ({forked / bare:.1f}x the bare scan)")
    print(f"ScanWorker, in process:         {per(in_process)}  ({in_process / bare:.1f}x the bare scan)")
    print(f"fork per job costs {(forked - in_process) / args.jobs * 1000:.1f} ms/job more; "
          f"in-process is {forked / in_process:.2f}x as fast")


if __name__ == "__main__":
    main()
