"""The whole pipeline under load: API → database → Redis → workers → flags.

Starts gunicorn and N `flask worker` processes on a fresh database
(PostgreSQL with --database-url, else SQLite) and prints, in one run:

1. throughput: DRAFTS drafts of about 5,000 characters submitted through the
   API by CLIENTS concurrent clients; drafts/s until every one is in review,
   and its ratio to the bare engine's scan rate on one core over the same
   drafts (measured here, in this process, before the servers start);
2. latency: drafts submitted at a steady RATE per second; submit → flags
   visible (the moment the scan result is committed) p50/p95.

    .venv/bin/python bench/pipeline_load.py --database-url postgresql://postgres@127.0.0.1/postgres
    .venv/bin/python bench/pipeline_load.py --short        # CI: fewer drafts
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from app import create_app  # noqa: E402
from bench.common import bench_team, draft_text, free_port, fresh_postgres, percentile, wait_for_port  # noqa: E402
from review import accounts  # noqa: E402
from review.models import Draft, DraftVersion, ScanResult  # noqa: E402
from workers import redis_server  # noqa: E402


class Client:
    """One keep-alive HTTP connection, as one API client."""

    def __init__(self, port: int, token: str):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def submit(self, channel_id: int, i: int) -> int:
        payload = json.dumps({"channel_id": channel_id, "title": f"压测稿件{i}", "body": draft_text(i)})
        self.conn.request("POST", "/api/v1/drafts", body=payload.encode(), headers=self.headers)
        response = self.conn.getresponse()
        data = json.loads(response.read())
        assert response.status == 201, data
        return data["id"]


def wait_in_review(db, ids: list[int], timeout: float = 600) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with db.transaction() as s:
            waiting = s.execute(select(func.count(Draft.id)).where(Draft.id.in_(ids), Draft.status != "in_review")
                                ).scalar_one()
        if not waiting:
            return time.perf_counter()
        time.sleep(0.05)
    raise SystemExit(f"{waiting} drafts still not in review after {timeout} s")


def process_tree(pid: int) -> list[int]:
    """A process and all its descendants (where /proc shows them)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return [pid]
    return [pid, *(c for child in children for c in process_tree(int(child)))]


def named_processes(name: str) -> list[int]:
    """Every process whose command name starts with `name`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip().startswith(name):
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def roles(procs: list, postgres: bool) -> dict[str, list[int]]:
    """Process ids by role: the web (gunicorn and its workers), the scan
    workers, and the local PostgreSQL and Redis servers (where /proc shows them)."""
    found = {"web": process_tree(procs[0].pid), "workers": [p for w in procs[1:] for p in process_tree(w.pid)],
             "redis": named_processes("redis-server")}
    if postgres:
        found["postgres"] = named_processes("postgres")
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes so far (0 where /proc cannot tell)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 0.0


def wait_for_workers(rt, queue_name: str, count: int, timeout: float = 120) -> None:
    """Start the clock only when every worker has loaded jieba and the lists
    and is listening: a worker's start-up is not part of a draft's cost."""
    from rq import Queue, Worker

    queue = Queue(queue_name, connection=rt.redis)
    deadline = time.monotonic() + timeout
    while Worker.count(queue=queue) < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {Worker.count(queue=queue)} of {count} workers started in {timeout:g} s")
        time.sleep(0.1)


def wait_for_web(port: int, token: str) -> None:
    """One request per gunicorn process, so each has imported its views."""
    for _ in range(8):  # new connections, which either process may accept
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("GET", "/api/v1/channels", headers={"Authorization": f"Bearer {token}"})
        conn.getresponse().read()
        conn.close()


def flags_visible_at(db, ids: list[int]) -> dict[int, float]:
    with db.transaction() as s:
        rows = s.execute(select(Draft.id, ScanResult.created_at)
                         .join(ScanResult, ScanResult.version_id == Draft.current_version_id)
                         .where(Draft.id.in_(ids))).all()
    return {draft_id: at.replace(tzinfo=timezone.utc).timestamp() for draft_id, at in rows}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--drafts", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the steady-rate phase")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn processes")
    parser.add_argument("--web-threads", type=int, default=8, help="threads per gunicorn process")
    parser.add_argument("--short", action="store_true", help="a quick run (CI)")
    args = parser.parse_args()
    if args.short:
        args.drafts, args.seconds = 200, 10.0
    instance = Path(tempfile.mkdtemp(prefix="imprimatur-load-"))
    settings = {"INSTANCE_PATH": str(instance), "SCAN_QUEUE": f"load-{time.time_ns()}"}
    if args.database_url:  # a database of its own on that server, fresh each run
        settings["DATABASE_URL"] = fresh_postgres(args.database_url, "imprimatur_pipeline_bench")
    rt = create_app(settings).extensions["imprimatur"]
    rt.db.upgrade()
    with rt.db.transaction() as s:
        editor, _, channel = bench_team(s, "load")
        token = accounts.create_token(s, editor.username, "load")
    channel_id = channel.id
    env = {**os.environ, "INSTANCE_PATH": str(instance), "REDIS_URL": rt.redis_url,
           "DATABASE_URL": rt.settings["DATABASE_URL"], "SECRET_KEY": "load", "SCAN_QUEUE": settings["SCAN_QUEUE"]}
    # The baseline, before any server starts (they would share the cores with
    # it): the bare engine on one core over the same drafts, best of two passes,
    # each from a cold engine as a freshly started worker meets them.
    engine = rt.engines.get()
    passes = []
    for _ in range(2):
        engine.forget_memos()
        t0 = time.process_time()
        for i in range(args.drafts):
            engine.scan(f"压测稿件{i}", include_low=True)
            engine.scan(draft_text(i), include_low=True)
        passes.append(time.process_time() - t0)
    bare_rate = args.drafts / min(passes)

    port = free_port()
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "cwd": ROOT, "env": env}
    procs = [subprocess.Popen([sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}",
                               "-w", str(args.web_workers), "--threads", str(args.web_threads), "app:create_app()"], **quiet)]
    procs += [subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "worker"], **quiet)
              for _ in range(args.workers)]
    try:
        wait_for_port(port)
        wait_for_workers(rt, settings["SCAN_QUEUE"], args.workers)
        wait_for_web(port, token)

        # 1. throughput with concurrent clients
        ids: list[int] = []
        lock = threading.Lock()
        per_client = args.drafts // args.clients

        def client_loop(n: int):
            client = Client(port, token)
            for k in range(per_client):
                draft_id = client.submit(channel_id, n * per_client + k)
                with lock:
                    ids.append(draft_id)

        cpu_before = {name: cpu_seconds(pids) for name, pids in roles(procs, bool(args.database_url)).items()}
        started = time.perf_counter()
        threads = [threading.Thread(target=client_loop, args=(n,)) for n in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        submitted = time.perf_counter()
        done = wait_in_review(rt.db, ids)
        rate = len(ids) / (done - started)
        cpu_per_draft = {name: (cpu_seconds(pids) - cpu_before[name]) / len(ids) * 1000
                         for name, pids in roles(procs, bool(args.database_url)).items()}


        # 2. latency at a steady rate
        client = Client(port, token)
        sent: dict[int, float] = {}
        interval = 1.0 / args.rate
        count = int(args.seconds * args.rate)
        next_at = time.perf_counter()
        for i in range(count):
            delay = next_at - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            wall = time.time()
            sent[client.submit(channel_id, 100_000 + i)] = wall
            next_at += interval
        wait_in_review(rt.db, list(sent))
        visible = flags_visible_at(rt.db, list(sent))
        latencies = [visible[d] - sent[d] for d in sent]
        with rt.db.transaction() as s:
            scans = s.execute(select(func.count(ScanResult.id))).scalar_one()
            versions = s.execute(select(func.count(DraftVersion.id))).scalar_one()
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(15)
        if not rt.settings.get("REDIS_URL"):
            redis_server.stop(instance)
    ms = lambda v: f"{v * 1000:.0f} ms"  # noqa: E731
    print(f"database {rt.db.engine.dialect.name}; {args.workers} workers; gunicorn "
          f"{args.web_workers}x{args.web_threads} threads; {os.cpu_count()} cores")
    print(f"throughput: {len(ids)} drafts of 5,000 chars by {args.clients} clients in {done - started:.1f} s "
          f"(submitting took {submitted - started:.1f} s): {rate:.1f} drafts/s")
    if any(cpu_per_draft.values()):
        print("CPU per draft in phase 1: " + ", ".join(f"{name} {ms:.1f} ms" for name, ms in cpu_per_draft.items()))
    print(f"bare engine on one core, same drafts (cold, before the servers start, best of 2): {bare_rate:.1f} drafts/s; ratio {rate / bare_rate:.2f} (target >= 0.3)")
    print(f"latency at {args.rate:g} drafts/s for {args.seconds:g} s ({count} drafts): submit -> flags visible "
          f"p50 {ms(percentile(latencies, .5))}, p95 {ms(percentile(latencies, .95))}, max {ms(max(latencies))} "
          f"(target p95 < 500 ms)")
    print(f"scan results {scans} for {versions} versions (exactly one each: {scans == versions})")


if __name__ == "__main__":
    main()
