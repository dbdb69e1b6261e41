"""Flow verbs: validate, compile, simulate, test, graph, deploy, reload."""
from __future__ import annotations

import json
import re
import sys

import click

from fsapp.flow.compiler import compile_paths
from fsapp.flow.model import FlowSet


def _environment(cfg, check_env: bool):
    from fsapp.flow.compiler import Environment
    if not check_env:
        return Environment(tts=True)
    from fsapp.app.environment import from_config
    return from_config(cfg)


def _report(result: FlowSet, env, as_json: bool, quiet: bool = False, campaigns=None) -> None:
    if as_json:
        doc = {
            "ok": not result.problems,
            "flows": {n: {"version": f.version, "path": f.path, "nodes": len(f.nodes),
                          "numbers": list(f.numbers)} for n, f in result.flows.items()},
            "problems": [p.__dict__ for p in result.problems],
            "notes": list(env.notes)}
        if campaigns is not None:   # `fsapp validate` given campaign files too
            doc["campaigns"] = {n: c.path for n, c in campaigns.items()}
        click.echo(json.dumps(doc, ensure_ascii=False, indent=2))
        return
    for note in env.notes:
        click.echo(f"note: {note}", err=True)
    for problem in result.problems:
        click.echo(str(problem))
    if result.problems:
        files = len({p.file for p in result.problems})
        click.echo(f"{len(result.problems)} problem(s) in {files} file(s)", err=True)
    elif not quiet:
        for flow in result.flows.values():
            click.echo(f"ok {flow.path}: flow {flow.name} v{flow.version}, {len(flow.nodes)} nodes, "
                       f"numbers {', '.join(flow.numbers) or '(none: subflow)'}")
        for name, camp in (campaigns or {}).items():
            click.echo(f"ok {camp.path}: campaign {name} (flow {camp.flow}, calendar {camp.calendar})")


def load_with_directory(cfg, path, check_env: bool = True) -> tuple[FlowSet, list]:
    """The flows of `path` compiled together with the other flows of their directory, so a
    subflow in another file resolves as it does in production; returns (all compiled,
    the flows of `path`). `path` may be a flow file or a directory. Problems of `path`'s
    own files are reported and exit 1; other files with problems are left out, noted."""
    from pathlib import Path

    from fsapp.flowspec import flow_files
    path = Path(path)
    flows_dir = path if path.is_dir() else path.parent
    env = _environment(cfg, check_env)
    result = compile_paths([flows_dir], env)
    targets = {p.resolve() for p in flow_files([path])}
    own = [p for p in result.problems if Path(p.file).resolve() in targets]
    if own:
        _report(type(result)(problems=own), env, False)
        sys.exit(1)
    flows = [f for f in result.flows.values() if Path(f.path).resolve() in targets]
    if not flows:
        raise click.ClickException(f"{path}: no flow here, or a flow it calls has problems "
                                   f"(fsapp validate {flows_dir})")
    others = sorted({p.file for p in result.problems})
    if others:
        click.echo(f"note: left out (they have problems): {', '.join(others)}", err=True)
    return result, flows


def routing_problems(cfg, flows, paths=()) -> list:
    """routing.yaml checked together with the flows and its calendars (fsapp.routing.check):
    every overflow/leave/closed target naming a flow that does not exist, every queue
    calendar missing from the calendars file. The flows are those validated plus those of
    [flows] dir. A missing or broken routing.yaml is the environment's note or problem."""
    from pathlib import Path

    from fsapp.flow.compiler import Environment
    from fsapp.flow.model import Problem
    from fsapp.routing.check import reference_problems
    from fsapp.routing.config import load_routing
    from fsapp.routing.state import load_calendars_for
    path = Path(cfg.get("routing", "config"))
    if not path.is_file():
        return []
    try:
        routing = load_routing(path)
    except ValueError:
        return []
    names = set(flows)
    flows_dir = Path(cfg.get("flows", "dir"))
    if flows_dir.is_dir() and flows_dir.resolve() not in {Path(p).resolve() for p in paths}:
        names |= set(compile_paths([flows_dir], Environment(tts=True)).flows)
    try:
        calendars = set(load_calendars_for(routing))
    except (OSError, ValueError):
        calendars = None        # a broken calendars file is reported as such by the environment
    where = routing.calendars_file or "(routing.yaml names no calendars: file)"
    return [Problem(e.file, e.line or 1, e.col or 1, e.message, e.hint)
            for e in reference_problems(routing, names, calendars, where)]


def load_checked(cfg, paths, check_env: bool = True, as_json: bool = False, quiet: bool = False,
                 with_routing: bool = False) -> FlowSet:
    """Compile and report; exit 1 on any problem (shared by validate, simulate, test, deploy).
    `with_routing`: routing.yaml is checked against the flows too (validate)."""
    env = _environment(cfg, check_env)
    result = compile_paths(paths, env)
    if not result.flows and not result.problems:
        raise click.ClickException(f"no flow files (*.yaml) in {', '.join(map(str, paths))}")
    if with_routing and check_env:
        result.problems = sorted(result.problems + routing_problems(cfg, result.flows, paths))
    _report(result, env, as_json, quiet=quiet)
    if result.problems:
        sys.exit(1)
    return result


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--no-env", is_flag=True, help="Check the flows alone: skip prompt, query, queue "
              "and calendar names.")
@click.pass_obj
def validate(cfg, paths, as_json, no_env):
    """Check flow files (or directories of them); print every problem as file:line:col.

    routing.yaml ([routing] config) is checked with them: every flow its queues send
    callers to (overflow, leave-target, closed-target) and every queue calendar must exist.

    Campaign files (a top-level `campaign:` key, docs/campaigns.md) given or found among
    the paths are checked as campaigns, against the flows, calendars and queries they name.
    Exit status 1 when any problem was found.
    """
    from pathlib import Path

    from fsapp.campaign.loader import is_campaign_file, load_campaigns, references_from_config
    from fsapp.flowspec import flow_files
    files = [Path(p) for p in flow_files(paths)] + \
        [f for p in map(Path, paths) if p.is_dir() for f in sorted(p.glob("*.yaml")) if is_campaign_file(f)]
    campaign_files = sorted({f for f in files if is_campaign_file(f)})
    if not campaign_files:
        load_checked(cfg, paths, check_env=not no_env, as_json=as_json, with_routing=True)
        return
    flow_paths = [f for f in files if f not in campaign_files]
    env = _environment(cfg, not no_env)
    result = compile_paths(flow_paths, env) if flow_paths else FlowSet()
    campaigns, campaign_problems = load_campaigns(
        campaign_files, **references_from_config(cfg, result.flows if flow_paths else None))
    result.problems = sorted(result.problems + campaign_problems)
    if not no_env:
        result.problems = sorted(result.problems + routing_problems(cfg, result.flows, paths))
    _report(result, env, as_json, campaigns=campaigns)
    if result.problems:
        sys.exit(1)


@click.command("compile")
@click.argument("path", type=click.Path(exists=True))
@click.option("--target", type=click.Choice(["json", "freeswitch-xml"]), default="json",
              show_default=True, help="json: the compiled graph; freeswitch-xml: native IVR menus.")
@click.option("-o", "--output", type=click.Path(), help="Write here instead of stdout (for a "
              "directory of flows and freeswitch-xml: a directory, one NAME.xml per flow).")
@click.option("--lang", "language", help="freeswitch-xml: the prompt language (default: the flow's first).")
@click.option("--entry", help="freeswitch-xml: the node to start from (default: the flow's start).")
@click.option("--sounds-dir", default="$${sounds_dir}/fsapp", show_default=True,
              help="freeswitch-xml: where FreeSWITCH finds fsapp's sounds ([sounds] dir copied "
                   "there); $${sounds_dir} is FreeSWITCH's own, expanded when it loads the XML.")
@click.option("--no-env", is_flag=True, help="Skip prompt, query, queue and calendar name checks.")
@click.pass_obj
def compile_(cfg, path, target, output, language, entry, sounds_dir, no_env):
    """Compile a flow (or every flow of a directory) after validating it, together with
    the flows of its directory (subflows it calls)."""
    from pathlib import Path

    _, flows = load_with_directory(cfg, path, check_env=not no_env)
    many = Path(path).is_dir()
    if target == "json":
        from fsapp.flow.export import to_json
        doc = {f.name: to_json(f) for f in flows} if many else to_json(flows[0])
        _write(json.dumps(doc, ensure_ascii=False, indent=2) + "\n", output)
        return
    from fsapp.flow import native_xml
    if many and not output:
        raise click.UsageError("a directory of flows compiles to one XML file per flow: "
                               "give -o DIR", ctx=click.get_current_context())
    for flow in flows:
        try:
            text, report = native_xml.compile_to_xml(flow, language=language, entry=entry,
                                                     sounds_dir=sounds_dir)
        except ValueError as exc:  # NativeCompileError: the part that needs fsapp, and why
            raise click.ClickException(str(exc)) from None
        if report.keyless:  # a menu whose every key needs fsapp would only time out
            raise click.ClickException(
                f"{flow.path}: menu {', '.join(report.keyless)} has no key FreeSWITCH's menu engine "
                "can run (" + "; ".join(map(str, report.runtime)) + "); serve this flow with "
                "fsapp serve, or end those keys in a menu, a transfer or a hang-up without a prompt")
        if many:
            try:
                Path(output).mkdir(parents=True, exist_ok=True)
            except OSError as exc:  # e.g. -o names a file: one clear line, not a traceback
                raise click.ClickException(f"cannot use {output} as the directory of the XML files: "
                                           f"{exc.strerror}") from None
            _write(text, Path(output) / f"{flow.name}.xml")
        else:
            _write(text, output)


def _write(text: str, output) -> None:
    if output:
        try:
            with open(output, "w", encoding="utf-8") as fh:
                fh.write(text)
        except IsADirectoryError:
            raise click.ClickException(f"{output} is a directory: give -o a file name (one file holds "
                                       f"the output; only freeswitch-xml writes one file per flow)") from None
        except OSError as exc:  # a missing parent directory, no permission: one clear line
            raise click.ClickException(f"cannot write {output}: {exc.strerror}") from None
    else:
        click.echo(text, nl=False)


@click.command()
@click.argument("path", type=click.Path(exists=True))
@click.option("-o", "--output", type=click.Path(), required=True,
              help="The file to write (.svg, .png, .pdf, .dot); for a directory of flows, a "
                   "directory: one NAME.svg per flow.")
@click.option("--no-env", is_flag=True, help="Skip prompt, query, queue and calendar name checks.")
@click.pass_obj
def graph(cfg, path, output, no_env):
    """Draw a flow (or every flow of a directory) as a graph (graphviz)."""
    from pathlib import Path

    from fsapp.flow import graphviz
    _, flows = load_with_directory(cfg, path, check_env=not no_env)
    for flow in flows:
        out = Path(output)
        try:
            if Path(path).is_dir():
                out.mkdir(parents=True, exist_ok=True)
                out = out / f"{flow.name}.svg"
            graphviz.draw(flow, out)
        except (graphviz.GraphError, OSError) as exc:  # no `dot`, bad format: one clear line
            raise click.ClickException(f"cannot draw {flow.path}: {exc}") from None


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--no-env", is_flag=True, help="Validate flows without prompt/query/queue/calendar names.")
@click.option("-v", "--verbose", is_flag=True, help="Print what each case heard and its path.")
@click.pass_obj
def test(cfg, paths, no_env, verbose):
    """Run flow tests (X.test.yaml beside X.yaml) and print node and edge coverage.

    Exit status 1 when a flow is invalid, a test file is malformed or a case fails.
    """
    from fsapp.flow.flowtests import BadTestFile, Coverage, find_test_file, heard_of, load_cases, run_case
    from fsapp.say import render

    result = load_checked(cfg, paths, check_env=not no_env, quiet=True)
    failed = 0
    passed = 0
    coverage = {name: Coverage(flow) for name, flow in result.flows.items()}
    untested = []
    for flow in result.flows.values():
        test_path = find_test_file(flow.path)
        if test_path is None:
            untested.append(flow)
            continue
        try:
            flow_name, cases = load_cases(test_path)
        except BadTestFile as exc:
            for problem in exc.problems:
                click.echo(str(problem))
            failed += 1
            continue
        if flow_name and flow_name != flow.name:
            click.echo(f"{test_path}:1:1: flow: {flow_name!r} but the flow beside it is {flow.name!r}")
            failed += 1
            continue
        for case in cases:
            outcome = run_case(flow, case, result.flows, say=render)
            for cov in coverage.values():
                cov.add(outcome.events)
            status = "PASS" if outcome.ok else "FAIL"
            click.echo(f"{status} {test_path}:{case.line}: {case.name}")
            if verbose or not outcome.ok:
                click.echo(f"     path:  {' -> '.join(outcome.outcome.trail)}")
                click.echo(f"     heard: {', '.join(heard_of(outcome.events))}")
                click.echo(f"     ended: {outcome.outcome.reason} in {outcome.outcome.node}")
            for failure in outcome.failures:
                click.echo(f"     {failure}")
            passed += outcome.ok
            failed += not outcome.ok
    click.echo("")
    click.echo("coverage:")
    for name, cov in coverage.items():
        flow = result.flows[name]
        click.echo(f"  {cov.summary()}" + ("  (no test file)" if flow in untested else ""))
        missing_nodes = [n for n in flow.nodes if n not in cov.nodes]
        if missing_nodes and flow not in untested:
            click.echo(f"    nodes never entered: {', '.join(missing_nodes)}")
        for edge in ([] if flow in untested else cov.uncovered()):
            click.echo(f"    uncovered: {edge}")
    click.echo(f"\n{passed} passed, {failed} failed")
    if failed:
        sys.exit(1)


_PRESS = re.compile(r"^[0-9*#]*$")


def _check_presses(ctx, param, presses):
    """--press is keys a phone has (0-9 * #), '' (stay silent) or hangup."""
    for press in presses:
        if press != "hangup" and not _PRESS.match(press):
            raise click.BadParameter(f"{press!r} is not keys a caller can press: use 0-9 * # "
                                     f"(e.g. 12345678#), '' to stay silent, or hangup", ctx, param)
    return presses


@click.command()
@click.argument("flow_path", metavar="FLOW", type=click.Path(exists=True, dir_okay=False))
@click.option("--press", "presses", multiple=True, metavar="DIGITS", callback=_check_presses,
              help="The caller's answer to the next question, in order: digits (1, 12345678#), "
                   "'' to stay silent, or hangup. After the last one the caller hangs up at the "
                   "next question.")
@click.option("--caller", "caller_id", default="13800138000", show_default=True, help="Caller's number.")
@click.option("--fixtures", type=click.Path(exists=True, dir_okay=False),
              help="Answer queries/queues/calendars from a flow test file's fixtures instead of "
                   "the configured database, routing and calendars.")
@click.option("--delay", type=float, default=1.0, show_default=True,
              help="Emulated seconds after a question's prompt starts before the caller presses.")
@click.option("--hangup-after", type=float, help="The caller hangs up this many emulated seconds in.")
@click.option("--speak", "speak", multiple=True, type=click.FloatRange(min=0.1, max=3600), metavar="SECONDS",
              help="How long the caller talks when the flow records (after the beep), one per "
                   "recording, the last repeats.  [default: 2.0]")
@click.option("--timeout", type=float, default=120.0, show_default=True, help="Wall seconds for the call.")
@click.option("--json", "as_json", is_flag=True, help="Print the trace events as JSON lines.")
@click.pass_obj
def simulate(cfg, flow_path, presses, caller_id, fixtures, delay, hangup_after, speak, timeout, as_json):
    """Call FLOW on the built-in FreeSWITCH emulator and print what the caller heard and
    pressed, and where the call ended.

    Example (Mandarin, the status lookup, a ticket number; --fixtures answers the
    queries from the flow's test file, so no database is needed):

    \b
    fsapp simulate ivr_flows/hotline_12345.yaml \\
        --fixtures ivr_flows/hotline_12345.test.yaml \\
        --press 1 --press 3 --press 20000014
    """
    from pathlib import Path

    from fsapp.app.simulate import simulate as run_simulation

    result, (flow,) = load_with_directory(cfg, flow_path)
    if not flow.numbers:
        raise click.ClickException(f"{flow_path}: flow {flow.name} answers no numbers, so no call "
                                   f"reaches it: give it numbers: [...], or simulate the flow that "
                                   f"calls it")
    good_files = [Path(f.path) for f in result.flows.values()]
    import logging
    if logging.getLogger("fsapp").level > logging.DEBUG:
        logging.getLogger("fsapp").setLevel(logging.WARNING)  # the transcript is the output
        # ... and it shows the flow's error (`error  QueryError: ...`): not again with a traceback
        logging.getLogger("fsapp.flow.interpreter").setLevel(logging.CRITICAL)
    services = None
    if fixtures:
        services = _fixture_services(cfg, Path(fixtures))
    try:
        transcript = run_simulation(flow, good_files, cfg, list(presses), caller_id=caller_id, delay=delay,
                                    timeout=timeout, services=services, hangup_after=hangup_after,
                                    speak=list(speak) or None)
    except TimeoutError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        for event in transcript.events:
            click.echo(json.dumps(event, ensure_ascii=False, default=str))
        return
    for note in transcript.notes:
        click.echo(f"note: {note}", err=True)
    click.echo(f"calling {flow.numbers[0]} ({flow.name} v{flow.version}) from {caller_id}")
    for line in transcript.lines:
        click.echo(line)
    report = transcript.report
    missing = getattr(report, "missing", None) or []
    if missing:
        click.echo(f"note: the emulator found no sound file for {len(missing)} prompt(s): "
                   f"{', '.join(missing)}; `fsapp sounds build` renders them", err=True)
    if getattr(report, "error", None):
        click.echo(f"note: caller script: {report.error}", err=True)


def _fixture_services(cfg, path):
    from fsapp.flow.flowtests import BadTestFile, load_cases
    from fsapp.flow.interpreter import Services
    from fsapp.flow.testing import FakeRouter, FakeStore, fake_calendars
    try:
        load_cases(path)
    except BadTestFile as exc:
        raise click.ClickException(str(exc)) from None
    from fsapp import yamlsrc
    fixtures = yamlsrc.plain(yamlsrc.compose(path.read_text(encoding="utf-8"))).get("fixtures") or {}
    from fsapp.say import render
    from fsapp.sounds.catalog import Catalog
    from pathlib import Path as _Path
    return Services(catalog=Catalog.load(_Path(cfg.get("sounds", "dir")) / "catalog.yaml"), say=render,
                    store=FakeStore(fixtures.get("queries")), router=FakeRouter(fixtures.get("queues")),
                    calendars=fake_calendars(fixtures.get("calendars")),
                    recordings=_Path(cfg.get("flows", "recordings")), tts=cfg.get("flows", "tts"))


def _control_path(cfg, socket_path):
    return socket_path or cfg.get("flows", "control")


def _print_reload(answer: dict) -> None:
    if answer.get("ok"):
        changed = answer.get("changed") or {}
        click.echo(f"reloaded: generation {answer.get('generation')}, {len(answer.get('flows', {}))} flow(s)"
                   + (f"; new versions: {', '.join(f'{n} v{v}' for n, v in changed.items())}" if changed
                      else "; nothing changed"))
        for note in answer.get("notes") or []:
            click.echo(f"  {note}")
        for warning in answer.get("warnings") or []:
            click.echo(f"  warning: {warning}")
    else:
        for problem in answer.get("problems", []):
            click.echo(problem)
        click.echo("not reloaded: the running flows are unchanged", err=True)


@click.command()
@click.option("--socket", "socket_path", type=click.Path(), help="Control socket (default: [flows] control).")
@click.pass_obj
def reload(cfg, socket_path):
    """Hot-reload flows in a running `fsapp serve --flows`; live calls keep their version.

    The server validates its flows directory again and switches only if it is clean.
    """
    from fsapp.flow.runtime import request
    path = _control_path(cfg, socket_path)
    try:
        answer = request(path, "reload")
    except (FileNotFoundError, ConnectionRefusedError):
        raise click.ClickException(f"no running `fsapp serve --flows` at {path} ([flows] control)") from None
    except OSError as exc:
        raise click.ClickException(f"{path}: {exc}") from None
    _print_reload(answer)
    if not answer.get("ok"):
        sys.exit(1)


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, dir_okay=False))
@click.option("--to", "target_dir", type=click.Path(file_okay=False),
              help="Flows directory of the service (default: [flows] dir).")
@click.option("--socket", "socket_paths", type=click.Path(), multiple=True,
              help="Control socket of a worker to reload (repeatable; default: [flows] control).")
@click.option("-m", "--message", default="", help="Why: kept with the version (fsapp versions).")
@click.option("--author", help="Who: kept with the version (default: the login name).")
@click.option("--dry-run", is_flag=True, help="Validate, print the diff (line and each node's "
              "configuration), change nothing.")
@click.pass_obj
def deploy(cfg, paths, target_dir, socket_paths, message, author, dry_run):
    """Validate flow files together with the whole line, install them, configure every
    FreeSWITCH node ([deploy.nodes]), record a version, reload.

    Test files beside the flows (X.test.yaml) are installed with them. Without PATHS the
    line is deployed as it is on disk (after editing routing.yaml, calendars.yaml, the
    catalog or campaigns in place). Nothing is installed if any flow, campaign or the
    catalog/calendars/routing they use has a problem. Each deploy is a version: `fsapp
    versions`, `fsapp diff`, `fsapp rollback`.
    """
    from pathlib import Path

    from fsapp.cli.deploy import install
    from fsapp.deploy import line
    from fsapp.flowspec import is_flow_file
    from fsapp.flow.flowtests import find_test_file

    if target_dir:
        cfg = cfg.with_values("flows", dir=target_dir)
    files = []
    for p in map(Path, paths):
        if not is_flow_file(p):
            raise click.BadParameter(f"{p} is not a flow file (*.yaml, not *.test.yaml)", param_hint="PATHS")
        files.append(p)
        test_file = find_test_file(p)
        if test_file:
            files.append(test_file)
    new = line.read(line.Layout.from_config(cfg))
    origin = {}
    for f in files:
        new[f"flows/{f.name}"] = f.read_bytes()
        origin[f"flows/{f.name}"] = str(f)
    default = f"deploy {', '.join(f.name for f in map(Path, paths))}" if paths else "deploy the line as it is on disk"
    install(cfg, new, author, message or default,
            origin=origin, socket_paths=socket_paths, dry_run=dry_run)
