"""Login throttling: repeated failures are refused with 429 per account and
per address, counted in Redis so every web process and host shares them.

The account counter is keyed by the name typed, whether or not such a user
exists, so a 429 says nothing about which accounts are real. A refused
attempt checks no password at all, for known and unknown names alike.
A successful login clears its account's counter; the address counter runs
out with its window. If Redis cannot be reached the limiter lets logins
through (logged): people must be able to sign in while the queue is down.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

import redis

log = logging.getLogger(__name__)

DEFAULTS = {
    "LOGIN_MAX_FAILURES_ACCOUNT": 5,
    "LOGIN_MAX_FAILURES_ADDRESS": 20,
    "LOGIN_FAILURE_WINDOW": 15 * 60,  # seconds, counted from the first failure
}
PREFIX = "imprimatur:login-failures"


@dataclass(frozen=True)
class Refusal:
    retry_after: int  # seconds

    @property
    def message(self) -> str:
        minutes = max(1, -(-self.retry_after // 60))
        return f"登录失败次数过多，请{minutes}分钟后再试"


class LoginLimiter:
    def __init__(self, connection: redis.Redis, settings: dict):
        self.redis = connection
        get = lambda key: int(settings.get(key) or DEFAULTS[key])  # noqa: E731
        self.max_account = get("LOGIN_MAX_FAILURES_ACCOUNT")
        self.max_address = get("LOGIN_MAX_FAILURES_ADDRESS")
        self.window = get("LOGIN_FAILURE_WINDOW")
        # Deployments sharing one Redis keep apart by their queue name, and so do these counters.
        self.prefix = f"{PREFIX}:{settings.get('SCAN_QUEUE') or 'scan'}"

    def _account_key(self, username: str) -> str:
        name = (username or "").strip().lower()
        return f"{self.prefix}:account:{hashlib.sha256(name.encode('utf-8')).hexdigest()[:32]}"

    def _address_key(self, address: str | None) -> str:
        return f"{self.prefix}:address:{address or 'unknown'}"

    def _keys(self, username: str, address: str | None):
        return ((self._account_key(username), self.max_account), (self._address_key(address), self.max_address))

    def check(self, username: str, address: str | None) -> Refusal | None:
        """A Refusal when this account or this address has used up its failures."""
        keys = self._keys(username, address)
        try:
            pipe = self.redis.pipeline(transaction=False)
            for key, _ in keys:
                pipe.get(key)
                pipe.ttl(key)
            values = pipe.execute()
        except redis.RedisError as exc:
            log.warning("login limiter unavailable, not limiting: %s", exc)
            return None
        waits = [max(int(values[2 * i + 1]), 1) for i, (_, limit) in enumerate(keys)
                 if int(values[2 * i] or 0) >= limit]
        return Refusal(max(waits)) if waits else None

    def failed(self, username: str, address: str | None) -> None:
        try:
            pipe = self.redis.pipeline(transaction=True)
            for key, _ in self._keys(username, address):
                pipe.set(key, 0, ex=self.window, nx=True)  # the window starts at the first failure
                pipe.incr(key)
            pipe.execute()
        except redis.RedisError as exc:
            log.warning("login failure not counted: %s", exc)

    def succeeded(self, username: str) -> None:
        try:
            self.redis.delete(self._account_key(username))
        except redis.RedisError as exc:
            log.warning("login counter not cleared: %s", exc)
