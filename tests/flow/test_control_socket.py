"""The flows control socket has no authentication of its own, so its mode is its access
control (issue 10): 0600 even under a permissive umask, or 0660 owned by [flows]
control_group; never wider at any moment (it is bound in a private directory)."""
import grp
import os
import stat
from pathlib import Path

import pytest

from fsapp import config
from fsapp.flow.control_socket import ControlSocketError, bind_control_socket
from fsapp.app.services import make_handler
from fsapp.flow.runtime import request
from tests.fsapp_toml import sqlite_store, write_fsapp_toml

ROOT = Path(__file__).resolve().parents[2]
MENU = """
flow: tiny
numbers: ["20000"]
languages: [zh-CN]
start: bye
nodes:
  bye: {hangup: {prompt: common/goodbye}}
"""


@pytest.fixture
def permissive_umask():
    old = os.umask(0o000)
    yield
    os.umask(old)


def other_group() -> grp.struct_group:
    """A group this process may give a file to, other than its own primary group (so the
    assertion cannot pass by default ownership)."""
    mine = set(os.getgroups()) - {os.getgid()}
    for g in grp.getgrall():
        if g.gr_gid != os.getgid() and (os.geteuid() == 0 or g.gr_gid in mine):
            return g
    pytest.skip("no second group this user may chgrp to")


def serve_flows(tmp_path, **flows_settings):
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "tiny.yaml").write_text(MENU, encoding="utf-8")
    toml = write_fsapp_toml(tmp_path, {
        "flows": {"dir": flows, "control": tmp_path / "run" / "flows.sock", "calendars": ROOT / "calendars.yaml",
                  **flows_settings},
        "sounds": {"dir": ROOT / "sounds"},
        "store": sqlite_store(tmp_path, main=tmp_path / "fsapp.db"),
        "routing": {"config": ROOT / "routing.yaml"}})
    cfg = config.load(toml, env={})
    return cfg, make_handler(str(flows), cfg)


def test_the_control_socket_is_0600_under_umask_000(tmp_path, permissive_umask):
    cfg, handler = serve_flows(tmp_path)
    try:
        sock = Path(cfg.get("flows", "control"))
        st = sock.stat()
        assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
        assert st.st_uid == os.geteuid()
        assert request(sock, "status")["ok"]
        assert sorted(p.name for p in sock.parent.iterdir()) == ["flows.sock"]   # no staging left
    finally:
        handler.control_server.stop()


def test_with_a_control_group_it_is_0660_and_that_group(tmp_path, permissive_umask):
    group = other_group()
    cfg, handler = serve_flows(tmp_path, control_group=group.gr_name)
    try:
        st = Path(cfg.get("flows", "control")).stat()
        assert stat.S_IMODE(st.st_mode) == 0o660 and st.st_gid == group.gr_gid
        assert request(cfg.get("flows", "control"), "status")["ok"]
    finally:
        handler.control_server.stop()


def test_an_unknown_group_is_a_clear_error(tmp_path):
    with pytest.raises(ControlSocketError, match=r"\[flows\] control_group = 'no-such-group-x': no such group"):
        bind_control_socket(tmp_path / "c.sock", "no-such-group-x")
    assert list(tmp_path.iterdir()) == []


def test_a_control_socket_path_too_long_for_unix_is_a_clear_error(tmp_path):
    deep = tmp_path / ("d" * (120 - len(str(tmp_path))))
    deep.mkdir()
    with pytest.raises(ControlSocketError, match=r"too long for a Unix socket .*choose a shorter path"):
        bind_control_socket(deep / "control.sock")
    assert list(deep.iterdir()) == []          # the staging directory is not left behind
