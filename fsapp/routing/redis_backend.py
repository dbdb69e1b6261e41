"""Redis implementation of StateBackend, shared by every worker on every node.

Claims are taken, renewed and released by Lua scripts, so "is the agent free, and
take it" is one atomic step however many workers race for the same agent; each claim
carries its expiry, so the claims of a crashed worker lapse by themselves after the
lease. The clock is the caller's (`now`): keep the workers' clocks NTP-synchronised.

Keys (all under `prefix`): agents (set), agent:NAME (hash), claims:NAME (hash member ->
"owner<TAB>phase<TAB>expires"), tiers:QUEUE (hash agent -> "level:position"),
agentq:AGENT (set of queues), member:ID (JSON), qm:QUEUE (set of member ids),
memo:QUEUE (hash), aht:QUEUE (list), channel `events`.
"""
from __future__ import annotations

import json
import threading
from dataclasses import asdict
from enum import Enum

import redis

from fsapp.routing.backend import StateBackend, UnknownAgent
from fsapp.routing.decision import QueueDecision
from fsapp.routing.model import AgentConfig, AgentRecord, AgentStatus, Claim, Member, MemberState, Tier
from fsapp.routing.strategies import QueueMemo, get_strategy

_OFFERABLE_LUA = "(st == 'Available' or st == 'Available (On Demand)')"

# KEYS: agent hash, claims hash. ARGV: member, owner, now, lease -> 1 claimed, 0 not.
CLAIM_LUA = f"""
local now = tonumber(ARGV[3])
local f = redis.call('HMGET', KEYS[1], 'status', 'ready_at', 'capacity')
local st = f[1]
if not st then return 0 end
if not {_OFFERABLE_LUA} then return 0 end
if tonumber(f[2] or '0') > now then return 0 end
local claims = redis.call('HGETALL', KEYS[2])
local live = 0
local mine = false
for i = 1, #claims, 2 do
  local exp = tonumber(string.match(claims[i + 1], '([^\\t]+)$'))
  if exp <= now then
    redis.call('HDEL', KEYS[2], claims[i])
  else
    live = live + 1
    if claims[i] == ARGV[1] then mine = true end
  end
end
if mine or live >= tonumber(f[3] or '1') then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2] .. '\\t' .. 'reserved' .. '\\t' .. string.format('%.3f', now + tonumber(ARGV[4])))
redis.call('HSET', KEYS[1], 'last_offered_at', ARGV[3])
return 1
"""

# KEYS: agent hash, claims hash. ARGV: member, owner, now, lease, phase ('' keeps it).
RENEW_LUA = """
local now = tonumber(ARGV[3])
local c = redis.call('HGET', KEYS[2], ARGV[1])
if not c then return 0 end
local owner, phase, exp = string.match(c, '^(.-)\\t(.-)\\t(.+)$')
if owner ~= ARGV[2] or tonumber(exp) <= now then return 0 end
if ARGV[5] ~= '' then phase = ARGV[5] end
redis.call('HSET', KEYS[2], ARGV[1], owner .. '\\t' .. phase .. '\\t' .. string.format('%.3f', now + tonumber(ARGV[4])))
if ARGV[5] == 'talking' then redis.call('HSET', KEYS[1], 'no_answer_count', '0') end
return 1
"""

# KEYS: agent hash, claims hash. ARGV: member, owner, now, result, talk_time.
# Mirrors backend.apply_release. Returns a JSON list of changes, or nil if not ours.
RELEASE_LUA = """
local now = tonumber(ARGV[3])
local c = redis.call('HGET', KEYS[2], ARGV[1])
if not c then return false end
local owner = string.match(c, '^(.-)\\t')
if owner ~= ARGV[2] then return false end
redis.call('HDEL', KEYS[2], ARGV[1])
local r = ARGV[4]
local changes = {}
local function num(k) return tonumber(redis.call('HGET', KEYS[1], k) or '0') or 0 end
local function later(delay)
  local ready = math.max(num('ready_at'), now + delay)
  redis.call('HSET', KEYS[1], 'ready_at', string.format('%.3f', ready))
end
if r == 'completed' then
  redis.call('HSET', KEYS[1], 'calls_answered', tostring(num('calls_answered') + 1))
  redis.call('HSET', KEYS[1], 'talk_time', string.format('%.3f', num('talk_time') + tonumber(ARGV[5])))
  redis.call('HSET', KEYS[1], 'last_bridge_end', ARGV[3])
  later(num('wrap_up_time'))
  table.insert(changes, 'wrap-up')
  if redis.call('HGET', KEYS[1], 'status') == 'Available (On Demand)' then
    redis.call('HSET', KEYS[1], 'status', 'On Break', 'last_status_change', ARGV[3])
    table.insert(changes, 'on-demand-break')
  end
elseif r == 'no_answer' or r == 'busy' or r == 'reject' then
  local delay = {no_answer = 'no_answer_delay_time', busy = 'busy_delay_time', reject = 'reject_delay_time'}
  later(num(delay[r]))
  if r == 'no_answer' then
    local n = num('no_answer_count') + 1
    redis.call('HSET', KEYS[1], 'no_answer_count', tostring(n))
    local max = num('max_no_answer')
    local st = redis.call('HGET', KEYS[1], 'status')
    if max > 0 and n >= max and """ + _OFFERABLE_LUA + """ then
      redis.call('HSET', KEYS[1], 'status', 'On Break', 'last_status_change', ARGV[3])
      table.insert(changes, 'auto-break')
    end
  end
  table.insert(changes, r .. '-delay')
end
return cjson.encode({changes = changes, status = redis.call('HGET', KEYS[1], 'status')})
"""

# KEYS: agent hash, claims hash. ARGV: status, now. Atomic status change returning the old
# status and the new record (no second round trip to read it back).
STATUS_LUA = """
local old = redis.call('HGET', KEYS[1], 'status')
if not old then return false end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'last_status_change', ARGV[2])
if ARGV[1] == 'Available' or ARGV[1] == 'Available (On Demand)' then
  redis.call('HSET', KEYS[1], 'no_answer_count', '0')
end
return cjson.encode({old, redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[2])})
"""

# KEYS: member key. ARGV: JSON object of fields to change. Returns the new JSON or nil.
UPDATE_MEMBER_LUA = """
local raw = redis.call('GET', KEYS[1])
if not raw then return false end
local m = cjson.decode(raw)
for k, v in pairs(cjson.decode(ARGV[1])) do m[k] = v end
local out = cjson.encode(m)
redis.call('SET', KEYS[1], out)
return out
"""

# KEYS: tiers hash of a queue. ARGV: key prefix. One round trip and one JSON string for a
# whole queue's snapshot instead of two replies of ~17 items per agent (Python-side RESP
# parsing dominated the decision time). Keys are derived from the prefix: single-instance
# Redis (or a cluster with hash tags in the prefix).
SNAPSHOT_LUA = """
local tiers = redis.call('HGETALL', KEYS[1])
local out = {}
for i = 1, #tiers, 2 do
  local agent = tiers[i]
  local fields = redis.call('HGETALL', ARGV[1] .. 'agent:' .. agent)
  if #fields > 0 then
    local claims = redis.call('HGETALL', ARGV[1] .. 'claims:' .. agent)
    table.insert(out, {agent, tiers[i + 1], fields, claims})
  end
end
if #out == 0 then return '[]' end
return cjson.encode(out)
"""

# KEYS: agent hash, claims hash. ARGV: member, "owner<TAB>phase<TAB>expires", now. A claim
# its owner still holds, put back after Redis lost it (or kept it past its lease): written
# for a known agent; 1 if it was missing or lapsed (a repair), 0 if it was live.
RESTORE_CLAIM_LUA = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local c = redis.call('HGET', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
if c and tonumber(string.match(c, '([^\\t]+)$')) > tonumber(ARGV[3]) then return 0 end
return 1
"""

# The dispatch decision of one queue in ONE script call: a line-by-line port of
# fsapp/routing/decision.py's plan_queue and of strategies.order_members/order_agents
# (tests/routing/test_routing_decision.py runs the same decisions through both). Reads the
# queue's tiers, agents, claims and members, claims the chosen agents, marks their members
# Trying, stores round-robin's memory and publishes member-offered, atomically.
# KEYS: tiers hash, member set, memo hash, events channel.
# ARGV: prefix, now, owner, lease, queue JSON, mine JSON list, skip JSON list.
DECIDE_LUA = """
local P = ARGV[1]
local now = tonumber(ARGV[2])
local owner, lease = ARGV[3], tonumber(ARGV[4])
local q = cjson.decode(ARGV[5])
local function set_of(list) local s = {} for _, v in ipairs(list) do s[v] = true end return s end
local mine, skip = set_of(cjson.decode(ARGV[6])), set_of(cjson.decode(ARGV[7]))
local OFFERABLE = {['Available'] = true, ['Available (On Demand)'] = true}
local function empty(t) return next(t) == nil end
local function less(a, b)            -- lexicographic on key arrays
  for i = 1, #a do
    if a[i] ~= b[i] then return a[i] < b[i] end
  end
  return false
end

-- the queue's agents
local tiers = redis.call('HGETALL', KEYS[1])
local cands, levelset = {}, {}
local out = {logged_in = 0, tiered = 0, free = 0, last = 0}
local free, free_levels, ready = {}, {}, nil
-- only the fields a decision reads (HMGET, not HGETALL: this loop is most of the script's
-- time); skills are decoded only when the member or queue needs some, below
local FIELDS = {'status', 'ready_at', 'capacity', 'talk_time', 'calls_answered', 'last_status_change',
                'last_bridge_end', 'skills'}
for i = 1, #tiers, 2 do
  local f = redis.call('HMGET', P .. 'agent:' .. tiers[i], unpack(FIELDS))
  if f[1] then
    local lv, pos = string.match(tiers[i + 1], '^(-?%d+):(-?%d+)$')
    -- an agent on break or logged out is only counted: its claims are not read
    local claims = OFFERABLE[f[1]] and redis.call('HGETALL', P .. 'claims:' .. tiers[i]) or {}
    local c = {name = tiers[i], level = tonumber(lv), position = tonumber(pos), status = f[1],
               ready_at = tonumber(f[2] or '0'), capacity = tonumber(f[3] or '1'), f = f,
               rawclaims = claims, held = {}, live = 0}
    for j = 1, #claims, 2 do
      if tonumber(string.match(claims[j + 1], '([^\\t]+)$')) > now then
        c.live = c.live + 1
        c.held[claims[j]] = true
      end
    end
    levelset[c.level] = true
    out.tiered = out.tiered + 1
    if c.status ~= 'Logged Out' then out.logged_in = out.logged_in + 1 end
    if OFFERABLE[c.status] and c.live < c.capacity then
      if c.ready_at <= now then
        table.insert(free, c)
        free_levels[c.level] = true
      elseif ready == nil or c.ready_at < ready then
        ready = c.ready_at
      end
    end
    table.insert(cands, c)
  end
end
if out.logged_in == 0 then
  for _, c in ipairs(cands) do
    local lsc = tonumber(c.f[6] or '0')
    if lsc > out.last then out.last = lsc end
  end
end
local levels = {}
for lv in pairs(levelset) do table.insert(levels, lv) end
table.sort(levels)
out.levels = levels
out.free = #free
out.free_levels = {}
for lv in pairs(free_levels) do table.insert(out.free_levels, lv) end
table.sort(out.free_levels)
out.ready = ready

-- the waiting members, best first (strategies.order_members)
local waiting, raws, score = {}, {}, {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local raw = redis.call('GET', P .. 'member:' .. id)
  if raw then
    local m = cjson.decode(raw)
    if m.state == 'Waiting' then
      if m.not_before <= now then
        raws[m.id] = raw
        score[m.id] = m.priority * q.priority_weight + math.max(0, now - m.joined_at) * q.aging_per_second
        table.insert(waiting, m)
      elseif mine[m.id] and (out.deferred == nil or m.not_before < out.deferred) then
        out.deferred = m.not_before
      end
    end
  end
end
table.sort(waiting, function(a, b)
  if score[a.id] ~= score[b.id] then return score[a.id] > score[b.id] end
  if a.joined_at ~= b.joined_at then return a.joined_at < b.joined_at end
  return a.id < b.id
end)
out.order = {}
for i, m in ipairs(waiting) do out.order[i] = m.id end
if #waiting == 0 then      -- nobody waits: no rule asks for the agent counts (as plan_queue)
  out.free, out.free_levels, out.ready = 0, {}, nil
end

-- strategies.order_agents for one member
local memo = redis.call('HGETALL', KEYS[3])
local rr = {0, 0, ''}
for j = 1, #memo, 2 do
  if memo[j] == 'rr_last_level' then rr[1] = tonumber(memo[j + 1])
  elseif memo[j] == 'rr_last_position' then rr[2] = tonumber(memo[j + 1])
  elseif memo[j] == 'rr_last_agent' then rr[3] = memo[j + 1] end
end
-- the fields only some strategies read, decoded on first use
local function idle(c)
  if c.idle == nil then c.idle = math.max(tonumber(c.f[7] or '0'), tonumber(c.f[6] or '0')) end
  return c.idle
end
local function skill_score(c, required)
  if c.skills == nil then c.skills = cjson.decode(c.f[8] or '{}') end
  local total = 0
  for skill, minimum in pairs(required) do
    local level = c.skills[skill]
    if level == nil or level < minimum then return nil end
    total = total + level
  end
  return total
end
local function eligible(levels_with_free, waited)
  local out_levels = {}
  if not q.tier_rules_apply or #levels == 0 then
    for _, lv in ipairs(levels) do out_levels[lv] = true end
    return out_levels
  end
  local ls = levels
  if q.tier_rule_no_agent_no_wait then
    ls = {}
    for _, lv in ipairs(levels) do if levels_with_free[lv] then table.insert(ls, lv) end end
    if #ls == 0 then ls = levels end
  end
  for index, lv in ipairs(ls) do
    local needed
    if q.tier_rule_wait_multiply_level then needed = (index - 1) * q.tier_rule_wait_second
    elseif index > 1 then needed = q.tier_rule_wait_second else needed = 0 end
    if waited >= needed then out_levels[lv] = true end
  end
  return out_levels
end
local function key(c, m, required, use_memo)
  local s = q.strategy
  if s == 'longest-idle-agent' then return {c.level, idle(c), c.name}
  elseif s == 'round-robin' then
    local last = use_memo and rr or {0, 0, ''}
    local after = less(last, {c.level, c.position, c.name})
    return {after and 0 or 1, c.level, c.position, c.name}
  elseif s == 'agent-with-least-talk-time' then return {c.level, tonumber(c.f[4] or '0'), idle(c), c.name}
  elseif s == 'agent-with-fewest-calls' then return {c.level, tonumber(c.f[5] or '0'), idle(c), c.name}
  elseif s == 'random' then return {c.level, redis.sha1hex(q.name .. '|' .. m.id .. '|' .. c.name), c.name}
  elseif s == 'skills-based' then return {c.level, -(skill_score(c, required) or 0), idle(c), c.name}
  end
  return {c.level, c.position, c.name}   -- ring-all, ring-progressively, top-down, sequentially
end
local function order_agents(m, pool, use_memo)
  local required = empty(m.skills) and q.skills or m.skills
  local check = not empty(required)
  local ok, with_free = {}, {}
  for _, c in ipairs(pool) do
    if not c.held[m.id] and (not check or skill_score(c, required) ~= nil) then
      table.insert(ok, c)
      with_free[c.level] = true
    end
  end
  local allowed = eligible(with_free, now - m.joined_at)
  local keyed = {}
  for _, c in ipairs(ok) do
    if allowed[c.level] then table.insert(keyed, {k = key(c, m, required, use_memo), c = c}) end
  end
  table.sort(keyed, function(a, b) return less(a.k, b.k) end)
  local ordered = {}
  for i, e in ipairs(keyed) do ordered[i] = e.c end
  if q.affinity_days > 0 and m.last_agent ~= '' and now - m.last_agent_at <= q.affinity_days * 86400 then
    for i, c in ipairs(ordered) do
      if c.name == m.last_agent then
        table.remove(ordered, i)
        table.insert(ordered, 1, c)
        break
      end
    end
  end
  return ordered
end

-- who gets which agent (decision.plan_queue), and the claims
out.offers = {}
local taken, budget = {}, #free
for _, m in ipairs(#free > 0 and waiting or {}) do
  if budget <= 0 then break end
  if not skip[m.id] then
    local pool = {}
    for _, c in ipairs(free) do if not taken[c.name] then table.insert(pool, c) end end
    if not mine[m.id] then
      local theirs = order_agents(m, pool, false)
      if #theirs > 0 then
        taken[theirs[1].name] = true
        budget = budget - 1
      end
    else
      local choice = order_agents(m, pool, q.remembers)
      if #choice > 0 then
        local want = 1
        if q.rings == 'all' then want = #choice end
        local picked, names = {}, {}
        local claim = owner .. '\\t' .. 'reserved' .. '\\t' .. string.format('%.3f', now + lease)
        for i = 1, math.min(want, #choice) do
          local c = choice[i]
          taken[c.name] = true
          redis.call('HSET', P .. 'claims:' .. c.name, m.id, claim)
          redis.call('HSET', P .. 'agent:' .. c.name, 'last_offered_at', ARGV[2])
          table.insert(c.rawclaims, m.id)
          table.insert(c.rawclaims, claim)
          table.insert(picked, {c.name, redis.call('HGETALL', P .. 'agent:' .. c.name), c.rawclaims})
          table.insert(names, c.name)
        end
        budget = budget - #picked
        local rec = cjson.decode(raws[m.id])
        rec.state = 'Trying'
        rec.serving_agent = table.concat(names, ',')
        redis.call('SET', P .. 'member:' .. m.id, cjson.encode(rec))
        table.insert(out.offers, {m.id, picked})
        if q.remembers then
          rr = {choice[1].level, choice[1].position, choice[1].name}
          redis.call('HSET', KEYS[3], 'rr_last_level', tostring(rr[1]), 'rr_last_position', tostring(rr[2]),
                     'rr_last_agent', rr[3])
          out.memo = rr
        end
        redis.call('PUBLISH', KEYS[4], cjson.encode({event = 'member-offered', queue = q.name, member = m.id,
                                                      agents = names, at = now}))
      end
    end
  end
end
return cjson.encode(out)
"""

_CONFIG_FIELDS = [f for f in AgentConfig.__dataclass_fields__ if f != "status"]
_FLOATS = {"wrap_up_time", "no_answer_delay_time", "busy_delay_time", "reject_delay_time", "ready_at",
           "last_bridge_end", "last_offered_at", "last_status_change", "talk_time"}
_INTS = {"capacity", "max_no_answer", "calls_answered", "no_answer_count"}


class RedisBackend(StateBackend):
    # a refused or dropped connection, a timeout, and BusyLoadingError (a subclass of
    # ConnectionError: Redis is reading its AOF/RDB after a restart)
    unavailable_errors = (redis.ConnectionError, redis.TimeoutError)

    def __init__(self, client: redis.Redis, prefix: str = "fsapp:"):
        self.r = client
        self.p = prefix
        self._claim = client.register_script(CLAIM_LUA)
        self._renew = client.register_script(RENEW_LUA)
        self._release = client.register_script(RELEASE_LUA)
        self._status = client.register_script(STATUS_LUA)
        self._update_member = client.register_script(UPDATE_MEMBER_LUA)
        self._snapshot = client.register_script(SNAPSHOT_LUA)
        self._restore_claim = client.register_script(RESTORE_CLAIM_LUA)
        # redis-py's Script: EVALSHA, and on NOSCRIPT (a restarted or flushed Redis) SCRIPT
        # LOAD then EVALSHA again, so the decision's big script crosses the wire once
        self._decide = client.register_script(DECIDE_LUA)
        self._pubsub = None
        self._listeners: list = []
        self._reader = None
        self._stop = threading.Event()
        self.event_errors = 0        # times the pub/sub reader lost Redis (the fsapp_redis_errors_total metric)

    @classmethod
    def from_url(cls, url: str, prefix: str = "fsapp:", max_connections: int = 64) -> "RedisBackend":
        # A bounded, blocking pool: thousands of call greenlets share a few connections and
        # wait (up to 10 s) for one instead of failing with "Too many connections".
        # One immediate retry replaces a pooled connection Redis dropped (a restart) instead
        # of failing the command; a server that is down still fails fast (refused), a hung
        # one within 2 x socket_timeout. Reconnecting with back-off is the router's job
        # (fsapp.routing.outage), not each command's.
        from redis.backoff import NoBackoff
        from redis.retry import Retry
        pool = redis.BlockingConnectionPool.from_url(
            url, decode_responses=True, socket_timeout=10, socket_connect_timeout=5,
            health_check_interval=30, max_connections=max_connections, timeout=10,
            retry=Retry(NoBackoff(), 1))
        return cls(redis.Redis(connection_pool=pool), prefix)

    def k(self, *parts: str) -> str:
        return self.p + ":".join(parts)

    # -- agents --------------------------------------------------------------------------
    def put_agent(self, cfg, now):
        key = self.k("agent", cfg.name)
        values = {f: _enc(getattr(cfg, f)) for f in _CONFIG_FIELDS}
        pipe = self.r.pipeline()
        pipe.hset(key, mapping=values)
        # runtime fields only on creation: a reload keeps status and counters
        pipe.hsetnx(key, "status", cfg.status.value)
        pipe.hsetnx(key, "last_status_change", _enc(now))
        pipe.sadd(self.k("agents"), cfg.name)
        pipe.execute()

    def get_agent(self, name):
        found = self.agents([name])
        return found[0] if found else None

    def agents(self, names=None):
        if names is None:
            names = sorted(self.r.smembers(self.k("agents")))
        if not names:
            return []
        pipe = self.r.pipeline(transaction=False)
        for n in names:
            pipe.hgetall(self.k("agent", n))
            pipe.hgetall(self.k("claims", n))
        raw = pipe.execute()
        out = []
        for i, n in enumerate(names):
            fields, claims = raw[2 * i], raw[2 * i + 1]
            if fields:
                out.append(_decode_agent(n, fields, claims))
        return out

    def set_status(self, name, status, now):
        raw = self._status(keys=[self.k("agent", name), self.k("claims", name)], args=[status.value, _enc(now)])
        if raw is None:
            raise UnknownAgent(name)
        old, fields, claims = json.loads(raw)
        self.publish({"event": "agent-status", "agent": name, "status": status.value, "old": old, "at": now})
        return _decode_agent(name, _pairs(fields), _pairs(claims))

    def candidates(self, queue):
        from fsapp.routing.strategies import Candidate
        rows = json.loads(self._snapshot(keys=[self.k("tiers", queue)], args=[self.p]))
        out = []
        for agent, level_position, fields, claims in sorted(rows, key=lambda r: r[0]):
            level, position = level_position.split(":")
            rec = _decode_agent(agent, _pairs(fields), _pairs(claims))
            out.append(Candidate(rec, int(level), int(position)))
        return out

    def decide(self, queue, mine, skip, owner, lease, now):
        strategy = get_strategy(queue.strategy)
        params = {"name": queue.name, "strategy": queue.strategy, "rings": strategy.rings,
                  "remembers": strategy.remembers, "priority_weight": queue.priority_weight,
                  "aging_per_second": queue.aging_per_second, "skills": queue.skills,
                  "tier_rules_apply": queue.tier_rules_apply, "tier_rule_wait_second": queue.tier_rule_wait_second,
                  "tier_rule_wait_multiply_level": queue.tier_rule_wait_multiply_level,
                  "tier_rule_no_agent_no_wait": queue.tier_rule_no_agent_no_wait,
                  "affinity_days": queue.affinity_days}
        # an empty Lua table encodes as {}: a list of nothing is sent as [] and read back as {}
        raw = self._decide(keys=[self.k("tiers", queue.name), self.k("qm", queue.name),
                                 self.k("memo", queue.name), self.k("events")],
                           args=[self.p, repr(float(now)), owner, repr(float(lease)), json.dumps(params),
                                 json.dumps(sorted(mine)), json.dumps(sorted(skip))])
        data = json.loads(raw)
        offers = []
        for member_id, picked in _list(data.get("offers")):
            offers.append((member_id, [_decode_agent(name, _pairs(fields), _pairs(claims))
                                       for name, fields, claims in picked]))
        memo = data.get("memo")
        return QueueDecision(order=list(_list(data.get("order"))), offers=offers,
                             logged_in=data["logged_in"], free=data["free"], tiered=data["tiered"],
                             last_status_change=float(data["last"]), levels=[int(x) for x in _list(data.get("levels"))],
                             free_levels=[int(x) for x in _list(data.get("free_levels"))],
                             ready_at=data.get("ready"), deferred=data.get("deferred"),
                             memo=QueueMemo(int(memo[0]), int(memo[1]), memo[2]) if memo else None)

    # -- tiers ---------------------------------------------------------------------------
    def add_tier(self, tier):
        pipe = self.r.pipeline()
        pipe.hset(self.k("tiers", tier.queue), tier.agent, f"{tier.level}:{tier.position}")
        pipe.sadd(self.k("agentq", tier.agent), tier.queue)
        pipe.sadd(self.k("queues"), tier.queue)
        pipe.execute()
        self.publish({"event": "tier-added", "queue": tier.queue, "agent": tier.agent})

    def remove_tier(self, queue, agent):
        pipe = self.r.pipeline()
        pipe.hdel(self.k("tiers", queue), agent)
        pipe.srem(self.k("agentq", agent), queue)
        gone = bool(pipe.execute()[0])
        if gone:
            self.publish({"event": "tier-removed", "queue": queue, "agent": agent})
        return gone

    def tiers(self, queue=None, agent=None):
        if queue is not None:
            queues = [queue]
        elif agent is not None:
            queues = sorted(self.r.smembers(self.k("agentq", agent)))
        else:
            queues = sorted(self.r.smembers(self.k("queues")))
        pipe = self.r.pipeline(transaction=False)
        for q in queues:
            pipe.hgetall(self.k("tiers", q))
        out = []
        for q, table in zip(queues, pipe.execute()):
            for a, lp in sorted(table.items()):
                if agent is None or a == agent:
                    level, position = lp.split(":")
                    out.append(Tier(q, a, int(level), int(position)))
        return out

    # -- members -------------------------------------------------------------------------
    def add_member(self, member):
        pipe = self.r.pipeline()
        pipe.set(self.k("member", member.id), json.dumps(member.to_json()))
        pipe.sadd(self.k("qm", member.queue), member.id)
        pipe.execute()
        self.publish({"event": "member-joined", "queue": member.queue, "member": member.id,
                      "priority": member.priority, "at": member.joined_at})

    def get_member(self, member_id):
        raw = self.r.get(self.k("member", member_id))
        return _decode_member(raw) if raw else None

    def update_member(self, member_id, **fields):
        # one atomic step (Lua), no WATCH/retry round trips; never resurrects a removed member
        raw = self._update_member(keys=[self.k("member", member_id)],
                                  args=[json.dumps({k: _plain(v) for k, v in fields.items()})])
        return _decode_member(raw) if raw else None

    def renew_members(self, member_ids, expires):
        # One pipelined round trip for all of a worker's members: renewing them one by one
        # took seconds for 500 members on a busy machine, and leases of a live worker lapsed.
        fields = json.dumps({"expires": _plain(expires)})
        pipe = self.r.pipeline(transaction=False)
        for member_id in member_ids:
            self._update_member(keys=[self.k("member", member_id)], args=[fields], client=pipe)
        return [mid for mid, raw in zip(member_ids, pipe.execute()) if not raw]

    def remove_member(self, member_id):
        m = self.get_member(member_id)
        if m is None:
            return False
        pipe = self.r.pipeline()
        pipe.delete(self.k("member", member_id))
        pipe.srem(self.k("qm", m.queue), member_id)
        removed = pipe.execute()[0]
        if removed:
            self.publish({"event": "member-left", "queue": m.queue, "member": member_id})
        return bool(removed)

    def members(self, queue):
        ids = sorted(self.r.smembers(self.k("qm", queue)))
        if not ids:
            return []
        raws = self.r.mget([self.k("member", i) for i in ids])
        return [_decode_member(raw) for raw in raws if raw]

    # -- claims --------------------------------------------------------------------------
    def claim(self, agent, member_id, owner, lease, now):
        return bool(self._claim(keys=[self.k("agent", agent), self.k("claims", agent)],
                                args=[member_id, owner, _enc(now), _enc(lease)]))

    def renew(self, agent, member_id, owner, lease, now, phase=None):
        return bool(self._renew(keys=[self.k("agent", agent), self.k("claims", agent)],
                                args=[member_id, owner, _enc(now), _enc(lease), phase or ""]))

    def restore_claim(self, agent, member_id, owner, phase, lease, now):
        return bool(self._restore_claim(keys=[self.k("agent", agent), self.k("claims", agent)],
                                        args=[member_id, f"{owner}\t{phase}\t{_enc(float(now + lease))}", _enc(float(now))]))

    def ping(self):
        self.r.ping()

    def release(self, agent, member_id, owner, result, now, talk_time=0.0):
        raw = self._release(keys=[self.k("agent", agent), self.k("claims", agent)],
                            args=[member_id, owner, _enc(now), result.value, _enc(talk_time)])
        if raw is None:
            return False
        info = json.loads(raw)
        changes = info.get("changes") or []
        self.publish({"event": "agent-released", "agent": agent, "member": member_id,
                      "result": result.value, "changes": changes if isinstance(changes, list) else [],
                      "status": info.get("status"), "at": now})
        return True

    # -- memo and stats ------------------------------------------------------------------
    def get_memo(self, queue):
        raw = self.r.hgetall(self.k("memo", queue))
        return QueueMemo(int(raw.get("rr_last_level", 0)), int(raw.get("rr_last_position", 0)),
                         raw.get("rr_last_agent", ""))

    def set_memo(self, queue, memo):
        self.r.hset(self.k("memo", queue), mapping={k: str(v) for k, v in asdict(memo).items()})

    def record_handle_time(self, queue, seconds):
        pipe = self.r.pipeline()
        pipe.rpush(self.k("aht", queue), _enc(seconds))
        pipe.ltrim(self.k("aht", queue), -50, -1)
        pipe.execute()

    def handle_times(self, queue):
        return [float(x) for x in self.r.lrange(self.k("aht", queue), 0, -1)]

    def get_meta(self, key):
        return self.r.hget(self.k("meta"), key)

    def set_meta(self, key, value):
        self.r.hset(self.k("meta"), key, value)

    def remember(self, key, value, ttl):
        self.r.set(self.k("mem", key), value, px=max(1, int(ttl * 1000)))

    def recall(self, key):
        return self.r.get(self.k("mem", key))

    def all_member_ids(self):
        ids = set()
        for key in self.r.scan_iter(match=self.k("qm", "*"), count=500):
            ids |= self.r.smembers(key)
        return sorted(ids)

    # -- events --------------------------------------------------------------------------
    def publish(self, event):
        self.r.publish(self.k("events"), json.dumps(event))

    def subscribe(self, listener):
        self._listeners.append(listener)
        if self._reader is None:
            self._pubsub = self.r.pubsub(ignore_subscribe_messages=True)
            self._pubsub.subscribe(self.k("events"))
            self._reader = threading.Thread(target=self._read_events, name="routing-events", daemon=True)
            self._reader.start()
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _read_events(self):
        connected = True
        while not self._stop.is_set():
            try:
                message = self._pubsub.get_message(timeout=1.0)
            except (redis.ConnectionError, redis.TimeoutError, ValueError, AttributeError):
                if self._stop.is_set():
                    return
                self.event_errors += 1
                if connected:       # tell the subscribers once per break (the dispatcher PINGs)
                    connected = False
                    for listener in list(self._listeners):
                        listener({"event": "state-connection-lost"})
                self._stop.wait(0.5)
                continue
            connected = True        # redis-py reconnects and subscribes again by itself
            if message and message.get("type") == "message":
                event = json.loads(message["data"])
                for listener in list(self._listeners):
                    listener(event)

    def close(self):
        self._stop.set()
        if self._reader is not None:
            self._reader.join(timeout=3)
            self._pubsub.close()
        self.r.close()

    def delete_all(self) -> int:
        """Remove every key under the prefix (tests and `fsapp queue reset`)."""
        keys = list(self.r.scan_iter(match=self.p + "*", count=1000))
        return self.r.delete(*keys) if keys else 0


def _enc(value) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, dict):
        return json.dumps(value)
    if isinstance(value, AgentStatus):
        return value.value
    return str(value)


def _pairs(flat) -> dict:
    # cjson turns an empty HGETALL reply into {} and a flat list into a JSON array
    if isinstance(flat, dict):
        return {}
    return dict(zip(flat[0::2], flat[1::2]))


def _list(value) -> list:
    # cjson encodes an empty Lua table as {}
    return value if isinstance(value, list) else []


def _plain(value):
    return value.value if isinstance(value, Enum) else value


def _decode_agent(name: str, fields: dict, claims: dict) -> AgentRecord:
    kwargs = {}
    for key, value in fields.items():
        if key in _FLOATS:
            kwargs[key] = float(value)
        elif key in _INTS:
            kwargs[key] = int(float(value))
        elif key == "skills":
            kwargs[key] = {k: int(v) for k, v in json.loads(value).items()}
        elif key == "status":
            kwargs[key] = AgentStatus(value)
        elif key == "contact":
            kwargs[key] = value
    rec = AgentRecord(name=name, **kwargs)
    for member, raw in claims.items():
        owner, phase, expires = raw.split("\t")
        rec.claims[member] = Claim(member, owner, phase, float(expires))
    return rec


def _decode_member(raw: str) -> Member:
    data = json.loads(raw)
    data["state"] = MemberState(data["state"])
    return Member(**data)
