"""/api/v1/drafts: submit, read, decide."""
from __future__ import annotations

from flask import g, jsonify

from review import channels, permissions, queries, workflow
from review.errors import Forbidden, ValidationError
from review.models import Channel
from review.web.api import bp, json_body, token_required
from review.web.context import db_session, runtime
from workers.queue import try_enqueue_scan


def draft_json(view: queries.DraftView, scan_delayed: bool = False) -> dict:
    version = view.version
    body = {
        "id": view.draft.id,
        "channel_id": view.draft.channel_id,
        "title": view.draft.title,
        "status": view.draft.status,
        "urgent": view.draft.urgent,
        "version": version.number if version else None,
        "content_sha256": version.content_sha256 if version else None,
        "wordlist_version": view.scan.wordlist_version if view.scan else None,
        # The id is what a leader lists in `acknowledged` when approving.
        "flags": [{"id": f.id, **f.as_dict()} for f in view.shown_flags] if view.scan else [],
    }
    if scan_delayed:
        body["scan_delayed"] = True
    return body


@bp.post("/drafts")
@token_required("editor")
def create_draft():
    data = json_body()
    urgent = data.get("urgent", False)
    if not isinstance(urgent, bool):
        raise ValidationError("urgent 必须是 true 或 false", field="urgent")
    session = db_session()
    channel = channels.get_channel(session, data.get("channel_id"))  # held here, so submit finds it loaded
    draft, version, _ = workflow.submit(session, g.api_user, channel.id, data.get("title"),
                                        data.get("body"), data.get("body_format", "text"), urgent)
    # Just submitted: no scan yet, so no flags to look up.
    body = {"id": draft.id, "channel_id": draft.channel_id, "title": draft.title, "status": draft.status,
            "urgent": draft.urgent, "version": version.number, "content_sha256": version.content_sha256,
            "wordlist_version": None, "flags": []}
    warnings = channel.reminder_labels  # e.g. 未备案: warned, not refused
    if warnings:
        body["warnings"] = warnings
    session.commit()
    if not try_enqueue_scan(runtime(), version.id):
        body["scan_delayed"] = True
    return jsonify(body), 201


@bp.get("/drafts/<int:draft_id>")
@token_required()
def get_draft(draft_id: int):
    session = db_session()
    draft = workflow.get_draft(session, draft_id)
    if not permissions.can_view_draft(g.api_user, draft, session.get(Channel, draft.channel_id)):
        raise Forbidden("您没有权限查看此稿件")
    return jsonify(draft_json(queries.draft_view(session, draft)))


@bp.post("/drafts/<int:draft_id>/decision")
@token_required()  # any reviewer on the chain; workflow.decide checks the step
def decide(draft_id: int):
    data = json_body()
    session = db_session()
    acknowledged = data.get("acknowledged") or []
    if not isinstance(acknowledged, list):
        acknowledged = []
    decision = workflow.decide(session, g.api_user, draft_id, data.get("decision"), data.get("comment") or "",
                               version=data.get("version"), acknowledged=acknowledged)
    session.commit()
    draft = workflow.get_draft(session, draft_id)
    return jsonify({"id": draft.id, "status": draft.status, "decision": decision.decision,
                    "version": decision.version_number, "content_sha256": decision.content_sha256})
