"""/api/v1/openapi.json: the API described for clients and for schemathesis."""
from __future__ import annotations

from flask import jsonify

from review.models.drafts import STATUS_LABELS
from review.web.api import bp

_ERROR = {"$ref": "#/components/schemas/Error"}


def _errors(*codes: int) -> dict:
    return {str(c): {"description": "错误", "content": {"application/json": {"schema": _ERROR}}} for c in codes}


def _json(schema: dict, description: str = "成功") -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


FLAG = {
    "type": "object",
    "required": ["term", "category", "severity", "confidence", "rule", "start", "end", "text"],
    "properties": {
        "id": {"type": "integer", "description": "用于审核时确认高风险标记"},
        "field": {"type": "string", "enum": ["title", "body"]},
        "term": {"type": "string"},
        "category": {"type": "string"},
        "severity": {"type": "string", "enum": ["high", "medium", "low"]},
        "confidence": {"type": "string", "enum": ["high", "medium", "low"]},
        "rule": {"type": "string"},
        "start": {"type": "integer", "minimum": 0},
        "end": {"type": "integer", "minimum": 0},
        "text": {"type": "string"},
    },
}
DRAFT = {
    "type": "object",
    "required": ["id", "status", "version", "content_sha256", "flags"],
    "properties": {
        "id": {"type": "integer"},
        "channel_id": {"type": "integer"},
        "title": {"type": "string"},
        "status": {"type": "string", "enum": list(STATUS_LABELS)},
        "urgent": {"type": "boolean"},
        "version": {"type": ["integer", "null"]},
        "content_sha256": {"type": ["string", "null"]},
        "wordlist_version": {"type": ["string", "null"]},
        "flags": {"type": "array", "items": {"$ref": "#/components/schemas/Flag"}},
        "scan_delayed": {"type": "boolean"},
        "warnings": {"type": "array", "items": {"type": "string"}, "description": "渠道备案提醒（如未备案）"},
    },
}
DOCUMENT = {
    "openapi": "3.1.0",
    "info": {"title": "Imprimatur 审发台 API", "version": "1.0.0",
             "description": "提交稿件、查询检测结果、审核决定、同步检测文本、列出渠道。"},
    "servers": [{"url": "/api/v1"}],
    "security": [{"bearer": []}],
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                "type": "object", "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                               "field": {"type": "string"}}}}},
            "Flag": FLAG,
            "Draft": DRAFT,
        },
    },
    "paths": {
        "/drafts": {"post": {
            "summary": "提交稿件（编辑）",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["channel_id", "title", "body"],
                "properties": {"channel_id": {"type": "integer"}, "title": {"type": "string", "maxLength": 200},
                               "body": {"type": "string", "maxLength": 100000},
                               "body_format": {"type": "string", "enum": ["text", "html"]},
                               "urgent": {"type": "boolean"}}}}}},
            "responses": {"201": _json({"$ref": "#/components/schemas/Draft"}, "已提交"),
                          **_errors(400, 401, 403, 404, 413, 422)},
        }},
        "/drafts/{draft_id}": {"get": {
            "summary": "稿件状态与标记",
            "parameters": [{"name": "draft_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "responses": {"200": _json({"$ref": "#/components/schemas/Draft"}), **_errors(401, 403, 404)},
        }},
        "/drafts/{draft_id}/decision": {"post": {
            "summary": "审核决定（分管领导）",
            "parameters": [{"name": "draft_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["decision", "version"],
                "properties": {"decision": {"type": "string", "enum": ["approve", "reject"]},
                               "comment": {"type": "string", "maxLength": 2000},
                               "version": {"type": "integer"},
                               "acknowledged": {"type": "array", "items": {"type": "integer"},
                                                "description": "已斟酌的高风险标记的编号"}}}}}},
            "responses": {"200": _json({"type": "object", "required": ["id", "status", "decision", "version", "content_sha256"],
                                        "properties": {"id": {"type": "integer"}, "status": {"type": "string"},
                                                       "decision": {"type": "string"}, "version": {"type": "integer"},
                                                       "content_sha256": {"type": "string"}}}),
                          **_errors(400, 401, 403, 404, 409, 422)},
        }},
        "/scan": {"post": {
            "summary": "同步检测一段文本",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["text"],
                "properties": {"text": {"type": "string", "maxLength": 100000},
                               "all": {"type": "boolean", "description": "包含低置信度标记"}}}}}},
            "responses": {"200": _json({"type": "object", "required": ["wordlist_version", "flags"],
                                        "properties": {"wordlist_version": {"type": "string"},
                                                       "flags": {"type": "array", "items": {"$ref": "#/components/schemas/Flag"}}}}),
                          **_errors(400, 401, 413, 422)},
        }},
        "/channels": {"get": {
            "summary": "渠道列表",
            "responses": {"200": _json({"type": "object", "required": ["channels"], "properties": {
                "channels": {"type": "array", "items": {"type": "object"}}}}), **_errors(401)},
        }},
    },
}


@bp.get("/openapi.json")
def openapi_document():
    return jsonify(DOCUMENT)
