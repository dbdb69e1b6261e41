"""One worker of the end-to-end multi-node stress test: an emulated FreeSWITCH node, an
fsapp OutboundServer whose handler queues every call, and a Router on the shared Redis.

    python stress_node.py REDIS_URL PREFIX WORKER_ID N_CALLS LEASE RESULT_JSON ROUTING_YAML

The node gets the same agent phones as every other node (user/1001 ... from the routing
file), places N_CALLS scripted callers at once to the queue number, prints "PLACED N"
when they are all dialling (the test may kill -9 us from then on), waits for every caller
to end, writes RESULT_JSON, prints "DONE", and keeps its Router running until a line
arrives on stdin or stdin is closed:

    {"worker", "elapsed_s",
     "outcomes": {caller uuid: {"kind", "agent", "reason"}},     # what enqueue returned
     "callers":  [{"uuid", "hangup_cause", "error"}],             # the scripted callers' reports
     "agents":   {agent: [{"member", "offered_at", "answered_at", "bridged_at", "ended_at", "result"}]}}
     (result "answered": the leg was bridged to its caller; "not-bridged": answered, never
     connected; else the hangup cause while ringing)

"agents" is the emulator's own record of each agent leg (wall-clock epoch seconds,
comparable across processes on one machine), tagged with the caller (fsapp_member_uuid)
it was rung for: the test merges both nodes' records to prove no agent was on two calls.
"""
from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402

from fsapp.esl import InboundClient, OutboundServer  # noqa: E402
from fsapp.routing.config import loads_routing  # noqa: E402
from fsapp.routing.redis_backend import RedisBackend  # noqa: E402
from fsapp.routing.router import Router  # noqa: E402
from fsapp.sim import CallerScript, Socket, Switch, Wait  # noqa: E402
from fsapp.sim.agents import AgentEndpoint  # noqa: E402

QUEUE_NUMBER = "5000"
RING_S = 0.05
TALK_S = 0.15
# Nothing here decides an outcome by the wall clock: callers wait in the queue until
# answered (no enqueue timeout), an answered agent waits for its bridge, and the worker
# waits for every handler's outcome. HANG_GUARD_S only turns a hang into a failure.
HANG_GUARD_S = 1500.0
COMMAND_GUARD_S = 300.0


def hangup_time(leg) -> float:
    """When the leg hung up, as the emulator stamped it before CHANNEL_HANGUP went out:
    causally before any router could release the agent (a stamp taken when this greenlet
    next runs could be late by a whole scheduling delay on a busy machine)."""
    return leg.profile.times["Channel-Hangup-Time"] / 1_000_000


class ConnectedTalker(AgentEndpoint):
    """An agent phone that answers after RING_S and talks TALK_S *once connected to the
    caller* (the emulator's stock agent counts talk time from its answer, so on a loaded
    2-core box a short talk time could end before fsapp bridges it). Each record also
    notes the caller it was rung for (fsapp_member_uuid) and when the bridge came up."""

    def ring(self, leg) -> None:
        record = {"uuid": leg.uuid, "member": leg.get_var("fsapp_member_uuid"), "offered_at": leg.clock.now(),
                  "answered_at": None, "bridged_at": None, "ended_at": None, "result": None}
        self.calls.append(record)
        gevent.spawn(self._talk, leg, record)

    def _talk(self, leg, record: dict) -> None:
        clock = leg.clock
        leg.set_call_state("RINGING")
        gevent.sleep(self.ring_s)
        if leg.status.hungup:
            record["result"], record["ended_at"] = leg.status.hangup_cause, hangup_time(leg)
            return
        leg.mark_answered()
        record["answered_at"] = clock.now()
        with gevent.Timeout(HANG_GUARD_S, False):
            while leg.links.bridged_to is None and not leg.status.hungup:
                gevent.sleep(0.01)
        if leg.links.bridged_to is not None:
            record["bridged_at"] = clock.now()
            until = time.monotonic() + self.talk_s
            while not leg.status.hungup and time.monotonic() < until:
                gevent.sleep(0.01)
        if not leg.status.hungup:
            leg.hangup("NORMAL_CLEARING")
        record["result"] = "answered" if record["bridged_at"] is not None else "not-bridged"
        record["ended_at"] = hangup_time(leg)


def main(argv) -> None:
    url, prefix, worker, n_calls, lease, result_path, routing_path = argv
    n_calls, lease = int(n_calls), float(lease)
    with open(routing_path, encoding="utf-8") as f:
        cfg = loads_routing(f.read(), routing_path)
    started = time.time()
    sw = Switch(password="ClueCon", esl=("127.0.0.1", 0)).start()
    for name in cfg.agents:
        sw.agents[name] = ConnectedTalker(name, ring_s=RING_S, talk_s=TALK_S)   # reached as user/<name>
    # A connection per concurrent caller: with the default pool (64) a busy machine kept
    # callers waiting for a connection past the pool's 10 s wait, and enqueue raised
    # redis ConnectionError "No connection available" (a wall-clock budget, not a fault).
    backend = RedisBackend.from_url(url, prefix=prefix, max_connections=n_calls + 16)
    # Deadlines on the switch are the product's defence against a dead switch; here the
    # switch is alive but shares a starved CPU, so they are set as hang guards.
    esl = InboundClient("127.0.0.1", sw.esl_port, "ClueCon", command_timeout=COMMAND_GUARD_S).start()
    router = Router(cfg, backend, esl, worker_id=worker, lease=lease)
    # a short reconcile interval: a crashed peer's members and claims are dropped soon
    # after their lease lapses, so they do not hold the head of the queue
    router.start(reconcile_interval=max(lease / 2, 0.5))
    outcomes = {}

    def handler(call):
        try:
            call.answer()
            o = router.enqueue(call, "stress")      # no timeout: a caller waits until answered
            outcomes[call.uuid] = {"kind": o.kind, "agent": o.agent, "reason": o.reason}
        except BaseException as exc:                # the test reports it: every caller has an outcome
            outcomes[call.uuid] = {"kind": f"error: {type(exc).__name__}: {exc}", "agent": None, "reason": None}
            raise

    server = OutboundServer(handler, ("127.0.0.1", 0), linger=1, command_timeout=COMMAND_GUARD_S,
                            app_timeout=COMMAND_GUARD_S).start()
    sw.dialplan.add(rf"^{QUEUE_NUMBER}$", Socket(f"127.0.0.1:{server.port} async full"))
    callers = [sw.place_call(CallerScript(dial=QUEUE_NUMBER, caller_id=f"139{i:08d}",
                                          steps=[Wait(HANG_GUARD_S)]))
               for i in range(n_calls)]
    print(f"PLACED {len(callers)}", flush=True)
    reports = [c.wait(timeout=HANG_GUARD_S) for c in callers]
    # the handlers record outcomes just after the hangups: wait until every session ended
    with gevent.Timeout(HANG_GUARD_S, False):
        while server.active_calls:
            gevent.sleep(0.05)
    result = {
        "worker": worker,
        "elapsed_s": round(time.time() - started, 2),
        "outcomes": outcomes,
        "callers": [{"uuid": r.uuid, "hangup_cause": r.hangup_cause, "error": r.error} for r in reports],
        "agents": {name: [{k: c.get(k) for k in ("member", "offered_at", "answered_at", "bridged_at", "ended_at", "result")}
                          for c in ep.calls] for name, ep in sw.agents.items()},
    }
    with open(result_path, "w", encoding="utf-8") as f:
        json.dump(result, f)
    print(f"DONE {len(outcomes)} {result['elapsed_s']}", flush=True)
    # stay up (router and reconciler running) until the test writes a line or closes
    # stdin: a surviving worker must outlive a crashed peer's lease to clean up after it
    with gevent.Timeout(HANG_GUARD_S, False):
        gevent.get_hub().threadpool.apply(sys.stdin.readline)
    router.stop()
    server.stop(timeout=2)
    esl.stop()
    sw.stop()
    backend.close()


if __name__ == "__main__":
    if len(sys.argv) != 8:
        sys.exit(__doc__)
    main(sys.argv[1:])
