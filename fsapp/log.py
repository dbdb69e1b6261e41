"""Structured logging: every line is key=value text (or JSON), and every line logged
while a call is being handled carries that call's uuid.

The uuid travels in a contextvar, which gevent keeps per greenlet, so code deep in the
flow interpreter or the store does not need to pass it around:

    with fsapp.log.call_context(call.uuid):
        log.info("menu entered", extra={"node": "main_menu"})
"""
from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
import time

_call_uuid: contextvars.ContextVar[str | None] = contextvars.ContextVar("fsapp_call_uuid", default=None)

# Attributes every LogRecord has; anything else in record.__dict__ came from extra=.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "call_uuid"}


@contextlib.contextmanager
def call_context(uuid: str | None):
    token = _call_uuid.set(uuid)
    try:
        yield
    finally:
        _call_uuid.reset(token)


def current_call_uuid() -> str | None:
    return _call_uuid.get()


class _CallUuidFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "call_uuid"):
            record.call_uuid = _call_uuid.get()
        return True


def _extras(record: logging.LogRecord) -> dict:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD}


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(record.created))
        parts = [f"{ts}.{int(record.msecs):03d}", record.levelname, record.name]
        if record.call_uuid:
            parts.append(f"uuid={record.call_uuid}")
        parts.append(record.getMessage())
        parts.extend(f"{k}={v!r}" if isinstance(v, str) and " " in v else f"{k}={v}"
                     for k, v in _extras(record).items())
        line = " ".join(parts)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        obj = {"ts": record.created, "level": record.levelname, "logger": record.name,
               "msg": record.getMessage()}
        if record.call_uuid:
            obj["uuid"] = record.call_uuid
        obj.update({k: v if isinstance(v, (int, float, str, bool, type(None))) else str(v)
                    for k, v in _extras(record).items()})
        if record.exc_info:
            obj["exc"] = self.formatException(record.exc_info)
        return json.dumps(obj, ensure_ascii=False)


def setup(level: str = "INFO", fmt: str = "text", stream=None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(_CallUuidFilter())
    root = logging.getLogger("fsapp")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def get_logger(name: str) -> logging.Logger:
    logger = logging.getLogger(name if name.startswith("fsapp") else f"fsapp.{name}")
    return logger
