"""`fsapp wallboard`: the live board in a browser (docs/wallboard.md)."""
from gevent import monkey

monkey.patch_all()  # before redis is imported: its socket waits must yield to the server

import signal  # noqa: E402

import click  # noqa: E402
import gevent  # noqa: E402
import gevent.event  # noqa: E402


def thresholds_from(cfg):
    from fsapp.live.board import Thresholds
    w = cfg.section("wallboard")
    return Thresholds(service_level_seconds=w["service_level_seconds"], waiting_warn=w["waiting_warn"],
                      longest_wait_warn=w["longest_wait_warn"], service_level_warn=w["service_level_warn"],
                      agent_stuck_seconds=w["agent_stuck_seconds"])


@click.command()
@click.option("--listen", metavar="HOST:PORT", help="Address to serve on (default: [wallboard] listen, "
              "127.0.0.1:8090).")
@click.pass_obj
def wallboard(cfg, listen):
    """Serve the live wallboard: queues, waits, service level, agents (browser, SSE, JSON)."""
    from fsapp.live.endpoint import parse_address
    from fsapp.live.wallboard import Wallboard
    from fsapp.routing.state import open_state

    listen = listen or cfg.get("wallboard", "listen")
    try:
        parse_address(listen, "--listen / [wallboard] listen")
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--listen") from None
    try:
        routing, backend = open_state(cfg)
    except Exception as exc:  # routing.yaml or Redis: one clear line
        raise click.ClickException(f"cannot read the routing state: {type(exc).__name__}: {exc}") from None
    if cfg.get("routing", "backend") == "memory":
        click.echo("fsapp wallboard: [routing] backend is memory: this board sees only its own "
                   "process; use redis to watch `fsapp serve` workers", err=True)
    store = None
    try:
        from fsapp.store import Store
        store = Store.from_config(cfg)          # today's figures so far; the database alarms
    except Exception as exc:  # the board works without it
        click.echo(f"fsapp wallboard: no database ({type(exc).__name__}: {exc}); today's figures "
                   f"count from now", err=True)
    board = Wallboard(routing, backend, thresholds_from(cfg), token=cfg.get("wallboard", "token"),
                      title=cfg.get("wallboard", "title"), store=store).start()
    try:
        server = board.serve(listen)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {listen}: {exc}") from None
    from fsapp.live import alarm_service
    try:
        alarms = alarm_service.from_config(cfg, routing, backend, board, store=store)
    except Exception as exc:  # a store or calendar that cannot be built: one clear line
        raise click.ClickException(f"alarms: {type(exc).__name__}: {exc} (or set [alarms] enabled = false)") from None
    if alarms is not None:
        alarms.start()
    host, port = server.address[:2]
    click.echo(f"fsapp wallboard: http://{host}:{port}/ (JSON: /board.json)", err=True)
    stopping = gevent.event.Event()
    gevent.signal_handler(signal.SIGTERM, stopping.set)
    gevent.signal_handler(signal.SIGINT, stopping.set)
    stopping.wait()
    if alarms is not None:
        alarms.stop()
    board.stop()
    server.stop(timeout=1)
