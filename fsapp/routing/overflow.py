"""Carrying out where a caller goes when it leaves a queue by a rule (docs/routing.md).

The dispatcher decides (fsapp.routing.policy); the router's member greenlet returns an
`overflow` Outcome whose target names the place; this module takes the caller there:

- `queue:X`        the caller waits in X, keeping its arrival time and priority (its place);
- `site_queue:S/X` the caller is handed to site S's queue X: its place goes into the shared
                   state under a one-time handoff id, the call is bridged to the site's
                   `dial` (the id travels as an X- SIP header), and the router there looks
                   the id up when the call arrives (`Overflow.arriving`);
- `number:N`       the caller is bridged to N through the queue's `number-dial` template;
- `flow:NAME`      is the flow runtime's to follow (routing does not run flows).

A queue's calendar gates entry (and so every move into it): while closed, the caller goes
to the queue's `closed-target` instead. Every value that reaches FreeSWITCH syntax goes
through fsapp.esl.syntax; the handoff id read from the network is only ever a lookup key.
"""
from __future__ import annotations

import datetime as dt
import json
import re
import uuid as uuid_mod
from dataclasses import dataclass
from typing import Callable

from fsapp.esl import syntax
from fsapp.esl.errors import CallHangup, CommandError, CommandTimeout, ESLError
from fsapp.log import get_logger
from fsapp.routing.model import Queue

log = get_logger("fsapp.routing.overflow")

MAX_MOVES = 8                  # queue-to-queue moves of one caller (a cycle of rules ends here)
HANDOFF_TTL = 120.0            # seconds a handoff waits for its call to arrive at the other site
HANDOFF_HEADER = "X-Fsapp-Handoff"
BRIDGE_LIMIT = 4 * 3600.0      # deadline of a bridge to a number or a site: the whole conversation
_HANDOFF_ID = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class Place:
    """What a caller keeps when it moves: when it arrived and its priority."""
    joined_at: float
    priority: int = 0


class Overflow:
    """Executes overflow and closed targets for one Router. `outcome_type` is the
    Router's Outcome (kind, target, reason, waited_s, joined_at, priority)."""

    def __init__(self, config, backend, calendars: dict, clock: Callable[[], float], outcome_type):
        self.config = config
        self.backend = backend
        self.calendars = calendars
        self.clock = clock
        # the moment calendars are asked at: the router's clock, unless a simulation pins
        # its business time (the demo's calls take place on a Monday at 10:00)
        self.calendar_clock = clock
        self.Outcome = outcome_type

    # -- the front: a caller asks for a queue ---------------------------------------------------
    def serve(self, call, queue: Queue, wait_in: Callable[[Queue, Place | None], object],
              place: Place | None = None, routing=None):
        """Wait in `queue` (through `wait_in`, the router's member greenlet) and follow
        the moves the rules make; returns the final Outcome for the flow. `routing`: the
        call's RoutingVersion (its queues, sites and calendars); default: the current."""
        config = routing.config if routing is not None else self.config
        calendars = routing.calendars if routing is not None else self.calendars
        moves = 0
        while True:
            outcome = self.closed(queue, calendars) or wait_in(queue, place)
            if outcome.kind != "overflow" or not outcome.target:
                return outcome
            kind, _, target = outcome.target.partition(":")
            if kind == "queue":
                if moves >= MAX_MOVES:
                    log.warning("overflow: too many queue moves; the flow's on_overflow takes the caller",
                                extra={"target": outcome.target})
                    return outcome
                moves += 1
                log.info("overflow: caller moves", extra={"from": queue.name, "to": target})
                queue = config.queue(target)
                place = Place(outcome.joined_at or self.clock(), getattr(outcome, "priority", 0))
                continue
            if kind == "number":
                return self.bridge_number(call, queue, target, outcome)
            if kind == "site_queue":
                return self.hand_to_site(call, target, outcome, config.sites)
            return outcome          # flow:NAME (and tier_level:L) are the flow's to follow

    def closed(self, queue: Queue, calendars: dict | None = None):
        """An Outcome sending the caller to the queue's closed-target while its calendar is
        closed; None when open or without a calendar."""
        calendars = self.calendars if calendars is None else calendars
        calendar = calendars.get(queue.calendar) if queue.calendar else None
        if calendar is None:
            return None
        if calendar.is_open(dt.datetime.fromtimestamp(self.calendar_clock(), tz=calendar.tz)):
            return None
        now = self.clock()
        log.info("queue closed by its calendar", extra={"queue": queue.name, "calendar": queue.calendar,
                                                         "target": queue.closed_target})
        return self.Outcome("overflow", target=queue.closed_target, reason="closed", joined_at=now)

    # -- number:N ------------------------------------------------------------------------------
    def bridge_number(self, call, queue: Queue, number: str, outcome):
        """Bridge the caller to an external number; `transferred` when the two talked,
        else the overflow outcome (reason: why) for the flow's on_overflow."""
        dial = queue.number_dial.format(number=syntax.number(number, "overflow number"))
        return self._bridge(call, syntax.dial_string(dial, f"queue {queue.name} number-dial"), {
            "originate_timeout": int(max(queue.offer_timeout, 30)),
            "origination_caller_id_number": call.caller_id or "0000000000"}, outcome)

    # -- site_queue:SITE/X ----------------------------------------------------------------------
    def hand_to_site(self, call, target: str, outcome, sites: dict | None = None):
        site_name, _, queue_name = target.partition("/")
        site = (self.config.sites if sites is None else sites)[site_name]
        handoff = uuid_mod.uuid4().hex
        self.backend.remember(f"handoff:{handoff}", json.dumps({
            "queue": queue_name, "joined_at": outcome.joined_at, "priority": getattr(outcome, "priority", 0),
            "from": call.uuid}), HANDOFF_TTL)
        dial = syntax.dial_string(site.dial.format(queue=syntax.word("site queue", queue_name)),
                                  f"site {site_name} dial")
        result = self._bridge(call, dial, {f"sip_h_{HANDOFF_HEADER}": handoff, "fsapp_handoff": handoff,
                                           "origination_caller_id_number": call.caller_id or "0000000000"},
                              outcome)
        if result.kind != "transferred":
            self.backend.remember(f"handoff:{handoff}", "", 0.001)   # never arrived: forget it
        return result

    def arriving(self, call, queue: str) -> Place | None:
        """A call handed over by another site: its place, once (the handoff is consumed).
        The id comes from the network: anything but a known id is no handoff."""
        variables = getattr(call, "variables", None) or {}
        raw = (variables.get(f"variable_sip_h_{HANDOFF_HEADER}") or variables.get("variable_fsapp_handoff") or "")
        if not _HANDOFF_ID.fullmatch(raw):
            return None
        key = f"handoff:{raw}"
        record = self.backend.recall(key)
        if not record:
            return None
        self.backend.remember(key, "", 0.001)
        data = json.loads(record)
        if data.get("queue") != queue:
            log.warning("handoff for another queue ignored", extra={"queue": queue, "handoff_queue": data.get("queue")})
            return None
        log.info("caller handed over by another site keeps its place",
                 extra={"queue": queue, "waited_before": round(self.clock() - float(data["joined_at"]), 3)})
        return Place(float(data["joined_at"]), int(data.get("priority") or 0))

    # -- bridging ----------------------------------------------------------------------------
    def _bridge(self, call, dial: str, variables: dict, outcome):
        """`bridge` on the caller's own channel (the flow's socket keeps it: when the far
        end hangs up, the queue node goes on and ends the call)."""
        try:
            result = call.bridge(syntax.bridge_arg(dial, variables), timeout=BRIDGE_LIMIT)
        except CallHangup:
            raise
        except (CommandError, CommandTimeout, ESLError) as exc:
            log.warning("overflow bridge failed", extra={"dial": dial, "error": str(exc)})
            outcome.reason = f"bridge-failed: {type(exc).__name__}"
            return outcome
        if not result.ok:
            log.info("overflow bridge not answered", extra={"dial": dial, "cause": result.cause})
            outcome.reason = f"bridge-failed: {result.cause or result.disposition or 'unknown'}"
            return outcome
        return self.Outcome("transferred", target=outcome.target, reason=outcome.reason, priority=getattr(outcome, "priority", 0),
                            waited_s=outcome.waited_s, joined_at=outcome.joined_at)
