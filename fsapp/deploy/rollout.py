"""Switch every node to a new version, or leave every node on the old one.

The protocol (what "one consistent version" means):

1. stage    every node's new files are written beside the live ones (NAME.fsapp-staged).
            A node that cannot be written (share not mounted, no permission) stops the
            deploy here: the staged files are removed, nothing live has changed.
2. line     the line (flows, routing, ...) is installed and the local service reloaded.
3. switch   node by node: the staged files replace the live ones (rename: FreeSWITCH
            never reads half a file), then `reloadxml` over that node's event socket.
            If a node fails, every node switched so far (that one included) gets its
            previous files back and `reloadxml` again, the remaining staged files are
            removed and the line is restored: all nodes stay on the previous version.
            Only when every node has switched is the version recorded as current.

A node that cannot even be restored (its event socket died between two steps) is named
in the error: its files are the previous version's, and its next `reloadxml` (or a
FreeSWITCH restart) loads them.

The steps take their I/O as functions, so the order and the undo are tested without a
network and the CLI wires in the real ones.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

STAGED = ".fsapp-staged"


class RolloutError(Exception):
    """A node failed; `node` names it, `step` says where; the message says what was undone."""

    def __init__(self, node: str, step: str, message: str):
        super().__init__(message)
        self.node, self.step = node, step


@dataclass
class NodeFiles:
    name: str
    conf_dir: Path
    new: Mapping[str, str]                         # path under conf/ -> text
    old: dict = field(default_factory=dict)        # path -> previous bytes (None: absent)


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".fsapp-tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _unstage(nodes: list[NodeFiles]) -> None:
    for node in nodes:
        for name in node.new:
            try:
                (node.conf_dir / (name + STAGED)).unlink()
            except FileNotFoundError:
                pass
            except OSError:
                pass   # an unreachable share: nothing live refers to a staged file


def roll_out(nodes: list[NodeFiles], reload_node: Callable[[str], None],
             apply_line: Callable[[], None], restore_line: Callable[[], None],
             progress: Callable[[str], None] = lambda text: None) -> None:
    """Run the protocol above; raise RolloutError (after undoing) if a node fails."""
    staged: list[NodeFiles] = []
    for node in nodes:
        staged.append(node)
        try:
            for name, text in node.new.items():
                live = node.conf_dir / name
                node.old[name] = live.read_bytes() if live.is_file() else None
                _write(node.conf_dir / (name + STAGED), text.encode("utf-8"))
        except OSError as exc:
            _unstage(staged)
            raise RolloutError(node.name, "stage", f"node {node.name}: cannot write {node.conf_dir}: {exc}; "
                                                   f"nothing changed on any node") from None
        progress(f"node {node.name}: staged {len(node.new)} file(s) in {node.conf_dir}")
    try:
        apply_line()
    except BaseException:
        _unstage(nodes)
        restore_line()
        raise
    switched: list[NodeFiles] = []
    for node in nodes:
        switched.append(node)
        try:
            for name in node.new:
                os.replace(node.conf_dir / (name + STAGED), node.conf_dir / name)
            reload_node(node.name)
        except Exception as exc:
            problems = _undo(switched, reload_node)
            _unstage(nodes)
            restore_line()
            undone = ", ".join(n.name for n in switched)
            tail = f"; could not reload {', '.join(problems)} after restoring" if problems else ""
            raise RolloutError(node.name, "switch",
                               f"node {node.name} failed: {exc}; restored the previous version on "
                               f"{undone} and the line{tail}") from None
        progress(f"node {node.name}: switched, reloadxml ok ({len(switched)}/{len(nodes)})")


def _undo(switched: list[NodeFiles], reload_node) -> list[str]:
    failed = []
    for node in switched:
        try:
            for name, data in node.old.items():
                live = node.conf_dir / name
                if data is None:
                    live.unlink(missing_ok=True)
                else:
                    _write(live, data)
            reload_node(node.name)
        except Exception as exc:
            failed.append(f"{node.name} ({exc})")
    return failed


def reloadxml(host: str, port: int, password: str, connect_timeout: float, command_timeout: float) -> None:
    """`api reloadxml` over the node's event socket; raises with FreeSWITCH's answer."""
    from fsapp.esl.inbound import InboundClient
    client = InboundClient(host, port, password, connect_timeout=connect_timeout,
                           command_timeout=command_timeout)
    client.start(wait=True)
    try:
        body = client.api("reloadxml", timeout=command_timeout)
    finally:
        client.stop()
    if not body.startswith("+OK"):
        raise RuntimeError(f"reloadxml at {host}:{port}: {body.strip()}")
