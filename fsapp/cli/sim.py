"""`fsapp sim`: run an emulated FreeSWITCH node until interrupted."""
from __future__ import annotations

import re

import click


def _parse_route(text: str):
    """PATTERN=socket:HOST:PORT | PATTERN=park | PATTERN=echo | PATTERN=agent:ID"""
    from fsapp.sim import Agent, Echo, Park, Socket
    pattern, sep, target = text.partition("=")
    if not sep or not pattern:
        raise click.BadParameter(f"{text!r}: expected PATTERN=socket:HOST:PORT|park|echo|agent:ID")
    try:
        re.compile(pattern)
    except re.error as exc:
        raise click.BadParameter(f"{text!r}: bad regular expression: {exc}") from None
    kind, _, arg = target.partition(":")
    if kind == "socket" and arg:
        return pattern, Socket(f"{arg} async full")
    if kind == "park":
        return pattern, Park()
    if kind == "echo":
        return pattern, Echo()
    if kind == "agent" and arg:
        return pattern, Agent(arg)
    raise click.BadParameter(f"{text!r}: unknown target {target!r}; use socket:HOST:PORT, park, echo or agent:ID")


def _parse_agent(text: str):
    """ID[:RING_S[:TALK_S[:ANSWER[:AT/DIGITS,...]]]], ANSWER in yes|no|busy|reject;
    AT/DIGITS: keys pressed AT seconds after answering (e.g. 4/1,9/2)."""
    parts = text.split(":")
    answers = {"yes": True, "no": False, "busy": "busy", "reject": "reject"}
    try:
        ring = float(parts[1]) if len(parts) > 1 else 1.0
        talk = float(parts[2]) if len(parts) > 2 else 30.0
    except ValueError:
        raise click.BadParameter(f"{text!r}: ring and talk times must be seconds") from None
    answer = parts[3] if len(parts) > 3 else "yes"
    if answer not in answers:
        raise click.BadParameter(f"{text!r}: answer must be one of {', '.join(answers)}")
    press = []
    for item in (parts[4].split(",") if len(parts) > 4 and parts[4] else []):
        at, _, digits = item.partition("/")
        try:
            press.append((float(at), digits))
        except ValueError:
            raise click.BadParameter(f"{text!r}: presses are AT/DIGITS, e.g. 4/1,9/2") from None
    return parts[0], ring, talk, answers[answer], tuple(press)


@click.command()
@click.option("--esl", default=None, help="HOST:PORT to listen on (default: [sim] esl, 127.0.0.1:8021).")
@click.option("--password", default=None, help="Event socket password (default: [sim] password).")
@click.option("--heartbeat", type=float, default=None, help="HEARTBEAT interval, seconds.")
@click.option("--route", "routes", multiple=True,
              help="Dialplan entry PATTERN=socket:HOST:PORT|park|echo|agent:ID (repeatable).")
@click.option("--agent", "agents", multiple=True,
              help="Scripted agent reachable as user/ID (and as sofia/gateway/GW/ID, a callee): "
                   "ID[:RING_S[:TALK_S[:yes|no|busy|reject[:AT/DIGITS,...]]]].")
@click.option("--time-scale", type=float, default=1.0, show_default=True,
              help="Emulated seconds per wall second (e.g. 10 to run long scenarios fast).")
@click.option("--conf", "conf_dir", type=click.Path(file_okay=False),
              help="A FreeSWITCH conf/ directory: its dialplan/default/*.xml (e.g. what `fsapp "
                   "deploy` writes for a node) is the dialplan, read again on `api reloadxml`.")
@click.pass_obj
def sim(cfg, esl, password, heartbeat, routes, agents, time_scale, conf_dir):
    """Run an emulated FreeSWITCH 1.10 node (event socket, dialplan, agents) until Ctrl-C."""
    import gevent
    from fsapp.sim import RealClock, Switch

    esl = esl or cfg.get("sim", "esl")
    host, sep, port = esl.rpartition(":")
    if not sep or not port.isdigit():
        raise click.BadParameter(f"--esl {esl!r}: expected HOST:PORT")
    try:
        clock = RealClock(time_scale)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    sw = Switch(password=password or cfg.get("sim", "password"), esl=(host, int(port)),
                heartbeat=heartbeat or cfg.get("sim", "heartbeat"), clock=clock)
    if conf_dir:
        sw.conf_dir = conf_dir
        try:
            sw.dialplan.load_conf(conf_dir)
        except (OSError, ValueError) as exc:
            raise click.ClickException(f"--conf {conf_dir}: {exc}") from None
    for text in routes:
        pattern, route = _parse_route(text)
        sw.dialplan.add(pattern, route)
    for text in agents:
        agent_id, ring, talk, answer, press = _parse_agent(text)
        try:
            sw.add_agent(agent_id, ring_s=ring, talk_s=talk, answer=answer, press=press)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None
    try:
        sw.start()
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {esl}: {exc}") from None
    click.echo(f"emulated FreeSWITCH on {host}:{sw.esl_port} (password from config/--password); Ctrl-C stops")
    try:
        while True:
            gevent.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        sw.stop()
