"""routing.yaml checked against what it names outside itself: the flows its overflow
rules, leave-target and closed-target send callers to, and the calendars its queues
follow. `fsapp validate` runs it with the flows it compiled and calendars.yaml, so a
target that does not exist is a file:line:col error before a caller finds out.

(Queues, sites and numbers named in routing.yaml are checked when it loads: config.py.)
"""
from __future__ import annotations

from pathlib import Path
from typing import Collection

from fsapp.routing.config import RoutingConfig
from fsapp.yamlsrc import SourceError


def reference_problems(cfg: RoutingConfig, flows: Collection[str] | None,
                       calendars: Collection[str] | None, calendars_path: str = "calendars.yaml") -> list[SourceError]:
    """Every flow and calendar routing.yaml names that is not among `flows` / `calendars`
    (None: that kind is not checked)."""
    text = _lines(cfg.path)
    problems: list[SourceError] = []

    def problem(line: int, token: str, message: str, hint: str) -> None:
        problems.append(SourceError(message, file=cfg.path, line=line, col=_column(text, line, token), hint=hint))

    def flow_named(queue, what: str, name: str, line: int) -> None:
        if flows is not None and name not in flows:
            problem(line, name, f"queue {queue.name!r} {what}: no flow {name!r}",
                    f"flows: {', '.join(sorted(flows)) or '(none)'}; add ivr_flows/{name}.yaml or name one of them")

    for queue in cfg.queues.values():
        for rule in queue.overflow:
            if rule.action == "flow":
                flow_named(queue, "overflow", rule.target, rule.line)
        if queue.leave_target and queue.leave_target != "callback":
            flow_named(queue, "leave-target", queue.leave_target, queue.key_lines.get("leave_target", queue.line))
        kind, _, name = queue.closed_target.partition(":")
        if kind == "flow":
            flow_named(queue, "closed-target", name, queue.key_lines.get("closed_target", queue.line))
        if queue.calendar and calendars is not None and queue.calendar not in calendars:
            problem(queue.key_lines.get("calendar", queue.line), queue.calendar,
                    f"queue {queue.name!r}: no calendar {queue.calendar!r} in {calendars_path}",
                    f"calendars: {', '.join(sorted(calendars)) or '(none)'}")
    return sorted(problems, key=lambda p: (p.line or 0, p.col or 0))


def _lines(path: str) -> list[str]:
    try:
        return Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []


def _column(lines: list[str], line: int, token: str) -> int:
    """1-based column of `token` on `line` (its value as written), 1 if not found."""
    if 0 < line <= len(lines):
        at = lines[line - 1].find(token)
        if at >= 0:
            return at + 1
    return 1
