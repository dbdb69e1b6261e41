"""What reaches a channel from outside while its own greenlet runs: queued messages
(sendmsg, uuid_broadcast), DTMF, and the wake-up its waits block on.

Split from the channel's state (fsapp/sim/channel.py) so that what other greenlets may
touch is one small object: they push here and set `wake`; only the channel's greenlet
pops (Channel.take_dtmf fires the DTMF event, Channel.run_message runs a message).
"""
from __future__ import annotations

import collections

from gevent.event import Event as GEvent


class Message:
    """A queued sendmsg / broadcast: executed by the channel's own greenlet."""

    def __init__(self, command: str, headers: dict, event_lock: bool, body: str = ""):
        self.command = command
        self.headers = headers
        self.event_lock = event_lock
        self.body = body


class MediaQueue:
    def __init__(self):
        self.msgs: collections.deque[Message] = collections.deque()
        self.dtmf: collections.deque[tuple[str, int, str]] = collections.deque()   # (digit, ms, source)
        self.wake = GEvent()

    def push_dtmf(self, digits: str, source: str, duration: int) -> None:
        for d in digits:
            self.dtmf.append((d, duration, source))
        self.wake.set()

    def push_message(self, msg: Message) -> None:
        self.msgs.append(msg)
        self.wake.set()

    def nested_message_ready(self, locked: bool) -> bool:
        """A message may run inside the running app: one is queued and no message sent
        with event-lock is running (FreeSWITCH: CF_EVENT_LOCK, set while such a message
        runs, stops switch_core_session_dequeue_private_event; an app the dialplan
        started, or a message without event-lock, lets queued messages run nested)."""
        return bool(self.msgs) and not locked
