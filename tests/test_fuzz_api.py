"""The API fuzzed from its own OpenAPI document with schemathesis: for every
operation, generated requests (valid and invalid) never get a 500, and every
response matches the document (status code, content type, body schema).
A bounded number of examples per operation keeps this to seconds."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.factories import Factories


@pytest.fixture
def api_schema(app, db):
    """The document as the app serves it, with data behind it: a channel, a
    draft in review, and the token of its leader (who may call everything)."""
    make = Factories(db)
    editor, leader, channel, *_ = make.team()
    draft, version = make.submit(editor, channel, body="请勿参与刷单。")
    make.scanned(app.extensions["imprimatur"], version.id)
    app.config["FUZZ_TOKEN"] = make.token("leader")
    app.config["FUZZ_EDITOR_TOKEN"] = make.token("editor")
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


def operations(schema):
    found = [result.ok() for result in schema.get_all_operations()]
    assert len(found) >= 5, "the document lists the API's operations"
    return found


def fuzz(schema, check, max_examples: int) -> list[str]:
    """Run `check(case)` over generated cases of every operation; return the operations tried."""
    tried = []
    for operation in operations(schema):
        @given(case=operation.as_strategy())
        @settings(max_examples=max_examples, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case):
            check(case)

        run()
        tried.append(f"{operation.method.upper()} {operation.path}")
    return tried


def test_api_matches_its_document(app, api_schema):
    tokens = {"leader": app.config["FUZZ_TOKEN"], "editor": app.config["FUZZ_EDITOR_TOKEN"]}

    def check(case):
        who = "editor" if case.method.upper() == "POST" and case.path == "/drafts" else "leader"
        case.call_and_validate(headers={"Authorization": f"Bearer {tokens[who]}"})

    tried = fuzz(api_schema, check, max_examples=25)
    assert "POST /drafts" in tried and "POST /scan" in tried


def test_api_without_a_token_is_401_as_documented(api_schema):
    def check(case):
        response = case.call_and_validate()
        ids = [v for v in (case.path_parameters or {}).values()]
        routed = all(isinstance(v, int) and 0 <= v < 2**31 for v in ids)  # else no route matches: 404
        if case.path != "/openapi.json" and routed:
            assert response.status_code == 401, (case.method, case.path, response.status_code)

    fuzz(api_schema, check, max_examples=3)
