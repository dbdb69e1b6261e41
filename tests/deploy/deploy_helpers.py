"""Shared by the deploy tests: a one-node flow that says goodbye on 20000, and waiting
for what the emulator or a subprocess brings about."""
import time

import gevent
import pytest


LIVE = """flow: live
numbers: ["20000"]
languages: [zh-CN]
start: bye
nodes:
  bye: {hangup: {prompt: common/goodbye}}
"""


def wait_until(predicate, what: str, limit: float = 300.0) -> None:
    """Wait for a condition the emulator or a subprocess brings about; the limit only stops
    a hung test (nothing here depends on how fast the machine is)."""
    deadline = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        gevent.sleep(0.05)
