"""The cut points around many matches at once (numpy), for Judge.verdicts().

A position q of a text (between ``tok[q - 1]`` and ``tok[q]``) is *crossed*
when a dictionary word may span it: both characters are block characters
and the Bloom filter (confidence.trigram_bitmap) holds them as a
two-character word, or holds the trigram before or after q. Elsewhere it is
a cut point, and jieba's route passes it (confidence's docstring).

confidence._crossing_test asks this one position at a time, in Python. A
scan dense with matches asks it a few hundred thousand times, so here it is
asked for every match edge at once: CPython's hash of a tuple of small ints
(the filter's hash) is 64-bit arithmetic that numpy does over whole columns,
and the filter file stays as it is. :func:`check_hash` makes sure the two
hashes agree before the engine relies on it.
"""
from __future__ import annotations

import numpy as np

# CPython's tuple hash (Objects/tupleobject.c, since 3.8: xxHash's round)
_XXPRIME_1 = np.uint64(11400714785074694791)
_XXPRIME_2 = np.uint64(14029467366897019727)
_XXPRIME_5 = np.uint64(2870177450012600261)
_ROTATE_LEFT, _ROTATE_RIGHT = np.uint64(31), np.uint64(33)
_LENGTH_SALT = 2870177450012600261 ^ 3527539
_MINUS_ONE = np.uint64(2**64 - 1)
_MINUS_ONE_HASH = np.uint64(1546275796)


def tuple_hash(*columns: np.ndarray) -> np.ndarray:
    """``hash((a, b, ...))`` of each row of the int columns, as uint64 (a
    hash of a small non-negative int is the int itself)."""
    acc = np.full(len(columns[0]), _XXPRIME_5, dtype=np.uint64)
    for column in columns:
        acc += column.astype(np.uint64, copy=False) * _XXPRIME_2
        acc = (acc << _ROTATE_LEFT) | (acc >> _ROTATE_RIGHT)
        acc *= _XXPRIME_1
    acc += np.uint64(len(columns) ^ _LENGTH_SALT)
    acc[acc == _MINUS_ONE] = _MINUS_ONE_HASH  # -1 is not a hash
    return acc


def check_hash() -> bool:
    """Does tuple_hash() give this interpreter's hash()? (It does on 64-bit CPython.)"""
    rows = [(0x4E2D, 0x56FD), (0x9FD5, 0x4E00, 0x10FFFF), (0, 1), (65, 0x5927, 0x9EBB)]
    for row in rows:
        found = tuple_hash(*(np.array([x], dtype=np.uint32) for x in row))[0]
        if int(found) != hash(row) & 0xFFFFFFFFFFFFFFFF:
            return False
    return True


class CutTest:
    """The filter's crossing test over arrays of positions of one text.

    *codes* (for each method) are the code points of the text padded with a
    0 (no block character) on either side: ``codes[i + 1]`` is ``tok[i]``.
    """

    def __init__(self, bitmap: bytearray, block_codes, mask: int, shift: int):
        if not check_hash():
            raise RuntimeError("this Python hashes tuples of ints unlike CPython 3.8+: the cut-point filter can't be read")
        self._bits = np.frombuffer(bitmap, dtype=np.uint8)  # a view: the filter is not copied
        self._block = np.zeros(0x110000, dtype=bool)
        self._block[np.fromiter(block_codes, dtype=np.int64)] = True
        self._mask, self._shift = np.uint64(mask), np.uint64(shift)

    def _held(self, hashes: np.ndarray) -> np.ndarray:
        bits, mask = self._bits, self._mask
        held = bits[hashes & mask].view(bool)
        second = np.flatnonzero(held)  # the second probe only where the first holds (a few in ten)
        held[second] = bits[(hashes[second] >> self._shift) & mask].view(bool)
        return held

    def block(self, codes: np.ndarray, at: np.ndarray) -> np.ndarray:
        """Is ``codes[at]`` a block character?"""
        return self._block[codes[at]]

    def crossed(self, codes: np.ndarray, q: np.ndarray) -> np.ndarray:
        """confidence._crossing_test's crossed(tok, q) for each position in *q* (0 <= q <= len(tok))."""
        n = len(codes) - 2
        a, b = codes[q], codes[q + 1]
        out = self._block[a] & self._block[b]
        ask = np.flatnonzero(out)  # the rest are block boundaries: cut
        if not ask.size:
            return out
        qa, a, b = q[ask], a[ask], b[ask]
        held = self._held(tuple_hash(a, b))  # a two-character word, most likely
        rest = np.flatnonzero(~held & (qa >= 2))
        if rest.size:
            held[rest] = self._held(tuple_hash(codes[qa[rest] - 1], a[rest], b[rest]))
        rest = np.flatnonzero(~held & (qa + 1 < n))
        if rest.size:
            held[rest] = self._held(tuple_hash(a[rest], b[rest], codes[qa[rest] + 2]))
        out[ask] = held
        return out

    def nearest_cuts(self, codes: np.ndarray, starts: np.ndarray, ends: np.ndarray, reach: int
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """For each span ``[start, end)``: the nearest cut point at or before
        its start and at or after its end, looked for no further than *reach*
        characters (then the limit is taken as cut), and whether the text goes
        on past each of them inside jieba's block (``open_left``, ``open_right``).
        The same search as Judge._settle()."""
        n = len(codes) - 2
        lo = np.maximum(starts - reach, 0)
        hi = np.minimum(ends + reach, n)
        left = starts.copy()
        right = ends.copy()
        for at, limit, step, out in ((starts, lo, -1, left), (ends, hi, 1, right)):
            walking = np.flatnonzero(self.crossed(codes, at))
            q = at[walking] + step
            while walking.size:
                # Go on while inside the window and still crossed; where it stops is the cut.
                inside = (q > limit[walking]) if step < 0 else (q < limit[walking])
                go = inside
                if inside.any():
                    go = inside.copy()
                    go[inside] = self.crossed(codes, q[inside])
                stop = ~go
                out[walking[stop]] = q[stop]
                walking, q = walking[go], q[go] + step
        open_left = (left > lo) & self._block[codes[left]]        # tok[left - 1]
        open_right = (right < hi) & self._block[codes[right + 1]]  # tok[right]
        return left, right, open_left, open_right


__all__ = ["CutTest", "check_hash", "tuple_hash"]
