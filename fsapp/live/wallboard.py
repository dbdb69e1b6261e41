"""`fsapp wallboard`: the board in a browser, pushed by server-sent events.

    board = Wallboard(routing_config, backend, Thresholds(), token=None).start()
    server = board.serve("127.0.0.1:8090")        # gevent WSGI: /  /events  /board.json
    board.stop()

The Board (fsapp/live/board.py) is the state; this module is its I/O: it loads the
backend's agents and waiting callers, follows the routing events (StateBackend.subscribe,
Redis pub/sub across workers), re-reads the agents an event names, once a second those
whose state ends by time (ringing, on a call, wrap-up: claims lapse, a wrap-up ends
without an event), and every 30 seconds all of them. Changes go to every connected browser
within FLUSH_EVERY seconds as one `update` event; a new browser gets a `snapshot`.

Names from the configuration (queues, agents) reach the page as JSON and are put into the
page with textContent, never as markup; the page itself is a jinja2 template with
autoescape.
"""
from __future__ import annotations

import datetime as dt
import hmac
import json
import time
from importlib import resources
from urllib.parse import parse_qs

import gevent
from gevent.event import Event
from gevent.pywsgi import WSGIServer
from gevent.queue import Empty, Queue
from jinja2 import Environment, select_autoescape

from fsapp.live.agents import board_state
from fsapp.live.board import Board, Thresholds
from fsapp.live.endpoint import parse_address
from fsapp.live.agents import callers_waiting
from fsapp.log import get_logger

log = get_logger("fsapp.live.wallboard")

FLUSH_EVERY = 0.1        # seconds: changes are batched this long at most
REFRESH_EVERY = 1.0      # seconds: agents on a timer re-read (wrap-up and delays end, claims lapse)
FULL_REFRESH_EVERY = 30  # refreshes: then every agent, in case an event was lost (Redis reconnect)
TIMED_STATES = ("ringing", "on_call", "wrap_up")
KEEPALIVE = 15.0         # seconds: an SSE comment so proxies keep the stream open
AGENT_EVENTS = {"agent-status", "agent-released", "member-offered", "member-answered"}


def local_midnight(now: float) -> float:
    day = dt.datetime.fromtimestamp(now).date()
    return dt.datetime.combine(day, dt.time()).timestamp()


class Wallboard:
    def __init__(self, routing, backend, thresholds: Thresholds | None = None, *, token: str | None = None,
                 title: str = "fsapp", store=None, clock=time.time):
        self.routing, self.backend, self.clock = routing, backend, clock
        self.store = store          # today's answered/abandoned so far, from fsapp_queue_events
        self.token, self.title = token or None, title
        now = clock()
        self.board = Board(list(routing.queues), thresholds, day_start=local_midnight(now))
        self.clients: set[Queue] = set()
        self._inbox: Queue = Queue()
        self._dirty = Event()
        self._greenlets: list[gevent.Greenlet] = []
        self._unsubscribe = None
        self.alarms: dict[str, dict] = {}        # alarm name -> {"rule", "message", "since"} (part 4)

    # -- state -----------------------------------------------------------------------------------
    def start(self) -> "Wallboard":
        now = self.clock()
        self._unsubscribe = self.backend.subscribe(self._inbox.put)   # before the load: nothing is missed
        agents = {a.name: board_state(a, now) for a in self.backend.agents()}
        members = [(m.id, q, m.joined_at) for q in self.routing.queues
                   for m in self.backend.members(q) if callers_waiting(m)]
        self.board.load(agents, members, now)
        self._load_today(now)
        self.board.take_changes(now)
        self._greenlets = [gevent.spawn(self._pump), gevent.spawn(self._refresh), gevent.spawn(self._flush)]
        return self

    def _load_today(self, now: float) -> None:
        """The day so far, from the queue events the workers recorded (a board started at
        noon still shows the morning). Rows still in a worker's outbox arrive late: they
        are counted at the next start."""
        if self.store is None:
            return
        midnight = dt.datetime.fromtimestamp(self.board.day_start)   # naive local, as the rows are
        try:
            rows = self.store.execute("SELECT queue_name, event, wait_ms FROM fsapp_queue_events "
                                      "WHERE event_at >= ? AND event IN ('answered', 'abandoned')",
                                      [midnight], timeout=10.0)
        except Exception as exc:  # no database, no table yet: the board counts from now on
            log.warning("today's queue figures not read; counting from now",
                        extra={"error": f"{type(exc).__name__}: {exc}"})
            return
        self.board.add_today((r["queue_name"], r["event"], r["wait_ms"]) for r in rows)

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        for greenlet in self._greenlets:
            greenlet.kill(block=False)
        for client in list(self.clients):
            client.put(None)

    def _pump(self) -> None:
        while True:
            event = self._inbox.get()
            try:
                now = self.clock()
                self.board.on_event(event, now)
                if event.get("event") in AGENT_EVENTS:
                    names = event.get("agents") or [event.get("agent")]
                    self._read_agents([n for n in names if n], now)
            except Exception:  # one odd event must not stop the board
                log.exception("wallboard event not applied", extra={"event": str(event.get("event"))})
            self._dirty.set()

    def _read_agents(self, names: list[str] | None, now: float) -> None:
        for agent in self.backend.agents(names):
            self.board.set_agent(agent.name, board_state(agent, now), now)

    def _refresh(self) -> None:
        rounds = 0
        while True:
            gevent.sleep(REFRESH_EVERY)
            rounds += 1
            try:
                now = self.clock()
                midnight = local_midnight(now)
                if midnight > self.board.day_start:
                    self.board.roll_day(midnight)
                if rounds % FULL_REFRESH_EVERY == 0:
                    self._read_agents(None, now)
                else:   # only these change by time alone; the rest change by events
                    timed = [name for name, row in self.board.agents.items() if row.state in TIMED_STATES]
                    if timed:
                        self._read_agents(timed, now)
                self.board.tick(now)
            except Exception:  # Redis away: the board keeps its last state and tries again
                log.warning("wallboard refresh failed; retrying", exc_info=True)
            self._dirty.set()

    def _flush(self) -> None:
        while True:
            self._dirty.wait()
            self._dirty.clear()
            changes = self.board.take_changes(self.clock())
            if changes:
                self.broadcast("update", {"now": self.clock(), **changes})
            gevent.sleep(FLUSH_EVERY)

    def broadcast(self, kind: str, data: dict) -> None:
        message = _sse(kind, data)
        for client in list(self.clients):
            client.put(message)

    def set_alarm(self, name: str, alarm: dict | None) -> None:
        """Show (or clear, with None) an alarm on every board."""
        if alarm is None:
            self.alarms.pop(name, None)
        else:
            self.alarms[name] = alarm
        self.broadcast("alarms", {"alarms": list(self.alarms.values())})

    def snapshot(self) -> dict:
        return {**self.board.snapshot(self.clock()), "title": self.title, "alarms": list(self.alarms.values())}

    # -- HTTP --------------------------------------------------------------------------------------
    def serve(self, listen: str) -> WSGIServer:
        server = WSGIServer(parse_address(listen, "[wallboard] listen"), self.app, log=None)
        server.start()
        return server

    def app(self, environ, start_response):
        path = environ.get("PATH_INFO", "/")
        query = parse_qs(environ.get("QUERY_STRING", ""))
        if self.token and not self._authorized(environ, query):
            start_response("401 Unauthorized", [("Content-Type", "text/plain; charset=utf-8"),
                                                ("WWW-Authenticate", 'Bearer realm="fsapp wallboard"')])
            return [b"token required: open /?token=...\n"]
        if path == "/":
            body = PAGE.render(title=self.title, token=self.token or "").encode("utf-8")
            start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"), *SECURITY_HEADERS])
            return [body]
        if path == "/board.json":
            body = json.dumps(self.snapshot(), ensure_ascii=False).encode("utf-8")
            start_response("200 OK", [("Content-Type", "application/json; charset=utf-8")])
            return [body]
        if path == "/events":
            start_response("200 OK", [("Content-Type", "text/event-stream; charset=utf-8"),
                                      ("Cache-Control", "no-cache"), ("X-Accel-Buffering", "no")])
            return self._stream()
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]

    def _authorized(self, environ, query) -> bool:
        given = (query.get("token") or [""])[0]
        scheme, _, bearer = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() == "bearer":
            given = bearer.strip()
        return hmac.compare_digest(given.encode(), self.token.encode())

    def _stream(self):
        client: Queue = Queue()
        self.clients.add(client)
        try:
            yield _sse("snapshot", self.snapshot())
            while True:
                try:
                    message = client.get(timeout=KEEPALIVE)
                except Empty:
                    message = b": keep-alive\n\n"
                if message is None:
                    return
                yield message
        finally:
            self.clients.discard(client)


def _sse(kind: str, data: dict) -> bytes:
    return f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode("utf-8")


SECURITY_HEADERS = [("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; "
                     "script-src 'self' 'unsafe-inline'"), ("X-Content-Type-Options", "nosniff")]
_ENV = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
PAGE = _ENV.from_string(resources.files("fsapp.live").joinpath("wallboard.html").read_text(encoding="utf-8"))
