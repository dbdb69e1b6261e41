"""Contact states in Redis, shared by workers on several hosts.

Every change of a contact's state is one Lua script, so a claim ("the earliest due
contact, now in progress with attempt + 1") is atomic however many workers race.
Keys (under `prefix`, per campaign C): cc:C:ID (hash: number, name, data, state,
attempt, seq, worker, lease_until, last_outcome), due:C (zset id -> due time; only
pending and retry contacts are in it), busy:C (zset id -> lease end), counts:C (hash
state -> n), attempts:C (hash "ID:N" -> JSON record), control:C (hash).
Durability is Redis's: run it with appendonly yes (appendfsync everysec or always).
"""
from __future__ import annotations

import json

import redis

from fsapp.campaign.state import CONTROL_STATES, Claim, ContactStates

# KEYS: contact hash, due, counts. ARGV: number, name, data, now, seq.
ADD_LUA = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'number', ARGV[1], 'name', ARGV[2], 'data', ARGV[3], 'state', 'pending',
           'attempt', 0, 'seq', ARGV[5])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[6])
redis.call('HINCRBY', KEYS[3], 'pending', 1)
return 1
"""

# KEYS: due, busy, counts. ARGV: now, worker, lease_until, contact key prefix.
CLAIM_LUA = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 1)
if #ids == 0 then return false end
local id = ids[1]
local ck = ARGV[4] .. id
redis.call('ZREM', KEYS[1], id)
local old = redis.call('HGET', ck, 'state')
local attempt = redis.call('HINCRBY', ck, 'attempt', 1)
redis.call('HSET', ck, 'state', 'in_progress', 'worker', ARGV[2], 'lease_until', ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[3], id)
redis.call('HINCRBY', KEYS[3], old, -1)
redis.call('HINCRBY', KEYS[3], 'in_progress', 1)
local f = redis.call('HMGET', ck, 'number', 'name', 'data')
return {id, attempt, f[1], f[2], f[3]}
"""

# KEYS: contact hash, due, busy, counts, attempts. ARGV: id, attempt, state, retry_at ('' none),
# outcome, record JSON.
FINISH_LUA = """
local f = redis.call('HMGET', KEYS[1], 'state', 'attempt')
if f[1] ~= 'in_progress' or tonumber(f[2]) ~= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[3], 'last_outcome', ARGV[5], 'worker', '', 'lease_until', '')
redis.call('ZREM', KEYS[3], ARGV[1])
if ARGV[4] ~= '' then redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1]) end
redis.call('HINCRBY', KEYS[4], 'in_progress', -1)
redis.call('HINCRBY', KEYS[4], ARGV[3], 1)
redis.call('HSET', KEYS[5], ARGV[1] .. ':' .. ARGV[2], ARGV[6])
return 1
"""


class RedisStates(ContactStates):
    def __init__(self, client: redis.Redis, prefix: str = "fsapp:"):
        self.redis, self.prefix = client, prefix
        self._add = client.register_script(ADD_LUA)
        self._claim = client.register_script(CLAIM_LUA)
        self._finish = client.register_script(FINISH_LUA)

    @classmethod
    def from_url(cls, url: str, prefix: str = "fsapp:") -> "RedisStates":
        return cls(redis.Redis.from_url(url, decode_responses=True, socket_timeout=10,
                                        socket_connect_timeout=5), prefix)

    def _k(self, what: str, campaign: str) -> str:
        return f"{self.prefix}{what}:{campaign}"

    def _ck(self, campaign: str, contact_id: str = "") -> str:
        return f"{self.prefix}cc:{campaign}:{contact_id}"

    def add_contacts(self, campaign, contacts, now):
        seq = int(self.redis.hincrby(self._k("control", campaign), "seq", 0))
        added = 0
        for start in range(0, len(contacts), 500):
            pipe = self.redis.pipeline(transaction=False)
            for offset, c in enumerate(contacts[start:start + 500]):
                self._add(keys=[self._ck(campaign, c.contact_id), self._k("due", campaign),
                                self._k("counts", campaign)],
                          args=[c.number, c.name, json.dumps(c.data, ensure_ascii=False), now,
                                seq + start + offset + 1, c.contact_id], client=pipe)
            added += sum(int(x) for x in pipe.execute())
        self.redis.hincrby(self._k("control", campaign), "seq", len(contacts))
        return added

    def claim(self, campaign, now, worker, lease_s):
        got = self._claim(keys=[self._k("due", campaign), self._k("busy", campaign), self._k("counts", campaign)],
                          args=[now, worker, now + lease_s, self._ck(campaign)])
        if not got:
            return None
        contact_id, attempt, number, name, data = got
        return Claim(campaign, contact_id, number, name or "", json.loads(data or "{}"), int(attempt), worker,
                     now + lease_s)

    def finish(self, claim, state, retry_at, record):
        c = claim.campaign
        return bool(self._finish(
            keys=[self._ck(c, claim.contact_id), self._k("due", c), self._k("busy", c), self._k("counts", c),
                  self._k("attempts", c)],
            args=[claim.contact_id, claim.attempt, state, "" if retry_at is None else repr(float(retry_at)),
                  record.get("outcome") or "", json.dumps(record, ensure_ascii=False, default=str)]))

    def stale(self, campaign, now):
        out = []
        upto = "+inf" if now == float("inf") else now
        for contact_id in self.redis.zrangebyscore(self._k("busy", campaign), "-inf", upto):
            h = self.redis.hgetall(self._ck(campaign, contact_id))
            if h.get("state") == "in_progress":
                out.append(Claim(campaign, contact_id, h["number"], h.get("name", ""), json.loads(h.get("data") or "{}"),
                                 int(h["attempt"]), h.get("worker", ""), float(h.get("lease_until") or 0)))
        return out

    def next_due(self, campaign):
        first = self.redis.zrange(self._k("due", campaign), 0, 0, withscores=True)
        return float(first[0][1]) if first else None

    def counts(self, campaign):
        return {k: int(v) for k, v in self.redis.hgetall(self._k("counts", campaign)).items() if int(v)}

    def attempts(self, campaign):
        records = [json.loads(v) for v in self.redis.hvals(self._k("attempts", campaign))]
        return sorted(records, key=lambda r: (r.get("started_at") or 0))

    def contact(self, campaign, contact_id):
        h = self.redis.hgetall(self._ck(campaign, contact_id))
        if not h:
            return None
        h["attempt"] = int(h.get("attempt", 0))
        return h

    def set_control(self, campaign, status, now):
        if status not in CONTROL_STATES:
            raise ValueError(f"campaign status {status!r}: one of {', '.join(CONTROL_STATES)}")
        key = self._k("control", campaign)
        self.redis.hset(key, mapping={"status": status, "updated_at": now})
        if status == "running":
            self.redis.hsetnx(key, "started_at", now)

    def control(self, campaign):
        h = self.redis.hgetall(self._k("control", campaign))
        return {"status": h.get("status", "unknown"),
                "started_at": float(h["started_at"]) if h.get("started_at") else None,
                "updated_at": float(h["updated_at"]) if h.get("updated_at") else None}

    def gateway_slots(self):
        from fsapp.campaign.gateway_slots import RedisGatewaySlots
        return RedisGatewaySlots(self.redis, self.prefix)

    def close(self):
        self.redis.close()
