"""fsapp: script FreeSWITCH call flows in Python.

Public names are imported lazily so that `fsapp --help` does not pay for gevent,
pyodbc or redis.
"""
__version__ = "0.1.0"

_LAZY = {
    "CallHangup": "fsapp.esl.errors",
    "CommandTimeout": "fsapp.esl.errors",
    "ESLError": "fsapp.esl.errors",
    "Call": "fsapp.esl.call",
    "OutboundServer": "fsapp.esl.outbound",
    "InboundClient": "fsapp.esl.inbound",
}


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'fsapp' has no attribute {name!r}")
    import importlib
    return getattr(importlib.import_module(module), name)
