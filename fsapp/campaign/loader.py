"""campaigns/*.yaml -> Campaign, every problem reported as file:line:col like flows.

Parsing is fsapp.yamlsrc, the YAML-with-positions layer flows use too (marks on every
node, no custom tags, no alias bombs, unique keys). References to other files (the
flow, the calendar, named queries, CSV and DNC files) are checked by check_references
against what exists, so `fsapp validate` can say which name is unknown and where.
"""
from __future__ import annotations

import re
from pathlib import Path

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from fsapp.campaign.model import (RETRY_DEFAULTS, RETRYABLE, AgentAssist, Campaign, ContactSource, Dial,
                                  Exclusion, Pacing, Retry)
from fsapp.flow.compiler import _UNIT, DURATION_RE
from fsapp.yamlsrc import SourceError, compose, pairs, plain, position, scalar
from fsapp.flow.model import Problem

NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,59}$")
TEMPLATE_FIELDS = {"number", "gateway"}
# what a dial-string template may contain besides {number}/{gateway}: endpoint syntax only
TEMPLATE_RE = re.compile(r"^[A-Za-z0-9_./@:+-]*(\{(number|gateway)\}[A-Za-z0-9_./@:+-]*)+$")
CALLER_ID_RE = re.compile(r"^\+?[0-9]{0,20}$")
SAFE_NAME_RE = re.compile(r"^[^\n\r{},=']{0,60}$")

TOP_KEYS = {"campaign", "description", "flow", "contacts", "exclude", "calendar", "pacing", "dial",
            "retry", "collect", "completed_when", "agents"}
REQUIRED = ("campaign", "flow", "contacts", "calendar", "pacing", "dial", "retry")


class CampaignError(Exception):
    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(map(str, problems)))


class _Bad(Exception):
    def __init__(self, node: Node, message: str, hint: str = ""):
        self.node, self.message, self.hint = node, message, hint


def campaign_files(paths) -> list[Path]:
    out = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(f for f in p.glob("*.yaml") if f.is_file()))
        else:
            out.append(p)
    return out


def load_campaign(path, **refs) -> Campaign:
    """Load one file; CampaignError lists every problem. refs: see check_references."""
    campaign, problems = parse_file(path)
    if campaign is not None and refs:
        problems += check_references(campaign, **refs)
    if problems:
        raise CampaignError(problems)
    return campaign


def load_campaigns(paths, **refs) -> tuple[dict[str, Campaign], list[Problem]]:
    """Every campaign under paths, and every problem (names must be unique)."""
    found: dict[str, Campaign] = {}
    problems: list[Problem] = []
    for path in campaign_files(paths):
        campaign, found_problems = parse_file(path)
        if campaign is not None and refs:
            found_problems += check_references(campaign, **refs)
        problems += found_problems
        if campaign is None or found_problems:
            continue
        if campaign.name in found:
            line, col = campaign.lines["campaign"]
            problems.append(Problem(str(path), line, col, f"campaign name {campaign.name!r} is also used "
                                    f"by {found[campaign.name].path}", "campaign names are unique"))
            continue
        found[campaign.name] = campaign
    return found, sorted(problems)


def parse_file(path) -> tuple[Campaign | None, list[Problem]]:
    path = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Problem(path, 1, 1, f"cannot read campaign file: {exc}")]
    return parse_text(text, path)


def parse_text(text: str, path: str = "<string>") -> tuple[Campaign | None, list[Problem]]:
    problems: list[Problem] = []

    def report(error: SourceError) -> None:
        problems.append(Problem(path, error.line, error.col, error.message, error.hint))

    try:
        root = compose(text)
    except SourceError as error:
        report(error)
        return None, problems
    if not isinstance(root, MappingNode):
        problems.append(Problem(path, 1, 1, "a campaign file is a mapping with campaign:, flow:, "
                                            "contacts:, calendar:, pacing:, dial:, retry:"))
        return None, problems
    fields = {key: (key_node, value) for key, key_node, value in pairs(root, report)}
    for key, (key_node, _) in fields.items():
        if key not in TOP_KEYS:
            line, col = position(key_node)
            problems.append(Problem(path, line, col, f"unknown key {key!r}",
                                    f"campaign keys: {', '.join(sorted(TOP_KEYS))}"))
    for key in REQUIRED:
        if key not in fields:
            problems.append(Problem(path, 1, 1, f"{key!r} is required", _HINTS.get(key, "")))
    if problems:
        return None, problems
    values = {}
    parsers = {"campaign": _name, "description": _text, "flow": _name, "contacts": _contacts,
               "exclude": _exclusions, "calendar": _name, "pacing": _pacing, "dial": _dial,
               "retry": _retry, "collect": _collect, "completed_when": _name, "agents": _agents}
    for key, (_, node) in fields.items():
        try:
            values[key] = parsers[key](node, key)
        except _Bad as bad:
            line, col = position(bad.node)
            problems.append(Problem(path, line, col, bad.message, bad.hint))
        except SourceError as error:
            report(error)
    if problems:
        return None, problems
    lines = {key: position(value) for key, (_, value) in fields.items()}
    return Campaign(name=values["campaign"], path=path, flow=values["flow"], contacts=values["contacts"],
                    calendar=values["calendar"], pacing=values["pacing"], dial=values["dial"],
                    retry=values["retry"], exclusions=values.get("exclude", ()),
                    collect=values.get("collect", ()), completed_when=values.get("completed_when"),
                    description=values.get("description", ""), agents=values.get("agents"), lines=lines), []


_HINTS = {
    "agents": "e.g. agents: {queue: outbound_agents, abandon_after: 2s, max_abandon_rate: 3%}",
    "contacts": "e.g. contacts: {csv: campaigns/data/district7.csv} or {query: utility.outage_contacts}",
    "pacing": "e.g. pacing: {calls_per_minute: 30, max_concurrent: 10}",
    "dial": "e.g. dial: {template: \"sofia/gateway/{gateway}/{number}\", gateway: carrier1}",
    "retry": "e.g. retry: {max_attempts: 3, busy: 10m, no_answer: 30m, failed: 1h, not_completed: 2h}",
    "calendar": "a calendar name from calendars.yaml, e.g. outbound_calls",
    "flow": "the flow run when the callee answers, e.g. outage_notice",
}


# -- field parsers: node -> value, or _Bad(node, message) ------------------------------------
def _scalar(node: Node, what: str):
    if not isinstance(node, ScalarNode):
        raise _Bad(node, f"{what}: expected a single value, not a list or mapping")
    return scalar(node)


def _name(node: Node, what: str) -> str:
    value = _scalar(node, what)
    if not isinstance(value, str) or not NAME_RE.match(value):
        raise _Bad(node, f"{what}: {value!r} is not a name", "letters, digits, _ and -, starting with a letter")
    return value


def _text(node: Node, what: str) -> str:
    value = _scalar(node, what)
    return "" if value is None else str(value)


def _number(node: Node, what: str, low: float, high: float, integer: bool = False) -> float:
    value = _scalar(node, what)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
        raise _Bad(node, f"{what}: expected {'a whole number' if integer else 'a number'}, got {value!r}")
    if not low <= value <= high:
        raise _Bad(node, f"{what}: {value} is outside {low:g}..{high:g}")
    return value


def _duration(node: Node, what: str, low: float = 0.0, high: float = 30 * 86400.0) -> float:
    value = _scalar(node, what)
    if isinstance(value, bool) or value is None:
        raise _Bad(node, f"{what}: expected a duration like 30s, 10m or 2h")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        match = DURATION_RE.match(str(value))
        if not match:
            raise _Bad(node, f"{what}: {value!r} is not a duration", "write e.g. 30s, 10m, 2h or seconds")
        seconds = float(match.group(1)) * _UNIT[match.group(2)]
    if not low <= seconds <= high:
        raise _Bad(node, f"{what}: {seconds:g} s is outside {low:g}..{high:g} s")
    return seconds


def _mapping(node: Node, what: str, allowed: set[str], required: tuple = ()) -> dict[str, Node]:
    if not isinstance(node, MappingNode):
        raise _Bad(node, f"{what}: expected a mapping", _HINTS.get(what, ""))
    out = {}
    for key, key_node, value in pairs(node):
        if key not in allowed:
            raise _Bad(key_node, f"{what}: unknown key {key!r}", f"known: {', '.join(sorted(allowed))}")
        out[key] = value
    for key in required:
        if key not in out:
            raise _Bad(node, f"{what}: {key!r} is required", _HINTS.get(what, ""))
    return out


def _params(node: Node, what: str) -> dict:
    value = plain(node)
    if not isinstance(value, dict) or any(isinstance(v, (dict, list)) for v in value.values()):
        raise _Bad(node, f"{what}: expected name: value pairs")
    return value


def _source(node: Node, what: str, kind: str):
    keys = {"query", "params", "refresh"} | ({"csv"} if kind == "contacts" else {"dnc_file"})
    fields = _mapping(node, what, keys)
    files = [k for k in ("csv", "dnc_file", "query") if k in fields]
    if len(files) != 1:
        raise _Bad(node, f"{what}: give exactly one of {' or '.join(k for k in ('csv', 'dnc_file', 'query') if k in keys)}")
    source = {"params": _params(fields["params"], f"{what}.params") if "params" in fields else {}}
    if "refresh" in fields:
        source["refresh_s"] = _duration(fields["refresh"], f"{what}.refresh", 1.0)
    if "query" in fields:
        query = _scalar(fields["query"], f"{what}.query")
        if not isinstance(query, str) or not re.match(r"^[A-Za-z_][\w]*\.[A-Za-z_]\w*$", query):
            raise _Bad(fields["query"], f"{what}.query: {query!r} is not a query name", "e.g. utility.outage_contacts")
        source["query"] = query
    else:
        key = files[0]
        value = _scalar(fields[key], f"{what}.{key}")
        if not isinstance(value, str) or not value:
            raise _Bad(fields[key], f"{what}.{key}: expected a file path")
        source[key] = value
    return source


def _contacts(node: Node, what: str) -> ContactSource:
    return ContactSource(**_source(node, what, "contacts"))


def _exclusions(node: Node, what: str) -> tuple:
    if not isinstance(node, SequenceNode):
        raise _Bad(node, "exclude: expected a list of {dnc_file: ...} or {query: ...}")
    return tuple(Exclusion(**_source(item, f"exclude[{i}]", "exclude")) for i, item in enumerate(node.value))


def _pacing(node: Node, what: str) -> Pacing:
    fields = _mapping(node, what, {"calls_per_minute", "max_concurrent", "gateways"},
                      ("calls_per_minute", "max_concurrent"))
    gateways = {}
    if "gateways" in fields:
        for gateway, key_node, value in pairs(_expect_map(fields["gateways"], "pacing.gateways")):
            if not NAME_RE.match(str(gateway)):
                raise _Bad(key_node, f"pacing.gateways: {gateway!r} is not a gateway name")
            gateways[str(gateway)] = int(_number(value, f"pacing.gateways.{gateway}", 1, 10_000, True))
    return Pacing(calls_per_minute=float(_number(fields["calls_per_minute"], "pacing.calls_per_minute", 0.1, 100_000)),
                  max_concurrent=int(_number(fields["max_concurrent"], "pacing.max_concurrent", 1, 10_000, True)),
                  gateways=gateways)


def _expect_map(node: Node, what: str) -> MappingNode:
    if not isinstance(node, MappingNode):
        raise _Bad(node, f"{what}: expected a mapping")
    return node


def _dial(node: Node, what: str) -> Dial:
    fields = _mapping(node, what, {"template", "gateway", "caller_id", "caller_id_name", "timeout",
                                   "max_duration"}, ("template",))
    template = _scalar(fields["template"], "dial.template")
    if not isinstance(template, str) or not TEMPLATE_RE.match(template) or "{number}" not in template:
        raise _Bad(fields["template"], f"dial.template: {template!r} must be an endpoint with {{number}}",
                   "e.g. sofia/gateway/{gateway}/{number} or user/{number}; no spaces, braces or variables")
    out = {"template": template}
    if "gateway" in fields:
        out["gateway"] = _name(fields["gateway"], "dial.gateway")
    if "caller_id" in fields:
        value = str(_scalar(fields["caller_id"], "dial.caller_id"))
        if not CALLER_ID_RE.match(value):
            raise _Bad(fields["caller_id"], f"dial.caller_id: {value!r} must be digits (optional leading +)",
                       "quote it so YAML keeps leading zeros, e.g. \"95598\"")
        out["caller_id"] = value
    if "caller_id_name" in fields:
        value = _text(fields["caller_id_name"], "dial.caller_id_name")
        if not SAFE_NAME_RE.match(value):
            raise _Bad(fields["caller_id_name"], "dial.caller_id_name: up to 60 characters without , = { } ' or newlines")
        out["caller_id_name"] = value
    if "timeout" in fields:
        out["timeout_s"] = _duration(fields["timeout"], "dial.timeout", 1, 300)
    if "max_duration" in fields:
        out["max_duration_s"] = _duration(fields["max_duration"], "dial.max_duration", 5, 4 * 3600)
    return Dial(**out)


def _retry(node: Node, what: str) -> Retry:
    fields = _mapping(node, what, {"max_attempts", *RETRYABLE}, ("max_attempts",))
    after = {outcome: _duration(fields[outcome], f"retry.{outcome}", 0) for outcome in RETRYABLE
             if outcome in fields}
    max_attempts = int(_number(fields["max_attempts"], "retry.max_attempts", 1, 100, True))
    if max_attempts > 1:
        missing = [o for o in RETRYABLE if o not in after and o not in RETRY_DEFAULTS]
        if missing:
            raise _Bad(node, f"retry: give the wait before the next attempt for {', '.join(missing)}",
                       "e.g. busy: 10m, no_answer: 30m, failed: 1h, not_completed: 2h")
    return Retry(max_attempts=max_attempts, after=after)


def _agents(node: Node, what: str) -> AgentAssist:
    fields = _mapping(node, what, {"queue", "abandon_after", "max_abandon_rate"}, ("queue",))
    out = {"queue": _name(fields["queue"], "agents.queue")}
    if "abandon_after" in fields:
        out["abandon_after_s"] = _duration(fields["abandon_after"], "agents.abandon_after", 0.5, 60)
    if "max_abandon_rate" in fields:
        value = _scalar(fields["max_abandon_rate"], "agents.max_abandon_rate")
        text = str(value).strip()
        try:
            rate = float(text[:-1]) / 100 if text.endswith("%") else float(text)
        except ValueError:
            rate = -1.0
        if isinstance(value, bool) or not 0.0 <= rate <= 1.0:
            raise _Bad(fields["max_abandon_rate"], f"agents.max_abandon_rate: {value!r} is not a share",
                       "write e.g. 3% or 0.03")
        out["max_abandon_rate"] = rate
    return AgentAssist(**out)


def _collect(node: Node, what: str) -> tuple:
    if not isinstance(node, SequenceNode):
        raise _Bad(node, "collect: expected a list of flow variable names")
    return tuple(_name(item, "collect") for item in node.value)


# -- references to other files ----------------------------------------------------------------
def check_references(campaign: Campaign, flows=None, calendars=None, queries=None,
                     base_dir=None, queues=None) -> list[Problem]:
    """Problems with the names a campaign uses: flows/calendars/queries/queues are
    collections of known names (None: not checked); base_dir resolves relative CSV/DNC paths."""
    problems = []

    def bad(key: str, message: str, hint: str = "") -> None:
        line, col = campaign.lines.get(key, (1, 1))
        problems.append(Problem(campaign.path, line, col, message, hint))

    if flows is not None and campaign.flow not in flows:
        bad("flow", f"flow {campaign.flow!r} is not defined", f"known flows: {', '.join(sorted(flows)) or '(none)'}")
    if calendars is not None and campaign.calendar not in calendars:
        bad("calendar", f"calendar {campaign.calendar!r} is not defined",
            f"known calendars: {', '.join(sorted(calendars)) or '(none)'}")
    if queues is not None and campaign.agents is not None and campaign.agents.queue not in queues:
        bad("agents", f"queue {campaign.agents.queue!r} is not defined in routing.yaml",
            f"known queues: {', '.join(sorted(queues)) or '(none)'}")
    sources = [("contacts", campaign.contacts)] + [("exclude", e) for e in campaign.exclusions]
    for key, source in sources:
        if queries is not None and source.query and source.query not in queries:
            bad(key, f"query {source.query!r} is not defined", "named queries live in queries/*.sql")
        path = getattr(source, "csv", None) or getattr(source, "dnc_file", None)
        if base_dir is not None and path and not (Path(base_dir) / path).is_file():
            bad(key, f"file {path!r} does not exist (relative to {base_dir})")
    return problems


def is_campaign_file(path) -> bool:
    """A YAML file whose top level has `campaign:` (so `fsapp validate` tells them from flows)."""
    try:
        with Path(path).open(encoding="utf-8") as handle:
            return any(line.startswith("campaign:") for line in handle)
    except (OSError, UnicodeDecodeError):
        return False


def references_from_config(cfg, flows=None) -> dict:
    """What check_references needs, from the configuration: the flows (compiled from
    [flows] dir unless given), calendars ([flows] calendars), query names ([store]
    queries); relative CSV/DNC paths resolve from the working directory."""
    from fsapp.calendar import load_calendars
    from fsapp.flow.compiler import compile_paths
    from fsapp.store.queries import QueryCatalog
    refs: dict = {"base_dir": Path.cwd()}
    if flows is None:
        flows_dir = Path(cfg.get("flows", "dir"))
        flows = compile_paths([flows_dir]).flows if flows_dir.is_dir() else {}
    refs["flows"] = set(flows)
    try:
        refs["calendars"] = set(load_calendars(cfg.get("flows", "calendars")))
    except Exception:                  # the calendars file's own problems are reported elsewhere
        refs["calendars"] = set()
    try:
        from fsapp.routing import load_routing
        refs["queues"] = set(load_routing(cfg.get("routing", "config")).queues)
    except Exception:                  # no routing.yaml (or its own problems): queues are not checked
        refs["queues"] = None
    try:
        refs["queries"] = set(QueryCatalog(cfg.get("store", "queries")).names())
    except Exception:
        refs["queries"] = None         # no readable queries directory: names are not checked
    return refs
