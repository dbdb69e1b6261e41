"""The durable outbox: rows a caller left are never lost to a database outage.

`store.write()` first tries the database; if that fails the row is appended to a spool
file here and fsync'd before write() returns. A replayer drains the spool when the
database is back. Every row carries an idempotency key that is UNIQUE in its table, and
replay uses an insert-if-absent, so a crash between the database commit and the spool
clean-up replays a row that is already there as a no-op: exactly once.

Layout of <spool>/outbox/:

    seg-<pid>-<ns>.spool   append-only segments; one line per row:
                           "<crc32 hex> <json>\n", fsync'd after every line
    seg-<pid>-<ns>.progress  how far a replayer got in that segment: one line
                           "<byte offset, 16 hex>\n" appended and fsync'd after each
                           row is applied; the last whole line is the resume point
    dead.spool             rows the database rejected `max_attempts` times (kept, never
                           dropped; `fsapp db outbox replay --dead` retries them)

A process holds an exclusive flock on the segment it is appending to. A replayer
(in any process sharing the directory) takes only segments it can lock, so a live
writer's segment is never read half-written, and a crashed process's segments are
picked up by whoever replays next. A torn last line (crash mid-append) fails its CRC
and is skipped: write() had not returned for it, so nobody was told it was saved.

Replay progress is durable, so a replayer killed mid-segment (or one that crashes in a
loop) resumes where it stopped instead of at the top. The offset is recorded after the
row's commit, so a kill between the two replays at most that one row again, which its
idempotency key makes a no-op: still exactly once.

All of this runs on the gevent hub: appends are a few hundred bytes plus an fsync, and
the bookkeeping must not interleave with other greenlets.
"""
from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import time
import zlib
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

from fsapp.log import get_logger

from .errors import QueryError, StoreUnavailable

log = get_logger("fsapp.store.outbox")


def encode_value(v: Any) -> Any:
    if isinstance(v, dt.datetime):
        return {"$dt": v.isoformat()}
    if isinstance(v, dt.date):
        return {"$d": v.isoformat()}
    if isinstance(v, Decimal):
        return {"$dec": str(v)}
    return v


def decode_value(v: Any) -> Any:
    if isinstance(v, dict) and len(v) == 1:
        (tag, raw), = v.items()
        if tag == "$dt":
            return dt.datetime.fromisoformat(raw)
        if tag == "$d":
            return dt.date.fromisoformat(raw)
        if tag == "$dec":
            return Decimal(raw)
    return v


@dataclass
class Record:
    kind: str
    key: str
    row: dict
    spooled_at: float

    def to_line(self) -> bytes:
        body = json.dumps({"kind": self.kind, "key": self.key, "t": self.spooled_at,
                           "row": {k: encode_value(v) for k, v in self.row.items()}},
                          ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return b"%08x %s\n" % (zlib.crc32(body), body)

    @classmethod
    def from_line(cls, line: bytes) -> "Record":
        if not line.endswith(b"\n") or len(line) < 10 or line[8:9] != b" ":
            raise ValueError("torn or malformed line")
        body = line[9:-1]
        if int(line[:8], 16) != zlib.crc32(body):
            raise ValueError("CRC mismatch")
        obj = json.loads(body)
        return cls(obj["kind"], obj["key"], {k: decode_value(v) for k, v in obj["row"].items()}, obj["t"])


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def progress_path(segment: Path) -> Path:
    return segment.with_suffix(".progress")


def read_progress(path: Path, data: bytes) -> int:
    """Where replay of a segment holding `data` resumes: the last recorded offset that is
    whole and plausible (at a line boundary within the segment), else the top."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return 0
    for line in reversed(raw.split(b"\n")[:-1]):   # [:-1]: a torn last line has no newline
        try:
            offset = int(line, 16)
        except ValueError:
            continue
        if len(line) == 16 and 0 <= offset <= len(data) and (
                offset in (0, len(data)) or data[offset - 1:offset] == b"\n"):
            return offset
    return 0


class ProgressLog:
    """Appends a segment's replay offsets, each fsync'd before the next row is tried.

    Held only by the replayer that holds the segment's flock, so lines never interleave.
    """

    def __init__(self, path: Path):
        self.path = path
        self._fd: int | None = None

    def record(self, offset: int) -> None:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            _fsync_dir(self.path.parent)
        os.write(self._fd, b"%016x\n" % offset)
        os.fsync(self._fd)

    def __enter__(self) -> "ProgressLog":
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


@dataclass
class ReplayReport:
    replayed: int = 0        # rows applied (inserted or already present)
    dead: int = 0            # rows moved to dead.spool this run
    skipped_torn: int = 0    # torn lines dropped (their write() never returned)
    busy_segments: int = 0   # segments locked by another live process
    stopped: str = ""        # why replay stopped early ("" = spool drained)


class Outbox:
    def __init__(self, spool_dir: str | os.PathLike, max_attempts: int = 5):
        self.dir = Path(spool_dir) / "outbox"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dead_path = self.dir / "dead.spool"
        self.max_attempts = max_attempts
        self._active: tuple[Path, int] | None = None     # (path, fd) we append to, flock held
        self._seq = 0
        self._attempts: dict[str, int] = {}               # key -> rejected attempts (this process)

    # --- writing -----------------------------------------------------------------------
    def append(self, kind: str, key: str, row: dict) -> None:
        """Append one row and fsync; when this returns, the row survives a crash."""
        self.append_many([(kind, key, row)])

    def append_many(self, rows: list[tuple[str, str, dict]]) -> None:
        """Append rows, each (kind, key, row), with one write and one fsync; when this
        returns, every one survives a crash (a crash before that may leave the first lines
        whole, replayed like any, and a torn last one, which replay skips)."""
        if self._active is None:
            self._seq += 1
            path = self.dir / f"seg-{time.time_ns():020d}-{os.getpid()}-{self._seq}.spool"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)
            _fsync_dir(self.dir)  # the new file's name must survive a crash too
            self._active = (path, fd)
        path, fd = self._active
        now = time.time()
        data = b"".join(Record(kind, key, row, now).to_line() for kind, key, row in rows)
        written = os.write(fd, data)
        if written != len(data):
            raise OSError(f"short write to {path}: {written} of {len(data)} bytes")
        os.fsync(fd)

    def seal(self) -> None:
        """Close the segment being appended to, so it can be replayed."""
        if self._active is not None:
            _, fd = self._active
            self._active = None
            os.close(fd)  # releases the flock

    def close(self) -> None:
        self.seal()

    # --- reading -----------------------------------------------------------------------
    def segments(self) -> list[Path]:
        return sorted(self.dir.glob("seg-*.spool"))

    def has_pending(self) -> bool:
        return any(True for _ in self.dir.glob("seg-*.spool"))

    def status(self) -> dict:
        records = sum(self._count_pending(p) for p in self.segments())
        dead = self._count_lines(self.dead_path) if self.dead_path.exists() else 0
        return {"dir": str(self.dir), "segments": len(self.segments()), "pending": records, "dead": dead}

    def _count_pending(self, path: Path) -> int:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return 0
        return data.count(b"\n", read_progress(progress_path(path), data))

    @staticmethod
    def _count_lines(path: Path) -> int:
        try:
            return path.read_bytes().count(b"\n")
        except FileNotFoundError:
            return 0

    def _dead_letter(self, line: bytes, reason: str) -> None:
        fd = os.open(self.dead_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, line if line.endswith(b"\n") else line + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        log.error("outbox row moved to dead letters", extra={"reason": reason, "file": str(self.dead_path)})

    # --- replay ------------------------------------------------------------------------
    def replay(self, apply: Callable[[Record], None], report: ReplayReport | None = None) -> ReplayReport:
        """Apply every spooled row, oldest first; delete each segment once fully applied.

        apply(record) inserts the row if absent and raises StoreUnavailable (stop, try
        later) or QueryError (rejected: retried up to max_attempts, then dead-lettered).
        """
        report = report or ReplayReport()
        self.seal()
        for path in self.segments():
            try:
                fd = os.open(path, os.O_RDWR)
            except FileNotFoundError:
                continue  # another replayer finished it
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    report.busy_segments += 1
                    continue
                if not path.exists():
                    continue  # drained and unlinked by another process while we waited
                with ProgressLog(progress_path(path)) as progress:
                    if not self._replay_segment(fd, path, progress, apply, report):
                        return report
                path.unlink()            # the segment first: a stray progress file is harmless
                progress_path(path).unlink(missing_ok=True)
                _fsync_dir(self.dir)
            finally:
                os.close(fd)
        self._remove_orphan_progress()
        return report

    def _remove_orphan_progress(self) -> None:
        """Progress files whose segment is gone (a crash between the two unlinks)."""
        for prog in self.dir.glob("seg-*.progress"):
            if not prog.with_suffix(".spool").exists():
                prog.unlink(missing_ok=True)

    def _replay_segment(self, fd: int, path: Path, progress: "ProgressLog", apply,
                        report: ReplayReport) -> bool:
        with os.fdopen(os.dup(fd), "rb") as fh:
            data = fh.read()
        offset = read_progress(progress.path, data)
        while offset < len(data):
            end = data.find(b"\n", offset)
            line = data[offset:] if end == -1 else data[offset:end + 1]
            try:
                record = Record.from_line(line)
            except (ValueError, KeyError, json.JSONDecodeError) as exc:
                if end == -1:
                    report.skipped_torn += 1  # crash mid-append: write() never returned for it
                    log.warning("outbox: dropped torn last line", extra={"file": str(path)})
                else:
                    self._dead_letter(line, f"unreadable spool line in {path.name}: {exc}")
                    report.dead += 1
                offset += len(line)
                progress.record(offset)
                continue
            try:
                apply(record)
            except StoreUnavailable as exc:
                report.stopped = str(exc)
                return False
            except QueryError as exc:
                tries = self._attempts.get(record.key, 0) + 1
                self._attempts[record.key] = tries
                if tries < self.max_attempts:
                    report.stopped = f"row {record.key} rejected ({tries}/{self.max_attempts}): {exc}"
                    return False
                self._dead_letter(line, f"{record.kind} {record.key} rejected {tries} times: {exc}")
                report.dead += 1
            else:
                report.replayed += 1
            self._attempts.pop(record.key, None)
            offset += len(line)
            progress.record(offset)
        return True

    def requeue_dead(self) -> int:
        """Move dead letters back into a fresh segment (after fixing what rejected them)."""
        if not self.dead_path.exists():
            return 0
        lines = [ln + b"\n" for ln in self.dead_path.read_bytes().splitlines() if ln]
        good = []
        for line in lines:
            try:
                good.append(Record.from_line(line))
            except (ValueError, KeyError, json.JSONDecodeError):
                log.error("dead letter is unreadable; left in place", extra={"line": line[:80]})
                return 0
        for rec in good:
            self.append(rec.kind, rec.key, rec.row)
        self.seal()
        self.dead_path.unlink()
        _fsync_dir(self.dir)
        return len(good)
