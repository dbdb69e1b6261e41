"""What routing writes down for the reports and for anyone listening on the switch.

Queue events go to fsapp_queue_events (through the store's outbox) and as CUSTOM
`fsapp::queue` events to the switch; each agent rung is a row of fsapp_offers; agent
status changes heard on the state's events are rows of fsapp_agent_states. Reporting
never breaks a call: every failure is logged and the call goes on.
"""
from __future__ import annotations

import datetime as dt

import gevent

from fsapp.esl import syntax
from fsapp.esl.errors import ESLError
from fsapp.log import get_logger
from fsapp.routing.model import Member

log = get_logger("fsapp.routing.records")


class QueueRecords:
    def __init__(self, store, esl, clock):
        self.store = store
        self.esl = esl
        self.clock = clock

    def event(self, event: str, member: Member, agent: str = "", wait_s: float | None = None,
              position: int | None = None, target: str = "", talk_s: float | None = None,
              wrap_up_s: float | None = None, hold_s: float | None = None) -> None:
        """Queue events for the reports (fsapp_queue_events through the store's outbox) and
        as a CUSTOM event on the switch (fsapp::queue) for anyone listening there.
        `completed` (the talk ended) carries talk, hold and wrap-up times: the reports' AHT."""
        if self.store is not None:
            ms = lambda s: int(round(s * 1000)) if s is not None else None  # noqa: E731
            row = {"call_uuid": member.id, "queue_name": member.queue, "event": event,
                   "agent_id": agent or None, "queue_position": position, "wait_ms": ms(wait_s),
                   "caller_number": member.caller_id or member.callback_number or None,
                   "target": target or None, "talk_ms": ms(talk_s), "wrap_up_ms": ms(wrap_up_s),
                   "hold_ms": ms(hold_s or 0.0) if talk_s is not None else None,
                   "event_at": stamp(self.clock())}
            try:
                self.store.write("queue_event", row, key=f"{member.id}:{member.queue}:{event}:{member.joined_at:.3f}")
            except Exception:
                log.exception("queue event not recorded", extra={"event": event})
        try:
            self.esl.sendevent("CUSTOM", {
                "Event-Subclass": "fsapp::queue", "Action": event, "Queue": member.queue,
                "Member-UUID": member.id, "Agent": agent, "Caller-ID": member.caller_id}, timeout=5.0)
        except (ESLError, AttributeError, syntax.UnsafeValue) as exc:
            log.debug("CUSTOM queue event not sent", extra={"error": str(exc)})

    def offer(self, member: Member, agent: str, ring_at: float, result: str, leg: str) -> None:
        """One row per agent rung (fsapp_offers): the reports' answer rate and ringing times."""
        if self.store is None:
            return
        row = {"call_uuid": member.id, "queue_name": member.queue, "agent_id": agent,
               "ring_at": stamp(ring_at), "ended_at": stamp(self.clock()), "result": result}
        try:
            self.store.write("offer", row, key=f"{leg}:offer")
        except Exception:  # reporting never breaks a call; the outbox already keeps outages
            log.exception("offer not recorded", extra={"agent": agent})

    def on_state_event(self, event: dict) -> None:
        """Agent status changes as rows of fsapp_agent_states (the reports' occupancy: time
        logged in and available). Every worker hears the change; the key makes it one row."""
        kind, changes = event.get("event"), event.get("changes") or ()
        if not event.get("agent") or not event.get("status"):
            return
        if kind == "agent-status":
            reason = event.get("reason") or None
        elif kind == "agent-released" and ("auto-break" in changes or "on-demand-break" in changes):
            # the backend put the agent on break itself (max-no-answer, or one call on demand)
            reason = "max-no-answer" if "auto-break" in changes else "available-on-demand"
        else:
            return
        at = float(event.get("at") or self.clock())
        row = {"agent_id": event["agent"], "status": event["status"], "reason": reason, "changed_at": stamp(at)}
        gevent.spawn(self._write_state, row, f"agent:{event['agent']}:{at:.3f}")   # not on the publisher

    def _write_state(self, row: dict, key: str) -> None:
        try:
            self.store.write("agent_state", row, key=key)
        except Exception:  # reporting never breaks routing; the outbox already keeps outages
            log.exception("agent state not recorded", extra={"agent": row["agent_id"]})


def stamp(seconds: float):
    """A router clock reading (epoch seconds; virtual in simulations) as the store's naive
    local datetime."""
    return dt.datetime.fromtimestamp(seconds)
