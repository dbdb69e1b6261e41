"""Version verbs: versions, diff, rollback; and the install step `fsapp deploy` shares.

A deploy (and a rollback, which is a deploy of an older version) goes: build the new
line in memory, validate it as a whole, stop if anything is wrong (nothing on disk has
changed), write the changed files, record the version, ask the running service to
reload (live calls keep the flows they started with).
"""
from __future__ import annotations

import getpass
import json
import sys
from typing import Mapping

import click


def _store(cfg):
    from fsapp.deploy.store import from_config
    return from_config(cfg)


def _author(author: str | None) -> str:
    if author:
        return author
    try:
        return getpass.getuser()
    except Exception:   # no user name in a container: still a valid deploy
        return "unknown"


def install(cfg, files: Mapping[str, bytes], author: str | None, message: str,
            origin: Mapping[str, str] | None = None, socket_paths=(),
            dry_run: bool = False):
    """Validate `files` as the whole line and render every node's configuration; then
    (unless dry_run) stage, switch the line and the nodes (fsapp.deploy.rollout), record
    the version and reload. Exits 1, changing nothing, on any problem. Returns the
    recorded Version (None for a dry run)."""
    from fsapp.conf.errors import ConfError
    from fsapp.deploy import content_hash, diff, line
    from fsapp.deploy.check import check
    from fsapp.deploy.nodes import nodes_from_config, render_for
    from fsapp.deploy.rollout import NodeFiles, RolloutError, reloadxml, roll_out
    from fsapp.deploy.store import VersionError
    from fsapp.yamlsrc import SourceError

    layout = line.Layout.from_config(cfg)
    problems, notes = check(cfg, files, layout, origin)
    for note in notes:
        click.echo(f"note: {note}", err=True)
    for problem in problems:
        click.echo(str(problem))
    if problems:
        click.echo(f"{len(problems)} problem(s): nothing installed into {layout.flows}, nothing changed",
                   err=True)
        sys.exit(1)
    try:
        nodes = nodes_from_config(cfg)
        rendered = {node.name: render_for(cfg, node, files) for node in nodes}
    except (ConfError, SourceError) as exc:
        text = exc.report() if isinstance(exc, SourceError) else str(exc)
        click.echo(f"{text}\nnothing changed on any node", err=True)
        sys.exit(1)
    before = line.read(layout)
    store = _store(cfg)
    try:
        current = store.current()
    except Exception as exc:   # redis.ConnectionError and friends: before anything changes
        raise click.ClickException(f"version store ([deploy] store): {exc}; nothing changed") from None
    # what this deploy changes against the running version (the disk may hold edits made
    # in place, e.g. routing.yaml, which this deploy is about to record)
    for text in diff(current.files if current else before, files).lines():
        click.echo(f"  {text}")
    for node in nodes:
        changed = [name for name, text in sorted(rendered[node.name].items())
                   if _read(node.conf_dir / name) != text.encode("utf-8")]
        click.echo(f"  node {node.name}: " + (f"~ {', '.join(changed)}" if changed else "configuration unchanged"))
    if dry_run:
        click.echo("dry run: nothing changed")
        return None
    by_name = {node.name: node for node in nodes}

    def reload_node(name: str) -> None:
        node = by_name[name]
        reloadxml(node.esl_host, node.esl_port, node.password, cfg.get("esl", "connect_timeout"),
                  cfg.get("esl", "command_timeout"))

    def apply_line() -> None:
        for logical in line.write(layout, files):
            click.echo(f"{'installed' if logical in files else 'removed'} {layout.path_of(logical)}")

    def restore_line() -> None:
        line.write(layout, before)

    try:
        if current is None:   # the first recorded deploy: keep what ran before it
            base = store.record(before, _author(author), "baseline: the line before the first recorded deploy")
            click.echo(f"recorded version {base.number} {base.short} (baseline)")
        roll_out([NodeFiles(n.name, n.conf_dir, rendered[n.name]) for n in nodes], reload_node,
                 apply_line, restore_line, progress=click.echo)
    except RolloutError as exc:
        click.echo(f"deploy failed at node {exc.node} ({exc.step}): {exc}", err=True)
        sys.exit(1)
    except (VersionError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    except Exception as exc:   # redis.ConnectionError and friends: name the store
        raise click.ClickException(f"version store ([deploy] store): {exc}; nothing changed") from None
    try:
        version = store.record(files, _author(author), message)
    except Exception as exc:   # the store went away between the checks and now
        raise click.ClickException(
            f"the line and every node now hold {content_hash(files)[:12]}, but the version could not "
            f"be recorded ([deploy] store: {exc}); run the same deploy again once the store is back") from None
    click.echo(f"version {version.number} {version.short} by {version.author}: {version.message}")
    followed = _await_workers(cfg, store, version)
    for path in socket_paths or (() if followed else (None,)):
        _reload(cfg, path)
    return version


def _await_workers(cfg, store, version) -> bool:
    """With the Redis store, every worker of every node loads the version itself
    (fsapp.deploy.follow): wait for each one's acknowledgement and report it. False
    when versions are local (the control socket reloads the worker of this host)."""
    from fsapp.deploy.follow import WorkerRegistry, wait_for_acks
    from fsapp.deploy.store import RedisStore
    if not isinstance(store, RedisStore):
        return False
    registry = WorkerRegistry(store)
    try:
        workers = registry.workers()
        if not workers:
            click.echo("no worker registered in Redis: each `fsapp serve --flows` loads the version when it starts")
            return True
        acks = wait_for_acks(registry, version.number, workers, cfg.get("deploy", "ack_timeout"))
    except Exception as exc:   # redis.ConnectionError: the version is recorded, workers will follow
        raise click.ClickException(f"version {version.number} is recorded, but the workers could not be asked "
                                   f"([deploy] store: {exc}); they load it when they reach Redis again") from None
    failed = 0
    for worker, ack in acks.items():
        where = workers[worker].get("listen", "")
        if ack is None:
            failed += 1
            click.echo(f"worker {worker} ({where}): no answer within {cfg.get('deploy', 'ack_timeout'):g} s; "
                       f"it loads version {version.number} when it reaches Redis again")
        elif not ack.get("ok"):
            failed += 1
            click.echo(f"worker {worker} ({where}): version {version.number} NOT loaded: "
                       + "; ".join(ack.get("problems") or ["unknown problem"]))
        else:
            click.echo(f"worker {worker} ({where}): version {version.number} loaded (generation {ack['generation']})")
    click.echo(f"{len(acks) - failed}/{len(acks)} workers on version {version.number}")
    if failed:
        sys.exit(1)
    return True


def _read(path):
    try:
        return path.read_bytes()
    except OSError:
        return None


def _reload(cfg, socket_path):
    from fsapp.cli.flows import _control_path, _print_reload
    from fsapp.flow.runtime import request
    path = _control_path(cfg, socket_path)
    try:
        answer = request(path, "reload")
    except (FileNotFoundError, ConnectionRefusedError):
        click.echo(f"no running service at {path}: the line loads when `fsapp serve --flows` starts", err=True)
        return
    except OSError as exc:
        raise click.ClickException(f"{path}: {exc}") from None
    _print_reload(answer)
    if not answer.get("ok"):
        sys.exit(1)


def _resolve(store, ref):
    from fsapp.deploy.store import VersionError
    try:
        return store.resolve(ref)
    except VersionError as exc:
        raise click.ClickException(str(exc)) from None


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the history as JSON.")
@click.pass_obj
def versions(cfg, as_json):
    """List the deployed versions of the line, oldest first; * marks the current one."""
    from fsapp.deploy.store import VersionError
    store = _store(cfg)
    try:
        history, current = store.history(), store.current_number()
    except VersionError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps([dict(v.meta(), current=v.number == current) for v in history], indent=2))
        return
    if not history:
        click.echo("no versions yet: the first `fsapp deploy` records one")
        return
    for v in history:
        mark = "*" if v.number == current else " "
        click.echo(f"{mark} {v.number:>4}  {v.short}  {v.created}  {v.author}  {v.message}")


@click.command("diff")
@click.argument("old", required=False, metavar="[A]")
@click.argument("new", required=False, metavar="[B]")
@click.pass_obj
def diff_(cfg, old, new):
    """What changed between versions A and B (numbers or hash prefixes).

    No argument: what the current version changed (its parent to it). A alone: A to
    the current version. `disk` for either side means the files on disk now.
    """
    from fsapp.deploy import diff, line
    store = _store(cfg)

    def side(ref):
        if ref == "disk":
            return "disk", line.read(line.Layout.from_config(cfg))
        v = _resolve(store, ref)
        return f"version {v.number} ({v.short})", v.files

    if old is None:
        current = store.current()
        if current is None:
            raise click.ClickException("no versions yet: the first `fsapp deploy` records one")
        if current.parent is None:
            raise click.ClickException(f"version {current.number} is the first one: give A and B")
        old = str(current.parent)
    if new is None:
        number = store.current_number()
        if number is None:
            raise click.ClickException("no versions yet: the first `fsapp deploy` records one")
        new = str(number)
    (a_name, a_files), (b_name, b_files) = side(old), side(new)
    click.echo(f"{a_name} -> {b_name}")
    for text in diff(a_files, b_files).lines():
        click.echo(f"  {text}")


@click.command()
@click.argument("target", required=False, metavar="[VERSION]")
@click.option("-m", "--message", help="Why (default: 'rollback to version N').")
@click.option("--author", help="Who (default: the login name).")
@click.option("--socket", "socket_paths", type=click.Path(), multiple=True,
              help="Control socket of a worker to reload (repeatable; default: [flows] control).")
@click.option("--dry-run", is_flag=True, help="Validate and print what would change; change nothing.")
@click.pass_obj
def rollback(cfg, target, message, author, socket_paths, dry_run):
    """Deploy an earlier version again (default: the one the current version replaced).

    A rollback is a deploy: the old line (its named queries included) is validated
    first, recorded as a new version and reloaded; live calls keep the flows, queries and
    routing they started with.
    """
    store = _store(cfg)
    current = store.current()
    if current is None:
        raise click.ClickException("no versions yet: nothing to roll back to")
    if target is None:
        if current.parent is None:
            raise click.ClickException(f"version {current.number} is the first one: nothing before it")
        target = str(current.parent)
    from fsapp.deploy import line
    version = _resolve(store, target)
    click.echo(f"rolling back from version {current.number} ({current.short}) to version {version.number} "
               f"({version.short})")
    files = version.files
    if line.without_queries(files):
        click.echo(f"version {version.number} predates named queries in versions: today's queries are kept")
        files = line.with_queries_of(files, line.read(line.Layout.from_config(cfg)))
    install(cfg, files, author, message or f"rollback to version {version.number}",
            socket_paths=socket_paths, dry_run=dry_run)
