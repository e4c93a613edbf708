"""Cut a text into runs for display: plain runs and runs covered by flags.

Overlapping flags are split at every boundary, so each character is shown
once, marked with the most severe flag that covers it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from review.models.drafts import FLAG_CATEGORY_LABELS
from review.scanning.detectors import direction_controls

HIDDEN_SIGN = "⟨隐藏控制字符⟩"

SEVERITY_RANK = {"high": 3, "medium": 2, "low": 1}


@dataclass
class Run:
    text: str
    flags: list = field(default_factory=list)

    @property
    def severity(self) -> str | None:
        if not self.flags:
            return None
        return max((f.severity for f in self.flags), key=lambda s: SEVERITY_RANK.get(s, 0))

    @property
    def hidden(self) -> bool:
        """Characters that cannot be seen (direction controls): the page shows a sign for them."""
        return any(f.category == "hidden" for f in self.flags)

    @property
    def title(self) -> str:
        return "；".join(dict.fromkeys(f"{FLAG_CATEGORY_LABELS.get(f.category, f.category)}：{f.term}"
                                      for f in self.flags))


def runs(text: str, flags) -> list[Run]:
    flags = [f for f in flags if 0 <= f.start < f.end <= len(text)]
    if not flags:
        return [Run(text)] if text else []
    cuts = sorted({0, len(text), *(f.start for f in flags), *(f.end for f in flags)})
    # One sweep over the cuts: a flag covers [a, b) from the cut at its start until its end (no
    # cut lies inside a run), so only the flags open at `a` are looked at, not all of them.
    by_start = sorted(range(len(flags)), key=lambda i: flags[i].start)
    active: dict[int, object] = {}  # index in `flags` -> flag, for the order of the titles
    nxt = 0
    out: list[Run] = []
    for a, b in zip(cuts, cuts[1:]):
        while nxt < len(by_start) and flags[by_start[nxt]].start <= a:
            active[by_start[nxt]] = flags[by_start[nxt]]
            nxt += 1
        for i in [i for i, f in active.items() if f.end <= a]:
            del active[i]
        covering = [active[i] for i in sorted(active)]
        if out and not covering and not out[-1].flags:
            out[-1].text += text[a:b]
        else:
            out.append(Run(text[a:b], covering))
    return out


def visible_controls(text: str) -> str:
    """*text* with each run of direction controls shown as a sign, for titles in
    lists and headings: there a control would reorder what follows it (the
    draft's text itself shows them as flagged marks)."""
    spans = direction_controls(text)
    if not spans:
        return text
    out, last = [], 0
    for _, start, end in spans:
        out += [text[last:start], HIDDEN_SIGN]
        last = end
    out.append(text[last:])
    return "".join(out)
