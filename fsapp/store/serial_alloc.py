"""Hi/lo allocation of ticket numbers that keeps working while the database is down.

The database hands out blocks: one row per sequence in fsapp_serial_blocks holds the
next unreserved number, and a worker reserves [n, n + block) with a compare-and-set
UPDATE (WHERE next_value = n), so two workers never get the same block whatever the
dialect's locking. Reserved blocks are written to a small state file in the spool
directory (flock'd, fsync'd after every number handed out), so:

- a restarted worker goes on with its block instead of wasting or reusing it;
- workers that share a spool directory share its blocks safely;
- when the database goes away, numbers keep coming from the blocks already reserved.
  The allocator keeps two blocks on hand, topping up in the background whenever less
  than one block is left, so an outage is covered by at least `block` tickets.
"""
from __future__ import annotations

import fcntl
import json
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

import gevent

from fsapp.log import get_logger

from .errors import StoreError, StoreUnavailable
from .serials import MAX_NUMBER, format_serial

log = get_logger("fsapp.store.serials")


class SerialAllocator:
    def __init__(self, state_path: str | os.PathLike, block: int, reserve: Callable[[int], int]):
        if block < 1:
            raise ValueError("serial block size must be >= 1")
        self.path = Path(state_path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.block = block
        self.reserve = reserve          # reserve(block) -> first number; raises StoreError
        self._refill_greenlet: gevent.Greenlet | None = None

    @contextmanager
    def _state(self):
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # held for a read and a write, never across I/O to the DB
            raw = os.pread(fd, 1 << 16, 0)
            state = json.loads(raw) if raw.strip() else {"blocks": []}
            before = json.dumps(state)
            yield state
            if json.dumps(state) != before:
                data = json.dumps(state).encode()
                os.ftruncate(fd, 0)
                os.pwrite(fd, data, 0)
                os.fsync(fd)
        finally:
            os.close(fd)

    def remaining(self) -> int:
        with self._state() as st:
            return sum(end - nxt for nxt, end in st["blocks"])

    def _take(self) -> tuple[int | None, int]:
        with self._state() as st:
            blocks = [b for b in st["blocks"] if b[0] < b[1]]
            number = None
            if blocks:
                number = blocks[0][0]
                blocks[0][0] += 1
                blocks = [b for b in blocks if b[0] < b[1]]
            st["blocks"] = blocks
            return number, sum(end - nxt for nxt, end in blocks)

    def _add_block(self, start: int) -> None:
        end = min(start + self.block, MAX_NUMBER + 1)
        with self._state() as st:
            st["blocks"].append([start, end])

    def refill(self) -> None:
        """Reserve one block from the database now (raises StoreError if it cannot)."""
        start = self.reserve(self.block)
        self._add_block(start)
        log.info("ticket serial block reserved", extra={"first": start, "size": self.block})

    def _background_refill(self) -> None:
        try:
            while self.remaining() < 2 * self.block:
                self.refill()
        except StoreError as exc:
            log.warning("could not reserve a spare serial block; will retry", extra={"error": str(exc)})

    def ensure_spare(self) -> None:
        """Top up in the background so an outage finds a full spare block on hand."""
        if self._refill_greenlet is None or self._refill_greenlet.dead:
            self._refill_greenlet = gevent.spawn(self._background_refill)

    def stop(self) -> None:
        if self._refill_greenlet is not None:
            self._refill_greenlet.kill(block=True, timeout=5)

    def next(self) -> str:
        number, left = self._take()
        if number is None:
            try:
                self.refill()
            except StoreUnavailable as exc:
                raise StoreUnavailable(f"no ticket numbers left in reserved blocks and the database "
                                       f"cannot reserve more: {exc}") from None
            number, left = self._take()
            if number is None:  # another worker sharing the state file took the whole block
                return self.next()
        if left < self.block:
            self.ensure_spare()
        return format_serial(number)
