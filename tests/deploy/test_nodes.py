"""Deploy to several FreeSWITCH nodes (two emulated switches with real event sockets):
each node's configuration is rendered, staged, switched and reloaded (reloadxml over ESL);
one failing node leaves every node and the line on the previous version."""
from pathlib import Path

import pytest
from click.testing import CliRunner

from fsapp import config
from fsapp.cli import main
from fsapp.deploy import line
from fsapp.deploy.rollout import STAGED, NodeFiles, RolloutError, roll_out

from deploy_helpers import LIVE

DIALPLAN = "dialplan/default/50_fsapp.xml"


@pytest.fixture
def switches():
    from fsapp.sim import RealClock, Switch
    started = [Switch(esl=("127.0.0.1", 0), clock=RealClock()).start() for _ in range(2)]
    yield started
    for s in started:
        s.stop()


def with_nodes(cfg, tmp_path, ports, workers=("127.0.0.1:8084",)):
    text = cfg.path.read_text(encoding="utf-8")
    for name, port in zip("ab", ports):
        text += f"""
[deploy.nodes.{name}]
conf_dir = "{tmp_path / ('conf-' + name)}"
esl = "127.0.0.1:{port}"
password = "ClueCon"
workers = [{', '.join(f'"{w}"' for w in workers)}]
"""
    cfg.path.write_text(text, encoding="utf-8")
    return config.load(cfg.path, env={})


def fsapp(cfg, *args):
    return CliRunner().invoke(main, ["--config", str(cfg.path), *args])


def files_under(directory: Path) -> dict:
    return {p.relative_to(directory).as_posix(): p.read_bytes()
            for p in sorted(directory.rglob("*")) if p.is_file()} if directory.is_dir() else {}


def test_deploy_configures_every_node_and_a_failing_node_changes_nothing(project, tmp_path, switches):
    cfg = with_nodes(project, tmp_path, [s.esl_port for s in switches])
    fresh = tmp_path / "fresh.yaml"
    fresh.write_text(LIVE.replace("flow: live", "flow: fresh").replace("20000", "20009"), encoding="utf-8")
    result = fsapp(cfg, "deploy", str(fresh), "--dry-run")
    assert result.exit_code == 0, result.output
    assert "  node a: ~ " in result.output and DIALPLAN in result.output and "dry run: nothing changed" in result.output
    assert not (tmp_path / "conf-a").exists() and not (tmp_path / "flows" / "fresh.yaml").exists()
    assert not (tmp_path / "versions").exists()

    result = fsapp(cfg, "deploy", str(fresh))
    assert result.exit_code == 0, result.output
    assert "node a: switched, reloadxml ok (1/2)" in result.output
    assert "node b: switched, reloadxml ok (2/2)" in result.output
    for name in "ab":
        dialplan = (tmp_path / f"conf-{name}" / DIALPLAN).read_text()
        assert "20009" in dialplan and "20000" in dialplan
    before_nodes = {n: files_under(tmp_path / f"conf-{n}") for n in "ab"}
    before_line = line.read(line.Layout.from_config(cfg))
    history = fsapp(cfg, "versions", "--json").output

    # one invalid file: nothing changes on any node, nor in the line or the history
    bad = tmp_path / "bad.yaml"
    bad.write_text(LIVE.replace("flow: live", "flow: bad").replace("20000", "20011")
                   .replace("start: bye", "start: nowhere"), encoding="utf-8")
    result = fsapp(cfg, "deploy", str(fresh), str(bad))
    assert result.exit_code == 1 and "nothing changed" in result.output
    assert {n: files_under(tmp_path / f"conf-{n}") for n in "ab"} == before_nodes
    assert line.read(line.Layout.from_config(cfg)) == before_line
    assert fsapp(cfg, "versions", "--json").output == history

    # node b's FreeSWITCH is down: a switches first, then b fails -> a is put back
    switches[1].stop()
    other = tmp_path / "other.yaml"
    other.write_text(LIVE.replace("flow: live", "flow: other").replace("20000", "20010"), encoding="utf-8")
    result = fsapp(cfg, "deploy", str(other))
    assert result.exit_code == 1
    assert "node a: switched, reloadxml ok (1/2)" in result.output
    assert "deploy failed at node b (switch)" in result.output
    assert "restored the previous version on a, b and the line" in result.output
    assert {n: files_under(tmp_path / f"conf-{n}") for n in "ab"} == before_nodes   # no staged files left
    assert line.read(line.Layout.from_config(cfg)) == before_line
    assert fsapp(cfg, "versions", "--json").output == history


def test_an_unwritable_node_stops_the_deploy_before_anything_switches(project, tmp_path, switches):
    cfg = with_nodes(project, tmp_path, [s.esl_port for s in switches])
    (tmp_path / "conf-b").write_text("not a directory")   # e.g. the share is not mounted right
    fresh = tmp_path / "fresh.yaml"
    fresh.write_text(LIVE.replace("flow: live", "flow: fresh").replace("20000", "20009"), encoding="utf-8")
    result = fsapp(cfg, "deploy", str(fresh))
    assert result.exit_code == 1
    assert "deploy failed at node b (stage)" in result.output and "nothing changed on any node" in result.output
    assert files_under(tmp_path / "conf-a") == {}
    assert not (tmp_path / "flows" / "fresh.yaml").exists()


def test_roll_out_undoes_in_order(tmp_path):
    """The protocol alone: staged first, line, then switch node by node; undo on failure."""
    log = []
    for name in "abc":
        (tmp_path / name).mkdir()
        (tmp_path / name / "x.xml").write_text(f"<old {name}/>")
    nodes = [NodeFiles(n, tmp_path / n, {"x.xml": f"<new {n}/>", "y.xml": "<y/>"}) for n in "abc"]

    def reload_node(name):
        log.append(("reload", name, (tmp_path / name / "x.xml").read_text()))
        if name == "b" and (tmp_path / "b" / "x.xml").read_text() == "<new b/>":
            raise RuntimeError("reloadxml at b: -ERR")

    with pytest.raises(RolloutError) as err:
        roll_out(nodes, reload_node, apply_line=lambda: log.append(("line",)),
                 restore_line=lambda: log.append(("restore line",)))
    assert err.value.node == "b" and err.value.step == "switch"
    assert log == [("line",), ("reload", "a", "<new a/>"), ("reload", "b", "<new b/>"),
                   ("reload", "a", "<old a/>"), ("reload", "b", "<old b/>"), ("restore line",)]
    for name in "abc":
        assert sorted(p.name for p in (tmp_path / name).iterdir()) == ["x.xml"]   # y.xml removed again
        assert (tmp_path / name / "x.xml").read_text() == f"<old {name}/>"
    assert not list(tmp_path.rglob("*" + STAGED))
