"""The matcher (ahocorasick_rs over the folded text) finds exactly what a
plain search of the folded text for every key finds, with the same spans in
the original text: astral characters, lone surrogates (valid in a str, not
in UTF-8), keys that hold one, Latin word edges and the allow-list."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from review.scanning import ScanEngine, Term, WordLists, normalize
from review.scanning.engine import _Matcher, _is_word

PIECES = list("大麻烦家的套现金av，。 *\u200bⅡ⑩Ａ１İ𠀀") + ["\ud800", "\udc80", "\U0001F600", "    ", "have", "\r\n"]
KEYS = ["大麻", "麻烦", "套现", "av", "a\ud800", "\ud800大", "𠀀大", "10", "家"]
ALLOW = ["大麻烦", "\udc80家"]


def _plain_find(text: str, terms, allow):
    """Every occurrence of every key by str.find over the folded text, mapped back by Folded.span."""
    folded = normalize.fold(text)
    matches, allowed = [], []
    for key in sorted(set(terms) | set(allow)):
        at = folded.text.find(key)
        while at >= 0:
            start, end = folded.span(at, at + len(key))
            at_edge = ((_is_word(key[0]) and start > 0 and normalize.is_word_char(text[start - 1]))
                       or (_is_word(key[-1]) and end < len(text) and normalize.is_word_char(text[end])))
            if not at_edge:
                if key in allow:
                    allowed.append((start, end))
                if key in terms:
                    matches.append((start, end, key))
            at = folded.text.find(key, at + 1)
    return sorted(matches), sorted(allowed)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(PIECES + KEYS), max_size=25).map("".join))
def test_matcher_finds_what_a_plain_search_finds(text):
    matcher = _Matcher(KEYS, ALLOW)
    found = matcher.find(text)
    matches, allowed = found.rows(), found.allowed
    assert (sorted((s, e, k) for s, e, k, _ in matches), sorted(allowed)) == _plain_find(text, KEYS, ALLOW)
    for start, end, key, clean in matches:
        if clean:  # no noise dropped inside: the text jieba reads holds the key there
            assert normalize.token_text(text)[start:end] == key


def test_lone_surrogates_and_astral_characters_keep_offsets():
    engine = ScanEngine(WordLists(terms=(Term("大麻", "drugs", "high"), Term("a\ud800", "odd", "low")),
                                  allow=(), version="t"))
    text = "𠀀大麻\ud800大麻，a\ud800"
    hits = engine.scan(text, include_low=True)
    assert [(h.term, h.start, h.end, h.text) for h in hits] == [
        ("大麻", 1, 3, "大麻"), ("大麻", 4, 6, "大麻"), ("a\ud800", 7, 9, "a\ud800")]


def test_a_matcher_with_only_odd_keys_and_one_with_none():
    found = _Matcher(["\ud800"], []).find("x\ud800\ud800")
    assert (found.rows(), found.allowed) == ([(1, 2, "\ud800", True), (2, 3, "\ud800", True)], [])
    found = _Matcher([], []).find("大麻")
    assert (found.rows(), found.allowed) == ([], [])


def test_direction_controls_are_flagged_by_code_point_with_their_span():
    engine = ScanEngine(WordLists(terms=(Term("大麻", "drugs", "high"),), allow=(), version="t"))
    text = "大麻\u202e\u2066abc\u2069 x\u200f"
    hits = engine.scan(text)
    assert [(h.term, h.category, h.rule, h.start, h.end, h.text) for h in hits] == [
        ("大麻", "drugs", "wordlist:drugs", 0, 2, "大麻"),
        ("U+202E U+2066", "hidden", "hidden:direction", 2, 4, "\u202e\u2066"),
        ("U+2069", "hidden", "hidden:direction", 7, 8, "\u2069"),
        ("U+200F", "hidden", "hidden:direction", 10, 11, "\u200f")]
    # Noise between a term's characters (the term is still found), flagged all the same.
    assert [(h.term, h.start, h.end) for h in engine.scan("大\u202e麻")] == [("大麻", 0, 3), ("U+202E", 1, 2)]
