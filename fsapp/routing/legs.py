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
from fsapp.routing.holds import HoldTimes
from fsapp.routing.transfers import phone_transfer


class Legs:
    def __init__(self, esl, agents: dict, check_every: float, clock=time.time):
        self.esl = esl
        self.agents = agents                 # routing.yaml's agents: contact of a leg to find
        self.check_every = check_every       # uuid_exists safety net while waiting on a call
        self._hangups: dict[str, AsyncResult] = {}
        self.holds = HoldTimes(clock)        # CHANNEL_HOLD/UNHOLD during talks: the AHT's hold time
        self._transfers: dict[str, str] = {}  # leg -> 'blind:2000' when its phone transferred the call

    # -- hangups (events, not polling) -----------------------------------------------------
    def on_hangup(self, event) -> None:
        result = self._hangups.get(event.get("Unique-ID") or "")
        if result is not None and not result.ready():
            if transfer := phone_transfer(event):
                self._transfers[event.get("Unique-ID")] = transfer
            result.set(event.get("Hangup-Cause") or "NORMAL_CLEARING")

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

    def exists(self, uuid: str) -> bool:
        try:
            return bool(self.esl.uuid_exists(uuid))
        except Exception:  # cannot tell: do not keep a caller who may be gone in the queue
            return False

    def cancel_ringing(self, leg: str | None, agent_name: str, caller_number: str) -> None:
        """Hang up an agent's leg that still rings (ORIGINATOR_CANCEL). A switch that
        ignored origination_uuid: find the leg by destination and caller number in
        `show channels`."""
        if leg is not None and self.kill(leg, "ORIGINATOR_CANCEL"):
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
                self.kill(row["uuid"], "ORIGINATOR_CANCEL")
