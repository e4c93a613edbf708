"""GET /healthz (database, Redis, worker heartbeats; 200 or 503) and
`flask jobs status` (queued, started, failed jobs and the workers)."""
from __future__ import annotations

import json
import uuid

import pytest
from rq import Worker

from workers.queue import enqueue_scan, scan_queue


@pytest.fixture
def live_worker(rt):
    """A worker registered with its heartbeat in Redis, as `flask worker` does at start."""
    worker = Worker([scan_queue(rt)], connection=rt.redis, name=f"health-{uuid.uuid4().hex[:8]}")
    worker.register_birth()
    worker.heartbeat()
    yield worker
    worker.register_death()


def test_healthz_is_503_without_a_worker(client):
    response = client.get("/healthz")
    body = response.get_json()
    assert response.status_code == 503 and body["status"] == "fail"
    assert body["database"]["ok"] and body["redis"]["ok"]
    assert body["workers"] == {"ok": False, "count": 0, "heartbeats": [], "ms": body["workers"]["ms"]}


def test_healthz_is_200_with_a_live_worker_and_503_once_it_is_gone(client, live_worker):
    response = client.get("/healthz")
    body = response.get_json()
    assert response.status_code == 200 and body["status"] == "ok", body
    assert body["workers"]["count"] == 1
    beat = body["workers"]["heartbeats"][0]
    assert beat["last_heartbeat"] and 0 <= beat["age_s"] < 30
    assert live_worker.name not in response.get_data(as_text=True)  # nothing about hosts to the public
    live_worker.register_death()
    assert client.get("/healthz").status_code == 503


@pytest.mark.app_config(REDIS_URL="unix:///nonexistent/imprimatur-health.sock")
def test_healthz_reports_redis_down(client):
    response = client.get("/healthz")
    body = response.get_json()
    assert response.status_code == 503 and body["database"]["ok"]
    assert body["redis"]["ok"] is False and "ConnectionError" in body["redis"]["error"]
    assert body["workers"]["ok"] is False


@pytest.mark.app_config(DATABASE_URL="postgresql://nobody@127.0.0.1:1/none")
def test_healthz_reports_the_database_down(client, live_worker):
    response = client.get("/healthz")
    body = response.get_json()
    assert response.status_code == 503 and body["redis"]["ok"] and body["workers"]["ok"]
    assert body["database"]["ok"] is False and body["database"]["error"]


def test_jobs_status_lists_queued_failed_and_workers(app, rt, make, runner, run_worker, live_worker):
    editor, leader, channel, *_ = make.team()
    enqueue_scan(rt, 987654)  # a version that does not exist: the job fails, retries once, fails for good
    run_worker()
    versions = [make.submit(editor, channel, title=f"稿{i}")[1].id for i in range(2)]
    for vid in versions:
        enqueue_scan(rt, vid)

    result = runner.invoke(args=["jobs", "status", "--json"])
    assert result.exit_code == 0, result.output
    status = json.loads(result.output)
    assert status["queue"] == rt.settings["SCAN_QUEUE"]
    assert status["counts"]["queued"] == 2 and status["counts"]["failed"] == 1
    assert [j["version_id"] for j in status["jobs"]["queued"]] == versions
    (failed,) = status["jobs"]["failed"]
    assert failed["version_id"] == 987654 and "NotFound" in failed["error"]
    assert [w["name"] for w in status["workers"]] == [live_worker.name]

    text = runner.invoke(args=["jobs", "status"]).output
    assert "排队中（queued）：2" in text and "失败（failed）：1" in text and "NotFound" in text
    assert live_worker.name in text


def test_jobs_status_lists_a_started_job(app, rt, make, runner, live_worker):
    editor, leader, channel, *_ = make.team()
    draft, version = make.submit(editor, channel)
    enqueue_scan(rt, version.id)
    # Exactly what a worker does when it takes a job (before forking the work horse).
    queue = scan_queue(rt)
    job = queue.dequeue_any([queue], None, connection=rt.redis)[0]
    live_worker.prepare_execution(job)
    live_worker.prepare_job_execution(job)
    status = json.loads(runner.invoke(args=["jobs", "status", "--json"]).output)
    assert [j["version_id"] for j in status["jobs"]["started"]] == [version.id]
    assert status["workers"][0]["current_job"] == job.id


@pytest.mark.app_config(REDIS_URL="unix:///nonexistent/imprimatur-health.sock")
def test_jobs_status_without_redis_says_so(runner):
    result = runner.invoke(args=["jobs", "status"])
    assert result.exit_code == 1 and "Redis 不可用" in result.output
