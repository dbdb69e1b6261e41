"""A small dialplan: regex on the destination number -> one route.

Routes: Socket("host:port async full"), Park(), Echo(), Agent("1001") (bridge to a
scripted agent), Apps([("answer", ""), ("playback", "/x.wav"), ...]).
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path


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


@dataclass
class XmlExtension(Route):
    """One <extension> of a rendered XML dialplan (conf/dialplan/default/*.xml): every
    <condition> must match (FreeSWITCH's default break="on-false"), then the actions run
    in order; a `socket` that cannot connect returns and the next action runs, as
    mod_event_socket does."""
    name: str
    conditions: list = field(default_factory=list)   # (field, compiled regex)
    steps: list = field(default_factory=list)

    def matches(self, destination: str, ch=None) -> bool:
        for name, regex in self.conditions:
            if name == "destination_number":
                value = destination
            elif name.startswith("${") and ch is not None:
                value = ch.expand(name)
            else:
                value = ch.get_var(name) if ch is not None else ""
            if not regex.search(value or ""):
                return False
        return True

    def apps(self):
        return list(self.steps)


def parse_xml_dialplan(text: str, where: str = "dialplan") -> list[XmlExtension]:
    """The extensions of an <include> fragment, as FreeSWITCH's XML dialplan reads them."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise ValueError(f"{where}: not well-formed XML: {exc}") from None
    extensions = []
    for ext in root.iter("extension"):
        conditions, steps = [], []
        for cond in ext.findall("condition"):
            try:
                conditions.append((cond.get("field", ""), re.compile(cond.get("expression", ""))))
            except re.error as exc:
                raise ValueError(f"{where}: extension {ext.get('name')!r}: bad expression: {exc}") from None
            steps += [(a.get("application", ""), a.get("data", "")) for a in cond.findall("action")]
        extensions.append(XmlExtension(ext.get("name", ""), conditions, steps))
    return extensions


class Dialplan:
    def __init__(self):
        self.routes: list[tuple[re.Pattern, Route]] = []
        # extensions read from conf_dir/dialplan/default/*.xml (Switch(conf_dir=...)),
        # replaced on each `reloadxml`; tried after the routes added in code
        self.xml: list[XmlExtension] = []
        # Apps every routed call runs first (the captures' vanilla config runs
        # `set open=true` and four `log` lines); empty by default.
        self.preamble: list[tuple[str, str]] = []

    def add(self, pattern: str, route: Route) -> None:
        if not isinstance(route, Route):
            raise TypeError(f"dialplan.add({pattern!r}, ...): route must be Socket/Park/Echo/Agent/Apps, "
                            f"got {type(route).__name__}")
        self.routes.append((re.compile(pattern), route))

    def match(self, destination: str, ch=None) -> Route | None:
        for pattern, route in self.routes:
            if pattern.search(destination):
                return route
        for ext in self.xml:
            if ext.matches(destination, ch):
                return ext
        return None

    def load_conf(self, conf_dir) -> int:
        """Read conf_dir/dialplan/default/*.xml (what the vanilla default.xml includes);
        all or nothing: a broken file leaves the loaded dialplan as it was."""
        found = []
        for path in sorted((Path(conf_dir) / "dialplan" / "default").glob("*.xml")):
            found += parse_xml_dialplan(path.read_text(encoding="utf-8"), str(path))
        self.xml = found
        return len(found)


def run_dialplan(ch, dialplan: Dialplan) -> None:
    """What a leg that hits the dialplan runs (CS_ROUTING -> CS_EXECUTE); the switch makes
    it the leg's program (Switch.route)."""
    ch.set_state("CS_ROUTING")
    ch.set_var("call_uuid", ch.uuid)   # re-set when routing starts (moves to the end)
    if ch.status.call_state == "DOWN":
        ch.set_call_state("RINGING")
    route = dialplan.match(ch.profile.destination, ch)
    if route is None:
        known = ", ".join(p.pattern for p, _ in dialplan.routes) or "none"
        ch.services.note_unreachable(f"{ch.name}: no dialplan entry matches {ch.profile.destination!r} "
                                   f"(the emulator's dialplan: {known}; add one with dialplan.add)")
        ch.hangup("NO_ROUTE_DESTINATION")
        return
    ch.set_state("CS_EXECUTE")
    ch.run.extension = list(dialplan.preamble + route.apps())
    ch.run_extension()
