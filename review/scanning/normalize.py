"""Fold text against disguises, keeping a map back to the original offsets.

The folded form is what terms are matched in:

- NFKC: full-width letters and digits become ASCII, ①②③ become 1 2 3,
  compatibility ideographs become the unified ones;
- lower case;
- traditional characters become simplified, one character for one (OpenCC's
  ``t2s`` applied character by character, so offsets stay countable);
- noise — spaces, punctuation, symbols, control, format (zero-width) and
  combining characters — is dropped, so ``百*家*乐`` folds to ``百家乐``.
  A run of more than :data:`MAX_GAP` noise characters is kept as one
  barrier character instead, so a term is not assembled from the end of one
  paragraph and the start of the next.  Letters, digits and ideographs are
  never noise: ``冰箱毒素`` does not contain ``冰毒``.

:func:`fold` returns a :class:`Folded` whose :meth:`Folded.span` turns a span
of the folded text into the span of the original text it came from.
"""
from __future__ import annotations

import bisect
import platform
import re
import sys
import unicodedata
from functools import lru_cache

import numpy as np

MAX_GAP = 3
_UTF32 = "utf-32-le" if sys.byteorder == "little" else "utf-32-be"  # numpy reads native order
BARRIER = "\x00"  # never part of a folded term

_NOISE_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po",
                               "Sm", "Sc", "Sk", "So", "Cc", "Cf", "Co", "Cn", "Mn", "Me"})
# Outside the BMP only these blocks are treated as noise: emoji and pictographs,
# tag characters and the variation selectors supplement (all invisible or decoration).
_SUPPLEMENTARY_NOISE = "\U0001F000-\U0001FAFF\U000E0000-\U000E01EF"
_CJK_RANGES = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF))
_NOISE_RUN = re.compile(f"[{BARRIER}{_SUPPLEMENTARY_NOISE}]+")


def _is_noise(ch: str) -> bool:
    return unicodedata.category(ch) in _NOISE_CATEGORIES


@lru_cache(maxsize=1)
def _t2s() -> dict[str, str]:
    """Traditional -> simplified, character for character (OpenCC t2s)."""
    import opencc

    chars = [chr(cp) for lo, hi in _CJK_RANGES for cp in range(lo, hi + 1)
             if unicodedata.category(chr(cp)) == "Lo"]
    # One character a line: OpenCC converts phrases, and a line holds no phrase.
    converted = opencc.OpenCC("t2s").convert("\n".join(chars)).split("\n")
    if len(converted) != len(chars):  # never seen; then fold without t2s rather than misalign
        return {}
    return {a: b for a, b in zip(chars, converted) if len(b) == 1 and a != b}


def _fold_one(ch: str) -> str:
    """The folded form of one character: "" for noise, else one or more characters."""
    n = unicodedata.normalize("NFKC", ch)
    if _is_noise(ch) or (n and all(_is_noise(c) for c in n)):
        return ""
    lower = n.lower()
    if len(lower) == len(n):
        n = lower
    t2s = _t2s()
    return "".join(t2s.get(c, c) for c in n)


@lru_cache(maxsize=1)
def _tables() -> tuple[list, list, re.Pattern, dict]:
    """(match table, token table, pattern of what fold() handles itself, expansions).

    A list indexed by code point makes ``str.translate`` a C loop; code points
    past the BMP raise IndexError there and stay as they are.
    """
    match_table: list = [None] * 0x10000
    token_table: list = [None] * 0x10000
    expanding: dict[str, str] = {}
    for cp in range(0x10000):
        ch = chr(cp)
        if 0xD800 <= cp <= 0xDFFF:
            match_table[cp] = token_table[cp] = ch
            continue
        folded = _fold_one(ch)
        if folded == "":
            match_table[cp], token_table[cp] = BARRIER, ch
        elif len(folded) == 1:
            match_table[cp] = token_table[cp] = folded
        else:
            expanding[ch] = folded
            match_table[cp] = token_table[cp] = ch  # handled by the slow path
    # What fold() must look at after translation: noise runs, and characters that fold to several.
    special = re.compile(f"[{BARRIER}{_SUPPLEMENTARY_NOISE}]+|[" + "".join(re.escape(c) for c in expanding) + "]")
    global _HARD, _EXPANDING
    _HARD = re.compile(f"[{_SUPPLEMENTARY_NOISE}" + "".join(re.escape(c) for c in expanding) + "]")
    _EXPANDING = re.compile("[" + "".join(re.escape(c) for c in expanding) + "]")
    return match_table, token_table, special, expanding


# Replaced by _tables(): characters that fold to several, and those or noise outside the BMP.
_EXPANDING: re.Pattern = re.compile("")
_HARD: re.Pattern = re.compile("")
_SUPPLEMENTARY_RUN = re.compile(f"[{_SUPPLEMENTARY_NOISE}]+")


def warm_up() -> None:
    """Build the tables now (about a second, once per process) rather than in the first scan."""
    _tables()
    _match_codes()


class Folded:
    """The folded text and its way back to the original offsets.

    ``dense`` is the original translated one character for one, deleted noise
    marked as BARRIER: an offset is recovered by counting markers. Characters
    that fold to several (⑩ -> 10, rare) are listed in ``expansions``, whose
    folded characters all map back to the one character.
    """

    __slots__ = ("text", "original", "_dense", "_expansions", "_pos", "_cursor")

    def __init__(self, text: str, original: str, *, dense=None, expansions=None, pos=None):
        self.text = text
        self.original = original
        self._dense = dense
        self._expansions = expansions
        self._pos = pos
        self._cursor = (0, 0)  # (dense position, markers before it) of the last lookup

    @property
    def expands(self) -> bool | None:
        """Whether a character folded to several (None: not known, no dense form)."""
        if self._dense is None:
            return None
        return self._expansions is not None

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original ``[start, end)`` of folded ``[start, end)`` (end > start)."""
        return self._at(start), self._at(end - 1) + 1

    def spans(self, found) -> list[tuple[int, int]]:
        """``[self.span(s, e) for _, s, e in found]``, the lookups inline (three
        calls fewer each; *found* in roughly ascending order, as matches come)."""
        dense = self._dense
        if dense is None:
            span = self.span
            return [span(s, e) for _, s, e in found]
        count = dense.count
        expansions = self._expansions
        if expansions is not None:
            exp_f, exp_k, exp_n = expansions
        p, markers = self._cursor
        out: list[tuple[int, int]] = []
        append = out.append
        for _, s, e in found:
            start = -1
            for i in (s, e - 1):
                if expansions is not None:  # folded index -> index among the kept characters
                    j = bisect.bisect_right(exp_f, i) - 1
                    if j >= 0:
                        past = i - exp_f[j] - exp_n[j]
                        i = exp_k[j] if past < 0 else exp_k[j] + 1 + past
                if p > i + markers:  # behind the cursor: as _dense_at
                    back = p - i - markers
                    q = p - back
                    while True:
                        r = p - back - count(BARRIER, q, p)
                        if r == q:
                            break
                        q = r
                    while dense[q] == BARRIER:
                        q += 1
                    markers -= count(BARRIER, q, p)
                    p = q
                else:
                    while True:
                        q = i + markers
                        if q == p:
                            break
                        markers += count(BARRIER, p, q)
                        p = q
                    while dense[p] == BARRIER:
                        p += 1
                        markers += 1
                if start < 0:
                    start = p
            append((start, p + 1))
        self._cursor = (p, markers)
        return out

    def _at(self, i: int) -> int:
        if self._pos is not None:
            return self._pos[i]
        if self._expansions is not None:
            # Folded index -> index among the kept characters of `dense`.
            exp_f, exp_k, exp_n = self._expansions
            j = bisect.bisect_right(exp_f, i) - 1
            if j >= 0:
                past = i - exp_f[j] - exp_n[j]
                i = exp_k[j] if past < 0 else exp_k[j] + 1 + past
        return self._dense_at(i)

    def _dense_at(self, i: int) -> int:
        # Position p of folded character i satisfies p = i + markers(dense[:p]);
        # iterate from the last lookup (lookups come roughly in order).
        dense = self._dense
        p, markers = self._cursor
        if p > i + markers:  # behind the cursor (a match's start): step back from it
            back = p - i - markers  # kept characters between i and the cursor
            q = p - back
            while True:
                r = p - back - dense.count(BARRIER, q, p)
                if r == q:
                    break
                q = r
            while dense[q] == BARRIER:
                q += 1
            markers -= dense.count(BARRIER, q, p)
            self._cursor = (q, markers)
            return q
        while True:
            q = i + markers
            if q == p:
                break
            markers += dense.count(BARRIER, p, q)
            p = q
        while dense[p] == BARRIER:
            p += 1
            markers += 1
        self._cursor = (p, markers)
        return p


_LONG_RUN = BARRIER * (MAX_GAP + 1)
_NOT_BARRIER = re.compile(f"[^{BARRIER}]")


def utf32_codes(text: str) -> np.ndarray:
    """The code points of *text* as a uint32 array (lone surrogates included)."""
    return np.frombuffer(text.encode(_UTF32, "surrogatepass"), dtype=np.uint32)


def span_arrays(folded: Folded, first: np.ndarray, end: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Folded.span() of many folded spans ``[first, end)`` at once (numpy), for
    a text dense with matches: ``(starts, ends, one_for_one)``, the original
    spans and whether each maps one for one (no character dropped inside it,
    none in it folded to several: then the original holds the folded
    characters there). None for a Folded built without the dense form.

    Kept character i (of the text with the dropped ones taken out) is
    original character ``i + d``, d the number of dropped characters before
    it: those whose index less their rank is at most i.
    """
    if folded._dense is None:
        return None
    dense = utf32_codes(folded._dense)
    dropped = np.flatnonzero(dense == ord(BARRIER))
    dropped -= np.arange(len(dropped))
    begin, last = first, end - 1
    expanded = None
    if folded._expansions is not None:
        # Folded index -> kept index: every character of an expansion is the one it came from.
        exp_f, exp_k, exp_n = (np.array(column, dtype=np.int64) for column in folded._expansions)

        def kept(i: np.ndarray) -> np.ndarray:
            j = np.searchsorted(exp_f, i, side="right") - 1
            at = np.maximum(j, 0)
            past = i - exp_f[at] - exp_n[at]
            return np.where(j < 0, i, np.where(past < 0, exp_k[at], exp_k[at] + 1 + past))

        j = np.searchsorted(exp_f, last, side="right") - 1  # the one expansion that may overlap the span
        at = np.maximum(j, 0)
        expanded = (j >= 0) & (exp_f[at] + exp_n[at] > first)
        first, last = kept(first), kept(last)
    starts = first + np.searchsorted(dropped, first, side="right")
    ends = last + np.searchsorted(dropped, last, side="right") + 1
    one_for_one = ends - starts == end - begin
    return starts, ends, one_for_one if expanded is None else one_for_one & ~expanded


_KEPT_BARRIER = "\x01"  # after translation no control character is left, so this one is free


def _mark_long_runs(translated: str) -> str:
    """The first BARRIER of each run of more than MAX_GAP made _KEPT_BARRIER
    (str.find from run to run: a text has few such runs, if any)."""
    i = translated.find(_LONG_RUN)
    if i < 0:
        return translated
    pieces = []
    last = 0
    while i >= 0:  # i: the start of a run (found from a character that is not BARRIER)
        pieces.append(translated[last:i])
        pieces.append(_KEPT_BARRIER)
        last = i + 1
        after = _NOT_BARRIER.search(translated, i + len(_LONG_RUN))
        if after is None:
            break
        i = translated.find(_LONG_RUN, after.start())
    pieces.append(translated[last:])
    return "".join(pieces)


if platform.python_implementation() == "CPython":
    # CPython keeps a str with a code point past the BMP at 4 bytes a character,
    # so its size is at least this much; a smaller one has none (no pass over it).
    _WIDE_BASE = sys.getsizeof("\U00010000") - 2 * 4

    def _narrow(text: str) -> bool:
        """True if *text* has no code point past the BMP (False: maybe it has)."""
        if sys.getsizeof(text) < _WIDE_BASE + 4 * (len(text) + 1):
            return True
        return _ASTRAL.search(text) is None
else:  # pragma: no cover
    def _narrow(text: str) -> bool:
        return _ASTRAL.search(text) is None

_ASTRAL = re.compile("[\U00010000-\U0010FFFF]")


# From this many characters fold() translates with numpy (a table look-up over
# the code points, about 5 times str.translate's speed once the text is long).
NUMPY_FROM = 2_000


@lru_cache(maxsize=1)
def _match_codes() -> np.ndarray:
    """The match table as code points, for numpy."""
    return np.array([ord(ch) for ch in _tables()[0]], dtype=np.uint32)


def _translate(text: str, table: list) -> str:
    """``text.translate(table)`` for the match table (one character for one in the BMP, the rest kept)."""
    if len(text) < NUMPY_FROM or not text:
        return text.translate(table)
    codes = utf32_codes(text)
    lookup = _match_codes()
    if codes.max() < 0x10000:
        out = lookup[codes]
    else:
        out = np.where(codes < 0x10000, lookup[codes & 0xFFFF], codes)
    return out.tobytes().decode(_UTF32, "surrogatepass")


def fold(text: str) -> Folded:
    """Fold *text* for matching (see the module docstring)."""
    match_table, _, _, expansions = _tables()
    translated = _translate(text, match_table)
    if _narrow(text):  # nothing past the BMP: no noise that str.translate left
        hard = _EXPANDING.search(translated) is not None
    else:
        hard = _HARD.search(translated) is not None
        if hard:
            # Noise outside the BMP (str.translate leaves it) is one code point: mark it like the rest.
            translated = _SUPPLEMENTARY_RUN.sub(lambda m: BARRIER * len(m.group()), translated)
    dense = _mark_long_runs(translated)
    kept = dense.replace(BARRIER, "").replace(_KEPT_BARRIER, BARRIER)
    if not hard:
        return Folded(kept, text, dense=dense)
    # A character that folds to several (⑩ -> 10): each of them maps back to it.
    exp_f: list[int] = []   # folded index of each expansion's first character
    exp_k: list[int] = []   # index in `kept` of the character expanded
    exp_n: list[int] = []   # length of the expansion
    pieces: list[str] = []
    last = extra = 0
    for m in _EXPANDING.finditer(kept):
        k = m.start()
        expansion = expansions[m.group()]
        pieces.append(kept[last:k])
        pieces.append(expansion)
        exp_f.append(k + extra)
        exp_k.append(k)
        exp_n.append(len(expansion))
        extra += len(expansion) - 1
        last = k + 1
    if not pieces:
        return Folded(kept, text, dense=dense)
    pieces.append(kept[last:])
    return Folded("".join(pieces), text, dense=dense, expansions=(exp_f, exp_k, exp_n))


def _fold_slow(text: str) -> Folded:
    """Character by character: the reference that :func:`fold` must agree with (tests)."""
    out: list[str] = []
    pos: list[int] = []
    run_start = None
    run_len = 0
    for i, ch in enumerate(text):
        folded = _fold_char(ch)
        if folded == "":
            if run_start is None:
                run_start, run_len = i, 0
            run_len += 1
            continue
        if run_start is not None:
            if run_len > MAX_GAP:
                out.append(BARRIER)
                pos.append(run_start)
            run_start = None
        for c in folded:
            out.append(c)
            pos.append(i)
    if run_start is not None and run_len > MAX_GAP:
        out.append(BARRIER)
        pos.append(run_start)
    return Folded("".join(out), text, pos=pos)


def _fold_char(ch: str) -> str:
    cp = ord(ch)
    if cp < 0x10000:
        match_table, _, _, expansions = _tables()
        mapped = match_table[cp]
        if mapped == BARRIER:
            return ""
        return expansions.get(mapped, mapped)
    return "" if _NOISE_RUN.match(ch) else ch


def fold_term(term: str) -> str:
    """A term or allow-list phrase in folded form (noise inside it dropped)."""
    translated = term.translate(_tables()[0])
    if _HARD.search(translated):
        return "".join(_fold_char(ch) for ch in term)
    return translated.replace(BARRIER, "")


@lru_cache(maxsize=1)
def _terms_table() -> list:
    """The match table with "\n" kept: fold_terms() folds many terms joined by it."""
    table = list(_tables()[0])
    table[10] = "\n"
    return table


def fold_terms(terms) -> list[str]:
    """[fold_term(t) for t in terms], in a few passes over all of them at once."""
    terms = list(terms)
    if not terms:
        return []
    joined = "\n".join(terms)
    translated = joined.translate(_terms_table())
    parts = translated.replace(BARRIER, "").split("\n")
    if len(parts) != len(terms) or _HARD.search(translated):
        return [fold_term(t) for t in terms]  # a term with "\n" in it, or one for the slow path
    return parts


def token_table() -> list:
    """token_text()'s translation table (a list by BMP code point; the rest stay as they are)."""
    return _tables()[1]


def token_text(text: str) -> str:
    """*text* folded one character for one, noise kept: what jieba is given.

    Same length as *text*, so token offsets are original offsets.
    """
    return text.translate(_tables()[1])


# jieba's block characters outside CJK (its re_han_default); these seven are
# noise to matching (BARRIER in the folded text) but jieba reads them in blocks.
_JIEBA_SYMBOL_CHARS = "+#&._%-"
_JIEBA_SYMBOLS = re.compile(f"[{re.escape(_JIEBA_SYMBOL_CHARS)}]")


def confidence_text(text: str, folded: Folded) -> str:
    """What jieba reads as far as confidence can tell, from the folded text's
    one-for-one form instead of a second pass over *text*.

    It equals token_text(text) at every jieba block character (CJK, ASCII
    letters and digits, ``+#&._%-``) and has a character that is none of those
    wherever token_text has one (dropped noise stays BARRIER), which is all
    that jieba's segmentation around a match depends on.
    """
    dense = folded._dense
    if dense is None:
        return token_text(text)
    if not any(symbol in text for symbol in _JIEBA_SYMBOL_CHARS):
        return dense  # the common case in Chinese text: seven str.find, no pattern tried at every position
    found = [m.start() for m in _JIEBA_SYMBOLS.finditer(text)]
    if not found:
        return dense
    pieces = []
    last = 0
    for i in found:
        pieces.append(dense[last:i])
        pieces.append(text[i])
        last = i + 1
    pieces.append(dense[last:])
    return "".join(pieces)


def is_word_char(ch: str) -> bool:
    """A letter or digit that forms Latin words with its neighbours (after folding)."""
    folded = _fold_char(ch)[:1]
    return bool(folded) and ((folded.isascii() and folded.isalnum())
                             or ("\u00c0" <= folded <= "\u024f" and folded.isalpha()))


__all__ = ["BARRIER", "Folded", "MAX_GAP", "confidence_text", "fold", "fold_term", "fold_terms", "is_word_char", "span_arrays", "utf32_codes", "token_table", "token_text",
           "warm_up"]
