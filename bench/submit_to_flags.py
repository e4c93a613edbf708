"""Submit → flags-visible latency on the demo data, through the real pieces.

A fresh instance (SQLite by default, or DATABASE_URL) gets the demo data;
one `flask worker` process runs against Redis (REDIS_URL, else the embedded
server); drafts are submitted through the API one at a time and polled until
their flags are visible. Prints p50/p95/max and, as the baseline measured in
the same run, the bare engine's scan time of the same texts.

    .venv/bin/python bench/submit_to_flags.py [--drafts 50]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from bench.common import percentile  # noqa: E402
from review import accounts, demo  # noqa: E402
from workers import redis_server  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--drafts", type=int, default=50)
    args = parser.parse_args()
    instance = Path(tempfile.mkdtemp(prefix="imprimatur-bench-"))
    settings = {"INSTANCE_PATH": str(instance)}
    app = create_app(settings)
    rt = app.extensions["imprimatur"]
    rt.db.upgrade()
    demo.seed(rt.db, rt.engines.get())
    with rt.db.transaction() as s:
        token = accounts.create_token(s, "editor", "bench")
    env = {**os.environ, "INSTANCE_PATH": str(instance), "REDIS_URL": rt.redis_url}
    worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "worker"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    texts = [demo.TEXTS[k] for k in demo.TEXTS]
    try:
        time.sleep(3)  # the worker loads jieba and the lists
        latencies = []
        for i in range(args.drafts):
            title, body = texts[i % len(texts)]
            started = time.perf_counter()
            created = client.post("/api/v1/drafts", json={"channel_id": 1, "title": f"{title}（{i}）",
                                                          "body": body}, headers=headers).get_json()
            while client.get(f"/api/v1/drafts/{created['id']}", headers=headers).get_json()["status"] != "in_review":
                time.sleep(0.002)
            latencies.append(time.perf_counter() - started)
        engine = rt.engines.get()
        bare = []
        for i in range(args.drafts):
            title, body = texts[i % len(texts)]
            started = time.perf_counter()
            engine.scan(title, include_low=True)
            engine.scan(body, include_low=True)
            bare.append(time.perf_counter() - started)
    finally:
        worker.terminate()
        worker.wait(10)
        redis_server.stop(instance)  # only stops the embedded server this run started
    ms = lambda v: f"{v * 1000:.2f} ms"  # noqa: E731
    print(f"drafts: {args.drafts}, database: {rt.db.engine.dialect.name}, redis: {rt.redis_url}")
    print(f"submit -> flags visible: p50 {ms(percentile(latencies, .5))}, p95 {ms(percentile(latencies, .95))}, "
          f"max {ms(max(latencies))}, mean {ms(statistics.mean(latencies))}")
    print(f"bare engine scan of the same drafts: p50 {ms(percentile(bare, .5))}, "
          f"ratio pipeline/bare (p50): {percentile(latencies, .5) / max(percentile(bare, .5), 1e-9):.0f}x")


if __name__ == "__main__":
    main()
