"""Flask commands for operators: `flask --app app <command>`."""
from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from review import accounts, audit
from review import channels as registry
from review.errors import DomainError
from review.models.channels import FILING_LABELS, PLATFORM_LABELS
from review.models.people import ROLES
from review.scanning.command import scan_command


def _runtime():
    return current_app.extensions["imprimatur"]


def _fail(message: str, code: int = 2):
    click.echo(f"错误：{message}", err=True)
    sys.exit(code)


@click.command("init-db")
@with_appcontext
def init_db():
    """Create or upgrade the database schema (Alembic migrations)."""
    _runtime().db.upgrade()
    click.echo("数据库已就绪")


users = AppGroup("users", help="Manage users.")


@users.command("create")
@click.argument("name")
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice(ROLES))
@click.option("--password", required=True)
@click.option("--display-name", default="")
@click.option("--unit", default="")
def users_create(name, roles, password, display_name, unit):
    try:
        with _runtime().db.transaction() as session:
            user = accounts.create_user(session, name, password, roles, display_name=display_name, unit=unit)
    except DomainError as exc:
        _fail(exc.message)
    click.echo(f"已创建用户 {user.username}（{user.role_labels}），id {user.id}")


tokens = AppGroup("tokens", help="Manage API tokens.")


@tokens.command("create")
@click.argument("name")
@click.option("--label", default="", help="What the token is for.")
def tokens_create(name, label):
    """Print a new API token for user NAME (last line of output)."""
    try:
        with _runtime().db.transaction() as session:
            token = accounts.create_token(session, name, label)
    except DomainError as exc:
        _fail(exc.message)
    click.echo(f"用户 {name} 的新令牌（只显示这一次）：")
    click.echo(token)


channels = AppGroup("channels", help="Manage channels.")


@channels.command("create")
@click.argument("name")
@click.option("--platform", required=True, type=click.Choice(list(PLATFORM_LABELS)))
@click.option("--leader", required=True, help="Username of the supervising leader.")
@click.option("--category", default="government", type=click.Choice(["government", "social", "commercial"]))
@click.option("--identifier", default="")
@click.option("--unit", default="")
@click.option("--filing-status", default="unfiled", type=click.Choice(list(FILING_LABELS)))
def channels_create(name, platform, leader, category, identifier, unit, filing_status):
    """Register a channel; prints its id."""
    try:
        with _runtime().db.transaction() as session:
            user = accounts.find_user(session, leader)
            if user is None:
                raise DomainError(f"没有用户“{leader}”")
            channel = registry.create_channel(session, {
                "name": name, "platform": platform, "leader_id": user.id, "category": category,
                "identifier": identifier, "unit": unit, "filing_status": filing_status}, None)
    except DomainError as exc:
        _fail(exc.message)
    click.echo(channel.id)


audit_cli = AppGroup("audit", help="The audit trail.")


@audit_cli.command("verify")
def audit_verify():
    """Exit 0 if the hash chain is intact; otherwise name the first bad event and exit 1."""
    rt = _runtime()
    with rt.db.transaction() as session:
        report = audit.verify(session, witness=_witness(rt))
    if report.ok:
        click.echo(report.message)
    else:
        click.echo(f"AUDIT TRAIL BROKEN: {report.message}", err=True)
        sys.exit(1)


def _witness(rt):
    from pathlib import Path

    return Path(rt.settings["INSTANCE_PATH"]) / audit.WITNESS_FILE


@audit_cli.command("seal")
def audit_seal():
    """Check the chain, then write its head to the witness file (first use, or after a restore)."""
    rt = _runtime()
    with rt.db.transaction() as session:
        report = audit.seal(session, _witness(rt))
    if not report.ok:
        click.echo(f"AUDIT TRAIL BROKEN, not sealed: {report.message}", err=True)
        sys.exit(1)
    click.echo(f"sealed: {report.message}")


@click.command("worker")
@with_appcontext
@click.option("--burst", is_flag=True, help="Quit when the queue is empty.")
@click.option("--no-scheduler", is_flag=True, help="Do not run RQ's scheduler (retry intervals need it).")
@click.option("--name", default=None)
def worker(burst, no_scheduler, name):
    """Run an RQ worker for scans (loads jieba and the word lists first)."""
    from workers import worker as scan_worker

    scan_worker.run(_runtime(), burst=burst, with_scheduler=not no_scheduler, name=name)


@click.command("sweep")
@with_appcontext
def sweep():
    """Re-enqueue scans that have no result and no live job."""
    from workers.queue import sweep as run_sweep

    click.echo(f"re-enqueued: {run_sweep(_runtime())}")


@click.command("demo")
@with_appcontext
def demo():
    """Create demo channels, users of every role and drafts in every status."""
    from review import demo as demo_data

    rt = _runtime()
    rt.db.upgrade()
    created = demo_data.seed(rt.db, rt.engines.get())
    click.echo("已创建演示数据" if created else "演示数据已存在，未重复创建")
    demo_data.print_logins(click.echo)


@click.command("serve")
@with_appcontext
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int)
@click.option("--workers", "worker_count", default=1, type=int, help="Scan worker processes.")
@click.option("--no-demo", is_flag=True, help="Do not create demo data in an empty database.")
def serve(host, port, worker_count, no_demo):
    """Everything on one machine: database, Redis, scan worker(s) and the web server."""
    from workers import supervisor

    supervisor.run(_runtime(), host=host, port=port, worker_count=worker_count, demo_data=not no_demo)


jobs = AppGroup("jobs", help="The scan queue.")

JOB_STATES = (("queued", "排队中"), ("started", "执行中"), ("scheduled", "等待重试"), ("deferred", "延后"),
              ("failed", "失败"))


@jobs.command("status")
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of the listing.")
@click.option("--limit", default=50, show_default=True, help="Jobs listed per state.")
def jobs_status(as_json, limit):
    """List queued, started, scheduled and failed scan jobs, and the workers."""
    import json

    import redis

    from workers.status import queue_status

    try:
        status = queue_status(_runtime(), limit=limit)
    except redis.RedisError as exc:
        _fail(f"Redis 不可用：{exc}", code=1)
    if as_json:
        click.echo(json.dumps(status.as_dict(), ensure_ascii=False, indent=2))
        return
    click.echo(f"队列 {status.queue}")
    for state, label in JOB_STATES:
        click.echo(f"{label}（{state}）：{status.counts.get(state, 0)}")
        for job in status.jobs.get(state, []):
            when = job.ended_at or job.started_at or job.enqueued_at or "-"
            extra = f" · {job.worker}" if job.worker and state == "started" else ""
            extra += f" · {job.error}" if job.error else ""
            click.echo(f"  {job.id}  版本 {job.version_id}  {when}{extra}")
    click.echo(f"工作进程：{len(status.workers)}")
    for w in status.workers:
        click.echo(f"  {w.name}  {w.state}  心跳 {w.last_heartbeat}（{w.heartbeat_age_s} 秒前）"
                   + (f"  正在执行 {w.current_job}" if w.current_job else ""))


def init_app(app) -> None:
    for command in (init_db, users, tokens, channels, audit_cli, worker, sweep, demo, serve, scan_command):
        app.cli.add_command(command)
    app.cli.add_command(jobs)  # issue 6
