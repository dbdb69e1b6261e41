"""Events: ordered headers + optional body, stamped the way FreeSWITCH stamps them.

Header order matters to clients that compare against real FreeSWITCH, so an event is a
list of (name, value) pairs: core headers first (Event-Name ... Event-Sequence), then
what the firing code adds, then channel data (see Channel.event_headers), then the
event-specific tail (Application, DTMF-Digit, ...). Values are raw here and
URL-encoded only when serialised as plain text.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from . import wire

# Event-Name -> (Event-Calling-File, Event-Calling-Function, Event-Calling-Line-Number),
# as seen in the captures of FreeSWITCH 1.10.12 (the rest from its source).
CALLING = {
    "BACKGROUND_JOB": ("mod_event_socket.c", "api_exec", "1572"),
    "CHANNEL_ANSWER": ("switch_channel.c", "switch_channel_perform_mark_answered", "3846"),
    "CHANNEL_PROGRESS_MEDIA": ("switch_channel.c", "switch_channel_perform_mark_pre_answered", "3720"),
    "CHANNEL_BRIDGE": ("switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", "1689"),
    "CHANNEL_UNBRIDGE": ("switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", "1879"),
    "CHANNEL_CALLSTATE": ("switch_channel.c", "switch_channel_perform_set_callstate", "301"),
    "CHANNEL_CREATE": ("switch_core_state_machine.c", "switch_core_session_run", "626"),
    "CHANNEL_ORIGINATE": ("switch_core_state_machine.c", "switch_core_session_run", "632"),
    "CHANNEL_OUTGOING": ("switch_core_session.c", "switch_core_session_outgoing_channel", "768"),
    "CHANNEL_DATA": ("mod_event_socket.c", "parse_command", "2021"),
    "CHANNEL_EXECUTE": ("switch_core_session.c", "switch_core_session_exec", "2944"),
    "CHANNEL_EXECUTE_COMPLETE": ("switch_core_session.c", "switch_core_session_exec", "2967"),
    "CHANNEL_HANGUP": ("switch_channel.c", "switch_channel_perform_hangup", "3445"),
    "CHANNEL_HANGUP_COMPLETE": ("switch_core_state_machine.c", "switch_core_session_reporting_state", "943"),
    "CHANNEL_DESTROY": ("switch_core_session.c", "switch_core_session_perform_destroy", "1658"),
    "CHANNEL_PARK": ("switch_ivr.c", "switch_ivr_park", "1002"),
    "CHANNEL_UNPARK": ("switch_ivr.c", "switch_ivr_park", "1213"),
    "CHANNEL_STATE": ("switch_channel.c", "switch_channel_perform_set_running_state", "2408"),
    "DTMF": ("switch_channel.c", "switch_channel_dequeue_dtmf", "677"),
    "HEARTBEAT": ("switch_core.c", "send_heartbeat", "95"),
    "PLAYBACK_START": ("switch_ivr_play_say.c", "switch_ivr_play_file", "1505"),
    "PLAYBACK_STOP": ("switch_ivr_play_say.c", "switch_ivr_play_file", "2003"),
    "RECORD_START": ("switch_ivr_play_say.c", "switch_ivr_record_file_event", "641"),
    "RECORD_STOP": ("switch_ivr_play_say.c", "switch_ivr_record_file_event", "1005"),
    "API": ("switch_loadable_module.c", "switch_api_execute", "2956"),
}
# `sendevent` fires from mod_event_socket's parse_command; the line number of 1.10.12 was
# not captured, so none is claimed.
SENDEVENT_CALLING = ("mod_event_socket.c", "parse_command", "0")

# switch_event.c EVENT_NAMES: what `sendevent <name>` accepts (switch_name_event, case-blind,
# "SWITCH_EVENT_" prefix allowed); another name leaves the event a CLONE.
EVENT_NAMES = frozenset("""
CUSTOM CLONE CHANNEL_CREATE CHANNEL_DESTROY CHANNEL_STATE CHANNEL_CALLSTATE CHANNEL_ANSWER
CHANNEL_HANGUP CHANNEL_HANGUP_COMPLETE CHANNEL_EXECUTE CHANNEL_EXECUTE_COMPLETE CHANNEL_HOLD
CHANNEL_UNHOLD CHANNEL_BRIDGE CHANNEL_UNBRIDGE CHANNEL_PROGRESS CHANNEL_PROGRESS_MEDIA
CHANNEL_OUTGOING CHANNEL_PARK CHANNEL_UNPARK CHANNEL_APPLICATION CHANNEL_ORIGINATE CHANNEL_UUID
API LOG INBOUND_CHAN OUTBOUND_CHAN STARTUP SHUTDOWN PUBLISH UNPUBLISH TALK NOTALK SESSION_CRASH
MODULE_LOAD MODULE_UNLOAD DTMF MESSAGE PRESENCE_IN NOTIFY_IN PRESENCE_OUT PRESENCE_PROBE
MESSAGE_WAITING MESSAGE_QUERY ROSTER CODEC BACKGROUND_JOB DETECTED_SPEECH DETECTED_TONE
PRIVATE_COMMAND HEARTBEAT TRAP ADD_SCHEDULE DEL_SCHEDULE EXE_SCHEDULE RE_SCHEDULE RELOADXML NOTIFY
PHONE_FEATURE PHONE_FEATURE_SUBSCRIBE SEND_MESSAGE RECV_MESSAGE REQUEST_PARAMS CHANNEL_DATA GENERAL
COMMAND SESSION_HEARTBEAT CLIENT_DISCONNECTED SERVER_DISCONNECTED SEND_INFO RECV_INFO
RECV_RTCP_MESSAGE SEND_RTCP_MESSAGE CALL_SECURE NAT RECORD_START RECORD_STOP PLAYBACK_START
PLAYBACK_STOP CALL_UPDATE FAILURE SOCKET_DATA MEDIA_BUG_START MEDIA_BUG_STOP CONFERENCE_DATA_QUERY
CONFERENCE_DATA CALL_SETUP_REQ CALL_SETUP_RESULT CALL_DETAIL DEVICE_STATE TEXT SHUTDOWN_REQUESTED
""".split())


@dataclass
class Event:
    name: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: str | None = None
    subclass: str | None = None
    uuid: str | None = None  # channel the event belongs to (for myevents / filters)

    def get(self, key: str) -> str | None:
        for k, v in self.headers:
            if k == key:
                return v
        return None

    def plain(self) -> bytes:
        return wire.event_plain(self.headers, self.body)

    def json(self) -> bytes:
        return wire.event_json(self.headers, self.body)


def local_stamp(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


def gmt_stamp(epoch: float) -> str:
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(epoch))


class EventFactory:
    """Makes the core header block; one per Switch (its Core-UUID and sequence)."""

    def __init__(self, core_uuid: str, hostname: str, ipv4: str, ipv6: str, clock):
        self.core_uuid = core_uuid
        self.hostname = hostname
        self.ipv4 = ipv4
        self.ipv6 = ipv6
        self.clock = clock
        self._seq = 0

    def new(self, name: str, subclass: str | None = None, uuid: str | None = None,
            calling: tuple[str, str, str] | None = None) -> Event:
        self._seq += 1
        now = self.clock.now()
        calling = calling or CALLING.get(name, ("switch_event.c", "switch_event_fire_detailed", "0"))
        headers = [("Event-Name", name)]
        if subclass:
            headers.append(("Event-Subclass", subclass))
        headers += [
            ("Core-UUID", self.core_uuid),
            ("FreeSWITCH-Hostname", self.hostname),
            ("FreeSWITCH-Switchname", self.hostname),
            ("FreeSWITCH-IPv4", self.ipv4),
            ("FreeSWITCH-IPv6", self.ipv6),
            ("Event-Date-Local", local_stamp(now)),
            ("Event-Date-GMT", gmt_stamp(now)),
            ("Event-Date-Timestamp", str(int(now * 1_000_000))),
            ("Event-Calling-File", calling[0]),
            ("Event-Calling-Function", calling[1]),
            ("Event-Calling-Line-Number", calling[2]),
            ("Event-Sequence", str(self._seq)),
        ]
        return Event(name, headers, subclass=subclass, uuid=uuid)
