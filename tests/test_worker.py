"""The queue and the worker: idempotent jobs, retries ending in scan_failed,
the sweep after lost jobs, waiting scans stored together (workers/batch.py),
and a worker killed in the middle of a job and the jobs it took along."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rq import Queue
from rq.job import Job
from sqlalchemy import func, select

from review.models import AuditEvent, Draft, Notification, ScanResult
from workers.queue import enqueue_scan, job_id, sweep

ROOT = Path(__file__).resolve().parent.parent


def status(db, draft_id) -> str:
    with db.transaction() as s:
        return s.get(Draft, draft_id).status


def results(db, version_id) -> int:
    with db.transaction() as s:
        return s.execute(select(func.count(ScanResult.id)).where(ScanResult.version_id == version_id)).scalar_one()


def test_running_a_scan_twice_leaves_one_result(app, rt, make, run_worker, db):
    editor, leader, channel, *_ = make.team()
    draft, version = make.submit(editor, channel, body="请勿参与刷单。")
    enqueue_scan(rt, version.id)
    run_worker()
    assert status(db, draft.id) == "in_review" and results(db, version.id) == 1
    enqueue_scan(rt, version.id)  # a duplicate delivery
    run_worker()
    assert status(db, draft.id) == "in_review" and results(db, version.id) == 1


@pytest.mark.app_config(WORDLIST_DIR="{tmp}/lists")
def test_failing_scan_is_retried_then_marked_failed_and_editor_can_retry(app, rt, make, run_worker, db, login,
                                                                         tmp_path):
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "bad.txt").write_text("# severity: enormous\n某词\n", encoding="utf-8")  # a broken list file
    editor, leader, channel, *_ = make.team()
    draft, version = make.submit(editor, channel, body="一篇通知")
    enqueue_scan(rt, version.id)
    run_worker()  # first try fails, the retry (SCAN_RETRIES=1, no delay) fails too
    assert status(db, draft.id) == "scan_failed"
    page = login("editor").get(f"/drafts/{draft.id}").get_data(as_text=True)
    assert "检测失败" in page and "重新检测" in page

    (lists / "bad.txt").write_text("# severity: high\n通知\n", encoding="utf-8")  # fixed: hot reload
    response = login("editor").post(f"/drafts/{draft.id}/retry")
    assert response.status_code == 302 and status(db, draft.id) == "queued"
    run_worker()
    assert status(db, draft.id) == "in_review"
    panel = login("editor").get(f"/drafts/{draft.id}/panel").get_data(as_text=True)
    assert '<mark class="sev-high"' in panel and ">通知</mark>" in panel


def test_sweep_requeues_scans_lost_with_redis(app, rt, make, run_worker, db):
    editor, leader, channel, *_ = make.team()
    drafts = [make.submit(editor, channel, title=f"稿件{i}", body=f"第{i}篇")[0] for i in range(3)]
    for d in drafts:
        enqueue_scan(rt, d.current_version_id)
    Queue(rt.settings["SCAN_QUEUE"], connection=rt.redis).empty()  # Redis restarted and kept nothing
    run_worker()  # the worker sweeps at start
    assert [status(db, d.id) for d in drafts] == ["in_review"] * 3


def test_sweep_skips_versions_with_a_live_job(app, rt, make, db):
    editor, leader, channel, *_ = make.team()
    draft, version = make.submit(editor, channel)
    enqueue_scan(rt, version.id)
    assert sweep(rt) == []
    Job.fetch(job_id(rt, version.id), connection=rt.redis).delete()
    assert sweep(rt) == [version.id]


@pytest.mark.app_config(WORKER_HEARTBEAT_INTERVAL=1, WORKER_HEARTBEAT_GRACE=0)
def test_sweep_requeues_a_job_taken_off_the_queue_by_a_worker_that_died(app, rt, make, run_worker, db):
    editor, leader, channel, *_ = make.team()
    draft, version = make.submit(editor, channel)
    enqueue_scan(rt, version.id)
    queue = Queue(rt.settings["SCAN_QUEUE"], connection=rt.redis)
    rt.redis.lrem(queue.key, 0, job_id(rt, version.id))  # popped, then the worker died before starting it
    assert Job.fetch(job_id(rt, version.id), connection=rt.redis).get_status() == "queued"
    # Its worker may be registering it this very moment: not at once...
    assert sweep(rt) == []
    time.sleep(1.1)
    # ...but once a heartbeat's life has passed and it is still not started.
    assert sweep(rt) == [version.id]
    run_worker()
    assert status(db, draft.id) == "in_review" and results(db, version.id) == 1


@pytest.mark.app_config(WORKER_HEARTBEAT_INTERVAL=1, WORKER_HEARTBEAT_GRACE=0)
def test_sweep_leaves_a_job_that_a_worker_has_just_taken(app, rt, make, run_worker, db):
    """The moment between a worker's LPOP and its registering the job: a sweep
    then must not enqueue it again, or it would be scanned twice."""
    editor, leader, channel, *_ = make.team()
    draft, version = make.submit(editor, channel)
    enqueue_scan(rt, version.id)
    queue = Queue(rt.settings["SCAN_QUEUE"], connection=rt.redis)
    rt.redis.lrem(queue.key, 0, job_id(rt, version.id))  # taken...
    assert sweep(rt) == []
    job = Job.fetch(job_id(rt, version.id), connection=rt.redis)
    job.set_status("started")  # ...and registered by its (live) worker
    time.sleep(1.1)
    assert sweep(rt) == []
    assert queue.count == 0 and results(db, version.id) == 0


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def _wait(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def _enqueue_drafts(rt, make, count, body="请勿参与刷单。第{i}篇"):
    editor, leader, channel, *_ = make.team()
    drafts = [make.submit(editor, channel, title=f"稿件{i}", body=body.format(i=i))[0] for i in range(count)]
    for d in drafts:
        enqueue_scan(rt, d.current_version_id)
    return leader, drafts


def test_waiting_scans_are_stored_together_each_job_finished_with_its_own_result(app, rt, make, run_worker, db):
    from sqlalchemy import event

    leader, drafts = _enqueue_drafts(rt, make, 6)
    commits = []

    def count(conn):
        commits.append(1)

    event.listen(rt.db.engine, "commit", count)
    try:
        run_worker()
    finally:
        event.remove(rt.db.engine, "commit", count)
    assert [status(db, d.id) for d in drafts] == ["in_review"] * 6
    assert [results(db, d.current_version_id) for d in drafts] == [1] * 6
    for d in drafts:  # every job, leader or companion, ends finished with its own result
        job = Job.fetch(job_id(rt, d.current_version_id), connection=rt.redis)
        assert job.get_status() == "finished"
        assert job.return_value()["version_id"] == d.current_version_id and job.return_value()["flags"] >= 1
    with db.transaction() as s:
        scanned = s.execute(select(func.count(AuditEvent.id)).where(AuditEvent.action == "scan.completed")).scalar()
        told = s.execute(select(func.count(Notification.id)).where(Notification.user_id == leader.id)).scalar()
    assert scanned == 6 and told == 6  # one audit event and one notice per draft, as one at a time
    assert len(commits) < 6  # stored together: fewer commits than drafts
    queue = Queue(rt.settings["SCAN_QUEUE"], connection=rt.redis)
    assert queue.count == 0 and queue.started_job_registry.count == 0


def test_a_draft_withdrawn_while_its_batch_is_stored_keeps_its_result_and_stays_withdrawn(app, rt, make, db):
    """The batch's one UPDATE finds a draft the editor withdrew a moment before;
    the others go to review, that one stays withdrawn and nobody is told of it."""
    from sqlalchemy import event

    from review import workflow

    if db.is_sqlite:
        pytest.skip("SQLite lets one writer at a time: the editor could not withdraw in the middle of the batch")
    editor, leader, channel, *_ = make.team()
    kept, withdrawn = (make.submit(editor, channel, title=f"稿件{i}", body=f"请勿参与刷单。第{i}篇")[0]
                       for i in range(2))
    state = {"done": False}

    def withdraw_first(conn, cursor, statement, *args):
        if not state["done"] and statement.startswith("UPDATE draft SET status"):
            state["done"] = True  # the editor's click, committed between the batch's read and its UPDATE
            with db.transaction() as s:
                workflow.withdraw(s, s.get(type(editor), editor.id), withdrawn.id)

    event.listen(rt.db.engine, "before_cursor_execute", withdraw_first)
    try:
        stored = workflow.scan_versions(db, [kept.current_version_id, withdrawn.current_version_id],
                                        rt.engines.get())
    finally:
        event.remove(rt.db.engine, "before_cursor_execute", withdraw_first)
    assert state["done"] and all(r is not None for r in stored.values())
    assert status(db, kept.id) == "in_review" and status(db, withdrawn.id) == "withdrawn"
    assert results(db, withdrawn.current_version_id) == 1  # the scan is kept for the record
    with db.transaction() as s:
        scanned = s.execute(select(AuditEvent.draft_id).where(AuditEvent.action == "scan.completed")).scalars().all()
        told = s.execute(select(Notification.draft_id).where(Notification.user_id == leader.id)).scalars().all()
    assert scanned == [kept.id] and told == [kept.id]


def test_a_companion_whose_scan_fails_goes_back_and_fails_alone(app, rt, make, run_worker, db, monkeypatch):
    from review.scanning import engine as engine_module

    real_scan = engine_module.ScanEngine.scan

    def scan(self, text, include_low=False):
        if "毒丸" in text:
            raise RuntimeError("scanner crashed on this text")
        return real_scan(self, text, include_low=include_low)

    monkeypatch.setattr(engine_module.ScanEngine, "scan", scan)
    editor, leader, channel, *_ = make.team()
    good = [make.submit(editor, channel, title=f"稿件{i}", body=f"第{i}篇")[0] for i in range(2)]
    bad = make.submit(editor, channel, title="坏稿", body="一颗毒丸")[0]
    more = make.submit(editor, channel, title="稿件3", body="第3篇")[0]
    for d in [*good, bad, more]:
        enqueue_scan(rt, d.current_version_id)
    run_worker()
    assert [status(db, d.id) for d in [*good, more]] == ["in_review"] * 3
    assert status(db, bad.id) == "scan_failed"  # its own job failed, retried alone, and gave up
    assert Job.fetch(job_id(rt, bad.current_version_id), connection=rt.redis).get_status() == "failed"


def test_worker_killed_mid_job_is_recovered_with_every_job_it_took_along(app, rt, make, run_worker, db):
    leader, drafts = _enqueue_drafts(rt, make, 4)
    keys = ("DATABASE_URL", "REDIS_URL", "INSTANCE_PATH", "WORDLIST_DIR", "SECRET_KEY", "SCAN_QUEUE",
            "SCAN_RETRIES", "SCAN_RETRY_INTERVALS", "WORKER_HEARTBEAT_INTERVAL", "WORKER_HEARTBEAT_GRACE")
    proc = subprocess.Popen([sys.executable, "-m", "tests.slow_worker", json.dumps({k: app.config[k] for k in keys})],
                            cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    jobs = [Job.fetch(job_id(rt, d.current_version_id), connection=rt.redis) for d in drafts]
    try:  # the worker takes all four (one job and three companions) and hangs scanning them
        assert _wait(lambda: all(j.get_status(refresh=True) == "started" for j in jobs)), "jobs never all started"
        for pid in [*_children(proc.pid), proc.pid]:  # the machine dies: the worker and anything it started
            os.kill(pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    # stuck, as a dead worker leaves them
    assert [status(db, d.id) for d in drafts] == ["queued"] * 4
    assert [results(db, d.current_version_id) for d in drafts] == [0] * 4
    time.sleep(app.config["WORKER_HEARTBEAT_INTERVAL"] + app.config["WORKER_HEARTBEAT_GRACE"] + 0.5)
    run_worker()  # a healthy worker finds all four abandoned and scans each once
    assert [status(db, d.id) for d in drafts] == ["in_review"] * 4
    assert [results(db, d.current_version_id) for d in drafts] == [1] * 4


def test_a_running_worker_stops_on_sigterm(app, rt):
    """Warm shutdown: an idle worker told to stop exits instead of waiting for Redis again."""
    from rq import Worker

    env = {**os.environ, **{k: str(app.config[k]) for k in ("DATABASE_URL", "REDIS_URL", "INSTANCE_PATH",
                                                            "WORDLIST_DIR", "SECRET_KEY", "SCAN_QUEUE")}}
    proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "worker", "--no-scheduler"], cwd=ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        queue = Queue(rt.settings["SCAN_QUEUE"], connection=rt.redis)
        # Idle: listening for jobs, with RQ's signal handlers in place.
        assert _wait(lambda: any(w.pid == proc.pid and w.get_state() == "idle" for w in Worker.all(queue=queue))), \
            "worker never started"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
