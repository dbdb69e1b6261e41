"""ESL commands shared by the inbound listener and outbound sessions: api, bgapi,
event, nixevent, noevents, filter, sendmsg."""
from __future__ import annotations

import uuid as uuidlib

import gevent

from . import wire
from .mediaqueue import Message


def split_command(first: str) -> tuple[str, str]:
    name, _, rest = first.partition(" ")
    return name.lower(), rest.strip()


def run_api(conn, rest: str) -> None:
    cmd, _, args = rest.partition(" ")
    body = conn.services.api.execute(cmd.strip(), args.strip())
    conn.send(wire.api_response(body))


def run_bgapi(conn, rest: str, headers: list[tuple[str, str]]) -> None:
    job = next((v for k, v in headers if k.lower() == "job-uuid"), None) or str(uuidlib.uuid4())
    conn.send(wire.command_reply(f"+OK Job-UUID: {job}", [("Job-UUID", job)]))
    cmd, _, args = rest.partition(" ")
    services = conn.services

    def job_run():
        body = services.api.execute(cmd.strip(), args.strip())
        ev = services.events.new("BACKGROUND_JOB")
        ev.headers += [("Job-UUID", job), ("Job-Command", cmd.strip())]
        if args.strip():
            ev.headers.append(("Job-Command-Arg", args.strip()))
        ev.body = body
        services.fire(ev)

    gevent.spawn(job_run)


def sendmsg(conn, rest: str, headers: list[tuple[str, str]], body: str, default_uuid: str | None) -> str:
    h = {k.lower(): v for k, v in headers}
    target = rest.strip() or h.get("uuid") or default_uuid
    lock = h.get("event-lock", "").lower() in ("true", "1", "yes")
    ch = conn.services.channels.get(target) if target else None
    if ch is None:
        if default_uuid is not None and target == default_uuid:
            return "+OK"   # the session's channel is gone (linger): accepted, nothing happens
        return f"-ERR invalid session id [{target or ''}]"
    ch.enqueue(Message(h.get("call-command", ""), h, lock, body))
    return "+OK"


LOG_LEVELS = {"console": 0, "alert": 1, "crit": 2, "err": 3, "warning": 4, "notice": 5, "info": 6,
              "debug": 7}


def event_commands(conn, name: str, rest: str) -> str | None:
    """event / nixevent / noevents / filter / log / nolog; None when `name` is none of them."""
    args = rest.split()
    if name == "log":
        word = args[0] if args else "debug"
        level = int(word) if word.isdigit() else LOG_LEVELS.get(word.lower())
        if level is None or not 0 <= level <= 7:
            return "-ERR invalid log level"
        conn.services.log_to(conn, level)
        return f"+OK log level {word} [{level}]"
    if name == "nolog":
        conn.services.log_to(conn, None)
        return "+OK no longer logging"
    if name == "event":
        if not args:
            return "-ERR invalid syntax"
        return conn.subscribe(args[0], args[1:])
    if name == "nixevent":
        return conn.nix(args)
    if name == "noevents":
        return conn.noevents()
    if name == "filter":
        return conn.filter(args)
    return None
