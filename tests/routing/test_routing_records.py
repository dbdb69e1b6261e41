"""What the router records for the reports besides queue events: agent status changes,
including the breaks the backend decides itself (max-no-answer, available on demand),
on the memory and the Redis backend."""
import time

import gevent

from fsapp.routing.config import loads_routing, seed_backend
from fsapp.routing.model import AgentStatus, OfferResult
from fsapp.routing.router import Router

CONFIG = """
queues:
  q: {}
agents:
  "1001": {contact: user/1001, status: Available}
  "1002": {contact: user/1002, status: Available (On Demand)}
tiers:
  - {queue: q, agent: "1001"}
  - {queue: q, agent: "1002"}
"""


class NoSwitch:
    host, port, command_timeout = "127.0.0.1", 0, 1.0


class RowStore:
    def __init__(self):
        self.rows = []

    def write(self, kind, row, key):
        from fsapp.store.rows import prepare_row
        prepare_row(kind, dict(row), key)        # the real table's columns and types
        self.rows.append((kind, row, key))
        return "written"


def wait_rows(store, n):
    with gevent.Timeout(10):
        while len(store.rows) < n:
            gevent.sleep(0.01)


def test_agent_status_changes_and_backend_breaks_are_recorded(backend):
    cfg = loads_routing(CONFIG, "r.yaml")
    now = time.time()
    seed_backend(cfg, backend, now)
    store = RowStore()
    router = Router(cfg, backend, NoSwitch(), worker_id="me", store=store)
    unsubscribe = backend.subscribe(router.records.on_state_event)    # what Router.start() wires
    try:
        backend.set_status("1001", AgentStatus.ON_BREAK, now + 1)
        wait_rows(store, 1)
        assert backend.claim("1002", "m1", "me", 30, now + 2)
        backend.release("1002", "m1", "me", OfferResult.COMPLETED, now + 3, 60.0)   # one call, then a break
        wait_rows(store, 2)
        got = sorted((row["agent_id"], row["status"], row["reason"]) for _, row, _ in store.rows)
        assert got == [("1001", "On Break", None), ("1002", "On Break", "available-on-demand")]
        backend.release("1001", "nobody", "me", OfferResult.COMPLETED, now + 4)      # no claim: no event
        gevent.sleep(0.2)
        assert len(store.rows) == 2
    finally:
        unsubscribe()
