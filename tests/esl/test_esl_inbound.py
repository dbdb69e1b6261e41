"""InboundClient over real TCP against a scripted FreeSWITCH inbound port."""
import gevent
import pytest

from esl_fake_inbound import FakeInbound
from fsapp import config
from fsapp.esl import AuthError, CommandError, InboundClient, OriginateError
from fsapp.esl.errors import ConnectionLost


@pytest.fixture
def fs():
    server = FakeInbound().start()
    yield server
    server.stop()


def client_for(fs, **kw):
    kw.setdefault("reconnect_base_delay", 0.05)
    kw.setdefault("reconnect_max_delay", 0.2)
    return InboundClient("127.0.0.1", fs.port, "ClueCon", **kw)


def test_api_bgapi_helpers(fs):
    with client_for(fs) as client:
        assert "is ready" in client.api("status")
        assert client.uuid_exists("00000000-0000-0000-0000-000000000000") is False
        assert client.api("no_such_command").startswith("-ERR no_such_command")
        with pytest.raises(CommandError, match="Command not found"):
            client.api_ok("no_such_command")
        assert client.bgapi("status", timeout=5).startswith("UP")
        client.uuid_kill("u1")
        client.uuid_bridge("u1", "u2")
        client.uuid_transfer("u1", "1000")
        client.uuid_broadcast("u1", "tone_stream://%(100,0,800)")
        client.uuid_recv_dtmf("u1", "12#")
        client.uuid_setvar("u1", "foo", "bar")
        assert client.uuid_getvar("u1", "foo") is None
        assert client.show_channels() == []
    assert "api uuid_recv_dtmf u1 12#" in fs.commands
    assert fs.commands[-1] == "exit"


def test_bgapi_correlates_by_job_uuid_even_when_server_picks_it(fs):
    fs.honour_job_uuid = False
    with client_for(fs) as client:
        results = [gevent.spawn(client.bgapi, "status", 5) for _ in range(5)]
        gevent.joinall(results, timeout=10)
        assert all(r.value.startswith("UP") for r in results)


def test_originate_returns_uuid_or_cause(fs):
    with client_for(fs) as client:
        uuid = client.originate("loopback/7000/default", "&park", {"origination_caller_id_number": "13800138000"},
                                timeout=5)
        assert len(uuid) == 36
        sent = [c for c in fs.commands if c.startswith("bgapi originate")][-1]
        assert sent.startswith("bgapi originate {origination_caller_id_number=13800138000,originate_timeout=5}")
        fs.originate_result = "-ERR USER_BUSY\n"
        with pytest.raises(OriginateError) as info:
            client.originate("user/1000", "&park", timeout=5)
        assert info.value.cause == "USER_BUSY"


def test_bad_password_is_an_auth_error(fs):
    with pytest.raises(AuthError, match="refused the password"):
        InboundClient("127.0.0.1", fs.port, "WrongPassword").start()


def test_password_comes_from_config_or_env_never_a_default(tmp_path):
    cfg = config.load(env={})
    with pytest.raises(config.ConfigError, match="FSAPP_ESL_PASSWORD"):
        InboundClient.from_config(cfg)
    cfg = config.load(env={"FSAPP_ESL_PASSWORD": "s3cret", "FSAPP_ESL_PORT": "18021"})
    client = InboundClient.from_config(cfg)
    assert (client.port, client._password) == (18021, "s3cret")


def test_events_subscriptions_and_filters(fs):
    got = []
    with client_for(fs) as client:
        client.on("DTMF", lambda ev: got.append(ev["DTMF-Digit"]))
        client.on("callcenter::info", lambda ev: got.append(ev["CC-Action"]))
        client.subscribe("DTMF", "CUSTOM callcenter::info")
        client.add_filter("Unique-ID", "u1")
        fs.broadcast(fs.event("DTMF", Unique_ID="u1", DTMF_Digit="#"))
        fs.broadcast(fs.event("CUSTOM", Event_Subclass="callcenter::info", CC_Action="agent-offering"))
        with gevent.Timeout(5):
            while len(got) < 2:
                gevent.sleep(0.01)
        client.delete_filter("Unique-ID", "u1")
    assert got == ["#", "agent-offering"]
    # FreeSWITCH takes every word after CUSTOM as a subclass: CUSTOM and subclasses go last
    assert "event plain DTMF CUSTOM callcenter::info" in fs.commands
    assert "filter Unique-ID u1" in fs.commands and "filter delete Unique-ID u1" in fs.commands


def resubscriptions(commands):
    after = commands[commands.index("auth ClueCon", 1) + 1:] if commands.count("auth ClueCon") > 1 else []
    return [c for c in after if c.startswith(("event ", "filter "))]


def test_reconnect_after_server_killed_and_restarted(fs):
    client = client_for(fs).start()
    try:
        client.subscribe("CHANNEL_HANGUP")
        client.add_filter("Event-Name", "CHANNEL_HANGUP")
        port = fs.port
        fs.stop()
        with gevent.Timeout(5):
            while client.connected:
                gevent.sleep(0.01)
        gevent.sleep(0.5)  # several failed attempts against a dead port
        fs.commands.clear()
        restarted = FakeInbound(port=port).start()
        try:
            assert client.wait_connected(10)
            assert client.connects == 2
            assert "is ready" in client.api("status")
            # exactly one re-subscription with every event, each filter once, the filters
            # first so that no unfiltered event slips in (was: event, then filter)
            assert [c for c in restarted.commands if c.startswith(("event ", "filter "))] == [
                "filter Event-Name CHANNEL_HANGUP", "event plain BACKGROUND_JOB CHANNEL_HANGUP HEARTBEAT"]
        finally:
            client.stop()
            restarted.stop()
    finally:
        client.stop()


def test_heartbeat_watchdog_detects_silent_peer(fs):
    client = client_for(fs, heartbeat_timeout=0.5, connect_timeout=1.0).start()
    try:
        fs.broadcast(fs.event("HEARTBEAT", Event_Info="System Ready"))
        fs.silent = True  # TCP stays up, nothing more is said: a dead peer
        with gevent.Timeout(10):
            while client.connected:
                gevent.sleep(0.02)
        fs.silent = False
        assert client.wait_connected(10)
        assert client.connects >= 2
        assert "is ready" in client.api("status")
    finally:
        client.stop()


def test_unreachable_switch_is_a_clear_error():
    from fsapp.esl import NotConnected
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(NotConnected, match=f"127.0.0.1:{port}"):
        InboundClient("127.0.0.1", port, "ClueCon", connect_timeout=2).start()


def test_frame_larger_than_max_frame_bytes_closes_the_connection(fs):
    """[esl] max_frame_bytes bounds what one connection may make fsapp buffer: an api
    answer over it is a protocol error (the command fails, the link is dropped), then the
    client reconnects and smaller answers work again."""
    cfg = config.load(env={"FSAPP_ESL_PASSWORD": "ClueCon", "FSAPP_ESL_PORT": str(fs.port),
                           "FSAPP_ESL_MAX_FRAME_BYTES": "4096"})
    fs.api_answers["show channels"] = "x" * 5000
    client = InboundClient.from_config(cfg, reconnect_base_delay=0.05, reconnect_max_delay=0.2)
    assert client.max_frame_bytes == 4096
    client.start()
    try:
        with pytest.raises(ConnectionLost, match="exceeds the maximum frame of 4096 bytes"):
            client.api("show channels", timeout=5)
        with gevent.Timeout(10):
            while client.connects < 2:
                gevent.sleep(0.02)
        assert client.wait_connected(10)
        assert "is ready" in client.api("status")
    finally:
        client.stop()
    with pytest.raises(ValueError, match=r"\[esl\] max_frame_bytes must be >= 1"):
        client_for(fs, max_frame_bytes=0)
