"""The scan's fast paths agree with the full passes they skip: PII found in a
full-width text without translating all of it, folding that skips passes a
text does not need, and offsets mapped back near matches only."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from review.scanning import detectors, normalize

# Digits and letters in every form token_text() turns into ASCII, the separators
# and look-alikes it does not (＠, －, the ideographic space), noise and CJK.
PII_FORMS = ["13812345678", "１３８１２３４５６７８", "１38１２34５6７８", "+86 138 1234 5678", "＋８６",
             "110101199003074514", "１１０１０１１９９００３０７４５１４", "11010119900307451Ｘ", "11010119900307451ⅹ",
             "6222 0200 0000 0000 8", "４１１１１１１１１１１１１１１１", "zhang.wei@example.org", "ｚｈａｎｇ@ｅｘａｍｐｌｅ.ｏｒｇ",
             "a＠b.cn", "a@b.ｃｎ", "①②③④⑤⑥⑦⑧⑨⓪", "¹²³⁴⁵⁶⁷⁸⁹⁰", "Ⅻ", "⑩", "-", "－", " ", "\u3000", "@", ".", "．",
             "x", "Xx", "报名", "，", "（", "\u200b", "\U0001F600", "\ud800", "\n", "電話", "tel:", "1", "１", "0"]


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(PII_FORMS), max_size=14).map("".join))
def test_pii_in_full_width_text_is_found_as_in_its_translation(text):
    assert detectors.detect_folded(text) == detectors.detect(normalize.token_text(text))


def test_pii_in_full_width_text_examples():
    text = "电话：１３８１２３４５６７８，身份证１１０１０１１９９００３０７４５１４，邮箱 ｚｈａｎｇ@ｅｘａｍｐｌｅ.ｏｒｇ"
    found = detectors.detect_folded(text)
    assert found == detectors.detect(normalize.token_text(text))
    assert {rule for rule, _, _ in found} == {detectors.RULE_MOBILE, detectors.RULE_ID, detectors.RULE_EMAIL}
    assert detectors.detect_folded("没有号码（全角括号）") == []


# --- folding: the pass for noise past the BMP only where there can be some ------

@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30))
def test_narrow_tells_whether_a_text_has_a_code_point_past_the_bmp(text):
    assert normalize._narrow(text) == all(ord(c) < 0x10000 for c in text)


def test_narrow_is_right_for_str_subclasses_and_cached_utf8():
    class Sub(str):
        pass

    assert normalize._narrow(Sub("中文")) and not normalize._narrow(Sub("中\U0001F600"))
    import sqlite3  # PyUnicode_AsUTF8 fills a str's UTF-8 cache, which getsizeof counts
    connection = sqlite3.connect(":memory:")
    for text in ["中文" * 50, "中\U0001F600" * 50, "é" * 30, "\U0001F600"]:
        connection.execute("select ?", (text,))
        assert normalize._narrow(text) == all(ord(c) < 0x10000 for c in text)


FOLD_PIECES = list("中国人民大麻家的網絡賭場ab1Z，。 *\u200b\u200d\ufeff\tⅡⅢ⑵⑩Ａ１①İ\u3000") + [
    "    ", "\U0001F600", "\U000E0041", "𠀀", "\ud800", "\r\n", "\x00", "①②③", "ＣＡＳＩＮＯ"]


def _fold_parts(folded):
    return folded.text, folded._dense, folded._expansions


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(FOLD_PIECES), max_size=25).map("".join))
def test_fold_without_the_astral_pass_is_fold_with_it(text):
    fast = normalize.fold(text)
    narrow = normalize._narrow
    try:
        normalize._narrow = lambda t: False  # always the pass over code points past the BMP
        full = normalize.fold(text)
    finally:
        normalize._narrow = narrow
    assert _fold_parts(fast) == _fold_parts(full)
    numpy_from = normalize.NUMPY_FROM
    try:
        normalize.NUMPY_FROM = 0  # translated with numpy, as a long text is
        by_numpy = normalize.fold(text)
    finally:
        normalize.NUMPY_FROM = numpy_from
    assert _fold_parts(by_numpy) == _fold_parts(fast)
    slow = normalize._fold_slow(text)
    assert fast.text == slow.text
    assert [fast.span(i, i + 1) for i in range(len(fast.text))] == [slow.span(i, i + 1) for i in range(len(slow.text))]


# --- matches mapped one by one (a short text) or all at once with numpy ---------

from review.scanning import ScanEngine, Term, WordLists, engine as engine_module  # noqa: E402
from review.scanning.engine import _Matcher  # noqa: E402

KEYS = ["大麻", "麻烦", "网络赌场", "av", "a\ud800", "𠀀大", "10", "123", "家", "casino", "中国"]
ALLOW = ["大麻烦"]
MATCH_PIECES = FOLD_PIECES + KEYS + ["大*麻", "網 絡\u200b賭場", "1\u200b0", "①②③", "ｃａｓｉｎｏ", "have", "⑩"]


def _find_both_ways(matcher, text):
    below = engine_module.ONE_BY_ONE_BELOW
    try:
        engine_module.ONE_BY_ONE_BELOW = 10 ** 9  # always one by one
        found = matcher.find(text)
        one_by_one = found.rows(), found.allowed
        engine_module.ONE_BY_ONE_BELOW = 0  # always with numpy
        found = matcher.find(text)
        with_numpy = found.rows(), found.allowed
    finally:
        engine_module.ONE_BY_ONE_BELOW = below
    return one_by_one, with_numpy


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(MATCH_PIECES), max_size=30).map("".join))
def test_matches_mapped_one_by_one_are_those_mapped_with_numpy(text):
    one_by_one, with_numpy = _find_both_ways(_Matcher(KEYS, ALLOW), text)
    _assert_same_matches(text, one_by_one, with_numpy)


def _assert_same_matches(text, one_by_one, with_numpy):
    """The same spans, keys and order; the clean flags agree where both are known, and are true."""
    assert one_by_one[1] == with_numpy[1]
    assert [m[:3] for m in one_by_one[0]] == [m[:3] for m in with_numpy[0]]
    seen = normalize.confidence_text(text, normalize.fold(text))
    for (start, end, key, clean), (_, _, _, other) in zip(*(found for found, _ in (one_by_one, with_numpy))):
        assert clean is None or other is None or clean == other
        if True in (clean, other):
            assert seen[start:end] == key  # the text jieba reads holds the key there


def test_both_mappings_see_the_cases_that_differ():
    text = "大*麻，網 絡\u200b賭場，⑩，ａｖ😀大麻烦\ud800家①②③"
    one_by_one, with_numpy = _find_both_ways(_Matcher(KEYS, ALLOW), text)
    _assert_same_matches(text, one_by_one, with_numpy)
    assert {key for _, _, key, _ in one_by_one[0]} >= {"大麻", "网络赌场", "10", "av", "123"}
    plain = "大*麻，網 絡\u200b賭場大麻"  # no character folds to several: clean is known
    one_by_one, with_numpy = _find_both_ways(_Matcher(KEYS, ALLOW), plain)
    assert one_by_one == with_numpy
    assert [clean for _, _, _, clean in one_by_one[0]] == [False, False, True]


# --- the whole scan, fast paths on and off ---------------------------------

TERMS = (Term("大麻", "drugs", "high"), Term("网络赌场", "gambling", "high"), Term("casino", "gambling", "high"),
         Term("123", "numbers", "low"), Term("10", "numbers", "low"), Term("中国", "misc", "low"),
         Term("人民", "misc", "medium"), Term("家", "misc", "low"))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(MATCH_PIECES + PII_FORMS + ["中国人民", "大麻烦", "我们的"]), max_size=40)
       .map("".join))
def test_a_scan_with_its_fast_paths_is_the_scan_without_them(text):
    engine = ScanEngine(WordLists(terms=TERMS, allow=("大麻烦",), version="t"))
    fast = engine.scan(text, include_low=True)
    saved = engine_module.ONE_BY_ONE_BELOW, normalize._narrow, detectors.detect_folded, normalize.NUMPY_FROM
    try:
        engine_module.ONE_BY_ONE_BELOW = 0  # with numpy
        normalize.NUMPY_FROM = 0  # folded with numpy
        normalize._narrow = lambda t: False
        detectors.detect_folded = lambda t: detectors.detect(normalize.token_text(t))
        full = engine.scan(text, include_low=True)
        engine_module.ONE_BY_ONE_BELOW = 10 ** 9  # one by one
        one_by_one = engine.scan(text, include_low=True)
    finally:
        engine_module.ONE_BY_ONE_BELOW, normalize._narrow, detectors.detect_folded, normalize.NUMPY_FROM = saved
    assert fast == full == one_by_one


# --- PII candidates: numbers and "@" found apart, then merged ------------------

def _windows_reference(text):
    """_windows() as it was: one pattern with both branches."""
    windows = []
    for m in detectors._CANDIDATE.finditer(text):
        if windows and m.start() < windows[-1][1]:
            continue
        lo, hi = m.start(), m.end()
        while lo > 0 and text[lo - 1] in detectors._ASCII_RUN:
            lo -= 1
        while hi < len(text) and text[hi] in detectors._ASCII_RUN:
            hi += 1
        windows.append((lo, hi))
    return windows


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(PII_FORMS + ["@@", "1@2", "12345@678901", "@1234567890", "中@"]), max_size=14)
       .map("".join))
def test_candidates_found_apart_are_those_of_one_pattern(text):
    assert detectors._windows(text) == _windows_reference(text)
    assert detectors._windows(normalize.token_text(text)) == _windows_reference(normalize.token_text(text))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(MATCH_PIECES), max_size=30).map("".join), st.randoms(use_true_random=False))
def test_spans_at_once_are_span_of_each(text, rnd):
    folded = normalize.fold(text)
    n = len(folded.text)
    pairs = sorted(((0, s, e) for s in range(n) for e in range(s + 1, min(n, s + 6) + 1)), key=lambda t: t[2])
    if len(pairs) > 3:  # not only in order: the cursor also steps back
        pairs += rnd.sample(pairs, 3)
    assert normalize.fold(text).spans(pairs) == [folded.span(s, e) for _, s, e in pairs]
    assert normalize._fold_slow(text).spans(pairs) == [normalize._fold_slow(text).span(s, e) for _, s, e in pairs]
