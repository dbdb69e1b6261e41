"""`fsapp call NUMBER`: a test call through the switch's dialplan; `fsapp api CMD`: one
API command over the inbound event socket (what `fs_cli -x CMD` does). Both talk to a
real FreeSWITCH or the emulator (`fsapp sim`) alike, through [esl] or --esl/--password."""
from __future__ import annotations

import re
import uuid as uuid_mod

import click

CALL_EVENTS = ("CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE", "PLAYBACK_START", "CHANNEL_HANGUP_COMPLETE")
DTMF = re.compile(r"[0-9*#A-D]{1,32}")


def _client(cfg, esl: str | None, password: str | None):
    from fsapp.esl.errors import ESLError
    from fsapp.esl.inbound import InboundClient
    section = cfg.section("esl")
    host, port = section["host"], section["port"]
    if esl:
        host, sep, port_text = esl.rpartition(":")
        if not sep or not host or not port_text.isdigit():
            raise click.BadParameter(f"{esl!r}: expected HOST:PORT", param_hint="--esl")
        port = int(port_text)
    password = password or section["password"]
    if not password:
        raise click.ClickException("no event-socket password: --password, [esl] password or FSAPP_ESL_PASSWORD")
    client = InboundClient(host, port, password, connect_timeout=section["connect_timeout"],
                           command_timeout=section["command_timeout"])
    try:
        return client.start()
    except (ESLError, OSError) as exc:
        raise click.ClickException(f"FreeSWITCH unreachable at {host}:{port}: {exc}") from None


esl_option = click.option("--esl", default=None, metavar="HOST:PORT",
                          help="FreeSWITCH's event socket (default: [esl] host and port).")
password_option = click.option("--password", default=None,
                               help="Event socket password (default: [esl] password / FSAPP_ESL_PASSWORD).")


@click.command("api")
@click.argument("command")
@click.argument("args", nargs=-1)
@esl_option
@password_option
@click.pass_obj
def api(cfg, command, args, esl, password):
    """Run one FreeSWITCH API command (e.g. `reloadxml`, `status`) and print its answer;
    exit 1 when it answers -ERR. Each argument is one word of the command."""
    from fsapp.esl import syntax
    from fsapp.esl.errors import ESLError
    try:
        line = syntax.api_command(command, *args)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    client = _client(cfg, esl, password)
    try:
        body = client.api(line)
    except ESLError as exc:
        raise click.ClickException(f"api {command}: {exc}") from None
    finally:
        client.stop()
    click.echo(body.rstrip("\n"))
    if body.startswith("-ERR") or body.startswith("-USAGE"):
        raise SystemExit(1)


@click.command("call")
@click.argument("number")
@click.option("--context", default="default", show_default=True, help="Dialplan context of the call.")
@click.option("--caller", default="0000000000", show_default=True, help="Caller id number the call carries.")
@click.option("--hold", type=click.FloatRange(min=0), default=2.0, show_default=True,
              help="Seconds to stay on the line once a worker runs the call, then hang up (the "
                   "fallback runs to its own end, within --timeout).")
@click.option("--press", "presses", multiple=True, metavar="DIGITS",
              help="Keys the caller presses, one --press per prompt: each is sent (uuid_recv_dtmf on "
                   "the leg running the dialplan) when the next prompt starts playing.")
@click.option("--timeout", type=click.FloatRange(min=1), default=60.0, show_default=True,
              help="Deadline for the whole call, seconds: then it is hung up and reported as is.")
@esl_option
@password_option
@click.pass_obj
def call(cfg, number, context, caller, hold, presses, timeout, esl, password):
    """Place a test call to NUMBER through the switch's dialplan (`originate
    loopback/NUMBER/CONTEXT &park`) and print what happened: each worker tried, the one
    that took the call or the fallback, and the hangup cause. Exit 1 if neither a worker
    nor the fallback got the call."""
    import gevent
    from gevent.queue import Empty, Queue

    from fsapp.conf.testcall import CallTrace
    from fsapp.esl import syntax
    from fsapp.esl.errors import ESLError, OriginateError
    try:
        dial = f"loopback/{syntax.number(number)}/{syntax.word('context', context)}"
        caller = syntax.number(caller, "caller")
        for digits in presses:
            if not DTMF.fullmatch(digits):
                raise ValueError(f"--press {digits!r}: keys are 0-9 * # A-D, at most 32")
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    a_uuid = str(uuid_mod.uuid4())
    tracker = CallTrace(a_uuid)
    events: Queue = Queue()
    client = _client(cfg, esl, password)
    try:
        client.on("*", lambda ev: events.put(ev.headers))
        client.subscribe(*CALL_EVENTS)
        # originate returns once the A leg is up (or fails): in its own greenlet, so the
        # B leg's events are read meanwhile and the deadline below covers it too
        job = gevent.spawn(client.originate, dial, "&park",
                           {"origination_uuid": a_uuid, "origination_caller_id_number": caller},
                           timeout=timeout)
        deadline = gevent.get_hub().loop.now() + timeout
        hang_up_at = None
        to_press, prompts_seen = list(presses), 0
        while not tracker.done:
            now = gevent.get_hub().loop.now()
            if job.ready() and not job.successful():
                break
            if to_press and len(tracker.played) > prompts_seen and tracker.b_uuid:
                prompts_seen = len(tracker.played)   # a prompt started: the caller presses
                digits = to_press.pop(0)
                tracker.pressed(digits, client.api(syntax.api_command("uuid_recv_dtmf", tracker.b_uuid, digits)))
                continue
            if hang_up_at is None and tracker.in_worker and not to_press:
                hang_up_at = min(now + hold, deadline)
            if now >= (hang_up_at if hang_up_at is not None else deadline):
                break
            try:
                tracker.feed(events.get(timeout=min(0.5, max(0.01, (hang_up_at or deadline) - now))))
            except Empty:
                pass
        if not tracker.done and not (job.ready() and not job.successful()):
            if not job.ready():
                job.kill(block=False)
            try:   # the caller hangs up; wait (with a deadline) for the B leg's hangup
                client.api(syntax.api_command("uuid_kill", a_uuid))
                with gevent.Timeout(10, False):
                    while not tracker.done:
                        tracker.feed(events.get())
            except ESLError:
                pass
        failure = job.exception if job.ready() and not job.successful() else None
    finally:
        client.stop()
    if isinstance(failure, OriginateError):
        click.echo(f"originate {dial}: -ERR {failure.cause}")
    elif failure is not None:
        click.echo(f"originate {dial}: {failure}")
    for line in tracker.report():
        click.echo(line)
    if not (tracker.worker or tracker.fallback):
        raise SystemExit(1)
