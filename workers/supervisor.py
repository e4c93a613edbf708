"""`flask serve`: the whole system on one machine under one command.

Migrates the database, seeds demo data into an empty one, starts the
embedded Redis (when REDIS_URL is unset), the scan worker(s) and gunicorn,
prints where to go, and stops everything it started on Ctrl-C.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import click

from review import demo
from workers import redis_server


def _spawn(args: list[str], env: dict) -> subprocess.Popen:
    # Own process group: Ctrl-C is handled here, children are stopped in order.
    return subprocess.Popen(args, env=env, start_new_session=True)


def run(rt, *, host: str, port: int, worker_count: int, demo_data: bool = True, **_) -> None:
    s = rt.settings
    env = dict(os.environ)
    # Start the embedded Redis first, remembering whether it was ours to stop:
    # seeding demo data already schedules deadline jobs in it.
    started_redis = False
    if not s.get("REDIS_URL"):
        started_redis = not redis_server.is_running(s["INSTANCE_PATH"])
        env["REDIS_URL"] = redis_server.ensure_running(s["INSTANCE_PATH"])
    rt.db.upgrade()
    if demo_data:
        demo.seed(rt.db, rt.engines.get())
    env["INSTANCE_PATH"] = s["INSTANCE_PATH"]
    env.setdefault("DATABASE_URL", s["DATABASE_URL"])
    env.setdefault("SECRET_KEY", s["SECRET_KEY"])
    flask = [sys.executable, "-m", "flask", "--app", "app"]
    children = [_spawn([*flask, "worker", "--name", f"serve-{os.getpid()}-{i}"], env) for i in range(worker_count)]
    children.append(_spawn([sys.executable, "-m", "gunicorn", "--bind", f"{host}:{port}", "--workers", "2",
                            "--threads", "4", "--access-logfile", "-", "app:create_app()"], env))
    time.sleep(1.5)
    click.echo("")
    click.echo(f"审发台已启动：http://{host}:{port}/")
    if demo_data:
        demo.print_logins(click.echo)
    click.echo("按 Ctrl-C 停止。")
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        while not stopping and all(c.poll() is None for c in children):
            time.sleep(0.5)
    finally:
        for child in children:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
        if started_redis:
            redis_server.stop(s["INSTANCE_PATH"])
        click.echo("已停止")
