"""The FreeSWITCH nodes a deploy configures ([deploy.nodes.NAME] in fsapp.toml), and the
configuration rendered for each from freeswitch-conf/ (fsapp.conf).

    [deploy.nodes.a]
    conf_dir = "/etc/freeswitch"          # that node's conf/ (local path or mounted share)
    esl = "10.0.0.11:8021"                # its event socket, for reloadxml
    password = "${FS_A_ESL_PASSWORD}"     # default: [esl] password
    workers = ["10.0.0.11:8084"]          # its fsapp serve workers; default: [serve] listen
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Mapping

from fsapp.conf.errors import ConfError

KEYS = ("conf_dir", "esl", "password", "workers")


@dataclass(frozen=True)
class Node:
    name: str
    conf_dir: Path
    esl_host: str
    esl_port: int
    password: str
    workers: tuple[str, ...]


def _host_port(text, where: str) -> tuple[str, int]:
    host, sep, port = str(text).rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfError(f"{where}: {text!r}: expected HOST:PORT, e.g. 127.0.0.1:8021")
    return host, int(port)


def _expand(text: str, where: str) -> str:
    import re

    def sub(m):
        if m.group(1) not in os.environ:
            raise ConfError(f"{where}: environment variable {m.group(1)} is not set")
        return os.environ[m.group(1)]
    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", sub, text)


def nodes_from_config(cfg) -> list[Node]:
    nodes = []
    for name, spec in sorted((cfg.get("deploy", "nodes") or {}).items()):
        where = f"[deploy.nodes.{name}]"
        if not isinstance(spec, dict):
            raise ConfError(f"{where}: expected a table with {', '.join(KEYS)}")
        unknown = sorted(set(spec) - set(KEYS))
        if unknown:
            raise ConfError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(KEYS)}")
        if not spec.get("conf_dir"):
            raise ConfError(f"{where} conf_dir is required: the node's FreeSWITCH conf/ directory")
        host, port = _host_port(spec.get("esl") or f"{cfg.get('esl', 'host')}:{cfg.get('esl', 'port')}",
                                f"{where} esl")
        password = _expand(str(spec.get("password") or cfg.get("esl", "password") or ""), f"{where} password")
        if not password:
            raise ConfError(f"{where} password: not set and no [esl] password (FSAPP_ESL_PASSWORD)")
        workers = spec.get("workers") or [cfg.get("serve", "listen")]
        if isinstance(workers, str) or not isinstance(workers, list):
            raise ConfError(f"{where} workers: expected a list of HOST:PORT, e.g. [\"127.0.0.1:8084\"]")
        for w in workers:
            _host_port(w, f"{where} workers")
        nodes.append(Node(name=name, conf_dir=Path(spec["conf_dir"]), esl_host=host, esl_port=port,
                          password=password, workers=tuple(str(w) for w in workers)))
    return nodes


def render_for(cfg, node: Node, flows: Mapping[str, bytes], templates_dir=None) -> dict[str, str]:
    """{path under conf/: XML text} of `node` for the line whose flow files are `flows`
    ({logical flows/NAME: bytes}). Raises ConfError naming the node."""
    from fsapp.conf import build_context, default_templates_dir, render_tree
    with tempfile.TemporaryDirectory(prefix="fsapp-render-") as tmp:
        for logical, content in flows.items():
            if logical.startswith("flows/"):
                path = Path(tmp) / logical[len("flows/"):]
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(content)
        overrides = {"esl_listen_ip": node.esl_host, "esl_listen_port": str(node.esl_port),
                     "esl_password": node.password, "socket_address": node.workers[0]}
        menus, fallbacks = native_fallbacks(cfg, Path(tmp))
        try:
            context, _notes = build_context(cfg, flows_dir=tmp, overrides=overrides,
                                            workers=list(node.workers), fallbacks=fallbacks)
            # name each flow's file where the line keeps it, not in this temporary copy
            line_dir = Path(cfg.get("flows", "dir"))
            context["flows"] = [replace(f, file=str(line_dir / Path(f.file).relative_to(tmp)))
                                for f in context["flows"]]
            files = render_tree(templates_dir or default_templates_dir(), context).files
        except ConfError as exc:
            raise ConfError(f"node {node.name}: {exc}") from None
        return {**files, **menus}


def native_fallbacks(cfg, flows_dir: Path) -> tuple[dict[str, str], dict[str, list]]:
    """For each flow with numbers that FreeSWITCH's own IVR engine can run whole
    (fsapp.flow.native_xml: nothing left out for the runtime): its menus file
    (ivr_menus/fsapp_FLOW.xml, included by the vanilla ivr.conf.xml) and the dialplan
    actions that start it. Flows it cannot express get the apology instead."""
    from fsapp.flow import native_xml
    from fsapp.flow.compiler import Environment, compile_paths
    result = compile_paths([flows_dir], Environment(tts=True))
    menus, fallbacks = {}, {}
    for name, flow in sorted(result.flows.items()):
        if not flow.numbers:
            continue
        try:
            text, report = native_xml.compile_to_xml(flow, sounds_dir=cfg.get("sounds", "dir"))
        except ValueError:   # NativeCompileError: the start needs fsapp
            continue
        if report.runtime:   # some options would be missing: the apology is more honest
            continue
        menus[f"ivr_menus/fsapp_{name}.xml"] = text
        fallbacks[name] = [(app, data or "") for app, data in report.dialplan_actions]
    return menus, fallbacks
