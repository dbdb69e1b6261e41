"""Metrics end to end: calls through the emulator into `fsapp serve`'s flow runtime and
router, scraped over HTTP from /metrics; the store's and Redis's health by causing their
failures for real (an unreachable database, a private redis-server that is killed)."""
import re
import shutil
import socket
import time
import urllib.error
import urllib.request
from types import SimpleNamespace

import pytest
from prometheus_client.parser import text_string_to_metric_families

from fsapp.live.feeds import FlowFeed, command_label
from fsapp.live.metrics import SPECS, Metrics
from fsapp.live.sampler import Sampler
from fsapp.routing.model import AgentStatus
from fsapp.sim import Hangup, Wait
from liveline import LiveLine, PrivateRedis, wait_for


def scrape(address, token=None) -> str:
    request = urllib.request.Request(f"http://{address[0]}:{address[1]}/metrics")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as reply:
        return reply.read().decode("utf-8")


def samples(text: str) -> dict:
    """{(sample name, frozenset(labels)): value}"""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(text: str, name: str, **labels) -> float | None:
    return samples(text).get((name, frozenset(labels.items())))


@pytest.fixture
def line(tmp_path):
    line = LiveLine.open(tmp_path, metrics=True)
    yield line
    line.close()


def test_calls_queue_offers_and_esl_are_counted_and_scraped(line):
    line.agent("1001", ring_s=0.2, answer=False)          # no answer: the offer goes on to 1002
    line.agent("1002", ring_s=0.2, talk_s=0.5)
    first = line.place([Wait(20)]).wait(40)
    wait_for(lambda: first.uuid in line.outcomes, 15, "the first call's flow to end")
    line.router.backend.set_status("1002", AgentStatus.LOGGED_OUT, time.time())

    waiting = line.place([Wait(30)], caller_id="13911112222")
    text = wait_for(lambda: (t := scrape(line.live.address)) and value(t, "fsapp_queue_waiting", queue="sales") == 1
                    and value(t, "fsapp_calls_in_progress", flow="line") == 1 and t, 15,
                    "the waiting caller on /metrics")
    assert value(text, "fsapp_queue_longest_wait_seconds", queue="sales") >= 0
    line.router.esl.uuid_kill(waiting.report.uuid)   # the caller gives up while waiting
    second = waiting.wait(40)
    wait_for(lambda: second.uuid in line.outcomes, 15, "the second call's flow to end")

    text = wait_for(lambda: (t := scrape(line.live.address))
                    and value(t, "fsapp_agents", state="logged_out") == 2
                    and value(t, "fsapp_queue_waiting", queue="sales") == 0 and t, 15, "a sample after the abandon")
    assert value(text, "fsapp_calls_in_progress", flow="line") == 0
    assert value(text, "fsapp_calls_total", flow="line", outcome="queue") == 1
    assert value(text, "fsapp_node_visits_total", flow="line", node="greet") == 2
    assert value(text, "fsapp_node_visits_total", flow="line", node="agents") == 2
    assert value(text, "fsapp_queue_joined_total", queue="sales") == 2
    assert value(text, "fsapp_queue_left_total", queue="sales", outcome="answered") == 1
    assert value(text, "fsapp_queue_wait_seconds_count", queue="sales", outcome="answered") == 1
    assert value(text, "fsapp_offers_total", queue="sales") == 2
    assert value(text, "fsapp_offer_results_total", queue="sales", result="no_answer") == 1
    assert value(text, "fsapp_offer_results_total", queue="sales", result="answered") == 1
    assert value(text, "fsapp_calls_total", flow="line", outcome="caller_hangup") == 1
    assert value(text, "fsapp_queue_waiting", queue="sales") == 0
    assert value(text, "fsapp_queue_left_total", queue="sales", outcome="abandoned") == 1
    esl = f"127.0.0.1:{line.switch.esl_port}"
    assert value(text, "fsapp_esl_connected", connection=esl) == 1
    assert value(text, "fsapp_esl_reconnects_total", connection=esl) in (None, 0)
    commands = {dict(labels)["command"] for (name, labels) in samples(text)
                if name == "fsapp_esl_command_seconds_count"}
    assert "api uuid_bridge" in commands and "sendmsg" in commands, commands
    # no caller data in any label: numbers, uuids
    for hostile in ("13800138000", "13911112222", first.uuid, second.uuid):
        assert hostile not in text


def test_the_second_caller_abandons(line):
    line.router.backend.set_status("1001", AgentStatus.LOGGED_OUT, time.time())
    line.router.backend.set_status("1002", AgentStatus.LOGGED_OUT, time.time())
    report = line.place([Wait(0.5), Hangup()]).wait(30)
    wait_for(lambda: report.uuid in line.outcomes, 15, "the flow to end")
    text = wait_for(lambda: (t := scrape(line.live.address))
                    and value(t, "fsapp_queue_left_total", queue="sales", outcome="abandoned") == 1 and t,
                    15, "the abandon on /metrics")
    assert value(text, "fsapp_queue_wait_seconds_count", queue="sales", outcome="abandoned") == 1
    assert value(text, "fsapp_calls_total", flow="line", outcome="caller_hangup") == 1


def test_esl_reconnect_is_counted(line):
    esl = f"127.0.0.1:{line.switch.esl_port}"
    sampler = line.live.sampler
    client = line.router.esl
    before = client.connects
    client._conn.close("test: link lost")          # what a network cut does to the reader
    wait_for(lambda: client.connects > before and client.connected, 15, "the reconnect")
    sampler.sample()
    text = scrape(line.live.address)
    assert value(text, "fsapp_esl_reconnects_total", connection=esl) == 1


def test_token_is_required_when_set(tmp_path):
    from fsapp.live.service import ServeMetrics
    live = ServeMetrics("127.0.0.1:0", token="s3cret").start()
    try:
        with pytest.raises(urllib.error.HTTPError) as err:
            scrape(live.address)
        assert err.value.code == 401
        with pytest.raises(urllib.error.HTTPError):
            scrape(live.address, token="wrong")
        assert "fsapp_calls_total" in scrape(live.address, token="s3cret")
    finally:
        live.stop()


def test_database_outage_counts_errors_and_outbox_depth(tmp_path):
    from fsapp.store import Store
    with socket.socket() as s:                      # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    odbc = (f"Driver={{PostgreSQL Unicode}};Server=127.0.0.1;Port={port};Database=x;Uid=x;Pwd=x")
    store = Store({"main": {"odbc": odbc, "connect_timeout": 1}}, spool_dir=tmp_path / "spool",
                  breaker_failures=2, start=False)
    metrics = Metrics()
    sampler = Sampler(metrics, SimpleNamespace(services=SimpleNamespace(router=None, store=store)))
    try:
        for i in range(3):
            assert store.write("queue_event", {"call_uuid": f"u{i}", "queue_name": "q", "event": "enter"},
                               key=f"k{i}") == "spooled"
        sampler.sample()
        assert metrics.registry.get_sample_value("fsapp_outbox_depth") == 3
        assert metrics.registry.get_sample_value("fsapp_db_up", {"connection": "main"}) == 0
        errors = metrics.registry.get_sample_value("fsapp_db_errors_total", {"connection": "main"})
        assert errors >= 2              # the rest were refused by the open breaker
        sampler.sample()                # counted once, not again at the next sample
        assert metrics.registry.get_sample_value("fsapp_db_errors_total", {"connection": "main"}) == errors
    finally:
        store.close()


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server not installed")
def test_redis_outage_is_seen(tmp_path):
    from fsapp.routing.config import loads_routing
    from fsapp.routing.redis_backend import RedisBackend
    from fsapp.routing.router import Router
    server = PrivateRedis(tmp_path)
    port = server.port
    try:
        backend = RedisBackend.from_url(server.url, prefix="t:")
        wait_for(lambda: _pings(backend), 20, "the private redis-server")
        router = Router(loads_routing("queues: {sales: {}}\n", "r.yaml"), backend, None, worker_id="w")
        metrics = Metrics()
        sampler = Sampler(metrics, SimpleNamespace(services=SimpleNamespace(router=router, store=None)))
        sampler.sample()
        name = {"connection": f"127.0.0.1:{port}"}
        assert metrics.registry.get_sample_value("fsapp_redis_up", name) == 1
        server.stop()
        wait_for(lambda: backend.event_errors > 0, 20, "the events reader to notice")
        sampler.sample()
        assert metrics.registry.get_sample_value("fsapp_redis_up", name) == 0
        assert metrics.registry.get_sample_value("fsapp_redis_errors_total", {**name, "operation": "ping"}) == 1
        assert metrics.registry.get_sample_value("fsapp_redis_errors_total", {**name, "operation": "events"}) >= 1
        backend.close()
    finally:
        server.close()


def _pings(backend) -> bool:
    try:
        return bool(backend.r.ping())
    except Exception:
        return False


def test_flow_feed_counts_a_call_once_even_with_on_hangup_nodes():
    metrics = Metrics()
    feed = FlowFeed(metrics)
    for event in ({"event": "enter", "flow": "main", "node": "a", "uuid": "u1"},
                  {"event": "enter", "flow": "sub", "node": "s", "uuid": "u1"},
                  {"event": "error", "flow": "sub", "node": "s", "uuid": "u1"},
                  {"event": "end", "flow": "sub", "node": "s", "uuid": "u1", "reason": "error"},
                  {"event": "enter", "flow": "main", "node": "cleanup", "uuid": "u1"}):
        feed(event)
    get = metrics.registry.get_sample_value
    assert get("fsapp_calls_in_progress", {"flow": "main"}) == 0
    assert get("fsapp_calls_total", {"flow": "main", "outcome": "error"}) == 1
    assert get("fsapp_flow_errors_total", {"flow": "sub", "node": "s"}) == 1
    assert get("fsapp_node_visits_total", {"flow": "main", "node": "cleanup"}) == 1


@pytest.mark.parametrize("line_, label", [
    ("api uuid_bridge 6a1c 9f2e", "api uuid_bridge"),
    ("bgapi originate {origination_caller_id_number=138}user/1001 &park", "bgapi originate"),
    ("sendmsg 6a1c-77", "sendmsg"),
    ("api 13800138000", "api other"),
    ("13800138000", "other"),
    ("", "other"),
])
def test_command_labels_carry_no_caller_data(line_, label):
    assert command_label(line_) == label


def test_every_metric_has_help_and_known_kind():
    for spec in SPECS:
        assert spec.kind in ("counter", "gauge", "histogram") and spec.help
        assert re.fullmatch(r"fsapp_[a-z_]+", spec.name)
        assert (spec.kind == "counter") == spec.name.endswith("_total")
