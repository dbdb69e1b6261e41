"""`fsapp serve`: run the outbound socket server; each call runs a Python handler
(--app module:function) or the flows of a directory (--flows DIR)."""
from gevent import monkey

monkey.patch_all()  # before redis/pyodbc users are imported by the handler

import importlib  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import click  # noqa: E402
import gevent  # noqa: E402
import gevent.event  # noqa: E402


def load_app(spec: str):
    """'package.module:function' -> the callable, with errors that say what to fix."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise click.BadParameter(f"expected module:function, got {spec!r}", param_hint="--app")
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))  # like `python -m`: the current project is importable
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise click.BadParameter(f"cannot import {module_name!r}: {exc}", param_hint="--app") from None
    target = module
    for part in attr.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise click.BadParameter(f"{module_name!r} has no attribute {attr!r}", param_hint="--app") from None
    if not callable(target):
        raise click.BadParameter(f"{spec!r} is not callable", param_hint="--app")
    return target


def flows_handler(flows_dir: str, cfg, tracers=()):
    path = Path(flows_dir)
    if not path.is_dir():
        raise click.BadParameter(f"{flows_dir!r} is not a directory", param_hint="--flows")
    try:
        runtime = importlib.import_module("fsapp.app.services")
        make_handler = runtime.make_handler
    except (ImportError, AttributeError) as exc:
        raise click.ClickException(
            f"--flows needs fsapp.app.services.make_handler(flows_dir, cfg), which is not "
            f"available in this build ({exc}); use --app module:function instead") from None
    try:
        return make_handler(str(path), cfg, tracers=tracers) if tracers else make_handler(str(path), cfg)
    except runtime.FlowLoadError as exc:  # every problem, file:line:col, as `fsapp validate` prints
        raise click.ClickException(str(exc)) from None
    except RuntimeError as exc:           # e.g. another serve already owns [flows] control
        raise click.ClickException(str(exc)) from None


@click.command()
@click.option("--app", "app_spec", metavar="MODULE:FUNCTION",
              help="Python handler called with each Call (default: [serve] app).")
@click.option("--flows", "flows_dir", metavar="DIR", help="Answer calls with the flows in DIR "
              "(default: [serve] flows).")
@click.option("--listen", metavar="HOST:PORT", help="Listen address (default: [serve] listen, "
              "127.0.0.1:8084). FreeSWITCH dialplan: socket HOST:PORT async full.")
@click.option("--max-calls", type=click.IntRange(min=1), help="Concurrent calls (default: [serve] max_calls).")
@click.option("--metrics", "metrics_listen", metavar="HOST:PORT", help="Serve Prometheus metrics on "
              "http://HOST:PORT/metrics (default: [metrics] listen; empty: none). See docs/metrics.md.")
@click.pass_obj
def serve(cfg, app_spec, flows_dir, listen, max_calls, metrics_listen):
    """Run the outbound socket server: answer calls with an app or flows."""
    from fsapp.esl.outbound import OutboundServer, parse_listen
    from fsapp.log import get_logger

    log = get_logger("fsapp.serve")
    serve_cfg = cfg.section("serve")
    if app_spec and flows_dir:
        raise click.UsageError("give either --app or --flows, not both")
    if not app_spec and not flows_dir:
        app_spec, flows_dir = serve_cfg["app"], serve_cfg["flows"]
    if not app_spec and not flows_dir:
        raise click.UsageError("nothing to run: give --app module:function or --flows DIR "
                               "(or set [serve] app / flows in the config)")
    live = _metrics(cfg, metrics_listen)
    from fsapp.live.calls import LiveCalls
    calls = LiveCalls()            # `fsapp calls`, `fsapp status` (flows only: the control socket)
    tracers = (calls, *(live.tracers if live is not None else ()))
    handler = load_app(app_spec) if app_spec else flows_handler(flows_dir, cfg, tracers)
    if not app_spec:
        from fsapp.live.control import install
        install(handler, calls)
    listen = listen or serve_cfg["listen"]
    try:
        parse_listen(listen)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--listen") from None
    server = OutboundServer.from_config(cfg, calls.wrap(handler), listen=listen)
    if max_calls:
        server.max_calls = max_calls
    try:
        server.start()
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {listen}: {exc}") from None
    click.echo(f"fsapp serve: listening on {server.address[0]}:{server.port} "
               f"({'app ' + app_spec if app_spec else 'flows ' + flows_dir})", err=True)
    if live is not None:
        try:
            live.start(None if app_spec else handler)
        except OSError as exc:
            server.stop(timeout=0)
            raise click.ClickException(f"cannot serve metrics on {live.listen}: {exc}") from None
        click.echo(f"fsapp serve: metrics on http://{live.address[0]}:{live.address[1]}/metrics", err=True)

    follower = None if app_spec else _follow_versions(cfg, handler, f"{server.address[0]}:{server.port}")
    stopping = gevent.event.Event()
    abort = gevent.event.Event()

    def on_signal():
        if stopping.is_set():   # the second signal: do not wait for the calls
            log.warning("stopping now: ending running calls", extra={"active": server.active_calls})
            abort.set()
            return
        log.info("draining: not accepting calls, waiting for running ones",
                 extra={"active": server.active_calls, "drain_timeout": serve_cfg["drain_timeout"]})
        stopping.set()

    gevent.signal_handler(signal.SIGTERM, on_signal)
    gevent.signal_handler(signal.SIGINT, on_signal)
    stopping.wait()
    server.stop(timeout=serve_cfg["drain_timeout"], abort=abort)
    if follower is not None:
        follower.stop()
    if live is not None:
        live.stop()
    log.info("stopped", extra={"calls": server.total_calls, "aborted": abort.is_set()})


def _follow_versions(cfg, handler, listen: str):
    """[deploy] store = redis: this worker follows the line's current version there
    (fsapp.deploy.follow), so a deploy reaches it on whatever node it runs."""
    if cfg.get("deploy", "store") != "redis":
        return None
    import os
    import socket

    from fsapp.deploy import line
    from fsapp.deploy.follow import VersionFollower
    from fsapp.deploy.store import from_config
    worker = f"{socket.gethostname()}:{listen}"
    info = {"host": socket.gethostname(), "listen": listen, "pid": os.getpid()}
    follower = VersionFollower(from_config(cfg), handler, line.Layout.from_config(cfg), worker, info).start()
    click.echo(f"fsapp serve: following deployed versions in Redis as worker {worker}", err=True)
    return follower


def _metrics(cfg, listen):
    """The metrics of this worker ([metrics] or --metrics), or None."""
    if not (listen or cfg.get("metrics", "listen")):
        return None
    from fsapp.live.service import ServeMetrics
    try:
        return ServeMetrics.from_config(cfg, listen)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--metrics / [metrics] listen") from None
