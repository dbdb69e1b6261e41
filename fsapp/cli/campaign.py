"""Campaign verbs: validate, load, start, pause, resume, stop, status, report.

A campaign is named by its file's `campaign:` name (found in [campaign] dir) or given
as a path. `start` marks the campaign running and runs a dialer in this process until
the campaign is stopped (or, with --until-done, nothing is left to call); start it on
several hosts (with [campaign] state = redis) to share the work.
"""
from __future__ import annotations

from gevent import monkey

monkey.patch_all()  # before redis and the ESL client are imported by the dialer

import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import click  # noqa: E402

json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")


def _references(cfg, flows=None) -> dict:
    from fsapp.campaign.loader import references_from_config
    return references_from_config(cfg, flows)


def _find(cfg, name_or_path: str):
    from fsapp.campaign.loader import CampaignError, load_campaign, load_campaigns
    path = Path(name_or_path)
    try:
        if path.suffix in (".yaml", ".yml") or path.is_file():
            return load_campaign(path, **_references(cfg))
        directory = Path(cfg.get("campaign", "dir"))
        found, problems = load_campaigns([directory], **_references(cfg)) if directory.is_dir() else ({}, [])
    except CampaignError as exc:
        raise click.ClickException(str(exc)) from None
    if name_or_path in found:
        return found[name_or_path]
    bad = [str(p) for p in problems]
    raise click.ClickException(f"no campaign {name_or_path!r} in {directory}/ (known: "
                               f"{', '.join(sorted(found)) or 'none'})" + ("\n" + "\n".join(bad) if bad else ""))


def _states(cfg):
    from fsapp.campaign.state import open_states
    return open_states(cfg)


def _emit(as_json: bool, data, lines) -> None:
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
    else:
        for line in lines:
            click.echo(line)


@click.group()
def campaign():
    """Outbound campaigns: validate, load, start, pause, resume, stop, status, report."""


@campaign.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@json_option
@click.pass_obj
def validate_(cfg, paths, as_json):
    """Check campaign files (default: [campaign] dir); every problem as file:line:col."""
    from fsapp.campaign.loader import load_campaigns
    paths = paths or (cfg.get("campaign", "dir"),)
    found, problems = load_campaigns(paths, **_references(cfg))
    _emit(as_json, {"ok": not problems, "campaigns": {n: c.path for n, c in found.items()},
                    "problems": [p.__dict__ for p in problems]},
          [str(p) for p in problems] or [f"ok {c.path}: campaign {n} (flow {c.flow}, calendar {c.calendar})"
                                         for n, c in found.items()])
    if problems:
        sys.exit(1)


@campaign.command()
@click.argument("name")
@json_option
@click.pass_obj
def load(cfg, name, as_json):
    """Read NAME's contacts (CSV or query) into the state store; known contacts keep their state."""
    from fsapp.campaign.sources import SourceProblem, load_contacts
    camp = _find(cfg, name)
    store = None
    if camp.contacts.query:
        from fsapp.store import Store
        store = Store.from_config(cfg)
    try:
        contacts = load_contacts(camp.contacts, Path.cwd(), store)
    except SourceProblem as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        if store is not None:
            store.close()
    states = _states(cfg)
    now = time.time()
    added = states.add_contacts(camp.name, contacts, now)
    if states.control(camp.name)["status"] == "unknown":
        states.set_control(camp.name, "loaded", now)
    counts = states.counts(camp.name)
    states.close()
    _emit(as_json, {"campaign": camp.name, "read": len(contacts), "added": added, "states": counts},
          [f"campaign {camp.name}: {len(contacts)} contacts read, {added} new; "
           + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))])


def _set(cfg, name, status, as_json):
    camp = _find(cfg, name)
    states = _states(cfg)
    before = states.control(camp.name)["status"]
    if before == "unknown":
        raise click.ClickException(f"campaign {camp.name} has no contacts yet: run `fsapp campaign load {camp.name}`")
    states.set_control(camp.name, status, time.time())
    states.close()
    _emit(as_json, {"campaign": camp.name, "status": status, "was": before},
          [f"campaign {camp.name}: {before} -> {status}"])


@campaign.command()
@click.argument("name")
@json_option
@click.pass_obj
def pause(cfg, name, as_json):
    """Stop placing new calls (calls in progress finish); `resume` continues."""
    _set(cfg, name, "paused", as_json)


@campaign.command()
@click.argument("name")
@json_option
@click.pass_obj
def resume(cfg, name, as_json):
    """Place calls again after `pause`."""
    _set(cfg, name, "running", as_json)


@campaign.command()
@click.argument("name")
@json_option
@click.pass_obj
def stop(cfg, name, as_json):
    """Stop the campaign: every dialer finishes its calls and exits."""
    _set(cfg, name, "stopped", as_json)


@campaign.command()
@click.argument("name")
@click.option("--until-done", is_flag=True, help="Exit when no contact is left to call (none pending, "
              "in retry or in progress).")
@click.option("--one-pass", is_flag=True, help="Exit when no contact is due now (none pending or in "
              "progress); contacts waiting for a retry are left for a later run.")
@click.option("--for", "for_s", type=float, help="Exit after this many seconds.")
@click.option("--listen", help="Address of this dialer's outbound socket (default: [campaign] listen).")
@json_option
@click.pass_obj
def start(cfg, name, until_done, one_pass, for_s, listen, as_json):
    """Mark NAME running and dial from this process (one worker; run more to share the load)."""
    from fsapp.calendar import load_calendars
    from fsapp.campaign.dialer import Dialer, default_worker_id
    from fsapp.esl import InboundClient
    from fsapp.app.services import make_handler
    camp = _find(cfg, name)
    states = _states(cfg)
    if states.control(camp.name)["status"] == "unknown":
        raise click.ClickException(f"campaign {camp.name} has no contacts yet: run `fsapp campaign load {camp.name}`")
    calendar = load_calendars(cfg.get("flows", "calendars"))[camp.calendar]
    from fsapp.app.services import FlowLoadError
    try:
        flows = make_handler(cfg.get("flows", "dir"), cfg)
    except FlowLoadError as exc:
        raise click.ClickException(str(exc)) from None
    store = flows.services.store
    if store is None:
        from fsapp.store import Store
        store = Store.from_config(cfg)
    esl = InboundClient.from_config(cfg).start()
    section = cfg.section("campaign")
    router = _router(cfg, camp, flows, esl, store)
    dialer = Dialer(camp, states, esl, flows, calendar, store=store, listen=listen or section["listen"],
                    socket_address=section["socket"] or None,
                    worker=section["worker_id"] or default_worker_id(), base_dir=Path.cwd(),
                    gateway_lease_s=section["gateway_lease"], router=router).start()
    states.set_control(camp.name, "running", time.time())
    try:
        why = dialer.run(until=time.time() + for_s if for_s else None, exit_when_done=until_done,
                         one_pass=one_pass)
    finally:
        dialer.close()
        if router is not None:
            router.stop()
        esl.stop()
    summary = campaign_status(camp, states, time.time())
    states.close()
    _emit(as_json, {"campaign": camp.name, "ended": why, **summary},
          [f"campaign {camp.name}: dialer ended ({why})"] + _status_lines(summary))


def _router(cfg, camp, flows, esl, store):
    """Agent-assisted campaigns: a Router of [routing] (routing.yaml) on this dialer's
    event socket; None for the others."""
    if camp.agents is None:
        return None
    from fsapp.routing import Router
    try:
        router = Router.from_config(cfg, esl=esl, store=store)
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"campaign {camp.name} is agent-assisted but routing is not usable: {exc}") from None
    if camp.agents.queue not in router.config.queues:
        raise click.ClickException(f"campaign {camp.name}: agents.queue {camp.agents.queue!r} is not a queue of "
                                   f"{cfg.get('routing', 'config')}")
    return router.start()


def campaign_status(camp, states, now: float, window_s: float = 300.0) -> dict:
    from fsapp.campaign.report import status_summary
    return status_summary(camp, states.counts(camp.name), states.control(camp.name),
                          states.attempts(camp.name), now, window_s)


def _status_lines(summary: dict) -> list[str]:
    return [f"  {key}: {value}" for key, value in summary.items() if not isinstance(value, dict)]


@campaign.command()
@click.argument("name")
@json_option
@click.pass_obj
def status(cfg, name, as_json):
    """Live progress: dialled, answered, completed, pending, in retry, excluded, rate vs target."""
    camp = _find(cfg, name)
    states = _states(cfg)
    summary = campaign_status(camp, states, time.time())
    states.close()
    if as_json:
        _emit(True, summary, [])
        return
    from fsapp.campaign.report import status_table
    from rich.console import Console
    Console(width=100).print(status_table(summary))


@campaign.command()
@click.argument("name")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False), help="Write the per-hour table as CSV here.")
@click.option("--chart", "chart_path", type=click.Path(dir_okay=False), help="Draw the per-hour rates as a PNG here.")
@json_option
@click.pass_obj
def report(cfg, name, csv_path, chart_path, as_json):
    """Per-outcome counts and per-hour contact rates (table; CSV and PNG chart on request)."""
    from fsapp.campaign import report as rep
    camp = _find(cfg, name)
    states = _states(cfg)
    attempts = states.attempts(camp.name)
    states.close()
    from fsapp.calendar import load_calendars
    from fsapp.yamlsrc import SourceError
    try:   # hours as the calling window sees them
        tz = load_calendars(cfg.get("flows", "calendars"))[camp.calendar].tz
    except (SourceError, KeyError):   # no such calendar here: the host's time zone
        tz = None
    data = rep.build_report(camp, attempts, tz)
    if csv_path:
        rep.write_csv(data, csv_path)
    if chart_path:
        rep.draw_chart(data, chart_path)
    if as_json:
        _emit(True, data, [])
        return
    from rich.console import Console
    console = Console(width=110)
    for table in rep.report_tables(data):
        console.print(table)
    for what, path in (("csv", csv_path), ("chart", chart_path)):
        if path:
            click.echo(f"wrote {what} {path}")
