"""Which files make up the line, where they live, and reading/writing them as a whole.

Logical paths name a file independently of where the configuration puts it:
flows/NAME ([flows] dir), routing.yaml ([routing] config), calendars.yaml ([flows]
calendars), sounds/catalog.yaml ([sounds] dir), campaigns/NAME ([campaign] dir),
queries/NAME.sql ([store] queries: the named queries the flows and queues run).
Rendered WAV prompts are not part of a version: they follow from the catalog
(`fsapp sounds build`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping


@dataclass(frozen=True)
class Layout:
    flows: Path
    routing: Path
    calendars: Path
    catalog: Path
    campaigns: Path
    queries: Path

    @classmethod
    def from_config(cls, cfg) -> "Layout":
        return cls(flows=Path(cfg.get("flows", "dir")), routing=Path(cfg.get("routing", "config")),
                   calendars=Path(cfg.get("flows", "calendars")),
                   catalog=Path(cfg.get("sounds", "dir")) / "catalog.yaml",
                   campaigns=Path(cfg.get("campaign", "dir")), queries=Path(cfg.get("store", "queries")))

    def directories(self) -> dict[str, Path]:
        return {"flows/": self.flows, "campaigns/": self.campaigns, "queries/": self.queries}

    def single_files(self) -> dict[str, Path]:
        return {"routing.yaml": self.routing, "calendars.yaml": self.calendars,
                "sounds/catalog.yaml": self.catalog}

    def path_of(self, logical: str) -> Path:
        for prefix, directory in self.directories().items():
            if logical.startswith(prefix):
                return directory / logical[len(prefix):]
        single = self.single_files()
        if logical in single:
            return single[logical]
        raise ValueError(f"{logical!r} is not a file of the line (flows/, campaigns/, queries/, "
                         f"{', '.join(single)})")


def _tracked(directory: Path):
    """Files under a line directory, skipping hidden ones (editor and deploy temp files)."""
    if not directory.is_dir():
        return
    for path in sorted(directory.rglob("*")):
        rel = path.relative_to(directory)
        if path.is_file() and not any(part.startswith(".") for part in rel.parts) \
                and "__pycache__" not in rel.parts:
            yield rel


def read(layout: Layout) -> dict[str, bytes]:
    """The line as it is on disk now: {logical path: bytes}."""
    files = {}
    for prefix, directory in layout.directories().items():
        for rel in _tracked(directory):
            files[prefix + rel.as_posix()] = (directory / rel).read_bytes()
    for logical, path in layout.single_files().items():
        if path.is_file():
            files[logical] = path.read_bytes()
    return files


def _write_atomically(path: Path, content: bytes) -> None:
    """The file appears at once, complete: a reader sees the old or the new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.deploying")
    with open(tmp, "wb") as fh:
        fh.write(content)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)


def without_queries(files: Mapping[str, bytes]) -> bool:
    """A file set recorded before the named queries were part of a version (none under
    queries/): it says nothing about the queries, so they are kept as they are."""
    return not any(name.startswith("queries/") for name in files)


def with_queries_of(files: Mapping[str, bytes], other: Mapping[str, bytes]) -> dict[str, bytes]:
    """`files`, completed with the queries of `other` when `files` has none (see
    without_queries): a rollback to such a version keeps today's queries."""
    out = dict(files)
    if without_queries(files):
        out.update({name: content for name, content in other.items() if name.startswith("queries/")})
    return out


def write(layout: Layout, files: Mapping[str, bytes]) -> list[str]:
    """Make the line on disk hold exactly `files`; return the logical paths written or
    removed. Unchanged files are not touched (their mtime stays). A set without any
    query (without_queries) leaves the queries directory alone."""
    current = read(layout)
    if without_queries(files):
        current = {name: content for name, content in current.items() if not name.startswith("queries/")}
    touched = []
    for logical in sorted(files):
        if current.get(logical) != files[logical]:
            _write_atomically(layout.path_of(logical), files[logical])
            touched.append(logical)
    for logical in sorted(set(current) - set(files)):
        layout.path_of(logical).unlink()
        touched.append(logical)
    return touched
