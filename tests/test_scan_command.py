"""The ``scan`` command contract (DESIGN.md, "The scan command")."""
from __future__ import annotations

import json
from pathlib import Path

import flask
import pytest
from click.testing import CliRunner

from review.scanning import Term, load_wordlists
from review.scanning.command import scan_command

FLAG_KEYS = {"term", "category", "severity", "confidence", "rule", "start", "end", "text"}


@pytest.fixture()
def lists(tmp_path) -> Path:
    directory = tmp_path / "lists"
    directory.mkdir()
    (directory / "drugs.txt").write_text("# severity: high\n大麻\n", encoding="utf-8")
    (directory / "fraud.txt").write_text("# severity: high\n套现\n", encoding="utf-8")
    (directory / "allow.txt").write_text("大麻哈鱼\n", encoding="utf-8")
    return directory


def write(tmp_path: Path, name: str, data: str | bytes) -> str:
    path = tmp_path / name
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    return str(path)


def run(*args: str, input: str | bytes | None = None):
    return CliRunner().invoke(scan_command, list(args), input=input)


def records(result) -> list[dict]:
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    return [json.loads(line) for line in lines]


def test_one_json_line_per_input(tmp_path, lists):
    flagged = write(tmp_path, "a.txt", "他吸食大麻被抓，电话13812345678")
    clean = write(tmp_path, "b.txt", "今天天气很好。")
    result = run("--wordlists", str(lists), flagged, clean)
    first, second = records(result)
    version = load_wordlists(lists).version
    assert set(first) == {"path", "wordlist_version", "flags"}
    assert (first["path"], first["wordlist_version"]) == (flagged, version)
    assert second == {"path": clean, "wordlist_version": version, "flags": []}
    assert [(f["term"], f["rule"], f["start"], f["end"]) for f in first["flags"]] == [
        ("大麻", "wordlist:drugs", 3, 5), ("13812345678", "pii:mobile", 10, 21)]
    assert all(set(f) == FLAG_KEYS for f in first["flags"])
    assert '"大麻"' in result.stdout  # not \u-escaped


def test_all_includes_low_confidence(tmp_path, lists):
    path = write(tmp_path, "a.txt", "这下大麻烦了")
    (default,) = records(run("--wordlists", str(lists), path))
    (everything,) = records(run("--wordlists", str(lists), "--all", path))
    assert default["flags"] == []
    assert [(f["text"], f["confidence"]) for f in everything["flags"]] == [("大麻", "low")]


def test_stdin_dash(lists):
    (record,) = records(run("--wordlists", str(lists), "-", input="信用卡套现"))
    assert record["path"] == "-"
    assert [(f["term"], f["start"], f["end"]) for f in record["flags"]] == [("套现", 3, 5)]


def test_crlf_input_keeps_true_offsets(tmp_path, lists):
    content = "第一行\r\n第二行\r\n他吸食大麻被抓\r\n"
    path = write(tmp_path, "crlf.txt", content)
    (record,) = records(run("--wordlists", str(lists), path))
    (flag,) = record["flags"]
    assert (flag["start"], flag["end"]) == (content.index("大麻"), content.index("大麻") + 2)
    assert content[flag["start"]:flag["end"]] == flag["text"] == "大麻"
    assert flag["start"] != content.replace("\r\n", "\n").index("大麻")


def test_allow_list_applies(tmp_path, lists):
    path = write(tmp_path, "a.txt", "大麻哈鱼很好吃")
    (record,) = records(run("--wordlists", str(lists), "--all", path))
    assert record["flags"] == []


def assert_one_line_error(result, *fragments):
    assert result.exit_code == 2
    assert result.stdout == ""  # nothing half-printed
    assert result.stderr.endswith("\n") and result.stderr.count("\n") == 1
    for fragment in fragments:
        assert fragment in result.stderr


def test_unreadable_file_exits_2(tmp_path, lists):
    good = write(tmp_path, "good.txt", "他吸食大麻")
    missing = str(tmp_path / "missing.txt")
    assert_one_line_error(run("--wordlists", str(lists), good, missing), "missing.txt")


def test_non_utf8_input_exits_2(tmp_path, lists):
    path = write(tmp_path, "gbk.txt", "第一行\n他吸食大麻".encode("gbk"))
    assert_one_line_error(run("--wordlists", str(lists), path), "gbk.txt", "UTF-8")


def test_bad_word_list_exits_2(tmp_path, lists):
    (lists / "gambling.txt").write_text("# severity: huge\n百家乐\n", encoding="utf-8")
    path = write(tmp_path, "a.txt", "百家乐")
    assert_one_line_error(run("--wordlists", str(lists), path), "gambling.txt:1", "huge")


def test_missing_word_list_directory_exits_2(tmp_path):
    path = write(tmp_path, "a.txt", "百家乐")
    assert_one_line_error(run("--wordlists", str(tmp_path / "nowhere"), path), "nowhere")


def test_environment_word_lists_without_app(tmp_path, lists, monkeypatch):
    monkeypatch.setenv("WORDLIST_DIR", str(lists))
    (record,) = records(run("-", input="信用卡套现"))
    assert record["wordlist_version"] == load_wordlists(lists).version


def test_app_config_and_database_terms(tmp_path, lists):
    # A bare Flask app stands in for the project's: only config and extensions are read.
    app = flask.Flask("scan-test")
    app.config["WORDLIST_DIR"] = str(lists)
    app.extensions["imprimatur_db_terms"] = lambda: [Term("刷单", "fraud", "high")]
    path = write(tmp_path, "a.txt", "兼职刷单，吸食大麻")
    with app.app_context():
        (configured,) = records(run(path))
        (files_only,) = records(run("--wordlists", str(lists), path))
    assert [f["term"] for f in configured["flags"]] == ["刷单", "大麻"]
    assert [f["term"] for f in files_only["flags"]] == ["大麻"]
    assert configured["wordlist_version"] != files_only["wordlist_version"]


def test_flask_cli_runner_uses_the_app(tmp_path, lists):
    # app.test_cli_runner() hands the app over without pushing a context.
    app = flask.Flask("scan-test")
    app.config["WORDLIST_DIR"] = str(lists)
    app.extensions["imprimatur_db_terms"] = lambda: [Term("刷单", "fraud", "high")]
    app.cli.add_command(scan_command)
    result = app.test_cli_runner().invoke(args=["scan", "-"], input="兼职刷单")
    (record,) = records(result)
    assert [f["term"] for f in record["flags"]] == ["刷单"]
