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
from dataclasses import dataclass
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
        try:
            context, _notes = build_context(cfg, flows_dir=tmp, overrides=overrides)
            context["workers"] = list(node.workers)
            return render_tree(templates_dir or default_templates_dir(), context).files
        except ConfError as exc:
            raise ConfError(f"node {node.name}: {exc}") from None
