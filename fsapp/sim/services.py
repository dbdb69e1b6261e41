"""The switch as channels, endpoints and applications see it: a narrow interface.

Everything below the dialplan (channel.py, legs.py, bridging.py, agents.py, the event
socket session modules and every application in fsapp/sim/apps) reaches the switch only
as `ch.services` (or a listener's `services`), and only through the members named here.
tests/test_architecture.py checks it: an attribute of `.services` not in SERVICES fails.
The Switch (fsapp/sim/switch.py) is the one implementation; a test may pass another.
"""
from __future__ import annotations

from typing import Any, Protocol


class Services(Protocol):
    # time and events
    clock: Any                          # RealClock | VirtualClock (fsapp/sim/clock.py)
    events: Any                         # EventFactory: new events with the switch's core headers
    def fire(self, ev) -> None: ...     # deliver to subscribed connections and scripted callers

    # channels and routing
    channels: dict                      # uuid -> Channel, the live ones
    applications: dict                  # name -> fn(channel, arg): this switch's dialplan applications
    def next_session_id(self) -> int: ...
    def route(self, ch) -> None: ...    # the program of a leg that hits the dialplan
    def route_transfer(self, ch, ext: str, ctx: str) -> None: ...
    def expand_api(self, cmd: str, args: str) -> str: ...      # ${cmd args} in an argument

    # endpoints
    agents: dict                        # scripted endpoints by number (user/N, sofia/gateway/GW/N)
    trunks: dict                        # gateway name -> another emulated node (Switch.add_trunk)
    ipv4: str
    def record_originate(self, kind: str, raw: str, variables: dict, dial: str) -> list[str]: ...
    def note_unreachable(self, text: str) -> None: ...

    # media and phrases
    sound_prefix: str
    say_languages: dict                 # the phrase configuration (fsapp/sim/phrases.py)
    ivr_menus: dict                     # ivr.conf's <menu> elements by name (fsapp/sim/ivrconf.py)
    def log_line(self, level: int, file: str, func: str, line: int, text: str) -> None: ...

    # event socket sessions (mod_event_socket's side, shared with the socket application)
    api: Any                            # Api: .execute(cmd, args) -> body
    wire_log: list | None
    def listen(self, listener) -> None: ...
    def unlisten(self, listener) -> None: ...
    def log_to(self, conn, level: int | None) -> None: ...


def _members() -> frozenset[str]:
    names = set(getattr(Services, "__annotations__", {}))
    names |= {n for n, v in vars(Services).items() if callable(v) and not n.startswith("_")}
    return frozenset(names)


SERVICES: frozenset[str] = _members()
