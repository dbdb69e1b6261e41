"""The `fsapp` command: one verb per job, like git.

Commands live in small modules under fsapp/cli/ and are imported only when invoked, so
`fsapp --help` stays fast and one broken subsystem cannot break the others' commands.
Each module owns its verbs; add a new verb to COMMANDS.
"""
from __future__ import annotations

import importlib
import sys

import click

# verb -> ("module:attribute", one-line help shown by `fsapp --help`)
COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("fsapp.cli.serve:serve", "Run the outbound socket server: answer calls with an app or flows."),
    "sim": ("fsapp.cli.sim:sim", "Run an emulated FreeSWITCH node (the test double and demo switch)."),
    "demo": ("fsapp.cli.demo:demo", "Run the embedded demo: emulator, flows, SQLite, scripted calls."),
    "validate": ("fsapp.cli.flows:validate", "Check flow files; report every problem as file:line:col."),
    "compile": ("fsapp.cli.flows:compile_", "Compile a flow (e.g. to FreeSWITCH XML IVR menus)."),
    "simulate": ("fsapp.cli.flows:simulate", "Run one call through a flow against the emulator."),
    "test": ("fsapp.cli.flows:test", "Run flow tests (YAML beside each flow) and print coverage."),
    "graph": ("fsapp.cli.flows:graph", "Draw a flow as a graph (graphviz)."),
    "deploy": ("fsapp.cli.flows:deploy", "Validate the line, install it, configure FreeSWITCH nodes, record a version, reload."),
    "versions": ("fsapp.cli.deploy:versions", "List deployed versions of the line (hash, time, author, message)."),
    "diff": ("fsapp.cli.deploy:diff_", "What changed between two versions: flows, nodes, numbers, queues, prompts, queries."),
    "rollback": ("fsapp.cli.deploy:rollback", "Deploy an earlier version again (default: the previous one)."),
    "reload": ("fsapp.cli.flows:reload", "Hot-reload flows in a running service; live calls keep their version."),
    "sounds": ("fsapp.cli.sounds:sounds", "Prompt catalog: build WAV prompts with espeak-ng, check coverage."),
    "db": ("fsapp.cli.db:db", "Databases: init, migrate, check, run named queries, replay the outbox."),
    "queue": ("fsapp.cli.routing:queue", "Call-center queues: list, status."),
    "agent": ("fsapp.cli.routing:agent", "Agents: login, logout, break, available, status; listen, whisper, barge, release."),
    "tier": ("fsapp.cli.routing:tier", "Tiers (agent to queue): add, remove."),
    "status": ("fsapp.cli.live:status", "The running service: workers, calls, queues, agents, outbox, health."),
    "calls": ("fsapp.cli.live:calls", "Live calls: list, hangup UUID, transfer UUID DEST."),
    "wallboard": ("fsapp.cli.wallboard:wallboard", "Serve the live wallboard: queues, waits, service level, agents."),
    "campaign": ("fsapp.cli.campaign:campaign", "Outbound campaigns: validate, load, start, pause, resume, stop, status, report."),
    "report": ("fsapp.cli.report:report", "Call-center figures: service level, ASA, AHT, occupancy, FCR, per node."),
    "simulate-load": ("fsapp.cli.loadsim:simulate_load", "Run a day of calls through the routing on a virtual clock (what if)."),
    "staffing": ("fsapp.cli.staffing:staffing", "Agents needed for a call volume and service level (Erlang C/A)."),
    "call": ("fsapp.cli.call:call", "Place a test call through the switch's dialplan: which worker took it, or the fallback."),
    "api": ("fsapp.cli.call:api", "Run one FreeSWITCH API command over the event socket (like fs_cli -x)."),
    "conf": ("fsapp.cli.conf:conf", "Render FreeSWITCH configuration from freeswitch-conf/ templates."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        target, _ = COMMANDS[name]
        module_name, attr = target.split(":")
        module = importlib.import_module(module_name)
        return getattr(module, attr)

    def format_commands(self, ctx, formatter):
        # Help from the table, without importing every subsystem.
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", type=click.Path(dir_okay=False), envvar="FSAPP_CONFIG",
              help="Config file (TOML). Default: ./fsapp.toml if present.")
@click.option("--log-level", default=None, help="Override [logging] level.")
@click.version_option(package_name="fsapp")
@click.pass_context
def main(ctx, config_path, log_level):
    """fsapp: script FreeSWITCH call flows in Python.

    Flows are YAML files in ivr_flows/; `fsapp validate` checks them, `fsapp simulate`
    calls them against the built-in FreeSWITCH emulator, `fsapp serve` runs them.
    """
    from fsapp import config as config_mod
    from fsapp import log

    try:
        cfg = config_mod.load(config_path)
    except config_mod.ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    log.setup(log_level or cfg.get("logging", "level"), cfg.get("logging", "format"))
    ctx.obj = cfg


def run() -> None:  # pragma: no cover - thin wrapper
    main(prog_name="fsapp")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run())
