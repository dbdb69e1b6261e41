"""routing.yaml -> RoutingConfig (queues, agents, tiers), every mistake as file:line.

Keys use mod_callcenter's names; both `max-wait-time` and `max_wait_time` are accepted.

    queues:
      hotline:
        strategy: longest-idle-agent
        max-wait-time: 600
        overflow:
          - {after: 120, queue: experts}
          - {no_agent: 0, flow: mailbox}
    agents:
      "1001": {contact: user/1001, skills: {mandarin: 9}, wrap-up-time: 10, status: Available}
    tiers:
      - {queue: hotline, agent: "1001", level: 1, position: 1}
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from fsapp.yamlsrc import Located, LocatedList, SourceError, load_located, loads_located
from fsapp.esl import syntax
from fsapp.routing.model import AgentConfig, AgentStatus, OverflowRule, Queue, Site, Tier
from fsapp.routing.policy import ACTIONS, CONDITIONS
from fsapp.routing.strategies import STRATEGIES


@dataclass
class RoutingConfig:
    queues: dict[str, Queue] = field(default_factory=dict)
    agents: dict[str, AgentConfig] = field(default_factory=dict)
    tiers: list[Tier] = field(default_factory=list)
    sites: dict[str, Site] = field(default_factory=dict)
    calendars_file: str = ""
    queues_query: str = ""      # named store query returning more queues, one row each
    path: str = ""

    def queue(self, name: str) -> Queue:
        try:
            return self.queues[name]
        except KeyError:
            raise KeyError(f"unknown queue {name!r}; queues in {self.path or 'routing.yaml'}: "
                           f"{', '.join(sorted(self.queues)) or '(none)'}") from None

    def levels(self, queue: str) -> list[int]:
        return sorted({t.level for t in self.tiers if t.queue == queue})


def load_routing(path: str | Path) -> RoutingConfig:
    return parse_routing(load_located(path), str(path))


def loads_routing(text: str, path: str = "<string>") -> RoutingConfig:
    return parse_routing(loads_located(text, path), path)


def _norm(key) -> str:
    return str(key).replace("-", "_")


def _fields(cls, skip=()):
    return {f.name: f for f in dataclasses.fields(cls) if f.name not in skip}


def _coerce(value, typ, path, line, what):
    typ = {"float": float, "int": int, "bool": bool, "str": str}.get(typ, typ) if isinstance(typ, str) else typ
    if typ is bool:
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "yes", "1"):
            return True
        if str(value).lower() in ("false", "no", "0"):
            return False
    elif typ in (int, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if typ is int and float(value) != int(value):
                raise SourceError.in_file(path, line, f"{what}: expected a whole number, got {value!r}")
            if value < 0:
                raise SourceError.in_file(path, line, f"{what}: must not be negative, got {value!r}")
            return typ(value)
        try:
            out = typ(str(value))
            if out < 0:
                raise ValueError
            return out
        except ValueError:
            pass
    elif typ is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
    else:
        return value
    raise SourceError.in_file(path, line, f"{what}: expected {typ.__name__}, got {value!r}")


def parse_routing(doc, path: str) -> RoutingConfig:
    if not isinstance(doc, Located):
        raise SourceError.in_file(path, getattr(doc, "line", 1), "expected a mapping with queues, agents, tiers")
    for key in doc:
        if key not in ("queues", "agents", "tiers", "calendars", "queues_query", "sites"):
            raise SourceError.in_file(path, doc.key_line(key), f"unknown top-level key {key!r}; "
                                                       f"known: queues, agents, tiers, calendars, queues_query, sites")
    cfg = RoutingConfig(path=path, calendars_file=str(doc.get("calendars", "")),
                        queues_query=str(doc.get("queues_query") or ""))
    queues = doc.get("queues") or Located()
    if not isinstance(queues, Located):
        raise SourceError.in_file(path, doc.key_line("queues"), "queues must map queue names to settings")
    for name, spec in queues.items():
        cfg.queues[str(name)] = _queue(str(name), spec, path, queues.key_line(name))
    agents = doc.get("agents") or Located()
    if not isinstance(agents, Located):
        raise SourceError.in_file(path, doc.key_line("agents"), "agents must map agent names to settings")
    for name, spec in agents.items():
        cfg.agents[str(name)] = _agent(str(name), spec, path, agents.key_line(name))
    tiers = doc.get("tiers") or LocatedList()
    if not isinstance(tiers, list):
        raise SourceError.in_file(path, doc.key_line("tiers"), "tiers must be a list of {queue, agent, level, position}")
    seen = set()
    for index, spec in enumerate(tiers):
        line = tiers.item_line(index) if isinstance(tiers, LocatedList) else doc.key_line("tiers")
        tier = _tier(spec, path, line, cfg)
        if (tier.queue, tier.agent) in seen:
            raise SourceError.in_file(path, line, f"tier {tier.queue}/{tier.agent} is listed twice")
        seen.add((tier.queue, tier.agent))
        cfg.tiers.append(tier)
    sites = doc.get("sites") or Located()
    if not isinstance(sites, Located):
        raise SourceError.in_file(path, doc.key_line("sites"), "sites must map site names to {dial, queues}")
    for name, spec in sites.items():
        cfg.sites[str(name)] = _site(str(name), spec, path, sites.key_line(name))
    for queue in cfg.queues.values():
        for rule in queue.overflow:
            check_target(cfg, queue, rule.action, rule.target, path, rule.line)
        if queue.closed_target:
            action, _, target = queue.closed_target.partition(":")
            check_target(cfg, queue, action, target, path, queue.key_lines.get("closed_target", queue.line),
                         "closed-target")
    return cfg


def _site(name, spec, path, line) -> Site:
    if not isinstance(spec, Located) or not spec.get("dial"):
        raise SourceError.in_file(path, line, f"site {name!r}: give {{dial: DIAL STRING with {{queue}}, "
                                              f"queues: [NAMES]}}, e.g. dial: sofia/gateway/{name}/{{queue}}")
    extra = set(spec) - {"dial", "queues"}
    if extra:
        raise SourceError.in_file(path, line, f"site {name!r}: unknown key {sorted(extra)[0]!r}; known: dial, queues")
    queues = spec.get("queues") or []
    if not isinstance(queues, list) or not queues:
        raise SourceError.in_file(path, spec.key_line("queues") if "queues" in spec else line,
                                  f"site {name!r}: queues must list the queues that site serves")
    _one_leg(_template(str(spec["dial"]), "queue", path, spec.key_line("dial"), f"site {name!r} dial"),
             path, spec.key_line("dial"), f"site {name!r} dial")
    return Site(name, str(spec["dial"]), [str(q) for q in queues], line)


TARGET_KINDS = ("queue", "site_queue", "number", "flow")   # what a closed-target may name


def check_target(cfg: RoutingConfig, queue: Queue, action: str, target: str, path, line,
                 what: str = "overflow") -> None:
    """An overflow action (or closed-target) the router can carry out: a known queue, a
    site and one of its queues, a dialable number with the queue's number-dial. Flow
    names are checked by `fsapp validate`, which has the flows (fsapp.routing.check)."""
    def fail(message):
        raise SourceError.in_file(path, line, f"queue {queue.name!r} {what}: {message}")
    if what != "overflow" and action not in TARGET_KINDS:
        fail(f"{action + ':' + target!r} is not KIND:NAME with KIND one of {', '.join(TARGET_KINDS)} "
             f"(e.g. flow:mailbox)")
    if action == "queue" and target not in cfg.queues and not cfg.queues_query:
        fail(f"unknown queue {target!r}; known: {', '.join(sorted(cfg.queues))}")
    if action == "site_queue":
        site, _, name = target.partition("/")
        if site not in cfg.sites:
            fail(f"unknown site {site!r} in {target!r}; define it under sites: "
                 f"(known: {', '.join(sorted(cfg.sites)) or 'none'})")
        if name not in cfg.sites[site].queues:
            fail(f"site {site!r} serves no queue {name!r} (its queues: {', '.join(cfg.sites[site].queues)})")
    if action == "number":
        try:
            syntax.number(target, "overflow number")
        except syntax.UnsafeValue as exc:
            fail(str(exc))
        if not queue.number_dial:
            fail(f"number:{target} needs the queue's number-dial (e.g. sofia/gateway/pstn/{{number}})")
    if action in ("flow", "queue") and not target:
        fail(f"{action} needs a name")


def _queue(name, spec, path, line) -> Queue:
    if spec is None:
        spec = Located()
    if not isinstance(spec, Located):
        raise SourceError.in_file(path, line, f"queue {name!r} must be a mapping of settings")
    known = _fields(Queue, skip=("name", "overflow", "line", "key_lines"))
    kwargs = {}
    rules = []
    for key, value in spec.items():
        key_line = spec.key_line(key)
        norm = _norm(key)
        if norm == "overflow":
            rules = _overflow(value, path, key_line)
            continue
        if norm not in known:
            raise SourceError.in_file(path, key_line, f"queue {name!r}: unknown setting {key!r}; "
                                              f"see docs/routing.md for the list")
        if norm == "skills":
            kwargs[norm] = _skills(value, path, key_line)
            continue
        if norm == "vip":
            if not isinstance(value, list):
                raise SourceError.in_file(path, key_line, f"queue {name!r}: vip must be a list of caller numbers")
            kwargs[norm] = [str(v) for v in value]
            continue
        kwargs[norm] = _coerce(value, known[norm].type, path, key_line, f"queue {name!r} {key}")
    strategy = kwargs.get("strategy", "longest-idle-agent")
    if strategy not in STRATEGIES:
        raise SourceError.in_file(path, spec.key_line("strategy"), f"unknown strategy {strategy!r}; "
                                                           f"one of: {', '.join(STRATEGIES)}")
    if kwargs.get("announce_agent_id") and not kwargs.get("agent_id_prompt"):
        raise SourceError.in_file(path, next((spec.key_line(k) for k in spec if _norm(k) == "announce_agent_id"), line),
                          f"queue {name!r}: announce-agent-id needs agent-id-prompt (a catalog prompt "
                          f"such as common/agent_number, played before the agent's digits)")
    if "number_dial" in kwargs:
        dial_line = spec.key_line("number-dial") if "number-dial" in spec else spec.key_line("number_dial")
        _one_leg(_template(str(kwargs["number_dial"]), "number", path, dial_line, f"queue {name!r} number-dial"),
                 path, dial_line, f"queue {name!r} number-dial")
    for key in ("language", "agent_id_language"):
        # a tag like the flows' `lang`; which phrases exist is the announcer's business
        if key in kwargs and not re.fullmatch(r"[a-z]{2,3}-[A-Z]{2}", str(kwargs[key])):
            raise SourceError.in_file(path, next((spec.key_line(k) for k in spec if _norm(k) == key), line),
                                      f"queue {name!r}: {key.replace('_', '-')} {kwargs[key]!r} is not a "
                                      f"language tag like zh-CN or en-US")
    if "callback_dial" in kwargs:
        _one_leg(str(kwargs["callback_dial"]).replace("{number}", "0"), path, spec.key_line("callback-dial"),
                 f"queue {name!r} callback-dial")
    return Queue(name=name, overflow=rules, line=line, key_lines={_norm(k): spec.key_line(k) for k in spec}, **kwargs)


def _template(text: str, field: str, path, line, what: str) -> str:
    """A dial-string template with one {field} (str.format at run time), filled in with a
    sample value; any other brace is an error now rather than when a caller overflows."""
    try:
        return text.format(**{field: "0"})
    except (KeyError, IndexError, ValueError) as exc:
        raise SourceError.in_file(path, line, f"{what}: {text!r} may use only {{{field}}} "
                                              f"({type(exc).__name__}: {exc})") from None


def _one_leg(dial: str, path, line, what: str) -> None:
    """A dial string from routing.yaml names one leg (the router adds the variables)."""
    try:
        syntax.dial_string(dial, what)
    except syntax.UnsafeValue as exc:
        raise SourceError.in_file(path, line, str(exc)) from None


def _overflow(value, path, line) -> list[OverflowRule]:
    if not isinstance(value, list):
        raise SourceError.in_file(path, line, "overflow must be a list of rules like {after: 120, queue: experts}")
    out = []
    for index, rule in enumerate(value):
        rline = value.item_line(index) if isinstance(value, LocatedList) else line
        if not isinstance(rule, dict):
            raise SourceError.in_file(path, rline, "an overflow rule is a mapping like {after: 120, queue: experts}")
        conds = [k for k in rule if _norm(k) in CONDITIONS]
        acts = [k for k in rule if _norm(k) in ACTIONS]
        unknown = [k for k in rule if _norm(k) not in CONDITIONS + ACTIONS]
        if unknown:
            raise SourceError.in_file(path, rline, f"overflow rule: unknown key {unknown[0]!r}; conditions: "
                                           f"{', '.join(CONDITIONS)}; actions: {', '.join(ACTIONS)}")
        if len(conds) != 1 or len(acts) != 1:
            raise SourceError.in_file(path, rline, f"an overflow rule needs exactly one condition "
                                           f"({', '.join(CONDITIONS)}) and one action ({', '.join(ACTIONS)})")
        cond, act = conds[0], acts[0]
        raw = rule[cond]
        amount = 0.0 if raw is True or raw is None else _coerce(raw, float, path, rline, f"overflow {cond}")
        out.append(OverflowRule(_norm(cond), amount, _norm(act), str(rule[act]), rline))
    return out


def _skills(value, path, line) -> dict[str, int]:
    if not isinstance(value, dict):
        raise SourceError.in_file(path, line, "skills must map skill names to levels 1-10, e.g. {mandarin: 8}")
    out = {}
    for skill, level in value.items():
        level = _coerce(level, int, path, line, f"skill {skill!r}")
        if not 0 <= level <= 10:
            raise SourceError.in_file(path, line, f"skill {skill!r}: level must be 0-10, got {level}")
        out[str(skill)] = level
    return out


def _agent(name, spec, path, line) -> AgentConfig:
    if not isinstance(spec, Located):
        raise SourceError.in_file(path, line, f"agent {name!r} must be a mapping (contact, skills, ...)")
    known = _fields(AgentConfig, skip=("name",))
    kwargs = {}
    for key, value in spec.items():
        key_line = spec.key_line(key)
        norm = _norm(key)
        if norm not in known:
            raise SourceError.in_file(path, key_line, f"agent {name!r}: unknown setting {key!r}; "
                                              f"known: {', '.join(sorted(known))}")
        if norm == "skills":
            kwargs[norm] = _skills(value, path, key_line)
        elif norm == "status":
            try:
                kwargs[norm] = AgentStatus.parse(str(value))
            except ValueError as exc:
                raise SourceError.in_file(path, key_line, str(exc)) from None
        else:
            kwargs[norm] = _coerce(value, known[norm].type, path, key_line, f"agent {name!r} {key}")
    if not kwargs.get("contact"):
        raise SourceError.in_file(path, line, f"agent {name!r}: 'contact' (dial string, e.g. user/{name}) is required")
    _one_leg(str(kwargs["contact"]), path, spec.key_line("contact"), f"agent {name!r} contact")
    if kwargs.get("capacity", 1) < 1:
        raise SourceError.in_file(path, spec.key_line("capacity"), f"agent {name!r}: capacity must be at least 1")
    return AgentConfig(name=name, **kwargs)


def _tier(spec, path, line, cfg: RoutingConfig) -> Tier:
    if not isinstance(spec, dict) or "queue" not in spec or "agent" not in spec:
        raise SourceError.in_file(path, line, "a tier is {queue: NAME, agent: NAME, level: 1, position: 1}")
    extra = set(spec) - {"queue", "agent", "level", "position"}
    if extra:
        raise SourceError.in_file(path, line, f"tier: unknown key {sorted(extra)[0]!r}")
    queue, agent = str(spec["queue"]), str(spec["agent"])
    if queue not in cfg.queues and not cfg.queues_query:   # else checked once the SQL queues are in
        raise SourceError.in_file(path, line, f"tier: unknown queue {queue!r}; define it under queues:")
    if agent not in cfg.agents:
        raise SourceError.in_file(path, line, f"tier: unknown agent {agent!r}; define it under agents:")
    level = _coerce(spec.get("level", 1), int, path, line, "tier level")
    position = _coerce(spec.get("position", 1), int, path, line, "tier position")
    return Tier(queue, agent, level, position)


def add_sql_queues(cfg: RoutingConfig, rows: list[dict], source: str) -> None:
    """Queues defined as rows of a SQL table (the `queues_query` named query): one row per
    queue, columns named like routing.yaml's settings (name required; NULL = default;
    overflow rules stay in routing.yaml). Errors name the query and the row."""
    for index, row in enumerate(rows, start=1):
        spec = Located({str(k).lower(): v for k, v in row.items() if v is not None})
        spec.line, spec.key_lines = index, {}
        name = spec.pop("name", None)
        if not name:
            raise SourceError.in_file(source, index, "a queue row needs a 'name' column")
        if str(name) in cfg.queues:
            raise SourceError.in_file(source, index, f"queue {name!r} is also defined in {cfg.path or 'routing.yaml'}")
        cfg.queues[str(name)] = _queue(str(name), spec, source, index)
    for tier in cfg.tiers:
        if tier.queue not in cfg.queues:
            raise SourceError.in_file(cfg.path, None, f"tier {tier.queue}/{tier.agent}: unknown queue {tier.queue!r} "
                                              f"(not in routing.yaml nor in {source})")


def seed_backend(cfg: RoutingConfig, backend, now: float) -> None:
    """Make the backend know the file's agents and tiers: reconciled, never wiped (a
    worker starting, a deploy's new routing.yaml). Agents already known keep their status,
    state and counters (an agent on a call stays busy); their settings are the file's.
    Tiers are (re)applied when the file's tiers changed since the last seeding, so `fsapp
    tier remove` sticks until routing.yaml itself changes; then the tiers the previous
    file had and this one has not are removed (tiers added with `fsapp tier add` stay).
    An agent no longer in the file keeps its record but loses the file's tiers."""
    for agent in cfg.agents.values():
        backend.put_agent(agent, now)
    digest = hashlib.sha256(repr(sorted((t.queue, t.agent, t.level, t.position)
                                        for t in cfg.tiers)).encode()).hexdigest()
    if backend.get_meta("tiers_seeded") == digest:
        return
    existing = {(t.queue, t.agent): t for t in backend.tiers()}
    for tier in cfg.tiers:
        if existing.get((tier.queue, tier.agent)) != tier:
            backend.add_tier(tier)
    pairs = {(t.queue, t.agent) for t in cfg.tiers}
    seeded_before = backend.get_meta("tiers_seeded_pairs")
    for queue, agent in json.loads(seeded_before) if seeded_before else []:
        if (queue, agent) in existing and (queue, agent) not in pairs:
            backend.remove_tier(queue, agent)
    backend.set_meta("tiers_seeded_pairs", json.dumps(sorted(pairs)))
    backend.set_meta("tiers_seeded", digest)
