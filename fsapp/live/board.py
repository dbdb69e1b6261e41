"""The wallboard's state: pure, no I/O, no clock of its own (every method takes `now`).

    board = Board(queues=["hotline", ...], thresholds=Thresholds(...), day_start=...)
    board.load(agents, members, now)          # the backend as it is when the board starts
    board.on_event(event, now)                # each routing event (StateBackend.subscribe)
    board.set_agent(name, state, now)         # an agent's board state as the backend says
    board.take_changes()                      # {"queues": {...}, "agents": {...}} since last time
    board.snapshot(now)                       # everything, for a new browser and /board.json

Per queue: callers waiting (and since when, for the longest wait), answered and abandoned
today, answered within the service-level target today, and the alert level from the
thresholds. Per agent: board state (fsapp/live/agents.py) and since when. "Today" starts
at `day_start` (local midnight, given by the caller); `roll_day` starts a new one.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from fsapp.live.agents import BOARD_STATES

LEFT_OUTCOMES = {"member-abandoned", "member-overflow", "member-timeout", "member-callback"}


@dataclass(frozen=True)
class Thresholds:
    service_level_seconds: float = 20.0   # answered within this counts for the service level
    waiting_warn: int = 3                 # callers waiting: amber at, red at twice
    longest_wait_warn: float = 60.0       # seconds: amber at, red at twice
    service_level_warn: float = 0.8       # share: red below (once a call was answered or abandoned)
    agent_stuck_seconds: float = 0.0      # an agent this long in one state (not available/logged out) turns red; 0: off


@dataclass
class QueueRow:
    name: str
    waiting: dict[str, float] = field(default_factory=dict)    # member id -> joined_at
    answered: int = 0
    answered_in_target: int = 0
    abandoned: int = 0

    def service_level(self) -> float | None:
        total = self.answered + self.abandoned
        return None if total == 0 else self.answered_in_target / total

    def longest_since(self) -> float | None:
        return min(self.waiting.values(), default=None)

    def alert(self, t: Thresholds, now: float) -> str:
        """ok | warn | alarm, the colour of the queue's row."""
        since = self.longest_since()
        wait = 0.0 if since is None else now - since
        level = self.service_level()
        if (len(self.waiting) >= 2 * t.waiting_warn or wait >= 2 * t.longest_wait_warn
                or (level is not None and level < t.service_level_warn)):
            return "alarm"
        if len(self.waiting) >= t.waiting_warn or wait >= t.longest_wait_warn:
            return "warn"
        return "ok"

    def to_json(self, t: Thresholds, now: float) -> dict:
        level = self.service_level()
        return {"queue": self.name, "waiting": len(self.waiting), "longest_since": self.longest_since(),
                "answered": self.answered, "abandoned": self.abandoned,
                "service_level": None if level is None else round(level, 4), "alert": self.alert(t, now)}


@dataclass
class AgentRow:
    name: str
    state: str
    since: float

    def to_json(self) -> dict:
        return {"agent": self.name, "state": self.state, "since": self.since}


class Board:
    def __init__(self, queues, thresholds: Thresholds | None = None, day_start: float = 0.0):
        self.t = thresholds or Thresholds()
        self.queues: dict[str, QueueRow] = {name: QueueRow(name) for name in queues}
        self.agents: dict[str, AgentRow] = {}
        self.day_start = day_start
        # member id -> (queue, joined_at) from its join until its outcome is known
        self._members: dict[str, tuple[str, float]] = {}
        self._changed_queues: set[str] = set()
        self._changed_agents: set[str] = set()

    # -- input ---------------------------------------------------------------------------------
    def load(self, agents: dict[str, str], members, now: float) -> None:
        """agents: name -> board state; members: (id, queue, joined_at) of callers waiting."""
        for name, state in agents.items():
            self.set_agent(name, state, now)
        for member_id, queue, joined_at in members:
            self._join(member_id, queue, joined_at)

    def add_today(self, rows) -> None:
        """Today's outcomes recorded before the board started: (queue, event, wait_ms) rows of
        fsapp_queue_events (event answered or abandoned; others are ignored)."""
        for queue, event, wait_ms in rows:
            row = self.queues.get(queue)
            if row is None:
                continue
            if event == "answered":
                row.answered += 1
                if wait_ms is not None and wait_ms <= self.t.service_level_seconds * 1000:
                    row.answered_in_target += 1
            elif event == "abandoned":
                row.abandoned += 1
            else:
                continue
            self._changed_queues.add(queue)

    def set_agent(self, name: str, state: str, now: float) -> None:
        if state not in BOARD_STATES:
            raise ValueError(f"unknown board state {state!r}")
        row = self.agents.get(name)
        if row is None or row.state != state:
            self.agents[name] = AgentRow(name, state, now)
            self._changed_agents.add(name)

    def on_event(self, event: dict, now: float) -> None:
        """The backend removes a member (member-left) before the router says how it left
        (member-abandoned, -overflow, ...), and after member-answered: the waiting list
        follows member-left, the counts follow the outcome, whichever comes first."""
        kind, member = event.get("event"), event.get("member")
        if kind == "member-joined":
            self._join(member, event.get("queue"), float(event.get("at") or now))
        elif kind == "member-left":
            self._stop_waiting(member)
        elif kind == "member-answered":
            found = self._outcome(member)
            if found is not None:
                row, joined = found
                row.answered += 1
                if float(event.get("at") or now) - joined <= self.t.service_level_seconds:
                    row.answered_in_target += 1
        elif kind in LEFT_OUTCOMES:
            found = self._outcome(member)
            if found is not None and kind == "member-abandoned":
                found[0].abandoned += 1

    def roll_day(self, day_start: float) -> None:
        self.day_start = day_start
        for row in self.queues.values():
            row.answered = row.answered_in_target = row.abandoned = 0
            self._changed_queues.add(row.name)

    def tick(self, now: float) -> None:
        """Alert levels move with time alone (a wait grows): mark the queues whose level did."""
        for row in self.queues.values():
            if row.waiting and row.alert(self.t, now) != getattr(row, "_last_alert", "ok"):
                self._changed_queues.add(row.name)

    def _join(self, member_id: str, queue, joined_at: float) -> None:
        if queue not in self.queues or not member_id:
            return
        self.queues[queue].waiting[member_id] = joined_at
        self._members[member_id] = (queue, joined_at)
        self._changed_queues.add(queue)

    def _stop_waiting(self, member_id: str) -> None:
        known = self._members.get(member_id)
        if known is not None and self.queues[known[0]].waiting.pop(member_id, None) is not None:
            self._changed_queues.add(known[0])

    def _outcome(self, member_id: str):
        """(queue row, joined_at) of a member whose outcome is now known, once."""
        self._stop_waiting(member_id)
        known = self._members.pop(member_id, None)
        if known is None:
            return None
        self._changed_queues.add(known[0])
        return self.queues[known[0]], known[1]

    # -- output --------------------------------------------------------------------------------
    def take_changes(self, now: float) -> dict:
        queues = {}
        for name in sorted(self._changed_queues):
            row = self.queues[name]
            queues[name] = row.to_json(self.t, now)
            row._last_alert = queues[name]["alert"]
        agents = {name: self.agents[name].to_json() for name in sorted(self._changed_agents)}
        self._changed_queues.clear()
        self._changed_agents.clear()
        return {"queues": queues, "agents": agents} if queues or agents else {}

    def snapshot(self, now: float) -> dict:
        return {"now": now, "day_start": self.day_start,
                "thresholds": {"service_level_seconds": self.t.service_level_seconds,
                               "waiting_warn": self.t.waiting_warn, "longest_wait_warn": self.t.longest_wait_warn,
                               "service_level_warn": self.t.service_level_warn,
                               "agent_stuck_seconds": self.t.agent_stuck_seconds},
                "queues": {name: row.to_json(self.t, now) for name, row in self.queues.items()},
                "agents": {name: row.to_json() for name, row in sorted(self.agents.items())},
                "agent_states": list(BOARD_STATES)}

