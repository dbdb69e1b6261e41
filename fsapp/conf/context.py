"""The variables the templates see, built from fsapp's config and the flows' numbers.

Each variable has one source, so a rendered file can always be traced back:

| variable          | from                                                   |
|-------------------|--------------------------------------------------------|
| esl_listen_ip     | [esl] host (where fsapp's inbound client connects)     |
| esl_listen_port   | [esl] port                                             |
| esl_password      | [esl] password / FSAPP_ESL_PASSWORD (required)         |
| esl_inbound_acl   | "loopback.auto" (override with --var esl_inbound_acl=) |
| socket_address    | [serve] listen, host:port of fsapp's outbound server   |
| socket_mode       | "async full" (the form captured on FreeSWITCH 1.10.12) |
| flows             | ivr_flows/*.yaml top-level flow: and numbers:          |
| modules           | REQUIRED_MODULES below                                 |
| workers           | the node's fsapp workers (default: socket_address)     |
| rotations         | fsapp.conf.failover.rotations(workers)                 |
| fallbacks         | per flow: native IVR actions, else the apology          |
|                   | ([deploy] fallback_prompt, fallback_transfer)          |

`--var NAME=VALUE` overrides a scalar variable or adds one for a customised template.
"""
from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

from fsapp.config import Config, ConfigError
from fsapp.conf.errors import ConfError
from fsapp.conf.flow_numbers import read_flow_numbers

# (module, why fsapp needs it). mod_callcenter is deliberately absent: fsapp.routing
# does the queueing, so FreeSWITCH needs no ACD module.
REQUIRED_MODULES: tuple[tuple[str, str], ...] = (
    ("mod_event_socket", "inbound ESL for fsapp and the socket application for flows"),
    ("mod_dialplan_xml", "the XML dialplan that sends the flow numbers to fsapp"),
    ("mod_dptools", "answer, playback, play_and_get_digits, read, record, bridge, transfer, ivr"),
    ("mod_commands", "api uuid_break, uuid_kill, uuid_exists, uuid_getvar, originate"),
    ("mod_sndfile", "plays and records the 8 kHz WAV prompts in sounds/"),
    ("mod_tone_stream", "tone_stream:// beeps and hold tones"),
    ("mod_loopback", "loopback/ channels: local test calls and agent legs"),
)

DEFAULT_INBOUND_ACL = "loopback.auto"
SOCKET_MODE = "async full"

# Variables a --var may not replace, because they are structured, not strings.
_STRUCTURED = ("flows", "modules", "workers", "rotations", "fallbacks")


def parse_var(text: str) -> tuple[str, str]:
    """'name=value' from the command line; the value may itself contain '='."""
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not name.isidentifier():
        raise ConfError(f"--var {text!r}: expected NAME=VALUE with NAME a template variable "
                        f"such as esl_inbound_acl")
    if name in _STRUCTURED:
        raise ConfError(f"--var {name}: {name} comes from "
                        f"{'ivr_flows/*.yaml' if name == 'flows' else 'fsapp.conf.REQUIRED_MODULES'} "
                        f"and cannot be set on the command line")
    return name, value


def _socket_address(listen: str, overrides: dict[str, str]) -> str:
    if "socket_address" in overrides:
        return overrides["socket_address"]
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ConfError(f"[serve] listen = {listen!r}: expected HOST:PORT, e.g. 127.0.0.1:8084")
    try:
        unspecified = ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        unspecified = False  # a host name: FreeSWITCH resolves it
    if unspecified:
        # fsapp may listen on every interface, but FreeSWITCH must dial one address.
        raise ConfError(f"[serve] listen = {listen!r} listens on every interface; FreeSWITCH needs "
                        f"the one address to connect to: pass --var socket_address=IP:{port}")
    return f"{host}:{port}"


def _check_values(context: dict[str, Any]) -> None:
    """Refuse values FreeSWITCH would misread, whichever source they came from."""
    port = str(context["esl_listen_port"])
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfError(f"esl_listen_port {port!r}: expected a TCP port 1-65535 ([esl] port)")
    host, sep, sport = str(context["socket_address"]).rpartition(":")
    if not sep or not host or not sport.isdigit() or not 0 < int(sport) < 65536:
        raise ConfError(f"socket_address {context['socket_address']!r}: expected HOST:PORT, "
                        f"e.g. 127.0.0.1:8084")
    for name, value in context.items():
        # FreeSWITCH's pre-processor expands $${var} anywhere in a config file, before XML.
        if isinstance(value, str) and "$${" in value:
            raise ConfError(f"{name}: {'the value' if 'password' in name else repr(value)} contains "
                            f"'$${{', which FreeSWITCH would expand as a global variable")


def build_context(cfg: Config, flows_dir: str | Path | None = None,
                  overrides: dict[str, str] | None = None, workers: list[str] | None = None,
                  fallbacks: dict[str, list] | None = None) -> tuple[dict[str, Any], list[str]]:
    """Template variables and notes (files skipped, flows without numbers).

    workers: the node's fsapp workers, tried in turn (default: socket_address alone).
    fallbacks: flow name -> dialplan actions when no worker answers (fsapp.deploy
    passes the native IVR ones); any other flow gets the apology."""
    overrides = dict(overrides or {})
    for name in _STRUCTURED:
        if name in overrides:
            raise ConfError(f"--var {name}: cannot be set on the command line")
    if "esl_password" in overrides:
        password = overrides["esl_password"]
    else:
        try:
            password = cfg.require("esl", "password")
        except ConfigError as exc:
            raise ConfError(f"{exc} (event_socket.conf.xml needs it)") from None
    flows, notes = read_flow_numbers(flows_dir or cfg.get("flows", "dir"))
    context: dict[str, Any] = {
        "esl_listen_ip": cfg.get("esl", "host"),
        "esl_listen_port": cfg.get("esl", "port"),
        "esl_password": password,
        "esl_inbound_acl": DEFAULT_INBOUND_ACL,
        "socket_address": _socket_address(cfg.get("serve", "listen"), overrides),
        "socket_mode": SOCKET_MODE,
        # Only flows with numbers get an extension; the others are reached by transfer.
        "flows": [flow for flow in flows if flow.numbers],
        "modules": [{"name": name, "why": why} for name, why in REQUIRED_MODULES],
    }
    context.update(overrides)
    from fsapp.conf.failover import apology, rotations
    context["workers"] = list(workers or [context["socket_address"]])
    context["rotations"] = rotations(context["workers"])
    prompt = str((Path(cfg.get("sounds", "dir")) / cfg.get("deploy", "fallback_prompt")).resolve())
    try:
        sorry = apology(prompt, cfg.get("deploy", "fallback_transfer"))
    except ValueError as exc:
        raise ConfError(str(exc)) from None
    context["fallbacks"] = {flow.name: (fallbacks or {}).get(flow.name, sorry) for flow in context["flows"]}
    _check_values(context)
    for worker in context["workers"]:
        _check_values({**context, "socket_address": worker})
    if not context["flows"]:
        notes.append("no flow declares numbers: the dialplan fragment has no extensions")
    return context, notes
