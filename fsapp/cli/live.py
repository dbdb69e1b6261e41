"""`fsapp status` and `fsapp calls`: the running service, asked over its control socket
([flows] control; one per worker, `--socket` again for each more)."""
from __future__ import annotations

import json

import click
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from fsapp.flow.runtime import request

SOCKET_HELP = "Control socket of a worker (default: [flows] control); repeat for several workers."


def _ask(path: str, verb: str, argument: dict | None = None) -> dict:
    line = verb if argument is None else f"{verb} {json.dumps(argument, ensure_ascii=False)}"
    try:
        answer = request(path, line, timeout=15.0)
    except (FileNotFoundError, ConnectionRefusedError):
        raise click.ClickException(f"no running `fsapp serve --flows` at {path} ([flows] control)") from None
    except OSError as exc:
        raise click.ClickException(f"{path}: {exc}") from None
    if answer.get("problems") and "unknown request" in answer["problems"][0]:
        raise click.ClickException(f"{path}: this worker does not know {verb!r} (an older fsapp? restart it)")
    return answer


def _sockets(cfg, given) -> list[str]:
    return list(given) or [cfg.get("flows", "control")]


# ---- status ---------------------------------------------------------------------------------
@click.command()
@click.option("--socket", "sockets", multiple=True, type=click.Path(), help=SOCKET_HELP)
@click.option("--json", "as_json", is_flag=True, help="One JSON object: {\"workers\": [...]}.")
@click.option("--watch", is_flag=True, help="Refresh the screen until Ctrl-C.")
@click.option("--interval", type=click.FloatRange(min=0.2), default=2.0, show_default=True,
              help="Seconds between refreshes with --watch.")
@click.pass_obj
def status(cfg, sockets, as_json, watch, interval):
    """The running service: workers, flow versions, calls, queues, agents, outbox, health."""
    paths = _sockets(cfg, sockets)

    def gather() -> list[dict]:
        return [{"socket": p, **_ask(p, "health")} for p in paths]

    if as_json:
        click.echo(json.dumps({"workers": gather()}, ensure_ascii=False, indent=2))
        return
    console = Console()
    if not watch:
        console.print(render_status(gather()))
        return
    import signal

    import gevent
    from gevent.event import Event
    from rich.live import Live
    # Ctrl-C sets an event that the loop checks between refreshes. A KeyboardInterrupt
    # raised wherever the process happens to be could land inside a lock's acquire (rich's,
    # made gevent's by the CLI's monkey-patching) and leave it held: the exit then hung
    # (seen once under load, `status --watch` still running 30 s after SIGINT).
    stop = Event()
    handler = gevent.signal_handler(signal.SIGINT, stop.set)
    try:
        with Live(render_status(gather()), console=console, auto_refresh=False, screen=False) as live:
            while not stop.wait(interval):
                live.update(render_status(gather()), refresh=True)
    finally:
        handler.cancel()


def _mark(ok) -> Text:
    if ok is None:
        return Text("-", style="dim")
    return Text("ok", style="bold green") if ok else Text("DOWN", style="bold red")


def render_status(workers: list[dict]) -> Group:
    """Tables of plain Text cells: names from the service are shown, never read as markup."""
    parts = []
    head = Table(title="Workers", title_justify="left", expand=False)
    for col in ("worker", "pid", "flows (version)", "calls", "outbox", "databases", "Redis", "ESL"):
        head.add_column(col)
    for w in workers:
        worker = w["worker"]
        flows = "\n".join(f"{name} {version}" for name, version in worker["flows"].items())
        outbox = w.get("outbox") or {}
        outbox_text = "-" if not outbox else (f"{outbox.get('pending')} pending\n{outbox.get('dead')} dead"
                                              if "pending" in outbox else outbox.get("error", "?"))
        dbs = Text()
        for name, probe in (w.get("databases") or {}).items():
            if dbs:
                dbs.append("\n")
            dbs.append(f"{name} ")
            dbs.append_text(_mark(probe["ok"]))
        esl = Text()
        for link in w.get("esl") or []:
            esl.append(f"{link['connection']} ")
            esl.append_text(_mark(link["connected"]))
        redis = w.get("redis")
        head.add_row(Text(str(worker["id"])), str(worker["pid"]), Text(flows), str(w["calls"]["in_progress"]),
                     outbox_text, dbs or Text("-"), _mark(redis["ok"]) if redis else Text("memory", style="dim"),
                     esl or Text("-"))
    parts.append(head)
    first = workers[0] if workers else {}
    if first.get("queues"):
        queues = Table(title="Queues", title_justify="left")
        for col, justify in (("queue", "left"), ("waiting", "right"), ("longest wait", "right"),
                             ("agents logged in", "right"), ("available", "right")):
            queues.add_column(col, justify=justify)
        for q in first["queues"]:
            queues.add_row(Text(q["queue"]), str(q["waiting"]), f"{q['longest_wait_s']:.0f} s",
                           str(q["agents_logged_in"]), str(q["agents_available"]))
        parts.append(queues)
    if first.get("agents"):
        agents = Table(title="Agents", title_justify="left")
        for state in first["agents"]:
            agents.add_column(state.replace("_", " "), justify="right")
        agents.add_row(*(str(n) for n in first["agents"].values()))
        parts.append(agents)
    for w in workers:
        for name, why in (w.get("unavailable") or {}).items():
            parts.append(Text(f"{w['worker']['id']}: {name} unavailable: {why}", style="red"))
    return Group(*parts)


# ---- calls ----------------------------------------------------------------------------------
@click.group(invoke_without_command=True)
@click.option("--socket", "sockets", multiple=True, type=click.Path(), help=SOCKET_HELP)
@click.option("--json", "as_json", is_flag=True, help="A JSON list of calls.")
@click.pass_context
def calls(ctx, sockets, as_json):
    """Live calls (uuid, caller, flow, node, queue, duration); hang up or transfer one."""
    ctx.meta["fsapp_sockets"] = sockets
    if ctx.invoked_subcommand is not None:
        return
    rows = []
    for path in _sockets(ctx.obj, sockets):
        rows += _ask(path, "calls")["calls"]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table(title=f"{len(rows)} live call{'s' if len(rows) != 1 else ''}", title_justify="left")
    for col in ("uuid", "caller", "flow", "node", "queue", "duration"):
        # a uuid is copied into `fsapp calls hangup`: never wrapped or cut
        table.add_column(col, justify="right" if col == "duration" else "left",
                         no_wrap=col in ("uuid", "caller", "duration"), min_width=36 if col == "uuid" else None)
    for r in rows:
        table.add_row(*(Text(str(r[k])) for k in ("uuid", "caller", "flow", "node", "queue")),
                      f"{int(r['seconds']) // 60}:{int(r['seconds']) % 60:02d}")
    Console().print(table)


def _act(ctx, verb: str, argument: dict) -> None:
    problems = []
    for path in _sockets(ctx.obj, ctx.meta.get("fsapp_sockets", ())):
        answer = _ask(path, verb, argument)
        if answer.get("ok"):
            click.echo(f"{verb}: {answer.get('reply', '+OK')}")
            return
        problems += answer.get("problems") or [answer.get("reply", "failed")]
    # the worker that has the call says what went wrong; otherwise none has it
    real = [p for p in problems if not p.startswith("no live call")]
    raise click.ClickException((real or problems)[0])


@calls.command()
@click.argument("uuid")
@click.pass_context
def hangup(ctx, uuid):
    """Hang up a live call (uuid_kill through its worker)."""
    _act(ctx, "hangup", {"uuid": uuid})


@calls.command()
@click.argument("uuid")
@click.argument("destination")
@click.option("--context", default="default", show_default=True, help="XML dialplan context of DESTINATION.")
@click.pass_context
def transfer(ctx, uuid, destination, context):
    """Transfer a live call to DESTINATION (a number or an extension name) in the XML dialplan."""
    _act(ctx, "transfer", {"uuid": uuid, "destination": destination, "context": context})
