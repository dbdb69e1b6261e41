"""Per-gateway channel limits: a slot per call on a gateway, leased.

    slots.acquire(gateway, limit, holder, now, lease_s) -> bool   # a free slot, now held
    slots.renew(gateway, holders, now, lease_s)                   # calls still going
    slots.release(gateway, holder)                                # the call ended
    slots.in_use(gateway, now) -> int

A carrier sells N channels on a trunk; every dialer calling through it must keep to N
together. RedisGatewaySlots keeps one sorted set per gateway (holder -> lease end) that
every dialer on every host shares; acquiring is one Lua script (drop lapsed leases,
count, add) so racing dialers never overshoot. A dialer renews the leases of its calls
in progress; one that crashes stops renewing and its slots come free when the lease
lapses, so a dead dialer cannot leak the trunk.

MemoryGatewaySlots counts this process's calls only: with the SQLite state (one host,
usually one dialer) a limit holds per dialer process, not across processes.
The limit counts every campaign's calls on the gateway (the key is the gateway's name).
"""
from __future__ import annotations


class GatewaySlots:
    shared = False          # True: the limit holds across processes and hosts

    def acquire(self, gateway: str, limit: int, holder: str, now: float, lease_s: float) -> bool: ...
    def renew(self, gateway: str, holders: list[str], now: float, lease_s: float) -> None: ...
    def release(self, gateway: str, holder: str) -> None: ...
    def in_use(self, gateway: str, now: float) -> int: ...


class MemoryGatewaySlots(GatewaySlots):
    """This process's calls only (see the module's docstring)."""

    def __init__(self):
        self._held: dict[str, set[str]] = {}

    def acquire(self, gateway, limit, holder, now, lease_s):
        held = self._held.setdefault(gateway, set())
        if len(held) >= limit:
            return False
        held.add(holder)
        return True

    def renew(self, gateway, holders, now, lease_s):
        pass                # a process's own calls cannot outlive it

    def release(self, gateway, holder):
        self._held.get(gateway, set()).discard(holder)

    def in_use(self, gateway, now):
        return len(self._held.get(gateway, ()))


# KEYS: the gateway's zset. ARGV: now, limit, holder, lease end.
ACQUIRE_LUA = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[3])
return 1
"""


class RedisGatewaySlots(GatewaySlots):
    """Slots shared by every dialer using this Redis (see the module's docstring).
    Lease ends are the dialers' clock readings: keep the hosts' clocks in sync (NTP)."""

    shared = True

    def __init__(self, client, prefix: str = "fsapp:"):
        self.redis, self.prefix = client, prefix
        self._acquire = client.register_script(ACQUIRE_LUA)

    def _key(self, gateway: str) -> str:
        return f"{self.prefix}gwslots:{gateway}"

    def acquire(self, gateway, limit, holder, now, lease_s):
        return bool(self._acquire(keys=[self._key(gateway)], args=[now, limit, holder, now + lease_s]))

    def renew(self, gateway, holders, now, lease_s):
        if holders:
            # XX: only slots still held; one lapsed meanwhile (a long stall) is not re-taken
            self.redis.zadd(self._key(gateway), {h: now + lease_s for h in holders}, xx=True)

    def release(self, gateway, holder):
        self.redis.zrem(self._key(gateway), holder)

    def in_use(self, gateway, now):
        return int(self.redis.zcount(self._key(gateway), f"({now}", "+inf"))
