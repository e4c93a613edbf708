"""What the pipeline's parts cost with no application code at all.

bench/pipeline_load.py measures the whole pipeline and prints the CPU each
process spends per draft. This benchmark measures, on the same machine and
drafts, the least each part of that stack can spend per draft, so the figures
there can be read against a floor:

1. web: gunicorn (same layout) serving a Flask view that parses the same JSON
   body and answers 201 with a small JSON object, posted by the same 20
   keep-alive clients (the clients' own CPU is printed too);
2. queue: RQ enqueueing one job per draft with the options a scan job has,
   and a non-forking RQ worker running them (a no-op function), in burst
   mode; Redis's CPU included;
3. storage: PostgreSQL doing the writes a draft's life needs, as bare SQL
   over one psycopg connection: the submission (draft, version, status,
   audit event, one commit) and the scan stored in batches of 20 (result,
   FLAGS flags by COPY, status, audit events, notifications, one commit); the
   server's CPU and the client's;
4. scan: the engine itself on one core, cold (as bench/pipeline_load.py).

It prints each floor in CPU ms per draft, their sum, the throughput two
cores could reach at that cost, and the ratio that would give against the
bare engine (the issue's target is 0.3).

    .venv/bin/python bench/pipeline_floor.py --database-url postgresql://postgres@127.0.0.1/postgres
"""
from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import bench_team, draft_text, free_port, fresh_postgres, wait_for_port  # noqa: E402
from bench.pipeline_load import cpu_seconds, named_processes, process_tree  # noqa: E402

CORES = 2


def noop(version_id: int) -> dict:
    """The job the queue floor runs: nothing, returning what a scan job returns."""
    return {"version_id": version_id}


def floor_app():
    """The web floor: parse the body, answer 201 (gunicorn imports this)."""
    from flask import Flask, jsonify, request

    app = Flask(__name__)
    counter = iter(range(1, 10**9))

    @app.post("/api/v1/drafts")
    def create():
        data = request.get_json()
        return jsonify({"id": next(counter), "channel_id": data["channel_id"], "title": data["title"],
                        "status": "queued", "flags": []}), 201

    return app


def web_floor(drafts: int, clients: int, workers: int, threads: int) -> tuple[float, float]:
    """CPU ms per request of gunicorn and of the clients."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", str(workers),
                             "--threads", str(threads), "bench.pipeline_floor:floor_app()"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        for _ in range(8):  # new connections, which either gunicorn process may accept: both warm
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            conn.request("POST", "/api/v1/drafts", body=b'{"channel_id": 1, "title": "t"}',
                         headers={"Content-Type": "application/json"})
            conn.getresponse().read()
            conn.close()
        per_client = drafts // clients

        def client_loop(n: int):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            headers = {"Authorization": "Bearer x", "Content-Type": "application/json"}
            for k in range(per_client):
                i = n * per_client + k
                payload = json.dumps({"channel_id": 1, "title": f"压测稿件{i}", "body": draft_text(i)})
                conn.request("POST", "/api/v1/drafts", body=payload.encode(), headers=headers)
                response = conn.getresponse()
                json.loads(response.read())
                assert response.status == 201

        web_before, client_before = cpu_seconds(process_tree(proc.pid)), time.process_time()
        threads_ = [threading.Thread(target=client_loop, args=(n,)) for n in range(clients)]
        for t in threads_:
            t.start()
        for t in threads_:
            t.join()
        count = per_client * clients
        return ((cpu_seconds(process_tree(proc.pid)) - web_before) / count * 1000,
                (time.process_time() - client_before) / count * 1000)
    finally:
        proc.terminate()
        proc.wait(15)


def queue_floor(redis_url: str, drafts: int) -> tuple[float, float, float]:
    """CPU ms per job: enqueueing (this process), the worker, Redis."""
    import redis
    from rq import Callback, Queue, Retry

    conn = redis.Redis.from_url(redis_url)
    name = f"floor-{time.time_ns()}"
    queue = Queue(name, connection=conn)
    redis_pids = named_processes("redis-server")
    redis_before, t0 = cpu_seconds(redis_pids), time.process_time()
    for i in range(drafts):
        queue.enqueue("bench.pipeline_floor.noop", i, job_id=f"{name}-v{i}", job_timeout=120,
                      retry=Retry(max=3, interval=[5, 30, 120]), on_failure=Callback("bench.pipeline_floor.noop"),
                      result_ttl=3600, failure_ttl=7 * 24 * 3600, description=f"scan draft version {i}")
    enqueue_ms = (time.process_time() - t0) / drafts * 1000

    # The worker's CPU from just before work() to its end: imports and start-up are not a job's cost.
    code = ("import sys, time, redis; from rq import Queue, SimpleWorker; "
            "c = redis.Redis.from_url(sys.argv[1]); "
            "w = SimpleWorker([Queue(sys.argv[2], connection=c)], connection=c); "
            "t = time.process_time(); w.work(burst=True); print(time.process_time() - t)")
    out = subprocess.run([sys.executable, "-c", code, redis_url, name], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    worker_ms = float(out.split()[-1]) / drafts * 1000
    redis_ms = (cpu_seconds(redis_pids) - redis_before) / drafts * 1000
    left = queue.count
    conn.delete(*[k for k in conn.scan_iter(f"rq:*{name}*")] or ["-"])
    assert left == 0, f"{left} jobs left"
    return enqueue_ms, worker_ms, redis_ms


def storage_floor(database_url: str, drafts: int, flags: int, batch: int = 20) -> tuple[float, float]:
    """CPU ms per draft of the PostgreSQL server and of the client (psycopg)."""
    import psycopg

    from app import create_app

    url = fresh_postgres(database_url, "imprimatur_floor_bench")
    rt = create_app({"INSTANCE_PATH": tempfile.mkdtemp(prefix="imprimatur-floor-"), "DATABASE_URL": url,
                     "REDIS_URL": "redis://127.0.0.1:6379/15"}).extensions["imprimatur"]
    rt.db.upgrade()
    with rt.db.transaction() as s:
        editor, leader, channel = bench_team(s, "floor")
        editor_id, leader_id, channel_id = editor.id, leader.id, channel.id
    rt.db.engine.dispose()
    pg_pids_before = set(named_processes("postgres"))
    conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))
    backend = [p for p in named_processes("postgres") if p not in pg_pids_before]

    def audit(cur, rows):
        cur.execute("UPDATE audithead SET seq = seq + %s WHERE id = 1 RETURNING seq, last_hash", (len(rows),))
        seq, prev = cur.fetchone()
        values = []
        for n, (action, actor, draft_id) in enumerate(rows, start=seq - len(rows) + 1):
            digest = hashlib.sha256(f"{n}{prev}{action}{draft_id}".encode()).hexdigest()
            values.append((n, action, actor, "", draft_id, channel_id, "{}", prev, digest))
            prev = digest
        cur.executemany("INSERT INTO auditevent (seq, at, action, actor_id, actor_name, draft_id, channel_id, "
                        "detail, prev_hash, hash) VALUES (%s, now(), %s, %s, %s, %s, %s, %s, %s, %s)", values)
        cur.execute("UPDATE audithead SET last_hash = %s WHERE id = 1", (prev,))

    server_before, client_before = cpu_seconds(backend), time.process_time()
    versions = []
    with conn.cursor() as cur:
        for i in range(drafts):  # the submissions
            body = draft_text(i)
            cur.execute("INSERT INTO draft (channel_id, author_id, title, body, body_format, status, urgent, "
                        "created_at, updated_at, submitted_at) VALUES (%s, %s, %s, %s, 'text', 'draft', false, "
                        "now(), now(), now()) RETURNING id", (channel_id, editor_id, f"压测稿件{i}", body))
            draft_id = cur.fetchone()[0]
            cur.execute("INSERT INTO draftversion (draft_id, number, title, body, body_format, text, content_sha256, "
                        "created_by_id, created_at, scan_attempts) VALUES (%s, 1, %s, %s, 'text', %s, %s, %s, now(), 0) "
                        "RETURNING id", (draft_id, f"压测稿件{i}", body, body,
                                         hashlib.sha256(body.encode()).hexdigest(), editor_id))
            version_id = cur.fetchone()[0]
            cur.execute("UPDATE draft SET status = 'queued', current_version_id = %s WHERE id = %s AND status = 'draft'",
                        (version_id, draft_id))
            audit(cur, [("draft.submitted", editor_id, draft_id)])
            conn.commit()
            versions.append((draft_id, version_id))
        for b in range(0, len(versions), batch):  # the scans, stored in batches
            part = versions[b:b + batch]
            results = []
            for draft_id, version_id in part:
                cur.execute("INSERT INTO scanresult (version_id, wordlist_version, flag_count, duration_ms, created_at) "
                            "VALUES (%s, 'floor', %s, 1, now()) RETURNING id", (version_id, flags))
                results.append(cur.fetchone()[0])
            with cur.copy('COPY flag (scan_result_id, version_id, field, term, category, severity, confidence, '
                          'rule, start, "end", text) FROM STDIN') as copy:
                for r, (_, v) in zip(results, part):
                    for k in range(flags):
                        copy.write_row((r, v, "body", "刷单", "fraud", "high", "medium", "wordlist:fraud",
                                        151 * k, 151 * k + 2, "刷单"))
            cur.execute("UPDATE draft SET status = 'in_review' WHERE id = ANY(%s) AND status = 'queued'",
                        ([d for d, _ in part],))
            audit(cur, [("scan.completed", None, d) for d, _ in part])
            cur.executemany("INSERT INTO notification (user_id, kind, draft_id, text, created_at) "
                            "VALUES (%s, 'submitted', %s, '有新稿件待审核', now())", [(leader_id, d) for d, _ in part])
            conn.commit()
    server_ms = (cpu_seconds(backend) - server_before) / drafts * 1000
    client_ms = (time.process_time() - client_before) / drafts * 1000
    conn.close()
    return server_ms, client_ms


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True, help="a PostgreSQL server (a fresh database is made there)")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--drafts", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--flags", type=int, default=None, help="flags per draft (default: what the engine finds)")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--web-threads", type=int, default=8)
    args = parser.parse_args()

    from app import create_app

    rt = create_app({"INSTANCE_PATH": tempfile.mkdtemp(prefix="imprimatur-floor-"),
                     "REDIS_URL": args.redis_url}).extensions["imprimatur"]
    rt.db.upgrade()
    engine = rt.engines.get()
    passes = []
    for _ in range(2):  # cold, as a fresh worker meets them
        engine.forget_memos()
        t0 = time.process_time()
        for i in range(args.drafts):
            engine.scan(f"压测稿件{i}", include_low=True)
            found = engine.scan(draft_text(i), include_low=True)
        passes.append(time.process_time() - t0)
    scan_ms = min(passes) / args.drafts * 1000
    flags = len(found) if args.flags is None else args.flags

    web_ms, client_ms = web_floor(args.drafts, args.clients, args.web_workers, args.web_threads)
    enqueue_ms, worker_ms, redis_ms = queue_floor(args.redis_url, args.drafts)
    pg_ms, psycopg_ms = storage_floor(args.database_url, args.drafts, flags)

    parts = {"scan (engine, cold)": scan_ms, "web (gunicorn + Flask, JSON in and out)": web_ms,
             "load clients": client_ms, "RQ enqueue": enqueue_ms, "RQ worker (no fork, no-op job)": worker_ms,
             "Redis": redis_ms, "PostgreSQL server (bare SQL)": pg_ms, "psycopg client side": psycopg_ms}
    total = sum(parts.values())
    width = max(map(len, parts))
    print(f"floor per draft, CPU ms ({args.drafts} drafts of 5,000 chars, {flags} flags each, "
          f"gunicorn {args.web_workers}x{args.web_threads}, {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f}):")
    for name, ms in parts.items():
        print(f"  {name:<{width}}  {ms:6.2f}")
    print(f"  {'sum':<{width}}  {total:6.2f}")
    best = CORES * 1000 / total
    print(f"bare engine {1000 / scan_ms:.0f} drafts/s on one core; at the floor {CORES} cores do at most "
          f"{best:.0f} drafts/s: ratio {best / (1000 / scan_ms):.2f} (target >= 0.3; "
          f"0.3 needs all parts together <= {CORES * scan_ms / 0.3:.1f} ms per draft)")


if __name__ == "__main__":
    main()
