"""`fsapp deploy` / `versions` / `diff` / `rollback` on a line of its own (tmp_path), with a
running flow handler behind the control socket and real calls through the emulator."""
import os
import uuid
from pathlib import Path

import pytest
import redis
from click.testing import CliRunner

from fsapp import config
from fsapp.cli import main
from fsapp.deploy import content_hash, line

from deploy_helpers import LIVE


def fsapp(cfg, *args):
    return CliRunner().invoke(main, ["--config", str(cfg.path), *args])


def on_disk(cfg):
    return line.read(line.Layout.from_config(cfg))


def test_deploy_records_versions_and_an_invalid_file_changes_nothing(project, tmp_path):
    new = tmp_path / "new" / "live.yaml"
    new.parent.mkdir()
    new.write_text(LIVE.replace("common/goodbye", "common/thanks"), encoding="utf-8")
    result = fsapp(project, "deploy", str(new), "-m", "say thanks", "--author", "alice")
    assert result.exit_code == 0, result.output
    assert "recorded version 1" in result.output and "version 2 " in result.output
    assert "flows     ~ live (nodes changed: bye)" in result.output
    result = fsapp(project, "versions")
    rows = result.output.splitlines()
    assert rows[0].startswith("     1  ") and "baseline" in rows[0]
    assert rows[1].startswith("*    2  ") and rows[1].endswith("alice  say thanks")
    before = on_disk(project)
    history = fsapp(project, "versions", "--json").output
    # one valid file and one invalid one: nothing at all is installed or recorded
    good = tmp_path / "new" / "other.yaml"
    good.write_text(LIVE.replace("flow: live", "flow: other").replace("20000", "20001"), encoding="utf-8")
    bad = tmp_path / "new" / "broken.yaml"
    bad.write_text(LIVE.replace("flow: live", "flow: broken").replace("20000", "20002")
                   .replace("start: bye", "start: nowhere"), encoding="utf-8")
    result = fsapp(project, "deploy", str(good), str(bad))
    assert result.exit_code == 1
    assert f"{bad}:" in result.output and "nothing changed" in result.output
    assert on_disk(project) == before
    assert fsapp(project, "versions", "--json").output == history
    # a broken catalog (part of the line) also stops the deploy: the flows are checked against it
    (tmp_path / "sounds" / "catalog.yaml").write_text("prompts: [", encoding="utf-8")
    result = fsapp(project, "deploy", str(good))
    assert result.exit_code == 1 and not (tmp_path / "flows" / "other.yaml").exists()


def test_diff_between_versions_and_the_disk(project, tmp_path):
    new = tmp_path / "fresh.yaml"
    new.write_text(LIVE.replace("flow: live", "flow: fresh").replace("20000", "20009"), encoding="utf-8")
    assert fsapp(project, "deploy", str(new)).exit_code == 0
    result = fsapp(project, "diff")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].startswith("version 1 (")
    assert "  flows     + fresh" in result.output and "  numbers   + 20009 -> fresh" in result.output
    assert "no changes" in fsapp(project, "diff", "2", "disk").output
    (tmp_path / "routing.yaml").write_text((tmp_path / "routing.yaml").read_text()
                                           .replace("strategy: longest-idle-agent", "strategy: ring-all", 1))
    result = fsapp(project, "diff", "2", "disk")
    assert "  queues    ~ hotline" in result.output
    result = fsapp(project, "diff", "9")
    assert result.exit_code == 1 and "no version 9" in result.output


def test_rollback_restores_the_previous_hash_verified_by_a_call(project, tmp_path):
    import gevent

    from fsapp.esl.outbound import OutboundServer
    from fsapp.app.services import flow_handler
    from fsapp.sim import CallerScript, RealClock, Socket, Switch
    from tests.flow.test_runtime import fake_services

    handler = flow_handler(tmp_path / "flows", project, services=fake_services(project))
    handler.listen(project.get("flows", "control"), sighup=False)
    switch = Switch(esl=("127.0.0.1", 0), clock=RealClock(scale=5)).start()
    server = OutboundServer(handler, ("127.0.0.1", 0), linger=5).start()
    switch.dialplan.add(r"^20000$", Socket(f"127.0.0.1:{server.port} async full"))

    def call_hears():
        caller = switch.place_call(CallerScript(dial="20000", steps=[]))
        report = caller.wait(30)
        return [Path(p).stem for p in report.heard]

    try:
        original = content_hash(on_disk(project))
        assert call_hears() == ["goodbye"]
        new = tmp_path / "live.yaml"
        new.write_text(LIVE.replace("common/goodbye", "common/thanks"), encoding="utf-8")
        assert fsapp(project, "deploy", str(new)).exit_code == 0
        assert call_hears() == ["thanks"]
        result = fsapp(project, "rollback")
        assert result.exit_code == 0, result.output
        assert "rolling back from version 2" in result.output and "to version 1" in result.output
        assert "version 3 " in result.output and "new versions: live v" in result.output
        assert content_hash(on_disk(project)) == original
        versions = fsapp(project, "versions", "--json").output
        assert '"content_hash": "%s"' % original in versions
        assert call_hears() == ["goodbye"]
        # rolling back again undoes the rollback (the default is the version it replaced)
        assert fsapp(project, "rollback").exit_code == 0
        assert call_hears() == ["thanks"]
        assert fsapp(project, "rollback", "v1", "-m", "back to the start").exit_code == 0
        assert content_hash(on_disk(project)) == original
    finally:
        server.stop(timeout=2)
        switch.stop()
        handler.control_server.stop()
        gevent.sleep(0)


def test_rollback_without_history_says_so(project):
    result = fsapp(project, "rollback")
    assert result.exit_code == 1 and "no versions yet" in result.output


def test_deploy_without_files_records_the_line_as_edited_in_place(project, tmp_path):
    routing = tmp_path / "routing.yaml"
    assert fsapp(project, "deploy", "-m", "first").exit_code == 0
    routing.write_text(routing.read_text().replace("strategy: longest-idle-agent", "strategy: ring-all", 1))
    result = fsapp(project, "deploy", "-m", "hotline rings all")
    assert result.exit_code == 0, result.output
    assert "  queues    ~ hotline" in result.output and "hotline rings all" in result.output
    assert "queues    ~ hotline" in fsapp(project, "diff").output
    assert fsapp(project, "rollback").exit_code == 0
    assert "strategy: longest-idle-agent" in routing.read_text().split("hotline:")[1][:200]


def test_versions_in_redis(project, tmp_path):
    url = os.environ.get("FSAPP_TEST_REDIS_URL")
    if not url:
        if os.environ.get("FSAPP_REQUIRE_SERVICES") == "1":
            pytest.fail("FSAPP_TEST_REDIS_URL is not set")
        pytest.skip("no redis-server")
    prefix = f"fsapp-test-{uuid.uuid4().hex[:8]}:"
    text = project.path.read_text().replace("[deploy]\n", '[deploy]\nstore = "redis"\n')
    text = text.replace("[routing]\n", f'[routing]\nredis_url = "{url}"\nredis_prefix = "{prefix}"\n')
    project.path.write_text(text)
    cfg = config.load(project.path, env={})
    r = redis.Redis.from_url(url)
    try:
        new = tmp_path / "live.yaml"
        new.write_text(LIVE.replace("common/goodbye", "common/thanks"))
        assert fsapp(cfg, "deploy", str(new), "-m", "in redis").exit_code == 0
        assert not (tmp_path / "versions").exists()
        assert r.get(prefix + "deploy:current") == b"2"
        assert "in redis" in fsapp(cfg, "versions").output
        assert fsapp(cfg, "rollback").exit_code == 0
        assert r.get(prefix + "deploy:current") == b"3"
    finally:
        keys = list(r.scan_iter(match=prefix + "*"))
        if keys:
            r.delete(*keys)


def test_named_queries_are_part_of_a_version(project, tmp_path):
    """Queries are files of the line: hashed, diffed by name, validated, restored by a rollback."""
    sql = tmp_path / "queries" / "hotline.sql"
    original = sql.read_bytes()
    assert fsapp(project, "deploy", "-m", "first").exit_code == 0
    assert "queries/hotline.sql" in on_disk(project)
    sql.write_bytes(original.replace(b"ORDER BY accepted_at DESC, serial DESC", b"ORDER BY serial DESC")
                    + b"\n-- name: open_count\n-- params: caller_number\n"
                      b"SELECT COUNT(*) AS n FROM fsapp_tickets WHERE caller_number = ?;\n")
    result = fsapp(project, "deploy", "-m", "queries edited")
    assert result.exit_code == 0, result.output
    assert "  queries   + hotline.open_count" in result.output
    assert "  queries   ~ hotline.open_tickets_of_caller" in result.output
    assert "queries   + hotline.open_count" in fsapp(project, "diff").output
    # a query that does not parse stops the deploy: the flows are checked against the queries
    edited = sql.read_bytes()
    sql.write_bytes(edited + b"\n-- name: broken\n-- params: a, b\nSELECT ?;\n")
    result = fsapp(project, "deploy", "-m", "broken query")
    assert result.exit_code == 1 and "nothing installed" in result.output
    sql.write_bytes(edited)
    result = fsapp(project, "rollback")
    assert result.exit_code == 0, result.output
    assert sql.read_bytes() == original
    assert "queries   - hotline.open_count" in fsapp(project, "diff").output


def test_rollback_to_a_version_without_queries_keeps_todays(project, tmp_path):
    """Versions recorded before queries were part of a version hold none: rolling back to
    one keeps the queries on disk instead of deleting them."""
    from fsapp.deploy.store import LocalStore
    store = LocalStore(project.get("deploy", "dir"))
    legacy = {k: v for k, v in on_disk(project).items() if not k.startswith("queries/")}
    store.record(legacy, "old", "before queries were versioned")
    assert fsapp(project, "deploy", "-m", "now").exit_code == 0
    queries = {k: v for k, v in on_disk(project).items() if k.startswith("queries/")}
    result = fsapp(project, "rollback")
    assert result.exit_code == 0, result.output
    assert "today's queries are kept" in result.output
    assert {k: v for k, v in on_disk(project).items() if k.startswith("queries/")} == queries
