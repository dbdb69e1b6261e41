"""The rules of an inbound Event Socket client, without I/O (sans-IO): messages in,
commands and results out. inbound.py's `InboundClient` is the gevent driver: it connects,
sends what this returns, waits with deadlines, sleeps the back-off, runs user handlers.
Nothing here reads a socket, a clock or a random source, or imports gevent.

Auth (captures, observation 9): FreeSWITCH greets with auth/request (or a
text/rude-rejection when the client's address is not allowed); `auth <password>` is
answered `+OK accepted` or `-ERR invalid`.

Re-subscription: the wanted subscriptions and filters are kept here, so each new
connection gets them once, filters first (`restore_commands`).

bgapi: the command carries its own `Job-UUID`; its BACKGROUND_JOB (with that Job-UUID) is
the result. A server that ignores the header names its own in the reply (14); a job that
finished before its waiter knew that id is kept (`orphan`) until claimed.
"""
from __future__ import annotations

import uuid as uuid_mod
from typing import Callable

from fsapp.esl import wire
from fsapp.esl.errors import AuthError, CommandError
from fsapp.esl.wire import Event, Message

ALWAYS_SUBSCRIBED = ("BACKGROUND_JOB", "HEARTBEAT")
MAX_ORPHAN_JOBS = 1000


def event_words(names: set[str]) -> str:
    """Event names for `event`/`nixevent`, CUSTOM and its subclasses last: FreeSWITCH takes
    every word after CUSTOM as a subclass, so `CUSTOM fsapp::queue HEARTBEAT` would
    silently drop HEARTBEAT. Subclass names are the ones with '::' (callcenter::info)."""
    subclasses = sorted(n for n in names if "::" in n)
    plain = sorted(n for n in names if "::" not in n and n != "CUSTOM")
    if subclasses or "CUSTOM" in names:
        plain += ["CUSTOM"] + subclasses
    return " ".join(plain)


def reconnect_delay(attempt: int, base: float, cap: float, jitter: float) -> float:
    """Seconds before reconnect attempt `attempt` (0: at once): `base * 2**attempt`,
    capped at `cap`, scaled by `jitter` in [0, 1) to 50-100 % so many clients do not
    reconnect in step."""
    if not attempt:
        return 0.0
    return min(cap, base * (2 ** attempt)) * (0.5 + jitter / 2)


def checked(reply: Message, what: str) -> Message:
    """The reply, or CommandError when it is not +OK."""
    if not reply.ok:
        raise CommandError(what, reply.reply_text or reply.body)
    return reply


class InboundSession:
    """What one client wants from FreeSWITCH (subscriptions, filters) and what it waits for
    (bgapi jobs), across connections."""

    def __init__(self, password: str, event_format: str = "plain",
                 new_id: Callable[[], str] = lambda: str(uuid_mod.uuid4())):
        self._password = password
        self.event_format = event_format
        self._new_id = new_id
        self.events: set[str] = set()               # wanted subscriptions
        self.filters: list[tuple[str, str]] = []
        self._jobs: dict[str, object] = {}          # Job-UUID -> waiter
        self._orphan_jobs: dict[str, Event] = {}    # finished before their waiter knew them

    # -- a new connection ------------------------------------------------------------------
    @staticmethod
    def greeting(msg: Message) -> bool:
        """True for the auth/request that opens a connection; AuthError for a
        text/rude-rejection; False for anything else."""
        if msg.content_type == wire.AUTH_REQUEST:
            return True
        if msg.content_type == "text/rude-rejection":
            raise AuthError(f"FreeSWITCH rejected the connection: {msg.body.strip()}")
        return False

    def auth_command(self) -> bytes:
        return wire.encode_command(f"auth {self._password}")

    @staticmethod
    def check_auth(reply: Message, where: str) -> None:
        if not reply.reply_text.startswith("+OK"):
            raise AuthError(f"{where} refused the password: {reply.reply_text} "
                            f"(check [esl] password / FSAPP_ESL_PASSWORD)")

    def restore_commands(self) -> list[tuple[bytes, str]]:
        """(frame, what) to send once on each new connection: filters, then subscriptions.
        Filters first: once `event` is on, every channel's events flow until a filter
        narrows them, so the other order lets unwanted events in between (mod_event_socket
        applies filters to whatever is subscribed, in either order)."""
        frames = [(wire.encode_command(f"filter {header} {value}"), "filter") for header, value in self.filters]
        events = event_words(set(ALWAYS_SUBSCRIBED) | self.events)
        frames.append((wire.encode_command(f"event {self.event_format} {events}"), "event"))
        return frames

    # -- what the client wants (each returns the command to send now, when connected) -------
    def subscribe(self, *event_names: str) -> str:
        new = {n for name in event_names for n in name.split()}
        self.events |= new
        return f"event {self.event_format} {event_words(new)}"

    def unsubscribe(self, *event_names: str) -> str | None:
        gone = {n for name in event_names for n in name.split()} - set(ALWAYS_SUBSCRIBED)
        self.events -= gone
        return f"nixevent {event_words(gone)}" if gone else None

    def add_filter(self, header: str, value: str) -> str:
        self.filters.append((header, value))
        return f"filter {header} {value}"

    def delete_filter(self, header: str, value: str) -> str:
        self.filters.remove((header, value))
        return f"filter delete {header} {value}"

    # -- bgapi -----------------------------------------------------------------------------
    def start_job(self, command: str, waiter) -> tuple[str, bytes]:
        """(Job-UUID, the `bgapi` frame) for a background command; its BACKGROUND_JOB is
        handed back with `waiter`."""
        job_id = self._new_id()
        self._jobs[job_id] = waiter
        return job_id, wire.encode_command(f"bgapi {command}", {"Job-UUID": job_id})

    def job_accepted(self, job_id: str, reply: Message, waiter) -> tuple[str, Event | None]:
        """After the +OK reply: (the Job-UUID to wait for, its BACKGROUND_JOB if it already
        came). A server that ignores our Job-UUID names its own in the reply (14)."""
        granted = reply.headers.get("Job-UUID") or job_id
        if granted == job_id:
            return job_id, None
        self._jobs.pop(job_id, None)
        orphan = self._orphan_jobs.pop(granted, None)
        if orphan is None:
            self._jobs[granted] = waiter
        return granted, orphan

    def forget_job(self, job_id: str) -> None:
        self._jobs.pop(job_id, None)

    def fail_jobs(self) -> list:
        """The connection is gone: every job's waiter (the jobs are lost with it)."""
        jobs, self._jobs = self._jobs, {}
        return list(jobs.values())

    # -- events in --------------------------------------------------------------------------
    def receive(self, event: Event):
        """The waiter a BACKGROUND_JOB completes, or None (then a job nobody waits for yet
        is kept for `job_accepted`)."""
        if event.get("Event-Name") != "BACKGROUND_JOB":
            return None
        job = event.get("Job-UUID")
        waiter = self._jobs.pop(job, None)
        if waiter is None and job:
            if len(self._orphan_jobs) > MAX_ORPHAN_JOBS:
                self._orphan_jobs.clear()
            self._orphan_jobs[job] = event
        return waiter
