"""A version: the complete content of the line at one deploy, never changed afterwards."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Mapping


def content_hash(files: Mapping[str, bytes]) -> str:
    """sha256 over the sorted (logical path, content) pairs: two lines hash the same
    exactly when they hold the same files with the same bytes."""
    h = hashlib.sha256()
    for name in sorted(files):
        h.update(name.encode("utf-8") + b"\0" + hashlib.sha256(files[name]).digest())
    return h.hexdigest()


@dataclass(frozen=True)
class Version:
    number: int                    # 1, 2, 3 ... in the order they were recorded
    content_hash: str
    created: str                   # ISO 8601, UTC
    author: str
    message: str
    parent: int | None             # the version that was current when this one was deployed
    files: Mapping[str, bytes] = field(repr=False, compare=False)

    @property
    def short(self) -> str:
        return self.content_hash[:12]

    def meta(self) -> dict:
        return {"number": self.number, "content_hash": self.content_hash, "created": self.created,
                "author": self.author, "message": self.message, "parent": self.parent,
                "files": len(self.files)}
