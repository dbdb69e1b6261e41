"""A small call center for the live-operations tests: an emulated switch, the outbound
socket server running one flow (greeting, queue `sales`, goodbye) exactly as `fsapp serve
--flows` does (FlowHandler from a generated fsapp.toml, memory routing backend), and
scripted agents.

    line = LiveLine.open(tmp_path, metrics=True)    # + [metrics] on a free port
    line.config_path                                # fsapp.toml for `fsapp status` (control socket)
    line.agent("1001", ring_s=0.2, talk_s=5)
    call = line.place([Wait(10)])                   # the caller dials 7000
    line.close()
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import gevent

from fsapp import config as config_mod
from fsapp.esl.outbound import OutboundServer
from fsapp.app.services import flow_handler
from fsapp.flow.runtime import FlowHandler
from fsapp.sim import CallerScript, Socket, Switch

MOH = "tone_stream://%(1000,0,440);loops=-1"
NUMBER = "7000"

FLOW = """flow: line
description: greeting, the sales queue, goodbye
numbers: ["7000"]
languages: [en-US]
start: greet
nodes:
  greet:
    play: {tone: "%(100,0,400)"}
    next: agents
  agents:
    queue:
      queue: sales
      on_overflow: bye
      on_timeout: bye
  bye:
    hangup: {prompt: {tone: "%(100,0,560)"}}
"""

ROUTING = f"""
queues:
  sales:
    strategy: top-down
    moh-sound: "{MOH}"
    offer-timeout: 5
  "<b>support</b>":
    moh-sound: "{MOH}"
agents:
  "1001": {{contact: user/1001, status: Available, wrap-up-time: 1}}
  "1002": {{contact: user/1002, status: Available, wrap-up-time: 1}}
  "1003": {{contact: user/1003, status: Logged Out}}
tiers:
  - {{queue: sales, agent: "1001", position: 1}}
  - {{queue: sales, agent: "1002", position: 2}}
  - {{queue: "<b>support</b>", agent: "1003"}}
"""


def write_project(workdir: Path, extra: str = "", routing: str = ROUTING) -> Path:
    (workdir / "flows").mkdir(parents=True, exist_ok=True)
    (workdir / "flows" / "line.yaml").write_text(FLOW, encoding="utf-8")
    (workdir / "routing.yaml").write_text(routing, encoding="utf-8")
    path = workdir / "fsapp.toml"
    path.write_text(f"""[flows]
dir = "{workdir / 'flows'}"
node_visits = false
control = "{workdir / 'ctl.sock'}"
recordings = "{workdir / 'recordings'}"

[routing]
config = "{workdir / 'routing.yaml'}"
reconcile_interval = 3600

[store]
spool = "{workdir / 'spool'}"

[logging]
level = "WARNING"
{extra}""", encoding="utf-8")
    return path


def wait_for(predicate, timeout: float, what: str, interval: float = 0.05):
    """Poll an event-free condition until true (returned); AssertionError after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        gevent.sleep(interval)


@dataclass
class LiveLine:
    cfg: object
    switch: Switch
    handler: FlowHandler
    server: OutboundServer
    live: object = None
    outcomes: dict = field(default_factory=dict)
    calls: object = None
    config_path: Path | None = None

    @classmethod
    def open(cls, workdir: Path, metrics: bool = False, extra: str = "", routing: str = ROUTING) -> "LiveLine":
        switch = Switch(password="ClueCon", esl=("127.0.0.1", 0)).start()
        cfg = config_mod.load(write_project(workdir, extra, routing),
                              env={"FSAPP_ESL_PORT": str(switch.esl_port), "FSAPP_ESL_PASSWORD": "ClueCon"})
        live = None
        if metrics:
            from fsapp.live.service import ServeMetrics
            live = ServeMetrics("127.0.0.1:0", sample_interval=0.1)
        from fsapp.live.calls import LiveCalls
        from fsapp.live.control import install
        calls = LiveCalls()                      # as `fsapp serve --flows` wires it
        handler = flow_handler(str(workdir / "flows"), cfg, tracers=(calls, *(live.tracers if live else ())))
        assert not handler.warnings, handler.warnings
        handler.services.router.start()
        install(handler, calls)
        handler.listen(cfg.get("flows", "control"), sighup=False)
        line = cls(cfg, switch, handler, None, live)
        line.calls = calls
        line.config_path = workdir / "fsapp.toml"
        line.server = OutboundServer(calls.wrap(line._run), ("127.0.0.1", 0), linger=1).start()
        switch.dialplan.add(rf"^{NUMBER}$", Socket(f"127.0.0.1:{line.server.port} async full"))
        if live is not None:
            live.start(handler)
        return line

    def _run(self, call) -> None:
        self.outcomes[call.uuid] = self.handler(call)

    @property
    def router(self):
        return self.handler.services.router

    def agent(self, name: str, **script) -> None:
        self.switch.add_agent(name, **script)

    def place(self, steps: list, caller_id: str = "13800138000"):
        return self.switch.place_call(CallerScript(dial=NUMBER, caller_id=caller_id, steps=list(steps)))

    def close(self) -> None:
        if self.live is not None:
            self.live.stop()
        self.handler.control_server.stop()
        self.server.stop(timeout=2)
        self.router.stop()
        self.router.esl.stop()
        self.switch.stop()


def fsapp_cli(line, *args):
    """The fsapp command against a live line's configuration."""
    from click.testing import CliRunner

    from fsapp.cli import main
    return CliRunner().invoke(main, ["--config", str(line.config_path), *args], catch_exceptions=False)


class PrivateRedis:
    """A redis-server of the test's own on a free port, which the test may stop and start
    again (never the shared one)."""

    def __init__(self, tmp_path):
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.args = ["redis-server", "--port", str(self.port), "--save", "", "--appendonly", "no",
                     "--dir", str(tmp_path)]
        self.proc = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        import subprocess
        self.proc = subprocess.Popen(self.args, stdout=subprocess.DEVNULL)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(20)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(20)
