"""`fsapp queue|agent|tier`: the ACD's state from the command line (docs/routing.md).

    fsapp queue list                 queues with waiting callers and free agents
    fsapp queue status hotline       members (position, wait, estimate) and agents
    fsapp agent login 1001           -> Available     (logout, break, available [--on-demand])
    fsapp agent status [1001]        status, state, counters
    fsapp tier add hotline 1001 --level 2 --position 1;  fsapp tier remove hotline 1001
    fsapp agent listen|whisper|barge 1001 --supervisor user/2001;  fsapp agent release 1001

Each takes --json. With [routing] backend = memory the state lives in the serving
process only: login/logout/break/available change it through the running service's
control socket ([flows] control) and fail if none answers; status, queue and tier show
routing.yaml's initial state. Use redis to share the state.
"""
from __future__ import annotations

import json
import time

import click

from fsapp import config as config_mod


def _state(ctx):
    from fsapp.yamlsrc import SourceError
    from fsapp.routing.state import open_state
    cfg = ctx.find_object(config_mod.Config) or config_mod.load(None)
    try:
        return open_state(cfg)
    except SourceError as exc:
        raise click.ClickException(str(exc)) from None
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    except Exception as exc:  # redis down, etc.: one clear line, not a traceback
        raise click.ClickException(f"routing state unavailable ({type(exc).__name__}: {exc}); "
                                   f"check [routing] backend/redis_url") from None


def _emit(as_json: bool, data, text_lines):
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        for line in text_lines:
            click.echo(line)


json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


@click.group()
def queue():
    """Call-center queues: list, status."""


@queue.command("list")
@json_option
@click.pass_context
def queue_list(ctx, as_json):
    """Queues with their strategy, waiting callers and agents."""
    from fsapp.routing.state import queue_status
    routing, backend = _state(ctx)
    now = time.time()
    rows = []
    for name in sorted(routing.queues):
        st = queue_status(routing, backend, name, now)
        rows.append({k: st[k] for k in ("queue", "strategy", "waiting", "agents_logged_in", "agents_free")})
    lines = [f"{'queue':<20} {'strategy':<30} {'waiting':>7} {'logged-in':>9} {'free':>5}"]
    lines += [f"{r['queue']:<20} {r['strategy']:<30} {r['waiting']:>7} {r['agents_logged_in']:>9} "
              f"{r['agents_free']:>5}" for r in rows]
    _emit(as_json, rows, lines)
    backend.close()


@queue.command("status")
@click.argument("name")
@json_option
@click.pass_context
def queue_status_cmd(ctx, name, as_json):
    """Members in NAME (position, wait, estimated wait) and its agents."""
    from fsapp.routing.state import queue_status
    routing, backend = _state(ctx)
    try:
        st = queue_status(routing, backend, name, time.time())
    except KeyError as exc:
        raise click.ClickException(exc.args[0]) from None
    lines = [f"queue {name}: {st['strategy']}, {st['waiting']} waiting, {st['agents_logged_in']} agents "
             f"logged in, {st['agents_free']} free"]
    for m in st["members"]:
        lines.append(f"  member {m['uuid']} {m['caller_id']} pos={m['position']} waited={m['waited_s']}s "
                     f"prio={m['priority']} {m['state']}" +
                     (f" est={m['estimated_wait_s']}s" if m.get("estimated_wait_s") is not None else ""))
    for a in st["agents"]:
        lines.append(f"  agent {a['agent']} level={a['level']} pos={a['position']} {a['status']} / {a['state']}")
    _emit(as_json, st, lines)
    backend.close()


@click.group()
def agent():
    """Agents: login, logout, break, available, status; supervisors: listen, whisper, barge, release."""


def _set_status(ctx, name, status, as_json):
    from fsapp.routing.backend import UnknownAgent
    cfg = ctx.find_object(config_mod.Config) or config_mod.load(None)
    if cfg.section("routing")["backend"] == "memory":
        record = _set_status_in_service(cfg, name, status)
    else:
        routing, backend = _state(ctx)
        try:
            record = backend.set_status(name, status, time.time()).to_json(time.time())
        except UnknownAgent as exc:
            raise click.ClickException(str(exc)) from None
        finally:
            backend.close()
    _emit(as_json, record, [f"agent {name}: {record['status']}"])


def _set_status_in_service(cfg, name, status) -> dict:
    """A memory backend's agents exist only inside the running `fsapp serve`: change the
    status there, through its control socket, or fail saying so (never a change made to a
    copy of routing.yaml that nobody routes from)."""
    from fsapp.flow.runtime import request
    path = cfg.get("flows", "control")
    line = "agent-status " + json.dumps({"agent": name, "status": status.value}, ensure_ascii=False)
    try:
        answer = request(path, line, timeout=15.0)
    except (FileNotFoundError, ConnectionRefusedError):
        raise click.ClickException(
            f"agent {name}: [routing] backend is memory, so agent status lives in the running "
            f"`fsapp serve --flows`, and none answers at {path} ([flows] control). Start the service "
            f"(or point [flows] control at its socket), or set [routing] backend = redis "
            f"(FSAPP_ROUTING_BACKEND=redis) to change the shared state directly.") from None
    except OSError as exc:
        raise click.ClickException(f"agent {name}: control socket {path}: {exc}") from None
    if not answer.get("ok"):
        problems = "; ".join(answer.get("problems") or ["refused"])
        if "unknown request" in problems:
            problems = "this worker does not know 'agent-status' (an older fsapp? restart it)"
        raise click.ClickException(f"{path}: {problems}")
    return answer["agent"]


@agent.command()
@click.argument("name")
@json_option
@click.pass_context
def login(ctx, name, as_json):
    """Log NAME in (status Available)."""
    from fsapp.routing.model import AgentStatus
    _set_status(ctx, name, AgentStatus.AVAILABLE, as_json)


@agent.command()
@click.argument("name")
@json_option
@click.pass_context
def logout(ctx, name, as_json):
    """Log NAME out (no more offers; a call in progress continues)."""
    from fsapp.routing.model import AgentStatus
    _set_status(ctx, name, AgentStatus.LOGGED_OUT, as_json)


@agent.command("break")
@click.argument("name")
@json_option
@click.pass_context
def break_(ctx, name, as_json):
    """Put NAME on break (pause)."""
    from fsapp.routing.model import AgentStatus
    _set_status(ctx, name, AgentStatus.ON_BREAK, as_json)


@agent.command()
@click.argument("name")
@click.option("--on-demand", is_flag=True, help="Available (On Demand): one call, then On Break.")
@json_option
@click.pass_context
def available(ctx, name, on_demand, as_json):
    """Make NAME available again (after a break or an automatic pause)."""
    from fsapp.routing.model import AgentStatus
    _set_status(ctx, name, AgentStatus.AVAILABLE_ON_DEMAND if on_demand else AgentStatus.AVAILABLE, as_json)


@agent.command()
@click.argument("name", required=False)
@json_option
@click.pass_context
def status(ctx, name, as_json):
    """Status and state of NAME (or of every agent)."""
    routing, backend = _state(ctx)
    now = time.time()
    records = backend.agents([name] if name else None)
    if name and not records:
        raise click.ClickException(f"unknown agent {name!r}: add it to {routing.path}")
    data = [r.to_json(now) for r in records]
    lines = [f"{'agent':<10} {'status':<22} {'state':<16} {'calls':>5} {'talk_s':>8} {'no-answer':>9}  queues"]
    for r in records:
        queues = ",".join(t.queue for t in backend.tiers(agent=r.name))
        lines.append(f"{r.name:<10} {r.status.value:<22} {r.state(now).value:<16} {r.calls_answered:>5} "
                     f"{r.talk_time:>8.0f} {r.no_answer_count:>9}  {queues}")
    _emit(as_json, data[0] if name else data, lines)
    backend.close()


# ---- supervisors: listen, whisper, barge, release ------------------------------------------

def _supervise(ctx, mode: str, name: str, supervisor: str | None, as_json: bool, ring_timeout: float,
               cause: str = "NORMAL_CLEARING"):
    """One supervisor action on NAME's live queue call, through [esl] (the switch) and the
    shared routing state (a Redis backend: memory state lives in the serving process only)."""
    from fsapp.esl.errors import ESLError, OriginateError
    from fsapp.routing.supervisor import NotOnCall, Supervisor
    cfg = ctx.find_object(config_mod.Config) or config_mod.load(None)
    routing, backend = _state(ctx)
    try:
        if cfg.section("routing")["backend"] == "memory":
            raise click.ClickException(
                f"agent {mode}: [routing] backend is memory, so only the serving process knows which "
                f"call agent {name} is on; set [routing] backend = redis (FSAPP_ROUTING_BACKEND=redis)")
        from fsapp.esl.inbound import InboundClient
        try:
            esl = InboundClient.from_config(cfg).start()
        except (ESLError, OSError, ValueError) as exc:
            raise click.ClickException(f"FreeSWITCH unreachable at [esl] host/port ({exc}); "
                                       f"check [esl] host, port, password") from None
        try:
            sup = Supervisor(backend, esl, ring_timeout=ring_timeout)
            if mode == "release":
                result = sup.release(name, cause)
            else:
                result = getattr(sup, mode)(name, supervisor)
        except NotOnCall as exc:
            raise click.ClickException(str(exc)) from None
        except OriginateError as exc:
            raise click.ClickException(f"supervisor {supervisor} not reached: {exc.cause}") from None
        except (ValueError, ESLError) as exc:
            raise click.ClickException(str(exc)) from None
        finally:
            esl.stop()
    finally:
        backend.close()
    text = (f"agent {name}: call {result.agent_leg} (queue {result.queue}) released; wrap-up follows"
            if mode == "release" else
            f"agent {name}: {supervisor} {mode} on call {result.agent_leg} (queue {result.queue}); "
            f"supervisor leg {result.supervisor_leg}; keys on the phone: 0 listen, 2 whisper, 3 barge, * leave")
    _emit(as_json, result.to_json(), [text])


supervisor_option = click.option("--supervisor", "supervisor", required=True, metavar="CONTACT",
                                 help="Dial string of the supervisor's phone, e.g. user/2001.")
ring_option = click.option("--ring-timeout", type=click.FloatRange(min=1), default=30.0, show_default=True,
                           help="Seconds the supervisor's phone rings before giving up.")


@agent.command()
@click.argument("name")
@supervisor_option
@ring_option
@json_option
@click.pass_context
def listen(ctx, name, supervisor, ring_timeout, as_json):
    """Listen to NAME's call: the supervisor hears both sides, nobody hears the supervisor."""
    _supervise(ctx, "listen", name, supervisor, as_json, ring_timeout)


@agent.command()
@click.argument("name")
@supervisor_option
@ring_option
@json_option
@click.pass_context
def whisper(ctx, name, supervisor, ring_timeout, as_json):
    """Coach NAME: the supervisor hears both sides and speaks to the agent only."""
    _supervise(ctx, "whisper", name, supervisor, as_json, ring_timeout)


@agent.command()
@click.argument("name")
@supervisor_option
@ring_option
@json_option
@click.pass_context
def barge(ctx, name, supervisor, ring_timeout, as_json):
    """Barge into NAME's call: a three-way call with the agent and the caller."""
    _supervise(ctx, "barge", name, supervisor, as_json, ring_timeout)


@agent.command()
@click.argument("name")
@click.option("--cause", default="NORMAL_CLEARING", show_default=True, help="Hangup cause for uuid_kill.")
@json_option
@click.pass_context
def release(ctx, name, cause, as_json):
    """Force release: hang up NAME's call leg; the agent goes to wrap-up, the caller's flow goes on."""
    if not cause.replace("_", "").isalnum() or not cause.isupper():
        raise click.ClickException(f"--cause {cause!r}: a FreeSWITCH cause such as NORMAL_CLEARING")
    _supervise(ctx, "release", name, None, as_json, 30.0, cause)


@click.group()
def tier():
    """Tiers (agent to queue): add, remove."""


@tier.command("add")
@click.argument("queue_name", metavar="QUEUE")
@click.argument("agent_name", metavar="AGENT")
@click.option("--level", type=click.IntRange(min=0), default=1, show_default=True)
@click.option("--position", type=click.IntRange(min=0), default=1, show_default=True)
@json_option
@click.pass_context
def tier_add(ctx, queue_name, agent_name, level, position, as_json):
    """Let AGENT take calls from QUEUE at a tier level and position."""
    from fsapp.routing.model import Tier
    routing, backend = _state(ctx)
    if queue_name not in routing.queues:
        raise click.ClickException(f"unknown queue {queue_name!r}; queues: {', '.join(sorted(routing.queues))}")
    if backend.get_agent(agent_name) is None:
        raise click.ClickException(f"unknown agent {agent_name!r}: add it to {routing.path}")
    t = Tier(queue_name, agent_name, level, position)
    backend.add_tier(t)
    _emit(as_json, t.__dict__, [f"tier {queue_name}/{agent_name}: level {level}, position {position}"])
    backend.close()


@tier.command("remove")
@click.argument("queue_name", metavar="QUEUE")
@click.argument("agent_name", metavar="AGENT")
@json_option
@click.pass_context
def tier_remove(ctx, queue_name, agent_name, as_json):
    """Stop offering QUEUE's calls to AGENT."""
    routing, backend = _state(ctx)
    if not backend.remove_tier(queue_name, agent_name):
        raise click.ClickException(f"no tier {queue_name}/{agent_name}")
    _emit(as_json, {"queue": queue_name, "agent": agent_name, "removed": True},
          [f"tier {queue_name}/{agent_name} removed"])
    backend.close()
