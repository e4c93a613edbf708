"""Flags are stored exactly as found, however they are written to the database
(on PostgreSQL a COPY, elsewhere an executemany)."""
from __future__ import annotations

from sqlalchemy import select

from review.models import Flag

# Disguises whose noise is what a bulk loader must escape: tab, backslash,
# CR/LF, quotes, zero-width characters.
TRICKY = "第一段百\t家\\乐。第二段六-合\"彩。第三段摇\u200b头\u200b丸。第四段百\r\n家乐。"


def test_flags_keep_tabs_backslashes_newlines_and_quotes_exactly(make, rt, db):
    editor, leader, channel, *_ = make.team()
    _, version = make.submit(editor, channel, title="含\t制表符的六合彩\\标题", body=TRICKY)
    make.scanned(rt, version.id)
    with db.transaction() as s:
        flags = s.execute(select(Flag).where(Flag.version_id == version.id).order_by(Flag.field, Flag.start)).scalars().all()
    body_flags = [f for f in flags if f.field == "body"]
    # (the submission keeps the text but turns CR/LF into LF, as every browser sends it)
    assert [f.text for f in body_flags] == ["百\t家\\乐", "六-合\"彩", "摇\u200b头\u200b丸", "百\n家乐"]
    text = TRICKY.replace("\r\n", "\n")
    assert version.text == text
    for flag in body_flags:
        assert text[flag.start:flag.end] == flag.text
    assert [f.term for f in flags if f.field == "title"] == ["六合彩"]


def test_a_draft_with_hundreds_of_flags_stores_every_one(make, rt, db):
    editor, leader, channel, *_ = make.team()
    body = "。".join(f"第{i}条提醒：警惕刷单返利" for i in range(300))
    _, version = make.submit(editor, channel, body=body)
    result = make.scanned(rt, version.id)
    with db.transaction() as s:
        stored = s.execute(select(Flag.start, Flag.end, Flag.text).where(Flag.version_id == version.id)).all()
    assert len(stored) == result.flag_count >= 300
    assert all(body[start:end] == text for start, end, text in stored)
