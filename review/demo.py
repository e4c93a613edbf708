"""Demo data: channels, users of every role and drafts in every status.

Drafts are driven through the real workflow (and scanned with the real
engine, in-process), so the demo shows what the system really does.
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from review import accounts, channels, workflow
from review.models import Draft, User
from review.models.people import ROLE_LABELS
from review.timeutil import now

PASSWORD = "demo-1234"
USERS = [
    # username, display name, roles, unit
    ("admin", "周敏", ["registrar"], "党政办公室"),
    ("editor", "张伟", ["editor"], "宣传科"),
    ("editor2", "李娜", ["editor"], "团委"),
    ("leader", "王强", ["leader"], "党委"),
    ("leader2", "赵丽", ["leader", "editor"], "工会"),
    ("auditor", "陈静", ["auditor"], "纪委"),
]
CHANNELS = [
    # name, platform, leader, filing status, identifier
    ("城南街道发布", "wechat_official", "leader", "filed", "gh_chengnan2024"),
    ("城南街道门户网站", "website", "leader", "filed", "https://www.chengnan.example.gov.cn"),
    ("城南工会微博", "weibo", "leader2", "unfiled", "@城南工会"),
    ("社区居民群（一网格）", "wechat_group", "leader", "filing", "网格一群"),
    ("街道公告栏", "bulletin_board", "leader2", "filed", "街道办一楼大厅"),
    ("旧版官网（已停用）", "website", "leader", "suspended", "http://old.chengnan.example.gov.cn"),
]

TEXTS = {
    "fraud": ("关于防范电信网络诈骗的提示",
              "近期辖区内发生多起“刷单返利”诈骗案件。骗子在群里发布兼职广告，声称动动手指就能赚钱，"
              "先小额返利取得信任，再诱导受害人大额充值。另有人以“信用卡套现”“代开发票”为名收取手续费后失联。\n\n"
              "请居民牢记：凡是刷单都是诈骗。如遇可疑情况，请拨打110或反诈专线96110。"),
    "gambling": ("警惕网络赌博陷阱",
                 "有居民反映收到“百家乐”“网络赌场”推广信息，宣称稳赚不赔。网络赌博是违法行为，"
                 "一旦参与极易倾家荡产。发现线索请向派出所举报，联系人：刘警官 13800138000。"),
    "event": ("城南街道2026年冬季文化活动预告",
              "为丰富辖区居民文化生活，街道将于12月举办冬季文化周活动，内容包括非遗剪纸展示、"
              "社区合唱比赛和书法进万家。活动地点：街道文化站。欢迎居民朋友踊跃参加！"),
    "ad": ("辖区商户推介：老字号糕点铺",
           "本店是全市第一品牌，糕点采用顶级原料，保证100%有效养生，价格全网最低！"),
    "notice": ("关于冬季供暖缴费的通知",
               "各位居民：2026-2027年度供暖费缴纳工作已经开始，请于12月15日前到社区服务站办理。"
               "咨询电话：0571-88886666。"),
    "safety": ("冬季消防安全提示",
               "冬季是火灾高发季节，请居民不要在楼道内堆放杂物，不要私拉电线为电动车充电。"),
    "health": ("社区义诊活动通知",
               "本周六上午，社区卫生服务中心将在广场开展义诊，提供测血压、测血糖等服务。"),
    "volunteer": ("招募社区志愿者",
                  "街道现招募冬季志愿者若干名，参与关爱独居老人、清扫积雪等服务，报名请联系社区居委会。"),
}


def seed(db, engine) -> bool:
    """Create the demo data in an empty database. Returns False if users exist."""
    with db.transaction() as session:
        if session.execute(select(func.count(User.id))).scalar_one():
            return False
        people = {}
        for username, name, roles, unit in USERS:
            people[username] = accounts.create_user(session, username, PASSWORD, roles, display_name=name, unit=unit)
        chans = {}
        for name, platform, leader, filing, identifier in CHANNELS:
            chans[name] = channels.create_channel(session, {
                "name": name, "platform": platform, "leader_id": people[leader].id, "filing_status": filing,
                "identifier": identifier, "unit": "城南街道办事处", "administrator": "周敏",
                "filing_authority": "区委网信办" if filing != "unfiled" else "",
                "filing_number": "网宣备2024-0%d" % (len(chans) + 11) if filing == "filed" else "",
                # filed in 2024 with its number, checked this year: no invented dates, no reminders
                "filing_date": "2024-0%d-15" % (len(chans) + 3) if filing == "filed" else "",
                "last_annual_check": (now().date() - timedelta(days=60)).isoformat() if filing == "filed" else "",
            }, people["admin"])
    editor, editor2, leader, leader2 = (people[k] for k in ("editor", "editor2", "leader", "leader2"))
    wechat, web, weibo, board = (chans[n] for n in ("城南街道发布", "城南街道门户网站", "城南工会微博", "街道公告栏"))

    def submitted(author, channel, key, urgent=False, scan=True):
        title, body = TEXTS[key]
        with db.transaction() as session:
            draft, version, _ = workflow.submit(session, author, channel.id, title, body, urgent=urgent)
        if scan:
            workflow.scan_version(db, version.id, engine)
        return draft.id, version.number

    def decided(draft_id, version, leader_user, decision, comment=""):
        with db.transaction() as session:
            ack = [f.id for f in workflow.must_acknowledge(session, workflow.get_draft(session, draft_id).current_version_id)]
            workflow.decide(session, leader_user, draft_id, decision, comment, version=version, acknowledged=ack)

    # in_review: an urgent one already past its deadline, and two ordinary ones with flags
    urgent_id, _ = submitted(editor, wechat, "gambling", urgent=True)
    with db.transaction() as session:
        session.execute(update(Draft).where(Draft.id == urgent_id)
                        .values(deadline_at=now() - timedelta(minutes=5), submitted_at=now() - timedelta(minutes=40)))
    submitted(editor, wechat, "fraud")
    submitted(editor2, board, "ad")
    # approved, waiting to be published
    draft_id, v = submitted(editor, web, "event")
    decided(draft_id, v, leader, "approve")
    # rejected, back with the editor
    draft_id, v = submitted(editor2, weibo, "volunteer")
    decided(draft_id, v, leader2, "reject", "请补充报名方式和截止时间。")
    # published, and published then retracted
    draft_id, v = submitted(editor, wechat, "notice")
    decided(draft_id, v, leader, "approve", "同意发布。")
    with db.transaction() as session:
        workflow.publish(session, editor, draft_id, "https://mp.weixin.qq.com/s/demo-heating", None)
    draft_id, v = submitted(editor, web, "safety")
    decided(draft_id, v, leader, "approve")
    with db.transaction() as session:
        workflow.publish(session, editor, draft_id, "https://www.chengnan.example.gov.cn/news/fire", None)
        workflow.retract(session, leader, draft_id, "电话号码有误，更正后重发。")
    # withdrawn
    draft_id, _ = submitted(editor2, board, "health")
    with db.transaction() as session:
        workflow.withdraw(session, editor2, draft_id)
    # scan_failed: as left by a worker that gave up
    draft_id, _ = submitted(editor, weibo, "health", scan=False)
    with db.transaction() as session:
        draft = workflow.get_draft(session, draft_id)
        workflow.mark_scan_failed(session, draft.current_version_id, "demo: the scan service was unavailable")
    # a saved, unsubmitted draft; and one still queued for the worker
    with db.transaction() as session:
        title, body = TEXTS["volunteer"]
        workflow.save_draft(session, editor, web.id, "（草稿）" + title, body)
    submitted(editor, web, "event", scan=False)
    return True


def print_logins(echo) -> None:
    echo(f"演示账号（密码均为 {PASSWORD}）：")
    for username, name, roles, _ in USERS:  # the roles here, not in the names: pages add roles of their own
        echo(f"  {username:<8} {name}（{'、'.join(ROLE_LABELS[r] for r in roles)}）")
