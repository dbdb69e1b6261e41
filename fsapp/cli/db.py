"""`fsapp db`: set up fsapp's tables, check connections, run named queries, drain the outbox.

    fsapp db init                      create fsapp's tables on an empty database
    fsapp db migrate [--sql DIALECT]   upgrade (or print the DDL for a dialect, no server needed)
    fsapp db check                     connectivity, schema version, queries; advice on failure
    fsapp db query NAME --param k=v    run one named query and print its rows
    fsapp db queries                   list the named queries
    fsapp db script FILE -c NAME       run a ;-separated SQL file (e.g. the billing example)
    fsapp db outbox status|replay      the durable outbox
"""
from __future__ import annotations

import datetime as dt
import json
import sys
from decimal import Decimal
from pathlib import Path

import click

from fsapp import config as config_mod


def _store(ctx: click.Context, **kw):
    from fsapp.store import Store, StoreConfigError
    cfg = ctx.find_object(config_mod.Config) or config_mod.load(None)
    try:
        return Store.from_config(cfg, start=False, **kw)
    except StoreConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _fail(exc: Exception) -> click.ClickException:
    return click.ClickException(f"{type(exc).__name__}: {exc}")


@click.group()
def db():
    """Databases: init, migrate, check, run named queries, replay the outbox."""


@db.command()
@click.option("-c", "--connection", default=None, help="Connection to create the tables in (default: [store] default).")
@click.pass_context
def init(ctx, connection):
    """Create fsapp's tables on a database that has none yet."""
    from fsapp.store import StoreError
    store = _store(ctx)
    try:
        applied = store.migrate(connection, require_empty=True)
    except StoreError as exc:
        raise _fail(exc) from None
    finally:
        store.close()
    click.echo(f"created fsapp tables on {connection or store.default!r} (schema version {applied[-1]})")


@db.command()
@click.option("-c", "--connection", default=None, help="Connection to migrate (default: [store] default).")
@click.option("--sql", "dialect", default=None, metavar="DIALECT",
              help="Print the full DDL for sqlite|postgresql|mysql|mssql|oracle instead of connecting.")
@click.pass_context
def migrate(ctx, connection, dialect):
    """Apply pending schema migrations (or print the DDL with --sql)."""
    from fsapp.store import StoreError
    from fsapp.store.dialects import get_dialect
    from fsapp.store.migrations import full_ddl
    if dialect:
        try:
            click.echo(full_ddl(get_dialect(dialect)), nl=False)
        except StoreError as exc:
            raise _fail(exc) from None
        return
    store = _store(ctx)
    try:
        applied = store.migrate(connection)
        version = store.schema_version(connection)
    except StoreError as exc:
        raise _fail(exc) from None
    finally:
        store.close()
    if applied:
        click.echo(f"applied migration(s) {', '.join(map(str, applied))}; schema version {version}")
    else:
        click.echo(f"schema is up to date (version {version})")


def _advice(message: str) -> str:
    low = message.lower()
    if "can't open lib" in low or "data source name not found" in low:
        return ("the ODBC driver or DSN is not registered: list drivers with `odbcinst -q -d`, "
                "install it (odbc-postgresql, odbc-mariadb, libsqliteodbc, msodbcsql18, Oracle Instant "
                "Client ODBC) and use its exact name in Driver={...}")
    if "password" in low or "access denied" in low or "authentication" in low or "login failed" in low:
        return "the server refused the login: check Uid/Pwd (secrets as ${ENV_VAR}) and the user's grants"
    if "refused" in low or "can't connect" in low or "could not connect" in low or "timed out" in low \
            or "timeout" in low:
        return "the server did not answer: is it running, is Server/Port right, does a firewall block it?"
    if "does not exist" in low or "unknown database" in low:
        return "the database named in Database= does not exist on that server: create it or fix the name"
    if "connect failed" in low:
        return "SQLite could not open the file: check that Database= points to a writable directory"
    return "see the driver's message above"


@db.command()
@click.pass_context
def check(ctx):
    """Check every connection, the schema version and the named queries; exit 1 on problems."""
    from fsapp.store import StoreError
    from fsapp.store.migrations import LATEST
    store = _store(ctx)
    problems = 0
    try:
        for name in store.pools:
            pool = store.pool(name)
            try:
                store.execute(store.dialect(name).ping_sql, connection=name, timeout=5)
            except StoreError as exc:
                problems += 1
                click.echo(f"FAIL {name}: cannot query: {exc}")
                click.echo(f"     advice: {_advice(str(exc))}")
                continue
            line = f"ok   {name}: {pool.dbms_name} ({pool.dialect.name}"
            line += ")" if pool.dialect.tested else ", dialect not tested by fsapp's CI)"
            if name in store.new_sqlite_files:
                line += (f"; {store.new_sqlite_files[name]} did not exist and was created empty "
                         f"(check the path in [store.connections.{name}] if you expected data)")
            if name == store.default:
                version = store.schema_version(name)
                if version is None:
                    problems += 1
                    line += "; no fsapp tables: run `fsapp db init`"
                elif version < LATEST:
                    problems += 1
                    line += f"; schema version {version} < {LATEST}: run `fsapp db migrate`"
                else:
                    line += f"; schema version {version}"
            click.echo(line)
        unconfigured: dict[str, list] = {}
        for qname in store.query_names():
            q = store.named_query(qname)
            target = q.connection or store.default
            if target not in store.pools:
                unconfigured.setdefault(target, []).append(q)
        for target, queries in sorted(unconfigured.items()):  # one problem per missing connection
            problems += 1
            files = sorted({q.source.rsplit(":", 1)[0] for q in queries})
            click.echo(f"FAIL connection {target!r} is not configured, and {len(queries)} named "
                       f"quer{'y uses' if len(queries) == 1 else 'ies use'} it "
                       f"({', '.join(q.name for q in queries)} in {', '.join(files)}): "
                       f"add [store.connections.{target}]")
        click.echo(f"ok   {len(store.query_names())} named queries from {store.catalog.directory}")
        status = store.outbox_status()
        if status["pending"] or status["dead"]:
            click.echo(f"warn outbox: {status['pending']} row(s) pending, {status['dead']} dead in {status['dir']}: "
                       f"`fsapp db outbox replay`")
    finally:
        store.close()
    if problems:
        raise click.ClickException(f"{problems} problem(s) found")


def _parse_params(params: tuple[str, ...]) -> dict:
    out = {}
    for item in params:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r}: write --param name=value", param_hint="--param")
        out[key.strip()] = value
    return out


def _jsonable(v):
    if isinstance(v, (dt.date, dt.datetime)):
        return v.isoformat()
    if isinstance(v, Decimal):
        return str(v)
    return v


@db.command()
@click.argument("name")
@click.option("-p", "--param", "params", multiple=True, metavar="K=V", help="A query parameter (repeatable).")
@click.option("-c", "--connection", default=None, help="Run on this connection instead of the query's own.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per row.")
@click.option("--timeout", type=float, default=None, help="Query timeout in seconds.")
@click.pass_context
def query(ctx, name, params, connection, as_json, timeout):
    """Run the named query NAME (e.g. fsapp.overdue_tickets) and print its rows."""
    from fsapp.store import StoreError
    store = _store(ctx)
    try:
        rows = store.query(name, _parse_params(params), connection=connection, timeout=timeout)
    except StoreError as exc:
        raise _fail(exc) from None
    finally:
        store.close()
    if as_json:
        for row in rows:
            click.echo(json.dumps({k: _jsonable(v) for k, v in row.items()}, ensure_ascii=False))
        return
    if not rows:
        click.echo("(no rows)")
        return
    cols = list(rows[0])
    cells = [[("" if r[c] is None else str(r[c])) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    click.echo("  ".join(c.ljust(w) for c, w in zip(cols, widths)).rstrip())
    for row in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())
    click.echo(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")


@db.command()
@click.pass_context
def queries(ctx):
    """List the named queries with their connection and parameters."""
    store = _store(ctx)
    try:
        for qname in store.query_names():
            q = store.named_query(qname)
            params = ", ".join(dict.fromkeys(p.name for p in q.params))
            click.echo(f"{qname}({params})  [{q.connection or store.default}]  {q.description}")
    finally:
        store.close()


@db.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-c", "--connection", default=None, help="Connection to run it on (default: [store] default).")
@click.pass_context
def script(ctx, file, connection):
    """Run a ;-separated SQL file, e.g. examples/billing/schema.sqlite.sql."""
    from fsapp.store import StoreError
    store = _store(ctx)
    try:
        count = store.execute_script(file.read_text(encoding="utf-8"), connection)
    except StoreError as exc:
        raise click.ClickException(f"{file}: {exc}") from None
    finally:
        store.close()
    click.echo(f"{file}: {count} statement(s) run on {connection or store.default!r}")


@db.group()
def outbox():
    """The durable outbox: rows spooled while the database was unreachable."""


@outbox.command("status")
@click.pass_context
def outbox_status(ctx):
    """Pending and dead-lettered rows in the spool."""
    store = _store(ctx)
    try:
        s = store.outbox.status()
    finally:
        store.close()
    click.echo(f"spool {s['dir']}: {s['pending']} pending row(s) in {s['segments']} segment(s), "
               f"{s['dead']} dead letter(s)")


@outbox.command("replay")
@click.option("--dead", is_flag=True, help="Also retry rows in dead.spool (after fixing what rejected them).")
@click.pass_context
def outbox_replay(ctx, dead):
    """Write every spooled row to the database now, exactly once."""
    store = _store(ctx)
    try:
        report = store.replay_outbox(dead=dead)
        left = store.outbox.status()
    finally:
        store.close()
    click.echo(f"replayed {report.replayed} row(s); {report.dead} moved to dead letters; "
               f"{left['pending']} still pending")
    if report.stopped:
        click.echo(f"stopped: {report.stopped}", err=True)
        sys.exit(1)
