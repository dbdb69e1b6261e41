"""The flows control socket, created private: 0600 (only fsapp's own user), or 0660 for a
configured group ([flows] control_group), never wider, not even for an instant.

The socket has no authentication of its own (`reload`, `deploy`, `status`): its file
mode is the access control. A socket bound straight at its path would take its mode
from the process umask and be chmod'ed after, a window in which anyone the umask lets
in could connect. So it is bound inside a fresh 0700 directory next to the final path,
given its mode and group there, and only then renamed into place.
"""
from __future__ import annotations

import grp
import os
import tempfile
from pathlib import Path

from gevent import socket as gsocket

OWNER_ONLY = 0o600
OWNER_AND_GROUP = 0o660
MAX_PATH_BYTES = 107   # sizeof(sockaddr_un.sun_path) - 1 on Linux


class ControlSocketError(RuntimeError):
    """The control socket cannot be created as configured (a clear message for the CLI)."""


def resolve_group(group: str) -> int:
    """[flows] control_group: a group name or a numeric gid."""
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        if group.isdigit():
            return int(group)
        raise ControlSocketError(f"[flows] control_group = {group!r}: no such group on this machine; "
                                 f"name an existing group (getent group) or leave it empty for 0600") from None


def bind_control_socket(path: str | os.PathLike, group: str = "", backlog: int = 8) -> gsocket.socket:
    """A listening Unix socket at `path`, mode 0600 (or 0660 owned by `group`)."""
    path = Path(path)
    gid = resolve_group(group) if group else None
    # a short staging name: a Unix socket's path is at most 107 bytes, staged path included
    staging = Path(tempfile.mkdtemp(prefix=".fc", dir=path.parent))   # mode 0700
    staged = staging / "s"
    longest = max(len(os.fsencode(str(path))), len(os.fsencode(str(staged))))
    if longest > MAX_PATH_BYTES:
        staging.rmdir()
        raise ControlSocketError(f"[flows] control = {str(path)!r}: too long for a Unix socket ({longest} bytes "
                                 f"with the staging directory it is bound in; at most {MAX_PATH_BYTES}): "
                                 f"choose a shorter path")
    listener = gsocket.socket(gsocket.AF_UNIX, gsocket.SOCK_STREAM)
    try:
        listener.bind(str(staged))
        if gid is not None:
            try:
                os.chown(staged, -1, gid)
            except PermissionError:
                raise ControlSocketError(f"[flows] control_group = {group!r}: this user may not give "
                                         f"{path} to that group (not a member of it)") from None
        os.chmod(staged, OWNER_ONLY if gid is None else OWNER_AND_GROUP)
        os.rename(staged, path)
        listener.listen(backlog)
    except BaseException:
        listener.close()
        staged.unlink(missing_ok=True)
        raise
    finally:
        staging.rmdir()
    return listener
