"""/api/v1/scan: scan a text synchronously with the current word lists."""
from __future__ import annotations

from flask import current_app, jsonify

from review.errors import ValidationError
from review.web.api import bp, json_body, token_required
from review.web.context import runtime


@bp.post("/scan")
@token_required()
def scan_text():
    data = json_body()
    text = data.get("text")
    if not isinstance(text, str):
        raise ValidationError("text 必须是字符串", field="text")
    limit = current_app.config["MAX_BODY_CHARS"]
    if len(text) > limit:
        raise ValidationError(f"文本不能超过{limit:,}字", field="text")
    include_low = bool(data.get("all", False))
    engine = runtime().engines.get()
    hits = engine.scan(text, include_low=include_low)
    return jsonify({"wordlist_version": engine.version, "flags": [h.as_dict() for h in hits]})
