"""Recall against disguised terms (issue #3's table), with spans into the original text;
the folding they rest on; property tests over noise and spans."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from review.scanning import ScanEngine, load_wordlists, normalize
from review.scanning.command import scan_command

LISTS = {
    "gambling.txt": "# severity: high\ncasino\n网络赌场\n百家乐\n六合彩\n",
    "drugs.txt": "# severity: high\n海洛因\n摇头丸\n冰毒\n大麻\nK粉\n",
    "fraud.txt": "办证\n",
    "numbers.txt": "123\n",
    "vulgar.txt": "av\n",
    "allow.txt": "大麻哈鱼\n最高级别\n",
}

# (text, term, flagged text) — one row of the table each.
TABLE = [
    ("ＣＡＳＩＮＯ", "casino", "ＣＡＳＩＮＯ"),
    ("欢迎光临CaSiNo！", "casino", "CaSiNo"),
    ("他常去網絡賭場", "网络赌场", "網絡賭場"),
    ("玩百*家*乐", "百家乐", "百*家*乐"),
    ("买六-合-彩", "六合彩", "六-合-彩"),
    ("贩卖海 洛 因", "海洛因", "海 洛 因"),
    ("兜售摇\u200b头\u200b丸", "摇头丸", "摇\u200b头\u200b丸"),
    ("專業辦 證", "办证", "辦 證"),
    ("编号①②③", "123", "①②③"),
    ("编号１２３", "123", "１２３"),
    ("收k\u00a0粉", "K粉", "k\u00a0粉"),
    ("海\u3000洛\ufeff因", "海洛因", "海\u3000洛\ufeff因"),
]


@pytest.fixture(scope="module")
def lists_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("disguise")
    for name, content in LISTS.items():
        (directory / name).write_text(content, encoding="utf-8")
    return directory


@pytest.fixture(scope="module")
def engine(lists_dir):
    return ScanEngine(load_wordlists(lists_dir))


@pytest.mark.parametrize("text, term, flagged", TABLE)
def test_every_disguise_is_caught_with_its_original_span(engine, text, term, flagged):
    hits = [h for h in engine.scan(text) if h.category != "pii"]  # shown by default: not low
    assert [(h.term, h.text) for h in hits] == [(term, flagged)]
    (hit,) = hits
    assert (hit.start, hit.end) == (text.index(flagged), text.index(flagged) + len(flagged))


@pytest.mark.parametrize("text, term, flagged", TABLE)
def test_every_disguise_through_flask_scan(lists_dir, tmp_path, text, term, flagged):
    path = tmp_path / "in.txt"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(scan_command, ["--wordlists", str(lists_dir), str(path)])
    assert result.exit_code == 0, result.output
    (record,) = [json.loads(line) for line in result.stdout.splitlines()]
    flags = [f for f in record["flags"] if f["category"] != "pii"]
    assert [(f["term"], f["text"], text[f["start"]:f["end"]]) for f in flags] == [(term, flagged, flagged)]


@pytest.mark.parametrize("text", [
    "冰箱毒素",          # a real ideograph between 冰 and 毒
    "冰a毒",             # a real letter
    "冰1毒",             # a digit
    "We have fun",       # av inside a word
    "navigate",
    "casinos and megacasino",
    "12345",             # 123 inside a longer number
    "大麻哈鱼很好吃",     # allow-list
    "最高级别的会议",
])
def test_not_a_disguise(engine, text):
    assert [h for h in engine.scan(text, include_low=True) if h.category != "pii"] == []


def test_a_long_gap_is_not_a_disguise(engine):
    assert engine.scan("冰" + " " * (normalize.MAX_GAP + 1) + "毒", include_low=True) == []
    assert [h.text for h in engine.scan("冰" + " " * normalize.MAX_GAP + "毒")] == ["冰   毒"]


def test_noise_across_a_clause_is_judged_by_jieba(engine):
    # 大，麻烦 reads as 大麻烦: the match cuts tokens, so it is low and hidden.
    assert engine.scan("这下大，麻烦了") == []
    (hit,) = engine.scan("这下大，麻烦了", include_low=True)
    assert (hit.confidence, hit.text) == ("low", "大，麻")


def test_full_width_phone_number_is_pii(engine):
    text = "电话：１３８１２３４５６７８"
    (hit,) = engine.scan(text)
    assert (hit.rule, hit.text) == ("pii:mobile", "１３８１２３４５６７８")


def test_traditional_and_full_width_terms_in_the_list_fold_too(tmp_path):
    (tmp_path / "g.txt").write_text("網絡賭場\nＣＡＳＩＮＯ\n", encoding="utf-8")
    engine = ScanEngine(load_wordlists(tmp_path))
    assert [h.text for h in engine.scan("网络赌场 casino")] == ["网络赌场", "casino"]


def test_a_term_of_noise_only_is_an_error_naming_file_and_line(tmp_path):
    from review.scanning import WordListError

    (tmp_path / "g.txt").write_text("赌场\n***\n", encoding="utf-8")
    with pytest.raises(WordListError, match=r"g\.txt:2:"):
        load_wordlists(tmp_path)


# --- folding -------------------------------------------------------------------

@pytest.mark.parametrize("text, folded", [
    ("ＣａＳｉＮｏ", "casino"), ("網絡賭場", "网络赌场"), ("百 * 家\t乐", "百家乐"),
    ("摇\u200b\u200d头", "摇头"), ("①②⑩", "1210"), ("Ⅲ号", "iii号"),
])
def test_fold(text, folded):
    assert normalize.fold(text).text == folded


NOISE = st.sampled_from(list(" \t\n*-_.,，。！、·•…—~@#$%^&|/\\()（）【】\u200b\u200c\u200d\u2060\ufeff\u00a0\u3000😀"))
TEXT = st.text(alphabet=st.sampled_from(list("的了是大麻烦哈鱼冰箱毒网絡赌場ABCabc0123①⑩Ⅲ１ａ，。 \n\u200b😀-")),
               max_size=40)


@settings(max_examples=200, deadline=None)
@given(TEXT)
def test_property_fast_fold_agrees_with_the_reference(text):
    fast, slow = normalize.fold(text), normalize._fold_slow(text)
    assert fast.text == slow.text
    for i in range(len(fast.text)):
        assert fast.span(i, i + 1) == slow.span(i, i + 1)
    for i in reversed(range(len(fast.text))):  # lookups may go backwards (a match's start)
        assert fast.span(i, i + 1) == slow.span(i, i + 1)
    for i in range(len(fast.text)):  # spans of several characters, as matches come
        for j in range(i + 1, min(i + 6, len(fast.text)) + 1):
            assert fast.span(i, j) == slow.span(i, j)


CJK_TERMS = ["网络赌场", "百家乐", "六合彩", "海洛因", "摇头丸", "冰毒", "办证"]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(term=st.sampled_from(CJK_TERMS), before=st.sampled_from(["", "他说", "。", "我们在"]),
       after=st.sampled_from(["", "了", "！", "的事"]),
       gaps=st.lists(st.lists(NOISE, max_size=normalize.MAX_GAP), min_size=3, max_size=3))
def test_property_noise_inside_a_term_still_flags_it_with_the_right_span(engine, term, before, after, gaps):
    disguised = term[0] + "".join("".join(gap) + ch for gap, ch in zip(gaps, term[1:]))
    text = before + disguised + after
    hits = [h for h in engine.scan(text, include_low=True) if h.term == term]
    assert (len(before), len(before) + len(disguised)) in {(h.start, h.end) for h in hits}
    for hit in engine.scan(text, include_low=True):
        assert hit.text == text[hit.start:hit.end]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=TEXT)
def test_property_every_flag_text_is_the_input_slice(engine, text):
    for hit in engine.scan(text, include_low=True):
        assert 0 <= hit.start < hit.end <= len(text)
        assert hit.text == text[hit.start:hit.end]
