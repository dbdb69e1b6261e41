"""The I/O edge of the alarms: read the facts every second, step the AlarmEngine, send
each fire and clear to the sinks.

    service = AlarmService(AlarmEngine(rules), routing, backend, store=store, esl=client,
                           calendars=calendars, sinks=[LogSink(), WallboardSink(board), ...])
    service.start()            # follows routing events; checks every `interval` seconds
    service.check()            # one round now (tests step it with their own clock)

Sinks never block the check: the slow ones (webhook, Redis, ESL) each have a queue and a
greenlet of their own, with a deadline and retries per delivery.
"""
from __future__ import annotations

import datetime as dt
import json
import time
import urllib.request

import gevent
from gevent.queue import Queue

from fsapp.live.agents import board_state
from fsapp.live.alarms import AlarmEngine, Facts, Transition
from fsapp.live.snapshot import _probe_db
from fsapp.log import get_logger
from fsapp.routing.model import AgentStatus

log = get_logger("fsapp.live.alarms")


class AlarmService:
    def __init__(self, engine: AlarmEngine, routing, backend, *, store=None, esl=None, calendars=None,
                 sinks=(), clock=time.time, state_clock=time.time, interval: float = 1.0):
        # clock: the rules' time (tests step it); state_clock: the time the routing state is
        # stamped in (claims and wrap-ups expire by it), always the backend's real clock
        self.state_clock = state_clock
        self.engine, self.routing, self.backend = engine, routing, backend
        self.store, self.esl, self.calendars = store, esl, calendars or {}
        self.sinks, self.clock, self.interval = list(sinks), clock, interval
        self._greenlet = None
        self._unsubscribe = None
        self._states: dict[str, tuple[str, float]] = {}    # agent -> (board state, since)

    def start(self) -> "AlarmService":
        self._unsubscribe = self.backend.subscribe(lambda event: self.engine.on_event(event, self.clock()))
        self._greenlet = gevent.spawn(self._loop)
        return self

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self._greenlet is not None:
            self._greenlet.kill(block=False)

    def _loop(self) -> None:
        while True:
            try:
                self.check()
            except Exception:  # the next round tries again
                log.exception("alarm check failed")
            gevent.sleep(self.interval)

    def check(self) -> list[Transition]:
        now = self.clock()
        transitions = self.engine.evaluate(self.facts(now), now)
        for transition in transitions:
            for sink in self.sinks:
                try:
                    sink(transition)
                except Exception:  # one broken sink must not keep the others from hearing
                    log.exception("alarm sink failed", extra={"sink": type(sink).__name__})
        return transitions

    # -- facts ----------------------------------------------------------------------------------
    def facts(self, now: float) -> Facts:
        facts = Facts()
        try:
            if hasattr(self.backend, "r"):
                self.backend.r.ping()
                facts.redis = True
            agents = {a.name: a for a in self.backend.agents()}
            moment = dt.datetime.fromtimestamp(now, tz=dt.timezone.utc)
            for name, queue in self.routing.queues.items():
                staffed = [agents[t.agent] for t in self.backend.tiers(queue=name) if t.agent in agents]
                calendar = self.calendars.get(queue.calendar) if queue.calendar else None
                facts.queues[name] = {
                    "waiting": sum(1 for m in self.backend.members(name)
                                   if m.state.value in ("Waiting", "Trying") and not m.callback_number),
                    "logged_in": sum(1 for a in staffed if a.status is not AgentStatus.LOGGED_OUT),
                    "open": calendar.is_open(moment) if calendar is not None else None}
            state_now = self.state_clock()
            for name, agent in agents.items():
                state = board_state(agent, state_now)
                facts.agents[name] = (state, self._since(name, state, now))
        except Exception as exc:  # Redis away: that is the fact; the queue rules wait for it
            if not hasattr(self.backend, "r"):
                raise
            facts.redis = False
            log.debug("routing state unreadable", extra={"error": str(exc)})
        if self.store is not None:
            facts.databases = {name: _probe_db(self.store, name)["ok"] for name in self.store.breakers}
            facts.outbox_depth = self.store.outbox.status()["pending"]
        if self.esl is not None and hasattr(self.esl, "connected"):
            facts.esl = {f"{self.esl.host}:{self.esl.port}": bool(self.esl.connected)}
        return facts

    def _since(self, agent: str, state: str, now: float) -> float:
        """When the agent entered its board state, as this service saw it."""
        known = self._states.get(agent)
        if known is None or known[0] != state:
            self._states[agent] = (state, now)
            return now
        return known[1]


# ---- sinks --------------------------------------------------------------------------------------
class LogSink:
    def __call__(self, t: Transition) -> None:
        if t.kind == "fire":
            log.warning("alarm", extra={"rule": t.alarm.rule, "subject": t.alarm.subject, "alarm": t.alarm.message})
        else:
            log.info("alarm cleared", extra={"rule": t.alarm.rule, "subject": t.alarm.subject})


class WallboardSink:
    def __init__(self, wallboard):
        self.wallboard = wallboard

    def __call__(self, t: Transition) -> None:
        self.wallboard.set_alarm(t.alarm.key, t.alarm.to_json() if t.kind == "fire" else None)


class AsyncSink:
    """Deliveries in their own greenlet, in order, each retried `retries` times with a
    doubling pause: the alarm check never waits for a slow or dead receiver."""

    def __init__(self, deliver, retries: int = 3, backoff: float = 0.5, name: str = "sink"):
        self.deliver, self.retries, self.backoff, self.name = deliver, retries, backoff, name
        self.queue: Queue = Queue()
        self.delivered = 0
        self.failed = 0
        self._greenlet = gevent.spawn(self._run)

    def __call__(self, t: Transition) -> None:
        self.queue.put(t)

    def _run(self) -> None:
        while True:
            t = self.queue.get()
            for attempt in range(self.retries + 1):
                try:
                    self.deliver(t)
                    self.delivered += 1
                    break
                except Exception as exc:  # retried, then counted and logged
                    if attempt == self.retries:
                        self.failed += 1
                        log.warning("alarm not delivered", extra={"sink": self.name, "error": str(exc)})
                    else:
                        gevent.sleep(self.backoff * 2 ** attempt)

    def stop(self) -> None:
        self._greenlet.kill(block=False)


def webhook_sink(url: str, timeout: float = 5.0, retries: int = 3, backoff: float = 0.5) -> AsyncSink:
    """POST {"state": "firing"|"cleared", "rule", "subject", "message", "since"} as JSON."""
    def deliver(t: Transition) -> None:
        body = json.dumps(t.to_json(), ensure_ascii=False).encode("utf-8")
        req = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json; charset=utf-8"})
        with urllib.request.urlopen(req, timeout=timeout) as reply:
            if reply.status >= 300:
                raise OSError(f"webhook answered {reply.status}")
    return AsyncSink(deliver, retries, backoff, "webhook")


def redis_sink(client, channel: str, retries: int = 3) -> AsyncSink:
    return AsyncSink(lambda t: client.publish(channel, json.dumps(t.to_json(), ensure_ascii=False)),
                     retries, name="redis")


def esl_sink(client, retries: int = 3) -> AsyncSink:
    """A CUSTOM fsapp::alarm event on FreeSWITCH, headers through fsapp/esl/syntax.py."""
    def deliver(t: Transition) -> None:
        client.sendevent("CUSTOM", {"Event-Subclass": "fsapp::alarm",
                                    "Alarm-State": "firing" if t.kind == "fire" else "cleared",
                                    "Alarm-Rule": t.alarm.rule, "Alarm-Subject": t.alarm.subject,
                                    "Alarm-Message": t.alarm.message}, timeout=5.0)
    return AsyncSink(deliver, retries, name="esl")


def rules_from_config(cfg):
    from fsapp.live.alarms import AlarmRules
    a = cfg.section("alarms")
    return AlarmRules(waiting_over=a["waiting_over"], waiting_for=a["waiting_for"],
                      service_level_below=a["service_level_below"],
                      service_level_seconds=cfg.get("wallboard", "service_level_seconds"),
                      service_level_min_calls=a["service_level_min_calls"],
                      agent_stuck_seconds=a["agent_stuck_seconds"], no_agent_when_open=a["no_agent_when_open"],
                      database=a["database"], outbox_over=a["outbox_over"], esl=a["esl"], redis=a["redis"],
                      clear_after=a["clear_after"])


def from_config(cfg, routing, backend, wallboard=None, store=None) -> AlarmService | None:
    """The alarms of `fsapp wallboard`: its own probes of the database (when a rule needs
    it), of FreeSWITCH (an inbound link, when [esl] password is set) and of Redis."""
    a = cfg.section("alarms")
    if not a["enabled"]:
        return None
    rules = rules_from_config(cfg)
    esl = None
    if store is None and (rules.database or rules.outbox_over):
        from fsapp.store import Store
        store = Store.from_config(cfg)
    if cfg.get("esl", "password"):
        from fsapp.esl.inbound import InboundClient
        esl = InboundClient.from_config(cfg).start(wait=False)
    from fsapp.routing.state import load_calendars_for
    sinks = [LogSink()]
    if wallboard is not None:
        sinks.append(WallboardSink(wallboard))
    if a["webhook"]:
        sinks.append(webhook_sink(a["webhook"], a["webhook_timeout"], a["webhook_retries"]))
    if hasattr(backend, "r") and a["redis_channel"]:
        sinks.append(redis_sink(backend.r, a["redis_channel"]))
    if esl is not None and a["esl_event"]:
        sinks.append(esl_sink(esl))
    return AlarmService(AlarmEngine(rules), routing, backend, store=store, esl=esl if rules.esl else None,
                        calendars=load_calendars_for(routing), sinks=sinks)
