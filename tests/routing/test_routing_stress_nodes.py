"""Issue 7 end to end: two worker processes, each running one emulated FreeSWITCH node,
an fsapp OutboundServer and a Router on one shared redis-server. Callers arrive on both
nodes and share the same 50 agents (the same phones are reachable from both nodes).

1. 1,000 near-simultaneous calls (500 per node): every caller is answered exactly once,
   no agent is ever on two calls at once (the emulators' own records of the agent legs,
   merged across the nodes), and afterwards every agent is Waiting with no live claim.
2. kill -9 one worker mid-run: the surviving worker's first reconcile pass after the
   dead worker's leases lapsed leaves no agent held and no caller queued by it, the
   surviving node's callers are all served, and the end state is clean.

The workers are tests/routing/stress_node.py; ring and talk times are scaled down there.
No outcome is decided by a wall-clock budget (the suite must pass on a busy machine):
the test waits for events (lines the workers print, the reconciler's published repairs),
and HANG_GUARD_S only turns a hang into a failure.
"""
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from fsapp.routing.model import AgentState
from fsapp.routing.redis_backend import RedisBackend

HANG_GUARD_S = 1500
pytestmark = [pytest.mark.redis, pytest.mark.slow, pytest.mark.timeout(2 * HANG_GUARD_S)]

WORKER = Path(__file__).with_name("stress_node.py")
ROOT = Path(__file__).resolve().parents[2]
AGENTS = [str(1001 + i) for i in range(50)]
OVERLAP_SLACK_S = 0.05   # agent legs on two nodes are stamped by two clocks on one machine
ROUTING_YAML = """
queues:
  stress:
    strategy: longest-idle-agent
    moh-sound: "tone_stream://%(1000,0,440);loops=-1"
    offer-timeout: 10
agents:
""" + "".join(f'  "{a}": {{contact: user/{a}, status: Available, wrap-up-time: 0}}\n' for a in AGENTS) + \
    "tiers:\n" + "".join(f'  - {{queue: stress, agent: "{a}"}}\n' for a in AGENTS)


@pytest.fixture
def shared(redis_url, tmp_path):
    from fsapp.routing.config import loads_routing, seed_backend
    prefix = f"stressnodes:{uuid.uuid4().hex[:8]}:"
    be = RedisBackend.from_url(redis_url, prefix=prefix)
    routing = tmp_path / "routing.yaml"
    routing.write_text(ROUTING_YAML, encoding="utf-8")
    seed_backend(loads_routing(ROUTING_YAML, str(routing)), be, time.time() - 100)
    yield be, prefix, routing
    be.delete_all()
    be.close()


def _start(redis_url, prefix, worker, n_calls, lease, result, routing, stay_up=False):
    """A worker process; stay_up: it keeps its Router running after its callers ended
    until _finish (else it stops as soon as they ended)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    log_path = Path(result).with_suffix(".log")     # the worker's stderr: kept for the failure message
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, str(WORKER), redis_url, prefix, worker, str(n_calls), str(lease),
                                 str(result), str(routing)],
                                env=env, stdin=subprocess.PIPE if stay_up else subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=log, text=True)
    proc.log_path = log_path
    return proc


def _finish(proc, timeout=HANG_GUARD_S):
    out, _ = proc.communicate(input="" if proc.stdin else None, timeout=timeout)
    assert proc.returncode == 0, f"worker failed (rc {proc.returncode}):\n{out[-1000:]}\n{_log_tail(proc)}"
    return out


def _wait_for_line(proc, prefix, timeout=HANG_GUARD_S):
    """Read the worker's stdout until a line starting with `prefix` (with a deadline)."""
    import selectors
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sel.select(timeout=max(0.0, deadline - time.monotonic())):
            line = proc.stdout.readline()
            if line.startswith(prefix):
                return line
            if not line:
                break
    pytest.fail(f"worker did not print {prefix!r} within {timeout} s:\n{_log_tail(proc)}")


def _log_tail(proc, chars=3000):
    """The end of the worker's log (its stderr, kept next to its result file)."""
    return proc.log_path.read_text(errors="replace")[-chars:]


def _busy_spans(results):
    """agent -> sorted (start, end, member, worker) of every leg that reached the agent,
    from every node: from the offer (ringing) to the leg's end."""
    spans = {a: [] for a in AGENTS}
    for res in results:
        for agent, calls in res["agents"].items():
            for c in calls:
                assert c["ended_at"] is not None, f"agent {agent} leg for {c['member']} on {res['worker']} never ended"
                spans[agent].append((c["offered_at"], c["ended_at"], c["member"], res["worker"], c["result"],
                                     c.get("answered_at"), c.get("bridged_at")))
    return {a: sorted(s) for a, s in spans.items()}


def assert_no_double_booking(results):
    for agent, spans in _busy_spans(results).items():
        for first, second in zip(spans, spans[1:]):
            assert second[0] >= first[1] - OVERLAP_SLACK_S, (
                f"agent {agent} double-booked: {_leg(first)} and {_leg(second)}")


def _leg(span) -> str:
    """One agent leg for a failure message: who, where, when it rang / answered / was
    bridged / ended, and how it ended."""
    offered, ended, member, worker, result, answered, bridged = span
    at = lambda t: "-" if t is None else f"{t:.3f}"     # noqa: E731
    return (f"{member} on {worker} (offered {at(offered)}, answered {at(answered)}, bridged {at(bridged)}, "
            f"ended {at(ended)}: {result})")


def assert_served_once(results, expected_callers):
    """Every caller's enqueue returned "answered", and exactly one agent leg, on either
    node, answered for that caller."""
    answered_legs = {}
    for res in results:
        for agent, calls in res["agents"].items():
            for c in calls:
                if c["result"] == "answered":
                    answered_legs.setdefault(c["member"], []).append(agent)
    outcomes = {}
    for res in results:
        assert len(res["callers"]) == expected_callers[res["worker"]], res["worker"]
        for caller in res["callers"]:
            assert caller["error"] in (None, ""), f"{res['worker']} caller {caller['uuid']}: {caller['error']}"
        outcomes.update(res["outcomes"])
        missing = {c["uuid"] for c in res["callers"]} - set(res["outcomes"])
        assert not missing, f"{res['worker']}: no enqueue outcome for {len(missing)} callers, e.g. {sorted(missing)[:3]}"
    kinds = {}
    for o in outcomes.values():
        kinds[o["kind"]] = kinds.get(o["kind"], 0) + 1
    assert kinds == {"answered": sum(expected_callers.values())}, kinds
    for member, o in outcomes.items():
        assert answered_legs.get(member) == [o["agent"]], f"caller {member}: agent legs {answered_legs.get(member)}, outcome {o}"
    return outcomes


def assert_all_agents_free(be, expected_answered=None):
    now = time.time()
    agents = be.agents()
    assert sorted(a.name for a in agents) == AGENTS
    stuck = {a.name: (a.state(now).value, [(c.member, c.owner, c.phase) for c in a.live_claims(now)]) for a in agents
             if a.state(now) != AgentState.WAITING or a.live_claims(now)}
    assert stuck == {}, f"agents not Waiting or still claimed: {stuck}"
    assert be.members("stress") == []
    if expected_answered is not None:
        assert sum(a.calls_answered for a in agents) == expected_answered


def test_1000_calls_two_nodes_50_agents(shared, redis_url, tmp_path):
    be, prefix, routing = shared
    per_node = int(os.environ.get("FSAPP_STRESS_NODE_CALLS", "500"))
    results = [tmp_path / f"node{i}.json" for i in range(2)]
    t0 = time.monotonic()
    # lease: fsapp's default (30 s). A worker starved past its lease may lose an agent to
    # its peer (that is what a lease means); 10 s was exceeded on a busy 2-core machine.
    procs = [_start(redis_url, prefix, f"node{i}", per_node, 30.0, results[i], routing) for i in range(2)]
    try:
        outs = [_finish(p) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    elapsed = time.monotonic() - t0
    data = [json.loads(r.read_text()) for r in results]
    print(f"{2 * per_node} calls, 50 agents, 2 nodes: {elapsed:.1f} s; " + "; ".join(o.strip().splitlines()[-1] for o in outs))
    assert_served_once(data, {"node0": per_node, "node1": per_node})
    assert_no_double_booking(data)
    served = {a: sum(c["result"] == "answered" for d in data for c in d["agents"][a]) for a in AGENTS}
    assert all(served.values()), f"agents never served: {[a for a, n in served.items() if not n]}"
    assert_all_agents_free(be, expected_answered=2 * per_node)


def _held_by(be, worker):
    """Agents with a live claim of `worker`, and `worker`'s members still in the queue."""
    now = time.time()
    agents = sorted(a.name for a in be.agents() if any(c.owner == worker for c in a.live_claims(now)))
    members = sorted(m.id for m in be.members("stress") if m.owner == worker)
    return agents, members


def _member_leases_of(be, worker):
    """When the last lease of `worker`'s queued members lapses (a claim's lapse needs no
    repair: a lapsed claim holds nobody, see live_claims)."""
    return max((m.expires for m in be.members("stress") if m.owner == worker), default=None)


def _wait_until(condition, what):
    deadline = time.monotonic() + HANG_GUARD_S      # a hang guard, not a budget
    while not condition():
        assert time.monotonic() < deadline, f"{what}: still not so after {HANG_GUARD_S} s"
        time.sleep(0.05)


def test_killed_worker_mid_run_frees_its_agents_within_the_lease(shared, redis_url, tmp_path):
    be, prefix, routing = shared
    # The lease is how long a silent worker is trusted; the survivor must renew its own
    # claims within it while starved by 300 calls on a busy machine (3 s and 10 s were
    # not enough). fsapp's default, 30 s; the assertions below do not depend on it.
    lease, per_node = 30.0, 300
    results = {w: tmp_path / f"{w}.json" for w in ("doomed", "survivor")}
    reconciled = []                     # the survivor's published repairs, in order
    be.subscribe(lambda e: reconciled.append(e) if e.get("event") == "reconciled" else None)
    procs = {w: _start(redis_url, prefix, w, per_node, lease, results[w], routing, stay_up=True) for w in results}
    try:
        for proc in procs.values():
            _wait_for_line(proc, "PLACED")
        # mid-run: a round of calls has been answered and the doomed worker holds agents
        _wait_until(lambda: sum(a.calls_answered for a in be.agents()) >= 60 and _held_by(be, "doomed")[0],
                    "the doomed worker holding an agent after 60 answered calls")
        held, waiting = _held_by(be, "doomed")
        procs["doomed"].send_signal(signal.SIGKILL)
        procs["doomed"].wait(timeout=HANG_GUARD_S)
        killed_at, killed_wall = time.monotonic(), time.time()
        lapse = _member_leases_of(be, "doomed")     # it renews nothing any more
        stranded = {m.id for m in be.members("stress") if m.owner == "doomed"}
        # The promise: the survivor's first reconcile pass after the leases lapsed
        # repairs everything the dead worker held (how soon that pass comes is the
        # reconcile interval, lease/2 here; on a busy machine later, and that is no failure).
        if lapse is not None:
            assert lapse <= killed_wall + lease, (lapse - killed_wall, lease)
            _wait_until(lambda: any(e["at"] >= lapse and e["worker"] == "survivor" for e in reconciled),
                        "a reconcile pass of the survivor after the dead worker's leases lapsed")
            removed = {r.split()[1] for e in reconciled for r in e["repairs"]
                       if "lease of worker doomed lapsed, removed" in r}
            assert stranded <= removed, f"not removed on lease lapse: {sorted(stranded - removed)}"
        _wait_until(lambda: time.time() > killed_wall + lease, "the claim lease to pass")
        assert _held_by(be, "doomed") == ([], []), "still held after the first reconcile pass past the lease"
        freed_after = time.monotonic() - killed_at
        print(f"kill -9 with {len(held)} agents held and {len(waiting)} callers queued: "
              f"freed after {freed_after:.1f} s (lease {lease} s)")
        _finish(procs["survivor"])    # the survivor's reconciler ran until here
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)
    survivor = json.loads(results["survivor"].read_text())
    assert_served_once([survivor], {"survivor": per_node})     # the surviving node's callers kept being served
    assert_no_double_booking([survivor])
    after_kill = [c for calls in survivor["agents"].values() for c in calls
                  if c["result"] == "answered" and c["bridged_at"] > killed_wall]
    assert after_kill, "the survivor served nobody after the kill"
    print(f"survivor: {per_node} callers answered, {len(after_kill)} of them bridged after the kill")
    assert_all_agents_free(be)


def test_double_booking_check_catches_an_overlap():
    """The checker itself: two nodes' legs for one agent that overlap must be reported."""
    legs = {a: [] for a in AGENTS}
    node0 = {"worker": "node0", "agents": {**legs, "1001": [
        {"member": "a", "offered_at": 10.0, "answered_at": 10.1, "bridged_at": 10.2, "ended_at": 11.0,
         "result": "answered"}]}}
    node1 = {"worker": "node1", "agents": {**legs, "1001": [
        {"member": "b", "offered_at": 10.5, "answered_at": 10.6, "bridged_at": 10.7, "ended_at": 11.5,
         "result": "answered"}]}}
    with pytest.raises(AssertionError, match="agent 1001 double-booked: a on node0"):
        assert_no_double_booking([node0, node1])
    node1["agents"]["1001"][0].update(offered_at=11.0, answered_at=11.1, bridged_at=11.2, ended_at=12.0)
    assert_no_double_booking([node0, node1])
