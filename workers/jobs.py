"""RQ jobs: take ids, call review/. Failures propagate so RQ retries them."""
from __future__ import annotations

import logging

from review import workflow
from workers import runtime

log = logging.getLogger(__name__)


def scan_version(version_id: int) -> dict:
    """Scan one version, and with it the companions ScanWorker claimed (if any)."""
    rt = runtime.current()
    engine = rt.job_engine or rt.engines.get()  # either way, checked for a changed word list before this job
    results = workflow.scan_versions(rt.db, [version_id, *rt.job_companions], engine)
    rt.job_outcomes = {vid: _outcome(vid, result) for vid, result in results.items()}
    return rt.job_outcomes[version_id]


def _outcome(version_id: int, result) -> dict:
    if result is None:
        return {"version_id": version_id, "skipped": "already scanned"}
    return {"version_id": version_id, "flags": result.flag_count, "wordlist_version": result.wordlist_version}


def scan_failed(job, connection, exc_type, exc_value, traceback):
    """RQ calls this on every failure; only the last one (no retry left) marks
    the draft scan_failed, where its editor sees it and can try again."""
    if job.retries_left:
        return
    version_id = job.args[0]
    reason = f"{exc_type.__name__}: {exc_value}"[:500]
    rt = runtime.current()
    with rt.db.transaction() as session:
        if workflow.mark_scan_failed(session, version_id, reason):
            log.warning("version %s marked scan_failed: %s", version_id, reason)
