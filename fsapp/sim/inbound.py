"""The inbound Event Socket (what fsapp's InboundClient connects to, port 8021)."""
from __future__ import annotations

import logging

from . import wire
from .commands import event_commands, run_api, run_bgapi, sendmsg
from .listener import MYEVENTS, Listener
from .sendevent import run_sendevent

log = logging.getLogger("fsapp.sim")


class InboundConnection(Listener):
    """An inbound event socket connection: the switch itself serves it, so it sees the
    whole switch (the password), not only the services."""

    def __init__(self, switch, sock):
        super().__init__(switch, sock)
        self.switch = switch

    def run(self) -> None:
        self.send(wire.auth_request())
        authed = False
        try:
            for name, rest, headers, body, first in self.commands():
                if not authed:
                    if name == "auth":
                        if rest == self.switch.password:
                            authed = True
                            self.send(wire.command_reply("+OK accepted"))
                            continue
                        self.send(wire.command_reply("-ERR invalid"))
                        self.send(wire.inbound_disconnect())
                        self.close()
                        break
                    self.send(wire.command_reply("-ERR invalid"))
                    continue
                self.handle(name, rest, headers, body, first)
        except OSError:
            pass
        finally:
            self.close()
            # StreamServer closes the socket when this handler returns: flush first.
            self._writer.join(timeout=5)

    def handle(self, name: str, rest: str, headers, body, first: str = "") -> None:
        if name == "api":
            run_api(self, rest)
        elif name == "bgapi":
            run_bgapi(self, rest, headers)
        elif name == "exit":
            self.send(wire.command_reply("+OK bye"))
            self.send(wire.inbound_disconnect())
            self.close()
        elif name == "sendmsg":
            self.send(wire.command_reply(sendmsg(self, rest, headers, body, None)))
        elif name == "myevents":
            parts = rest.split()
            if not parts:
                self.send(wire.command_reply("-ERR invalid syntax"))
                return
            self.myevents_uuid = parts[0]
            self.names |= MYEVENTS
            self.format = "json" if "json" in parts[1:] else "plain"
            self.services.listen(self)
            self.send(wire.command_reply("+OK Events Enabled"))
        elif name == "sendevent":
            run_sendevent(self, first, rest, headers, body)
        elif name in ("divert_events", "resume"):
            self.send(wire.command_reply("+OK"))
        else:
            reply = event_commands(self, name, rest)
            self.send(wire.command_reply(reply if reply is not None else "-ERR command not found"))
