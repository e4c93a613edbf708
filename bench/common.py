"""Shared by the benchmarks: the drafts they submit (about 5,000 characters of an
ordinary notice with a few flagged terms, numbered so no two are alike), a free
port, percentiles, a fresh PostgreSQL database."""

PARAGRAPH = ("近期辖区内发生多起刷单返利诈骗案件，骗子在群里发布兼职广告，声称动动手指就能赚钱，先小额返利取得信任。"
             "街道将于12月举办冬季文化周活动，内容包括非遗剪纸展示、社区合唱比赛和书法进万家，欢迎居民踊跃参加。"
             "请居民不要在楼道内堆放杂物，不要私拉电线为电动车充电，发现可疑情况请拨打110或反诈专线96110。")


def draft_text(i: int, size: int = 5000) -> str:
    body = f"第{i}号通知：" + PARAGRAPH * (size // len(PARAGRAPH) + 1)
    return body[:size]


def free_port() -> int:
    """A free TCP port on loopback for a server the benchmark starts."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values, q: float):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    """Wait until a server the benchmark started accepts connections on loopback."""
    import socket
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing answers on 127.0.0.1:{port} after {timeout:g} s")


def fresh_postgres(url: str, name: str) -> str:
    """Drop and create database `name` on the server `url` points at (any
    database there); returns the URL of the new, empty database."""
    from sqlalchemy import create_engine, text

    from review.config import normalise_database_url

    url = normalise_database_url(url)
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.rsplit("/", 1)[0] + "/" + name


def bench_team(session, prefix: str):
    """An editor, a leader and a filed channel they share, for a benchmark's drafts."""
    from review import accounts, channels

    editor = accounts.create_user(session, f"{prefix}-editor", f"{prefix}-password", ["editor"])
    leader = accounts.create_user(session, f"{prefix}-leader", f"{prefix}-password", ["leader"])
    channel = channels.create_channel(session, {"name": "压测渠道", "platform": "website", "leader_id": leader.id,
                                                "filing_status": "filed"}, None)
    return editor, leader, channel
