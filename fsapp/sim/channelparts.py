"""The parts of one emulated leg's state, each what one concern of FreeSWITCH keeps:

- ChannelState: the channel's state machine as its events report it (CS_* state and its
  number, call state, answer state, hold, hangup and its cause) and the two moments
  other greenlets wait for (media up, reporting done);
- Variables: the channel variables;
- CallerProfile: switch_caller_profile_t, who called whom and the profile's times (the
  Caller-* / Other-Leg-* headers of every channel event are made from it);
- Links: the legs this one is tied to (its loopback partner, the bridge partner, the
  leg that dialled it, the Other-Leg of its events);
- Run: what runs on the leg's own greenlet (its program, the rest of its dialplan
  extension, the running applications) and the requests other greenlets leave for it
  (transfer, break, leave the park loop).

fsapp/sim/channel.py composes them with the media queue (fsapp/sim/mediaqueue.py) and
changes them as FreeSWITCH does; nothing here fires events.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

TIME_FIELDS = ["Channel-Created-Time", "Channel-Answered-Time", "Channel-Progress-Time",
               "Channel-Progress-Media-Time", "Channel-Hangup-Time", "Channel-Transfer-Time",
               "Channel-Resurrect-Time", "Channel-Bridged-Time", "Channel-Last-Hold", "Channel-Hold-Accum"]


@dataclass
class ChannelState:
    answered: Any                  # gevent Event: set on answer or pre-answer (media up), or hangup
    ended: Any                     # gevent Event: set after CHANNEL_HANGUP_COMPLETE
    state: str = "CS_NEW"
    state_number: int = 0
    call_state: str = "DOWN"
    answer_state: str = "ringing"
    hangup_cause: str | None = None
    hungup: bool = False
    holding: bool = False          # CF_LEG_HOLDING: put on hold by its phone or uuid_hold


class Variables(dict):
    """Channel variables in insertion order; a re-set moves a variable to the end, as
    switch_channel_set_variable() does (it deletes, then appends); None or "" unsets."""

    def set(self, name: str, value) -> None:
        self.pop(name, None)
        if value is not None and value != "":
            self[name] = str(value)


@dataclass
class CallerProfile:
    destination: str
    context: str
    cid_num: str
    cid_name: str
    callee_name: str
    callee_num: str
    source: str                    # the endpoint module: mod_loopback, mod_sofia, mod_null
    created: int                   # Profile-Created-Time, microseconds
    hit_dialplan: bool = True      # Channel-HIT-Dialplan: the leg was routed by the dialplan
    transfer_source: str = ""      # Caller-Transfer-Source once transferred (e.g. by uuid_bridge)
    orig_cid_num: str = ""
    orig_cid_name: str = ""
    times: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TIME_FIELDS, 0))

    def __post_init__(self):
        self.orig_cid_num, self.orig_cid_name = self.cid_num, self.cid_name
        self.times["Channel-Created-Time"] = self.created


@dataclass
class Links:
    peer: Any = None               # loopback partner (the leg that hears this one)
    other: Any = None              # Other-Leg-* of events (bridge partner)
    other_type: str = "originatee"
    bridged_to: Any = None
    originator: Any = None         # leg that dialled this one (bridge)
    loopback: bool = False         # one of a loopback/ pair (is_loopback=1 in its report)
    bridged: Any = None            # gevent Event: set once a bridge joins this leg (bridging.connect)


@dataclass
class Run:
    program: Callable | None = None          # callable(channel) run by the channel's greenlet
    extension: list[tuple[str, str]] = field(default_factory=list)   # dialplan apps not yet run
    app_stack: list[str] = field(default_factory=list)   # applications running, innermost last
    # messages sent with event-lock now running: while one is, no queued message runs
    # nested (switch_ivr_parse_event sets CF_EVENT_LOCK, which
    # switch_core_session_dequeue_private_event checks)
    event_locks: int = 0
    app_last: tuple[str, str] | None = None   # last_app / last_arg of the report
    digits_dialed: list[str] = field(default_factory=list)
    transfer_to: tuple[str, str] | None = None   # (extension, context) asked for by another greenlet
    break_requested: bool = False            # uuid_break: the running application returns
    break_out: bool = False                  # the controlling socket closed: leave the park loop
    park_fired: bool = False                 # CHANNEL_PARK sent for the current park
    awaiting_app: bool = False               # parked, an outbound socket app's turn to send a command
    # A hangup from another thread reaches a running app on its next 20 ms media frame.
    # Off by default (the emulator's apps return at once); mod_callcenter's agent legs use
    # it, as captured (callcenter_queue_loopback_agent_fail).
    frame_notice: bool = False
    finish_gate: Any = None                  # gevent Event: CS_HANGUP/HANGUP_COMPLETE wait for it (bounded)
    reporting_hooks: tuple = ()              # callables(channel) run right after CHANNEL_HANGUP_COMPLETE
    greenlet: Any = None
