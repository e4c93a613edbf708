"""/api/v1/channels: the registry, read-only."""
from __future__ import annotations

from flask import jsonify

from review import channels as registry
from review.web.api import bp, token_required
from review.web.context import db_session


def channel_json(c) -> dict:
    return {
        "id": c.id, "name": c.name, "platform": c.platform, "category": c.category,
        "identifier": c.identifier, "unit": c.unit, "leader_id": c.leader_id,
        "filing_status": c.filing_status, "filing_number": c.filing_number,
        "accepts_drafts": c.accepts_drafts,
    }


@bp.get("/channels")
@token_required()
def list_channels():
    return jsonify({"channels": [channel_json(c) for c in registry.list_channels(db_session())]})
