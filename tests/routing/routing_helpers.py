"""Helpers shared by the routing tests."""
from fsapp.routing.model import AgentConfig, AgentStatus


def add_agents(backend, n, now=0.0, status=AgentStatus.AVAILABLE, **fields):
    names = []
    for i in range(n):
        name = f"{1001 + i}"
        backend.put_agent(AgentConfig(name, contact=f"user/{name}", status=status, **fields), now)
        names.append(name)
    return names


class Clock:
    """A settable clock for the dispatcher: call it for the time, set `.t` to move it."""
    def __init__(self, t=1000.0):
        self.t = t

    def __call__(self):
        return self.t


def seeded_dispatcher(backend, routing_yaml: str):
    """A Dispatcher for worker w1 over `routing_yaml` (seeded into `backend` 100 s before
    the clock's start) and its clock."""
    from fsapp.routing.config import loads_routing, seed_backend
    from fsapp.routing.dispatcher import Dispatcher
    cfg = loads_routing(routing_yaml, "test.yaml")
    clock = Clock()
    seed_backend(cfg, backend, clock.t - 100)
    return Dispatcher(backend, cfg, "w1", lease=30, clock=clock), clock
