"""The reconciler: compare the shared routing state with what the switches say is live,
and repair what a crash, a lost event or a lost connection left behind.

It runs when a worker starts, after every ESL reconnect (it watches the clients'
connection counters), and every `interval` seconds. Each repair is logged and returned:

* a claim whose lease lapsed (its worker died): dropped, the agent is free again;
* a member whose lease lapsed (its worker died): removed from the queue;
* a member of this worker whose channel no longer exists on its switch: removed, and
  its claims released;
* a claim of a member that no longer exists: released;
* a callback request of a dead worker: adopted by this worker (callbacks are durable).

`recover(config)` runs when the state comes back after an outage (Redis restarted, with
or without its data; fsapp.routing.outage calls it through Router.recover_state):

* agents, queues and tiers are re-seeded from routing.yaml: what Redis lost is
  re-created with the file's status; what it kept keeps its status and counters;
* this worker's callers still waiting and its callback requests are put back with their
  place (joined_at), and the claims they still hold are restored: an agent on a live call (its leg is on the switch)
  stays busy, whatever status the re-seed gave it;
* claims of this worker that its callers no longer hold (released during the outage)
  are released, members of this worker that are no longer in its queue (they took
  on_error during the outage) are removed;
* then run_once(): the usual repairs against the switch.

Every repair is one line in the returned list and one `reconcile:` log line.
"""
from __future__ import annotations

import time
from dataclasses import replace

import gevent

from fsapp.esl.errors import ESLError
from fsapp.log import get_logger
from fsapp.routing.model import MemberState, OfferResult

log = get_logger("fsapp.routing.reconciler")


class Reconciler:
    def __init__(self, backend, switches: list, worker_id: str, clock=time.time, interval: float = 60.0,
                 local_members: dict | None = None, adopt=None):
        self.backend = backend
        self.switches = switches
        self.worker_id = worker_id
        self.clock = clock
        self.interval = interval
        self.local_members = local_members if local_members is not None else {}
        self.adopt = adopt      # adopt(member) -> bool: take over a dead worker's callback
        self.runs = 0
        self._loop = None
        self._seen_connects = [getattr(s, "connects", 0) for s in switches]

    def start(self) -> "Reconciler":
        self._loop = gevent.spawn(self._run)
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.kill(block=True, timeout=2)

    def _run(self) -> None:
        next_periodic = 0.0
        while True:
            connects = [getattr(s, "connects", 0) for s in self.switches]
            reconnected = connects != self._seen_connects
            if reconnected or time.monotonic() >= next_periodic:
                self._seen_connects = connects
                try:
                    self.run_once()
                except self.backend.unavailable_errors as exc:   # the router's StateGuard handles it
                    log.warning("reconcile skipped: routing state unreachable", extra={"error": str(exc)})
                except Exception:
                    log.exception("reconcile failed; retrying later")
                next_periodic = time.monotonic() + self.interval
            gevent.sleep(min(1.0, self.interval))   # local counter check, no network I/O

    def _live_channels(self) -> set[str] | None:
        """uuids of live channels on this worker's switches, or None if one cannot be asked
        (then nothing is judged dead on the switches' word)."""
        live: set[str] = set()
        for switch in self.switches:
            try:
                live |= {row.get("uuid") for row in switch.show_channels()}
            except ESLError as exc:
                log.warning("reconcile: switch not reachable; channel checks skipped", extra={"error": str(exc)})
                return None
        return live

    def recover(self, config) -> list[str]:
        from fsapp.routing.config import seed_backend
        now = self.clock()
        source = config.path or "routing.yaml"
        repairs: list[str] = []
        known = {a.name: a for a in self.backend.agents()}
        tiers = {(t.queue, t.agent) for t in self.backend.tiers()}
        seed_backend(config, self.backend, now)
        for name, agent in sorted(config.agents.items()):
            if name not in known:
                repairs.append(f"agent {name}: re-created from {source} ({agent.status.value})")
        for tier in config.tiers:
            if (tier.queue, tier.agent) not in tiers and self.backend.tiers(queue=tier.queue, agent=tier.agent):
                repairs.append(f"tier {tier.queue}/{tier.agent}: re-created from {source}")
        live = self._live_channels() if self.switches else None
        for member_id, ticket in list(self.local_members.items()):
            member = ticket.member
            held = ticket.claims.held()
            talking = [agent for agent, phase in held.items() if phase == "talking"]
            stored = self.backend.get_member(member_id)
            if stored is None and ticket.active:      # a waiting caller, or a callback request
                state = (MemberState.ANSWERED if talking else MemberState.TRYING if held else MemberState.WAITING)
                self.backend.add_member(replace(member, state=state, serving_agent=",".join(talking or held),
                                                expires=now + ticket.claims.lease))
                repairs.append(f"member {member_id} of queue {member.queue}: put back "
                               + (f"(talking to {talking[0]})" if talking else "in line (place kept)"))
            elif stored is not None and talking and stored.state != MemberState.ANSWERED:
                # answered during the outage: Redis kept the state from before the answer
                self.backend.update_member(member_id, state=MemberState.ANSWERED, serving_agent=talking[0])
                repairs.append(f"member {member_id} of queue {member.queue}: answered by {talking[0]} "
                               f"during the outage, state corrected")
            for agent, phase in held.items():
                leg = ticket.claims.leg(agent)
                if live is not None and leg and leg not in live:
                    continue             # that call has ended: its greenlet releases the claim
                if self.backend.restore_claim(agent, member_id, self.worker_id, phase, ticket.claims.lease, now):
                    what = f"on live call {leg}" if leg else phase
                    repairs.append(f"agent {agent}: claim for {member_id} restored ({what}); stays busy")
        for agent in self.backend.agents():
            for claim in agent.claims.values():
                ticket = self.local_members.get(claim.member)
                if claim.owner == self.worker_id and ticket is not None and agent.name not in ticket.claims:
                    self.backend.release(agent.name, claim.member, claim.owner, OfferResult.CANCELLED, now)
                    repairs.append(f"agent {agent.name}: claim for {claim.member} released during the outage, "
                                   f"released now")
        for member_id in self.backend.all_member_ids():
            m = self.backend.get_member(member_id)
            if m is not None and m.owner == self.worker_id and member_id not in self.local_members \
                    and not m.callback_number:
                self.backend.remove_member(member_id)
                repairs.append(f"member {member_id} of queue {m.queue}: left during the outage, removed")
        for line in repairs:
            log.warning("reconcile: %s", line)
        return repairs + self.run_once()

    def run_once(self) -> list[str]:
        self.runs += 1
        now = self.clock()
        repairs: list[str] = []
        members = {}
        for member_id in self.backend.all_member_ids():
            m = self.backend.get_member(member_id)
            if m is not None:
                members[m.id] = m
        # the switch is asked after the members are read: a caller who joins in between
        # is not in `members`, so a channel list taken before its join cannot make it look
        # gone (it was, with the two reads the other way round, under load)
        live = self._live_channels() if self.switches else None
        gone_members = set()
        for m in members.values():
            if m.expires and m.expires <= now and m.id not in self.local_members:
                dead_owner = m.owner or "?"
                if m.callback_number and self.adopt is not None and self.adopt(m):
                    repairs.append(f"callback {m.id} to {m.callback_number}: worker {dead_owner} died, adopted")
                    continue
                gone_members.add(m.id)
                repairs.append(f"member {m.id} of queue {m.queue}: lease of worker {m.owner or '?'} lapsed, removed")
            elif (m.owner == self.worker_id and live is not None and m.id not in live
                  and not m.callback_number):      # a callback request has no channel
                gone_members.add(m.id)
                repairs.append(f"member {m.id} of queue {m.queue}: channel gone from the switch, removed")
        for agent in self.backend.agents():
            for claim in list(agent.claims.values()):
                if claim.expires <= now:
                    # lapsed: the claim script ignores it already; drop it so state reads clean
                    self.backend.release(agent.name, claim.member, claim.owner, OfferResult.CANCELLED, now)
                    repairs.append(f"agent {agent.name}: lapsed claim of worker {claim.owner} for {claim.member} dropped")
                elif claim.member in gone_members or (claim.member not in members
                                                       and claim.owner == self.worker_id
                                                       and claim.member not in self.local_members):
                    self.backend.release(agent.name, claim.member, claim.owner, OfferResult.CANCELLED, now)
                    repairs.append(f"agent {agent.name}: claim for vanished member {claim.member} released")
        for member_id in gone_members:
            self.backend.remove_member(member_id)
        for line in repairs:
            log.warning("reconcile: %s", line)
        if repairs:
            self.backend.publish({"event": "reconciled", "worker": self.worker_id, "repairs": repairs, "at": now})
        return repairs
