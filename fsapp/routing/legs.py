"""Call legs on the switch as the router sees them: hangups as events, kills, waits.

One `Legs` per Router: it listens to CHANNEL_HANGUP once and hands each watcher an
AsyncResult that is set with the hangup cause; kill/exists are ESL commands with a
deadline. The offer driver, the bridge and the callbacks all go through it.
"""
from __future__ import annotations

import time

import gevent
from gevent.event import AsyncResult

from fsapp.esl import syntax
from fsapp.esl.errors import ESLError
from fsapp.log import get_logger
from fsapp.routing.holds import HoldTimes
from fsapp.routing.transfers import phone_transfer

log = get_logger("fsapp.routing.legs")


class Legs:
    # how long a killed leg may take to be down before its agent is let go regardless
    END_DEADLINE = 5.0

    def __init__(self, esl, agents: dict, check_every: float, clock=time.time):
        self.esl = esl
        self.agents = agents                 # routing.yaml's agents: contact of a leg to find
        self.check_every = check_every       # uuid_exists safety net while waiting on a call
        self._hangups: dict[str, AsyncResult] = {}
        self.holds = HoldTimes(clock)        # CHANNEL_HOLD/UNHOLD during talks: the AHT's hold time
        self._transfers: dict[str, str] = {}  # leg -> 'blind:2000' when its phone transferred the call
        self._bridges: dict[str, AsyncResult] = {}   # leg -> set at its CHANNEL_BRIDGE

    # -- hangups (events, not polling) -----------------------------------------------------
    def on_hangup(self, event) -> None:
        result = self._hangups.get(event.get("Unique-ID") or "")
        if result is not None and not result.ready():
            if transfer := phone_transfer(event):
                self._transfers[event.get("Unique-ID")] = transfer
            result.set(event.get("Hangup-Cause") or "NORMAL_CLEARING")

    # -- bridges: uuid_bridge's +OK only means the transfer was scheduled ----------------
    def on_bridge(self, event) -> None:
        for uuid in (event.get("Bridge-A-Unique-ID"), event.get("Bridge-B-Unique-ID"), event.get("Unique-ID")):
            result = self._bridges.get(uuid or "")
            if result is not None and not result.ready():
                result.set(True)

    def watch_bridge(self, uuid: str) -> AsyncResult:
        """Set at the leg's CHANNEL_BRIDGE: watched before uuid_bridge is sent, as the
        event can come before the command's reply."""
        return self._bridges.setdefault(uuid, AsyncResult())

    def unwatch_bridge(self, uuid: str) -> None:
        self._bridges.pop(uuid, None)

    def bridged(self, bridged: AsyncResult, *gone: AsyncResult, deadline: float) -> bool:
        """After uuid_bridge's +OK: did the legs meet? On FreeSWITCH the bridge is made
        later by the caller's own thread (switch_ivr_bridge.c uuid_bridge_on_soft_execute),
        which gives up when the other leg has hung up meanwhile (an agent hanging up at
        once): False when a leg's CHANNEL_HANGUP comes first (events come in order, so a
        bridge made before it came first). True at the deadline with neither event (one
        lost across a reconnect): the legs still exist, so they are taken as talking."""
        gevent.wait([bridged, *gone], timeout=deadline, count=1)
        return bridged.ready() or not any(g.ready() for g in gone)

    def transfer_of(self, uuid: str) -> str | None:
        """'blind:2000' / 'attended' when the watched leg ended by its phone's transfer."""
        return self._transfers.get(uuid)

    def watch(self, uuid: str) -> AsyncResult:
        return self._hangups.setdefault(uuid, AsyncResult())

    def unwatch(self, *uuids: str) -> None:
        for uuid in uuids:
            self._hangups.pop(uuid, None)
            self._transfers.pop(uuid, None)

    def wait_either(self, leg_a: str, gone_a: AsyncResult, leg_b: str, gone_b: AsyncResult) -> None:
        """Until one of two legs hangs up: CHANNEL_HANGUP events, with uuid_exists every
        `check_every` seconds as the safety net for an event lost across a reconnect."""
        while True:
            if gevent.wait([gone_a, gone_b], timeout=self.check_every, count=1):
                return
            try:
                if not self.esl.uuid_exists(leg_a) or not self.esl.uuid_exists(leg_b):
                    return
            except ESLError:
                continue

    def wait_gone(self, uuid: str) -> None:
        """Until the leg hangs up (its CHANNEL_HANGUP, or uuid_exists false at a check: a
        hangup before this call began to watch is found there)."""
        gone = self.watch(uuid)
        try:
            self.wait_either(uuid, gone, uuid, gone)
        finally:
            self.unwatch(uuid)

    # -- commands ------------------------------------------------------------------------------
    def kill(self, uuid: str, cause: str = "NORMAL_CLEARING") -> bool:
        try:
            return not self.esl.api(syntax.api_command("uuid_kill", uuid, cause), timeout=5.0).startswith("-ERR")
        except ESLError:
            return False

    def end(self, uuid: str, cause: str = "NORMAL_CLEARING") -> bool:
        """Hang the leg up and return once it is down: its CHANNEL_HANGUP, or uuid_exists
        false at a check, at most END_DEADLINE s. An agent's claim is released after this,
        never right after the kill: uuid_kill answers +OK before the channel is down
        (capture observation 13), and an agent whose killed leg still rings or talks must
        not be offered the next caller (the two-node stress test caught an agent on two
        legs at once under load). False when there was no leg to kill."""
        owned = uuid not in self._hangups     # the caller may already watch it (agent_gone)
        gone = self.watch(uuid)
        try:
            if not self.kill(uuid, cause):
                return False
            give_up_at = time.monotonic() + self.END_DEADLINE
            while not gevent.wait([gone], timeout=min(self.check_every, self.END_DEADLINE), count=1):
                if not self.exists(uuid):
                    break
                if time.monotonic() >= give_up_at:
                    log.warning("leg still up after uuid_kill; its agent is let go regardless",
                                extra={"leg": uuid, "deadline_s": self.END_DEADLINE})
                    break
            return True
        finally:
            if owned:
                self.unwatch(uuid)

    def exists(self, uuid: str) -> bool:
        try:
            return bool(self.esl.uuid_exists(uuid))
        except Exception:  # cannot tell: do not keep a caller who may be gone in the queue
            return False

    def cancel_ringing(self, leg: str | None, agent_name: str, caller_number: str) -> None:
        """Hang up an agent's leg that still rings (ORIGINATOR_CANCEL). A switch that
        ignored origination_uuid: find the leg by destination and caller number in
        `show channels`."""
        if leg is not None and self.end(leg, "ORIGINATOR_CANCEL"):
            return
        agent = self.agents.get(agent_name)
        user = (agent.contact if agent else agent_name).rsplit("/", 1)[-1].split("@")[0]
        try:
            rows = self.esl.show_channels()
        except ESLError:
            return
        for row in rows:
            if row.get("dest") == user and row.get("cid_num") == (caller_number or "0000000000") \
                    and row.get("direction") == "outbound":
                self.end(row["uuid"], "ORIGINATOR_CANCEL")
