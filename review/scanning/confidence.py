"""jieba's verdict on one match, computed from the few characters around it.

A match is ``high`` when jieba's segmentation of the text has token
boundaries at both of its ends and none inside, ``medium`` when it lies
inside one longer token, ``low`` when it cuts across token boundaries.

Tokenising the whole text with jieba costs about as much as a scan may cost
in all, and a text dense with matches leaves little to skip, so the verdict
is worked out locally, with jieba's own model:

- jieba (default mode, HMM on) splits the text into blocks of
  ``[\\u4E00-\\u9FD5a-zA-Z0-9+#&._%-]`` characters, builds the DAG of
  dictionary words (frequency > 0) in each block and takes the route of
  maximum probability, ``max(log(freq or 1) - log(total) + route[x + 1], x)``
  from right to left; runs of two or more one-character tokens that are not
  themselves a dictionary word go through its HMM (``finalseg.cut``).
- A position that no dictionary word spans is a *cut point*: every route
  passes it, so the route between two cut points depends on those characters
  alone (the rest adds the same constant to every candidate).
- "No word spans position q" is decided without a trie: the two characters
  at q are not a word, and neither three-character window around q occurs
  inside a word of three or more characters (a Bloom filter of two-character
  words and of those trigrams; a false positive only makes the test more
  careful, never wrong). A scan asks it for every match edge at once, with
  numpy (review.scanning.cutpoints); judge() asks it one position at a time.

So: a match whose ends are both cut points and which is a token on its own
is ``high`` (the common case, a few dictionary look-ups); otherwise the route
is computed between the nearest cut points on either side (a few characters),
widened where a run of one-character tokens reaches the edge and could be
merged by the HMM, and the HMM is applied exactly as jieba does. The search
never looks further than :data:`REACH` characters from the match; beyond
that the text is treated as cut, as the earlier fixed window did.

The only possible difference from jieba's route over the whole text is the
floating-point rounding of two candidate routes whose probabilities are
equal to the last bit; tests compare the two over real text, and
bench/confidence_check.py over 1.86 M characters of People's Daily (every
verdict jieba's).
"""
from __future__ import annotations

from collections import deque
from itertools import groupby, repeat
from math import log
from operator import and_, getitem, rshift

import numpy as np
from jieba import finalseg

from review.scanning.cutpoints import CutTest
from review.scanning.normalize import utf32_codes

# jieba's re_han_default, as a set of characters (the CJK block and a few ASCII ones).
BLOCK_CHARS = frozenset(
    [chr(c) for c in range(0x4E00, 0x9FD6)]
    + list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+#&._%-"))
REACH = 20
MEMO_SIZE = 50_000
_BITS = 23
MASK = (1 << _BITS) - 1
SHIFT = 29  # the second probe of the Bloom filter reads other bits of the same hash
BLOCK_CODES = frozenset(map(ord, BLOCK_CHARS))


def trigram_bitmap(words, bitmap: bytearray | None = None) -> bytearray:
    """Add every two-character word and every trigram inside a longer word to
    a Bloom filter: bytes ``h & MASK`` and ``h >> SHIFT & MASK`` where ``h`` is
    the hash of the tuple of the characters' code points.

    A tuple of ints hashes the same in every process (a str's hash is salted
    per process), so the filter of a dictionary can be kept in a file
    (dictionary.base_bitmap), and numpy can compute it (cutpoints.tuple_hash).
    """
    if bitmap is None:
        bitmap = bytearray(MASK + 1)
    mark = bitmap.__setitem__
    for length, grouped in groupby(sorted(words, key=len), key=len):
        if length < 2:
            continue
        group = list(grouped)
        # Nested map() keeps the loops in C.
        columns = [list(map(ord, map(getitem, group, repeat(i)))) for i in range(length)]
        if length == 2:
            pieces = [zip(columns[0], columns[1])]
        else:
            pieces = [zip(columns[i], columns[i + 1], columns[i + 2]) for i in range(length - 2)]
        for piece in pieces:
            hashes = list(map(hash, piece))
            deque(map(mark, map(and_, hashes, repeat(MASK)), repeat(1)), maxlen=0)
            deque(map(mark, map(and_, map(rshift, hashes, repeat(SHIFT)), repeat(MASK)), repeat(1)), maxlen=0)
    return bitmap


def route(piece: str, freq: dict, logtotal: float, offset: int = 0) -> list[int]:
    """Token boundaries (offset + i) of jieba's maximum-probability route over *piece*.

    *piece* holds block characters only; *freq* and *logtotal* are a
    tokenizer's ``FREQ`` and ``log(total)``. Same arithmetic, in the same
    order, and the same tie-break (the larger end wins) as
    ``jieba.Tokenizer.get_DAG`` and ``calc``, so the same route.
    """
    return route_and_ties(piece, freq, logtotal, offset)[0]


TIE = 1e-9  # candidates closer than this are equal but for rounding (家/家家 against 家家/家)


def route_and_ties(piece: str, freq: dict, logtotal: float, offset: int = 0) -> tuple[list[int], bool]:
    """route(), and whether a choice on it was a tie up to rounding. Over a
    piece that ends where jieba's block ends the arithmetic is jieba's, ties
    included; over a shorter piece a tie may round the other way."""
    n = len(piece)
    get = freq.get
    best = [0.0] * (n + 1)
    step = list(range(1, n + 1))  # the character alone, unless a word is better
    tied = None  # positions where the choice was a tie up to rounding (rare)
    alone = log(1) - logtotal  # no word starts here: the character alone, as if its frequency were 1
    following = 0.0  # best[k + 1]
    for k in range(n - 1, -1, -1):
        f = get(piece[k])
        if not f:
            if f is None:  # no word starts here
                following = best[k] = alone + following
                continue
            score = None  # FREQ holds every prefix of every word (as 0 if not a word)
        else:
            score = log(f) - logtotal + following
            to = k + 1
        i = k + 2
        while i <= n:
            f = get(piece[k:i])
            if f is None:
                break
            if f:
                s = log(f) - logtotal + best[i]
                if score is None:
                    score, to = s, i
                elif s >= score:
                    if s - score < TIE:
                        tied = (tied or set()) | {k}
                    score, to = s, i
                elif score - s < TIE:
                    tied = (tied or set()) | {k}
            i += 1
        if score is None:
            following = best[k] = alone + following
        else:
            following = best[k] = score
            step[k] = to
    out = [offset]
    x = 0
    any_tie = False
    while x < n:
        if tied and x in tied:
            any_tie = True
        x = step[x]
        out.append(offset + x)
    return out, any_tie


# Kinds of keys (Judge._kind()): BLOCKS is SOLO or BLOCK, not yet known which (told only where
# both ends of a match are cut points: the route over the key costs a first scan dearly).
SOLO, BLOCKS, BLOCK, MIXED = 0, 1, 2, 3


def _crossing_test(bitmap: bytearray):
    """crossed(tok, q): False only if no dictionary word can span position q (0 < q < len(tok))."""
    block = BLOCK_CHARS
    mask, shift = MASK, SHIFT

    def crossed(tok: str, q: int) -> bool:
        if tok[q - 1] not in block or tok[q] not in block:
            return False  # a block boundary: jieba cuts there
        a, b = ord(tok[q - 1]), ord(tok[q])
        h = hash((a, b))  # a two-character word, most likely
        if bitmap[h & mask] and bitmap[h >> shift & mask]:
            return True
        if q >= 2:
            h = hash((ord(tok[q - 2]), a, b))
            if bitmap[h & mask] and bitmap[h >> shift & mask]:
                return True
        if q + 1 < len(tok):
            h = hash((a, b, ord(tok[q + 1])))
            if bitmap[h & mask] and bitmap[h >> shift & mask]:
                return True
        return False

    return crossed


def _hmm_may_matter(bounds: list[int], start: int, end: int, open_left: bool, open_right: bool) -> bool:
    """Is a boundary in [start, end] flanked by one-character tokens (or an open edge)?

    Only such a boundary can be removed by jieba's HMM; if there is none the
    route's boundaries are the tokens' boundaries where it matters.
    """
    last = len(bounds) - 1
    for j, q in enumerate(bounds):
        if q < start:
            continue
        if q > end:
            break
        if ((q - bounds[j - 1] == 1) if j else open_left) and ((bounds[j + 1] - q == 1) if j < last else open_right):
            return True
    return False


class Judge:
    """Confidence of matches for one dictionary (jieba's FREQ and total, after adding terms).

    Read-only after construction except for memos (which keys are one token
    on their own; verdicts by segment), filled idempotently: safe to share
    between threads.
    """

    def __init__(self, freq: dict, total: int, bitmap: bytearray):
        """*bitmap* is the filter of the words of *freq* (trigram_bitmap());
        the Judge reads it and does not change it."""
        self._freq = freq
        self._logtotal = log(total)
        self._bitmap = bitmap
        # _kind() of keys seen; BLOCKS for keys verdicts() has not needed to tell further
        self._kinds: dict[str, int] = {}
        self._crossed = _crossing_test(bitmap)
        self._cuts = CutTest(bitmap, BLOCK_CODES, MASK, SHIFT)
        # Verdicts by the segment between cut points (and where the match lies in it).
        self._memo: dict[tuple, str] = {}
        self._widen: dict[tuple, tuple[bool, bool]] = {}  # by segment, where one must be widened (_work_out)
        self._routes: dict[str, tuple[int, ...]] = {}  # route boundaries by segment

    def forget(self) -> None:
        """Empty the memos (benchmarks: the next scan is a first one)."""
        self._kinds.clear()
        self._memo.clear()
        self._widen.clear()
        self._routes.clear()

    # --- the verdict -------------------------------------------------------

    def judge(self, tok: str, start: int, end: int, lo: int = 0, hi: int | None = None) -> str:
        """The confidence of ``tok[start:end]`` as a span of jieba's tokens of ``tok[lo:hi]``.

        *tok* is the text jieba reads (normalize.token_text).
        """
        if hi is None:
            hi = len(tok)
        if lo < start - REACH:
            lo = start - REACH
        if hi > end + REACH:
            hi = end + REACH
        crossed = self._crossed
        cut_start = start == lo or not crossed(tok, start)
        cut_end = end == hi or not crossed(tok, end)
        key = tok[start:end]
        kind = self._kinds.get(key)
        if kind is None or kind == BLOCKS:
            kind = self._kind(key)
        if cut_start and cut_end and kind == SOLO:
            return "high"  # the common case: a token of its own between two cut points
        return self._settle(tok, start, end, lo, hi, cut_start, cut_end, kind)

    def verdicts(self, tok: str, starts: np.ndarray, ends: np.ndarray, keys: list[str], clean: np.ndarray) -> list:
        """judge(tok, start, end) of each match of the columns (``starts``,
        ``ends``: int64; ``clean``: int8, 1 where ``tok[start:end] == key``,
        -1 where not known, then compared) where ``tok[start:end] == key``, else None.

        The same verdicts as judge(): the nearest cut points of every match
        are found at once (cutpoints.CutTest), then each match is a token of
        its own or its segment's verdict is looked up in the memo (worked out
        on a miss).
        """
        n = len(tok)
        count = len(keys)
        if not n or not count:
            return [None] * count
        codes = utf32_codes("\0" + tok + "\0")
        lefts, rights, opens_left, opens_right = self._cuts.nearest_cuts(codes, starts, ends, REACH)
        kinds = self._kinds
        kind_of = kinds.get
        # Most matches are clean, of a key jieba reads as one token, between two cut points: "high",
        # told apart here at once; the loop sees the others.
        easy = ((np.fromiter(map(kind_of, keys, repeat(-1)), dtype=np.int8, count=count) == SOLO)
                & (clean == 1) & (lefts == starts) & (rights == ends))
        out: list = ["high"] * count
        hard = np.flatnonzero(~easy)
        memo_get = self._memo.get
        work_out = self._work_out
        for i, start, end, key, clean, left, right, open_left, open_right in zip(
                hard.tolist(), starts[hard].tolist(), ends[hard].tolist(), map(keys.__getitem__, hard.tolist()),
                clean[hard].tolist(), lefts[hard].tolist(), rights[hard].tolist(), opens_left[hard].tolist(),
                opens_right[hard].tolist()):
            if clean != 1 and (clean == 0 or tok[start:end] != key):
                out[i] = None
                continue
            kind = kind_of(key)
            if left == start and right == end:
                if kind == SOLO:
                    continue  # "high"
                if kind is None or kind == BLOCKS:
                    kind = self._kind(key)
                    if kind == SOLO:
                        continue  # "high"
            elif kind is None:
                kind = kinds[key] = BLOCKS if BLOCK_CHARS.issuperset(key) else self._kind(key)
            seg = tok[left:right]
            memo_key = (seg, start - left, end - left, open_left, open_right)
            verdict = memo_get(memo_key)
            if verdict is None:
                lo = start - REACH if start > REACH else 0
                hi = end + REACH if end + REACH < n else n
                verdict = work_out(tok, start, end, lo, hi, left, right, kind, seg, open_left, open_right,
                                   memo_key)
            out[i] = verdict
        return out

    def _settle(self, tok: str, start: int, end: int, lo: int, hi: int,
                cut_start: bool, cut_end: bool, kind: int) -> str:
        """judge() past its common case."""
        crossed = self._crossed
        left = start
        if not cut_start:
            left -= 1
            while left > lo and crossed(tok, left):
                left -= 1
        right = end
        if not cut_end:
            right += 1
            while right < hi and crossed(tok, right):
                right += 1
        return self._segment(tok, start, end, lo, hi, left, right, kind)

    def _segment(self, tok: str, start: int, end: int, lo: int, hi: int, left: int, right: int,
                 kind: int) -> str:
        """The verdict from the segment between the cut points *left* and *right* on."""
        open_left = left > lo and tok[left - 1] in BLOCK_CHARS
        open_right = right < hi and tok[right] in BLOCK_CHARS
        seg = tok[left:right]
        memo_key = (seg, start - left, end - left, open_left, open_right)
        verdict = self._memo.get(memo_key)
        if verdict is not None:
            return verdict
        return self._work_out(tok, start, end, lo, hi, left, right, kind, seg, open_left, open_right, memo_key)

    def _work_out(self, tok: str, start: int, end: int, lo: int, hi: int, left: int, right: int, kind: int,
                  seg: str, open_left: bool, open_right: bool, memo_key: tuple | None) -> str:
        """_segment() past its memo: *seg* is ``tok[left:right]``, *memo_key* where the verdict goes.

        Where jieba's HMM may merge a run of one-character tokens that goes on
        past the segment, the segment is widened to the next cut point on that
        side and worked out again; which side a segment must be widened on is
        a memo of its own (as the verdict, it depends on the segment alone).
        """
        crossed = self._crossed
        memo, widen = self._memo, self._widen
        first = True
        while True:
            sides = widen.get(memo_key) if memo_key is not None else None
            if sides is None:
                ties: list = []
                # left..start and end..right are block characters (a position is only
                # crossed between two), so the segment is one piece when the key is.
                if first and kind != MIXED:
                    bounds = self._route(seg, left, tok, ties)
                else:
                    bounds = self._bounds(tok, left, right, ties)
                sides = (False, False)
                if _hmm_may_matter(bounds, start, end, open_left, open_right):
                    sides = self._apply_hmm(tok, bounds, start, end, open_left, open_right)
                if ties:
                    memo_key = None  # a tie was settled by the text after the segment
                if sides == (False, False):
                    break
                if memo_key is not None:
                    if len(widen) >= MEMO_SIZE:
                        widen.clear()
                    widen[memo_key] = sides
            widen_left, widen_right = sides
            if widen_left:
                left -= 1
                while left > lo and crossed(tok, left):
                    left -= 1
                open_left = left > lo and tok[left - 1] in BLOCK_CHARS
            if widen_right:
                right += 1
                while right < hi and crossed(tok, right):
                    right += 1
                open_right = right < hi and tok[right] in BLOCK_CHARS
            first = False
            seg = tok[left:right]
            memo_key = (seg, start - left, end - left, open_left, open_right)
            verdict = memo.get(memo_key)
            if verdict is not None:
                return verdict
        inside = at_start = at_end = False
        for q in bounds:
            if q < start:
                continue
            if q >= end:
                at_end = q == end
                break
            if q == start:
                at_start = True
            else:
                inside = True
        verdict = "low" if inside else "high" if at_start and at_end else "medium"
        if memo_key is not None:
            if len(memo) >= MEMO_SIZE:
                memo.clear()
            memo[memo_key] = verdict
        return verdict

    def _kind(self, key: str) -> int:
        """SOLO: block characters that jieba reads as one token when alone (two or more);
        BLOCK: other keys of block characters; MIXED: keys with other characters."""
        if not all(c in BLOCK_CHARS for c in key):
            kind = MIXED
        elif len(key) >= 2 and route_and_ties(key, self._freq, self._logtotal) == ([0, len(key)], False):
            kind = SOLO
        else:
            kind = BLOCK
        self._kinds[key] = kind  # as many as the engine has keys
        return kind

    # --- jieba's route, exactly --------------------------------------------

    def _route(self, piece: str, offset: int, tok: str | None = None, ties: list | None = None) -> list[int]:
        """route() over *piece* (``tok[offset:offset + len(piece)]``), memoised:
        matches that overlap share their segment. Where the route holds a tie up
        to rounding, it is taken again up to the end of jieba's block in *tok*,
        so that the rounding, and with it the choice, is jieba's (noted in *ties*:
        the verdict then depends on more than the segment)."""
        found = self._routes.get(piece)
        if found is None:
            steps, tied = route_and_ties(piece, self._freq, self._logtotal)
            found = (tuple(steps), tied)
            if len(self._routes) >= MEMO_SIZE:
                self._routes.clear()
            self._routes[piece] = found
        steps, tied = found
        end = offset + len(piece)
        if tied and tok is not None and end < len(tok) and tok[end] in BLOCK_CHARS:
            block_end = end
            while block_end < len(tok) and tok[block_end] in BLOCK_CHARS:
                block_end += 1
            whole = route(tok[offset:block_end], self._freq, self._logtotal, offset)
            if ties is not None:
                ties.append(piece)
            return [q for q in whole if q < end] + [end]
        return [offset + x for x in steps] if offset else list(steps)

    def _bounds(self, tok: str, left: int, right: int, ties: list | None = None) -> list[int]:
        """Route boundaries over ``tok[left:right]`` (before the HMM), block by block."""
        out = [left]
        i = left
        while i < right:
            if tok[i] not in BLOCK_CHARS:
                i += 1  # outside blocks every character is its own token (no "\r\n" can be here)
                out.append(i)
                continue
            j = i + 1
            while j < right and tok[j] in BLOCK_CHARS:
                j += 1
            out.extend(self._route(tok[i:j], i, tok, ties)[1:])
            i = j
        return out

    def _apply_hmm(self, tok: str, bounds: list[int], start: int, end: int,
                   open_left: bool, open_right: bool) -> tuple[bool, bool]:
        """Merge boundaries as jieba's HMM would, where that can matter for ``[start, end]``.

        A run of one-character tokens (block characters) is re-cut by
        ``finalseg.cut`` when it has two or more characters and is not a
        dictionary word. Only runs with a boundary inside or at the ends of
        the match matter. Returns which edges must be widened first because
        such a run may continue past them. *bounds* is changed in place.
        """
        widen_left = widen_right = False
        first = bounds[0]
        last = bounds[-1]
        i = 0
        n = len(bounds)
        while i < n - 1:
            if bounds[i + 1] - bounds[i] != 1 or tok[bounds[i]] not in BLOCK_CHARS:
                i += 1
                continue
            j = i + 1  # run of single block characters: bounds[i] .. bounds[j]
            while j < n - 1 and bounds[j + 1] - bounds[j] == 1 and tok[bounds[j]] in BLOCK_CHARS:
                j += 1
            rs, re_ = bounds[i], bounds[j]
            lo_q = rs if (rs == first and open_left) else rs + 1
            hi_q = re_ if (re_ == last and open_right) else re_ - 1
            if max(lo_q, start) <= min(hi_q, end):  # a boundary that could go is one we read
                if rs == first and open_left:
                    widen_left = True
                if re_ == last and open_right:
                    widen_right = True
                if not (widen_left or widen_right) and j - i >= 2:
                    buf = tok[rs:re_]
                    if not self._freq.get(buf):
                        merged = [rs]
                        for word in finalseg.cut(buf):
                            merged.append(merged[-1] + len(word))
                        bounds[i:j + 1] = merged
                        shift = len(merged) - (j + 1 - i)
                        n += shift
                        j += shift
            i = j
        return widen_left, widen_right


__all__ = ["BLOCK_CHARS", "Judge", "REACH", "route", "route_and_ties", "trigram_bitmap"]
