"""`sendevent <EVENT-NAME>`: an ESL client fires its own event (mod_event_socket).

    sendevent CUSTOM
    Event-Subclass: fsapp::queue
    Action: member-answered

FreeSWITCH turns the command's headers into an event and fires it to every listener
subscribed to it (CUSTOM ones by Event-Subclass: `event plain CUSTOM fsapp::queue`).
What it adds, in this order after the client's headers: `Command` goes first (the
command line itself, as read_packet stores it), then `Event-UUID` (also the reply:
`+OK <Event-UUID>`), the Event-Subclass moved to the end (switch_event_set_subclass_name),
then the core headers of switch_event_prep_for_delivery (Event-Name ... Event-Sequence),
which replace any the client sent under the same names. A `Unique-ID` naming a live
channel hands the event to that channel's endpoint instead (SIP INFO/NOTIFY in
FreeSWITCH; nothing to deliver here): it is not fired to listeners.
"""
from __future__ import annotations

import logging
import uuid as uuidlib

from . import wire
from .events import EVENT_NAMES, SENDEVENT_CALLING

log = logging.getLogger("fsapp.sim")

# Stamped by switch_event_prep_for_delivery; a client's value under these names is replaced.
CORE_HEADERS = {"event-name", "core-uuid", "freeswitch-hostname", "freeswitch-switchname",
                "freeswitch-ipv4", "freeswitch-ipv6", "event-date-local", "event-date-gmt",
                "event-date-timestamp", "event-calling-file", "event-calling-function",
                "event-calling-line-number", "event-sequence"}


def event_name(rest: str) -> str:
    """switch_name_event(): case-blind, optional SWITCH_EVENT_ prefix; unknown -> CLONE."""
    name = rest.strip().split(" ")[0].upper() if rest.strip() else ""
    if name.startswith("SWITCH_EVENT_"):
        name = name[len("SWITCH_EVENT_"):]
    return name if name in EVENT_NAMES else "CLONE"


def run_sendevent(conn, first_line: str, rest: str, headers: list[tuple[str, str]], body: str) -> None:
    """Reply on conn, then fire: the reply precedes the events a command causes (obs. 13)."""
    reply, event = build_event(conn.services, first_line, rest, headers, body)
    conn.send(wire.command_reply(reply))
    if event is not None:
        conn.services.fire(event)


def build_event(services, first_line: str, rest: str, headers: list[tuple[str, str]], body: str):
    """(Reply-Text `+OK <Event-UUID>`, the event to fire or None)."""
    name = event_name(rest)
    event_uuid = str(uuidlib.uuid4())
    lower = {k.lower(): v for k, v in headers}
    subclass = lower.get("event-subclass") if name == "CUSTOM" else None
    target = lower.get("unique-id")
    if target and target in services.channels and not services.channels[target].status.hungup:
        log.debug("sim: sendevent %s for channel %s goes to its endpoint, not to listeners", name, target)
        return f"+OK {event_uuid}", None
    own = [(k, v) for k, v in headers
           if k.lower() not in CORE_HEADERS and k.lower() != "content-length"
           and not (subclass is not None and k.lower() == "event-subclass")]
    ev = services.events.new(name, subclass=subclass, uuid=target or None, calling=SENDEVENT_CALLING)
    core = [(k, v) for k, v in ev.headers if k != "Event-Subclass"]
    ev.headers = [("Command", first_line)] + own + [("Event-UUID", event_uuid)] + \
        ([("Event-Subclass", subclass)] if subclass is not None else []) + core
    ev.body = body or None
    return f"+OK {event_uuid}", ev
