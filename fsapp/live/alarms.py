"""Alarms: rules over the center's state; each alarm fires once and clears once.

Pure, no I/O and no clock (every call takes `now`):

    latch = Latch(hold=30, clear_after=10)
    latch.step(condition, now)   -> "fire" | "clear" | None

    rules = AlarmRules(waiting_over=5, waiting_for=30, ...)
    engine = AlarmEngine(rules)
    engine.on_event(routing_event, now)            # answered/abandoned: the 30-minute service level
    transitions = engine.evaluate(facts, now)      # [Transition(kind="fire"|"clear", alarm)]

A Latch fires when its condition has held for `hold` seconds and clears when it has been
false for `clear_after` seconds, so a condition that flaps around its threshold gives one
fire and one clear, not a storm (tests/live/test_alarms.py checks this as a property).
Facts are what the I/O edge (fsapp/live/alarm_service.py) read: queues, agents, the
calendars' open state, and the health of the database, outbox, ESL link and Redis.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


class Latch:
    def __init__(self, hold: float = 0.0, clear_after: float = 0.0):
        self.hold, self.clear_after = hold, clear_after
        self.active = False
        self._true_since: float | None = None
        self._false_since: float | None = None

    def step(self, condition: bool, now: float) -> str | None:
        if condition:
            self._false_since = None
            if self._true_since is None:
                self._true_since = now
            if not self.active and now - self._true_since >= self.hold:
                self.active = True
                return "fire"
        else:
            self._true_since = None
            if self._false_since is None:
                self._false_since = now
            if self.active and now - self._false_since >= self.clear_after:
                self.active = False
                return "clear"
        return None


@dataclass(frozen=True)
class AlarmRules:
    waiting_over: int = 0              # callers waiting > N ... (0: rule off)
    waiting_for: float = 30.0          # ... for T seconds
    service_level_below: float = 0.0   # share answered within target over the window < X (0: off)
    service_level_seconds: float = 20.0
    service_level_window: float = 1800.0
    service_level_min_calls: int = 5   # fewer calls in the window say nothing yet
    agent_stuck_seconds: float = 0.0   # an agent this long in one state, not available/logged out (0: off)
    no_agent_when_open: bool = True    # a queue whose calendar is open has no agent logged in
    database: bool = True              # a database connection is unavailable
    outbox_over: int = 0               # rows waiting in the outbox > N (0: off)
    esl: bool = True                   # the Event Socket link to FreeSWITCH is down
    redis: bool = True                 # Redis does not answer
    clear_after: float = 10.0          # seconds a condition must be gone before its alarm clears


@dataclass(frozen=True)
class Alarm:
    rule: str           # waiting, service_level, agent_stuck, no_agent, database, outbox, esl, redis
    subject: str        # the queue, agent, connection ... ("" for the center)
    message: str        # for people: Mandarin, then English
    since: float        # when it fired

    @property
    def key(self) -> str:
        return f"{self.rule}:{self.subject}"

    def to_json(self) -> dict:
        return {"rule": self.rule, "subject": self.subject, "message": self.message, "since": self.since}


@dataclass(frozen=True)
class Transition:
    kind: str           # fire | clear
    alarm: Alarm

    def to_json(self) -> dict:
        return {"state": "firing" if self.kind == "fire" else "cleared", **self.alarm.to_json()}


@dataclass
class Facts:
    """The state the rules look at, read by the I/O edge at one moment."""
    queues: dict = field(default_factory=dict)     # name -> {"waiting": n, "logged_in": n, "open": bool|None}
    agents: dict = field(default_factory=dict)     # name -> (board state, since)
    databases: dict = field(default_factory=dict)  # connection -> up (bool)
    outbox_depth: int | None = None
    esl: dict = field(default_factory=dict)        # "host:port" -> connected (bool)
    redis: bool | None = None                      # None: no Redis (memory backend)


class AlarmEngine:
    def __init__(self, rules: AlarmRules):
        self.rules = rules
        self.latches: dict[str, Latch] = {}
        self.active: dict[str, Alarm] = {}
        self._answers: dict[str, deque] = {}       # queue -> (at, answered in target: bool | None=abandoned)
        self._joined: dict[str, tuple[str, float]] = {}

    # -- the 30-minute service level, from routing events -------------------------------------
    def on_event(self, event: dict, now: float) -> None:
        kind, member = event.get("event"), event.get("member")
        if kind == "member-joined" and member:
            self._joined[member] = (event.get("queue") or "", float(event.get("at") or now))
        elif kind == "member-answered" and member in self._joined:
            queue, joined = self._joined.pop(member)
            at = float(event.get("at") or now)
            self._answers.setdefault(queue, deque()).append((at, at - joined <= self.rules.service_level_seconds))
        elif kind == "member-abandoned" and member in self._joined:
            queue, _ = self._joined.pop(member)
            self._answers.setdefault(queue, deque()).append((float(event.get("at") or now), False))
        elif kind in ("member-overflow", "member-timeout", "member-callback"):
            self._joined.pop(member, None)

    def service_level(self, queue: str, now: float) -> tuple[float | None, int]:
        window = self._answers.get(queue, deque())
        while window and window[0][0] < now - self.rules.service_level_window:
            window.popleft()
        if not window:
            return None, 0
        return sum(1 for _, ok in window if ok) / len(window), len(window)

    # -- evaluation --------------------------------------------------------------------------------
    def evaluate(self, facts: Facts, now: float) -> list[Transition]:
        r = self.rules
        checks: list[tuple[str, str, bool, float, str]] = []     # rule, subject, condition, hold, message
        for name, q in facts.queues.items():
            if r.waiting_over:
                checks.append(("waiting", name, q.get("waiting", 0) > r.waiting_over, r.waiting_for,
                               f"队列 {name} 等待超过 {r.waiting_over} 人 / queue {name}: more than "
                               f"{r.waiting_over} callers waiting for {r.waiting_for:g} s"))
            if r.service_level_below:
                level, calls = self.service_level(name, now)
                low = level is not None and calls >= r.service_level_min_calls and level < r.service_level_below
                checks.append(("service_level", name, low, 0.0,
                               f"队列 {name} 服务水平 {0 if level is None else level:.0%} / queue {name}: service "
                               f"level {0 if level is None else level:.0%} over {r.service_level_window / 60:g} min, "
                               f"below {r.service_level_below:.0%}"))
            if r.no_agent_when_open and q.get("open") is not None:
                checks.append(("no_agent", name, bool(q["open"]) and q.get("logged_in", 0) == 0, 0.0,
                               f"队列 {name} 营业中无坐席签入 / queue {name}: open, no agent logged in"))
        if r.agent_stuck_seconds:
            for name, (state, since) in facts.agents.items():
                stuck = state not in ("available", "logged_out") and now - since >= r.agent_stuck_seconds
                checks.append(("agent_stuck", name, stuck, 0.0,
                               f"坐席 {name} 状态 {state} 超过 {r.agent_stuck_seconds:g} 秒 / agent {name}: "
                               f"{state} for more than {r.agent_stuck_seconds:g} s"))
        if r.database:
            for name, up in facts.databases.items():
                checks.append(("database", name, not up, 0.0,
                               f"数据库 {name} 不可用 / database {name} unavailable"))
        if r.outbox_over and facts.outbox_depth is not None:
            checks.append(("outbox", "", facts.outbox_depth > r.outbox_over, 0.0,
                           f"待写入记录 {facts.outbox_depth} 条 / outbox: {facts.outbox_depth} rows waiting "
                           f"(more than {r.outbox_over})"))
        if r.esl:
            for name, connected in facts.esl.items():
                checks.append(("esl", name, not connected, 0.0,
                               f"FreeSWITCH 连接断开 {name} / Event Socket {name} disconnected"))
        if r.redis and facts.redis is not None:
            checks.append(("redis", "", not facts.redis, 0.0, "Redis 不可用 / Redis unavailable"))
        return self._step(checks, now)

    def _step(self, checks, now: float) -> list[Transition]:
        out = []
        seen = set()
        for rule, subject, condition, hold, message in checks:
            key = f"{rule}:{subject}"
            seen.add(key)
            latch = self.latches.setdefault(key, Latch(hold, self.rules.clear_after))
            change = latch.step(condition, now)
            if change == "fire":
                self.active[key] = Alarm(rule, subject, message, now)
                out.append(Transition("fire", self.active[key]))
            elif change == "clear":
                out.append(Transition("clear", self.active.pop(key)))
        for key in [k for k in self.latches if k not in seen]:   # subject gone (queue removed, agent deleted)
            latch = self.latches.pop(key)
            if latch.active:
                out.append(Transition("clear", self.active.pop(key)))
        return out
