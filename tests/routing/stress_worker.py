"""A routing worker process for the multi-process stress and crash tests.

    python stress_worker.py REDIS_URL PREFIX WORKER_ID calls N_CALLS
    python stress_worker.py REDIS_URL PREFIX WORKER_ID hold N_AGENTS LEASE

`calls`: N near-simultaneous callers join the queue through this process's Dispatcher
(event-driven, claims through the Lua script), hold the agent a few ms and release it. A guard counter per agent (INCR on claim, DECR on release) detects any
double booking, which is recorded in PREFIX+"violations".
`hold`: claim N agents, keep renewing the leases, print HOLDING and wait to be killed.
"""
from gevent import monkey

monkey.patch_all()

import random  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
import gevent.event  # noqa: E402

from fsapp.routing.config import RoutingConfig  # noqa: E402
from fsapp.routing.dispatcher import Assignment, Dispatcher  # noqa: E402
from fsapp.routing.model import Member, OfferResult, Queue  # noqa: E402
from fsapp.routing.redis_backend import RedisBackend  # noqa: E402


# Waits here are decided by events; HANG_GUARD_S only turns a hang into a failure (the
# suite must pass on a busy machine, so no outcome hangs on a wall-clock budget).
HANG_GUARD_S = 1500.0


def run_calls(backend: RedisBackend, worker: str, n: int) -> None:
    config = RoutingConfig(queues={"stress": Queue("stress", strategy="longest-idle-agent")})
    dispatcher = Dispatcher(backend, config, worker, lease=10.0).start()
    r = backend.r

    def caller(i: int) -> None:
        mid = f"{worker}-{i}"
        rng = random.Random(mid)
        ticket = dispatcher.join(Member(mid, "stress", joined_at=time.time()))
        assignment = ticket.wait(timeout=HANG_GUARD_S)
        if not isinstance(assignment, Assignment):
            r.rpush(backend.k("violations"), f"{mid}: no agent ({assignment!r})")
            return
        got = assignment.agents[0].name
        guard = r.incr(backend.k("guard", got))
        if guard != 1:
            r.rpush(backend.k("violations"), f"{got} held by {guard} members ({mid})")
        backend.answered(got, mid, worker, 10.0, time.time())
        gevent.sleep(rng.uniform(0.001, 0.015))
        r.decr(backend.k("guard", got))
        backend.release(got, mid, worker, OfferResult.COMPLETED, time.time(), 0.01)
        dispatcher.leave(mid)
        r.incr(backend.k("done"))

    jobs = [gevent.spawn(caller, i) for i in range(n)]
    gevent.joinall(jobs, timeout=HANG_GUARD_S, raise_error=True)
    dispatcher.stop()
    print(f"passes {dispatcher.passes}", flush=True)
    if not all(j.ready() for j in jobs):
        sys.exit(f"calls did not finish in {HANG_GUARD_S} s")


def run_hold(backend: RedisBackend, worker: str, n: int, lease: float) -> None:
    held = []
    for agent in backend.agents():
        if len(held) == n:
            break
        mid = f"{worker}-hold-{agent.name}"
        if backend.claim(agent.name, mid, worker, lease, time.time()):
            backend.answered(agent.name, mid, worker, lease, time.time())
            held.append((agent.name, mid))
    print(f"HOLDING {len(held)}", flush=True)
    while True:  # a live worker keeps its leases; only a crash lets them lapse
        gevent.sleep(lease / 4)
        renewed_at = time.time()
        for agent, mid in held:
            backend.renew(agent, mid, worker, lease, renewed_at)
        print(f"RENEWED {renewed_at!r}", flush=True)   # the test checks the leases as of then


def main(argv):
    url, prefix, worker, mode = argv[:4]
    backend = RedisBackend.from_url(url, prefix=prefix)
    if mode == "calls":
        run_calls(backend, worker, int(argv[4]))
    elif mode == "hold":
        run_hold(backend, worker, int(argv[4]), float(argv[5]))
    else:
        sys.exit(f"unknown mode {mode}")
    backend.close()


if __name__ == "__main__":
    main(sys.argv[1:])
