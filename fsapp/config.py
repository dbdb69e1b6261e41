"""One configuration file (TOML) plus environment overrides.

Every setting is declared once in SCHEMA: its section, type, default and help. The same
declaration drives validation at start-up (a bad value is rejected with its key named),
the environment overrides (FSAPP_<SECTION>_<KEY>, e.g. FSAPP_ESL_PASSWORD) and
docs/configuration.md (tests/test_config.py checks that the doc lists every key).

Where the file comes from: --config PATH, else $FSAPP_CONFIG, else ./fsapp.toml if it
exists, else defaults only.
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A configuration value is missing or wrong; the message names the key and source."""


@dataclass(frozen=True)
class Setting:
    type: type
    default: Any
    help: str
    choices: tuple | None = None
    secret: bool = False  # never printed, never defaulted in code when required


# section -> key -> Setting. Keep alphabetical within a section.
SCHEMA: dict[str, dict[str, Setting]] = {
    "esl": {
        "host": Setting(str, "127.0.0.1", "FreeSWITCH event socket host (inbound mode)."),
        "port": Setting(int, 8021, "FreeSWITCH event socket port (inbound mode)."),
        "password": Setting(str, None, "Event socket password. Required for inbound mode; "
                            "set it here or in FSAPP_ESL_PASSWORD.", secret=True),
        "connect_timeout": Setting(float, 5.0, "Seconds to wait for TCP connect and auth."),
        "command_timeout": Setting(float, 10.0, "Seconds to wait for a command/reply or api/response."),
        "heartbeat_timeout": Setting(float, 60.0, "Seconds without any message (FreeSWITCH sends "
                                     "HEARTBEAT every 20 s) before the link is declared dead."),
        "reconnect_max_delay": Setting(float, 30.0, "Cap of the exponential reconnect back-off, seconds."),
    },
    "serve": {
        "listen": Setting(str, "127.0.0.1:8084", "Address the outbound socket server listens on."),
        "app": Setting(str, None, "Handler as module:function, called with each Call."),
        "flows": Setting(str, None, "Directory of flow files to answer (instead of --app)."),
        "max_calls": Setting(int, 2000, "Concurrent calls accepted before new ones are refused."),
        "linger": Setting(int, 30, "Seconds FreeSWITCH keeps the socket open after hangup, for clean-up."),
        "app_timeout": Setting(float, 120.0, "Default deadline of one blocking call command, seconds."),
    },
    "sim": {
        "esl": Setting(str, "127.0.0.1:8021", "Address the emulated FreeSWITCH listens on."),
        "password": Setting(str, "ClueCon", "Password of the emulated FreeSWITCH (it is a test double)."),
        "heartbeat": Setting(float, 20.0, "HEARTBEAT interval of the emulator, seconds."),
    },
    "store": {
        "breaker_cooldown": Setting(float, 2.0, "Seconds a connection's circuit breaker stays open "
                                    "before one trial call (doubles on each failed trial, max 30)."),
        "breaker_failures": Setting(int, 3, "Consecutive failures that open a connection's circuit breaker."),
        "connect_timeout": Setting(float, 5.0, "Seconds to wait for a database login (per connection: "
                                   "connect_timeout)."),
        "connections": Setting(dict, {"main": {"odbc": "Driver={SQLite3};Database=var/fsapp.db"}},
                               "Named connections: [store.connections.NAME] odbc = '...' "
                               "(secrets as ${ENV_VAR}), pool_size, query_timeout, connect_timeout, dialect."),
        "default": Setting(str, "main", "Name of the connection fsapp's own tables live in."),
        "queries": Setting(str, "queries", "Directory of named .sql query files."),
        "query_timeout": Setting(float, 10.0, "Seconds a query may run (per connection: query_timeout)."),
        "serial_block": Setting(int, 100, "Ticket numbers reserved from the database at a time; at "
                                "least this many tickets can still be opened during an outage."),
        "spool": Setting(str, "var/spool", "Directory of the durable outbox spool and serial blocks."),
        "threads": Setting(int, 10, "Size of the thread pool that runs pyodbc calls."),
    },
    "flows": {
        "calendars": Setting(str, "calendars.yaml", "Business calendars the schedule node uses "
                             "(fsapp.calendar); names are checked by `fsapp validate`."),
        "control": Setting(str, "var/run/fsapp-flows.sock", "Unix socket on which `fsapp serve "
                           "--flows` takes `fsapp reload`/`deploy` requests."),
        "dir": Setting(str, "ivr_flows", "Directory of flow YAML files."),
        "node_visits": Setting(bool, True, "Store one node_visit row per flow node a call passes "
                               "(per-node reports); false: trace events only."),
        "recordings": Setting(str, "var/recordings", "Where recordings are written."),
        "tts": Setting(str, "", "TTS for {text: ...} prompt items: espeak-ng (rendered by "
                       "fsapp.sounds.tts into [sounds] cache, which FreeSWITCH must be able to read), "
                       "or FreeSWITCH's own engine|voice, e.g. flite|kal; empty: TTS off, and text "
                       "prompts fail validation."),
    },
    "sounds": {
        "cache": Setting(str, "var/tts", "Cache of WAVs rendered at run time from arbitrary text "
                         "(fsapp.sounds.tts), keyed by a hash of language, voice and text."),
        "dir": Setting(str, "sounds", "Prompt directory: catalog.yaml and rendered WAV files."),
        "jobs": Setting(int, 2, "Prompts `fsapp sounds build` renders in parallel."),
        "tts": Setting(str, "espeak-ng", "TTS engine used by `fsapp sounds build`.",
                       choices=("espeak-ng",)),
        "voices": Setting(dict, {"zh-CN": "cmn-latn-pinyin", "en-US": "en-us"},
                          "espeak-ng voice per language: [sounds.voices] zh-CN = '...'. "
                          "cmn-latn-pinyin, because espeak-ng 1.51's cmn misreads many hanzi."),
    },
    "routing": {
        "backend": Setting(str, "memory", "Shared state: memory (single process) or redis.",
                           choices=("memory", "redis")),
        "redis_url": Setting(str, "redis://127.0.0.1:6379/0", "Redis URL when backend = redis."),
        "config": Setting(str, "routing.yaml", "Queues, agents, tiers and calendars file."),
        "claim_lease": Setting(float, 30.0, "Seconds an agent claim lives unless renewed."),
        "redis_prefix": Setting(str, "fsapp:", "Key prefix of the routing state in Redis (one per "
                                "call center sharing a Redis)."),
        "reconcile_interval": Setting(float, 60.0, "Seconds between periodic reconciler runs (it also "
                                      "runs after every ESL reconnect and at worker start)."),
        "worker_id": Setting(str, "", "Name of this worker in claims and logs; default host:pid."),
    },
    "logging": {
        "level": Setting(str, "INFO", "Log level.", choices=("DEBUG", "INFO", "WARNING", "ERROR")),
        "format": Setting(str, "text", "text (key=value) or json (one object a line).",
                          choices=("text", "json")),
    },
}


def _coerce(section: str, key: str, setting: Setting, value: Any, source: str) -> Any:
    where = f"{source}: [{section}] {key}"
    if value is None:
        return None
    try:
        if setting.type is bool and isinstance(value, str):
            if value.lower() in ("1", "true", "yes", "on"):
                value = True
            elif value.lower() in ("0", "false", "no", "off"):
                value = False
            else:
                raise ValueError(value)
        elif setting.type in (int, float) and isinstance(value, bool):
            raise ValueError(value)
        elif setting.type is dict and not isinstance(value, dict):
            raise ValueError(value)
        else:
            value = setting.type(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: expected {setting.type.__name__}, got {value!r}") from None
    if setting.choices and value not in setting.choices:
        raise ConfigError(f"{where}: {value!r} is not one of {', '.join(map(str, setting.choices))}")
    return value


class Config:
    """Validated settings: config.section('esl')['port'] or config.get('esl', 'port')."""

    def __init__(self, values: dict[str, dict[str, Any]], path: Path | None):
        self._values = values
        self.path = path

    def section(self, name: str) -> dict[str, Any]:
        return dict(self._values[name])

    def get(self, section: str, key: str) -> Any:
        return self._values[section][key]

    def require(self, section: str, key: str) -> Any:
        value = self._values[section][key]
        if value in (None, ""):
            env = f"FSAPP_{section.upper()}_{key.upper()}"
            raise ConfigError(f"[{section}] {key} is required: set it in {self.path or 'fsapp.toml'} "
                              f"or in the environment as {env}")
        return value


def load(path: str | os.PathLike | None = None, env: dict[str, str] | None = None) -> Config:
    env = os.environ if env is None else env
    if path is None:
        path = env.get("FSAPP_CONFIG") or ("fsapp.toml" if Path("fsapp.toml").exists() else None)
    raw: dict[str, Any] = {}
    source = "defaults"
    if path is not None:
        path = Path(path)
        source = str(path)
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: config file not found") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: {exc}") from None
    values: dict[str, dict[str, Any]] = {}
    for section, table in raw.items():
        if section not in SCHEMA:
            raise ConfigError(f"{source}: unknown section [{section}]; known: {', '.join(SCHEMA)}")
        if not isinstance(table, dict):
            raise ConfigError(f"{source}: [{section}] must be a table")
        for key in table:
            if key not in SCHEMA[section]:
                raise ConfigError(f"{source}: [{section}] unknown key {key!r}; "
                                  f"known: {', '.join(SCHEMA[section])}")
    for section, settings in SCHEMA.items():
        values[section] = {}
        for key, setting in settings.items():
            value, where = raw.get(section, {}).get(key, setting.default), source
            env_name = f"FSAPP_{section.upper()}_{key.upper()}"
            if env_name in env and setting.type is not dict:
                value, where = env[env_name], f"environment {env_name}"
            values[section][key] = _coerce(section, key, setting, value, where)
    return Config(values, Path(path) if path is not None else None)
