"""RQ jobs for notifications and deadlines, and the after-commit wiring.

- `deliver`: one e-mail (SMTP settings) or one signed webhook POST
  (HMAC-SHA256 per channel). A failure raises, so RQ retries it
  (NOTIFY_RETRIES times); after the last one the delivery is marked failed.
  Deliveries are enqueued after the decision's commit: they never block it.
- `escalate`: scheduled with RQ's scheduler (`enqueue_at`) for a version's
  deadline; tells the pending step's reviewers and the supervising leader.
- `sweep`: from the worker's maintenance, re-enqueue what was lost.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import smtplib
import time
import urllib.error
import urllib.request
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

import redis
from rq import Callback, Queue, Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from review import aftercommit, audit, deadlines, notifications
from review.models import ChannelWebhook
from review.timeutil import now
from workers import runtime as runtime_mod

log = logging.getLogger(__name__)
LIVE = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


def notify_queue(rt) -> Queue:
    return Queue(rt.settings["NOTIFY_QUEUE"], connection=rt.redis)


def delivery_job_id(rt, delivery_id: int) -> str:
    return f"{rt.settings['NOTIFY_QUEUE']}-d{delivery_id}"


def escalation_job_id(rt, version_id: int) -> str:
    return f"{rt.settings['NOTIFY_QUEUE']}-esc-v{version_id}"


def enqueue_delivery(rt, delivery_id: int) -> Job:
    s = rt.settings
    retries = int(s["NOTIFY_RETRIES"])
    return notify_queue(rt).enqueue(
        "workers.notify.deliver", delivery_id,
        job_id=delivery_job_id(rt, delivery_id),
        job_timeout=int(s["NOTIFY_TIMEOUT"]) * 3,
        retry=Retry(max=retries, interval=list(s["NOTIFY_RETRY_INTERVALS"])) if retries else None,
        on_failure=Callback("workers.notify.delivery_failed"),
        result_ttl=3600, failure_ttl=7 * 24 * 3600,
        description=f"deliver notification {delivery_id}",
    )


def schedule_escalation(rt, draft_id: int, version_id: int, at: datetime) -> Job:
    return notify_queue(rt).enqueue_at(
        at, "workers.notify.escalate", draft_id, version_id,
        job_id=escalation_job_id(rt, version_id), job_timeout=60,
        retry=Retry(max=2, interval=[10, 60]),
        result_ttl=3600, failure_ttl=7 * 24 * 3600,
        description=f"deadline of draft {draft_id} version {version_id}",
    )


def witness_path(rt) -> Path:
    return Path(rt.settings["INSTANCE_PATH"]) / audit.WITNESS_FILE


def install(rt) -> None:
    """Hand what the domain defers to Redis and the witness file, after each
    commit on this runtime's database. Idempotent."""
    deadlines.configure(rt.settings)

    def deliver_all(ids):
        for delivery_id in ids:
            try:
                enqueue_delivery(rt, delivery_id)
            except (redis.RedisError, OSError) as exc:
                log.warning("deliveries %s not queued now (%s); the sweep will queue them", ids, exc)
                return

    def schedule_all(items):
        for draft_id, version_id, at in items:
            try:
                schedule_escalation(rt, draft_id, version_id, at)
            except (redis.RedisError, OSError) as exc:
                log.warning("deadline of version %s not scheduled (%s); the sweep will escalate it", version_id, exc)
                return

    aftercommit.register(rt.db.engine, "deliver", deliver_all)
    aftercommit.register(rt.db.engine, "escalate", schedule_all)
    aftercommit.register(rt.db.engine, "audit_head", lambda heads: audit.write_witness(witness_path(rt), heads))


# ---------------------------------------------------------------- jobs

def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The webhook signature: hex HMAC-SHA256 of "<timestamp>.<body>" with the channel's secret."""
    return hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()


def _post_webhook(url: str, payload: str, secret: str, timeout: int) -> int:
    body = payload.encode("utf-8")
    timestamp = str(int(time.time()))
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "Imprimatur-webhook/1",
        "X-Imprimatur-Timestamp": timestamp,
        "X-Imprimatur-Signature": "sha256=" + sign(secret, timestamp, body),
    })
    with urllib.request.urlopen(request, timeout=timeout) as response:  # non-2xx raises HTTPError
        return response.status


def _send_email(settings: dict, to: str, subject: str, text: str) -> None:
    message = EmailMessage()
    message["From"] = settings["SMTP_FROM"] or settings["SMTP_USER"] or "imprimatur@localhost"
    message["To"] = to
    message["Subject"] = subject
    message.set_content(text)
    port = int(settings["SMTP_PORT"])
    timeout = int(settings["NOTIFY_TIMEOUT"])
    if str(settings["SMTP_SSL"]).lower() in ("1", "true", "yes"):
        smtp = smtplib.SMTP_SSL(settings["SMTP_HOST"], port, timeout=timeout)
    else:
        smtp = smtplib.SMTP(settings["SMTP_HOST"], port, timeout=timeout)
    with smtp:
        if str(settings["SMTP_STARTTLS"]).lower() in ("1", "true", "yes"):
            smtp.starttls()
        if settings["SMTP_USER"]:
            smtp.login(settings["SMTP_USER"], settings["SMTP_PASSWORD"] or "")
        smtp.send_message(message)


def deliver(delivery_id: int) -> dict:
    rt = runtime_mod.current()
    s = rt.settings
    with rt.db.transaction() as session:
        d = notifications.claim_delivery(session, delivery_id)
        if d is None:
            return {"delivery_id": delivery_id, "skipped": "not pending"}
        kind, target, payload, subject = d.kind, d.target, d.payload, d.subject
        hook = session.get(ChannelWebhook, d.channel_id) if kind == "webhook" and d.channel_id else None
        secret = hook.secret if hook else ""
    if kind == "email" and not s.get("SMTP_HOST"):
        with rt.db.transaction() as session:
            notifications.finish_delivery(session, delivery_id, "skipped", "未配置邮件服务器（SMTP_HOST）")
        return {"delivery_id": delivery_id, "skipped": "no SMTP_HOST"}
    try:
        if kind == "webhook":
            if not secret:
                raise RuntimeError("the channel's webhook was removed")
            _post_webhook(target, payload, secret, int(s["NOTIFY_TIMEOUT"]))
        else:
            _send_email(s, target, subject, payload)
    except Exception as exc:
        with rt.db.transaction() as session:  # keep the error; stay pending while RQ retries
            notifications.finish_delivery(session, delivery_id, "pending", f"{type(exc).__name__}: {exc}")
        raise
    with rt.db.transaction() as session:
        notifications.finish_delivery(session, delivery_id, "sent")
    return {"delivery_id": delivery_id, "sent": kind}


def delivery_failed(job, connection, exc_type, exc_value, traceback):
    if job.retries_left:
        return
    rt = runtime_mod.current()
    with rt.db.transaction() as session:
        notifications.finish_delivery(session, job.args[0], "failed", f"{exc_type.__name__}: {exc_value}")


def escalate(draft_id: int, version_id: int) -> dict:
    rt = runtime_mod.current()
    with rt.db.transaction() as session:
        result = deadlines.escalate(session, draft_id, version_id)
    if isinstance(result, datetime):  # the deadline moved later: wait for it
        schedule_escalation(rt, draft_id, version_id, result)
        return {"draft_id": draft_id, "rescheduled": result.isoformat()}
    return {"draft_id": draft_id, "escalated": result is not None}


# ---------------------------------------------------------------- sweep

def _live(rt, job_id: str) -> bool:
    try:
        return Job.fetch(job_id, connection=rt.redis).get_status(refresh=False) in LIVE
    except NoSuchJobError:
        return False


def sweep(rt) -> dict:
    """Deliveries still pending with no live job, and overdue versions not yet
    escalated with no scheduled job: enqueue them again."""
    with rt.db.transaction() as session:
        pending = notifications.pending_deliveries(session)
        overdue = deadlines.overdue_open_versions(session)
    requeued = [d for d in pending if not _live(rt, delivery_job_id(rt, d))]
    for delivery_id in requeued:
        enqueue_delivery(rt, delivery_id)
    escalated = [(d, v) for d, v in overdue if not _live(rt, escalation_job_id(rt, v))]
    for draft_id, version_id in escalated:
        schedule_escalation(rt, draft_id, version_id, now())
    return {"deliveries": requeued, "escalations": [v for _, v in escalated]}
