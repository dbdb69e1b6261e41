"""Which files in a flows directory are flows: *.yaml / *.yml anywhere under it, except
the flow tests kept beside them. Shared by the compiler (fsapp.flow), the dialplan
renderer (fsapp.conf) and `fsapp sounds check`, so they always see the same files."""
from __future__ import annotations

from pathlib import Path

FLOW_SUFFIXES = (".yaml", ".yml")
TEST_SUFFIXES = (".test.yaml", ".test.yml", ".tests.yaml", ".tests.yml")


def is_flow_file(path: Path) -> bool:
    return path.name.endswith(FLOW_SUFFIXES) and not path.name.endswith(TEST_SUFFIXES)


def flow_files(paths) -> list[Path]:
    """Flow files named, or found in the directories named (test files beside them excluded)."""
    out = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.is_file() and is_flow_file(f)))
        else:
            out.append(p)
    return out
