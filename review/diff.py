"""Differences between two versions of a text, for the reviewer."""
from __future__ import annotations

from dataclasses import dataclass
from difflib import SequenceMatcher

# Character-level diffs inside a changed line are quadratic; beyond this, whole lines.
INLINE_LIMIT = 3000


@dataclass
class Part:
    kind: str  # equal | insert | delete
    text: str


def _inline(old: str, new: str) -> list[Part]:
    parts: list[Part] = []
    matcher = SequenceMatcher(None, old, new, autojunk=False)
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op == "equal":
            parts.append(Part("equal", old[a1:a2]))
        else:
            if a2 > a1:
                parts.append(Part("delete", old[a1:a2]))
            if b2 > b1:
                parts.append(Part("insert", new[b1:b2]))
    return parts


def diff_lines(old: str, new: str) -> list[list[Part]]:
    """One list of parts per displayed line."""
    old_lines, new_lines = old.split("\n"), new.split("\n")
    rows: list[list[Part]] = []
    matcher = SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op == "equal":
            rows.extend([Part("equal", line)] for line in old_lines[a1:a2])
        elif op == "replace" and (a2 - a1) == (b2 - b1):
            for o, n in zip(old_lines[a1:a2], new_lines[b1:b2]):
                if len(o) + len(n) <= INLINE_LIMIT:
                    rows.append(_inline(o, n))
                else:
                    rows.append([Part("delete", o)])
                    rows.append([Part("insert", n)])
        else:
            rows.extend([Part("delete", line)] for line in old_lines[a1:a2])
            rows.extend([Part("insert", line)] for line in new_lines[b1:b2])
    return rows


def changed(rows: list[list[Part]]) -> bool:
    return any(p.kind != "equal" for row in rows for p in row)
