"""Where versions live: a directory of JSON files (the embedded default, [deploy] dir)
or Redis (production: every node and every operator's shell sees the same history).

A version is written once and never changed: the local store creates its file with
O_EXCL, the Redis store with SET NX. Only the `current` pointer moves.
"""
from __future__ import annotations

import base64
import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Mapping

from fsapp.deploy.model import Version, content_hash


class VersionError(Exception):
    """A version that does not exist, or a store that cannot be used; says which."""


def _encode(version: Version) -> str:
    doc = version.meta()
    doc["files"] = {name: base64.b64encode(content).decode("ascii") for name, content in version.files.items()}
    return json.dumps(doc, sort_keys=True)


def _decode(text: str | bytes, where: str) -> Version:
    try:
        doc = json.loads(text)
        files = {name: base64.b64decode(data) for name, data in doc["files"].items()}
        version = Version(number=doc["number"], content_hash=doc["content_hash"], created=doc["created"],
                          author=doc["author"], message=doc["message"], parent=doc["parent"], files=files)
    except (ValueError, KeyError, TypeError) as exc:
        raise VersionError(f"{where}: not a stored version ({exc})") from None
    if content_hash(files) != version.content_hash:
        raise VersionError(f"{where}: content does not match its hash {version.short} (the record was altered)")
    return version


class _Store:
    def numbers(self) -> list[int]:
        raise NotImplementedError

    def get(self, number: int) -> Version:
        raise NotImplementedError

    def current_number(self) -> int | None:
        raise NotImplementedError

    def _create(self, version: Version) -> bool:
        raise NotImplementedError

    def _set_current(self, number: int) -> None:
        raise NotImplementedError

    def current(self) -> Version | None:
        number = self.current_number()
        return None if number is None else self.get(number)

    def history(self) -> list[Version]:
        return [self.get(n) for n in self.numbers()]

    def record(self, files: Mapping[str, bytes], author: str, message: str, now: datetime | None = None) -> Version:
        """Store `files` as the next version and make it current."""
        created = (now or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ")
        parent = self.current_number()
        for _ in range(100):   # another operator may take the number first: take the next
            number = max(self.numbers(), default=0) + 1
            version = Version(number=number, content_hash=content_hash(files), created=created,
                              author=author, message=message, parent=parent, files=dict(files))
            if self._create(version):
                self._set_current(number)
                return version
        raise VersionError("could not allocate a version number (100 concurrent deploys?)")

    def resolve(self, ref: str | int | None) -> Version:
        """A version by number (3, v3) or content-hash prefix (at least 6 characters)."""
        text = str(ref).strip()
        if text.lstrip("v").isdigit():
            number = int(text.lstrip("v"))
            if number not in self.numbers():
                raise VersionError(f"no version {number} (fsapp versions lists them)")
            return self.get(number)
        if len(text) >= 6:
            found = [v for v in self.history() if v.content_hash.startswith(text.lower())]
            if found:
                return found[-1]
        raise VersionError(f"no version {text!r}: give a number (3) or a content hash prefix of 6+ characters")


class LocalStore(_Store):
    """[deploy] dir/NUMBER.json, and `current` holding the current number."""

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)

    def numbers(self) -> list[int]:
        if not self.directory.is_dir():
            return []
        return sorted(int(p.stem) for p in self.directory.glob("*.json") if p.stem.isdigit())

    def get(self, number: int) -> Version:
        path = self.directory / f"{number}.json"
        try:
            return _decode(path.read_text(encoding="utf-8"), str(path))
        except FileNotFoundError:
            raise VersionError(f"no version {number} in {self.directory}") from None

    def current_number(self) -> int | None:
        try:
            return int((self.directory / "current").read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def _create(self, version: Version) -> bool:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{version.number}.json"
        tmp = self.directory / f".{version.number}.json.{os.getpid()}"
        tmp.write_text(_encode(version), encoding="utf-8")
        try:
            os.link(tmp, path)   # fails if the number is taken: a version is never overwritten
        except FileExistsError:
            return False
        finally:
            tmp.unlink()
        return True

    def _set_current(self, number: int) -> None:
        tmp = self.directory / f".current.{os.getpid()}"
        tmp.write_text(f"{number}\n")
        tmp.replace(self.directory / "current")


class RedisStore(_Store):
    """PREFIX deploy:version:NUMBER (JSON, SET NX) and PREFIX deploy:current."""

    def __init__(self, url: str, prefix: str, client=None):
        import redis
        self.redis = client or redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)
        self.prefix = prefix + "deploy:"

    def numbers(self) -> list[int]:
        keys = self.redis.scan_iter(match=self.prefix + "version:*")
        return sorted(int(k.decode().rsplit(":", 1)[1]) for k in keys)

    def get(self, number: int) -> Version:
        data = self.redis.get(f"{self.prefix}version:{number}")
        if data is None:
            raise VersionError(f"no version {number} in Redis ({self.prefix}version:{number})")
        return _decode(data, f"redis {self.prefix}version:{number}")

    def current_number(self) -> int | None:
        data = self.redis.get(self.prefix + "current")
        return int(data) if data is not None else None

    def _create(self, version: Version) -> bool:
        return bool(self.redis.set(f"{self.prefix}version:{version.number}", _encode(version), nx=True))

    def _set_current(self, number: int) -> None:
        self.redis.set(self.prefix + "current", number)


def from_config(cfg) -> _Store:
    if cfg.get("deploy", "store") == "redis":
        return RedisStore(cfg.get("routing", "redis_url"), cfg.get("routing", "redis_prefix"))
    return LocalStore(cfg.get("deploy", "dir"))
