"""The emulated switch + outbound server + flow handler, wired once.

FreeSWITCH (here fsapp.sim, a real TCP ESL server) routes each number of the flows to an
outbound socket; fsapp's OutboundServer accepts each call and runs the flow handler on
it, exactly as in production. What the handler returns for each call is kept by the
uuid of the channel fsapp controls (the caller report's `uuid`).
"""
from __future__ import annotations

import re
import time
from typing import Callable, Iterable

import gevent

from fsapp.esl.outbound import OutboundServer
from fsapp.sim import CallerScript, RealClock, Socket, Switch

SIM_PASSWORD = "ClueCon"   # of the in-process emulator only


class EmulatedLine:
    """`EmulatedLine(clock).serve(handler, numbers)`, then `place_call(...)`; `close()`.

    The switch starts at once (its ESL port is known before the handler is built, for a
    configuration that points the router at it); serve() adds the outbound server and
    the routes. Also a context manager.
    """

    def __init__(self, clock=None, password: str = SIM_PASSWORD):
        self.switch = Switch(password=password, esl=("127.0.0.1", 0), clock=clock or RealClock()).start()
        self.password = password
        self.server: OutboundServer | None = None
        self.handler: Callable | None = None
        self.outcomes: dict[str, object] = {}      # what the handler returned, by uuid
        self.finished_at: dict[str, float] = {}    # time.monotonic() when it returned

    @property
    def esl_port(self) -> int:
        return self.switch.esl_port

    def serve(self, handler: Callable, numbers: Iterable[str], app_timeout: float = 120.0,
              command_timeout: float = 15.0) -> "EmulatedLine":
        """Answer `numbers` with `handler(call)` behind an outbound socket server."""
        self.handler = handler
        self.server = OutboundServer(self._run, ("127.0.0.1", 0), linger=5, app_timeout=app_timeout,
                                     command_timeout=command_timeout).start()
        for number in numbers:
            self.switch.dialplan.add(rf"^{re.escape(number)}$",
                                     Socket(f"127.0.0.1:{self.server.port} async full"))
        return self

    def _run(self, call) -> None:
        outcome = self.handler(call)
        self.outcomes[call.uuid] = outcome
        self.finished_at[call.uuid] = time.monotonic()

    def place_call(self, number: str, steps: Iterable = (), caller_id: str = "13800138000",
                   variables: dict | None = None):
        """A caller dials `number`; returns fsapp.sim's Caller (caller.wait() -> report)."""
        return self.switch.place_call(CallerScript(dial=number, caller_id=caller_id, steps=list(steps),
                                                   variables=variables or {}))

    def outcome(self, uuid: str, timeout: float = 15.0):
        """What the handler returned for the call (None if it has not finished within
        `timeout` wall seconds): on_hangup steps run after the caller has gone."""
        with gevent.Timeout(timeout, False):
            while uuid not in self.finished_at:
                gevent.sleep(0.05)
        return self.outcomes.get(uuid)

    def close(self) -> None:
        if self.server is not None:
            self.server.stop(timeout=5.0)
        self.switch.stop()

    def __enter__(self) -> "EmulatedLine":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
