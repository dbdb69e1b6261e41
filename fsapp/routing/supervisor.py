"""Supervisor controls on a live queue call: listen, whisper, barge, force release.

    sup = Supervisor(router.backend, router.esl)         # or router.supervisor()
    sup.listen("1001", "user/2001")    # the supervisor's phone rings; on answer it hears both sides
    sup.whisper("1001", "user/2001")   # ... and speaks to the agent only
    sup.barge("1001", "user/2001")     # ... and speaks to both (three-way)
    sup.release("1001")                # hang up the agent's leg: the agent goes to wrap-up

The router notes every answered queue call in the shared state (`agent-call:<agent>`:
the agent's leg uuid, the member, the queue), so any process with the same backend (the
CLI with Redis) finds the leg. Listening is FreeSWITCH's own: the supervisor's contact is
originated into `&eavesdrop(<agent leg>)`; the eavesdrop variables choose who hears the
supervisor (see fsapp/sim/apps/eavesdrop.py for the source's semantics). With the agent's leg
as the target, `eavesdrop_whisper_bleg` reaches the agent, `eavesdrop_whisper_aleg` the
caller. DTMF stays on, so the supervisor can switch on the phone: 0 listen, 2 whisper to
the agent, 3 barge, 1 speak to the caller only, * leave.
"""
from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass

from fsapp.esl import syntax
from fsapp.esl.errors import CommandError, ESLError
from fsapp.log import get_logger

log = get_logger("fsapp.routing.supervisor")

CALL_KEY = "agent-call:{agent}"
CALL_TTL = 24 * 3600.0       # a safety net only: the router forgets the call when it ends

# eavesdrop variables per mode, the agent's leg being the eavesdrop target
MODES = {
    "listen": {"eavesdrop_whisper_aleg": "false", "eavesdrop_whisper_bleg": "false"},
    "whisper": {"eavesdrop_whisper_aleg": "false", "eavesdrop_whisper_bleg": "true"},
    "barge": {"eavesdrop_whisper_aleg": "true", "eavesdrop_whisper_bleg": "true"},
}


class NotOnCall(LookupError):
    """The agent has no live queue call to supervise."""


@dataclass
class AgentCall:
    agent: str
    leg: str           # the agent's channel uuid (the eavesdrop target)
    member: str        # the caller's channel uuid (or the callback id)
    queue: str
    since: float


@dataclass
class Supervision:
    mode: str                  # listen | whisper | barge | release
    agent: str
    agent_leg: str
    member: str
    queue: str
    supervisor: str = ""       # the contact dialled
    supervisor_leg: str = ""   # its channel uuid (hang it up to stop supervising)

    def to_json(self) -> dict:
        return asdict(self)


def note_agent_call(backend, agent: str, leg: str, member: str, queue: str, since: float) -> None:
    """Called by the router once the agent's leg is bridged to the caller."""
    backend.remember(CALL_KEY.format(agent=agent),
                     json.dumps({"leg": leg, "member": member, "queue": queue, "since": since}), CALL_TTL)


def forget_agent_call(backend, agent: str, leg: str) -> None:
    """Called by the router when the call ends; leaves a newer call of the agent alone."""
    key = CALL_KEY.format(agent=agent)
    raw = backend.recall(key)
    if raw and json.loads(raw).get("leg") == leg:
        backend.remember(key, "", 0.001)


def find_agent_call(backend, agent: str) -> AgentCall | None:
    raw = backend.recall(CALL_KEY.format(agent=agent))
    if not raw:
        return None
    data = json.loads(raw)
    return AgentCall(agent, data["leg"], data["member"], data["queue"], float(data.get("since", 0.0)))


class Supervisor:
    def __init__(self, backend, esl, *, ring_timeout: float = 30.0, clock=time.time):
        self.backend = backend
        self.esl = esl
        self.ring_timeout = ring_timeout
        self.clock = clock

    def agent_call(self, agent: str) -> AgentCall:
        """The agent's live queue call, checked against the switch (uuid_exists)."""
        if self.backend.get_agent(agent) is None:
            raise NotOnCall(f"unknown agent {agent!r}: add it to routing.yaml (agents:)")
        call = find_agent_call(self.backend, agent)
        if call is None:
            raise NotOnCall(f"agent {agent!r} is not on a queue call now (see `fsapp agent status {agent}`)")
        try:
            alive = self.esl.uuid_exists(call.leg)
        except ESLError as exc:
            raise NotOnCall(f"agent {agent!r}: cannot check its leg {call.leg} on FreeSWITCH: {exc}") from None
        if not alive:
            forget_agent_call(self.backend, agent, call.leg)
            raise NotOnCall(f"agent {agent!r}: its call {call.leg} has already ended")
        return call

    def listen(self, agent: str, supervisor: str) -> Supervision:
        """The supervisor hears the agent and the caller; nobody hears the supervisor."""
        return self._eavesdrop("listen", agent, supervisor)

    def whisper(self, agent: str, supervisor: str) -> Supervision:
        """The supervisor hears both and speaks to the agent only."""
        return self._eavesdrop("whisper", agent, supervisor)

    def barge(self, agent: str, supervisor: str) -> Supervision:
        """Three-way: the supervisor hears and speaks to both."""
        return self._eavesdrop("barge", agent, supervisor)

    def release(self, agent: str, cause: str = "NORMAL_CLEARING") -> Supervision:
        """Hang up the agent's leg. The router sees the hangup like any other: the agent is
        released to wrap-up, the caller's leg survives (park_after_bridge) for the flow."""
        call = self.agent_call(agent)
        try:
            self.esl.uuid_kill(call.leg, cause)
        except CommandError as exc:      # -ERR No such channel: it ended meanwhile
            raise NotOnCall(f"agent {agent!r}: its call {call.leg} has already ended ({exc})") from None
        result = Supervision("release", agent, call.leg, call.member, call.queue)
        self._publish(result)
        return result

    def _eavesdrop(self, mode: str, agent: str, supervisor: str) -> Supervision:
        syntax.dial_string(supervisor, "supervisor contact (a dial string such as user/2001)")
        call = self.agent_call(agent)
        variables = {**MODES[mode], "eavesdrop_enable_dtmf": "true",
                     "origination_caller_id_name": f"{mode}-{agent}",
                     "origination_caller_id_number": agent,
                     "fsapp_supervise": mode, "fsapp_supervised_agent": agent,
                     "fsapp_queue": call.queue, "ignore_early_media": "true"}
        # blocks until the supervisor answers (or OriginateError with the cause)
        leg = self.esl.originate(supervisor, syntax.app_target("eavesdrop", call.leg), variables,
                                 timeout=self.ring_timeout)
        result = Supervision(mode, agent, call.leg, call.member, call.queue, supervisor, leg)
        self._publish(result)
        return result

    def _publish(self, result: Supervision) -> None:
        log.info("supervisor action", extra=result.to_json())
        self.backend.publish({"event": f"supervisor-{result.mode}", **result.to_json(), "at": self.clock()})
