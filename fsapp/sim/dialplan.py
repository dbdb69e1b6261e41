"""A small dialplan: regex on the destination number -> one route.

Routes: Socket("host:port async full"), Park(), Echo(), Agent("1001") (bridge to a
scripted agent), Apps([("answer", ""), ("playback", "/x.wav"), ...]).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field


class Route:
    def apps(self) -> list[tuple[str, str]]:
        raise NotImplementedError


@dataclass
class Socket(Route):
    target: str  # "127.0.0.1:8084 async full"

    def __post_init__(self):
        host, _, port = self.target.split()[0].rpartition(":") if self.target.split() else ("", "", "")
        if not host or not port.isdigit():
            raise ValueError(f"Socket({self.target!r}): expected 'host:port async full'")

    def apps(self):
        return [("socket", self.target)]


@dataclass
class Park(Route):
    def apps(self):
        return [("park", "")]


@dataclass
class Echo(Route):
    def apps(self):
        return [("answer", ""), ("echo", "")]


@dataclass
class Agent(Route):
    agent_id: str

    def apps(self):
        return [("bridge", f"user/{self.agent_id}")]


@dataclass
class Apps(Route):
    steps: list[tuple[str, str]] = field(default_factory=list)

    def apps(self):
        return list(self.steps)


class Dialplan:
    def __init__(self):
        self.routes: list[tuple[re.Pattern, Route]] = []
        # Apps every routed call runs first (the captures' vanilla config runs
        # `set open=true` and four `log` lines); empty by default.
        self.preamble: list[tuple[str, str]] = []

    def add(self, pattern: str, route: Route) -> None:
        if not isinstance(route, Route):
            raise TypeError(f"dialplan.add({pattern!r}, ...): route must be Socket/Park/Echo/Agent/Apps, "
                            f"got {type(route).__name__}")
        self.routes.append((re.compile(pattern), route))

    def match(self, destination: str) -> Route | None:
        for pattern, route in self.routes:
            if pattern.search(destination):
                return route
        return None


def run_dialplan(ch) -> None:
    """The program of a leg that hits the dialplan (CS_ROUTING -> CS_EXECUTE)."""
    ch.set_state("CS_ROUTING")
    ch.set_var("call_uuid", ch.uuid)   # re-set when routing starts (moves to the end)
    if ch.call_state == "DOWN":
        ch.set_call_state("RINGING")
    route = ch.switch.dialplan.match(ch.destination)
    if route is None:
        known = ", ".join(p.pattern for p, _ in ch.switch.dialplan.routes) or "none"
        ch.switch.note_unreachable(f"{ch.name}: no dialplan entry matches {ch.destination!r} "
                                   f"(the emulator's dialplan: {known}; add one with dialplan.add)")
        ch.hangup("NO_ROUTE_DESTINATION")
        return
    ch.set_state("CS_EXECUTE")
    ch.extension = list(ch.switch.dialplan.preamble + route.apps())
    run_extension(ch)


def run_extension(ch) -> None:
    """Run the rest of the channel's extension (CS_EXECUTE). Stops when the channel is
    hung up, transferred or sent elsewhere (ch.program set, e.g. park_after_bridge); a
    uuid_bridge that ends without park/hangup_after_bridge comes back here and goes on
    with the application after the one it interrupted, as FreeSWITCH does."""
    while ch.extension and not (ch.hungup or ch.transfer_to or ch.program is not None):
        app, arg = ch.extension.pop(0)
        ch.execute(app, arg)
